// postsuper's operations on queue files (Postfix's postsuper.c): delete (with the
// message's defer and bounce logs), force expiry (the group-execute bit, which qmgr
// obeys), hold and release (release sets the file's time to now, so that qmgr's next
// deferred scan takes it at once), requeue (a copy through maildrop/, so that pickup
// runs cleanup again; pickup trusts it because it is owned by mail_owner and names its
// old queue ID), the structure check (queue IDs that do not match their inode, files in
// the wrong hashed subdirectory, stray files and logs) and the purge of temporary files
// left by crashes. Each operation logs per message when the queue ID was named, and
// counts for the summary lines.
import Glibc
import Shared

/// What one postsuper run does to the queue.
final class QueueMaintenance {
    /// Temporary files younger than this are left alone by -p: they may be in use.
    static let temporaryFileAge = 3600

    let queue: QueueDirectory
    /// Log `ID: removed` and the like (the IDs were named, not `ALL`).
    var logEach = true

    /// Maintenance of QUEUE.
    init(queue: QueueDirectory) {
        self.queue = queue
    }

    func note(_ id: String, _ text: String) {
        if logEach { Log.info("\(id): \(text)") }
    }

    /// Removes ID from QUEUE with its logs; true when there was a file to remove.
    func delete(_ id: String, from queueName: String) -> Bool {
        let path = queue.path(queue: queueName, queueID: id)
        guard unlink(path) == 0 else {
            if errno != ENOENT { Log.warning("remove \(path): \(errnoText())") }
            return false
        }
        removeLogs(id)
        note(id, "removed")
        return true
    }

    func removeLogs(_ id: String) {
        for log in [QueueDirectory.deferLog, QueueDirectory.bounceLog, "trace"] { try? queue.remove(id, queue: log) }
    }

    /// Marks ID in QUEUE for forced expiry; true when it was not marked before.
    func expire(_ id: String, in queueName: String) -> Bool {
        do {
            guard try queue.setForcedExpire(id, queue: queueName) else { return false }
        } catch {
            return false
        }
        note(id, "expired")
        return true
    }

    /// Moves ID from QUEUE to hold/; true when it moved.
    func hold(_ id: String, from queueName: String) -> Bool {
        guard queueName != QueueDirectory.hold, move(id, from: queueName, to: QueueDirectory.hold) else { return false }
        note(id, "placed on hold")
        return true
    }

    /// Moves ID from hold/ to deferred/, due now; true when it moved.
    func release(_ id: String, from queueName: String) -> Bool {
        guard queueName == QueueDirectory.hold, move(id, from: queueName, to: QueueDirectory.deferred) else { return false }
        try? queue.setTime(id, queue: QueueDirectory.deferred, seconds: Clock.now().seconds)
        note(id, "released from hold")
        return true
    }

    func move(_ id: String, from: String, to: String) -> Bool {
        do {
            try queue.move(id, from: from, to: to)
            return true
        } catch let error as SystemError where error.code == ENOENT {
            return false
        } catch {
            Log.warning("\(id): \(error)")
            return false
        }
    }

