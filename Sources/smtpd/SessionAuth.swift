// AUTH (RFC 4954) through the configured SASL server (Shared/SASL), with Postfix's
// replies and log lines (reference §4.2; smtpd_sasl_proto.c, smtpd_sasl_glue.c): the
// EHLO keywords (`AUTH PLAIN LOGIN`, and `AUTH=PLAIN LOGIN` for broken_sasl_auth_clients),
// SASL offered only once TLS is on with smtpd_tls_auth_only, the command's checks in
// Postfix's order, 334 challenges, `*` to abort, smtpd_sasl_response_limit, the
// `SASL X authentication failed` warnings fail2ban reads, the MAIL FROM AUTH= parameter,
// and the sender login restrictions (reject_*_sender_login_mismatch with
// smtpd_sender_login_maps).
import Shared

/// smtpd's SASL settings, read once per process; nil when smtpd_sasl_auth_enable = no.
final class SMTPDSASL {
    /// SASL only after STARTTLS (smtpd_tls_auth_only, or TLS enforced).
    let tlsAuthOnly: Bool
    /// broken_sasl_auth_clients: also announce `AUTH=mechanisms`.
    let brokenClients: Bool
    /// smtpd_sasl_response_limit: the longest response line accepted.
    let responseLimit: Int
    /// Makes one session's server (nil when the implementation cannot serve one).
    let makeServer: (SASLPeer) -> SASLServer?

    init(tlsAuthOnly: Bool, brokenClients: Bool, responseLimit: Int, makeServer: @escaping (SASLPeer) -> SASLServer?) {
        self.tlsAuthOnly = tlsAuthOnly
        self.brokenClients = brokenClients
        self.responseLimit = responseLimit
        self.makeServer = makeServer
    }

    /// The process's setup from CONFIG (with the service's -o overrides): nil when SASL
    /// is off; a bad setting or a SASL library that will not start is thrown.
    static func load(_ config: MainConfig) throws -> SMTPDSASL? {
        guard config.bool("smtpd_sasl_auth_enable") else { return nil }
        let limit = config.int("smtpd_sasl_response_limit")
        guard limit >= 12288 else {
            let origin = config.origin("smtpd_sasl_response_limit")
            throw ConfigError("\(origin): invalid smtpd_sasl_response_limit parameter value \(limit) < 12288")
        }
        let factory = try SASLServerFactory(SASLServerSettings(config: config))
        let level = config.value("smtpd_tls_security_level")
        let enforced = level == "encrypt" || (level.isEmpty && config.bool("smtpd_enforce_tls"))
        return SMTPDSASL(
            tlsAuthOnly: config.bool("smtpd_tls_auth_only") || enforced, brokenClients: config.bool("broken_sasl_auth_clients"),
            responseLimit: limit, makeServer: factory.makeServer)
    }
}

/// One session's SASL state: its server, made when first needed and again once TLS is on.
final class SessionSASL {
    let setup: SMTPDSASL
    var server: SASLServer?
    /// Whether the server was made under TLS; nil before it is made.
    var madeUnderTLS: Bool?

    init(_ setup: SMTPDSASL) { self.setup = setup }
}

/// A SASL exchange waiting for the client's next response.
final class AuthExchange {
    let mechanism: String
    let server: SASLServer

    init(mechanism: String, server: SASLServer) {
        self.mechanism = mechanism
        self.server = server
    }
}

extension SMTPSession {
    /// Whether AUTH is available now: enabled, and TLS on when smtpd_tls_auth_only says so.
    var saslActive: Bool {
        guard let sasl else { return false }
        return !sasl.setup.tlsAuthOnly || tls.active
    }

    /// The session's SASL server for the current TLS state.
    func saslServer() -> SASLServer? {
        guard let sasl else { return nil }
        if sasl.madeUnderTLS != tls.active {
            let peer = SASLPeer(clientAddress: client.address, clientPort: client.port, serverAddress: serverAddress,
                                serverPort: serverPort, tlsActive: tls.active)
            sasl.server = sasl.setup.makeServer(peer)
            sasl.madeUnderTLS = tls.active
        }
        return sasl.server
    }

