// One mail transaction of the SMTP client (RFC 5321 §3.3), as Postfix's smtp(8) runs it:
// MAIL FROM with SIZE, BODY, ENVID, RET and SMTPUTF8 as the server supports them, one
// RCPT TO per recipient with ORCPT and NOTIFY (RFC 3461), DATA. With PIPELINING (RFC
// 2920) commands go out in groups of at most pipeliningBufferSize bytes before their
// replies are read; without it each command waits for its reply. A refused MAIL FROM
// fails every recipient, a refused RCPT TO one recipient, a refused DATA or end of
// data every accepted one; a transaction that cannot go on ends with RSET.
import Glibc

/// The progress of the transaction in flight.
struct TransactionState {
    enum Phase {
        case envelope, content, dot, reset, finished
    }

    struct Command {
        var line: String
        var stage: SMTPClientStage
        /// The recipient a RCPT TO is for.
        var recipient: Int?
    }

    let message: SMTPTransaction
    let commands: [Command]
    var phase = Phase.envelope
    var sent = 0
    var answered = 0
    /// Bytes sent since the last time every reply was read.
    var unacknowledged = 0
    var mailRejected = false
    var accepted: [Int] = []
    var dataAccepted = false

    init(message: SMTPTransaction, commands: [Command]) {
        self.message = message
        self.commands = commands
    }
}

extension SMTPClientSession {
    /// The commands of MESSAGE with the parameters this server understands.
    func commands(for message: SMTPTransaction) -> [TransactionState.Command] {
        var mail = "MAIL FROM:<\(SMTPClientSession.quoted(message.sender))>"
        if features.sizeLimit != nil { mail += " SIZE=\(message.size)" }
        if features.eightBitMIME {
            switch message.encoding?.uppercased() {
            case "8BITMIME": mail += " BODY=8BITMIME"
            case "7BIT": mail += " BODY=7BIT"
            default: break
            }
        }
        if features.dsn {
            if !message.envid.isEmpty { mail += " ENVID=" + Xtext.encode(message.envid) }
            if !message.ret.isEmpty { mail += " RET=" + message.ret.uppercased() }
        }
        if features.smtputf8 && message.smtputf8Requested { mail += " SMTPUTF8" }
        var list = [TransactionState.Command(line: mail, stage: .mail)]
        for (i, r) in message.recipients.enumerated() {
            var rcpt = "RCPT TO:<\(SMTPClientSession.quoted(r.address))>"
            if features.dsn {
                if !r.orcpt.isEmpty {
                    rcpt += " ORCPT=" + Xtext.encode(r.orcpt)
                } else if !r.originalAddress.isEmpty {
                    rcpt += " ORCPT=" + Xtext.encode("rfc822;" + RFC822Quoting.quoteLocalPart(r.originalAddress))
                }
                if !r.notify.isEmpty { rcpt += " NOTIFY=" + r.notify }
            }
            list.append(.init(line: rcpt, stage: .rcpt, recipient: i))
        }
        list.append(.init(line: "DATA", stage: .data))
        return list
    }

    /// ADDRESS for MAIL FROM / RCPT TO: the local part quoted when it needs it.
    static func quoted(_ address: String) -> String {
        address.isEmpty ? "" : RFC822Quoting.quoteLocalPart(address)
    }

    /// The next step of the transaction, or nil when it is over.
    func transactionStep() -> SMTPClientStep? {
        guard var t = transaction else { return nil }
        defer { transaction = t }
        switch t.phase {
        case .envelope:
            if t.answered == t.sent { t.unacknowledged = 0 }
            if let step = sendNextCommand(&t) { return step }
            if t.answered < t.sent { return .receive(t.commands[t.answered].stage) }
            if t.dataAccepted {
                if t.accepted.isEmpty {
                    t.phase = .dot
                    steps = [.receive(.dot)]
                    return .send(".", .dot)
                }
                t.phase = .content
                return .sendContent
            }
            t.phase = .reset
            steps = [.receive(.rset)]
            return .send("RSET", .rset)
        case .content:
            t.phase = .dot
            return .receive(.dot)
        case .dot, .reset, .finished:
            return nil
        }
    }

    /// The next command when it may go now: when every reply is in, or with PIPELINING
    /// while the group stays within the buffer size. DATA is not sent when no
    /// recipient was accepted, nor anything after a refused MAIL FROM.
    func sendNextCommand(_ t: inout TransactionState) -> SMTPClientStep? {
        guard t.sent < t.commands.count, !t.mailRejected else { return nil }
        let command = t.commands[t.sent]
        let caughtUp = t.answered == t.sent
        if caughtUp && command.stage == .data && t.accepted.isEmpty { return nil }
        let fits = features.pipelining && t.unacknowledged + command.line.utf8.count + 2 <= settings.pipeliningBufferSize
        guard caughtUp || fits else { return nil }
        t.sent += 1
        t.unacknowledged += command.line.utf8.count + 2
        return .send(command.line, command.stage)
    }

    /// A reply inside the transaction.
    func transactionReply(_ reply: SMTPClientReply, _ stage: SMTPClientStage) {
        guard var t = transaction else { return }
        switch stage {
        case .mail:
            t.answered += 1
            if reply.kind != 2 {
                failRemaining(remote(reply, said(reply, .mail)))
                t.mailRejected = true
            }
        case .rcpt:
            let index = t.commands[t.answered].recipient ?? 0
            t.answered += 1
            if !t.mailRejected {
                if reply.kind == 2 {
                    t.accepted.append(index)
                } else {
                    outcomes[index] = .failed(remote(reply, said(reply, .rcpt)))
                }
            }
        case .data:
            t.answered += 1
            if reply.kind == 3 {
                t.dataAccepted = true
            } else if !t.accepted.isEmpty && !t.mailRejected {
                failRemaining(remote(reply, said(reply, .data)))
            }
        case .dot:
            if !t.accepted.isEmpty && !t.mailRejected {
                if reply.kind == 2 {
                    for i in t.accepted where outcomes[i] == nil { outcomes[i] = .delivered(reply) }
                } else {
                    failRemaining(remote(reply, said(reply, .dot)))
                }
            }
            t.phase = .finished
        case .rset:
            if reply.kind != 2 { reusable = false }
            t.phase = .finished
        default:
            break
        }
        transaction = t
        if t.phase == .finished {
            finishTransaction()
            transaction = nil
        }
    }

    /// `host H[A] said: REPLY (in reply to COMMAND)`.
    func said(_ reply: SMTPClientReply, _ stage: SMTPClientStage) -> String {
        "host \(server) said: \(reply.text) (in reply to \(stage.request))"
    }

    /// The transaction is over: the connection may carry another one.
    func finishTransaction() {
        failRemaining(SMTPFailure(dsn: "4.3.0", reason: "server unavailable or unable to receive mail"))
        ready = reusable
        if !reusable { closeAfterQuit() }
    }
}
