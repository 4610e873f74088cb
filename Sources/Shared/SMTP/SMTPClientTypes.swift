// The values the SMTP client's protocol engine (SMTPClientSession.swift) works with: the
// stages of the dialog with their time-limit parameters and Postfix's names for them, the
// server's EHLO features, the settings of one connection, the message transaction to
// send, and what became of each recipient.

/// A step of the client dialog. Each names the main.cf time limit for it and the words
/// Postfix's smtp(8) uses in `lost connection with HOST while …` and `conversation with
/// HOST timed out while …`.
public enum SMTPClientStage: Equatable, CaseIterable {
    case greeting, ehlo, helo, starttls, auth, mail, rcpt, data, content, dot, rset, rsetProbe, quit

    /// The main.cf parameter that limits this step.
    public var timeoutParameter: String {
        switch self {
        case .greeting, .ehlo, .helo, .auth: return "smtp_helo_timeout"
        case .starttls: return "smtp_starttls_timeout"
        case .mail: return "smtp_mail_timeout"
        case .rcpt: return "smtp_rcpt_timeout"
        case .data: return "smtp_data_init_timeout"
        case .content: return "smtp_data_xfer_timeout"
        case .dot: return "smtp_data_done_timeout"
        case .rset, .rsetProbe: return "smtp_rset_timeout"
        case .quit: return "smtp_quit_timeout"
        }
    }

    /// What the client was doing, as Postfix words it.
    public var activity: String {
        switch self {
        case .greeting: return "receiving the initial server greeting"
        case .ehlo, .auth: return "performing the EHLO handshake"
        case .helo: return "performing the HELO handshake"
        case .starttls: return "receiving the STARTTLS response"
        case .mail: return "sending MAIL FROM"
        case .rcpt: return "sending RCPT TO"
        case .data: return "sending DATA command"
        case .content: return "sending message body"
        case .dot: return "sending end of data -- message may be sent more than once"
        case .rset: return "sending final RSET"
        case .rsetProbe: return "sending RSET probe"
        case .quit: return "sending QUIT"
        }
    }

    /// The command a reply answers, as in `(in reply to RCPT TO command)`.
    public var request: String {
        switch self {
        case .mail: return "MAIL FROM command"
        case .rcpt: return "RCPT TO command"
        case .data: return "DATA command"
        case .dot, .content: return "end of DATA command"
        case .rset: return "final RSET command"
        case .rsetProbe: return "RSET probe"
        case .quit: return "QUIT command"
        case .greeting: return "initial server greeting"
        case .ehlo: return "EHLO command"
        case .helo: return "HELO command"
        case .starttls: return "STARTTLS command"
        case .auth: return "AUTH command"
        }
    }

    /// Whether a failure at this step still concerns the message (before its fate is known).
    public var sendingMail: Bool {
        switch self {
        case .rset, .rsetProbe, .quit: return false
        default: return true
        }
    }
}

/// What the server announced in its EHLO reply (RFC 5321 §4.1.1.1 and the extensions).
public struct SMTPServerFeatures: Equatable {
    public var esmtp = false
    public var pipelining = false
    /// SIZE: the announced limit (0 when SIZE came without one); nil when not announced.
    public var sizeLimit: Int?
    public var eightBitMIME = false
    public var smtputf8 = false
    public var dsn = false
    public var starttls = false
    /// AUTH mechanisms, upper case, in the server's order; nil when AUTH was not announced.
    public var authMechanisms: [String]?

    public init() {}

    /// Reads the keywords of an EHLO reply (its lines after the first).
    public mutating func read(ehlo reply: SMTPClientReply) {
        esmtp = true
        for text in reply.texts.dropFirst() {
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "=" }).map(String.init)
            guard let keyword = words.first?.uppercased() else { continue }
            switch keyword {
            case "PIPELINING": pipelining = true
            case "8BITMIME": eightBitMIME = true
            case "SMTPUTF8": smtputf8 = true
            case "DSN": dsn = true
            case "STARTTLS": starttls = true
            case "SIZE": sizeLimit = words.count > 1 ? Int(words[1]) ?? 0 : 0
            case "AUTH":
                let mechanisms = words.dropFirst().map { $0.uppercased() }
                authMechanisms = (authMechanisms ?? []) + mechanisms.filter { !(authMechanisms ?? []).contains($0) }
            default: break
            }
        }
        // Postfix: a server with SMTPUTF8 but without 8BITMIME is given 8BITMIME anyway.
        if smtputf8 { eightBitMIME = true }
    }
}

