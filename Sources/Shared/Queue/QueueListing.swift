// The mail queue as `postqueue -p`/`-j` and `mailq` list it (Postfix's showq.c): one
// entry per message in showq's scan order (maildrop, active, incoming, deferred, hold)
// with its arrival time, size, forced-expire flag, sender, the recipients still to be
// delivered and, from the defer log, why each is delayed. The same entries travel from
// the showq service to an unprivileged postqueue as attribute lists (one list per
// message). Queue files are read with the fuzz-robust reader; a file that vanished or
// cannot be read is left out, as showq leaves it out. The defer log's latest reason per
// recipient is also what qmgr returns for a force-expired message.

/// One message of the queue listing.
public struct QueueListingEntry: Equatable {
    /// A recipient still to be delivered.
    public struct Recipient: Equatable {
        /// The address (internal form).
        public var address: String
        /// The latest reason from the defer log, if any.
        public var delayReason: String?

        /// A recipient ADDRESS, delayed for DELAYREASON.
        public init(address: String, delayReason: String? = nil) {
            self.address = address
            self.delayReason = delayReason
        }
    }

    /// The queue the file is in (`deferred`, `hold`, …).
    public var queueName: String
    /// The queue ID.
    public var queueID: String
    /// Arrival time, seconds since the epoch.
    public var arrivalTime: Int
    /// The message size (content bytes).
    public var messageSize: Int
    /// Whether postsuper -e/-f marked the message for forced expiry.
    public var forcedExpire: Bool
    /// The envelope sender; "" for the null sender.
    public var sender: String
    /// The recipients not yet done, in queue file order.
    public var recipients: [Recipient]

    /// An entry with every field given.
    public init(queueName: String, queueID: String, arrivalTime: Int, messageSize: Int, forcedExpire: Bool,
                sender: String, recipients: [Recipient]) {
        self.queueName = queueName
        self.queueID = queueID
        self.arrivalTime = arrivalTime
        self.messageSize = messageSize
        self.forcedExpire = forcedExpire
        self.sender = sender
        self.recipients = recipients
    }
}

/// Reading the queue into listing entries, and their wire form.
public enum QueueListing {
    /// showq's scan order.
    public static let queues = [
        QueueDirectory.maildrop, QueueDirectory.active, QueueDirectory.incoming, QueueDirectory.deferred,
        QueueDirectory.hold,
    ]

    /// Calls BODY with every message of DIRECTORY, queue by queue in showq's order.
    public static func scan(_ directory: QueueDirectory, _ body: (QueueListingEntry) throws -> Void) rethrows {
        for queue in queues {
            try directory.scan(queue) { id in
                if let entry = entry(directory, queue: queue, queueID: id) { try body(entry) }
            }
        }
    }

    /// The entry of ID in QUEUE; nil when the file is gone, unreadable or damaged.
    public static func entry(_ directory: QueueDirectory, queue: String, queueID: String) -> QueueListingEntry? {
        guard let file = try? QueueFile.read(path: directory.path(queue: queue, queueID: queueID)) else { return nil }
        let reasons = DeferLog.latestReasons(queueID: queueID, directory: directory)
        let recipients = file.recipients.filter { !$0.isDone }.map { r in
            QueueListingEntry.Recipient(
                address: r.address, delayReason: reasons.byOffset[r.statusOffset] ?? reasons.byAddress[r.address])
        }
        return QueueListingEntry(
            queueName: queue, queueID: queueID, arrivalTime: file.envelope.arrivalSeconds, messageSize: file.contentLength,
            forcedExpire: directory.isForcedExpire(queueID, queue: queue), sender: file.envelope.sender,
            recipients: recipients)
    }

    // MARK: wire form (showq → postqueue)

    /// ENTRY as the attribute list showq sends: the message fields, then `recipient` and an
    /// optional `delay_reason` per recipient.
    public static func attributes(_ entry: QueueListingEntry) -> AttributeList {
        var list = AttributeList([
            ("queue_name", entry.queueName), ("queue_id", entry.queueID), ("arrival_time", String(entry.arrivalTime)),
            ("message_size", String(entry.messageSize)), ("forced_expire", entry.forcedExpire ? "yes" : "no"),
            ("sender", entry.sender),
        ])
        for r in entry.recipients {
            list.append("recipient", r.address)
            if let reason = r.delayReason { list.append("delay_reason", reason) }
        }
        return list
    }

    /// The entry an attribute list from showq describes; nil when a field is missing or bad.
    public static func entry(_ list: AttributeList) -> QueueListingEntry? {
        guard let queueName = list["queue_name"], let queueID = list["queue_id"], let sender = list["sender"],
              let arrival = list["arrival_time"].flatMap({ Int($0) }), let size = list["message_size"].flatMap({ Int($0) })
        else { return nil }
        var recipients: [QueueListingEntry.Recipient] = []
        for item in list.items {
            switch item.name {
            case "recipient":
                recipients.append(.init(address: item.value))
            case "delay_reason" where !recipients.isEmpty:
                recipients[recipients.count - 1].delayReason = item.value
            default:
                break
            }
        }
        return QueueListingEntry(queueName: queueName, queueID: queueID, arrivalTime: arrival, messageSize: size,
                                 forcedExpire: list["forced_expire"] == "yes", sender: sender, recipients: recipients)
    }
}

extension DeferLog {
    /// The latest reason for each recipient in ID's defer log, by status offset and by
    /// address; empty when there is no log.
    public static func latestReasons(queueID: String, directory: QueueDirectory) -> (byOffset: [Int: String], byAddress: [String: String]) {
        var byOffset: [Int: String] = [:]
        var byAddress: [String: String] = [:]
        guard let records = try? read(directory.path(queue: QueueDirectory.deferLog, queueID: queueID)) else { return ([:], [:]) }
        for record in records where !record.reason.isEmpty {
            if record.offset > 0 { byOffset[record.offset] = record.reason }
            byAddress[record.recipient] = record.reason
        }
        return (byOffset, byAddress)
    }
}
