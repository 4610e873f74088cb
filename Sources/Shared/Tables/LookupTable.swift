// The lookup-table contract every table type implements (Postfix's DICT, dict_open(3)):
// a key goes in, a value or "not found" comes out, and a table that cannot be read says so
// with a thrown error. "Not found" must never stand in for "could not look": callers turn
// `TableError.unavailable` into a temporary failure (4xx, defer), never into a rejection.

/// Why a table could not answer.
public enum TableError: Error, Equatable, CustomStringConvertible {
    /// The table specification or the table's own text is wrong (unknown type, bad
    /// `inline:` syntax): the configuration must be fixed.
    case configuration(String)
    /// The table cannot be read right now (missing or unreadable file, read error):
    /// a temporary failure; the table is re-opened when its file reappears or changes.
    case unavailable(String)
    /// The table type cannot do what was asked (list its entries, be created by postmap).
    case unsupported(String)

    public var description: String {
        switch self {
        case .configuration(let text), .unavailable(let text), .unsupported(let text): return text
        }
    }
}

/// How keys are stored and looked up, as Postfix's DICT_FLAG_* bits.
public struct TableFlags: Hashable {
    /// Whether keys of fixed-string tables carry a trailing NUL byte (cdb files).
    public enum Nul: Hashable {
        /// Look up with the NUL, then without; remember whichever matched first.
        /// Creating a table in this mode writes keys and values without a NUL.
        case probe
        /// Always with a trailing NUL (`postmap -N`).
        case with
        /// Never with a trailing NUL (`postmap -n`).
        case without
    }

    /// Fold keys of fixed-string tables to lower case on creation and lookup (not `-f`).
    public var foldCase = true
    /// Fold non-ASCII letters too (smtputf8_enable = yes); otherwise ASCII only.
    public var unicodeFold = true
    public var nul = Nul.probe
    /// Allow `$1` substitution in regexp/pcre results (local(8) turns it off for aliases).
    public var regexSubstitution = true

    public init() {}

    /// The flags Postfix daemons and postmap use unless told otherwise.
    public static let standard = TableFlags()
}

/// One open lookup table of some type.
public protocol LookupTable: AnyObject {
    /// The table type (`cdb`, `pcre`…), as written before the colon.
    var type: String { get }
    /// The name Postfix shows in messages (for cdb the `.cdb` file, else the spec name).
    var name: String { get }
    /// True for fixed-string tables (cdb, texthash, inline, static, unix): partial
    /// access-map keys (parent domains, `user@`) are looked up only in those.
    var isFixed: Bool { get }
    /// Files whose change means the table must be re-opened.
    var files: [String] { get }
    /// The value stored for KEY, or nil when there is none.
    func lookup(_ key: String) throws(TableError) -> String?
    /// Every entry, for `postmap -s`; types that cannot list throw `.unsupported`.
    func entries() throws(TableError) -> [(key: String, value: String)]
}

extension LookupTable {
    public var files: [String] { [] }

    public func entries() throws(TableError) -> [(key: String, value: String)] {
        throw .unsupported("table \(type):\(name): sequence operation is not supported")
    }
}

/// A parsed `type:name` table specification.
public struct TableSpec: Hashable, CustomStringConvertible {
    public let type: String
    public let name: String

    public init(type: String, name: String) {
        self.type = type
        self.name = name
    }

    /// Parses `type:name` (the name may itself contain colons, as in `proxy:cdb:/x`).
    public init(parsing text: String) throws(TableError) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex,
            text.index(after: colon) != text.endIndex
        else {
            throw .configuration("open dictionary: expecting \"type:name\" form instead of \"\(text)\"")
        }
        type = String(text[..<colon])
        name = String(text[text.index(after: colon)...])
    }

    /// Parses SPEC, giving a bare file name the DEFAULTTYPE (`default_database_type`),
    /// as postmap and postalias do.
    public init(parsing text: String, defaultType: String) throws(TableError) {
        if !text.contains(":") && !text.isEmpty {
            self.init(type: defaultType, name: text)
        } else {
            try self.init(parsing: text)
        }
    }

    public var description: String { type + ":" + name }
}

/// KEY folded as fixed-string tables fold it; returns KEY itself (no allocation) when
/// there is nothing to fold.
@inline(__always)
func foldKey(_ key: String, _ flags: TableFlags) -> String {
    guard flags.foldCase else { return key }
    var upper = false
    var nonASCII = false
    for byte in key.utf8 {
        if byte >= 0x80 {
            nonASCII = true
            break
        }
        if byte >= 65 && byte <= 90 { upper = true }
    }
    if nonASCII && flags.unicodeFold { return key.lowercased() }
    return upper || nonASCII ? asciiFolded(key) : key
}

/// KEY with A-Z made a-z, built in one allocation (lookups fold every mixed-case key).
@inline(__always)
func asciiFolded(_ key: String) -> String {
    var key = key
    return key.withUTF8 { source in
        String(unsafeUninitializedCapacity: source.count) { target in
            for i in 0..<source.count {
                let byte = source[i]
                target[i] = byte >= 65 && byte <= 90 ? byte + 32 : byte
            }
            return source.count
        }
    }
}
