// Writing a new queue file, as smtpd and pickup do (Postfix's mail_queue_enter and
// cleanup's commit): the file is created under a temporary name with O_EXCL, its queue ID
// comes from its inode at once, records and content go out in large buffered writes, and
// commit() makes it durable — end marker, fchmod 0700, one fsync of the file, rename to
// the queue ID, one fsync of the directory. Only after commit() returns may a client be
// told `250 Ok: queued`. Nothing here holds a whole message in memory.
import Glibc

/// Where message content goes as it is received: the queue file writer, or a test buffer.
public protocol MessageContentSink: AnyObject {
    /// Appends BYTES to the content, followed by a line feed when NEWLINE is set.
    func appendContent(_ bytes: UnsafeRawBufferPointer, newline: Bool) throws
}

/// One new queue file being written (see the file comment for the protocol).
public final class QueueFileWriter: MessageContentSink {
    enum State {
        case open, committed, aborted
    }

    /// Buffered output is written once it reaches this size.
    static let flushThreshold = 128 * 1024

    /// The queue ID, known from the moment the file exists.
    public let queueID: String
    /// When the file was created (seconds, microseconds): the time in the queue ID and in
    /// a generated Message-Id.
    public let creationTime: (seconds: Int, micros: Int)
    /// The queue the file is written into (`incoming`, or `maildrop` for postdrop).
    public let queue: String
    /// Sender, arrival time and attributes. Changes are taken until the first content byte
    /// is appended; the arrival time defaults to the creation time.
    public var envelope: QueueEnvelope {
        willSet { precondition(!contentStarted, "queue file envelope changed after content started") }
    }
    /// Bytes of content appended so far: the message size.
    public private(set) var contentLength = 0
    /// Recipients added so far.
    public private(set) var recipientCount = 0
    /// The mode commit() gives the file: 0700, Postfix's complete queue file. postdrop's
    /// maildrop files get 0444, so that pickup (mail_owner) can read what a user owns.
    public var completeMode: mode_t = 0o700

    let directory: QueueDirectory
    let directoryDescriptor: Int32
    let temporaryName: String
    var descriptor: Int32
    var state = State.open
    var renamed = false
    /// Recipients added before the content, written just before it.
    var leadingRecipients: [QueueRecipient] = []
    /// Records added after the content started, written after it.
    var trailer: [UInt8] = []
    var buffer: [UInt8] = []
    /// Bytes already written to the file (the file offset of buffer[0]).
    var flushed = 0
    var contentStarted = false
    /// File offset of the content record's fixed-width length digits.
    var contentLengthOffset = 0

