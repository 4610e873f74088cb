// Client rate and concurrency limits counted by anvil(8) (reference §3.2): connection
// count and rate at connect (421 and disconnect), message rate at MAIL, recipient rate at
// RCPT and VRFY, AUTH rate, new TLS sessions (454 at STARTTLS, 421 after a handshake that
// was not a resumption), with Postfix's replies and warnings. smtpd talks to anvil only
// when a limit is set, never for clients in smtpd_client_event_limit_exceptions, and keeps
// serving without limits (the client logged a warning) when anvil cannot be reached.
import Shared

/// The limits of this smtpd process and its connection to anvil. One session at a time
/// uses it; the connection to anvil stays open across sessions.
final class ClientLimits {
    let anvil: AnvilClient
    let exceptions: NetworkList
    let connectionCountLimit: Int
    let connectionRateLimit: Int
    let messageRateLimit: Int
    let recipientRateLimit: Int
    let newTLSRateLimit: Int
    let authRateLimit: Int
    /// The ident this session registered with anvil (given back at its end).
    var connectedIdent: String?
    /// anvil failed during this session: no more requests until the next session.
    var unavailable = false

    /// The limits from CONFIG, or nil when every limit is 0 (then smtpd never asks anvil).
    init?(config: MainConfig) {
        connectionCountLimit = config.int("smtpd_client_connection_count_limit")
        connectionRateLimit = config.int("smtpd_client_connection_rate_limit")
        messageRateLimit = config.int("smtpd_client_message_rate_limit")
        recipientRateLimit = config.int("smtpd_client_recipient_rate_limit")
        newTLSRateLimit = config.int("smtpd_client_new_tls_session_rate_limit")
        authRateLimit = config.int("smtpd_client_auth_rate_limit")
        let all = [connectionCountLimit, connectionRateLimit, messageRateLimit, recipientRateLimit, newTLSRateLimit, authRateLimit]
        guard all.contains(where: { $0 > 0 }) else { return nil }
        exceptions = NetworkList(config.list("smtpd_client_event_limit_exceptions"))
        for bad in exceptions.invalid { Log.warning("smtpd_client_event_limit_exceptions: ignoring bad entry: \(bad)") }
        // anvil answers at once or not at all: a short limit keeps a hung anvil from
        // holding up the session for ipc_timeout.
        anvil = AnvilClient(path: "private/anvil", timeout: min(5, max(1, config.seconds("ipc_timeout"))))
    }

    /// The rate of one EVENT for IDENT, or nil when anvil failed (then limits are off
    /// for the rest of the session).
    func rate(_ event: String, _ ident: String) -> Int? {
        guard !unavailable else { return nil }
        guard let rate = anvil.rate(event, ident) else {
            unavailable = true
            return nil
        }
        return rate
    }
}

extension SMTPSession {
    /// The anvil ident of this client: `SERVICE:ADDRESS`.
    var anvilIdent: String { AnvilProtocol.ident(service: serviceName, address: client.address) }

    /// The limits that apply to this client: nil when none is set or the client is exempt.
    var activeLimits: ClientLimits? {
        guard let limits, !limits.exceptions.matches(address: client.address, name: client.name) else { return nil }
        return limits
    }

    /// At connect: connection count and rate; a refusal ends the session with 421.
    func connectionLimit() -> SMTPReply? {
        limits?.unavailable = false
        limits?.connectedIdent = nil
        guard let limits = activeLimits else { return nil }
        guard let (count, rate) = limits.anvil.connect(anvilIdent) else {
            limits.unavailable = true
            return nil
        }
        limits.connectedIdent = anvilIdent
        if limits.connectionCountLimit > 0 && count > limits.connectionCountLimit {
            Log.warning("Connection concurrency limit exceeded: \(count) from \(client.nameAddress) for service \(serviceName)")
            return SMTPReply(421, "4.7.0", "\(settings.myhostname) Error: too many connections from \(client.address)")
        }
        if limits.connectionRateLimit > 0 && rate > limits.connectionRateLimit {
            Log.warning("Connection rate limit exceeded: \(rate) from \(client.nameAddress) for service \(serviceName)")
            return SMTPReply(421, "4.7.0", "\(settings.myhostname) Error: too many connections from \(client.address)")
        }
        return nil
    }

    /// At the end of the session: gives the connection back to anvil.
    func releaseConnectionLimit() {
        guard let limits, let ident = limits.connectedIdent else { return }
        limits.connectedIdent = nil
        if !limits.unavailable { limits.anvil.disconnect(ident) }
    }

    /// At MAIL FROM: smtpd_client_message_rate_limit.
    func messageRateLimit() -> SMTPReply? {
        rateRefusal(AnvilProtocol.message, limit: activeLimits?.messageRateLimit ?? 0,
                    warning: "Message delivery request rate limit exceeded", reply: "Error: too much mail from")
    }

    /// At RCPT TO and VRFY: smtpd_client_recipient_rate_limit.
    func recipientRateLimit() -> SMTPReply? {
        rateRefusal(AnvilProtocol.recipient, limit: activeLimits?.recipientRateLimit ?? 0,
                    warning: "Recipient address rate limit exceeded", reply: "Error: too many recipients from")
    }

    /// At AUTH: smtpd_client_auth_rate_limit.
    func authRateLimit() -> SMTPReply? {
        rateRefusal(AnvilProtocol.auth, limit: activeLimits?.authRateLimit ?? 0,
                    warning: "AUTH command rate limit exceeded", reply: "Error: too many AUTH commands from")
    }

    /// Counts REQUEST with anvil; past LIMIT (0 = none) logs WARNING and refuses with
    /// `450 4.7.1 REPLY ADDRESS`.
    func rateRefusal(_ request: String, limit: Int, warning: String, reply: String) -> SMTPReply? {
        guard limit > 0, let limits = activeLimits, let rate = limits.rate(request, anvilIdent), rate > limit else { return nil }
        Log.warning("\(warning): \(rate) from \(client.nameAddress) for service \(serviceName)")
        return SMTPReply(450, "4.7.1", "\(reply) \(client.address)")
    }

    /// At STARTTLS, before the handshake: refuses with 454 when the client already used up
    /// smtpd_client_new_tls_session_rate_limit (read without counting).
    func newTLSSessionLimit() -> SMTPReply? {
        guard let limits = activeLimits, limits.newTLSRateLimit > 0,
            let rate = limits.rate(AnvilProtocol.newTLSStatus, anvilIdent), rate > limits.newTLSRateLimit
        else { return nil }
        Log.warning("Refusing STARTTLS request from \(client.nameAddress) for service \(serviceName)")
        return SMTPReply(454, "4.7.0", "Error: too many new TLS sessions from \(client.nameAddress)")
    }

    /// After a TLS handshake (STARTTLS or wrapper mode): counts a new session unless it
    /// was RESUMED; past the limit the session ends with 421.
    func newTLSSessionCounted(resumed: Bool) -> SMTPReply? {
        guard !resumed, let limits = activeLimits, limits.newTLSRateLimit > 0,
            let rate = limits.rate(AnvilProtocol.newTLS, anvilIdent), rate > limits.newTLSRateLimit
        else { return nil }
        Log.warning("New TLS session rate limit exceeded: \(rate) from \(client.nameAddress) for service \(serviceName)")
        return SMTPReply(421, "4.7.0", "\(settings.myhostname) Error: too many new TLS sessions from \(client.nameAddress)")
    }
}
