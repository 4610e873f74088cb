// Improper command pipelining (RFC 2920 §3.1; Postfix's smtpd.c): a client that did not
// say EHLO must wait for each reply, and EHLO, HELO, DATA, VRFY, EXPN, NOOP, QUIT and
// STARTTLS must end a group. The first violation is logged with what was sent ahead;
// reject_unauth_pipelining refuses from then on.
import Shared

extension SMTPSession {
    static let lastInGroup: Set<String> = ["HELO", "EHLO", "DATA", "VRFY", "EXPN", "NOOP", "QUIT", "STARTTLS"]

    /// Called with each command LINE and the input already received after it.
    func notePipelining(_ line: [UInt8], unread: ArraySlice<UInt8>) {
        guard !checks.improperPipelining, !unread.isEmpty, authExchange == nil else { return }
        let verb = String(decoding: line.prefix { $0 != 32 && $0 != 9 }, as: UTF8.self).uppercased()
        guard protocolName != "ESMTP" || SMTPSession.lastInGroup.contains(verb) else { return }
        checks.improperPipelining = true
        var shown = ""
        for byte in unread.prefix(100) {
            switch byte {
            case 13: shown += "\\r"
            case 10: shown += "\\n"
            case 32...126: shown.unicodeScalars.append(UnicodeScalar(byte))
            default: shown += "?"
            }
        }
        Log.info("improper command pipelining after \(verb) from \(client.nameAddress): \(shown)")
    }
}
