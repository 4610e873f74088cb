// The in-memory table types (DATABASE_README, dict_thash.c, dict_inline.c, dict_static.c,
// dict_unix.c): `texthash:` reads a postmap source file directly, `inline:{ k=v, … }`
// lives in the spec itself, `static:text` answers every key, `unix:passwd.byname` and
// `unix:group.byname` read the system's account databases.
import Glibc

/// `texthash:/path`: the postmap source format, held in memory (no `.cdb` needed).
final class TextHashTable: LookupTable {
    let type = "texthash"
    let name: String
    let isFixed = true
    let flags: TableFlags
    var values: [String: String] = [:]
    var order: [String] = []

    var files: [String] { [name] }

    init(path: String, flags: TableFlags) throws(TableError) {
        name = path
        self.flags = flags
        let bytes = try TableSource.read(path, failure: "open database")
        for line in TableSource.logicalLines(bytes, path: path, warn: Log.warning) {
            switch TableSource.record(line.text) {
            case .skipped(let why):
                let suffix = why.hasSuffix("-- ignoring this line") ? "" : " -- ignoring this line"
                Log.warning("\(path), line \(line.line): \(why)\(suffix)")
            case .entry(let key, let value):
                if key.hasSuffix(":") { Log.warning("\(path), line \(line.line): \(TableSource.aliasFormatWarning)") }
                let folded = foldKey(key, flags)
                if values[folded] != nil {
                    Log.warning("\(path), line \(line.line): duplicate entry: \"\(key)\"")
                    continue
                }
                values[folded] = value
                order.append(folded)
            }
        }
    }

    func lookup(_ key: String) throws(TableError) -> String? {
        values[foldKey(key, flags)]
    }

    func entries() throws(TableError) -> [(key: String, value: String)] {
        order.map { ($0, values[$0]!) }
    }
}

/// `inline:{ key=value, { key = text with spaces } }`.
final class InlineTable: LookupTable {
    let type = "inline"
    let name: String
    let isFixed = true
    let flags: TableFlags
    var values: [String: String] = [:]
    var order: [String] = []

    init(text: String, flags: TableFlags) throws(TableError) {
        name = text
        self.flags = flags
        let need = "; need \"inline:{name=value...}\""
        guard text.hasPrefix("{") && text.hasSuffix("}") && text.count >= 2 else {
            throw .configuration("bad syntax: \"inline:\(text)\"\(need)")
        }
        let elements = splitList(String(text.dropFirst().dropLast()))
        guard !elements.isEmpty else { throw .configuration("empty table: \"inline:\(text)\"\(need)") }
        for element in elements {
            guard let equals = element.firstIndex(of: "=") else {
                throw .configuration("missing '=' after attribute name: \"inline:\(text)\"\(need)")
            }
            let key = foldKey(String(element[..<equals]).trimmed, flags)
            if values.updateValue(String(element[element.index(after: equals)...]).trimmed, forKey: key) == nil {
                order.append(key)
            }
        }
    }

    func lookup(_ key: String) throws(TableError) -> String? {
        values[foldKey(key, flags)]
    }

    func entries() throws(TableError) -> [(key: String, value: String)] {
        order.map { ($0, values[$0]!) }
    }
}

/// `static:text` or `static:{ text with spaces }`: the same answer for every key.
final class StaticTable: LookupTable {
    let type = "static"
    let name: String
    let isFixed = true
    let value: String

    init(text: String) {
        name = text
        value = stripBraces(text)
    }

    func lookup(_ key: String) throws(TableError) -> String? { value }
}

/// `unix:passwd.byname` (a passwd(5) line for a user name) and `unix:group.byname`
/// (a group(5) line for a group name).
final class UnixTable: LookupTable {
    let type = "unix"
    let name: String
    let isFixed = true
    let flags: TableFlags
    let groups: Bool

    init(name: String, flags: TableFlags) throws(TableError) {
        self.name = name
        self.flags = flags
        switch name {
        case "passwd.byname": groups = false
        case "group.byname": groups = true
        default: throw .configuration("unknown table: unix:\(name)")
        }
    }

    func lookup(_ key: String) throws(TableError) -> String? {
        let folded = foldKey(key, flags)
        return groups ? groupLine(folded) : passwdLine(folded)
    }

    func passwdLine(_ user: String) -> String? {
        guard let pw = getpwnam(user)?.pointee else { return nil }
        return [
            String(cString: pw.pw_name), String(cString: pw.pw_passwd), String(pw.pw_uid), String(pw.pw_gid),
            String(cString: pw.pw_gecos), String(cString: pw.pw_dir), String(cString: pw.pw_shell),
        ].joined(separator: ":")
    }

    func groupLine(_ group: String) -> String? {
        guard let gr = getgrnam(group)?.pointee else { return nil }
        var members: [String] = []
        var member = gr.gr_mem
        while let entry = member?.pointee {
            members.append(String(cString: entry))
            member = member! + 1
        }
        return String(cString: gr.gr_name) + ":" + String(cString: gr.gr_passwd) + ":\(gr.gr_gid):"
            + members.joined(separator: ",")
    }
}