    /// AUTH mechanisms in the EHLO reply, when offered.
    func authEHLOKeywords() -> [String] {
        guard saslActive, let mechanisms = saslServer()?.mechanisms, !mechanisms.isEmpty else { return [] }
        let list = mechanisms.joined(separator: " ")
        return ["AUTH " + list] + (sasl?.setup.brokenClients == true ? ["AUTH=" + list] : [])
    }

    /// Forgets the login and the server (after STARTTLS: RFC 3207 §4.2 discards what the
    /// client said before).
    func authReset() {
        authExchange = nil
        saslUsername = nil
        saslMethod = nil
        saslSender = nil
        sasl?.server = nil
        sasl?.madeUnderTLS = nil
    }

    func authCommand(_ argument: String) -> SessionOutcome {
        func refuse(_ code: Int, _ dsn: String, _ text: String) -> SessionOutcome {
            SessionOutcome(replies: [SMTPReply(code, dsn, text)])
        }
        if let refusal = authRateLimit() { return SessionOutcome(replies: [refusal]) }
        if settings.heloRequired && helo == nil { return refuse(503, "5.5.1", "Error: send HELO/EHLO first") }
        if !saslActive || settings.discardEHLOKeywords.contains("AUTH") {
            return refuse(503, "5.5.1", "Error: authentication not enabled")
        }
        if inTransaction { return refuse(503, "5.5.1", "Error: MAIL transaction in progress") }
        if sasl?.setup.tlsAuthOnly == true && !tls.active {
            return refuse(504, "5.5.4", "Encryption required for requested authentication mechanism")
        }
        if saslUsername != nil { return refuse(503, "5.5.1", "Error: already authenticated") }
        let words = splitFields(argument)
        guard (1...2).contains(words.count) else { return refuse(501, "5.5.4", "Syntax: AUTH mechanism") }
        let mechanism = words[0]
        guard let server = saslServer(), !server.mechanisms.isEmpty else {
            authFailureWarning(mechanism, "no SASL authentication mechanisms", username: nil)
            return refuse(454, "4.7.0", "Temporary authentication failure: no SASL authentication mechanisms")
        }
        // RFC 4954 §4: `=` is an initial response of zero length.
        let initial = words.count == 2 ? (words[1] == "=" ? "" : words[1]) : nil
        let step = server.start(mechanism: mechanism, initialResponse: initial)
        return authOutcome(step, AuthExchange(mechanism: mechanism, server: server))
    }

    /// The longest response line to read while an exchange waits; nil otherwise.
    func authResponseLimit() -> Int? {
        guard authExchange != nil, let sasl else { return nil }
        return max(sasl.setup.responseLimit, settings.lineLengthLimit)
    }

    /// The client's response line during an AUTH exchange; TRUNCATED when it was longer
    /// than smtpd_sasl_response_limit.
    func authResponse(_ raw: [UInt8], truncated: Bool = false) -> SessionOutcome {
        guard let exchange = authExchange else { return SessionOutcome() }
        authExchange = nil
        if truncated {
            log.count("auth", ok: false, adjustLast: true)
            return tarpit(SessionOutcome(replies: [SMTPReply(500, "5.5.6", "SASL response limit exceeded")]))
        }
        let line = String(decoding: raw, as: UTF8.self)
        if line == "*" {
            Log.warning("\(client.nameAddress): SASL \(exchange.mechanism.saslPrintable.prefix(100)) authentication aborted")
            log.count("auth", ok: false, adjustLast: true)
            return tarpit(SessionOutcome(replies: [SMTPReply(501, "5.7.0", "Authentication aborted")]))
        }
        let outcome = authOutcome(exchange.server.step(line), exchange)
        if outcome.replies.contains(where: { $0.code >= 400 }) {
            log.count("auth", ok: false, adjustLast: true)
            return tarpit(outcome)
        }
        return outcome
    }

    /// The session ended inside an exchange: the AUTH did not succeed.
    func authAbandoned() {
        guard authExchange != nil else { return }
        authExchange = nil
        log.count("auth", ok: false, adjustLast: true)
    }

