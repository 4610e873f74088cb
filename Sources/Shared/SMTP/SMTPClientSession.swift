// The client side of one SMTP connection as a state machine without I/O (RFC 5321 §3,
// §4; RFC 1869 ESMTP, RFC 2920 pipelining, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531
// SMTPUTF8, RFC 3461 DSN, RFC 3207 STARTTLS, RFC 4954 AUTH with PLAIN (RFC 4616) and
// LOGIN), following Postfix's smtp(8): greeting, EHLO (HELO when EHLO is refused),
// STARTTLS and EHLO again, AUTH; then transactions of MAIL FROM, RCPT TO and DATA sent
// in pipelined groups of at most pipeliningBufferSize bytes (DATA closing a group), the
// content, and the end-of-data reply; RSET after an aborted transaction, RSET probes
// before reusing a connection, QUIT. Remote refusals become failures with Postfix's
// texts (`host H[A] said: 550 … (in reply to RCPT TO command)`, `host H[A] refused to
// talk to me: …`); the I/O layer reports lost connections and time-outs with the stage
// they happened in. The driver asks `nextStep()` what to do and feeds back replies.

/// What the I/O layer must do next.
public enum SMTPClientStep: Equatable {
    /// Queue this command line for sending (the driver adds CRLF).
    case send(String, SMTPClientStage)
    /// Send what is queued and read one reply within STAGE's time limit.
    case receive(SMTPClientStage)
    /// Send what is queued, then perform the TLS handshake and call tlsStarted(_:).
    case startTLS
    /// Send the message content and the final dot (SMTPDataEncoder).
    case sendContent
    /// Nothing to do until the next transaction, probe or quit.
    case idle
    /// Close the connection.
    case close
}

/// One connection's dialog.
public final class SMTPClientSession {
    public let settings: SMTPClientSettings
    /// `host[address]`, as Postfix names a server in reasons.
    public let server: String
    /// The server's host name (for Remote-MTA).
    public let host: String
    public internal(set) var features = SMTPServerFeatures()
    /// Set once TLS is on.
    public internal(set) var tlsActive = false
    /// A failure that ends the whole connection (greeting, EHLO, TLS, AUTH, I/O).
    public internal(set) var failure: SMTPFailure?
    /// True once the handshake is done and the connection can carry a transaction.
    public internal(set) var ready = false
    /// False when the connection must not be reused (an error, a refused RSET).
    public internal(set) var reusable = true
    /// The outcome of each recipient of the current transaction, by position.
    public internal(set) var outcomes: [SMTPRecipientOutcome?] = []
    /// How many transactions this connection carried.
    public internal(set) var transactionCount = 0

    var steps: [SMTPClientStep] = []
    var awaiting: SMTPClientStage?
    var closed = false
    var transaction: TransactionState?
    var authStep = 0

    /// A session with the server named HOST at ADDRESS.
    public init(settings: SMTPClientSettings, host: String, address: String) {
        self.settings = settings
        self.host = host
        server = "\(host)[\(address)]"
        steps = [.receive(.greeting)]
    }

    /// The next thing to do.
    public func nextStep() -> SMTPClientStep {
        if closed { return .close }
        if !steps.isEmpty {
            let step = steps.removeFirst()
            if case .receive(let stage) = step { awaiting = stage }
            if step == .close { closed = true }
            return step
        }
        if transaction != nil, let step = transactionStep() {
            if case .receive(let stage) = step { awaiting = stage }
            return step
        }
        return .idle
    }

    /// The server's reply to what the last `.receive` step waited for.
    public func receive(_ reply: SMTPClientReply) {
        guard let stage = awaiting else { return }
        awaiting = nil
        switch stage {
        case .greeting: greeting(reply)
        case .ehlo: ehlo(reply)
        case .helo: helo(reply)
        case .starttls: starttls(reply)
        case .auth: auth(reply)
        case .mail, .rcpt, .data, .dot, .rset: transactionReply(reply, stage)
        case .rsetProbe:
            if reply.kind != 2 { reusable = false }
            ready = reply.kind == 2
            if !ready { closed = true }
        case .quit, .content: break
        }
    }

    /// The connection broke (LOST) or went silent at STAGE.
    public func connectionFailed(at stage: SMTPClientStage, timedOut: Bool) {
        reusable = false
        ready = false
        closed = true
        awaiting = nil
        steps = []
        transaction = nil
        guard stage.sendingMail else { return }
        let reason = timedOut ? "conversation with \(server) timed out while \(stage.activity)"
            : "lost connection with \(server) while \(stage.activity)"
        fail(SMTPFailure(dsn: "4.4.2", reason: reason))
    }

