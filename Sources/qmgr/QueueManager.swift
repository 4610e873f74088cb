// The queue manager: moves new mail from incoming/ (and due mail from deferred/) into
// active/, resolves each recipient to a transport and next hop, hands deliveries to the
// agents through the scheduler, marks recipients done in place as agents answer, and
// then removes the message, defers it with back-off, or returns it to the sender (at
// once when postsuper -e/-f marked it for forced expiry).
import Glibc
import Shared

final class QueueManager {
    let config: MainConfig
    let queue: QueueDirectory
    let resolver: AddressResolver
    let scheduler: Scheduler
    let agents: AgentPool
    let loop: EventLoop
    let bounces: BounceWriter
    var active: [String: ActiveMessage] = [:]
    var busy: [Int32: AgentConnection] = [:]
    let activeLimit: Int
    var deferredScanTimer: Int?
    /// The timer that restarts dispatching for a rate-delayed destination, and its time.
    var resumeTimer: (id: Int, at: Double)?

    init(config: MainConfig, master: MasterConfig, loop: EventLoop) throws {
        self.config = config
        self.loop = loop
        queue = QueueDirectory(config: config)
        resolver = try AddressResolver(config: config)
        agents = AgentPool(queueDirectory: config.value("queue_directory"))
        bounces = BounceWriter(config: config, queue: queue)
        activeLimit = max(1, config.int("qmgr_message_active_limit"))
        let defaultProcessLimit = config.int("default_process_limit")
        var processLimits: [String: Int] = [:]
        for entry in master.entries where entry.type == .unix {
            processLimits[entry.name] = entry.maxproc == 0 ? defaultProcessLimit : entry.maxproc
        }
        scheduler = Scheduler { transport in
            func number(_ suffix: String) -> Int {
                let specific = config.raw(transport + "_" + suffix).flatMap { Int(config.expand($0)) }
                return specific ?? config.int("default_" + suffix)
            }
            let rateDelay = config.raw(transport + "_destination_rate_delay").flatMap { parseTime(config.expand($0)) }
            return TransportLimits(
                processLimit: processLimits[transport] ?? defaultProcessLimit,
                destinationConcurrency: number("destination_concurrency_limit"),
                recipientLimit: number("destination_recipient_limit"),
                rateDelay: Double(rateDelay ?? config.seconds("default_destination_rate_delay")))
        }
    }

    // MARK: triggers and scans

    /// Start-up: mail left in active/ by an earlier qmgr is picked up again first.
    func start() {
        for id in queue.list(QueueDirectory.active) { activate(id, from: QueueDirectory.active) }
        scanIncoming()
        scanDeferred(force: false)
        armDeferredScan()
        dispatch()
    }

    /// A trigger: `A` new mail, `F` flush the deferred queue, `W` the master's wake-up.
    func trigger(_ request: [UInt8]) {
        if request.contains(UInt8(ascii: "F")) { scanDeferred(force: true) }
        scanIncoming()
        if request.contains(UInt8(ascii: "W")) { scanDeferred(force: false) }
        dispatch()
    }

    func armDeferredScan() {
        let delay = Double(max(1, config.seconds("queue_run_delay")))
        deferredScanTimer = loop.after(delay) { [unowned self] in
            self.scanDeferred(force: false)
            self.dispatch()
            self.armDeferredScan()
        }
    }

    func scanIncoming() {
        for id in queue.list(QueueDirectory.incoming) where active.count < activeLimit {
            activate(id, from: QueueDirectory.incoming)
        }
    }

    /// Deferred mail whose back-off time (its mtime) has passed; all of it when FORCE.
    func scanDeferred(force: Bool) {
        let now = Clock.now().seconds
        for id in queue.list(QueueDirectory.deferred) where active.count < activeLimit {
            let path = queue.path(queue: QueueDirectory.deferred, queueID: id)
            guard let identity = FileIO.identity(path) else { continue }
            if force || identity.mtime / 1_000_000_000 <= now { activate(id, from: QueueDirectory.deferred) }
        }
    }

    // MARK: activation

