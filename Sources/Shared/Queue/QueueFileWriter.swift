// Writing a new queue file, as smtpd and pickup do (Postfix's mail_queue_enter and
// cleanup's commit): the file is created under a temporary name with O_EXCL, its queue ID
// comes from its inode at once, records and content go out in large buffered writes, and
// commit() makes it durable — end marker, fchmod 0700, one fsync of the file, rename to
// the queue ID, one fsync of the directory. Only after commit() returns may a client be
// told `250 Ok: queued`. Nothing here holds a whole message in memory.
import CSupport
import Glibc

/// Where message content goes as it is received: the queue file writer, or a test buffer.
public protocol MessageContentSink: AnyObject {
    /// Appends BYTES to the content, followed by a line feed when NEWLINE is set.
    func appendContent(_ bytes: UnsafeRawBufferPointer, newline: Bool) throws
}

/// One new queue file being written (see the file comment for the protocol).
public final class QueueFileWriter: MessageContentSink {
    enum Phase {
        /// Envelope and recipients are being collected; nothing is written yet.
        case envelope
        /// The content is being appended.
        case content
        case committed, aborted
    }

    /// The write buffer and the counts that go with it, kept together so that appending
    /// content is one access to one property.
    struct Output {
        var buffer: [UInt8] = []
        /// Bytes already written to the file (the file offset of buffer[0]).
        var flushed = 0
        /// Content bytes appended so far.
        var contentLength = 0

        /// Appends BYTES and a LF when NEWLINE is set; true when the buffer is full.
        mutating func appendContent(_ bytes: UnsafeRawBufferPointer, newline: Bool) -> Bool {
            buffer.append(contentsOf: bytes)
            if newline { buffer.append(10) }
            contentLength += bytes.count + (newline ? 1 : 0)
            return buffer.count >= QueueFileWriter.flushThreshold
        }
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
    /// Sender, arrival time (the creation time unless set) and attributes. Set them before
    /// the first content byte: changing them afterwards is a programming error and traps.
    public var envelope: QueueEnvelope {
        willSet { precondition(phase == .envelope, "queue file envelope changed after content started") }
    }
    /// Bytes of content appended so far: the message size.
    public var contentLength: Int { output.contentLength }
    /// Recipients added so far.
    public private(set) var recipientCount = 0
    /// The mode commit() gives the file: 0700, Postfix's complete queue file. postdrop's
    /// maildrop files get 0444, so that pickup (mail_owner) can read what a user owns.
    public var completeMode: mode_t = 0o700

    let directory: QueueDirectory
    let directoryDescriptor: Int32
    let temporaryName: String
    var descriptor: Int32
    var phase = Phase.envelope
    var renamed = false
    /// Recipients added before the content, written just before it.
    var leadingRecipients: [QueueRecipient] = []
    /// Records added after the content started, written after it.
    var trailer: [UInt8] = []
    var output = Output()
    /// File offset of the content record's fixed-width length digits.
    var contentLengthOffset = 0

    /// Creates a new queue file in QUEUE of DIRECTORY (mode 0600) and derives its queue ID
    /// from the inode. Where the kernel allows it the file has no name until commit()
    /// (O_TMPFILE), so a process killed mid-message leaves nothing behind; otherwise it
    /// has the temporary name `usec.pid`. Throws SystemError when it cannot be created.
    public init(directory: QueueDirectory, queue: String = QueueDirectory.incoming) throws {
        precondition(!directory.hashedQueues.contains(queue), "new queue files go into a queue without hashing")
        self.directory = directory
        self.queue = queue
        directoryDescriptor = try directory.descriptor(queue: queue)
        let unnamed = QueueFileWriter.unnamedFilesWork ? postern_open_tmpfile(directoryDescriptor, 0o600) : -1
        if unnamed >= 0 {
            var st = stat()
            guard fstat(unnamed, &st) == 0 else {
                let error = SystemError("fstat \(directory.path)/\(queue)")
                close(unnamed)
                throw error
            }
            let created = Clock.now()
            temporaryName = ""
            descriptor = unnamed
            creationTime = created
            queueID = QueueID.make(seconds: created.seconds, micros: created.micros, inode: UInt64(st.st_ino),
                                   long: directory.longQueueIDs)
            envelope = QueueEnvelope(arrivalSeconds: created.seconds, arrivalMicros: created.micros)
            output.buffer.reserveCapacity(Self.flushThreshold + 8192)
            return
        }
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
        output.buffer.reserveCapacity(Self.flushThreshold + 8192)
    }

    deinit {
        if phase == .envelope || phase == .content { abort() }
    }

    /// The file's current path (its temporary name until commit()).
    public var path: String {
        directory.path + "/" + queue + "/" + (renamed || temporaryName.isEmpty ? queueID : temporaryName)
    }

    /// Adds a recipient. Before the content it is written ahead of it; afterwards (recipients
    /// found while the content streamed, such as `sendmail -t`) it goes after the content.
    public func addRecipient(_ recipient: QueueRecipient) {
        recipientCount += 1
        switch phase {
        case .envelope:
            leadingRecipients.append(recipient)
        case .content:
            Self.appendRecipient(recipient, to: &trailer)
        case .committed, .aborted:
            preconditionFailure("recipient added to a finished queue file")
        }
    }