    /// The message could not be read while it was being sent: the transaction cannot be
    /// ended cleanly, so the connection is dropped (Postfix: `local data error`).
    public func localDataError() {
        reusable = false
        ready = false
        closed = true
        awaiting = nil
        steps = []
        transaction = nil
        fail(SMTPFailure(dsn: "4.3.0", reason: "local data error while talking to \(server)"))
    }

    /// The TLS handshake after STARTTLS finished; FAILURE says why it did not work
    /// (`Cannot start TLS: handshake failure`, `Server certificate not verified`).
    public func tlsStarted(failure: String? = nil) {
        if let failure {
            reusable = false
            fail(SMTPFailure(dsn: "4.7.5", reason: failure))
            closed = true
            return
        }
        tlsActive = true
        features = SMTPServerFeatures()
        steps = [.send("EHLO \(settings.heloName)", .ehlo), .receive(.ehlo)]
    }

    // MARK: the handshake

    func greeting(_ reply: SMTPClientReply) {
        guard reply.kind == 2 else { return refuse(reply, temporary: reply.kind == 5 && settings.skip5xxGreeting) }
        let words = (reply.texts.first ?? "").split(separator: " ").map { String($0).uppercased() }
        features.esmtp = words.contains("ESMTP") || settings.alwaysSendEHLO
        if settings.neverSendEHLO { features.esmtp = false }
        steps = features.esmtp
            ? [.send("EHLO \(settings.heloName)", .ehlo), .receive(.ehlo)]
            : [.send("HELO \(settings.heloName)", .helo), .receive(.helo)]
    }

    func ehlo(_ reply: SMTPClientReply) {
        guard reply.kind == 2 else {
            if reply.code == 421 { return refuse(reply) }
            features.esmtp = false
            steps = [.send("HELO \(settings.heloName)", .helo), .receive(.helo)]
            return
        }
        if loopsBack(reply) { return }
        features.read(ehlo: reply)
        afterHello()
    }

    func helo(_ reply: SMTPClientReply) {
        guard reply.kind == 2 else { return refuse(reply) }
        if loopsBack(reply) { return }
        afterHello()
    }

    /// `host X refused to talk to me: REPLY`; the connection ends. TEMPORARY makes a 5xx
    /// refusal 4xx (smtp_skip_5xx_greeting: another server may take the mail).
    func refuse(_ reply: SMTPClientReply, temporary: Bool = false) {
        var failure = remote(reply, "host \(server) refused to talk to me: \(reply.text)")
        if temporary { failure.dsn = "4" + failure.dsn.dropFirst() }
        fail(failure)
        reusable = false
        closeAfterQuit()
    }

    /// A server that answers EHLO/HELO with our own name: mail would loop.
    func loopsBack(_ reply: SMTPClientReply) -> Bool {
        guard settings.loopCheck, let name = reply.texts.first?.split(separator: " ").first,
            name.lowercased() == settings.myHostname.lowercased()
        else { return false }
        fail(SMTPFailure(dsn: settings.bestMX ? "5.4.6" : "4.4.6", reason: "mail for \(settings.nexthop) loops back to myself"))
        reusable = false
        closeAfterQuit()
        return true
    }

    /// After EHLO/HELO: STARTTLS when the TLS level asks for it, then AUTH, then ready.
    func afterHello() {
        if !tlsActive && settings.tlsLevel != .none {
            if features.starttls && settings.tlsAvailable {
                steps = [.send("STARTTLS", .starttls), .receive(.starttls)]
                return
            }
            if settings.tlsLevel.requiresEncryption {
                let reason = settings.tlsAvailable ? "TLS is required, but was not offered by host \(server)"
                    : "TLS is required, but our TLS engine is unavailable"
                fail(SMTPFailure(dsn: settings.tlsAvailable ? "4.7.4" : "4.7.5", reason: reason))
                reusable = false
                return closeAfterQuit()
            }
        }
        if settings.auth != nil, features.authMechanisms != nil {
            return startAuth()
        }
        ready = true
    }

    func starttls(_ reply: SMTPClientReply) {
        if reply.kind == 2 {
            steps = [.startTLS]
            return
        }
        if settings.tlsLevel.requiresEncryption {
            fail(remote(reply, "TLS is required, but host \(server) refused to start TLS: \(reply.text)"))
            reusable = false
            return closeAfterQuit()
        }
        features.starttls = false
        afterHello()
    }

    // MARK: AUTH

