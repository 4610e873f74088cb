// The registry of table types, keyed by type name (Postfix's dict_open.c), and the
// process-wide cache of open tables: a table is opened once per process, and re-opened
// when its file changes (a long-lived daemon must see a new `postmap` without a restart).
// A table whose file cannot be opened stays in the cache as an unavailable table whose
// every lookup throws `.unavailable` until the file is back (Postfix's surrogate dict).
import Glibc

/// The table types by name, and the tables this process has open.
public enum TableRegistry {
    /// Opens the table NAME of one type with FLAGS.
    public typealias Opener = (_ name: String, _ flags: TableFlags) throws(TableError) -> LookupTable

    struct Kind {
        let isFixed: Bool
        let opener: Opener
    }

    struct CacheKey: Hashable {
        let spec: TableSpec
        let flags: TableFlags
    }

    /// The types that `postmap` and `postalias` can create; all are served by cdb files.
    public static let databaseTypes: Set<String> = ["cdb", "hash", "btree"]

    nonisolated(unsafe) static var kinds: [String: Kind] = builtinKinds()
    nonisolated(unsafe) static var cache: [CacheKey: Table] = [:]

    static func builtinKinds() -> [String: Kind] {
        var kinds: [String: Kind] = [:]
        for type in databaseTypes {
            kinds[type] = Kind(isFixed: true) { name, flags throws(TableError) in
                try CDBTable(path: name, type: type, flags: flags)
            }
        }
        kinds["texthash"] = Kind(isFixed: true) { name, flags throws(TableError) in try TextHashTable(path: name, flags: flags) }
        kinds["inline"] = Kind(isFixed: true) { name, flags throws(TableError) in try InlineTable(text: name, flags: flags) }
        kinds["static"] = Kind(isFixed: true) { name, _ throws(TableError) in StaticTable(text: name) }
        kinds["unix"] = Kind(isFixed: true) { name, flags throws(TableError) in try UnixTable(name: name, flags: flags) }
        kinds["pcre"] = Kind(isFixed: false) { name, flags throws(TableError) in
            try PatternTable(name: name, flags: flags, dialect: .pcre)
        }
        kinds["regexp"] = Kind(isFixed: false) { name, flags throws(TableError) in
            try PatternTable(name: name, flags: flags, dialect: .regexp)
        }
        kinds["cidr"] = Kind(isFixed: false) { name, _ throws(TableError) in try CIDRTable(name: name) }
        kinds["proxy"] = Kind(isFixed: true) { name, flags throws(TableError) in
            try openTable(TableSpec(parsing: name), flags: flags)
        }
        return kinds
    }

    /// Adds (or replaces) a table type.
    public static func register(_ type: String, isFixed: Bool, opener: @escaping Opener) {
        kinds[type] = Kind(isFixed: isFixed, opener: opener)
    }

    /// The known type names, sorted (what `postconf -m` lists).
    public static var typeNames: [String] { kinds.keys.sorted() }

    /// Whether tables of SPEC's type hold fixed strings (see `LookupTable.isFixed`).
    public static func isFixed(_ spec: TableSpec) throws(TableError) -> Bool {
        if spec.type == "proxy" { return try isFixed(TableSpec(parsing: spec.name)) }
        guard let kind = kinds[spec.type] else { throw unknownType(spec) }
        return kind.isFixed
    }

    /// Opens SPEC afresh, outside the cache; any problem is thrown. For commands such as
    /// postmap, which report and stop.
    public static func openTable(_ spec: TableSpec, flags: TableFlags = .standard) throws(TableError) -> LookupTable {
        guard let kind = kinds[spec.type] else { throw unknownType(spec) }
        return try kind.opener(spec.name, flags)
    }

    /// The process-wide table for SPEC (`type:name`), opened on first use. Only a
    /// configuration error is thrown here; a file that cannot be read makes a table whose
    /// lookups throw `.unavailable` until the file can be read.
    public static func open(_ spec: String, flags: TableFlags = .standard) throws(TableError) -> Table {
        let parsed = try TableSpec(parsing: spec)
        let key = CacheKey(spec: parsed, flags: flags)
        if let table = cache[key] { return table }
        let table = try Table(spec: parsed, flags: flags, isFixed: isFixed(parsed))
        cache[key] = table
        return table
    }