    func activate(_ id: String, from source: String) {
        guard active[id] == nil else { return }
        do {
            if source != QueueDirectory.active { try queue.move(id, from: source, to: QueueDirectory.active) }
        } catch {
            Log.warning("\(id): move to active: \(error)")
            return
        }
        let path = queue.path(queue: QueueDirectory.active, queueID: id)
        let file: QueueFile
        do {
            file = try QueueFile.read(path: path)
        } catch let e as QueueFileError {
            Log.warning("\(id): \(e): moving to corrupt queue")
            try? queue.move(id, from: QueueDirectory.active, to: QueueDirectory.corrupt)
            return
        } catch {
            Log.warning("\(id): \(error)")
            return
        }
        let message = ActiveMessage(queueID: id, file: file, activeTime: Clock.nowDouble)
        active[id] = message
        Log.info("\(id): from=<\(file.envelope.sender)>, size=\(file.contentLength), nrcpt=\(file.recipients.count) (queue active)")
        if queue.isForcedExpire(id, queue: QueueDirectory.active) {
            // postsuper -e/-f: no delivery; each recipient goes back with its last delay reason.
            let reasons = DeferLog.latestReasons(queueID: id, directory: queue)
            for (index, r) in message.pending {
                message.deferred[index] = DeliveryResult(index: index, status: .deferred, dsn: "4.7.0",
                                                         reason: reasons.byOffset[r.statusOffset] ?? "message is administratively expired")
            }
            finish(message)
            return
        }
        var routed: [(route: Route, recipient: DeliveryRecipient)] = []
        for (index, r) in message.pending {
            let delivery = DeliveryRecipient(
                index: index, address: r.address, originalAddress: r.originalRecipient ?? r.address,
                orcpt: r.dsnOriginalRecipient ?? "", notify: r.dsnNotify.esmtpValue)
            do {
                let route = try resolver.resolve(r.address)
                if route.transport == "error" {
                    message.bounced[index] = DeliveryResult(index: index, status: .bounced, dsn: "5.1.1", reason: route.nexthop)
                    continue
                }
                routed.append((route, delivery))
            } catch {
                message.deferred[index] = DeliveryResult(index: index, status: .deferred, dsn: "4.3.0", reason: "address resolver failure")
            }
        }
        if routed.isEmpty {
            finish(message)
            return
        }
        scheduler.enqueue(queueID: id, routed)
    }

    // MARK: deliveries

    /// Starts every delivery the scheduler allows now.
    func dispatch() {
        while let delivery = scheduler.next() {
            guard let message = active[delivery.queueID] else {
                scheduler.finished(delivery)
                continue
            }
            var request = DeliveryRequest(
                queueID: message.queueID, queueFile: QueueDirectory.active + "/" + message.queueID, sender: message.sender,
                nexthop: delivery.nexthop, arrivalTime: message.arrivalTime, activeTime: message.activeTime,
                dsnEnvid: message.file.envelope.dsnEnvelopeID ?? "", dsnRet: message.file.envelope.dsnReturn ?? "",
                recipients: delivery.recipients)
            request.moreMailWaiting = scheduler.hasWaiting(like: delivery)
            guard let connection = agents.connection(delivery.transport), agents.send(request, on: connection) else {
                scheduler.finished(delivery)
                message.outstanding += 1
                complete(delivery, results: delivery.recipients.map {
                    DeliveryResult(index: $0.index, status: .deferred, dsn: "4.3.0", reason: "mail transport unavailable")
                }, forwarded: [])
                continue
            }
            connection.delivery = delivery
            message.outstanding += 1
            busy[connection.descriptor] = connection
            let fd = connection.descriptor
            loop.watch(fd) { [unowned self] fd, _ in self.agentAnswered(fd) }
            // An agent that never answers (hung, or never started) must not hold the
            // delivery for ever: after the transport's time limit it is deferred.
            connection.timer = loop.after(Double(agentTimeLimit(delivery.transport))) { [unowned self] in
                self.agentTimedOut(fd)
            }
        }
        armResume()
    }

    /// Wakes dispatch() when a rate-delayed destination may go again.
    func armResume() {
        guard let at = scheduler.nextResume() else { return }
        if let armed = resumeTimer {
            if armed.at <= at { return }
            loop.cancel(armed.id)
        }
        let id = loop.after(max(0, at - Scheduler.clock())) { [unowned self] in
            self.resumeTimer = nil
            self.dispatch()
        }
        resumeTimer = (id, at)
    }

    /// `TRANSPORT_time_limit`, else command_time_limit, plus a minute for the agent's own
    /// clean-up.
    func agentTimeLimit(_ transport: String) -> Int {
        let specific = config.raw(transport + "_time_limit").flatMap { parseTime(config.expand($0)) }
        return (specific ?? config.seconds("command_time_limit")) + 60
    }

    func agentTimedOut(_ fd: Int32) {
        loop.unwatch(fd)
        guard let connection = busy.removeValue(forKey: fd), let delivery = connection.delivery else { return }
        Log.warning("\(delivery.queueID): \(delivery.transport) delivery agent did not answer: deferring")
        scheduler.finished(delivery)
        agents.release(connection, reusable: false)
        complete(delivery, results: delivery.recipients.map {
            DeliveryResult(index: $0.index, status: .deferred, dsn: "4.3.0", reason: "delivery agent timed out")
        }, forwarded: [])
        dispatch()
    }

    func agentAnswered(_ fd: Int32) {
        loop.unwatch(fd)
        guard let connection = busy.removeValue(forKey: fd), let delivery = connection.delivery else { return }
        if let timer = connection.timer { loop.cancel(timer) }
        scheduler.finished(delivery)
        let reply = agents.reply(connection)
        let results = reply.flatMap(DeliveryReply.results) ?? delivery.recipients.map {
            DeliveryResult(index: $0.index, status: .deferred, dsn: "4.3.0", reason: "unknown mail transport error")
        }
        agents.release(connection, reusable: reply != nil)
        complete(delivery, results: results, forwarded: reply.flatMap(LocalReply.forwards) ?? [])
        dispatch()
    }

