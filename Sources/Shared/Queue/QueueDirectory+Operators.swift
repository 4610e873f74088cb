// What the operator commands (postsuper, postqueue, showq, postcat) and qmgr need from a
// queue directory besides moves and scans: the forced-expire flag that postsuper -e/-f
// sets and qmgr obeys (the group-execute bit of the queue file, Postfix's
// MAIL_QUEUE_STAT_EXPIRE), and finding which queue holds a queue ID.
import Glibc

extension QueueDirectory {
    /// The permission bit that marks a queue file for forced expiry (group execute).
    public static let forcedExpireBit: mode_t = S_IXGRP

    /// The queues postsuper acts on by default (-d, -h, -e, -f, -r): Postfix's list.
    public static let operatorQueues = [hold, incoming, active, deferred]

    /// Whether ID's file in QUEUE is marked for forced expiry. False when it is missing.
    public func isForcedExpire(_ queueID: String, queue: String) -> Bool {
        var st = stat()
        guard stat(path(queue: queue, queueID: queueID), &st) == 0 else { return false }
        return st.st_mode & Self.forcedExpireBit != 0
    }

    /// Marks ID's file in QUEUE for forced expiry. Returns false when it was marked
    /// already; throws SystemError when the file is missing or cannot be changed.
    @discardableResult
    public func setForcedExpire(_ queueID: String, queue: String) throws -> Bool {
        let name = path(queue: queue, queueID: queueID)
        var st = stat()
        guard stat(name, &st) == 0 else { throw SystemError("stat \(name)") }
        if st.st_mode & Self.forcedExpireBit != 0 { return false }
        guard chmod(name, (st.st_mode & 0o7777) | Self.forcedExpireBit) == 0 else { throw SystemError("chmod \(name)") }
        return true
    }

    /// The queues among QUEUES that hold a file named ID, in the order given.
    public func queues(holding queueID: String, among queues: [String]) -> [String] {
        queues.filter { FileIO.exists(path(queue: $0, queueID: queueID)) }
    }
}