    /// Appends BYTES (and a line feed when NEWLINE is set) to the message content. Throws
    /// SystemError on a write error (ENOSPC, EIO, …); the file is then unusable.
    public func appendContent(_ bytes: UnsafeRawBufferPointer, newline: Bool) throws {
        if phase != .content { startContent() }
        if bytes.count >= Self.flushThreshold {
            try flush()
            try writeOut(bytes)
            output.flushed += bytes.count
            output.contentLength += bytes.count
            if newline { _ = output.appendContent(UnsafeRawBufferPointer(start: nil, count: 0), newline: true) }
        } else if output.appendContent(bytes, newline: newline) {
            try flush()
        }
    }

    /// Appends BYTES (and a line feed when NEWLINE is set) to the message content.
    public func appendContent(_ bytes: [UInt8], newline: Bool = false) throws {
        try bytes.withUnsafeBytes { try appendContent($0, newline: newline) }
    }

    /// Makes the file durable and visible under its queue ID: end marker, completeMode, fsync,
    /// rename, fsync of the directory. On failure the file is removed and the error thrown
    /// (SystemError); the message must then be refused with a temporary error.
    public func commit() throws {
        do {
            if phase != .content { startContent() }
            try finishRecords()
            try flush()
            guard fchmod(descriptor, completeMode) == 0 else { throw SystemError("fchmod \(path)") }
            if temporaryName.isEmpty {
                guard postern_link_tmpfile(descriptor, directoryDescriptor, queueID) == 0 else {
                    throw SystemError("link \(directory.path)/\(queue)/\(queueID)")
                }
            } else {
                guard renameat(directoryDescriptor, temporaryName, directoryDescriptor, queueID) == 0 else {
                    throw SystemError("rename \(path) to \(queueID)")
                }
            }
            renamed = true
            // One fsync after naming the file: the data and the journal entry of the new
            // name reach the disk together (ext4, xfs), so the directory needs no fsync.
            guard fsync(descriptor) == 0 else { throw SystemError("fsync \(path)") }
        } catch {
            abort()
            throw error
        }
        close(descriptor)
        descriptor = -1
        phase = .committed
    }

    /// Gives up on the file: closes and removes it. Safe to call more than once.
    public func abort() {
        guard phase == .envelope || phase == .content else { return }
        phase = .aborted
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        if renamed || !temporaryName.isEmpty { unlinkat(directoryDescriptor, renamed ? queueID : temporaryName, 0) }
    }

    /// Unnamed files need /proc to be named at commit (not there in a chroot jail).
    static let unnamedFilesWork = FileIO.exists("/proc/self/fd")

    /// Writes the version, envelope and leading recipient records and opens the content
    /// record with fixed-width length digits that commit() fills in.
    func startContent() {
        precondition(phase == .envelope, "content appended to a finished queue file")
        phase = .content
        var head: [UInt8] = []
        QueueRecord.append(QueueRecord.version, QueueRecord.versionText, to: &head)
        var time: [UInt8] = []
        QueueRecord.appendDecimal(envelope.arrivalSeconds, to: &time)
        time.append(UInt8(ascii: "."))
        QueueRecord.appendDecimal(envelope.arrivalMicros, width: 6, to: &time)
        QueueRecord.appendHeader(QueueRecord.time, length: time.count, to: &head)
        head.append(contentsOf: time)
        head.append(10)
        QueueRecord.append(QueueRecord.sender, envelope.sender, to: &head)
        if envelope.warningTime > 0 {
            QueueRecord.appendHeader(QueueRecord.warning, length: QueueRecord.warningDigits, to: &head)
            QueueRecord.appendDecimal(envelope.warningTime, width: QueueRecord.warningDigits, to: &head)
            head.append(10)
        }
        for attribute in envelope.attributes {
            QueueRecord.appendAttribute(attribute.name, attribute.value, to: &head)
        }
        for recipient in leadingRecipients { Self.appendRecipient(recipient, to: &head) }
        leadingRecipients = []
        head.append(QueueRecord.content)
        contentLengthOffset = output.flushed + output.buffer.count + head.count
        QueueRecord.appendDecimal(0, width: QueueRecord.contentLengthDigits, to: &head)
        head.append(UInt8(ascii: ":"))
        output.buffer.append(contentsOf: head)
    }

    /// Ends the content record, fills in its length, and appends the trailing records and
    /// the end marker.
    func finishRecords() throws {
        var digits: [UInt8] = []
        QueueRecord.appendDecimal(output.contentLength, width: QueueRecord.contentLengthDigits, to: &digits)
        if contentLengthOffset >= output.flushed {
            let at = contentLengthOffset - output.flushed
            output.buffer.replaceSubrange(at..<(at + digits.count), with: digits)
        } else {
            let n = digits.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(contentLengthOffset)) }
            guard n == digits.count else { throw SystemError("write \(path)") }
        }
        output.buffer.append(10)
        output.buffer.append(contentsOf: trailer)
        trailer = []
        QueueRecord.appendHeader(QueueRecord.end, length: 0, to: &output.buffer)
        output.buffer.append(10)
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
        QueueRecord.append(QueueRecord.recipient, status: recipient.isDone ? QueueRecord.done : QueueRecord.pending,
                           recipient.address, to: &buffer)
    }

    func flush() throws {
        guard !output.buffer.isEmpty else { return }
        let count = output.buffer.count
        try output.buffer.withUnsafeBytes { try writeOut($0) }
        output.flushed += count
        output.buffer.removeAll(keepingCapacity: true)
    }

    /// Writes BYTES to the file; the caller counts them in output.flushed.
    func writeOut(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try FileIO.writeAll(descriptor, bytes)
        } catch let error as SystemError {
            throw SystemError("write \(path)", code: error.code)
        }
    }
}
