// local: not built yet; a later issue gives it its work. Until then it says so and fails.
import Shared

NotBuiltYet.exit(program: "local")
