// Reading queue files (qmgr, postcat, postqueue, delivery agents) and marking recipients
// done in place. The bytes are untrusted: every length is checked against the file, a
// file that stops before its end marker is reported as incomplete and any other damage
// as corrupt (qmgr moves such files to `corrupt/`); nothing here may trap. The content is
// never read into memory whole: the parser skips it, readContent streams it.
import Glibc

extension QueueFile {
    /// Parses the queue file at PATH. Throws QueueFileError for an incomplete or corrupt
    /// file, SystemError when it cannot be opened or read.
    public static func read(path: String) throws -> QueueFile {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open \(path)") }
        defer { close(fd) }
        return try read(descriptor: fd)
    }

    /// Parses the queue file open on FD (read with pread; the offset is left alone).
    public static func read(descriptor fd: Int32) throws -> QueueFile {
        var parser = QueueFileParser(source: try QueueFileSource(descriptor: fd))
        return try parser.parse()
    }

    /// Parses a queue file held in memory.
    public static func parse(_ bytes: [UInt8]) throws -> QueueFile {
        var parser = QueueFileParser(source: QueueFileSource(bytes: bytes))
        return try parser.parse()
    }

    /// Marks the recipients whose status bytes lie at STATUSOFFSETS as done, in place (one
    /// byte written each), then fsyncs once when SYNC is set. Every offset must hold a
    /// status byte: anything else throws QueueFileError.corrupt and nothing more is written.
    public static func markDone(descriptor fd: Int32, statusOffsets: [Int], sync: Bool = true) throws {
        for offset in statusOffsets {
            var status: UInt8 = 0
            let n = pread(fd, &status, 1, off_t(offset))
            guard n >= 0 else { throw SystemError("read queue file") }
            guard n == 1, status == QueueRecord.pending || status == QueueRecord.done else {
                throw QueueFileError.corrupt(offset: offset, reason: "no recipient status byte")
            }
            if status == QueueRecord.done { continue }
            var done = QueueRecord.done
            guard pwrite(fd, &done, 1, off_t(offset)) == 1 else { throw SystemError("write queue file") }
        }
        if sync && fsync(fd) != 0 { throw SystemError("fsync queue file") }
    }

    /// Marks recipients done in the queue file at PATH (see markDone(descriptor:)).
    public static func markDone(path: String, statusOffsets: [Int], sync: Bool = true) throws {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open \(path)") }
        defer { close(fd) }
        try markDone(descriptor: fd, statusOffsets: statusOffsets, sync: sync)
    }

    /// Records in the queue file at PATH that its delay warning was sent (the warning
    /// record's time becomes zero).
    public func clearWarning(path: String) throws {
        guard let offset = warningOffset else { return }
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open \(path)") }
        defer { close(fd) }
        let zeros = [UInt8](repeating: UInt8(ascii: "0"), count: QueueRecord.warningDigits)
        let n = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard n == zeros.count else { throw SystemError("write queue file") }
    }

    /// Streams this file's content from FD to BODY in chunks of at most CHUNKSIZE bytes.
    public func readContent(descriptor fd: Int32, chunkSize: Int = 65536,
                            _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var chunk = [UInt8](repeating: 0, count: max(1, min(chunkSize, max(contentLength, 1))))
        var offset = contentOffset
        let end = contentOffset + contentLength
        while offset < end {
            let want = min(chunk.count, end - offset)
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(offset)) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw SystemError("read queue file") }
            guard n > 0 else { throw QueueFileError.incomplete(offset: offset) }
            try chunk.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += n
        }
    }
}

/// The bytes of a queue file, from memory or from a descriptor through a window that
/// pread refills, so that parsing costs a few system calls however many records there are.
final class QueueFileSource {
    static let windowSize = 65536

    let descriptor: Int32
    let size: Int
    var window: [UInt8]
    var windowStart = 0

    init(bytes: [UInt8]) {
        descriptor = -1
        size = bytes.count
        window = bytes
    }

    init(descriptor: Int32) throws {
        var st = stat()
        guard fstat(descriptor, &st) == 0 else { throw SystemError("fstat queue file") }
        self.descriptor = descriptor
        size = Int(st.st_size)
        window = []
    }

