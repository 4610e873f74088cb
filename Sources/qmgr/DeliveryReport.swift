// The text of a delivery status notification (RFC 3464): a multipart/report with a
// human-readable part, a message/delivery-status part (Reporting-MTA, Arrival-Date,
// per-recipient Final-Recipient / Original-Recipient / Action / Status / Remote-MTA /
// Diagnostic-Code: `smtp;` with a server's reply, else `X-Postfix;`), and the returned
// message (or only its headers when it is larger than bounce_size_limit or RET=HDRS was
// asked for, and always for success and delay reports).
import Shared

/// What a delivery status notification reports.
enum ReportKind {
    /// Undeliverable: the message is returned.
    case failure
    /// Delivered, for recipients that asked with NOTIFY=SUCCESS.
    case success
    /// Still queued after delay_warning_time (a warning only; delivery goes on).
    case delay

    var subject: String {
        switch self {
        case .failure: return "Undelivered Mail Returned to Sender"
        case .success: return "Successful Mail Delivery Report"
        case .delay: return "Delayed Mail (still being retried)"
        }
    }

    var action: String {
        switch self {
        case .failure: return "failed"
        case .success: return "delivered"
        case .delay: return "delayed"
        }
    }
}

struct DeliveryReport {
    let config: MainConfig
    let message: ActiveMessage
    let results: [DeliveryResult]
    let newQueueID: String
    var kind = ReportKind.failure

    /// Writes the whole notification (headers and body) to WRITER.
    func write(to writer: QueueFileWriter, original: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let host = config.value("myhostname")
        let now = Clock.now()
        let boundary = "\(newQueueID).\(now.seconds)/\(host)"
        let recipient = message.sender.isEmpty ? config.value("2bounce_notice_recipient") : message.sender
        let headersOnly = kind != .failure || message.file.envelope.dsnReturn?.uppercased() == "HDRS"
            || message.file.contentLength > config.int("bounce_size_limit")
        var text = """
            Received: by \(host) (\(config.value("mail_name")))
            \tid \(newQueueID); \(MailDate.rfc2822(now.seconds))
            Date: \(MailDate.rfc2822(now.seconds))
            From: MAILER-DAEMON@\(host) (Mail Delivery System)
            Subject: \(kind.subject)
            To: \(recipient)
            Auto-Submitted: auto-replied
            MIME-Version: 1.0
            Content-Type: multipart/report; report-type=delivery-status;
            \tboundary="\(boundary)"
            Content-Transfer-Encoding: 8bit
            Message-Id: <\(MailDate.compactUTC(now.seconds)).\(newQueueID)@\(host)>

            This is a MIME-encapsulated message.

            --\(boundary)
            Content-Description: Notification
            Content-Type: text/plain; charset=utf-8

            This is the mail system at host \(host).

            \(summary)

            For further assistance, please send mail to postmaster and
            include this report.

                               The mail system


            """
        for r in results {
            text += "<\(address(r))>: \(r.reason)\n"
        }
        text += """

            --\(boundary)
            Content-Description: Delivery report
            Content-Type: message/delivery-status

            Reporting-MTA: dns; \(host)
            X-Postfix-Queue-ID: \(message.queueID)
            X-Postfix-Sender: rfc822; \(message.sender)
            Arrival-Date: \(MailDate.rfc2822(message.file.envelope.arrivalSeconds))

            """
        if let envid = message.file.envelope.dsnEnvelopeID, !envid.isEmpty {
            text += "Original-Envelope-Id: \(envid)\n"
        }
        text += "\n"  // the per-message fields end; per-recipient groups follow
        for r in results {
            let rcpt = message.file.recipients[r.index]
            text += "Final-Recipient: rfc822; \(rcpt.address)\n"
            if let orcpt = rcpt.dsnOriginalRecipient, !orcpt.isEmpty {
                text += "Original-Recipient: \(orcpt.replacingFirstSemicolon)\n"
            }
            text += "Action: \(kind == .success && !r.action.isEmpty ? r.action : kind.action)\nStatus: \(r.dsn)\n"
            if !r.remoteMTA.isEmpty { text += "Remote-MTA: dns; \(r.remoteMTA)\n" }
            text += r.smtpReply.isEmpty ? "Diagnostic-Code: X-Postfix; \(r.reason)\n\n" : "Diagnostic-Code: smtp; \(r.smtpReply)\n\n"
        }
        text += """
            --\(boundary)
            Content-Description: \(headersOnly ? "Undelivered Message Headers" : "Undelivered Message")
            Content-Type: \(headersOnly ? "text/rfc822-headers" : "message/rfc822")
            Content-Transfer-Encoding: 8bit


            """
        try writer.appendContent(Array(text.utf8))
        var inHeaders = true
        var lineStart = true
        try original { chunk in
            guard headersOnly else { return try writer.appendContent(chunk, newline: false) }
            // Copy up to the first empty line only.
            var end = 0
            for (i, b) in chunk.enumerated() where inHeaders {
                if b == 10 && lineStart { inHeaders = false }
                lineStart = b == 10
                end = i + 1
            }
            if end > 0 { try writer.appendContent(UnsafeRawBufferPointer(rebasing: chunk[0..<end]), newline: false) }
        }
        try writer.appendContent(Array("\n--\(boundary)--\n".utf8))
    }

    /// The human-readable part's opening paragraph.
    var summary: String {
        switch kind {
        case .failure:
            return "Your message could not be delivered to one or more recipients.\nIt is attached below, with the reasons."
        case .success:
            return "Your message was delivered to the destinations listed below.\nIts headers are attached below."
        case .delay:
            let hours = max(1, config.seconds("delay_warning_time") / 3600)
            let days = max(1, config.seconds("maximal_queue_lifetime") / 86400)
            return """
                ####################################################################
                # THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
                ####################################################################

                Your message could not be delivered for more than \(hours) hour(s).
                It will be retried until it is \(days) day(s) old.
                """
        }
    }

    func address(_ r: DeliveryResult) -> String {
        r.index < message.file.recipients.count ? message.file.recipients[r.index].address : "unknown"
    }
}

extension String {
    /// `rfc822;a@b` → `rfc822; a@b`.
    var replacingFirstSemicolon: String {
        guard let semi = firstIndex(of: ";") else { return self }
        return String(self[..<semi]) + "; " + String(self[index(after: semi)...]).trimmed
    }
}