    /// Turns a step into the reply; a challenge keeps the exchange open.
    func authOutcome(_ step: SASLStep, _ exchange: AuthExchange) -> SessionOutcome {
        let mechanism = exchange.mechanism
        switch step {
        case .challenge(let challenge):
            authExchange = exchange
            return SessionOutcome(replies: [SMTPReply(334, nil, challenge)])
        case .success:
            guard let user = exchange.server.username else {
                authFailureWarning(mechanism, "no user name from the authentication server", username: nil)
                return SessionOutcome(replies: [SMTPReply(454, "4.7.0", "Temporary authentication failure: (reason unavailable)")])
            }
            saslUsername = user
            saslMethod = mechanism.saslPrintable
            return SessionOutcome(replies: [SMTPReply(235, "2.7.0", "Authentication successful")])
        case .failure(let reason), .temporaryFailure(let reason):
            let why = reason.isEmpty ? "(reason unavailable)" : reason
            authFailureWarning(mechanism, why, username: exchange.server.username)
            if case .temporaryFailure = step {
                return SessionOutcome(replies: [SMTPReply(454, "4.7.0", "Temporary authentication failure: \(why)")])
            }
            return SessionOutcome(replies: [SMTPReply(535, "5.7.8", "Error: authentication failed: \(why)")])
        }
    }

    /// `warning: name[addr]: SASL PLAIN authentication failed: REASON, sasl_username=U`,
    /// the line fail2ban's postfix-sasl filter matches.
    func authFailureWarning(_ mechanism: String, _ reason: String, username: String?) {
        Log.warning(
            "\(client.nameAddress): SASL \(mechanism.saslPrintable.prefix(100)) authentication failed: \(reason), "
                + "sasl_username=\(username.map { String($0.prefix(100)) } ?? "(unavailable)")")
    }

    /// MAIL FROM's AUTH= parameter (RFC 4954 §5): recorded (xtext-decoded) only for an
    /// authenticated client, as if it were `<>` otherwise; nil when accepted.
    func authMailParameter(_ value: String, _ info: inout EnvelopeInfo) -> SMTPReply? {
        if info.saslSender != nil { return SMTPReply(503, "5.5.4", "Error: multiple AUTH= options") }
        guard saslUsername != nil else { return nil }
        let address = Xtext.decode(value) ?? value
        if address != "<>" { info.saslSender = address.saslPrintable }
        return nil
    }
}

extension Restrictions {
    /// The SASL rules (reject_sender_login_mismatch and friends); nil for other names.
    func saslRestriction(_ name: String, object: CheckObject, _ ctx: CheckContext) -> Verdict? {
        let parts: [String]
        switch name {
        case "reject_sender_login_mismatch":
            parts = ["reject_authenticated_sender_login_mismatch", "reject_unauthenticated_sender_login_mismatch"]
        case "reject_authenticated_sender_login_mismatch", "reject_unauthenticated_sender_login_mismatch",
            "reject_known_sender_login_mismatch":
            parts = [name]
        default:
            return nil
        }
        guard config.bool("smtpd_sasl_auth_enable") else {
            for part in parts { Log.warning("restriction `\(part)' ignored: no SASL support") }
            return .dunno
        }
        guard let sender = ctx.sender, !sender.isEmpty else { return .dunno }
        let owners: [String]?
        do {
            guard let maps = try SenderLoginMaps(config.value("smtpd_sender_login_maps"), resolver: resolver,
                                                 search: AccessSearch(config: config))
            else { return .dunno }
            owners = try maps.owners(sender)
        } catch let error as TableError {
            if case .configuration = error {
                Log.warning("smtpd_sender_login_maps: \(error)")
                return .reject(SMTPReply(451, "4.3.5", "Server configuration error"))
            }
            Log.warning("smtpd_sender_login_maps lookup error for \"\(sender)\": \(error)")
            return .reject(SMTPReply(451, "4.3.0", "<\(sender)>: Temporary lookup failure"))
        } catch {
            return .reject(SMTPReply(451, "4.3.0", "<\(sender)>: Temporary lookup failure"))
        }
        if let login = ctx.saslUsername {
            guard name != "reject_unauthenticated_sender_login_mismatch" else { return .dunno }
            if owners == nil && name == "reject_known_sender_login_mismatch" { return .dunno }
            if let owners, SenderLoginMaps.owns(owners, login: login) { return .dunno }
            return refusal(553, "5.7.1", .sender, ctx, "not owned by user \(login)")
        }
        guard name != "reject_authenticated_sender_login_mismatch", owners != nil else { return .dunno }
        return refusal(553, "5.7.1", .sender, ctx, "not logged in")
    }
}
