// local: Postfix's local(8) delivery agent. The master starts it as root (`local unix -
// n n - - local`); it takes delivery requests from qmgr, expands aliases, .forward and
// :include: files, and delivers to maildirs, mbox files, files and commands with each
// recipient's rights, logging Postfix's `to=<…>, relay=local, … status=…` lines.
// Without root it runs as the invoking user (development mode).
import Shared

let runtime = ServiceRuntime(program: "local")
let settings: LocalSettings
let aliases: AliasMaps
do {
    settings = try LocalSettings(runtime.config)
    aliases = try AliasMaps(settings.aliasMaps)
} catch {
    Log.fatal("\(error)")
}
for name in ["mailbox_transport", "mailbox_transport_maps", "fallback_transport", "fallback_transport_maps"]
where !runtime.value(name).isEmpty {
    Log.warning("\(name) is not supported by Postern's local delivery agent and is ignored")
}
// The request names its message by `queue_file`, relative to the queue directory (our
// working directory); QueueMessage streams its content.
let agent = LocalAgent(
    settings: settings, aliases: aliases, users: SystemUsers(), openMessage: { request in try QueueMessage(path: request.queueFile) })
let requestTimeout = runtime.config.seconds("ipc_timeout") * 1000
SingleServer.run(runtime) { fd in DeliveryConnection.serve(fd, agent: agent, timeoutMs: requestTimeout) }