    /// The tables a parameter lists (`alias_maps = cdb:/etc/aliases, pcre:/etc/x.pcre`).
    public static func openList(_ value: String, flags: TableFlags = .standard) throws(TableError) -> TableList {
        var tables: [Table] = []
        for spec in splitList(value) { tables.append(try open(spec, flags: flags)) }
        return TableList(tables)
    }

    /// Forgets every cached table (tests, and a daemon that re-reads its configuration).
    public static func closeAll() {
        cache.removeAll()
    }

    static func unknownType(_ spec: TableSpec) -> TableError {
        .configuration("unsupported dictionary type: \(spec.type)")
    }
}

/// A file's identity for change detection.
struct FileIdentity: Equatable {
    let mtime: Int
    let inode: UInt64
    let size: Int

    init?(_ path: String) {
        guard let id = FileIO.identity(path) else { return nil }
        mtime = id.mtime
        inode = id.inode
        size = id.size
    }
}

/// A table as daemons hold it: opened once, re-opened when its files change (checked at
/// most once per `checkInterval` seconds, at lookup time), and unavailable rather than
/// empty while its file cannot be read.
public final class Table {
    public let spec: TableSpec
    public let flags: TableFlags
    /// See `LookupTable.isFixed`.
    public let isFixed: Bool
    /// Seconds between checks of the table's files; negative = never check.
    nonisolated(unsafe) public static var checkInterval = 1

    var current: LookupTable?
    var failure: TableError?
    var identities: [FileIdentity?] = []
    var nextCheck = 0

    init(spec: TableSpec, flags: TableFlags, isFixed: Bool) throws(TableError) {
        self.spec = spec
        self.flags = flags
        self.isFixed = isFixed
        try reopen(now: time(nil))
    }

    /// The value for KEY, nil when not found; throws `.unavailable` while the table
    /// cannot be read.
    @inline(__always)
    public func lookup(_ key: String) throws(TableError) -> String? {
        if Table.checkInterval >= 0 {
            let now = time(nil)
            if now >= nextCheck { try refresh(now: now) }
        }
        guard let current else { throw failure ?? .unavailable("table \(spec): not open") }
        return try current.lookup(key)
    }

    /// The files behind the open table (empty while it cannot be read): local(8) takes an
    /// alias entry's rights from its file's owner.
    public var files: [String] { current?.files ?? [] }

    /// Re-opens the table now if its files changed or it could not be opened before.
    public func refresh() throws(TableError) {
        try refresh(now: time(nil))
    }

    func refresh(now: Int) throws(TableError) {
        nextCheck = now + Table.checkInterval
        guard let current else { return try reopen(now: now) }
        if current.files.map(FileIdentity.init) != identities { try reopen(now: now) }
    }

    func reopen(now: Int) throws(TableError) {
        nextCheck = now + Table.checkInterval
        do {
            let opened = try TableRegistry.openTable(spec, flags: flags)
            current = opened
            failure = nil
            // A file changed in the last two seconds may have changed again while it was
            // being read: leave its identity unknown, so the next check re-opens it.
            identities = opened.files.map { path in
                FileIdentity(path).flatMap { now - $0.mtime / 1_000_000_000 < 2 ? nil : $0 }
            }
        } catch {
            if case .configuration = error { throw error }
            if failure == nil { Log.warning("\(spec): \(error)") }
            current = nil
            failure = error
        }
    }
}

/// Several tables searched in order, as Postfix searches `alias_maps` or
/// `transport_maps` (maps_find): the first table that has the key answers; a table
/// that cannot be read stops the search with its error.
public final class TableList {
    public let tables: [Table]

    public init(_ tables: [Table]) {
        self.tables = tables
    }

    /// The first value for KEY. A PARTIAL key (a parent domain, `user@`) is looked up
    /// only in fixed-string tables.
    public func lookup(_ key: String, partial: Bool = false) throws(TableError) -> String? {
        for table in tables where !partial || table.isFixed {
            if let value = try table.lookup(key) { return value }
        }
        return nil
    }
}
