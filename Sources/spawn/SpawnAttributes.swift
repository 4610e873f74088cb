// spawn(8)'s master.cf attributes (reference §2.5): `user=name[:group]` and
// `argv=command args…`, which must come last and takes the rest of the line. The
// refusals are Postfix's fatal errors: a missing attribute, an unknown name, and a
// command that would run as root or as the mail system owner.
import Glibc
import Shared

struct SpawnAttributes: Equatable {
    var user: String
    var group: String?
    /// The command and its arguments, run without a shell.
    var argv: [String]

    /// Parses the words after the options in master.cf's command column.
    static func parse(_ words: [String]) throws -> SpawnAttributes {
        var user: String?
        var group: String?
        var argv: [String]?
        var index = 0
        while index < words.count {
            let word = words[index]
            if word.hasPrefixIgnoringCase("user=") {
                let value = String(word.dropFirst(5))
                if let colon = value.firstIndex(of: ":") {
                    user = String(value[..<colon])
                    let g = String(value[value.index(after: colon)...])
                    group = g.isEmpty ? nil : g
                } else {
                    user = value
                }
            } else if word.hasPrefixIgnoringCase("argv=") {
                argv = [String(word.dropFirst(5))] + words[(index + 1)...]
                break
            } else {
                throw ConfigError("unknown attribute name: \(word)")
            }
            index += 1
        }
        guard let user else { throw ConfigError("missing user= attribute") }
        guard let argv, !argv[0].isEmpty else { throw ConfigError("missing argv= attribute") }
        return SpawnAttributes(user: user, group: group, argv: argv)
    }

    /// The uid and gid the command runs as, refused as Postfix refuses them: root, or
    /// the mail system owner (OWNERUID, OWNERGID).
    func identity(ownerUID: uid_t, ownerGID: gid_t) throws -> (uid: uid_t, gid: gid_t) {
        guard let account = Account.named(user) else { throw ConfigError("unknown user name: \(user)") }
        var gid = account.gid
        if let group {
            guard let g = groupID(group) else { throw ConfigError("unknown group name: \(group)") }
            gid = g
        }
        try SpawnAttributes.check(uid: account.uid, gid: gid, ownerUID: ownerUID, ownerGID: ownerGID)
        return (account.uid, gid)
    }

    static func check(uid: uid_t, gid: gid_t, ownerUID: uid_t, ownerGID: gid_t) throws {
        if uid == 0 { throw ConfigError("request to deliver as root") }
        if uid == ownerUID { throw ConfigError("request to deliver as mail system owner") }
        if gid == 0 { throw ConfigError("request to use privileged group id \(gid)") }
        if gid == ownerGID { throw ConfigError("request to use mail system owner group id \(gid)") }
    }
}
