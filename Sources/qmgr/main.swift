// qmgr: the resident queue manager (one process, a trigger server). Woken by the
// master every `wakeup` seconds and by smtpd/pickup (`A`) after each new message, and by
// `postqueue -f` / ETRN (`F`) to flush the deferred queue.
import Glibc
import Shared

let runtime = ServiceRuntime(program: "qmgr")
let server = TriggerServer(runtime)
let masterCF: MasterConfig
do {
    masterCF = try MasterConfig.load(directory: runtime.config.directory, defaultProcessLimit: runtime.config.int("default_process_limit"))
} catch {
    Log.fatal("\(error)")
}
runtime.config.serviceNames = Set(masterCF.entries.map(\.name))
let manager: QueueManager
do {
    manager = try QueueManager(config: runtime.config, master: masterCF, loop: server.loop)
} catch {
    Log.fatal("\(error)")
}
server.onTrigger = { manager.trigger($0) }
manager.start()
server.run()