    /// COUNT bytes at OFFSET, or nil when the file ends before them.
    func bytes(at offset: Int, count: Int) throws -> ArraySlice<UInt8>? {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else { return nil }
        if offset < windowStart || offset + count > windowStart + window.count {
            guard descriptor >= 0 else { return nil }
            try load(at: offset, count: max(count, Self.windowSize))
            guard count <= window.count else { return nil }
        }
        let start = offset - windowStart
        return window[start..<(start + count)]
    }

    /// The byte at OFFSET, or nil past the end.
    func byte(at offset: Int) throws -> UInt8? {
        try bytes(at: offset, count: 1)?.first
    }

    /// Fills the window with up to COUNT bytes from OFFSET (fewer at the end of the file,
    /// or when the file shrank meanwhile).
    func load(at offset: Int, count: Int) throws {
        let want = min(count, size - offset)
        window = [UInt8](repeating: 0, count: want)
        var got = 0
        while got < want {
            let n = window.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + got, want - got, off_t(offset + got)) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw SystemError("read queue file") }
            if n == 0 { break }
            got += n
        }
        window.removeLast(want - got)
        windowStart = offset
    }
}

/// The record-by-record walk over a queue file (grammar in docs/queue-format.md).
struct QueueFileParser {
    /// One record's type and where its data lies.
    struct Record {
        let type: UInt8
        let offset: Int
        let dataOffset: Int
        let length: Int
    }

    /// Per-recipient records seen since the last recipient record.
    struct PendingRecipient {
        var originalRecipient: String?
        var dsnOriginalRecipient: String?
        var dsnNotify: DSNNotify?
        var isEmpty: Bool { originalRecipient == nil && dsnOriginalRecipient == nil && dsnNotify == nil }
    }

    let source: QueueFileSource
    var position = 0

    init(source: QueueFileSource) { self.source = source }

    mutating func parse() throws -> QueueFile {
        let version = try next()
        guard version.type == QueueRecord.version else { throw corrupt(version, "not a Postern queue file") }
        guard try text(version) == QueueRecord.versionText else { throw corrupt(version, "unsupported queue file version") }
        let time = try next()
        guard time.type == QueueRecord.time else { throw corrupt(time, "missing arrival time record") }
        var envelope = QueueEnvelope()
        (envelope.arrivalSeconds, envelope.arrivalMicros) = try arrivalTime(time)
        let sender = try next()
        guard sender.type == QueueRecord.sender else { throw corrupt(sender, "missing sender record") }
        envelope.sender = try text(sender)
        var recipients: [QueueRecipient] = []
        var pending = PendingRecipient()
        var contentRecord: Record?
        var warningOffset: Int?
        while true {
            let record = try next()
            switch record.type {
            case QueueRecord.attribute:
                guard contentRecord == nil, recipients.isEmpty, pending.isEmpty else { throw corrupt(record, "attribute out of place") }
                let attribute = try text(record)
                guard let eq = attribute.firstIndex(of: "="), eq != attribute.startIndex else {
                    throw corrupt(record, "attribute without name=value")
                }
                let name = String(attribute[..<eq])
                guard envelope[name] == nil else { throw corrupt(record, "duplicate attribute \(name)") }
                envelope.attributes.append(.init(name: name, value: String(attribute[attribute.index(after: eq)...])))
            case QueueRecord.warning:
                guard warningOffset == nil, envelope.attributes.isEmpty, recipients.isEmpty, pending.isEmpty, contentRecord == nil,
                    record.length == QueueRecord.warningDigits, let time = Int(try text(record))
                else { throw corrupt(record, "bad warning record") }
                envelope.warningTime = time
                warningOffset = record.dataOffset
            case QueueRecord.originalRecipient:
                guard pending.originalRecipient == nil else { throw corrupt(record, "duplicate original recipient") }
                pending.originalRecipient = try text(record)
            case QueueRecord.dsnOriginalRecipient:
                guard pending.dsnOriginalRecipient == nil else { throw corrupt(record, "duplicate DSN original recipient") }
                pending.dsnOriginalRecipient = try text(record)
            case QueueRecord.dsnNotify:
                guard pending.dsnNotify == nil, let mask = Int(try text(record)), mask > 0, mask < 16 else {
                    throw corrupt(record, "bad DSN notify record")
                }
                pending.dsnNotify = DSNNotify(rawValue: mask)
            case QueueRecord.recipient:
                recipients.append(try recipient(record, pending))
                pending = PendingRecipient()
            case QueueRecord.content:
                guard contentRecord == nil, pending.isEmpty else { throw corrupt(record, "content record out of place") }
                contentRecord = record
            case QueueRecord.end:
                guard let content = contentRecord, pending.isEmpty, record.length == 0 else {
                    throw corrupt(record, "end marker out of place")
                }
                guard position == source.size else {
                    throw QueueFileError.corrupt(offset: position, reason: "data after the end marker")
                }
                return QueueFile(envelope: envelope, recipients: recipients, contentOffset: content.dataOffset,
                                 contentLength: content.length, warningOffset: warningOffset)
            default:
                throw corrupt(record, "unknown record type")
            }
        }
    }

