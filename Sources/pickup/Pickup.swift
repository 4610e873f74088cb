// pickup's work (Postfix's pickup.c with cleanup in-process): each file in maildrop/ is
// read with the fuzz-robust queue file reader, run through cleanup into a new queue file
// in incoming/, committed, and only then removed from maildrop/; qmgr is nudged. A
// user's submission gets pickup's Received: header (`by HOST (Postern, from userid N)`,
// N being the file's owner, which a user cannot fake; postdrop's `uid` attribute is
// only kept for postcat), its sender and recipients qualified with myorigin, and the
// missing Message-Id:/Date:/From: headers, and its envelope rewritten as smtpd rewrites
// one (canonical maps, masquerading, virtual aliases). A file that postsuper -r wrote (owned by
// pickup's own user and carrying `orig_id`) keeps its content, arrival time and
// attributes. What a user may have put in maildrop/ is untrusted: anything that is not
// a regular file with one link is removed; what cannot be read, or what cleanup refuses
// (a mail loop), goes to corrupt/, so that nothing sendmail accepted is lost unseen.
import Glibc
import Shared

final class Pickup {
    let queue: QueueDirectory
    let cleanupSettings: CleanupSettings
    let resolver: AddressResolver
    /// canonical, masquerading and virtual alias rewriting, as smtpd applies it.
    let rewriter: AddressRewriter
    let qmgrSocket: String

    /// pickup for CONFIG; throws when a table the address resolver needs cannot be opened.
    init(config: MainConfig) throws {
        queue = QueueDirectory(config: config)
        var settings = CleanupSettings(config: config)
        // postdrop held the user's content to message_size_limit; the headers cleanup adds
        // must not push an accepted message over it.
        settings.messageSizeLimit = 0
        cleanupSettings = settings
        resolver = try AddressResolver(config: config)
        rewriter = try AddressRewriter(config: config, resolver: resolver)
        qmgrSocket = config.value("queue_directory") + "/public/" + config.value("queue_service_name")
    }

    /// Picks up everything in maildrop/.
    func scan() {
        for id in queue.list(QueueDirectory.maildrop) { pickUp(id) }
    }

