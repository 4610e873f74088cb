// Whole-file reads and writes, directory creation and durable renames: the file
// operations configuration readers, table builders and the queue share.
import CSupport
import Glibc

public enum FileIO {
    /// Reads a whole file as bytes.
    public static func readBytes(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open \(path)") }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read \(path)")
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// Reads a whole file as text (invalid UTF-8 repaired).
    public static func readText(_ path: String) throws -> String {
        String(decoding: try readBytes(path), as: UTF8.self)
    }

    /// Writes all of BYTES to FD, retrying short writes and EINTR.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write")
            }
            offset += n
        }
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0) }
    }

    public static func writeAll(_ fd: Int32, _ text: String) throws {
        var text = text
        try text.withUTF8 { try writeAll(fd, UnsafeRawBufferPointer($0)) }
    }

    /// Replaces PATH with CONTENT atomically: written to `PATH.tmp`, fsync'ed, renamed.
    public static func writeAtomically(_ path: String, _ content: [UInt8], mode: mode_t = 0o644) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError("open \(temporary)") }
        do {
            try writeAll(fd, content)
            guard fsync(fd) == 0 else { throw SystemError("fsync \(temporary)") }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let e = SystemError("rename \(temporary) to \(path)")
            unlink(temporary)
            throw e
        }
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The modification time and inode of PATH, used to notice a changed file.
    public static func identity(_ path: String) -> (mtime: Int, inode: UInt64, size: Int)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec), UInt64(st.st_ino), Int(st.st_size))
    }

    /// Creates DIRECTORY if missing, then sets its mode and (when given) owner.
    public static func ensureDirectory(_ path: String, mode: mode_t, owner: uid_t? = nil, group: gid_t? = nil) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw SystemError("mkdir \(path)") }
        guard isDirectory(path) else { throw ConfigError("\(path) exists and is not a directory") }
        if chmod(path, mode) != 0 { throw SystemError("chmod \(path)") }
        if owner != nil || group != nil {
            if chown(path, owner ?? uid_t.max, group ?? gid_t.max) != 0 { throw SystemError("chown \(path)") }
        }
    }

    /// Flushes a directory's entries (after a rename into it) to disk.
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// The names in a directory, without `.` and `..`.
    public static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