    /// Reads the record at the current position and moves past it. The data of records
    /// other than the content is checked to fit the length limit; the LF after the data
    /// must be there.
    mutating func next() throws -> Record {
        let start = position
        guard let type = try source.byte(at: start) else { throw QueueFileError.incomplete(offset: start) }
        var length = 0
        var cursor = start + 1
        while true {
            guard let c = try source.byte(at: cursor) else { throw QueueFileError.incomplete(offset: source.size) }
            if c == UInt8(ascii: ":") && cursor > start + 1 { break }
            guard c >= 48 && c <= 57, cursor - start <= QueueRecord.maxLengthDigits else {
                throw QueueFileError.corrupt(offset: cursor, reason: "bad record length")
            }
            length = length * 10 + Int(c - 48)
            cursor += 1
        }
        let dataOffset = cursor + 1
        if type != QueueRecord.content && length > QueueRecord.maxRecordLength {
            throw QueueFileError.corrupt(offset: start, reason: "record longer than \(QueueRecord.maxRecordLength) bytes")
        }
        guard length <= source.size - dataOffset, let lf = try source.byte(at: dataOffset + length) else {
            throw QueueFileError.incomplete(offset: source.size)
        }
        guard lf == 10 else { throw QueueFileError.corrupt(offset: dataOffset + length, reason: "record not ended by a line feed") }
        position = dataOffset + length + 1
        return Record(type: type, offset: start, dataOffset: dataOffset, length: length)
    }

    /// The data of RECORD as text (invalid UTF-8 repaired).
    func text(_ record: Record) throws -> String {
        guard let data = try source.bytes(at: record.dataOffset, count: record.length) else {
            throw QueueFileError.incomplete(offset: source.size)
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The `SECONDS.MICROS` of an arrival time record: 1 to 18 digits, `.`, 6 digits.
    func arrivalTime(_ record: Record) throws -> (Int, Int) {
        guard let data = try source.bytes(at: record.dataOffset, count: record.length),
              let dot = data.firstIndex(of: UInt8(ascii: ".")), dot > data.startIndex, dot - data.startIndex <= 18,
              data.endIndex - dot == 7, let seconds = decimal(data[..<dot]), let micros = decimal(data[(dot + 1)...]) else {
            throw corrupt(record, "bad arrival time")
        }
        return (seconds, micros)
    }

    /// The value of DIGITS (ASCII decimal, at most 18 of them); nil for anything else.
    func decimal(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for c in digits {
            guard c >= 48 && c <= 57 else { return nil }
            value = value * 10 + Int(c - 48)
        }
        return value
    }

    /// The recipient of an `R` record with the per-recipient records before it.
    func recipient(_ record: Record, _ pending: PendingRecipient) throws -> QueueRecipient {
        guard record.length >= 1, let data = try source.bytes(at: record.dataOffset, count: record.length) else {
            throw corrupt(record, "empty recipient record")
        }
        let status = data[data.startIndex]
        guard status == QueueRecord.pending || status == QueueRecord.done else { throw corrupt(record, "bad recipient status") }
        return QueueRecipient(address: String(decoding: data.dropFirst(), as: UTF8.self),
                              originalRecipient: pending.originalRecipient,
                              dsnOriginalRecipient: pending.dsnOriginalRecipient,
                              dsnNotify: pending.dsnNotify ?? [], isDone: status == QueueRecord.done,
                              statusOffset: record.dataOffset)
    }

    func corrupt(_ record: Record, _ reason: String) -> QueueFileError {
        .corrupt(offset: record.offset, reason: reason)
    }
}