    /// Picks a mechanism and sends AUTH (Postfix's smtp_sasl_helo_login).
    func startAuth() {
        guard let auth = settings.auth else { return }
        let offered = (features.authMechanisms ?? []).filter { auth.mechanismFilter.isEmpty || auth.mechanismFilter.contains($0) }
        guard !offered.isEmpty else {
            return authFailed(SMTPFailure(dsn: "4.7.0", reason: "SASL authentication failed: server \(server) offered no compatible authentication mechanisms for this type of connection security"))
        }
        let options = tlsActive ? auth.tlsSecurityOptions : auth.securityOptions
        let allowed = SMTPClientAuth.implemented.filter { !options.contains("noplaintext") && offered.contains($0) }
        guard let mechanism = allowed.first else {
            return authFailed(SMTPFailure(dsn: "4.7.0", reason: "SASL authentication failed; cannot authenticate to server \(server): no mechanism available"))
        }
        authStep = 0
        if mechanism == "PLAIN" {
            let credentials = Array(("\0" + auth.username + "\0" + auth.password).utf8)
            steps = [.send("AUTH PLAIN " + RFC822Quoting.base64(credentials[...]), .auth), .receive(.auth)]
        } else {
            steps = [.send("AUTH LOGIN", .auth), .receive(.auth)]
        }
    }

    func auth(_ reply: SMTPClientReply) {
        if reply.kind == 3 {
            authStep += 1
            guard authStep <= 100, let auth = settings.auth else {
                return authFailed(SMTPFailure(dsn: "4.3.0", reason: "SASL authentication failed; authentication protocol loop with server \(server)"))
            }
            let answer = authStep == 1 ? auth.username : authStep == 2 ? auth.password : ""
            steps = [.send(RFC822Quoting.base64(Array(answer.utf8)[...]), .auth), .receive(.auth)]
            return
        }
        guard reply.kind == 2 else {
            var dsn = reply.dsn
            if settings.auth?.softBounce == true && dsn.hasPrefix("5") { dsn = "4" + dsn.dropFirst() }
            return authFailed(SMTPFailure(dsn: dsn, reason: "SASL authentication failed; server \(server) said: \(reply.text)",
                                          reply: reply, remoteMTA: host))
        }
        ready = true
    }

    func authFailed(_ failure: SMTPFailure) {
        fail(failure)
        reusable = false
        closeAfterQuit()
    }

    // MARK: after the handshake

    /// Starts a transaction for MESSAGE; its outcomes appear in `outcomes` once
    /// `nextStep()` returns `.idle` (or `.close`).
    public func begin(_ message: SMTPTransaction) {
        outcomes = Array(repeating: nil, count: message.recipients.count)
        transactionCount += 1
        if let limit = features.sizeLimit, limit > 0, message.size > limit {
            failRemaining(SMTPFailure(dsn: "5.3.4", reason: "message size \(message.size) exceeds size limit \(limit) of server \(server)"))
            return
        }
        if message.smtputf8Required && !features.smtputf8 {
            failRemaining(SMTPFailure(dsn: "5.6.7", reason: "SMTPUTF8 is required, but was not offered by host \(server)"))
            return
        }
        transaction = TransactionState(message: message, commands: commands(for: message))
    }

    /// Sends an RSET to check that a kept connection still works before reusing it.
    public func probe() {
        ready = false
        steps = [.send("RSET", .rsetProbe), .receive(.rsetProbe)]
    }

    /// Ends the session politely: QUIT (its reply read unless smtp_skip_quit_response).
    public func quit() {
        closeAfterQuit()
    }

    func closeAfterQuit() {
        ready = false
        steps = [.send("QUIT", .quit)] + (settings.skipQuitResponse ? [] : [.receive(.quit)])
        transaction = nil
        steps.append(.close)
    }

    /// Records FAILURE for the whole connection and for every recipient still open.
    func fail(_ failure: SMTPFailure) {
        if self.failure == nil { self.failure = failure }
        failRemaining(failure)
    }

    func failRemaining(_ failure: SMTPFailure) {
        for i in outcomes.indices where outcomes[i] == nil { outcomes[i] = .failed(failure) }
    }

    /// A failure the server caused by REPLY: Postfix turns a reply outside 4xx/5xx into
    /// `Protocol error: …` with 5.5.0.
    func remote(_ reply: SMTPClientReply, _ reason: String) -> SMTPFailure {
        if reply.dsn.hasPrefix("4") || reply.dsn.hasPrefix("5") {
            return SMTPFailure(dsn: reply.dsn, reason: reason, reply: reply, remoteMTA: host)
        }
        return SMTPFailure(dsn: "5.5.0", reason: "Protocol error: " + reason, reply: reply, remoteMTA: host)
    }
}
