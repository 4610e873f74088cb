// The SMTP session as a state machine without I/O (RFC 5321 §4): it takes one command
// line at a time and returns the replies to send and what to read next. The connection
// loop around it (Connection.swift) only moves bytes. Commands are in SessionCommands.swift,
// the message transfer in SessionData.swift, log lines in SessionLog.swift.
import Glibc
import Shared

/// What the connection should read after a command.
enum NextInput: Equatable {
    case command
    /// DATA content up to the lone dot.
    case data
    /// BDAT: exactly this many bytes; LAST ends the message.
    case chunk(Int, last: Bool)
    /// Close after sending the replies.
    case disconnect
    /// Send the replies, drop unread input and run the TLS handshake (STARTTLS).
    case startTLS
}

struct SessionOutcome {
    var replies: [SMTPReply] = []
    var next: NextInput = .command
    /// Seconds to wait before sending (the error tarpit).
    var delay = 0
}

final class SMTPSession {
    let settings: SMTPDSettings
    let restrictions: Restrictions
    let store: MessageStore
    let client: ClientIdentity
    let log = SessionLog()

    var helo: String?
    var protocolName = "SMTP"
    var sender: String?
    var envelope: EnvelopeInfo?
    var transaction: MessageTransaction?
    var recipients: [String] = []
    var rejectedRecipients = 0
    var recipientOvershoot = 0
    var declaredSize = 0
    var errorCount = 0
    var junkCount = 0
    /// Set when the client was refused at connect (smtpd_delay_reject = no).
    var connectRefusal: SMTPReply?
    /// The command being served, for "lost connection after CMD" lines.
    var lastCommand = "CONNECT"
    var saslUsername: String?
    var saslMethod: String?
    /// The MAIL FROM AUTH= parameter, when the client is authenticated.
    var saslSender: String?
    /// An AUTH exchange waiting for the client's next response line (SessionAuth.swift).
    var authExchange: AuthExchange?
    /// SASL for this session; nil when smtpd_sasl_auth_enable = no (SessionAuth.swift).
    var sasl: SessionSASL?
    /// What TLS negotiated on this connection (SessionTLS.swift).
    var tls = TLSSessionState()
    /// This process's TLS set-up (SessionTLS.swift).
    var tlsServer = SMTPDTLS.disabled
    /// The master.cf service name, for anvil idents and log lines.
    var serviceName = "smtp"
    /// The local end of the connection.
    var serverAddress = ""
    var serverPort: UInt16 = 0
    var bdatActive = false
    var content = ContentState()
    /// Asks for a deferred-mail flush for ETRN; false when that failed.
    var flushSite: (String) -> Bool = { _ in true }
    /// The anvil limits of this process (SessionLimits.swift); nil = none set.
    var limits: ClientLimits?
    /// The current MAIL transaction's id for policy servers, and how many MAIL commands
    /// this session accepted.
    var instance = ""
    var transactionCount = 0
    /// What the access checks remember across commands (CheckState.swift).
    let checks = CheckState()

    init(settings: SMTPDSettings, restrictions: Restrictions, store: MessageStore, client: ClientIdentity) {
        self.settings = settings
        self.restrictions = restrictions
        self.store = store
        self.client = client
    }

    var context: CheckContext {
        var ctx = CheckContext(client: client, helo: helo, sender: sender, recipient: nil, saslUsername: saslUsername, protocolName: protocolName)
        ctx.saslMethod = saslMethod
        ctx.saslSender = saslSender
        ctx.tls = tls
        ctx.queueID = transaction?.queueID
        ctx.size = content.active || content.bytes > 0 ? content.bytes : declaredSize
        ctx.serverAddress = serverAddress
        ctx.serverPort = serverPort
        ctx.protocolState = lastCommand
        ctx.recipientCount = recipients.count
        ctx.instance = instance
        ctx.checks = checks
        return ctx
    }

    var inTransaction: Bool { sender != nil }

    // MARK: greeting and commands

    /// The `connect from` line, first of all (before a wrapper-mode handshake).
    func connected() {
        log.connect(client)
    }

    /// The 220 banner, or the client list's refusal when smtpd_delay_reject = no.
    func greeting() -> SessionOutcome {
        if let refusal = connectionLimit() {
            return SessionOutcome(replies: [refusal], next: .disconnect)
        }
        if !settings.delayReject, let refusal = restrictions.checkClient(context) {
            log.reject("CONNECT", client, refusal, context, queueID: nil, recipient: nil)
            connectRefusal = refusal
            return SessionOutcome(replies: [refusal], next: refusal.code == 421 || refusal.code == 521 ? .disconnect : .command)
        }
        return SessionOutcome(replies: [SMTPReply(220, nil, settings.banner)])
    }

