// The policy request smtpd sends (reference §2.2): every attribute, in the order
// Postfix 3.7 sends them, from what the session knows at the protocol state being
// checked. No I/O: PolicyRestriction.swift sends it.
import Glibc
import Shared

enum PolicyRequest {
    /// The request for the check in CTX, with the server's POLICYCONTEXT.
    static func attributes(_ ctx: CheckContext, policyContext: String) -> AttributeList {
        let state = ctx.protocolState == "BDAT" ? "DATA" : ctx.protocolState
        let afterRecipients = state == "DATA" || state == "END-OF-MESSAGE"
        let tls = ctx.tls
        return AttributeList([
            ("request", "smtpd_access_policy"),
            ("protocol_state", state),
            ("protocol_name", ctx.protocolName),
            ("client_address", ctx.client.address),
            ("client_name", ctx.client.name),
            ("client_port", String(ctx.client.port)),
            ("reverse_client_name", ctx.client.reverseName),
            ("server_address", ctx.serverAddress),
            ("server_port", String(ctx.serverPort)),
            ("helo_name", ctx.helo ?? ""),
            ("sender", ctx.sender ?? ""),
            ("recipient", ctx.recipient ?? ""),
            ("recipient_count", String(afterRecipients ? ctx.recipientCount : 0)),
            ("queue_id", ctx.queueID ?? ""),
            ("instance", ctx.instance),
            ("size", String(ctx.size)),
            ("etrn_domain", ctx.etrnDomain ?? ""),
            ("stress", ""),
            ("sasl_method", ctx.saslMethod ?? ""),
            ("sasl_username", ctx.saslUsername ?? ""),
            ("sasl_sender", ctx.saslSender ?? ""),
            ("ccert_subject", tls.active ? quoted(tls.ccertSubject) : ""),
            ("ccert_issuer", tls.active ? quoted(tls.ccertIssuer) : ""),
            ("ccert_fingerprint", tls.active ? tls.ccertFingerprint : ""),
            ("ccert_pubkey_fingerprint", tls.active ? tls.ccertPubkeyFingerprint : ""),
            ("encryption_protocol", tls.active ? tls.protocolName : ""),
            ("encryption_cipher", tls.active ? tls.cipher : ""),
            ("encryption_keysize", String(tls.active ? tls.keySize : 0)),
            ("policy_context", policyContext),
        ])
    }

    /// The `instance` of a MAIL transaction: hex pid, seconds, microseconds and the
    /// session's transaction number, as `586d.6b06c958.25559.0`.
    static func instance(pid: Int32, seconds: Int, micros: Int, sequence: Int) -> String {
        [Int(pid), seconds, micros, sequence].map { String($0, radix: 16) }.joined(separator: ".")
    }

    /// Certificate names as Postfix sends them: xtext-quoted bytes outside `!`..`~` and `+`.
    static func quoted(_ text: String) -> String {
        var out = ""
        for b in text.utf8 {
            if b < 33 || b > 126 || b == UInt8(ascii: "+") {
                out += "+" + String(b, radix: 16, uppercase: true).leftPadded(2)
            } else {
                out.unicodeScalars.append(Unicode.Scalar(b))
            }
        }
        return out
    }
}

extension String {
    /// Left-pads with zeros to WIDTH.
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