    /// Moves one maildrop file into incoming/ through cleanup.
    func pickUp(_ maildropID: String) {
        let path = queue.path(queue: QueueDirectory.maildrop, queueID: maildropID)
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno != ENOENT { discard(maildropID, "cannot open: \(errnoText())") }
            return
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return Log.warning("\(maildropID): fstat: \(errnoText())") }
        guard st.st_mode & S_IFMT == S_IFREG else { return discard(maildropID, "uid=\(st.st_uid): not a regular file") }
        guard st.st_nlink == 1 else { return discard(maildropID, "uid=\(st.st_uid): file has \(st.st_nlink) links") }
        let file: QueueFile
        do {
            file = try QueueFile.read(descriptor: fd)
            guard !file.pendingRecipients.isEmpty else { throw QueueFileError.corrupt(offset: 0, reason: "no recipients") }
        } catch {
            return setAside(maildropID, "uid=\(st.st_uid): \(error)")
        }
        let requeued = st.st_uid == geteuid() && file.envelope[QueueEnvelope.originalQueueIDKey] != nil
        do {
            if let rejection = try copy(file, from: fd, owner: Int(st.st_uid), modified: Int(st.st_mtim.tv_sec), requeued: requeued) {
                return setAside(maildropID, "uid=\(st.st_uid): message rejected: \(rejection.text); from=<\(file.envelope.sender)>")
            }
        } catch {
            // Nothing is lost: the maildrop file stays for the next scan.
            return Log.warning("\(maildropID): uid=\(st.st_uid): cannot queue: \(error)")
        }
        if unlink(path) != 0 { Log.warning("\(maildropID): remove \(path): \(errnoText())") }
        TriggerServer.send(qmgrSocket, [UInt8(ascii: "A")])
    }

    /// Writes FILE (open on FD) as a new queue file in incoming/; cleanup's refusal, if it
    /// refused the message (nothing is queued then).
    func copy(_ file: QueueFile, from fd: Int32, owner: Int, modified: Int, requeued: Bool) throws -> CleanupRejection? {
        let writer = try QueueFileWriter(directory: queue)
        let given = file.envelope
        // A table that cannot be read throws: the maildrop file waits for the next scan.
        let sender = requeued ? given.sender : try rewriter.sender(given.sender)
        var envelope = QueueEnvelope(arrivalSeconds: given.arrivalSeconds, arrivalMicros: given.arrivalMicros, sender: sender)
        for attribute in given.attributes where !Self.maildropOnly.contains(attribute.name) {
            envelope.attributes.append(attribute)
        }
        envelope.warningTime = requeued ? given.warningTime : cleanupSettings.warningTime(arrival: given.arrivalSeconds)
        writer.envelope = envelope
        for r in file.pendingRecipients {
            var recipient = r
            recipient.isDone = false
            recipient.statusOffset = -1
            guard !requeued else {
                writer.addRecipient(recipient)
                continue
            }
            recipient.originalRecipient = r.address
            for address in try rewriter.recipients(r.address) {
                recipient.address = address
                writer.addRecipient(recipient)
            }
        }
        let origin = given[QueueEnvelope.originalQueueIDKey].map { " orig_id=" + $0 } ?? ""
        Log.info("\(writer.queueID): uid=\(owner) from=<\(given.sender)>\(origin)")
        let received = requeued ? "" : ReceivedHeader.pickup(
            myhostname: cleanupSettings.myhostname, mailName: cleanupSettings.mailName, uid: owner,
            queueID: writer.queueID, time: modified)
        let message = CleanupMessage(
            queueID: writer.queueID, queueFileTime: writer.creationTime.seconds, arrivalTime: given.arrivalSeconds,
            sender: sender, fullName: given[QueueEnvelope.fullNameKey], addMissingHeaders: true, receivedHeader: received)
        var cleanup = Cleanup(settings: cleanupSettings, message: message, output: writer)
        try file.readContent(descriptor: fd) { chunk in try Self.feedLines(chunk, to: &cleanup) }
        try cleanup.finish()
        if let rejection = cleanup.rejection {
            writer.abort()
            return rejection
        }
        try writer.commit()
        Log.info("\(writer.queueID): message-id=\(cleanup.messageID ?? "<>")")
        return nil
    }

    /// Attributes that describe the maildrop file itself and stop there.
    static let maildropOnly: Set<String> = [QueueEnvelope.submitterKey, QueueEnvelope.originalQueueIDKey]

    /// Feeds the lines of CHUNK to CLEANUP; a line cut at the chunk's end goes on in the
    /// next chunk.
    static func feedLines(_ chunk: UnsafeRawBufferPointer, to cleanup: inout Cleanup) throws {
        var start = 0
        while start < chunk.count {
            guard let nl = chunk[start...].firstIndex(of: 10) else {
                try cleanup.feed(UnsafeRawBufferPointer(rebasing: chunk[start...]), partial: true)
                return
            }
            try cleanup.feed(UnsafeRawBufferPointer(rebasing: chunk[start..<nl]))
            start = nl + 1
        }
    }

    /// Removes a maildrop file that is not a message, with a warning saying why.
    func discard(_ maildropID: String, _ reason: String) {
        Log.warning("\(maildropID): \(reason): removed")
        try? queue.remove(maildropID, queue: QueueDirectory.maildrop)
    }

    /// Moves a maildrop file that cannot be queued to corrupt/, where postcat shows it,
    /// with a warning saying why.
    func setAside(_ maildropID: String, _ reason: String) {
        Log.warning("\(maildropID): \(reason): moving to corrupt queue")
        if (try? queue.move(maildropID, from: QueueDirectory.maildrop, to: QueueDirectory.corrupt)) == nil {
            discard(maildropID, "cannot move to the corrupt queue")
        }
    }
}