    /// Handles one command line (without CRLF; TRUNCATED if it was longer than the limit).
    func command(_ raw: [UInt8], truncated: Bool = false) -> SessionOutcome {
        if authExchange != nil { return authResponse(raw, truncated: truncated) }
        let line = String(decoding: raw, as: UTF8.self)
        let words = splitFields(line)
        guard let verbWord = words.first else {
            log.count("unknown", ok: false)
            return finish(SMTPReply(500, "5.5.2", "Error: bad syntax"), command: "UNKNOWN")
        }
        let verb = verbWord.uppercased()
        if isForbidden(verbWord) {
            Log.warning("non-SMTP command from \(client.nameAddress): \(line.prefix(100))")
            log.count("unknown", ok: false)
            lastCommand = verb
            return SessionOutcome(replies: [SMTPReply(221, "2.7.0", "Error: I can break rules, too. Goodbye.")], next: .disconnect)
        }
        let argument = String(line.dropFirst(verbWord.count)).trimmed
        if let refusal = connectRefusal, verb != "QUIT" {
            lastCommand = verb
            log.count(verb.lowercased(), ok: false)
            if refusal.code == 421 || refusal.code == 521 { return finish(refusal, command: verb) }
            return finish(SMTPReply(503, "5.7.0", "Error: access denied for \(client.nameAddress)"), command: verb)
        }
        if let refusal = tlsGate(verb) { return refusal }
        lastCommand = verb
        var outcome: SessionOutcome
        switch verb {
        case "HELO": outcome = heloCommand(argument, extended: false)
        case "EHLO": outcome = heloCommand(argument, extended: true)
        case "MAIL": outcome = mailCommand(argument)
        case "RCPT": outcome = rcptCommand(argument)
        case "DATA": outcome = dataCommand(argument)
        case "BDAT": outcome = bdatCommand(argument)
        case "RSET": outcome = rsetCommand(argument)
        case "NOOP": outcome = SessionOutcome(replies: [SMTPReply(250, "2.0.0", "Ok")])
        case "VRFY": outcome = vrfyCommand(argument)
        case "ETRN": outcome = etrnCommand(argument)
        case "QUIT": outcome = SessionOutcome(replies: [SMTPReply(221, "2.0.0", "Bye")], next: .disconnect)
        case "STARTTLS": outcome = starttlsCommand(argument)
        case "AUTH": outcome = authCommand(argument)
        default:
            log.count("unknown", ok: false)
            return finish(SMTPReply(500, "5.5.2", "Error: command not recognized"), command: "UNKNOWN")
        }
        if let last = outcome.replies.last, last.code == 421 || last.code == 521 { outcome.next = .disconnect }
        let ok = outcome.replies.last.map { $0.code < 400 } ?? true
        log.count(verb.lowercased(), ok: ok)
        if ["HELO", "EHLO", "RSET", "NOOP", "VRFY", "ETRN"].contains(verb) {
            junkCount += 1
            if junkCount > settings.junkCommandLimit { errorCount += 1 }
        }
        return tarpit(outcome)
    }

    func isForbidden(_ word: String) -> Bool {
        settings.forbiddenCommands.contains(word.uppercased()) || (word.hasSuffix(":") && word.count > 1)
            || word.first.map { !$0.isLetter } ?? false
    }

    /// Counts error replies; past the soft limit each one is delayed, at the hard limit
    /// the session ends.
    func tarpit(_ outcome: SessionOutcome) -> SessionOutcome {
        var outcome = outcome
        for reply in outcome.replies where reply.code >= 400 {
            errorCount += 1
            if errorCount > settings.softErrorLimit { outcome.delay = settings.errorSleepSeconds }
        }
        return outcome
    }

    func finish(_ reply: SMTPReply, command: String) -> SessionOutcome {
        lastCommand = command
        return tarpit(SessionOutcome(replies: [reply]))
    }

    /// Checked before each new command: the hard error limit ends the session.
    func tooManyErrors() -> SMTPReply? {
        guard settings.hardErrorLimit > 0, errorCount >= settings.hardErrorLimit else { return nil }
        Log.info("too many errors after \(lastCommand) from \(client.nameAddress)")
        return SMTPReply(421, "4.7.0", "\(settings.myhostname) Error: too many errors")
    }

    /// The client was silent for smtpd_timeout.
    func timedOut() -> SMTPReply {
        Log.info("timeout after \(content.active ? "DATA (\(content.bytes) bytes)" : lastCommand) from \(client.nameAddress)")
        resetTransaction()
        return SMTPReply(421, "4.4.2", "\(settings.myhostname) Error: timeout exceeded")
    }

    /// The client went away without QUIT.
    func lostConnection() {
        Log.info("lost connection after \(content.active ? "DATA (\(content.bytes) bytes)" : lastCommand) from \(client.nameAddress)")
        resetTransaction()
    }

    /// The disconnect line, once the session is over.
    func end() {
        authAbandoned()
        resetTransaction()
        releaseConnectionLimit()
        log.disconnect(client)
    }

    /// Resets the mail transaction (RSET, EHLO, after a message, on errors).
    func resetTransaction() {
        transaction?.abort()
        transaction = nil
        sender = nil
        saslSender = nil
        envelope = nil
        recipients = []
        rejectedRecipients = 0
        recipientOvershoot = 0
        declaredSize = 0
        bdatActive = false
        content = ContentState()
        checks.resetTransaction()
    }
}
