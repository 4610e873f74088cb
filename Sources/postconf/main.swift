// postconf: show and edit Postern's configuration, with Postfix's options and output:
// `postconf [-c DIR] [-d|-n] [-h] [-x] [name…]`, `-e name=value…`, `-X name…`,
// `-M [service[/type]…]`, `-m` (table types), `-a` / `-A` (SASL server / client types).
import Glibc
import Shared

Log.tag = "postfix/postconf"
Log.toStderr = true
var configFlag: String?
var mode = PostconfMode.parameters
var showDefaults = false
var nonDefaultOnly = false
var valueOnly = false
var expand = false
let options = Getopt(Array(CommandLine.arguments.dropFirst()), spec: "aAc:deEfhmMnxX#")
for item in options.items {
    switch item {
    case .flag("c", let v?): configFlag = v
    case .flag("d", nil): showDefaults = true
    case .flag("n", nil): nonDefaultOnly = true
    case .flag("h", nil): valueOnly = true
    case .flag("x", nil): expand = true
    case .flag("e", nil), .flag("E", nil): mode = .edit
    case .flag("X", nil): mode = .remove
    case .flag("#", nil): mode = .commentOut
    case .flag("M", nil): mode = .services
    case .flag("m", nil): mode = .tableTypes
    case .flag("a", nil): mode = .saslServers
    case .flag("A", nil): mode = .saslClients
    case .flag("f", nil): break
    default:
        Log.fatal("usage: postconf [-c config_dir] [-d|-n] [-h] [-x] [-e name=value…] [-X name…] [-M] [-m] [-a] [-A] [name…]")
    }
}
let postconf = Postconf(directory: MainConfig.locateDirectory(configFlag), explicitDirectory: configFlag != nil)
switch mode {
case .parameters:
    exit(postconf.show(options.operands, defaults: showDefaults, nonDefault: nonDefaultOnly, valueOnly: valueOnly, expand: expand))
case .edit: postconf.edit(options.operands)
case .remove, .commentOut: postconf.remove(options.operands, commentOut: mode == .commentOut)
case .services: postconf.showServices(options.operands)
case .tableTypes: print(TableRegistry.typeNames.joined(separator: "\n"))
case .saslServers: print(SASLServerFactory.serverTypes.joined(separator: "\n"))
case .saslClients: print(SASLServerFactory.clientTypes.joined(separator: "\n"))
}
exit(0)

enum PostconfMode {
    case parameters, edit, remove, commentOut, services, tableTypes, saslServers, saslClients
}
