// The queue directory's layout, owners and modes (Postfix's): what `postern check`
// creates and repairs, and what the master and daemons expect to find.
import Glibc

public enum QueueLayout {
    public struct Directory {
        public let name: String
        public let mode: mode_t
        /// Owned by mail_owner (else root); group setgid_group when set.
        public let ownedByMailOwner: Bool
        public let setgidGroup: Bool
    }

    /// The queues that hold message files.
    public static let messageQueues = ["maildrop", "incoming", "active", "deferred", "hold", "corrupt", "saved"]
    /// Per-message log directories.
    public static let logQueues = ["defer", "bounce", "trace", "flush"]

    public static let directories: [Directory] =
        [Directory(name: "maildrop", mode: 0o730, ownedByMailOwner: true, setgidGroup: true)]
        + (messageQueues.dropFirst() + logQueues).map { Directory(name: $0, mode: 0o700, ownedByMailOwner: true, setgidGroup: false) }
        + [
            Directory(name: "private", mode: 0o700, ownedByMailOwner: true, setgidGroup: false),
            Directory(name: "public", mode: 0o710, ownedByMailOwner: true, setgidGroup: true),
            Directory(name: "pid", mode: 0o755, ownedByMailOwner: false, setgidGroup: false),
        ]

    /// Creates the queue directory tree of CONFIG with the right owners and modes. As root
    /// the owners are mail_owner and setgid_group; otherwise everything stays the caller's.
    public static func create(_ config: MainConfig) throws {
        let queue = config.value("queue_directory")
        var owner: uid_t?
        var group: gid_t?
        var ownerGroup: gid_t?
        if geteuid() == 0 {
            let name = config.value("mail_owner")
            guard let account = Account.named(name) else {
                throw ConfigError("\(config.origin("mail_owner")): parameter mail_owner: unknown user name value: \(name)")
            }
            guard account.uid != 0 else {
                throw ConfigError("\(config.origin("mail_owner")): parameter mail_owner: user \(name) has privileged user ID")
            }
            let groupName = config.value("setgid_group")
            guard let gid = groupID(groupName) else {
                throw ConfigError("\(config.origin("setgid_group")): parameter setgid_group: unknown group name: \(groupName)")
            }
            owner = account.uid
            ownerGroup = account.gid
            group = gid
        }
        try ensureParents(queue)
        try FileIO.ensureDirectory(queue, mode: 0o755, owner: owner == nil ? nil : 0, group: owner == nil ? nil : 0)
        for d in directories {
            let path = queue + "/" + d.name
            if owner == nil {
                try FileIO.ensureDirectory(path, mode: d.mode)
            } else {
                try FileIO.ensureDirectory(path, mode: d.mode, owner: d.ownedByMailOwner ? owner : 0,
                                           group: d.setgidGroup ? group : (d.ownedByMailOwner ? ownerGroup : 0))
            }
        }
        let data = config.value("data_directory")
        try ensureParents(data)
        try FileIO.ensureDirectory(data, mode: 0o700, owner: owner, group: ownerGroup)
    }

    static func ensureParents(_ path: String) throws {
        var prefix = ""
        for part in path.split(separator: "/").dropLast() {
            prefix += "/" + part
            if !FileIO.isDirectory(prefix) { try FileIO.ensureDirectory(prefix, mode: 0o755) }
        }
    }
}
