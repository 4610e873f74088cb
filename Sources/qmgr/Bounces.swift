// What qmgr writes besides deliveries: the per-message defer log, RFC 3464 delivery
// status notifications back to the sender (never a bounce of a bounce: a failed notice
// goes to the postmaster, and a failed postmaster notice is dropped), and copies of a
// message for addresses local(8) forwarded it to.
import Glibc
import Shared

final class BounceWriter {
    let config: MainConfig
    let queue: QueueDirectory
    let myhostname: String

    init(config: MainConfig, queue: QueueDirectory) {
        self.config = config
        self.queue = queue
        myhostname = config.value("myhostname")
    }

    var doubleBounceSender: String { config.value("double_bounce_sender") + "@" + config.value("myorigin") }

    /// Appends this pass's temporary failures to `defer/ID` (Postfix's format).
    func appendDeferLog(_ message: ActiveMessage) {
        var records: [DeliveryStatus] = []
        for result in message.deferred.values.sorted(by: { $0.index < $1.index }) where result.index < message.file.recipients.count {
            let r = message.file.recipients[result.index]
            records.append(DeliveryStatus(
                recipient: r.address, originalRecipient: r.originalRecipient, offset: r.statusOffset,
                dsnOriginalRecipient: r.dsnOriginalRecipient ?? "rfc822;" + r.address, dsnNotify: r.dsnNotify,
                status: result.dsn, action: "delayed",
                diagnosticType: result.smtpReply.isEmpty ? nil : "smtp", diagnosticText: result.smtpReply.isEmpty ? nil : result.smtpReply,
                mtaType: result.remoteMTA.isEmpty ? nil : "dns", mtaName: result.remoteMTA.isEmpty ? nil : result.remoteMTA,
                reason: result.reason))
        }
        do {
            try DeferLog.append(records, queueID: message.queueID, logQueue: QueueDirectory.deferLog, directory: queue)
        } catch {
            Log.warning("\(message.queueID): cannot update defer log: \(error)")
        }
    }

    /// Sends a delivery status notification for RESULTS to the message's sender: a
    /// non-delivery notice, the report NOTIFY=SUCCESS asked for, or a delay warning.
    func returnToSender(_ message: ActiveMessage, _ results: [DeliveryResult], kind: ReportKind = .failure) {
        let sender = message.sender
        if sender == doubleBounceSender {
            Log.warning("\(message.queueID): undeliverable postmaster notification discarded")
            return
        }
        let notifyPostmaster = sender.isEmpty
        let recipient = notifyPostmaster ? config.value("2bounce_notice_recipient") : sender
        do {
            let writer = try QueueFileWriter(directory: queue)
            var envelope = QueueEnvelope(arrivalSeconds: writer.creationTime.seconds, arrivalMicros: writer.creationTime.micros,
                                         sender: notifyPostmaster ? doubleBounceSender : "")
            envelope.attributes.append(.init(name: QueueEnvelope.protocolNameKey, value: "bounce"))
            writer.envelope = envelope
            writer.addRecipient(QueueRecipient(address: recipient, originalRecipient: recipient))
            let report = DeliveryReport(config: config, message: message, results: results, newQueueID: writer.queueID, kind: kind)
            try report.write(to: writer, original: originalContent(message))
            try writer.commit()
            let what = kind == .failure ? "non-delivery" : kind == .success ? "delivery status" : "delay"
            Log.info("\(message.queueID): sender \(what) notification: \(writer.queueID)")
        } catch {
            Log.warning("\(message.queueID): cannot create non-delivery notification: \(error)")
        }
    }

    /// Queues copies of MESSAGE for the addresses local(8) forwarded it to: one new
    /// message per envelope sender and Delivered-To: header (which stops mail loops),
    /// duplicates dropped.
    func resubmit(_ message: ActiveMessage, to forwards: [ForwardedRecipient]) {
        var groups: [(sender: String, deliveredTo: String, addresses: [String])] = []
        for f in forwards {
            if let i = groups.firstIndex(where: { $0.sender == f.sender && $0.deliveredTo == f.deliveredTo }) {
                if !groups[i].addresses.contains(f.address) { groups[i].addresses.append(f.address) }
            } else {
                groups.append((f.sender, f.deliveredTo, [f.address]))
            }
        }
        for group in groups {
            do {
                let writer = try QueueFileWriter(directory: queue)
                var envelope = message.file.envelope
                envelope.sender = group.sender
                envelope.arrivalSeconds = writer.creationTime.seconds
                envelope.arrivalMicros = writer.creationTime.micros
                writer.envelope = envelope
                for a in group.addresses { writer.addRecipient(QueueRecipient(address: a, originalRecipient: a)) }
                if !group.deliveredTo.isEmpty { try writer.appendContent(Array("Delivered-To: \(group.deliveredTo)\n".utf8)) }
                try originalContent(message)({ try writer.appendContent($0, newline: false) })
                try writer.commit()
                Log.info("\(message.queueID): forwarded as \(writer.queueID)")
            } catch {
                Log.warning("\(message.queueID): cannot forward: \(error)")
            }
        }
    }

    /// Streams the original message content to BODY.
    func originalContent(_ message: ActiveMessage) -> ((UnsafeRawBufferPointer) throws -> Void) throws -> Void {
        let path = queue.path(queue: QueueDirectory.active, queueID: message.queueID)
        return { body in
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SystemError("open \(path)") }
            defer { close(fd) }
            try message.file.readContent(descriptor: fd, body)
        }
    }
}
