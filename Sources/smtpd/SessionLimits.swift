// Client rate and concurrency limits counted by anvil(8) (reference §3.2).
import Shared

extension SMTPSession {
    /// At connect: connection count and rate; a refusal ends the session with 421.
    func connectionLimit() -> SMTPReply? { nil }

    /// At MAIL FROM: smtpd_client_message_rate_limit.
    func messageRateLimit() -> SMTPReply? { nil }

    /// At RCPT TO and VRFY: smtpd_client_recipient_rate_limit.
    func recipientRateLimit() -> SMTPReply? { nil }

    /// At AUTH: smtpd_client_auth_rate_limit.
    func authRateLimit() -> SMTPReply? { nil }

    /// Before a TLS handshake that is not a resumption: smtpd_client_new_tls_session_rate_limit.
    func newTLSSessionLimit() -> SMTPReply? { nil }
}
