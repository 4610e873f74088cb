// smtpd's log lines in Postfix's exact format (reference §8): connect, `QID: client=`,
// `reject:` lines with from/to/proto/helo, `message-id=`, and the disconnect line with
// per-command counters `ehlo=1 mail=1 rcpt=2/3 data=1 quit=1 commands=6/7`.
import Shared

final class SessionLog {
    /// Command names in the order Postfix lists them.
    static let order = [
        "helo", "ehlo", "starttls", "xclient", "xforward", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop",
        "vrfy", "etrn", "quit", "unknown",
    ]
    var ok: [String: Int] = [:]
    var total: [String: Int] = [:]

    func connect(_ client: ClientIdentity) {
        Log.info("connect from \(client.nameAddress)")
    }

    /// Counts one command; ADJUSTLAST re-scores the last count of NAME (DATA's final reply).
    func count(_ name: String, ok success: Bool, adjustLast: Bool = false) {
        let key = SessionLog.order.contains(name) ? name : "unknown"
        if adjustLast {
            if !success { ok[key, default: 0] -= 1 }
            return
        }
        total[key, default: 0] += 1
        if success { ok[key, default: 0] += 1 }
    }

    func clientLine(_ queueID: String, _ client: ClientIdentity, saslMethod: String?, saslUsername: String?, saslSender: String? = nil) {
        var line = "\(queueID): client=\(client.nameAddress)"
        if let m = saslMethod, let u = saslUsername { line += ", sasl_method=\(m), sasl_username=\(u)" }
        if let s = saslSender { line += ", sasl_sender=\(s)" }
        Log.info(line)
    }

    func messageID(_ queueID: String, _ messageID: String) {
        Log.info("\(queueID): message-id=\(messageID.isEmpty ? "<>" : messageID)")
    }

    /// `QID|NOQUEUE: reject: CMD from name[addr]: REPLY; from=<s> to=<r> proto=P helo=<h>`.
    func reject(_ command: String, _ client: ClientIdentity, _ reply: SMTPReply, _ ctx: CheckContext, queueID: String?, recipient: String?) {
        Log.info(SessionLog.whatsup("reject", command, client, "\(reply.code) \(reply.text)", ctx, queueID: queueID, recipient: recipient))
    }

    /// `QID|NOQUEUE: ACTION: CMD from name[addr]: TEXT; from=<s> to=<r> proto=P helo=<h>`
    /// (Postfix's log_whatsup), for reject, reject_warning, warn, info, hold, discard….
    static func whatsup(_ action: String, _ command: String, _ client: ClientIdentity, _ text: String, _ ctx: CheckContext,
                        queueID: String?, recipient: String?) -> String {
        var line = "\(queueID ?? "NOQUEUE"): \(action): \(command) from \(client.nameAddress): \(text)"
        var extras: [String] = []
        if let s = ctx.sender { extras.append("from=<\(s)>") }
        if let r = recipient ?? ctx.recipient { extras.append("to=<\(r)>") }
        extras.append("proto=\(ctx.protocolName)")
        if let h = ctx.helo { extras.append("helo=<\(h)>") }
        line += "; " + extras.joined(separator: " ")
        return line
    }

    func disconnect(_ client: ClientIdentity) {
        var line = "disconnect from \(client.nameAddress)"
        var okSum = 0
        var totalSum = 0
        for name in SessionLog.order {
            guard let t = total[name], t > 0 else { continue }
            let o = max(0, ok[name] ?? 0)
            okSum += o
            totalSum += t
            line += " \(name)=\(o)" + (o == t ? "" : "/\(t)")
        }
        line += " commands=\(okSum)" + (okSum == totalSum && totalSum > 0 ? "" : "/\(totalSum)")
        Log.info(line)
    }
}
