// postern: the operator's command, like postfix(1): start, start-fg, stop, abort,
// reload, status, check, restart SERVICE, flush. `-c DIR` or MAIL_CONFIG picks the
// configuration.
import Glibc
import Shared

Log.tag = "postfix/postern"
Log.toStderr = true
let usage = "usage: postern [-c config_dir] start|start-fg|stop|abort|reload|status|check|restart SERVICE|flush"
var configFlag: String?
let options = Getopt(Array(CommandLine.arguments.dropFirst()), spec: "c:Dv")
for item in options.items {
    switch item {
    case .flag("c", let v?): configFlag = v
    case .flag("D", nil), .flag("v", nil): break
    default: Log.fatal(usage)
    }
}
guard let command = options.operands.first else { Log.fatal(usage) }
let commands = OperatorCommands(directory: MainConfig.locateDirectory(configFlag))
switch command {
case "check": commands.check()
case "start": commands.start()
case "start-fg": commands.startForeground()
case "stop", "abort": commands.stop()
case "reload": commands.reload()
case "status": commands.status()
case "restart":
    guard options.operands.count == 2 else { Log.fatal("usage: postern restart SERVICE") }
    commands.restart(options.operands[1])
case "flush": commands.flush()
default: Log.fatal("unknown command: \(command)\n" + usage)
}
exit(0)
