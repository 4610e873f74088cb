// One delivery request, as Postfix's smtp_connect does it: the next hop's destinations in
// order (then smtp_fallback_relay), each destination's servers in MX order within
// smtp_mx_address_limit addresses and smtp_mx_session_limit sessions; a connection kept
// from the previous request for the same next hop is tried first. A temporary failure at
// a server that is not the last one just moves on (logged as an info line); at the last
// one it defers; a permanent one bounces at once. Each recipient's fate is logged in
// Postfix's form (`to=<…>, relay=host[addr]:port, delay=…, dsn=…, status=… (…)`).
import Shared

final class SMTPAgent {
    let settings: SMTPAgentSettings
    let router: SMTPRouter
    let cache: ConnectionCache

    init(settings: SMTPAgentSettings, router: SMTPRouter) {
        self.settings = settings
        self.router = router
        cache = ConnectionCache(settings: settings)
    }

    static func now() -> Double {
        let (seconds, micros) = Clock.now()
        return Double(seconds) + Double(micros) / 1_000_000
    }

    /// Delivers REQUEST's recipients; one result each.
    func deliver(_ request: DeliveryRequest) -> [DeliveryResult] {
        let attempt = DeliveryAttempt(request: request, started: SMTPAgent.now())
        let message: QueuedMessage
        do {
            message = try QueuedMessage(path: request.queueFile)
        } catch {
            Log.warning("\(request.queueID): cannot read message: \(error)")
            attempt.finishAll(SMTPFailure(dsn: "4.3.0", reason: "error reading message"), relay: "none")
            return attempt.results
        }
        if let cached = cache.take(request.nexthop) {
            cached.session.probe()
            if cached.run(message: nil, queueID: request.queueID) && cached.session.ready {
                transact(cached, message, attempt, final: false)
            } else {
                cached.close()
            }
        }
        let destinations = self.destinations(request.nexthop)
        for (i, destination) in destinations.enumerated() where !attempt.pending.isEmpty {
            switch router.route(destination) {
            case .failed(let failure):
                attempt.lastFailure = failure
            case .servers(let servers):
                tryServers(servers, destination, message, attempt, finalNexthop: i == destinations.count - 1)
            }
        }
        if !attempt.pending.isEmpty {
            var failure = attempt.lastFailure ?? SMTPFailure(dsn: "4.3.0", reason: "server unavailable or unable to receive mail")
            if !failure.isTemporary && !settings.relayhost.isEmpty && destinations.first?.text == settings.relayhost {
                Log.warning("relayhost configuration problem")
                failure.dsn = "4.3.5"
            }
            attempt.finishAll(failure, relay: "none")
        }
        return attempt.results
    }

    /// The next hop's destinations, then the fall-back relays (not for mail to relayhost).
    func destinations(_ nexthop: String) -> [SMTPDestination] {
        var list = SMTPDestination.list(nexthop, defaultPort: settings.defaultPort)
        if nexthop != settings.relayhost {
            list += settings.fallbackRelays.compactMap { SMTPDestination.parse($0, defaultPort: settings.defaultPort) }
        }
        return list
    }

    /// Tries SERVERS in order until every recipient is done or the limits are reached.
    func tryServers(_ servers: [SMTPServer], _ destination: SMTPDestination, _ message: QueuedMessage, _ attempt: DeliveryAttempt,
                    finalNexthop: Bool) {
        let best = servers.first?.preference ?? 0
        var sessions = 0
        for (i, server) in servers.enumerated() where !attempt.pending.isEmpty {
            let addressLimitReached = settings.mxAddressLimit > 0 && i + 1 >= settings.mxAddressLimit
            var isLast = i + 1 == servers.count || addressLimitReached
            var client = settings.clientSettings(nexthop: attempt.request.nexthop, port: server.port, bestMX: server.preference == best)
            client.auth = settings.credentials(host: server.host, destination: destination.text)
            let session = SMTPClientSession(settings: client, host: server.host, address: server.address)
            let connection: ServerConnection
            switch ServerConnection.open(server, session: session, settings: settings, nexthop: attempt.request.nexthop,
                                         destination: destination.host) {
            case .failure(let failure):
                Log.info(failure.reason)
                attempt.lastFailure = failure
                if isLast { return }
                continue
            case .success(let c):
                connection = c
            }
            connection.run(message: nil, queueID: attempt.request.queueID)
            guard session.ready else {
                let failure = session.failure ?? SMTPFailure(dsn: "4.3.0", reason: "server unavailable or unable to receive mail")
                connection.close()
                if failure.isTemporary && !(finalNexthop && isLast) {
                    Log.info("\(attempt.request.queueID): \(failure.reason)")
                    attempt.lastFailure = failure
                    if isLast { return }
                    continue
                }
                attempt.finishAll(failure, relay: server.relayName)
                return
            }
            sessions += 1
            if settings.mxSessionLimit > 0 && sessions >= settings.mxSessionLimit { isLast = true }
            transact(connection, message, attempt, final: finalNexthop && isLast)
            if isLast { return }
        }
    }

