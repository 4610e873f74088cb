// What every daemon does before its own work, as Postfix's *_server_main: read the
// arguments the master passes (`-n NAME -t TYPE -u -c -l -z -s N -o name=value -v`),
// load main.cf with the overrides, set up logging, change to the queue directory, drop
// privileges (mail_owner, chroot) and find its listen sockets. Daemons never parse
// these arguments or touch fd 5 themselves.
import CSupport
import Glibc

public final class ServiceRuntime {
    public let program: String
    public let serviceName: String
    public let serviceType: String
    public let config: MainConfig
    public let unprivileged: Bool
    public let chrooted: Bool
    public let verbose: Int
    /// The listen sockets (fd 6 and up).
    public let listenDescriptors: [Int32]
    /// Arguments after the options (`user=… argv=…` for spawn, for example).
    public let arguments: [String]
    public let maxUse: Int
    public let maxIdle: Int

    /// Sets up a daemon started by the master. Exits with a fatal error when run by hand.
    /// BEFOREPRIVILEGEDROP runs with the configuration read and logging set up, while the
    /// process still has its privileges and sees the whole file system (TLS keys).
    public init(program: String, beforePrivilegeDrop: ((ServiceRuntime) -> Void)? = nil) {
        self.program = program
        Log.tag = "postfix/" + program
        postern_ignore_signal(SIGPIPE)
        var flags = fcntl(ServiceFD.status, F_GETFD)
        if flags < 0 {
            Log.toStderr = true
            Log.fatal("\(program): this program is run by the Postern master, not by hand")
        }
        flags = 0
        var name = program
        var type = "unix"
        var unpriv = false
        var chroot = false
        var listenCount = 1
        var overrides: [String] = []
        var verbose = 0
        let options = Getopt(Array(CommandLine.arguments.dropFirst()), spec: "cDlm:n:o:s:t:uvVz")
        for item in options.items {
            switch item {
            case .flag("n", let v?): name = v
            case .flag("t", let v?): type = v
            case .flag("u", nil): unpriv = true
            case .flag("c", _): chroot = true
            case .flag("s", let v?): listenCount = Int(v) ?? 1
            case .flag("o", let v?): overrides.append(v)
            case .flag("v", nil): verbose += 1
            case .bad(let c): Log.fatal("invalid option -\(c)")
            default: break
            }
        }
        serviceName = name
        serviceType = type
        unprivileged = unpriv
        chrooted = chroot
        self.verbose = verbose
        arguments = options.operands
        StatusChannel.generation = UInt32(ThisProcess.environment("GENERATION").flatMap { UInt32($0, radix: 8) } ?? 0)
        let directory = MainConfig.locateDirectory(nil)
        do {
            let c = try MainConfig.load(directory: directory)
            for o in overrides { try c.override(o) }
            try c.validate()
            config = c
        } catch {
            Log.fatal("\(error)")
        }
        Log.configure(
            syslogName: config.value("syslog_name"), program: program,
            hostname: config.value("myhostname"), maillog: config.value("maillog_file"))
        listenDescriptors = (0..<Int32(listenCount)).map { ServiceFD.firstListen + $0 }
        maxUse = config.int("max_use")
        maxIdle = config.seconds("max_idle")
        beforePrivilegeDrop?(self)
        enterQueueDirectory()
    }

    /// chdir to the queue directory; as root with `-u`: chroot when asked, then become
    /// mail_owner.
    func enterQueueDirectory() {
        let queue = config.value("queue_directory")
        guard chdir(queue) == 0 else { Log.fatal("chdir \(queue): \(errnoText())") }
        guard getuid() == 0 || geteuid() == 0 else { return }
        var account: Account?
        if unprivileged {
            let owner = config.value("mail_owner")
            guard let a = Account.named(owner) else { Log.fatal("unknown mail_owner user: \(owner)") }
            account = a
            if postern_initgroups(owner, a.gid) != 0 { Log.fatal("initgroups \(owner): \(errnoText())") }
        }
        if chrooted {
            guard Glibc.chroot(queue) == 0, chdir("/") == 0 else { Log.fatal("chroot \(queue): \(errnoText())") }
        }
        if let a = account {
            guard setgid(a.gid) == 0, setuid(a.uid) == 0 else { Log.fatal("set privileges of \(a.name): \(errnoText())") }
        }
    }

    /// The value of a main.cf parameter as this service sees it (with its -o overrides).
    public func value(_ name: String) -> String { config.value(name) }
}

extension ServiceRuntime {
    /// The event-loop flavours' common start: listen sockets non-blocking and watched
    /// (ACCEPT gets the listener that is ready), exit when the master closes fd 5, then
    /// run LOOP for the life of the process. BEFOREEXIT runs when the master went away.
    public func serveEvents(on loop: EventLoop, accept: @escaping (Int32) -> Void, beforeExit: @escaping () -> Void = {}) -> Never {
        for fd in listenDescriptors {
            postern_set_nonblock(fd, 1)
            loop.watch(fd) { fd, _ in accept(fd) }
        }
        loop.watch(ServiceFD.status) { _, _ in
            if StatusChannel.masterGone() {
                beforeExit()
                exit(0)
            }
        }
        loop.run()
        exit(0)
    }
}
