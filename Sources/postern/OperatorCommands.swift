// What each `postern` subcommand does. The master is started with posix_spawn (never
// fork) in a session of its own and tells us through a pipe when it is ready.
import CSupport
import Glibc
import Shared

struct OperatorCommands {
    let directory: String

    /// Loads and checks the configuration; a problem is fatal with file, line and reason.
    func load() -> LoadedConfig {
        do {
            let loaded = try LoadedConfig.load(directory: directory)
            Log.configure(
                syslogName: loaded.main.value("syslog_name"), program: "postern",
                hostname: loaded.main.value("myhostname"), maillog: loaded.main.value("maillog_file"))
            return loaded
        } catch {
            Log.fatal("\(error)")
        }
    }

    func masterPath(_ loaded: LoadedConfig) -> String { loaded.main.value("daemon_directory") + "/master" }

    /// Checks both files and the queue directory; returns the configuration it read.
    @discardableResult
    func check() -> LoadedConfig {
        let loaded = load()
        for w in loaded.master.warnings { Log.warning(w) }
        for p in loaded.main.unusedParameters() { Log.warning("\(loaded.main.path): unused parameter: \(p)") }
        do {
            try QueueLayout.create(loaded.main)
        } catch {
            Log.fatal("\(error)")
        }
        let daemons = loaded.main.value("daemon_directory")
        for entry in loaded.master.entries {
            let path = entry.command.hasPrefix("/") ? entry.command : daemons + "/" + entry.command
            if access(path, X_OK) != 0 {
                Log.warning("\(directory)/master.cf: line \(entry.line): service \(entry.name): \(path): \(errnoText())")
            }
        }
        if access(daemons + "/master", X_OK) != 0 { Log.fatal("\(daemons)/master: \(errnoText())") }
        do {
            for w in try TLSConfigurationCheck.smtpdWarnings(directory: directory, master: loaded.master) { Log.warning(w) }
        } catch {
            Log.fatal("\(error)")
        }
        return loaded
    }

    func runningPid(_ loaded: LoadedConfig) -> Int32? {
        MasterControl.runningPid(queueDirectory: loaded.main.value("queue_directory"))
    }

    func start() {
        let loaded = check()
        if runningPid(loaded) != nil { Log.fatal("the Postern mail system is already running") }
        Log.info("starting the Postern mail system")
        var pipeFDs: [Int32] = [-1, -1]
        guard postern_pipe2(&pipeFDs, O_CLOEXEC) == 0 else { Log.fatal("pipe: \(errnoText())") }
        let devnull = open("/dev/null", O_RDWR | O_CLOEXEC)
        let argv = [masterPath(loaded), "-c", directory, "-s"]
        let env = ThisProcess.environmentList.filter { !$0.hasPrefix("MAIL_CONFIG=") } + ["MAIL_CONFIG=" + directory]
        let spawned = Result { try Spawn.run(argv, environment: env, stdio: [devnull, pipeFDs[1], pipeFDs[1]], newSession: true) }
        close(pipeFDs[1])
        close(devnull)
        guard case .success(let pid) = spawned else { Log.fatal("\(spawned)") }
        let stream = BufferedStream(descriptor: pipeFDs[0], timeoutMs: 60_000)
        var output: [String] = []
        while let (line, _) = (try? stream.readLine()) ?? nil {
            output.append(String(decoding: line, as: UTF8.self))
            if output.last == "ready" { break }
        }
        close(pipeFDs[0])
        guard output.last == "ready" else {
            for line in output { try? FileIO.writeAll(2, line + "\n") }
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            Log.fatal("the Postern master did not start")
        }
    }

    func startForeground() {
        let loaded = check()
        if runningPid(loaded) != nil { Log.fatal("the Postern mail system is already running") }
        let argv = [masterPath(loaded), "-c", directory, "-d"]
        setenv("MAIL_CONFIG", directory, 1)
        _ = Spawn.withCStringArray(argv) { a in execv(argv[0], a) }
        Log.fatal("cannot run \(argv[0]): \(errnoText())")
    }

    func stop() {
        let loaded = load()
        guard let pid = runningPid(loaded) else { Log.fatal("the Postern mail system is not running") }
        Log.info("stopping the Postern mail system")
        kill(pid, SIGTERM)
        for _ in 0..<150 {
            if runningPid(loaded) == nil { return }
            usleep(100_000)
        }
        Log.fatal("the Postern master (pid \(pid)) did not stop within 15 seconds")
    }

    func reload() {
        let loaded = load()
        guard let pid = runningPid(loaded) else { Log.fatal("the Postern mail system is not running") }
        Log.info("refreshing the Postern mail system")
        kill(pid, SIGHUP)
    }

    func status() {
        let loaded = load()
        guard let pid = runningPid(loaded) else {
            Log.toStderr = true
            Log.error("the Postern mail system is not running")
            exit(1)
        }
        let reply: AttributeList
        do {
            reply = try MasterControl.request(queueDirectory: loaded.main.value("queue_directory"), AttributeList([("request", "status")]))
        } catch {
            Log.fatal("the Postern mail system is running (PID: \(pid)) but its control socket did not answer: \(error)")
        }
        print("postern: the Postern mail system is running: PID: \(pid)")
        print(StatusReport.format(reply))
    }

    func restart(_ service: String) {
        let loaded = load()
        guard runningPid(loaded) != nil else { Log.fatal("the Postern mail system is not running") }
        do {
            let reply = try MasterControl.request(
                queueDirectory: loaded.main.value("queue_directory"), AttributeList([("request", "restart"), ("service", service)]))
            guard reply["status"] == "ok" else { Log.fatal(reply["reason"] ?? "restart failed") }
            Log.info("restarting service \(service)")
        } catch {
            Log.fatal("cannot reach the master: \(error)")
        }
    }

    func flush() {
        let loaded = load()
        let socket = loaded.main.value("queue_directory") + "/public/qmgr"
        guard TriggerServer.send(socket, [UInt8(ascii: "F")]) else {
            Log.fatal("cannot flush the queue: no queue manager listens on \(socket)")
        }
    }
}
