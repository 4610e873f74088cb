// HELO/EHLO, MAIL, RCPT, RSET, VRFY and ETRN with Postfix's replies (reference §4.2–4.3).
import Glibc
import Shared

extension SMTPSession {
    func heloCommand(_ argument: String, extended: Bool) -> SessionOutcome {
        let name = extended ? "EHLO" : "HELO"
        guard !argument.isEmpty else { return SessionOutcome(replies: [SMTPReply(501, nil, "Syntax: \(name) hostname")]) }
        let host = splitFields(argument)[0]
        if !settings.delayReject {
            var ctx = context
            ctx.helo = host
            if let refusal = restrictions.checkHelo(ctx) {
                log.reject(name, client, refusal, ctx, queueID: transaction?.queueID, recipient: nil)
                return SessionOutcome(replies: [refusal])
            }
        }
        resetTransaction()
        helo = host
        protocolName = extended ? "ESMTP" : "SMTP"
        guard extended else { return SessionOutcome(replies: [SMTPReply(250, nil, settings.myhostname)]) }
        return SessionOutcome(replies: [SMTPReply(250, nil, lines: [settings.myhostname] + ehloKeywords())])
    }

    /// The EHLO keywords in Postfix's order, less smtpd_discard_ehlo_keywords.
    func ehloKeywords() -> [String] {
        var keywords = ["PIPELINING", settings.messageSizeLimit > 0 ? "SIZE \(settings.messageSizeLimit)" : "SIZE"]
        if !settings.disableVrfy { keywords.append("VRFY") }
        keywords.append("ETRN")
        keywords += tlsEHLOKeywords() + authEHLOKeywords()
        keywords += ["ENHANCEDSTATUSCODES", "8BITMIME", "DSN"]
        if settings.smtputf8 { keywords.append("SMTPUTF8") }
        keywords.append("CHUNKING")
        return keywords.filter { !settings.discardEHLOKeywords.contains(String($0.split(separator: " ")[0])) }
    }

    /// `FROM:<addr>` / `TO:<addr>` → the rest after the keyword, or nil.
    func pathArgument(_ argument: String, keyword: String) -> String? {
        guard argument.hasPrefixIgnoringCase(keyword) else { return nil }
        let rest = String(argument.dropFirst(keyword.count)).trimmed
        return rest.isEmpty ? nil : rest
    }

