// The queue file's contents as Postern's programs see them: the envelope (arrival time,
// sender, named attributes), the recipients with their DSN details and done status, and
// where the message content lies. The byte layout is in docs/queue-format.md; the
// record framing lives here, the writer in QueueFileWriter.swift, the reader in
// QueueFileReader.swift.

/// Record types and fixed values of the queue file format (docs/queue-format.md).
enum QueueRecord {
    static let version = UInt8(ascii: "Q")
    static let time = UInt8(ascii: "T")
    static let sender = UInt8(ascii: "S")
    static let attribute = UInt8(ascii: "A")
    static let originalRecipient = UInt8(ascii: "O")
    static let dsnOriginalRecipient = UInt8(ascii: "D")
    static let dsnNotify = UInt8(ascii: "N")
    static let recipient = UInt8(ascii: "R")
    static let content = UInt8(ascii: "M")
    static let end = UInt8(ascii: "E")
    /// When a delay warning is due (delay_warning_time), updated in place once it is sent.
    static let warning = UInt8(ascii: "W")

    /// Recipient status bytes: still to deliver, and done (delivered, bounced or expired).
    static let pending = UInt8(ascii: "P")
    static let done = UInt8(ascii: "D")

    static let versionText = "postern-queue 1"
    /// The content record's length is written with this many digits so that it can be
    /// filled in after the content has been streamed.
    static let contentLengthDigits = 12
    /// The warning record's time is written with this many digits so that it can be
    /// cleared in place.
    static let warningDigits = 12
    /// A record's length has 1 to this many decimal digits.
    static let maxLengthDigits = 12
    /// The longest record other than the content (readers refuse longer ones).
    static let maxRecordLength = 1 << 20

