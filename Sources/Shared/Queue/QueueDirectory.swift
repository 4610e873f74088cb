// The queue directory as the programs that move mail see it (Postfix's mail_queue.c):
// where a queue file or per-message log of a given queue lives (with the hashed
// subdirectories of hash_queue_names), moving files between queues by rename, scanning a
// queue, removing files and setting a deferred file's time for back-off. Directory
// descriptors are opened once and kept, so creating and committing a queue file costs no
// extra open of the queue directory.
import CSupport
import Glibc

/// A queue directory tree and the operations on its files.
public final class QueueDirectory {
    /// Submissions from postdrop, read by pickup.
    public static let maildrop = "maildrop"
    /// New queue files from smtpd and pickup, complete once renamed to their queue ID.
    public static let incoming = "incoming"
    /// Messages qmgr is delivering.
    public static let active = "active"
    /// Messages waiting for a retry (hashed by default).
    public static let deferred = "deferred"
    /// Messages on hold until postsuper -H.
    public static let hold = "hold"
    /// Damaged queue files qmgr set aside.
    public static let corrupt = "corrupt"
    /// Per-message logs of deferred recipients (hashed by default).
    public static let deferLog = "defer"
    /// Per-message logs of bounced recipients.
    public static let bounceLog = "bounce"

    /// The queue directory (absolute, or relative to the working directory).
    public let path: String
    /// Queues whose files live in hashed subdirectories (hash_queue_names).
    public let hashedQueues: Set<String>
    /// Levels of hashed subdirectories (hash_queue_depth).
    public let hashDepth: Int
    /// Whether new queue files get long queue IDs (enable_long_queue_ids).
    public let longQueueIDs: Bool
    var descriptors: [String: Int32] = [:]

    /// The queue directory at PATH; the defaults are Postfix's hash_queue_names,
    /// hash_queue_depth and enable_long_queue_ids.
    public init(path: String, hashedQueues: Set<String> = ["deferred", "defer"], hashDepth: Int = 1, longQueueIDs: Bool = false) {
        self.path = path
        self.hashedQueues = hashedQueues
        self.hashDepth = max(0, hashDepth)
        self.longQueueIDs = longQueueIDs
    }

    /// The queue directory of CONFIG with its hash_queue_names, hash_queue_depth and
    /// enable_long_queue_ids settings.
    public convenience init(config: MainConfig) {
        self.init(path: config.value("queue_directory"), hashedQueues: Set(config.list("hash_queue_names")),
                  hashDepth: config.int("hash_queue_depth"), longQueueIDs: config.bool("enable_long_queue_ids"))
    }

    deinit {
        for fd in descriptors.values { close(fd) }
    }

    /// The directory that holds ID in QUEUE: `PATH/deferred/6` for a hashed queue,
    /// `PATH/incoming` otherwise.
    public func directory(queue: String, queueID: String) -> String {
        let base = path + "/" + queue
        guard hashedQueues.contains(queue) else { return base }
        let hash = QueueID.hashDirectory(for: queueID, depth: hashDepth)
        return hash.isEmpty ? base : base + "/" + hash
    }

    /// The path of ID's file in QUEUE.
    public func path(queue: String, queueID: String) -> String {
        directory(queue: queue, queueID: queueID) + "/" + queueID
    }

    /// An open descriptor of QUEUE's top directory, kept for the life of this object. A
    /// directory this process may write into but not read (maildrop/ for postdrop's
    /// group) is opened with O_PATH: files can be created and renamed in it, but it
    /// cannot be fsync'ed.
    func descriptor(queue: String) throws -> Int32 {
        if let fd = descriptors[queue] { return fd }
        let name = path + "/" + queue
        var fd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 && errno == EACCES { fd = postern_open_directory_path(name) }
        guard fd >= 0 else { throw SystemError("open \(name)") }
        descriptors[queue] = fd
        return fd
    }

    /// Moves ID from queue FROM to queue TO by rename, creating a missing hashed
    /// subdirectory of TO. Without an fsync: a move lost in a crash leaves the file in its
    /// old queue, which is safe.
    public func move(_ queueID: String, from: String, to: String) throws {
        let source = path(queue: from, queueID: queueID)
        let target = path(queue: to, queueID: queueID)
        if rename(source, target) == 0 { return }
        guard errno == ENOENT, hashedQueues.contains(to), FileIO.exists(source) else {
            throw SystemError("rename \(source) to \(target)")
        }
        try makeHashDirectories(queue: to, queueID: queueID)
        guard rename(source, target) == 0 else { throw SystemError("rename \(source) to \(target)") }
    }

    /// Creates the hashed subdirectories (mode 0700) that ID's files in QUEUE live in.
    public func makeHashDirectories(queue: String, queueID: String) throws {
        var directory = path + "/" + queue
        for level in QueueID.hashDirectory(for: queueID, depth: hashDepth).split(separator: "/") {
            directory += "/" + level
            if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw SystemError("mkdir \(directory)") }
        }
    }

    /// Removes ID's file from QUEUE. A file that is already gone is not an error.
    public func remove(_ queueID: String, queue: String) throws {
        let name = path(queue: queue, queueID: queueID)
        if unlink(name) != 0 && errno != ENOENT { throw SystemError("remove \(name)") }
    }

    /// Sets the access and modification time of ID's file in QUEUE to SECONDS: qmgr's
    /// deferred back-off (a deferred file becomes eligible once its mtime has passed).
    public func setTime(_ queueID: String, queue: String, seconds: Int) throws {
        let name = path(queue: queue, queueID: queueID)
        var times = [timeval(tv_sec: seconds, tv_usec: 0), timeval(tv_sec: seconds, tv_usec: 0)]
        guard utimes(name, &times) == 0 else { throw SystemError("utimes \(name)") }
    }

    /// Calls BODY with each queue ID in QUEUE, descending into the hashed subdirectories of
    /// a hashed queue. Names that are not queue IDs (temporary files) are skipped. The order
    /// is the directory's.
    public func scan(_ queue: String, _ body: (String) throws -> Void) rethrows {
        try scanDirectory(path + "/" + queue, depth: hashedQueues.contains(queue) ? hashDepth : 0, body)
    }

    /// The queue IDs in QUEUE (see scan).
    public func list(_ queue: String) -> [String] {
        var ids: [String] = []
        scan(queue) { ids.append($0) }
        return ids
    }

    func scanDirectory(_ directory: String, depth: Int, _ body: (String) throws -> Void) rethrows {
        for name in FileIO.list(directory) {
            if depth > 0 && name.utf8.count == 1 {
                try scanDirectory(directory + "/" + name, depth: depth - 1, body)
            } else if QueueID.isValid(name) {
                try body(name)
            }
        }
    }
}
