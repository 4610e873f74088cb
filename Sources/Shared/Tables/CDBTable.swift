// cdb: tables (and hash:/btree:, which Postern serves from the same cdb files), read
// through tinycdb exactly as Postfix's dict_cdb.c reads them: the file is mmapped by
// cdb_init; a lookup tries the key with a trailing NUL, then without, and remembers which
// form the file uses. The value ends at its first NUL byte.
import CCDB
import Glibc

final class CDBTable: LookupTable {
    let type: String
    /// `PATH.cdb`, as Postfix names the table in messages.
    let name: String
    let isFixed = true
    let flags: TableFlags
    let database: UnsafeMutablePointer<cdb>
    let descriptor: Int32
    var tryWithNul: Bool
    var tryWithoutNul: Bool
    /// The folded key of the current lookup, reused so lookups do not allocate.
    var keyBuffer: UnsafeMutablePointer<UInt8>
    var keyCapacity = 256

    var files: [String] { [name] }

    /// Opens PATH.cdb.
    init(path: String, type: String, flags: TableFlags) throws(TableError) {
        self.type = type
        self.name = path + ".cdb"
        self.flags = flags
        tryWithNul = flags.nul != .without
        tryWithoutNul = flags.nul != .with
        // Everything that can fail happens before the last stored property is set, so a
        // failed init never runs deinit on half-made state.
        let fd = open(name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unavailable("open database \(name): \(errnoText())") }
        let opened = UnsafeMutablePointer<cdb>.allocate(capacity: 1)
        opened.initialize(to: cdb())
        guard cdb_init(opened, fd) == 0 else {
            let reason = errnoText()
            opened.deallocate()
            close(fd)
            throw .unavailable("unable to init \(name): \(reason)")
        }
        descriptor = fd
        database = opened
        keyBuffer = .allocate(capacity: keyCapacity)
        warnIfOlderThanSource(path)
    }

    deinit {
        cdb_free(database)
        database.deallocate()
        keyBuffer.deallocate()
        close(descriptor)
    }

    /// Postfix warns when the source file is newer than the database (unless the source
    /// changed only moments ago, when postmap may still be running).
    func warnIfOlderThanSource(_ source: String) {
        var database = stat()
        var text = stat()
        guard fstat(descriptor, &database) == 0, stat(source, &text) == 0 else { return }
        if text.st_mtim.tv_sec > database.st_mtim.tv_sec && text.st_mtim.tv_sec < time(nil) - 100 {
            Log.warning("database \(name) is older than source file \(source)")
        }
    }

    func lookup(_ key: String) throws(TableError) -> String? {
        var key = key
        if flags.foldCase && flags.unicodeFold && key.utf8.contains(where: { $0 >= 0x80 }) { key = key.lowercased() }
        let status = key.withUTF8 { find($0) }
        if status < 0 { throw .unavailable("error reading \(name): \(errnoText())") }
        if status == 0 { return nil }
        let size = postern_cdb_datalen(database)
        guard let data = cdb_get(database, size, postern_cdb_datapos(database)) else {
            throw .unavailable("error reading \(name): \(errnoText())")
        }
        let end = memchr(data, 0, Int(size)).map { $0 - UnsafeMutableRawPointer(mutating: data) } ?? Int(size)
        return String(decoding: UnsafeRawBufferPointer(start: data, count: end), as: UTF8.self)
    }

    /// Folds KEY into the reused key buffer (NUL-terminated) and searches for it with a
    /// trailing NUL, then without, remembering which form the file uses.
    @inline(__always)
    func find(_ key: UnsafeBufferPointer<UInt8>) -> Int32 {
        if key.count + 1 > keyCapacity {
            keyBuffer.deallocate()
            keyCapacity = max(key.count + 1, 2 * keyCapacity)
            keyBuffer = .allocate(capacity: keyCapacity)
        }
        for i in 0..<key.count {
            let byte = key[i]
            keyBuffer[i] = flags.foldCase && byte >= 65 && byte <= 90 ? byte + 32 : byte
        }
        keyBuffer[key.count] = 0
        let length = UInt32(key.count)
        var status: Int32 = 0
        if tryWithNul {
            status = cdb_find(database, keyBuffer, length + 1)
            if status > 0 { tryWithoutNul = false }
        }
        if status == 0 && tryWithoutNul {
            status = cdb_find(database, keyBuffer, length)
            if status > 0 { tryWithNul = false }
        }
        return status
    }
}

