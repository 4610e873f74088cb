// Building a database table from its source file, as postmap and postalias do
// (postmap.c postmap(), postalias.c postalias(), mkmap(3)): only the cdb family can be
// built; the result is written to a temporary file and renamed into place, so a reader
// sees the old table or the new one, never half of one. As root, the build runs as the
// owner of the source file, and group/other read permissions follow the source file.
import Glibc

/// Builds database tables from source files (postmap, postalias).
public enum TableBuilder {
    /// How a build treats duplicates, ownership and permissions.
    public struct Options {
        public var duplicates = CDBWriter.Duplicates.warn
        /// As root, build as the source file's owner (not `-o`).
        public var asSourceOwner = true
        /// Drop group/other read permission when the source file lacks it (not `-p`).
        public var sourcePermissions = true

        public init() {}
    }

    /// What the source file holds.
    public enum Format {
        /// postmap's `key whitespace value` lines.
        case keyValue
        /// aliases(5) `name: value` entries, plus the `@` -> `@` record postalias adds.
        case aliases
    }

    /// Builds SPEC's database from the source file `SPEC.name`.
    public static func build(_ spec: TableSpec, format: Format, flags: TableFlags, options: Options) throws(TableError) {
        if spec.type == "proxy" { throw .unsupported("can't create maps via the proxy service") }
        guard TableRegistry.databaseTypes.contains(spec.type) else {
            if TableRegistry.kinds[spec.type] == nil { throw TableRegistry.unknownType(spec) }
            throw .unsupported("unsupported dictionary type: \(spec.type) does not support bulk-mode creation.")
        }
        let path = spec.name
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unavailable("open \(path): \(errnoText())") }
        var source = stat()
        fstat(fd, &source)
        close(fd)
        let bytes = try TableSource.read(path, failure: "open")

        let savedMask = options.sourcePermissions && (source.st_mode & S_IFMT) == S_IFREG
            ? umask(0o022 | (~source.st_mode & 0o077)) : nil
        let switched = options.asSourceOwner && getuid() == 0 && (source.st_uid != geteuid() || source.st_gid != getegid())
        if switched { becomeOwner(uid: source.st_uid, gid: source.st_gid) }
        defer { if switched { becomeOwner(uid: 0, gid: 0) } }
        let writer: CDBWriter
        do {
            writer = try CDBWriter(path: path, flags: flags, duplicates: options.duplicates)
            if let savedMask { umask(savedMask) }
        } catch {
            if let savedMask { umask(savedMask) }
            throw error
        }
        switch format {
        case .keyValue: try addRecords(bytes, path: path, to: writer)
        case .aliases:
            for entry in AliasFile.parse(bytes, path: path, warn: Log.warning) {
                try writer.add(entry.name, entry.value)
            }
            try writer.add("@", "@")
        }
        try writer.finish()
    }

    static func addRecords(_ bytes: [UInt8], path: String, to writer: CDBWriter) throws(TableError) {
        for line in TableSource.logicalLines(bytes, path: path, warn: Log.warning) {
            switch TableSource.record(line.text) {
            case .skipped(let why):
                Log.warning("\(path), line \(line.line): \(why)")
            case .entry(let key, let value):
                if key.hasSuffix(":") { Log.warning("\(path), line \(line.line): \(TableSource.aliasFormatWarning)") }
                try writer.add(key, value)
            }
        }
    }

    /// Sets the effective user and group (root first, so the switch works either way).
    static func becomeOwner(uid: uid_t, gid: gid_t) {
        _ = seteuid(0)
        _ = setegid(gid)
        _ = seteuid(uid)
    }
}