    func mailCommand(_ argument: String) -> SessionOutcome {
        if settings.heloRequired && helo == nil {
            return SessionOutcome(replies: [SMTPReply(503, "5.5.1", "Error: send HELO/EHLO first")])
        }
        if bdatActive { return SessionOutcome(replies: [SMTPReply(503, "5.5.1", "Error: MAIL after BDAT")]) }
        if inTransaction { return SessionOutcome(replies: [SMTPReply(503, "5.5.1", "Error: nested MAIL command")]) }
        guard let pathText = pathArgument(argument, keyword: "FROM:") else {
            return SessionOutcome(replies: [SMTPReply(501, "5.5.4", "Syntax: MAIL FROM:<address>")])
        }
        guard let path = SMTPPath.parse(pathText, strict: settings.strictRFC821) else {
            return SessionOutcome(replies: [SMTPReply(501, "5.1.7", "Bad sender address syntax")])
        }
        var info = EnvelopeInfo(sender: path.address, client: client, helo: helo, protocolName: protocolName)
        var sizeGiven = 0
        for parameter in path.parameters {
            let upper = parameter.uppercased()
            if upper == "BODY=8BITMIME" || upper == "BODY=7BIT" {
                info.bodyType = String(upper.dropFirst(5))
            } else if upper.hasPrefix("SIZE=") {
                let digits = upper.dropFirst(5)
                guard !digits.isEmpty, digits.allSatisfy(\.isNumber) else {
                    return SessionOutcome(replies: [SMTPReply(501, "5.5.4", "Bad message size syntax")])
                }
                guard let n = Int(digits) else {
                    return SessionOutcome(replies: [SMTPReply(552, "5.3.4", "Message size exceeds file system imposed limit")])
                }
                sizeGiven = n
            } else if upper == "SMTPUTF8" && settings.smtputf8 {
                info.smtputf8 = true
            } else if upper.hasPrefix("RET=") {
                guard info.dsnRet == nil, upper == "RET=FULL" || upper == "RET=HDRS" else {
                    return SessionOutcome(replies: [SMTPReply(501, "5.5.4", "Bad RET parameter syntax")])
                }
                info.dsnRet = String(upper.dropFirst(4))
            } else if upper.hasPrefix("ENVID=") {
                guard info.dsnEnvid == nil, let envid = Xtext.decode(String(parameter.dropFirst(6))),
                    envid.utf8.allSatisfy({ $0 >= 32 && $0 < 127 })
                else {
                    return SessionOutcome(replies: [SMTPReply(501, "5.5.4", "Bad ENVID parameter syntax")])
                }
                info.dsnEnvid = envid
            } else if upper.hasPrefix("AUTH=") {
                if let refusal = authMailParameter(String(parameter.dropFirst(5)), &info) { return SessionOutcome(replies: [refusal]) }
            } else {
                return SessionOutcome(replies: [SMTPReply(555, "5.5.4", "Unsupported option: \(parameter)")])
            }
        }
        if !info.smtputf8 && path.address.utf8.contains(where: { $0 >= 128 }) {
            return SessionOutcome(replies: [SMTPReply(553, "5.6.7", "Must declare SMTPUTF8 to send unicode address")])
        }
        if settings.messageSizeLimit > 0 && sizeGiven > settings.messageSizeLimit {
            return SessionOutcome(replies: [SMTPReply(552, "5.3.4", "Message size exceeds fixed limit")])
        }
        if let refusal = messageRateLimit() { return SessionOutcome(replies: [refusal]) }
        if !settings.delayReject {
            var ctx = context
            ctx.sender = path.address
            if let refusal = restrictions.checkSender(ctx) {
                log.reject("MAIL", client, refusal, ctx, queueID: nil, recipient: nil)
                return SessionOutcome(replies: [refusal])
            }
        }
        let now = Clock.now()
        info.arrivalSeconds = now.seconds
        info.arrivalMicros = now.micros
        instance = PolicyRequest.instance(pid: getpid(), seconds: now.seconds, micros: now.micros, sequence: transactionCount)
        transactionCount += 1
        info.saslMethod = saslMethod
        info.saslUsername = saslUsername
        info.receivedProtocol = receivedProtocolName
        info.receivedComments = receivedTLSComments
        sender = path.address
        saslSender = info.saslSender
        envelope = info
        declaredSize = sizeGiven
        return SessionOutcome(replies: [SMTPReply(250, "2.1.0", "Ok")])
    }

