// master: Postern's supervisor. `master [-c DIR] [-d] [-s] [-t]`: -d stays in the
// foreground (start-fg), -s reports readiness ("ready" or the fatal error) on stdout
// for `postern start`, -t only tests whether a master already runs (exit 1 if so).
import CSupport
import Glibc
import Shared

postern_sigfillset_block()
Log.tag = "postfix/master"
Log.toStderr = true
var configFlag: String?
var reportReady = false
var testOnly = false
for item in Getopt(Array(CommandLine.arguments.dropFirst()), spec: "c:dst").items {
    switch item {
    case .flag("c", let v?): configFlag = v
    case .flag("s", nil): reportReady = true
    case .flag("t", nil): testOnly = true
    case .flag("d", nil): break
    default: Log.fatal("usage: master [-c config_dir] [-d] [-s] [-t]")
    }
}
let configDirectory = MainConfig.locateDirectory(configFlag)
let loaded: LoadedConfig
do {
    loaded = try LoadedConfig.load(directory: configDirectory)
} catch {
    Log.fatal("\(error)")
}
let config = loaded.main
let masterCF = loaded.master
let queueDirectory = config.value("queue_directory")
if testOnly { exit(MasterControl.runningPid(queueDirectory: queueDirectory) == nil ? 0 : 1) }
Log.configure(
    syslogName: config.value("syslog_name"), program: "master",
    hostname: config.value("myhostname"), maillog: config.value("maillog_file"))
for w in masterCF.warnings { Log.warning(w) }
guard chdir(queueDirectory) == 0 else { Log.fatal("chdir \(queueDirectory): \(errnoText())") }
try? FileIO.ensureDirectory("pid", mode: 0o755)

// The pid file's lock is held for the master's lifetime: a second master is refused.
let pidDescriptor = open(MasterControl.pidFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
guard pidDescriptor >= 0 else { Log.fatal("open \(queueDirectory)/\(MasterControl.pidFile): \(errnoText())") }
guard postern_fcntl_lock(pidDescriptor, 1, 0) == 0 else { Log.fatal("the Postern mail system is already running") }
ftruncate(pidDescriptor, 0)
let pidText = String(getpid())
try? FileIO.writeAll(pidDescriptor, String(repeating: " ", count: max(0, 10 - pidText.count)) + pidText + "\n")

let master = Master(configDirectory: configDirectory, config: config)
do {
    try master.start(masterCF)
} catch {
    Log.fatal("\(error)")
}
if reportReady {
    _ = write(1, "ready\n", 6)
    let devnull = open("/dev/null", O_RDWR)
    dup2(devnull, 1)
    dup2(devnull, 2)
    close(devnull)
}
Log.toStderr = false
master.run()
