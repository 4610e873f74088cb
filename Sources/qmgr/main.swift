// qmgr: not built yet; a later step gives it its work. Until then it says so and fails.
import Shared

NotBuiltYet.exit(program: "qmgr")
