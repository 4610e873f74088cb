// STARTTLS (RFC 3207) and what TLS negotiated, for Received: headers, logs, restrictions
// and policy requests.
import Shared

/// The TLS state of one connection; inactive until a handshake completes.
struct TLSSessionState {
    var active = false
    var protocolName = ""
    var cipher = ""
    var keySize = 0
    var ccertSubject = ""
    var ccertIssuer = ""
    var ccertFingerprint = ""
    var ccertPubkeyFingerprint = ""
}

extension SMTPSession {
    func starttlsCommand(_ argument: String) -> SessionOutcome {
        SessionOutcome(replies: [SMTPReply(502, "5.5.1", "Error: command not implemented")])
    }

    /// STARTTLS in the EHLO reply, when offered.
    func tlsEHLOKeywords() -> [String] { [] }
}

extension Restrictions {
    /// The TLS rules (permit_tls_clientcerts, permit_tls_all_clientcerts); nil for other names.
    func tlsRestriction(_ name: String, object: CheckObject, _ ctx: CheckContext) -> Verdict? { nil }
}
