// The two text forms of the queue listing, byte for byte as Postfix's postqueue prints
// them (showq_compat.c, showq_json.c; reference §5.5 and §5.6): the `mailq` table with
// its status marks (`*` active, `!` hold, `#` forced expiry), reason lines right-aligned
// to column 78 and the `-- N Kbytes in M Requests.` trailer, in the short or the long
// queue ID layout; and `postqueue -j`'s one JSON object per line.

/// The `postqueue -p` table, built message by message.
public struct QueueListingTable {
    let longQueueIDs: Bool
    let nullSender: String
    var messages = 0
    var totalSize = 0

    /// A table in the long queue ID layout when LONGQUEUEIDS (enable_long_queue_ids);
    /// NULLSENDER is shown for the null sender (empty_address_recipient).
    public init(longQueueIDs: Bool, nullSender: String = "MAILER-DAEMON") {
        self.longQueueIDs = longQueueIDs
        self.nullSender = nullSender
    }

    /// The lines of ENTRY and the blank line after it, preceded by the column header when
    /// it is the first message.
    public mutating func format(_ entry: QueueListingEntry) -> String {
        var text = messages == 0 ? header : ""
        messages += 1
        totalSize += entry.messageSize
        text += row(entry)
        var shown: String?
        for r in entry.recipients {
            let reason = r.delayReason ?? (shown == nil ? nil : "reason unavailable")
            if let reason, reason != shown {
                text += String(repeating: " ", count: max(0, 76 - reason.utf8.count)) + "(" + reason + ")\n"
                shown = reason
            }
            text += recipientIndent + r.address + "\n"
        }
        return text + "\n"
    }

    /// The last line: `-- N Kbytes in M Requests.`, or `Mail queue is empty`.
    public var trailer: String {
        guard messages > 0 else { return "Mail queue is empty\n" }
        return "-- \(totalSize / 1024) Kbytes in \(messages) Request\(messages == 1 ? "" : "s").\n"
    }

    var header: String {
        longQueueIDs
            ? "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n"
            : "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
    }

    var recipientIndent: String { String(repeating: " ", count: longQueueIDs ? 47 : 41) }

    /// `%-11s %7ld %20.20s %s` (long: `%-17s %8ld %19.19s %s`) with the status mark
    /// appended to the queue ID before it is padded.
    func row(_ entry: QueueListingEntry) -> String {
        let id = entry.queueID + Self.statusMark(entry)
        let time = String(MailDate.asctime(entry.arrivalTime).prefix(longQueueIDs ? 19 : 20))
        let sender = entry.sender.isEmpty ? nullSender : entry.sender
        return Self.padRight(id, longQueueIDs ? 17 : 11) + " " + Self.padLeft(String(entry.messageSize), longQueueIDs ? 8 : 7)
            + " " + time + " " + sender + "\n"
    }

    /// `*` active, `!` on hold, `#` marked for forced expiry, else nothing.
    static func statusMark(_ entry: QueueListingEntry) -> String {
        if entry.queueName == QueueDirectory.active { return "*" }
        if entry.queueName == QueueDirectory.hold { return "!" }
        return entry.forcedExpire ? "#" : ""
    }

    static func padRight(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.utf8.count))
    }

    static func padLeft(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.utf8.count)) + text
    }
}

/// `postqueue -j`: one JSON object per message.
public enum QueueListingJSON {
    /// ENTRY as one line: `{"queue_name": "deferred", "queue_id": …, "recipients": [...]}`
    /// with Postfix's key order and spacing; `delay_reason` only when there is one.
    public static func line(_ entry: QueueListingEntry) -> String {
        var text = "{\"queue_name\": " + quote(entry.queueName) + ", \"queue_id\": " + quote(entry.queueID)
        text += ", \"arrival_time\": \(entry.arrivalTime), \"message_size\": \(entry.messageSize)"
        text += ", \"forced_expire\": " + (entry.forcedExpire ? "true" : "false")
        text += ", \"sender\": " + quote(entry.sender) + ", \"recipients\": ["
        for (i, r) in entry.recipients.enumerated() {
            if i > 0 { text += ", " }
            text += "{\"address\": " + quote(r.address)
            if let reason = r.delayReason { text += ", \"delay_reason\": " + quote(reason) }
            text += "}"
        }
        return text + "]}\n"
    }

    /// TEXT as a JSON string: quote and backslash escaped, control characters as `\b`,
    /// `\f`, `\n`, `\r`, `\t` or `\uXXXX`; other bytes (UTF-8) as they are.
    public static func quote(_ text: String) -> String {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        let hex = Array("0123456789ABCDEF".utf8)
        for c in text.utf8 {
            switch c {
            case 8: out += [92, UInt8(ascii: "b")]
            case 9: out += [92, UInt8(ascii: "t")]
            case 10: out += [92, UInt8(ascii: "n")]
            case 12: out += [92, UInt8(ascii: "f")]
            case 13: out += [92, UInt8(ascii: "r")]
            case 0..<32, 127: out += Array("\\u00".utf8) + [hex[Int(c >> 4)], hex[Int(c & 15)]]
            case UInt8(ascii: "\""), 92: out += [92, c]
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }
}