    /// One transaction for the pending recipients over CONNECTION; then the connection is
    /// kept for the next request or closed.
    func transact(_ connection: ServerConnection, _ message: QueuedMessage, _ attempt: DeliveryAttempt, final: Bool) {
        let recipients = attempt.pending
        let session = connection.session
        attempt.setupDone = attempt.setupDone ?? SMTPAgent.now()
        session.begin(message.transaction(attempt.request, recipients))
        connection.run(message: message, queueID: attempt.request.queueID)
        var kept: [DeliveryRecipient] = []
        for (k, recipient) in recipients.enumerated() {
            let outcome = k < session.outcomes.count ? session.outcomes[k] : nil
            switch outcome ?? .failed(SMTPFailure(dsn: "4.3.0", reason: "server unavailable or unable to receive mail")) {
            case .delivered(let reply):
                var result = DeliveryResult(
                    index: recipient.index, status: .sent, dsn: reply.dsn, reason: reply.text, remoteMTA: session.host, smtpReply: reply.text)
                result.action = "relayed"
                result.notifyPassedOn = session.features.dsn
                attempt.finish(recipient, result, relay: connection.server.relayName, use: session.transactionCount)
            case .failed(let failure):
                if failure.isTemporary && !final {
                    Log.info("\(attempt.request.queueID): \(failure.reason)")
                    attempt.lastFailure = failure
                    kept.append(recipient)
                } else {
                    attempt.finish(recipient, attempt.result(recipient, failure), relay: connection.server.relayName, use: session.transactionCount)
                }
            }
        }
        attempt.pending = kept
        connection.idleSince = ServerConnection.clock()
        if session.ready && session.reusable && wantsCache(attempt.request, connection) {
            cache.store(connection)
        } else {
            connection.quit()
        }
    }

    /// Keep the connection open for the next request: qmgr says more mail waits for this
    /// next hop (smtp_connection_cache_on_demand), or the destination is listed in
    /// smtp_connection_cache_destinations; within the reuse limits.
    func wantsCache(_ request: DeliveryRequest, _ connection: ServerConnection) -> Bool {
        let listed = SMTPDestination.list(request.nexthop, defaultPort: settings.defaultPort).contains {
            settings.cacheDestinations.contains($0.host.asciiLowercased)
        }
        guard (settings.cacheOnDemand && request.moreMailWaiting) || listed else { return false }
        if settings.reuseCountLimit > 0 && connection.session.transactionCount >= settings.reuseCountLimit { return false }
        return ServerConnection.clock() - connection.openedAt < Double(settings.reuseTimeLimit)
    }
}

/// The state of one request: recipients still to do, results so far, the last failure
/// seen (what the remaining recipients get), and the times for `delays=`.
final class DeliveryAttempt {
    let request: DeliveryRequest
    let started: Double
    var pending: [DeliveryRecipient]
    var results: [DeliveryResult] = []
    var lastFailure: SMTPFailure?
    /// When the first transaction started (the end of connection set-up).
    var setupDone: Double?

    init(request: DeliveryRequest, started: Double) {
        self.request = request
        self.started = started
        pending = request.recipients
    }

    func result(_ recipient: DeliveryRecipient, _ failure: SMTPFailure) -> DeliveryResult {
        DeliveryResult(
            index: recipient.index, status: failure.isTemporary ? .deferred : .bounced, dsn: failure.dsn, reason: failure.reason,
            remoteMTA: failure.remoteMTA ?? "", smtpReply: failure.reply?.text ?? "")
    }

    /// Records and logs RESULT for RECIPIENT.
    func finish(_ recipient: DeliveryRecipient, _ result: DeliveryResult, relay: String, use: Int = 0) {
        let now = SMTPAgent.now()
        let setup = setupDone ?? now
        results.append(result)
        Log.info(DeliveryLog.line(
            request, recipient, relay: relay, connectionUse: use, connect: setup - started, transmit: now - setup, now: now, result: result))
    }

    /// Every pending recipient fails with FAILURE.
    func finishAll(_ failure: SMTPFailure, relay: String) {
        setupDone = setupDone ?? SMTPAgent.now()
        for recipient in pending { finish(recipient, result(recipient, failure), relay: relay) }
        pending = []
    }
}
