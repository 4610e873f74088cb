// Doing one piece of delivery work with a user's rights, as Postfix's set_eugid(3): the
// process stays root (real uid 0) and changes only its effective uid and gid and its
// supplementary groups, then changes back to root. Files are created, locked and
// written as the recipient, so ownership and quotas are the recipient's. Without root
// nothing changes: that is the development mode, where everything runs as the invoking
// user. Commands are not run here: they drop their rights for good (CommandDelivery).
import Glibc
import Shared

/// Whom to act as: an effective uid and gid and the supplementary groups.
struct Identity: Equatable {
    var uid: uid_t
    var gid: gid_t
    var groups: [gid_t]

    /// USER's uid, primary group and the groups /etc/group lists USER in.
    init(_ user: LocalUser) {
        self.init(uid: user.uid, gid: user.gid, groups: Privileges.groups(of: user.name, gid: user.gid))
    }

    init(uid: uid_t, gid: gid_t, groups: [gid_t]) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }
}

/// Switching the effective identity for a piece of work, and back to root.
enum Privileges {
    /// True when the process may change identity (its real uid is root).
    static var canSwitch: Bool { getuid() == 0 }

    nonisolated(unsafe) static var groupCache: [String: [gid_t]] = [:]
    nonisolated(unsafe) static var rootGroups: [gid_t]?

    /// The supplementary groups of NAME (with GID), cached for the life of the process.
    static func groups(of name: String, gid: gid_t) -> [gid_t] {
        let key = name + ":" + String(gid)
        if let known = groupCache[key] { return known }
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(count))
        while getgrouplist(name, gid, &list, &count) < 0 {
            list = [gid_t](repeating: 0, count: Int(count))
        }
        let groups = Array(list.prefix(Int(count)))
        groupCache[key] = groups
        return groups
    }

    /// Runs BODY as IDENTITY and returns to root afterwards. Throws when the switch is
    /// refused; a failure to return to root is fatal, since nothing after it would be safe.
    static func run<T>(as identity: Identity, _ body: () throws -> T) throws -> T {
        guard canSwitch, identity.uid != geteuid() || identity.gid != getegid() else { return try body() }
        if rootGroups == nil { rootGroups = currentGroups() }
        let groups = identity.groups.isEmpty ? [identity.gid] : identity.groups
        guard setgroups(groups.count, groups) == 0 else {
            throw SystemError("set groups for uid \(identity.uid)")
        }
        guard setegid(identity.gid) == 0 else {
            let failure = SystemError("set effective gid \(identity.gid)")
            returnToRoot()
            throw failure
        }
        guard seteuid(identity.uid) == 0 else {
            let failure = SystemError("set effective uid \(identity.uid)")
            returnToRoot()
            throw failure
        }
        defer { returnToRoot() }
        return try body()
    }

    static func returnToRoot() {
        let groups = rootGroups ?? [0]
        guard seteuid(0) == 0, setegid(0) == 0, setgroups(groups.count, groups) == 0 else {
            Log.fatal("cannot return to root privileges: \(errnoText())")
        }
    }

    static func currentGroups() -> [gid_t] {
        let count = getgroups(0, nil)
        guard count > 0 else { return [0] }
        var list = [gid_t](repeating: 0, count: Int(count))
        let n = getgroups(count, &list)
        return n > 0 ? Array(list.prefix(Int(n))) : [0]
    }
}