    /// Creates a new queue file in QUEUE of DIRECTORY (mode 0600, temporary name
    /// `usec.pid`) and derives its queue ID from the inode. Throws SystemError when the
    /// file cannot be created.
    public init(directory: QueueDirectory, queue: String = QueueDirectory.incoming) throws {
        precondition(!directory.hashedQueues.contains(queue), "new queue files go into a queue without hashing")
        self.directory = directory
        self.queue = queue
        directoryDescriptor = try directory.descriptor(queue: queue)
        var attempt = 0
        while true {
            let now = Clock.now()
            let name = "\(now.micros).\(getpid())"
            let fd = openat(directoryDescriptor, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 {
                var st = stat()
                guard fstat(fd, &st) == 0 else {
                    let error = SystemError("fstat \(directory.path)/\(queue)/\(name)")
                    close(fd)
                    unlinkat(directoryDescriptor, name, 0)
                    throw error
                }
                let created = Clock.now()
                temporaryName = name
                descriptor = fd
                creationTime = created
                queueID = QueueID.make(seconds: created.seconds, micros: created.micros, inode: UInt64(st.st_ino),
                                       long: directory.longQueueIDs)
                envelope = QueueEnvelope(arrivalSeconds: created.seconds, arrivalMicros: created.micros)
                break
            }
            attempt += 1
            guard errno == EEXIST, attempt < 100 else { throw SystemError("create file \(directory.path)/\(queue)/\(name)") }
        }
        buffer.reserveCapacity(Self.flushThreshold + 8192)
    }

    deinit {
        if state == .open { abort() }
    }

    /// The file's current path (its temporary name until commit()).
    public var path: String {
        directory.path + "/" + queue + "/" + (renamed ? queueID : temporaryName)
    }

    /// Adds a recipient. Before the content it is written ahead of it; afterwards (recipients
    /// found while the content streamed, such as `sendmail -t`) it goes after the content.
    public func addRecipient(_ recipient: QueueRecipient) {
        precondition(state == .open, "recipient added to a finished queue file")
        recipientCount += 1
        if contentStarted {
            Self.appendRecipient(recipient, to: &trailer)
        } else {
            leadingRecipients.append(recipient)
        }
    }

    /// Appends BYTES (and a line feed when NEWLINE is set) to the message content. Throws
    /// SystemError on a write error (ENOSPC, EIO, …); the file is then unusable.
    public func appendContent(_ bytes: UnsafeRawBufferPointer, newline: Bool) throws {
        precondition(state == .open, "content appended to a finished queue file")
        if !contentStarted { startContent() }
        contentLength += bytes.count + (newline ? 1 : 0)
        if buffer.isEmpty && bytes.count >= Self.flushThreshold {
            try writeOut(bytes)
        } else {
            buffer.append(contentsOf: bytes)
            if buffer.count >= Self.flushThreshold { try flush() }
        }
        if newline { buffer.append(10) }
    }

    /// Appends BYTES (and a line feed when NEWLINE is set) to the message content.
    public func appendContent(_ bytes: [UInt8], newline: Bool = false) throws {
        try bytes.withUnsafeBytes { try appendContent($0, newline: newline) }
    }

    /// Makes the file durable and visible under its queue ID: end marker, completeMode, fsync,
    /// rename, fsync of the directory. On failure the file is removed and the error thrown
    /// (SystemError); the message must then be refused with a temporary error.
    public func commit() throws {
        precondition(state == .open, "queue file committed twice")
        do {
            if !contentStarted { startContent() }
            try finishRecords()
            try flush()
            guard fchmod(descriptor, completeMode) == 0 else { throw SystemError("fchmod \(path)") }
            guard fsync(descriptor) == 0 else { throw SystemError("fsync \(path)") }
            guard renameat(directoryDescriptor, temporaryName, directoryDescriptor, queueID) == 0 else {
                throw SystemError("rename \(path) to \(queueID)")
            }
            renamed = true
            // EBADF: a directory this process may only write into (postdrop's maildrop/,
            // opened with O_PATH) cannot be synced; as in Postfix, the rename stands alone.
            guard fsync(directoryDescriptor) == 0 || errno == EBADF else {
                throw SystemError("fsync \(directory.path)/\(queue)")
            }
        } catch {
            abort()
            throw error
        }
        close(descriptor)
        descriptor = -1
        state = .committed
    }

    /// Gives up on the file: closes and removes it. Safe to call more than once.
    public func abort() {
        guard state == .open else { return }
        state = .aborted
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        unlinkat(directoryDescriptor, renamed ? queueID : temporaryName, 0)
    }

    /// Writes the version, envelope and leading recipient records and opens the content
    /// record with fixed-width length digits that commit() fills in.
    func startContent() {
        contentStarted = true
        QueueRecord.append(QueueRecord.version, QueueRecord.versionText, to: &buffer)
        var time: [UInt8] = []
        QueueRecord.appendDecimal(envelope.arrivalSeconds, to: &time)
        time.append(UInt8(ascii: "."))
        QueueRecord.appendDecimal(envelope.arrivalMicros, width: 6, to: &time)
        QueueRecord.append(QueueRecord.time, String(decoding: time, as: UTF8.self), to: &buffer)
        QueueRecord.append(QueueRecord.sender, envelope.sender, to: &buffer)
        for attribute in envelope.attributes {
            QueueRecord.append(QueueRecord.attribute, attribute.name + "=" + attribute.value, to: &buffer)
        }
        for recipient in leadingRecipients { Self.appendRecipient(recipient, to: &buffer) }
        leadingRecipients = []
        buffer.append(QueueRecord.content)
        contentLengthOffset = flushed + buffer.count
        QueueRecord.appendDecimal(0, width: QueueRecord.contentLengthDigits, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
    }

    /// Ends the content record, fills in its length, and appends the trailing records and
    /// the end marker.
    func finishRecords() throws {
        buffer.append(10)
        var digits: [UInt8] = []
        QueueRecord.appendDecimal(contentLength, width: QueueRecord.contentLengthDigits, to: &digits)
        if contentLengthOffset >= flushed {
            let at = contentLengthOffset - flushed
            buffer.replaceSubrange(at..<(at + digits.count), with: digits)
        } else {
            let n = digits.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(contentLengthOffset)) }
            guard n == digits.count else { throw SystemError("write \(path)") }
        }
        buffer.append(contentsOf: trailer)
        trailer = []
        QueueRecord.appendHeader(QueueRecord.end, length: 0, to: &buffer)
        buffer.append(10)
    }

    static func appendRecipient(_ recipient: QueueRecipient, to buffer: inout [UInt8]) {
        if let original = recipient.originalRecipient {
            QueueRecord.append(QueueRecord.originalRecipient, original, to: &buffer)
        }
        if let orcpt = recipient.dsnOriginalRecipient {
            QueueRecord.append(QueueRecord.dsnOriginalRecipient, orcpt, to: &buffer)
        }
        if recipient.dsnNotify.rawValue != 0 {
            QueueRecord.append(QueueRecord.dsnNotify, String(recipient.dsnNotify.rawValue), to: &buffer)
        }
        let status = recipient.isDone ? "D" : "P"
        QueueRecord.append(QueueRecord.recipient, status + recipient.address, to: &buffer)
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeOut($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    func writeOut(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try FileIO.writeAll(descriptor, bytes)
        } catch let error as SystemError {
            throw SystemError("write \(path)", code: error.code)
        }
        flushed += bytes.count
    }
}