/// SMTP AUTH for one connection: the credentials from smtp_sasl_password_maps and which
/// mechanisms the settings allow.
public struct SMTPClientAuth: Equatable {
    public var username: String
    public var password: String
    /// smtp_sasl_mechanism_filter, upper case; empty = no filter.
    public var mechanismFilter: [String]
    /// smtp_sasl_security_options (and _tls_ after STARTTLS): `noplaintext`, `noanonymous`…
    public var securityOptions: Set<String>
    public var tlsSecurityOptions: Set<String>
    /// smtp_sasl_auth_soft_bounce: a 5xx AUTH failure defers rather than bounces.
    public var softBounce: Bool

    public init(username: String, password: String, mechanismFilter: [String] = [], securityOptions: Set<String> = ["noplaintext", "noanonymous"],
                tlsSecurityOptions: Set<String> = ["noplaintext", "noanonymous"], softBounce: Bool = true) {
        self.username = username
        self.password = password
        self.mechanismFilter = mechanismFilter
        self.securityOptions = securityOptions
        self.tlsSecurityOptions = tlsSecurityOptions
        self.softBounce = softBounce
    }

    /// The mechanisms Postern's client implements, in its order of preference.
    public static let implemented = ["PLAIN", "LOGIN"]
}

/// The settings of one connection's dialog.
public struct SMTPClientSettings: Equatable {
    /// smtp_helo_name.
    public var heloName: String
    /// myhostname, for the loop check.
    public var myHostname: String
    /// smtp_always_send_ehlo / smtp_never_send_ehlo.
    public var alwaysSendEHLO = true
    public var neverSendEHLO = false
    /// smtp_skip_5xx_greeting: a 5xx greeting counts as 4xx (try another server).
    public var skip5xxGreeting = true
    /// smtp_skip_quit_response.
    public var skipQuitResponse = true
    /// Check for a server that greets with our own name (port 25 only, as Postfix).
    public var loopCheck = false
    /// The destination as qmgr named it and whether this server is one of its best MX
    /// hosts (for the loop check's text and status).
    public var nexthop = ""
    public var bestMX = true
    /// smtp_tls_security_level (dane is treated as may, dane-only as secure).
    public var tlsLevel = TLSSecurityLevel.none
    /// Whether this program can do TLS at all.
    public var tlsAvailable = false
    public var auth: SMTPClientAuth?
    /// Bytes of commands sent ahead of their replies before waiting (Postfix: 4096).
    public var pipeliningBufferSize = 4096

    public init(heloName: String, myHostname: String) {
        self.heloName = heloName
        self.myHostname = myHostname
    }
}

/// One recipient of a transaction.
public struct SMTPTransactionRecipient: Equatable {
    public var address: String
    /// The DSN ORCPT as stored (`rfc822;user@example.com`), or "".
    public var orcpt: String
    /// The address first received, used for ORCPT when none was given.
    public var originalAddress: String
    /// NOTIFY (`SUCCESS,FAILURE`), or "".
    public var notify: String

    public init(address: String, orcpt: String = "", originalAddress: String = "", notify: String = "") {
        self.address = address
        self.orcpt = orcpt
        self.originalAddress = originalAddress
        self.notify = notify
    }
}

/// A message to send.
public struct SMTPTransaction: Equatable {
    public var sender: String
    public var recipients: [SMTPTransactionRecipient]
    /// The content's size in bytes (SIZE=).
    public var size: Int
    /// BODY= as received: `8BITMIME`, `7BIT`, or nil.
    public var encoding: String?
    /// The sender asked for SMTPUTF8, and whether the message needs it (a non-ASCII
    /// address or header).
    public var smtputf8Requested = false
    public var smtputf8Required = false
    /// DSN ENVID= and RET=.
    public var envid = ""
    public var ret = ""

    public init(sender: String, recipients: [SMTPTransactionRecipient], size: Int) {
        self.sender = sender
        self.recipients = recipients
        self.size = size
    }
}

/// Why mail could not go (to one recipient, or through one connection): the enhanced
/// code, the reason as logged and bounced, and when the server said it, its reply and
/// name (Diagnostic-Code: smtp; …, Remote-MTA: dns; …).
public struct SMTPFailure: Equatable, Error {
    public var dsn: String
    public var reason: String
    public var reply: SMTPClientReply?
    public var remoteMTA: String?

    public init(dsn: String, reason: String, reply: SMTPClientReply? = nil, remoteMTA: String? = nil) {
        self.dsn = dsn
        self.reason = reason
        self.reply = reply
        self.remoteMTA = remoteMTA
    }

    /// A temporary failure (4.x.x): another server may still take the mail.
    public var isTemporary: Bool { dsn.hasPrefix("4") }
}

/// What became of one recipient in a transaction.
public enum SMTPRecipientOutcome: Equatable {
    /// The server took the message: its reply to the end of DATA.
    case delivered(SMTPClientReply)
    case failed(SMTPFailure)
}
