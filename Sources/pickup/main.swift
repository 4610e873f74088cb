// pickup: the resident daemon that moves local submissions from maildrop/ into the queue
// (a trigger server, `pickup unix n - n 60 1 pickup`). It scans maildrop/ when it
// starts, whenever postdrop or postsuper wakes it, and at the master's wake-up.
import Shared

let runtime = ServiceRuntime(program: "pickup")
let server = TriggerServer(runtime)
let pickup: Pickup
do {
    pickup = try Pickup(config: runtime.config)
} catch {
    Log.fatal("\(error)")
}
server.onTrigger = { _ in pickup.scan() }
pickup.scan()
server.run()
