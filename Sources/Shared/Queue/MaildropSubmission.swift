// The local submission path's protocol (docs/operators.md): what sendmail hands to
// postdrop on postdrop's standard input, what postdrop answers on its standard output,
// and the envelope attributes a maildrop file carries for pickup. postdrop runs
// set-group-ID for any local user, so everything it reads is checked here before it can
// reach a queue file: one sender, at least one recipient, no control characters, bounded
// lengths, known DSN values, and content framed in chunks with an explicit end, so that
// a sendmail that dies half-way never leaves a cut message behind.

/// The envelope of one local submission.
public struct SubmissionEnvelope: Equatable {
    /// The longest address, full name or DSN value accepted.
    public static let maxValueLength = 4096

    /// The envelope sender as given (`-f`, or the login name); "" for the null sender.
    public var sender: String
    /// The sender's full name for a From: header that cleanup adds.
    public var fullName: String?
    /// The recipients, at least one.
    public var recipients: [String]
    /// DSN NOTIFY for every recipient (sendmail -N); empty when not given.
    public var notify: DSNNotify
    /// DSN RET (sendmail -R): `FULL` or `HDRS`.
    public var dsnReturn: String?
    /// DSN ENVID (sendmail -V).
    public var dsnEnvelopeID: String?

    /// An envelope with every field given.
    public init(sender: String, fullName: String? = nil, recipients: [String], notify: DSNNotify = [],
                dsnReturn: String? = nil, dsnEnvelopeID: String? = nil) {
        self.sender = sender
        self.fullName = fullName
        self.recipients = recipients
        self.notify = notify
        self.dsnReturn = dsnReturn
        self.dsnEnvelopeID = dsnEnvelopeID
    }

    /// The envelope a sendmail sent as LIST, or nil when anything in it is not allowed:
    /// a missing or repeated sender, no recipient, an unknown name, a control character, a
    /// value longer than maxValueLength, or a bad DSN value.
    public init?(_ list: AttributeList) {
        var sender: String?
        var envelope = SubmissionEnvelope(sender: "", recipients: [])
        for (name, value) in list.items {
            guard value.utf8.count <= Self.maxValueLength, !value.utf8.contains(where: { $0 < 32 || $0 == 127 }) else {
                return nil
            }
            switch name {
            case MaildropSubmission.senderKey where sender == nil:
                sender = value
            case MaildropSubmission.fullNameKey where envelope.fullName == nil:
                envelope.fullName = value
            case MaildropSubmission.recipientKey:
                if !value.isEmpty { envelope.recipients.append(value) }
            case MaildropSubmission.notifyKey where envelope.notify.isEmpty:
                guard let flags = DSNNotify(esmtpValue: value), !flags.isEmpty else { return nil }
                envelope.notify = flags
            case MaildropSubmission.dsnReturnKey where envelope.dsnReturn == nil:
                let upper = value.uppercased()
                guard upper == "FULL" || upper == "HDRS" else { return nil }
                envelope.dsnReturn = upper
            case MaildropSubmission.dsnEnvelopeIDKey where envelope.dsnEnvelopeID == nil:
                guard value.utf8.count <= 100, value.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else { return nil }
                envelope.dsnEnvelopeID = value
            default:
                return nil
            }
        }
        guard let sender, !envelope.recipients.isEmpty else { return nil }
        envelope.sender = sender
        self = envelope
    }

    /// The attribute list sendmail sends.
    public var attributes: AttributeList {
        var list = AttributeList([(MaildropSubmission.senderKey, sender)])
        if let fullName { list.append(MaildropSubmission.fullNameKey, fullName) }
        if !notify.isEmpty { list.append(MaildropSubmission.notifyKey, notify.esmtpValue) }
        if let dsnReturn { list.append(MaildropSubmission.dsnReturnKey, dsnReturn) }
        if let dsnEnvelopeID { list.append(MaildropSubmission.dsnEnvelopeIDKey, dsnEnvelopeID) }
        for r in recipients { list.append(MaildropSubmission.recipientKey, r) }
        return list
    }
}

/// Names and framing of the sendmail → postdrop protocol.
public enum MaildropSubmission {
    /// Request attribute: the envelope sender.
    public static let senderKey = "sender"
    /// Request attribute: the sender's full name.
    public static let fullNameKey = "full_name"
    /// Request attribute: one recipient (repeated).
    public static let recipientKey = "recipient"
    /// Request attribute: DSN NOTIFY for all recipients.
    public static let notifyKey = "notify"
    /// Request attribute: DSN RET.
    public static let dsnReturnKey = "dsn_ret"
    /// Request attribute: DSN ENVID.
    public static let dsnEnvelopeIDKey = "dsn_envid"
    /// Reply attribute: `0` queued, `1` refused.
    public static let statusKey = "status"
    /// Reply attribute: the maildrop queue ID.
    public static let queueIDKey = "queue_id"
    /// Reply attribute: why the message was refused.
    public static let reasonKey = "reason"

    /// The largest content chunk a reader accepts.
    public static let maxChunk = 1 << 20

    /// Why the content could not be read.
    public enum ContentError: Error, Equatable {
        /// The input ended before the end chunk.
        case truncated
        /// A chunk length line that is not a decimal number up to maxChunk without
        /// leading zeros.
        case malformed
    }

    /// The header of a content chunk of COUNT bytes (`COUNT` LF); a chunk of 0 ends the content.
    public static func chunkHeader(_ count: Int) -> [UInt8] {
        Array((String(count) + "\n").utf8)
    }

    /// Reads content chunks from STREAM up to and including the end chunk, giving the
    /// bytes to SINK. Throws ContentError, or what the stream or SINK throw.
    public static func readContent(_ stream: BufferedStream, _ sink: (ArraySlice<UInt8>) throws -> Void) throws {
        while true {
            guard let (line, truncated) = try stream.readLine(limit: 16) else { throw ContentError.truncated }
            guard !truncated, !line.isEmpty, line.count <= 8, line.count == 1 || line[0] != 48,
                  line.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  let count = Int(String(decoding: line, as: UTF8.self)), count <= maxChunk
            else { throw ContentError.malformed }
            if count == 0 { return }
            do {
                try stream.read(exactly: count, into: sink)
            } catch StreamError.closed {
                throw ContentError.truncated
            }
        }
    }
}

extension QueueEnvelope {
    /// Attribute of a maildrop or queue file: the sender's full name (sendmail -F, NAME,
    /// GECOS), used for a From: header that cleanup adds.
    public static let fullNameKey = "full_name"
    /// Attribute of a maildrop file: the real user ID that submitted it.
    public static let submitterKey = "uid"
    /// Attribute of a maildrop file written by postsuper -r: the message's former queue ID.
    public static let originalQueueIDKey = "orig_id"
}
