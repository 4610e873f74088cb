// The supervisor: binds every service's listeners, starts children on demand (and keeps
// `prestart_process_count` idle ones ready), follows their status reports, reaps them,
// throttles a service whose child dies before its first client, sends wake-ups, and
// handles reload (SIGHUP), per-service restart and stop (SIGTERM) as Postfix's master does.
import CSupport
import Glibc
import Shared

final class Master {
    let configDirectory: String
    var config: MainConfig
    var services: [String: ServiceState] = [:]
    var serviceOrder: [String] = []
    var children: [Int32: ChildProcess] = [:]
    var terminated: Set<Int32> = []
    var statusBuffers: [Int32: [UInt8]] = [:]
    let loop = EventLoop()
    var nextGeneration: UInt32 = 1
    var signalDescriptor: Int32 = -1
    let control: ControlServer

    init(configDirectory: String, config: MainConfig) {
        self.configDirectory = configDirectory
        self.config = config
        control = ControlServer()
    }

    var daemonDirectory: String { config.value("daemon_directory") }
    var version: String { config.value("mail_version") }

    // MARK: start-up

    /// Binds every service of MASTERCF; any failure is fatal at start-up.
    func start(_ masterCF: MasterConfig) throws {
        let sigs: [Int32] = [SIGCHLD, SIGHUP, SIGTERM, SIGINT]
        signalDescriptor = sigs.withUnsafeBufferPointer { postern_signalfd_for($0.baseAddress, Int32($0.count)) }
        guard signalDescriptor >= 0 else { throw SystemError("signalfd") }
        postern_ignore_signal(SIGPIPE)
        loop.watch(signalDescriptor) { [unowned self] _, _ in self.readSignals() }
        for entry in masterCF.entries {
            let state = ServiceState(entry: entry)
            do {
                state.listenDescriptors = try Listeners.bind(entry, config: config)
            } catch {
                throw ConfigError("\(configDirectory)/master.cf: line \(entry.line): service \(entry.name): \(error)")
            }
            try activate(state)
        }
        try control.open(master: self)
        Log.info("daemon started -- version \(version), configuration \(configDirectory)")
        refresh()
    }

    /// Gives STATE a status channel and a generation, watches it, arms its wake-ups.
    func activate(_ state: ServiceState) throws {
        if services[state.key] == nil {
            services[state.key] = state
            serviceOrder.append(state.key)
        }
        if state.statusMaster >= 0 { loop.unwatch(state.statusMaster) }
        try state.renewStatusChannel(generation: nextGeneration)
        nextGeneration += 1
        let key = state.key
        loop.watch(state.statusMaster) { [unowned self] fd, _ in self.readStatus(fd, serviceKey: key) }
        armWakeup(state, first: true)
    }

    // MARK: the event loop

    func run() -> Never {
        while true {
            loop.runOnce(maxWaitMs: -1)
            refresh()
        }
    }

    /// Re-evaluates, for every service, whether to watch for clients or pre-start a child.
    func refresh() {
        for key in serviceOrder {
            guard let state = services[key] else { continue }
            while state.wantsPrestart {
                guard spawnChild(state) else { break }
            }
            let want = state.wantsListenEvents
            if want && !state.polling {
                for fd in state.listenDescriptors {
                    loop.watch(fd) { [unowned self] _, _ in self.clientWaiting(key) }
                }
            } else if !want && state.polling {
                for fd in state.listenDescriptors { loop.unwatch(fd) }
            }
            state.polling = want
        }
    }

    /// A client waits on a service with no idle child: start one.
    func clientWaiting(_ key: String) {
        guard let state = services[key], state.wantsListenEvents else { return }
        state.usedOnce = true
        spawnChild(state)
        refresh()
    }

