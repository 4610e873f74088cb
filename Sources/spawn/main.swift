// spawn: runs an external program for each connection to its service (Postfix's
// spawn(8)), typically a policy server such as postfix-policyd-spf-perl:
//   policy-spf unix - n n - 0 spawn user=nobody argv=/usr/sbin/postfix-policyd-spf-perl
// A single-client service: one command at a time per spawn process, with the socket as
// its standard input, output and error. The attributes are checked once at start-up;
// a bad one is fatal, as in Postfix.
import Glibc
import Shared

let runtime = ServiceRuntime(program: "spawn")
let attributes: SpawnAttributes
var identity: (uid: uid_t, gid: gid_t)?
do {
    attributes = try SpawnAttributes.parse(runtime.arguments)
    let owner = Account.named(runtime.value("mail_owner"))
    let checked = try attributes.identity(ownerUID: owner?.uid ?? uid_t.max, ownerGID: owner?.gid ?? gid_t.max)
    if geteuid() == 0 {
        guard access(CommandRunner.setpriv, X_OK) == 0 else {
            Log.fatal("\(CommandRunner.setpriv) is needed to run commands as uid \(checked.uid): \(errnoText())")
        }
        identity = checked
    }
} catch {
    Log.fatal("\(error)")
}
// `<service>_time_limit`, by default $command_time_limit.
runtime.config.serviceNames = [runtime.serviceName]
let limitName = runtime.serviceName + "_time_limit"
let limitSet = runtime.config.settings[limitName] != nil || runtime.config.overrides[limitName] != nil
let runner = CommandRunner(
    attributes: attributes, identity: identity,
    environment: CommandRunner.exported(runtime.config.list("export_environment")),
    timeLimit: runtime.config.seconds(limitSet ? limitName : "command_time_limit"))

SingleServer.run(runtime) { socket in runner.serve(socket) }