    /// Records an agent's answers: done recipients are marked in the queue file at once.
    func complete(_ delivery: PendingDelivery, results: [DeliveryResult], forwarded: [ForwardedRecipient]) {
        guard let message = active[delivery.queueID] else { return }
        message.outstanding -= 1
        message.forwarded += forwarded
        var done: [Int] = []
        for result in results {
            switch result.status {
            case .sent:
                done.append(result.index)
                if message.wantsSuccessNotice(result.index) && !result.notifyPassedOn { message.delivered[result.index] = result }
            case .bounced:
                message.bounced[result.index] = result
            case .deferred:
                message.deferred[result.index] = result
            }
        }
        if !done.isEmpty {
            let offsets = done.compactMap { i in i < message.file.recipients.count ? message.file.recipients[i].statusOffset : nil }
            do {
                // No fsync: a lost mark means a duplicate delivery, never a lost message.
                try QueueFile.markDone(path: queue.path(queue: QueueDirectory.active, queueID: message.queueID), statusOffsets: offsets, sync: false)
                for i in done where i < message.file.recipients.count { message.file.recipients[i].isDone = true }
            } catch {
                Log.warning("\(message.queueID): cannot update queue file: \(error)")
            }
        }
        if message.outstanding == 0 && !scheduler.hasWaiting(message.queueID) { finish(message) }
    }

    // MARK: the end of a pass

    /// Every delivery of this pass has answered: remove, defer or return the message.
    func finish(_ message: ActiveMessage) {
        active[message.queueID] = nil
        let id = message.queueID
        if !message.forwarded.isEmpty { bounces.resubmit(message, to: message.forwarded) }
        let age = Clock.nowDouble - message.arrivalTime
        let lifetime = config.seconds(message.sender.isEmpty ? "bounce_queue_lifetime" : "maximal_queue_lifetime")
        var returned = Array(message.bounced.values)
        let forced = queue.isForcedExpire(id, queue: QueueDirectory.active)
        if !message.deferred.isEmpty && (forced || Double(lifetime) <= age) {
            Log.info("\(id): from=<\(message.sender)>, status=\(forced ? "force-expired" : "expired"), returned to sender")
            returned += message.deferred.values.map {
                var r = $0
                r.status = .bounced
                return r
            }
            message.deferred = [:]
        }
        for r in returned {
            markDone(message, r.index)
        }
        let notices = returned.filter { message.wantsFailureNotice($0.index) }.sorted { $0.index < $1.index }
        if !notices.isEmpty { bounces.returnToSender(message, notices) }
        if !message.delivered.isEmpty {
            bounces.returnToSender(message, message.delivered.values.sorted { $0.index < $1.index }, kind: .success)
        }
        let warned = warnOfDelay(message)
        if !notices.isEmpty || !message.delivered.isEmpty || !message.forwarded.isEmpty || warned {
            // The notice or the forwarded copy waits in incoming/: take it on at once.
            loop.after(0) { [unowned self] in
                self.scanIncoming()
                self.dispatch()
            }
        }
        if message.deferred.isEmpty {
            try? queue.remove(id, queue: QueueDirectory.active)
            try? queue.remove(id, queue: QueueDirectory.deferLog)
            Log.info("\(id): removed")
            return
        }
        bounces.appendDeferLog(message)
        let backoff = min(max(Int(age), config.seconds("minimal_backoff_time")), config.seconds("maximal_backoff_time"))
        do {
            try queue.move(id, from: QueueDirectory.active, to: QueueDirectory.deferred)
            try queue.setTime(id, queue: QueueDirectory.deferred, seconds: Clock.now().seconds + backoff)
        } catch {
            Log.warning("\(id): cannot move to the deferred queue: \(error)")
        }
    }

    /// delay_warning_time: once a message with deferred recipients has waited that long,
    /// its sender is told once (never the null sender); true when a warning was queued.
    func warnOfDelay(_ message: ActiveMessage) -> Bool {
        let due = message.file.envelope.warningTime
        guard !message.deferred.isEmpty, due > 0, Clock.now().seconds >= due else { return false }
        let path = queue.path(queue: QueueDirectory.active, queueID: message.queueID)
        do {
            try message.file.clearWarning(path: path)
        } catch {
            Log.warning("\(message.queueID): cannot update queue file: \(error)")
            return false
        }
        let wanted = message.deferred.values.filter { message.wantsDelayNotice($0.index) }.sorted { $0.index < $1.index }
        guard !message.sender.isEmpty, !wanted.isEmpty else { return false }
        bounces.returnToSender(message, wanted, kind: .delay)
        return true
    }

    func markDone(_ message: ActiveMessage, _ index: Int) {
        guard index < message.file.recipients.count else { return }
        try? QueueFile.markDone(path: queue.path(queue: QueueDirectory.active, queueID: message.queueID),
                                statusOffsets: [message.file.recipients[index].statusOffset], sync: false)
    }
}

extension Clock {
    /// Seconds since the epoch as a Double.
    static var nowDouble: Double {
        let n = now()
        return Double(n.seconds) + Double(n.micros) / 1_000_000
    }
}