    /// Copies ID from QUEUE into maildrop/ for pickup (pending recipients only, with the
    /// old arrival time and `orig_id`), then removes it; true when it was requeued.
    func requeue(_ id: String, from queueName: String) -> Bool {
        let path = queue.path(queue: queueName, queueID: id)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno != ENOENT { Log.warning("open \(path): \(errnoText())") }
            return false
        }
        defer { close(fd) }
        do {
            let file = try QueueFile.read(descriptor: fd)
            let writer = try QueueFileWriter(directory: queue, queue: QueueDirectory.maildrop)
            writer.completeMode = 0o444
            var envelope = file.envelope
            envelope[QueueEnvelope.originalQueueIDKey] = id
            writer.envelope = envelope
            for var r in file.pendingRecipients {
                r.statusOffset = -1
                writer.addRecipient(r)
            }
            try file.readContent(descriptor: fd) { try writer.appendContent($0, newline: false) }
            try writer.commit()
        } catch {
            Log.warning("\(id): cannot requeue: \(error)")
            return false
        }
        unlink(path)
        removeLogs(id)
        note(id, "requeued")
        return true
    }

    // MARK: -s and -p

    /// The structure check: renames files whose queue ID does not match their inode, moves
    /// files into the hashed subdirectory they belong in, and removes stray files (names
    /// that are neither queue IDs nor temporary files, and logs of messages that are in no
    /// queue). Returns how many files were renamed.
    func checkStructure() -> Int {
        var renamed = 0
        var present: Set<String> = []
        for queueName in QueueLayout.messageQueues {
            walk(queueName) { directory, name in
                if QueueID.isValid(name) {
                    let id = fixName(queueName, directory, name)
                    if id != name { renamed += 1 }
                    present.insert(id)
                } else if !Self.isTemporaryName(name) {
                    removeStray(directory + "/" + name)
                }
            }
        }
        for logName in [QueueDirectory.deferLog, QueueDirectory.bounceLog, "trace"] {
            walk(logName) { directory, name in
                if !QueueID.isValid(name) || !present.contains(name) { removeStray(directory + "/" + name) }
            }
        }
        return renamed
    }

    /// Removes temporary files (`USEC.PID`) older than temporaryFileAge from the message
    /// queues; returns how many.
    func purgeTemporaryFiles() -> Int {
        var purged = 0
        let now = Clock.now().seconds
        for queueName in QueueLayout.messageQueues {
            walk(queueName) { directory, name in
                let path = directory + "/" + name
                guard Self.isTemporaryName(name), let identity = FileIO.identity(path),
                      now - identity.mtime / 1_000_000_000 >= Self.temporaryFileAge else { return }
                if unlink(path) == 0 {
                    Log.info("\(queueName)/\(name): removed temporary file")
                    purged += 1
                }
            }
        }
        return purged
    }

    /// `digits.digits`: the name a queue file has while it is written.
    static func isTemporaryName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }
    }

    /// Calls BODY with (directory, name) for every regular file under QUEUE, hashed
    /// subdirectories of any depth included.
    func walk(_ queueName: String, _ body: (String, String) -> Void) {
        func visit(_ directory: String, depth: Int) {
            for name in FileIO.list(directory) {
                let path = directory + "/" + name
                var st = stat()
                guard lstat(path, &st) == 0 else { continue }
                if st.st_mode & S_IFMT == S_IFDIR {
                    if depth < 16 { visit(path, depth: depth + 1) }
                } else {
                    body(directory, name)
                }
            }
        }
        visit(queue.path + "/" + queueName, depth: 0)
    }

    /// Gives the file NAME in DIRECTORY of QUEUENAME the queue ID of its inode and its
    /// proper place; returns the ID it ends up with.
    func fixName(_ queueName: String, _ directory: String, _ name: String) -> String {
        let path = directory + "/" + name
        var st = stat()
        guard stat(path, &st) == 0 else { return name }
        var id = name
        if QueueID.inode(of: name) != UInt64(st.st_ino) {
            id = QueueID.make(seconds: Int(st.st_mtim.tv_sec), micros: QueueID.microseconds(of: name) ?? 0,
                              inode: UInt64(st.st_ino), long: queue.longQueueIDs)
        }
        let target = queue.path(queue: queueName, queueID: id)
        guard target != path else { return id }
        if queue.hashedQueues.contains(queueName) { try? queue.makeHashDirectories(queue: queueName, queueID: id) }
        guard !FileIO.exists(target), rename(path, target) == 0 else {
            Log.warning("\(path): cannot rename to \(target): \(FileIO.exists(target) ? "file exists" : errnoText())")
            return name
        }
        Log.warning("\(queueName)/\(name): renamed to \(target.dropFirst(queue.path.utf8.count + 1))")
        if id != name {
            for log in [QueueDirectory.deferLog, QueueDirectory.bounceLog] {
                let old = queue.directory(queue: log, queueID: name) + "/" + name
                guard FileIO.exists(old) else { continue }
                if queue.hashedQueues.contains(log) { try? queue.makeHashDirectories(queue: log, queueID: id) }
                rename(old, queue.path(queue: log, queueID: id))
            }
        }
        return id
    }

    func removeStray(_ path: String) {
        if unlink(path) == 0 { Log.warning("\(path.dropFirst(queue.path.utf8.count + 1)): stray file removed") }
    }
}