    @discardableResult
    func spawnChild(_ state: ServiceState) -> Bool {
        let argv = Spawner.arguments(state.entry, daemonDirectory: daemonDirectory, listenCount: state.listenDescriptors.count)
        let env = Spawner.environment(config: config, generation: state.generation)
        do {
            let pid = try Spawner.spawn(argv: argv, environment: env, descriptors: [state.statusChild] + state.listenDescriptors)
            let child = ChildProcess(pid: pid, serviceKey: state.key, generation: state.generation)
            children[pid] = child
            state.children[pid] = child
            return true
        } catch {
            Log.warning("\(error)")
            throttle(state, path: argv[0])
            return false
        }
    }

    // MARK: status reports

    func readStatus(_ fd: Int32, serviceKey: String) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return }
        var pending = (statusBuffers[fd] ?? []) + buffer[0..<n]
        while pending.count >= StatusMessage.size {
            if let message = StatusMessage(bytes: pending[0..<StatusMessage.size]) { apply(message) }
            pending.removeFirst(StatusMessage.size)
        }
        statusBuffers[fd] = pending.isEmpty ? nil : pending
    }

    func apply(_ message: StatusMessage) {
        guard let child = children[message.pid] else { return }
        guard message.generation == child.generation else {
            Log.warning("ignoring status update from child pid \(message.pid) generation \(message.generation)")
            return
        }
        if message.availability == StatusMessage.taken {
            child.available = false
            child.everTaken = true
            services[child.serviceKey]?.usedOnce = true
        } else if message.availability == StatusMessage.available {
            if !child.available && child.everTaken { child.useCount += 1 }
            child.available = true
        }
    }

    // MARK: signals and children

    func readSignals() {
        var info = signalfd_siginfo()
        while read(signalDescriptor, &info, MemoryLayout<signalfd_siginfo>.size) == MemoryLayout<signalfd_siginfo>.size {
            switch Int32(info.ssi_signo) {
            case SIGCHLD: reapChildren()
            case SIGHUP: reload()
            case SIGTERM, SIGINT: terminate(signal: Int32(info.ssi_signo))
            default: break
            }
        }
    }

    func reapChildren() {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { return }
            guard let child = children.removeValue(forKey: pid) else { continue }
            let state = services[child.serviceKey]
            state?.children[pid] = nil
            let wasTerminated = terminated.remove(pid) != nil
            let (exitCode, signal) = Spawn.describe(status: status)
            guard signal != 0 || exitCode != 0 else { continue }
            let path = state.map { Spawner.arguments($0.entry, daemonDirectory: daemonDirectory, listenCount: 1)[0] } ?? "child"
            if signal != 0 {
                if wasTerminated && signal == SIGTERM { continue }
                Log.warning("process \(path) pid \(pid) killed by signal \(signal)")
            } else {
                Log.warning("process \(path) pid \(pid) exit status \(exitCode)")
            }
            if let state, child.useCount == 0, child.generation == state.generation, !wasTerminated {
                throttle(state, path: path)
            }
        }
    }

    /// Stops starting children of STATE for service_throttle_time.
    func throttle(_ state: ServiceState, path: String) {
        guard !state.isThrottled else { return }
        Log.warning("\(path): bad command startup -- throttling")
        let seconds = max(1, config.seconds("service_throttle_time"))
        state.throttledUntil = Clock.monotonicMs() + Int64(seconds) * 1000
        loop.after(Double(seconds) + 0.01) { [unowned self] in self.refresh() }
    }

    // MARK: wake-ups

    func armWakeup(_ state: ServiceState, first: Bool) {
        if let t = state.wakeupTimer { loop.cancel(t) }
        state.wakeupTimer = nil
        guard state.entry.wakeup > 0, state.entry.type != .inet else { return }
        let delay = first ? 0.05 : Double(state.entry.wakeup)
        let key = state.key
        state.wakeupTimer = loop.after(delay) { [unowned self] in
            guard let s = self.services[key] else { return }
            self.wakeup(s)
            self.armWakeup(s, first: false)
        }
    }

    /// Writes Postfix's wake-up request `W` to the service's socket.
    func wakeup(_ state: ServiceState) {
        guard !state.isThrottled, !state.entry.wakeupConditional || state.usedOnce else { return }
        let path = config.value("queue_directory") + "/" + state.entry.socketPath
        switch state.entry.type {
        case .fifo:
            let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            if fd >= 0 {
                _ = write(fd, "W", 1)
                close(fd)
            }
        case .unixDgram:
            break
        default:
            TriggerServer.send(path, [UInt8(ascii: "W")])
        }
    }

    // MARK: reload, restart, stop

    /// SIGHUP: re-read main.cf and master.cf; start new services, stop removed ones, and
    /// give every remaining one a new generation of children.
    func reload() {
        let loaded: LoadedConfig
        do {
            loaded = try LoadedConfig.load(directory: configDirectory)
        } catch {
            Log.error("reload failed, keeping the running configuration: \(error)")
            return
        }
        let newConfig = loaded.main
        let masterCF = loaded.master
        for w in masterCF.warnings { Log.warning(w) }
        for name in ["inet_interfaces", "inet_protocols"] where newConfig.value(name) != config.value(name) {
            Log.warning("to change \(name), stop and start Postern")
            newConfig.setOverride(name, config.value(name))
        }
        config = newConfig
        Log.info("reload -- version \(version), configuration \(configDirectory)")
        var remaining = Set(serviceOrder)
        for entry in masterCF.entries {
            if let state = services[entry.key] {
                remaining.remove(entry.key)
                state.entry = entry
                state.prestart = Int(entry.override("prestart_process_count") ?? "") ?? 0
                try? activate(state)
            } else {
                let state = ServiceState(entry: entry)
                do {
                    state.listenDescriptors = try Listeners.bind(entry, config: config)
                    try activate(state)
                } catch {
                    Log.warning("service \(entry.name): \(error)")
                    state.closeListeners()
                    state.closeStatusChannel()
                }
            }
        }
        for key in remaining { stopService(key) }
        refresh()
    }

    /// Recycles the services called NAME; returns how many matched.
    func restart(serviceNamed name: String) -> Int {
        var count = 0
        for key in serviceOrder {
            guard let state = services[key], state.entry.name == name else { continue }
            try? activate(state)
            Log.info("restart -- service \(name) (\(state.entry.type.rawValue))")
            count += 1
        }
        refresh()
        return count
    }

    func stopService(_ key: String) {
        guard let state = services.removeValue(forKey: key) else { return }
        serviceOrder.removeAll { $0 == key }
        for fd in state.listenDescriptors { loop.unwatch(fd) }
        if state.statusMaster >= 0 { loop.unwatch(state.statusMaster) }
        if let t = state.wakeupTimer { loop.cancel(t) }
        state.closeListeners()
        state.closeStatusChannel()
        if state.entry.type != .inet { unlink(config.value("queue_directory") + "/" + state.entry.socketPath) }
        for pid in state.children.keys {
            terminated.insert(pid)
            kill(pid, SIGTERM)
        }
    }

    /// SIGTERM: every child is told to stop, and killed if still there after 5 seconds.
    func terminate(signal: Int32) -> Never {
        Log.info("terminating on signal \(signal)")
        for key in serviceOrder { services[key]?.closeListeners() }
        for pid in children.keys {
            terminated.insert(pid)
            kill(pid, SIGTERM)
        }
        let deadline = Clock.monotonicMs() + 5000
        while !children.isEmpty && Clock.monotonicMs() < deadline {
            _ = Sockets.waitFor(signalDescriptor, events: Int16(POLLIN), timeoutMs: 100)
            var info = signalfd_siginfo()
            while read(signalDescriptor, &info, MemoryLayout<signalfd_siginfo>.size) > 0 {}
            var status: Int32 = 0
            while true {
                let pid = waitpid(-1, &status, WNOHANG)
                if pid <= 0 { break }
                children[pid] = nil
            }
        }
        var status: Int32 = 0
        for pid in children.keys {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
        control.close()
        exit(0)
    }
}
