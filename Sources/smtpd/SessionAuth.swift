// AUTH (RFC 4954) through a SASL server.
import Shared

/// A SASL exchange waiting for the client's next response.
final class AuthExchange {}

extension SMTPSession {
    func authCommand(_ argument: String) -> SessionOutcome {
        SessionOutcome(replies: [SMTPReply(502, "5.5.1", "Error: command not implemented")])
    }

    /// The client's response line during an AUTH exchange.
    func authResponse(_ raw: [UInt8]) -> SessionOutcome {
        authExchange = nil
        return SessionOutcome(replies: [SMTPReply(501, "5.7.0", "Authentication aborted")])
    }

    /// AUTH mechanisms in the EHLO reply, when offered.
    func authEHLOKeywords() -> [String] { [] }
}

extension Restrictions {
    /// The SASL rules (reject_sender_login_mismatch and friends); nil for other names.
    func saslRestriction(_ name: String, object: CheckObject, _ ctx: CheckContext) -> Verdict? { nil }
}
