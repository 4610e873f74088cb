// Message transfer: DATA (RFC 5321 §4.1.1.4, content up to the lone dot, already
// dot-unstuffed by the connection) and BDAT (RFC 3030, chunks of exact size), both
// streamed line by line into the queue transaction; the 250 comes only after commit.
import Shared

/// Where the message content stands.
struct ContentState {
    var active = false
    /// Content bytes received (LF line ends counted as one byte).
    var bytes = 0
    /// Content lines received.
    var lines = 0
    var failure: ContentRefusal?
    /// A refusal to send once the current BDAT chunk has been read and discarded.
    var chunkError: SMTPReply?
    /// BDAT: the end of the last chunk when it did not end with a line end.
    var partialLine: [UInt8] = []
    var chunkTotal = 0

    /// The size policy servers see at END-OF-MESSAGE: each line with a CRLF ending, as
    /// Postfix counts it while receiving.
    var receivedSize: Int { bytes + lines }
}

extension SMTPSession {
    /// Checks shared by DATA and BDAT; nil when the transfer may start.
    func transferRefusal(_ command: String) -> SMTPReply? {
        if !inTransaction || (recipients.isEmpty && rejectedRecipients == 0) {
            return SMTPReply(503, "5.5.1", "Error: need RCPT command")
        }
        if recipients.isEmpty { return SMTPReply(554, "5.5.1", "Error: no valid recipients") }
        var ctx = context
        ctx.recipient = recipients.count == 1 ? recipients[0] : nil
        if let refusal = restrictions.checkData(ctx, endOfData: false) {
            log.reject(command, client, refusal, ctx, queueID: transaction?.queueID, recipient: nil)
            return refusal
        }
        return nil
    }

    func startContent() -> SMTPReply? {
        do {
            try transaction?.beginContent(recipients: recipients, prependedHeaders: checks.prependedHeaders)
        } catch {
            Log.warning("\(transaction?.queueID ?? "NOQUEUE"): queue file write error: \(error)")
            resetTransaction()
            return SMTPReply(451, "4.3.0", "Error: queue file write error")
        }
        content = ContentState()
        content.active = true
        return nil
    }

    func dataCommand(_ argument: String) -> SessionOutcome {
        if bdatActive { return SessionOutcome(replies: [SMTPReply(503, "5.5.1", "Error: DATA after BDAT")]) }
        guard argument.isEmpty else { return SessionOutcome(replies: [SMTPReply(501, "5.5.4", "Syntax: DATA")]) }
        if let refusal = transferRefusal("DATA") { return SessionOutcome(replies: [refusal]) }
        if let failure = startContent() { return SessionOutcome(replies: [failure]) }
        return SessionOutcome(replies: [SMTPReply(354, nil, "End data with <CR><LF>.<CR><LF>")], next: .data)
    }

    /// One content line (no line end, dot-unstuffed).
    func contentLine(_ line: ArraySlice<UInt8>) {
        content.bytes += line.count + 1
        content.lines += 1
        guard content.failure == nil else { return }
        if settings.messageSizeLimit > 0 && content.bytes > settings.messageSizeLimit {
            content.failure = .tooBig
            return
        }
        do {
            try transaction?.contentLine(line)
        } catch let refusal as ContentRefusal {
            content.failure = refusal
        } catch {
            Log.warning("\(transaction?.queueID ?? "NOQUEUE"): queue file write error: \(error)")
            content.failure = .writeError
        }
    }

    /// The lone dot arrived: commit, or refuse with cleanup's reason.
    func endOfData() -> SessionOutcome {
        let reply = finishMessage { id in SMTPReply(250, "2.0.0", "Ok: queued as \(id)") }
        lastCommand = "END-OF-MESSAGE"
        log.count("data", ok: reply.code < 400, adjustLast: true)
        return tarpit(SessionOutcome(replies: [reply]))
    }