    func rcptCommand(_ argument: String) -> SessionOutcome {
        guard inTransaction, var info = envelope else {
            return SessionOutcome(replies: [SMTPReply(503, "5.5.1", "Error: need MAIL command")])
        }
        if bdatActive { return SessionOutcome(replies: [SMTPReply(503, "5.5.1", "Error: RCPT after BDAT")]) }
        guard let pathText = pathArgument(argument, keyword: "TO:") else {
            return SessionOutcome(replies: [SMTPReply(501, "5.5.4", "Syntax: RCPT TO:<address>")])
        }
        guard let path = SMTPPath.parse(pathText, strict: settings.strictRFC821), !path.address.isEmpty else {
            return SessionOutcome(replies: [SMTPReply(501, "5.1.3", "Bad recipient address syntax")])
        }
        var notify: String?
        var orcpt: String?
        for parameter in path.parameters {
            let upper = parameter.uppercased()
            if upper.hasPrefix("NOTIFY=") {
                let words = upper.dropFirst(7).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                let valid = words == ["NEVER"] || (!words.isEmpty && words.allSatisfy { ["SUCCESS", "FAILURE", "DELAY"].contains($0) })
                guard notify == nil, valid else {
                    return SessionOutcome(replies: [SMTPReply(501, "5.5.4", "Error: Bad NOTIFY parameter syntax")])
                }
                notify = words.joined(separator: ",")
            } else if upper.hasPrefix("ORCPT=") {
                let value = String(parameter.dropFirst(6))
                guard orcpt == nil, let semi = value.firstIndex(of: ";"), semi > value.startIndex,
                    let address = Xtext.decode(String(value[value.index(after: semi)...]))
                else {
                    return SessionOutcome(replies: [SMTPReply(501, "5.5.4", "Error: Bad ORCPT parameter syntax")])
                }
                orcpt = String(value[..<semi]) + ";" + address
            } else {
                return SessionOutcome(replies: [SMTPReply(555, "5.5.4", "Unsupported option: \(parameter)")])
            }
        }
        if settings.recipientLimit > 0 && recipients.count >= settings.recipientLimit {
            recipientOvershoot += 1
            return SessionOutcome(replies: [SMTPReply(452, "4.5.3", "Error: too many recipients")])
        }
        if let refusal = recipientRateLimit() { return SessionOutcome(replies: [refusal]) }
        var ctx = context
        ctx.recipient = path.address
        if let refusal = restrictions.checkRecipient(ctx) {
            rejectedRecipients += 1
            log.reject("RCPT", client, refusal, ctx, queueID: transaction?.queueID, recipient: path.address)
            return SessionOutcome(replies: [refusal])
        }
        do {
            if transaction == nil {
                let t = try store.begin(info)
                transaction = t
                log.clientLine(t.queueID, client, saslMethod: saslMethod, saslUsername: saslUsername, saslSender: saslSender)
                info.arrivalSeconds = envelope?.arrivalSeconds ?? info.arrivalSeconds
            }
            let written = path.written.hasPrefix("<") ? String(path.written.dropFirst().dropLast()) : path.written
            try transaction?.addRecipient(path.address, originalRecipient: orcpt ?? "rfc822;" + written, notify: notify)
        } catch {
            Log.warning("queue file write error: \(error)")
            resetTransaction()
            return SessionOutcome(replies: [SMTPReply(451, "4.3.0", "Error: queue file write error")])
        }
        recipients.append(path.address)
        return SessionOutcome(replies: [SMTPReply(250, "2.1.5", "Ok")])
    }

    func rsetCommand(_ argument: String) -> SessionOutcome {
        guard argument.isEmpty else { return SessionOutcome(replies: [SMTPReply(501, "5.5.4", "Syntax: RSET")]) }
        resetTransaction()
        return SessionOutcome(replies: [SMTPReply(250, "2.0.0", "Ok")])
    }

    func vrfyCommand(_ argument: String) -> SessionOutcome {
        if settings.disableVrfy { return SessionOutcome(replies: [SMTPReply(502, "5.5.1", "VRFY command is disabled")]) }
        guard !argument.isEmpty else { return SessionOutcome(replies: [SMTPReply(501, "5.5.4", "Syntax: VRFY address")]) }
        let address = argument.hasPrefix("<") ? argument.trimmingAngleBrackets : argument
        if let refusal = recipientRateLimit() { return SessionOutcome(replies: [refusal]) }
        var ctx = context
        ctx.recipient = address
        if let reply = restrictions.checkRecipient(ctx) {
            log.reject("VRFY", client, reply, ctx, queueID: nil, recipient: address)
            return SessionOutcome(replies: [reply])
        }
        return SessionOutcome(replies: [SMTPReply(252, "2.0.0", address)])
    }

    func etrnCommand(_ argument: String) -> SessionOutcome {
        if settings.heloRequired && helo == nil { return SessionOutcome(replies: [SMTPReply(503, nil, "Error: send HELO/EHLO first")]) }
        if inTransaction { return SessionOutcome(replies: [SMTPReply(503, nil, "Error: MAIL transaction in progress")]) }
        guard !argument.isEmpty else { return SessionOutcome(replies: [SMTPReply(500, nil, "Syntax: ETRN domain")]) }
        let site = argument.hasPrefix("@") || argument.hasPrefix("#") ? String(argument.dropFirst()) : argument
        if let refusal = restrictions.checkETRN(context, domain: site) {
            log.reject("ETRN", client, refusal, context, queueID: nil, recipient: nil)
            return SessionOutcome(replies: [refusal])
        }
        return SessionOutcome(replies: [flushSite(site) ? SMTPReply(250, nil, "Queuing started") : SMTPReply(458, nil, "Unable to queue messages")])
    }
}

extension String {
    /// `<a@b>` → `a@b`.
    var trimmingAngleBrackets: String {
        hasPrefix("<") && hasSuffix(">") ? String(dropFirst().dropLast()) : self
    }
}