/// Builds a cdb file the way Postfix's dict_cdb.c does (tinycdb's cdb_make into
/// `PATH.cdb.tmp`, then a rename), so the bytes match `postmap cdb:PATH` exactly.
public final class CDBWriter {
    /// What a second record with the same key does (postmap's default, `-w`, `-r`).
    public enum Duplicates {
        /// Keep the first and warn (CDB_PUT_INSERT).
        case warn
        /// Store both quietly; lookups find the first (CDB_PUT_ADD).
        case ignore
        /// Keep the last (CDB_PUT_REPLACE).
        case replace
    }

    /// `PATH.cdb`.
    public let databasePath: String
    /// `PATH.cdb.tmp`, renamed over `databasePath` by `finish()`.
    public let temporaryPath: String
    /// The name duplicate warnings give (the source path, as Postfix shows it).
    public let name: String
    public var flags: TableFlags
    public var duplicates: Duplicates
    let maker: UnsafeMutablePointer<cdb_make>
    let descriptor: Int32
    var finished = false

    /// Starts `PATH.cdb.tmp`, locked against a concurrent builder.
    public init(path: String, flags: TableFlags = .standard, duplicates: Duplicates = .warn) throws(TableError) {
        databasePath = path + ".cdb"
        temporaryPath = path + ".cdb.tmp"
        name = path
        self.flags = flags
        self.duplicates = duplicates
        let fd = try CDBWriter.openLocked(temporaryPath)
        let started = UnsafeMutablePointer<cdb_make>.allocate(capacity: 1)
        guard cdb_make_start(started, fd) == 0 else {
            let reason = errnoText()
            started.deallocate()
            close(fd)
            throw .unavailable("initialize database \(temporaryPath): \(reason)")
        }
        descriptor = fd
        maker = started
    }

    deinit {
        if !finished {
            unlink(temporaryPath)
            close(descriptor)
        }
        maker.deallocate()
    }

    /// Opens and locks PATH, retrying when another builder renamed it away meanwhile.
    static func openLocked(_ path: String) throws(TableError) -> Int32 {
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw .unavailable("open database \(path): \(errnoText())") }
            var before = stat()
            var after = stat()
            guard fstat(fd, &before) == 0, flock(fd, LOCK_EX) == 0 else {
                let reason = errnoText()
                close(fd)
                throw .unavailable("lock \(path): \(reason)")
            }
            if stat(path, &after) == 0 && before.st_ino == after.st_ino && before.st_dev == after.st_dev
                && after.st_nlink > 0
            {
                if before.st_size > 0 { _ = ftruncate(fd, 0) }
                return fd
            }
            close(fd)
        }
    }

    /// Adds KEY (folded unless the flags say otherwise) with VALUE. Returns whether the
    /// record was stored: false for a duplicate kept out under `.warn` (and warned about).
    @discardableResult
    public func add(_ key: String, _ value: String) throws(TableError) -> Bool {
        let folded = foldKey(key, flags)
        let nul: UInt32 = flags.nul == .with ? 1 : 0
        let mode: cdb_put_mode
        switch duplicates {
        case .warn: mode = CDB_PUT_INSERT
        case .ignore: mode = CDB_PUT_ADD
        case .replace: mode = CDB_PUT_REPLACE
        }
        let result = folded.withCString { k in
            value.withCString { v in
                cdb_make_put(maker, k, UInt32(folded.utf8.count) + nul, v, UInt32(value.utf8.count) + nul, mode)
            }
        }
        if result < 0 { throw .unavailable("error writing \(temporaryPath): \(errnoText())") }
        if result > 0 && duplicates == .warn { Log.warning("\(name): duplicate entry: \"\(folded)\"") }
        return result == 0 || duplicates != .warn
    }

    /// Writes the index, syncs the file and renames it into place.
    public func finish() throws(TableError) {
        guard cdb_make_finish(maker) == 0 else {
            throw .unavailable("finish database \(temporaryPath): \(errnoText())")
        }
        guard fsync(descriptor) == 0 else { throw .unavailable("fsync \(temporaryPath): \(errnoText())") }
        guard rename(temporaryPath, databasePath) == 0 else {
            throw .unavailable("rename database from \(temporaryPath) to \(databasePath): \(errnoText())")
        }
        finished = true
        close(descriptor)
    }
}