    /// Appends one record: TYPE, the length of STATUS (when given) and DATA in decimal,
    /// `:`, STATUS, DATA, LF. DATA beyond maxRecordLength is cut.
    static func append(_ type: UInt8, status: UInt8? = nil, _ data: String, to buffer: inout [UInt8]) {
        var data = data
        data.withUTF8 { bytes in
            let count = min(bytes.count, maxRecordLength - 1)
            appendHeader(type, length: count + (status == nil ? 0 : 1), to: &buffer)
            if let status { buffer.append(status) }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[0..<count]))
            buffer.append(10)
        }
    }

    /// Appends an attribute record, `A` NAME `=` VALUE (VALUE cut to the record limit).
    static func appendAttribute(_ name: String, _ value: String, to buffer: inout [UInt8]) {
        var value = value
        value.withUTF8 { bytes in
            let count = max(0, min(bytes.count, maxRecordLength - 1 - name.utf8.count))
            appendHeader(attribute, length: name.utf8.count + 1 + count, to: &buffer)
            buffer.append(contentsOf: name.utf8)
            buffer.append(UInt8(ascii: "="))
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[0..<count]))
            buffer.append(10)
        }
    }

    /// Appends the start of a record: TYPE, LENGTH in decimal, `:`.
    static func appendHeader(_ type: UInt8, length: Int, to buffer: inout [UInt8]) {
        buffer.append(type)
        appendDecimal(length, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
    }

    /// Appends VALUE (>= 0) in decimal, left-padded with zeros to WIDTH.
    static func appendDecimal(_ value: Int, width: Int = 1, to buffer: inout [UInt8]) {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        if width > digits { buffer.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - digits)) }
        var divisor = 1
        for _ in 1..<digits { divisor *= 10 }
        rest = value
        while divisor > 0 {
            buffer.append(UInt8(48 + rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}

/// RFC 3461 NOTIFY values, with Postfix's bit values (as defer and bounce logs write them).
public struct DSNNotify: OptionSet, Equatable {
    /// Postfix's bit mask (as `dsn_notify=` in defer and bounce logs).
    public let rawValue: Int
    /// The flags of Postfix's bit mask RAWVALUE.
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// NOTIFY=NEVER.
    public static let never = DSNNotify(rawValue: 1)
    /// NOTIFY=SUCCESS.
    public static let success = DSNNotify(rawValue: 2)
    /// NOTIFY=FAILURE.
    public static let failure = DSNNotify(rawValue: 4)
    /// NOTIFY=DELAY.
    public static let delay = DSNNotify(rawValue: 8)

    /// Parses an ESMTP `NOTIFY=` value (`NEVER`, or a comma list of `SUCCESS`, `FAILURE`,
    /// `DELAY`, any case). nil when malformed, including NEVER combined with others.
    public init?(esmtpValue: String) {
        var flags = DSNNotify()
        for word in esmtpValue.split(separator: ",", omittingEmptySubsequences: false) {
            switch String(word).asciiLowercased {
            case "never": flags.insert(.never)
            case "success": flags.insert(.success)
            case "failure": flags.insert(.failure)
            case "delay": flags.insert(.delay)
            default: return nil
            }
        }
        if flags.contains(.never) && flags != .never { return nil }
        self = flags
    }

    /// The ESMTP form, `SUCCESS,FAILURE,DELAY` or `NEVER` ("" when empty).
    public var esmtpValue: String {
        var words: [String] = []
        if contains(.never) { words.append("NEVER") }
        if contains(.success) { words.append("SUCCESS") }
        if contains(.failure) { words.append("FAILURE") }
        if contains(.delay) { words.append("DELAY") }
        return words.joined(separator: ",")
    }
}

/// One envelope recipient of a queue file.
public struct QueueRecipient: Equatable {
    /// The address to deliver to (no angle brackets; "" is not a valid recipient).
    public var address: String
    /// The address before rewriting or alias expansion (Postfix's `orig_to`), if different.
    public var originalRecipient: String?
    /// The DSN original recipient, `ORCPT` as `type;address` (e.g. `rfc822;user@example.com`).
    public var dsnOriginalRecipient: String?
    /// The DSN NOTIFY flags; empty when the client gave none.
    public var dsnNotify: DSNNotify
    /// Whether delivery to this recipient is finished (delivered, bounced or expired).
    public var isDone: Bool
    /// Where this recipient's status byte lies in the file (for marking it done); -1 for a
    /// recipient not read from a file.
    public var statusOffset: Int

    /// A recipient to add to a new queue file (pending, no status offset yet).
    public init(address: String, originalRecipient: String? = nil, dsnOriginalRecipient: String? = nil,
                dsnNotify: DSNNotify = [], isDone: Bool = false, statusOffset: Int = -1) {
        self.address = address
        self.originalRecipient = originalRecipient
        self.dsnOriginalRecipient = dsnOriginalRecipient
        self.dsnNotify = dsnNotify
        self.isDone = isDone
        self.statusOffset = statusOffset
    }
}

/// The message envelope: arrival time, sender and named attributes.
public struct QueueEnvelope: Equatable {
    /// A named envelope attribute (`client_name=mail.example.com`).
    public struct Attribute: Equatable {
        /// The name: no `=`, not empty.
        public var name: String
        /// The value (any text).
        public var value: String
        /// The attribute NAME=VALUE.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Attribute name of the client's host name.
    public static let clientNameKey = "client_name"
    /// Attribute name of the client's IP address.
    public static let clientAddressKey = "client_address"
    /// Attribute name of the client's TCP port.
    public static let clientPortKey = "client_port"
    /// Attribute name of the HELO/EHLO argument.
    public static let heloNameKey = "helo_name"
    /// Attribute name of the protocol (`ESMTP`, `ESMTPSA`, …).
    public static let protocolNameKey = "protocol_name"
    /// Attribute name of the SASL mechanism.
    public static let saslMethodKey = "sasl_method"
    /// Attribute name of the SASL login name.
    public static let saslUsernameKey = "sasl_username"
    /// Attribute name of the SASL `AUTH=` sender.
    public static let saslSenderKey = "sasl_sender"
    /// Attribute name of the DSN envelope ID.
    public static let dsnEnvelopeIDKey = "dsn_envid"
    /// Attribute name of the DSN RET value.
    public static let dsnReturnKey = "dsn_ret"
    /// Attribute name of the BODY= value.
    public static let encodingKey = "encoding"
    /// Attribute name of the SMTPUTF8 flag.
    public static let smtputf8Key = "smtputf8"
    /// Attribute name of the receiving service's log identifier.
    public static let logIdentKey = "log_ident"

    /// When the message arrived (the start of the mail transaction), seconds since the epoch.
    public var arrivalSeconds: Int
    /// The microseconds of the arrival time.
    public var arrivalMicros: Int
    /// The envelope sender; "" for the null sender `<>`.
    public var sender: String
    /// Named attributes in the order they were set; names are unique.
    public var attributes: [Attribute]
    /// When a delay warning is due, seconds since the epoch; 0 when none is (any more).
    public var warningTime = 0

    /// An envelope; QueueFileWriter starts from one with the file's creation time.
    public init(arrivalSeconds: Int = 0, arrivalMicros: Int = 0, sender: String = "", attributes: [Attribute] = []) {
        self.arrivalSeconds = arrivalSeconds
        self.arrivalMicros = arrivalMicros
        self.sender = sender
        self.attributes = attributes
    }

    /// The value of attribute NAME; setting nil removes it, setting a value replaces it in
    /// place or appends it.
    public subscript(_ name: String) -> String? {
        get { attributes.first { $0.name == name }?.value }
        set {
            if let index = attributes.firstIndex(where: { $0.name == name }) {
                if let newValue { attributes[index].value = newValue } else { attributes.remove(at: index) }
            } else if let newValue {
                attributes.append(Attribute(name: name, value: newValue))
            }
        }
    }

    /// The client's verified host name, or `unknown`.
    public var clientName: String? {
        get { self[Self.clientNameKey] }
        set { self[Self.clientNameKey] = newValue }
    }
    /// The client's IP address (without `IPv6:`).
    public var clientAddress: String? {
        get { self[Self.clientAddressKey] }
        set { self[Self.clientAddressKey] = newValue }
    }
    /// The HELO/EHLO argument.
    public var heloName: String? {
        get { self[Self.heloNameKey] }
        set { self[Self.heloNameKey] = newValue }
    }
    /// `SMTP`, `ESMTP`, `ESMTPSA`, … as in the Received: header.
    public var protocolName: String? {
        get { self[Self.protocolNameKey] }
        set { self[Self.protocolNameKey] = newValue }
    }
    /// The SASL mechanism the client authenticated with.
    public var saslMethod: String? {
        get { self[Self.saslMethodKey] }
        set { self[Self.saslMethodKey] = newValue }
    }
    /// The SASL login name.
    public var saslUsername: String? {
        get { self[Self.saslUsernameKey] }
        set { self[Self.saslUsernameKey] = newValue }
    }
    /// The SASL `AUTH=` sender of MAIL FROM.
    public var saslSender: String? {
        get { self[Self.saslSenderKey] }
        set { self[Self.saslSenderKey] = newValue }
    }
    /// The DSN `ENVID=` of MAIL FROM (decoded xtext).
    public var dsnEnvelopeID: String? {
        get { self[Self.dsnEnvelopeIDKey] }
        set { self[Self.dsnEnvelopeIDKey] = newValue }
    }
    /// The DSN `RET=` of MAIL FROM: `FULL` or `HDRS`.
    public var dsnReturn: String? {
        get { self[Self.dsnReturnKey] }
        set { self[Self.dsnReturnKey] = newValue }
    }
    /// The `BODY=` of MAIL FROM: `7BIT` or `8BITMIME`.
    public var encoding: String? {
        get { self[Self.encodingKey] }
        set { self[Self.encodingKey] = newValue }
    }
    /// Whether MAIL FROM carried `SMTPUTF8` (stored as `yes`).
    public var smtputf8: Bool {
        get { self[Self.smtputf8Key] == "yes" }
        set { self[Self.smtputf8Key] = newValue ? "yes" : nil }
    }
    /// The log identifier (`postfix/smtpd` style service name) that received the message.
    public var logIdent: String? {
        get { self[Self.logIdentKey] }
        set { self[Self.logIdentKey] = newValue }
    }
}

/// Why a queue file could not be read.
public enum QueueFileError: Error, Equatable, CustomStringConvertible {
    /// The file ends (at OFFSET) before its end marker: truncated, or still being written.
    case incomplete(offset: Int)
    /// The bytes at OFFSET are not what the format allows.
    case corrupt(offset: Int, reason: String)

    /// The error as a log message.
    public var description: String {
        switch self {
        case .incomplete(let offset): return "queue file is incomplete: it ends at byte \(offset) before its end marker"
        case .corrupt(let offset, let reason): return "queue file is corrupt at byte \(offset): \(reason)"
        }
    }
}

/// A parsed queue file: envelope, recipients and where the content lies.
public struct QueueFile: Equatable {
    /// Arrival time, sender and attributes.
    public var envelope: QueueEnvelope
    /// All recipients in file order, done or not.
    public var recipients: [QueueRecipient]
    /// The file offset of the first content byte.
    public var contentOffset: Int
    /// The content's length in bytes: the message size Postfix logs (`size=`).
    public var contentLength: Int
    /// The file offset of the warning record's digits, when the file has one.
    public var warningOffset: Int?

    /// The recipients not yet done.
    public var pendingRecipients: [QueueRecipient] { recipients.filter { !$0.isDone } }
}