    /// Commits the transaction (or refuses it) and resets for the next one.
    func finishMessage(_ success: (String) -> SMTPReply) -> SMTPReply {
        defer { resetTransaction() }
        if let failure = content.failure {
            if failure == .tooBig, let id = transaction?.queueID {
                Log.warning("\(id): message file too big: \(content.bytes) bytes from \(client.nameAddress)")
            }
            return failure.reply
        }
        guard let t = transaction else { return SMTPReply(451, "4.3.0", "Error: queue file write error") }
        var ctx = context
        ctx.recipient = recipients.count == 1 ? recipients[0] : nil
        ctx.protocolState = "END-OF-MESSAGE"
        if let refusal = restrictions.checkData(ctx, endOfData: true) {
            log.reject("END-OF-MESSAGE", client, refusal, ctx, queueID: t.queueID, recipient: nil)
            return refusal
        }
        if checks.discard {
            t.abort()
            transaction = nil
            return success(t.queueID)
        }
        do {
            let messageID = try t.commit()
            transaction = nil
            log.messageID(t.queueID, messageID)
            return success(t.queueID)
        } catch let refusal as ContentRefusal {
            return refusal.reply
        } catch {
            Log.warning("\(t.queueID): queue file write error: \(error)")
            return SMTPReply(451, "4.3.0", "Error: queue file write error")
        }
    }

    func bdatCommand(_ argument: String) -> SessionOutcome {
        let words = splitFields(argument)
        guard (1...2).contains(words.count), let size = Int(words[0]), size >= 0,
            words.count == 1 || words[1].uppercased() == "LAST"
        else {
            return SessionOutcome(replies: [SMTPReply(521, "5.5.4", "Syntax: BDAT count [LAST]")], next: .disconnect)
        }
        let last = words.count == 2
        if !bdatActive {
            content = ContentState()
            if let refusal = transferRefusal("BDAT") {
                content.chunkError = refusal
                return SessionOutcome(next: .chunk(size, last: last))
            }
            if let failure = startContent() {
                content.chunkError = failure
                return SessionOutcome(next: .chunk(size, last: last))
            }
            bdatActive = true
        }
        if size == 0 && !last { content.chunkError = SMTPReply(551, "5.7.1", "Null BDAT request") }
        if settings.messageSizeLimit > 0 && content.chunkTotal + size > settings.messageSizeLimit && content.failure == nil {
            content.failure = .tooBig
            content.chunkError = SMTPReply(552, "5.3.4", "Chunk exceeds message size limit")
        }
        return SessionOutcome(next: .chunk(size, last: last))
    }

    /// Bytes of the current BDAT chunk, split into lines (CRLF or LF ends).
    func chunkBytes(_ bytes: ArraySlice<UInt8>) {
        content.chunkTotal += bytes.count
        guard bdatActive, content.failure == nil else { return }
        var start = bytes.startIndex
        while let nl = bytes[start...].firstIndex(of: 10) {
            var end = nl
            if end > start && bytes[end - 1] == 13 { end -= 1 }
            if content.partialLine.isEmpty {
                contentLine(bytes[start..<end])
            } else {
                content.partialLine += bytes[start..<nl]
                if content.partialLine.last == 13 { content.partialLine.removeLast() }
                contentLine(content.partialLine[...])
                content.partialLine = []
            }
            start = nl + 1
        }
        content.partialLine += bytes[start...]
    }

    /// The chunk is complete: acknowledge it, or commit after LAST.
    func chunkDone(last: Bool) -> SessionOutcome {
        lastCommand = "BDAT"
        if let error = content.chunkError {
            content.chunkError = nil
            if last || !bdatActive { resetTransaction() }
            return tarpit(SessionOutcome(replies: [error]))
        }
        guard last else { return SessionOutcome(replies: [SMTPReply(250, "2.0.0", "Ok: \(content.chunkTotal) bytes")]) }
        if !content.partialLine.isEmpty {
            let tail = content.partialLine
            content.partialLine = []
            contentLine(tail[...])
        }
        let total = content.chunkTotal
        let reply = finishMessage { id in SMTPReply(250, "2.0.0", "Ok: \(total) bytes queued as \(id)") }
        return tarpit(SessionOutcome(replies: [reply]))
    }
}
