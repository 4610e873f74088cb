// Facts about the running process: its name, its arguments, where its executable lives,
// and the machine's host name, without Foundation.
import Glibc

public enum ThisProcess {
    /// argv as strings.
    public static var arguments: [String] { CommandLine.arguments }

    /// The base name of argv[0] (`smtpd` for `/usr/libexec/postern/smtpd`).
    public static var name: String {
        let path = CommandLine.arguments.first ?? "postern"
        return String(path.split(separator: "/").last ?? Substring(path))
    }

    public static var id: Int32 { getpid() }

    /// The directory of the running executable (from /proc/self/exe), used as the default
    /// daemon and command directory so a build tree runs as it is.
    public static let executableDirectory: String = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return "." }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }()

    /// The value of an environment variable.
    public static func environment(_ name: String) -> String? {
        guard let p = getenv(name) else { return nil }
        return String(cString: p)
    }

    /// The environment as `NAME=value` strings.
    public static var environmentList: [String] {
        var result: [String] = []
        var p = environ
        while let entry = p.pointee {
            result.append(String(cString: entry))
            p += 1
        }
        return result
    }

    /// The machine's host name as gethostname(2) gives it.
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(cString: buffer)
    }

    public static var isRoot: Bool { geteuid() == 0 }
}

/// A user account from the password database.
public struct Account {
    public let name: String
    public let uid: uid_t
    public let gid: gid_t
    public let home: String
    public let shell: String
    public let gecos: String

    public static func named(_ name: String) -> Account? {
        guard let pw = getpwnam(name) else { return nil }
        return Account(pw.pointee)
    }

    public static func withID(_ uid: uid_t) -> Account? {
        guard let pw = getpwuid(uid) else { return nil }
        return Account(pw.pointee)
    }

    init(_ pw: passwd) {
        name = String(cString: pw.pw_name)
        uid = pw.pw_uid
        gid = pw.pw_gid
        home = String(cString: pw.pw_dir)
        shell = String(cString: pw.pw_shell)
        gecos = String(cString: pw.pw_gecos)
    }
}

/// The numeric id of a group, or nil.
public func groupID(_ name: String) -> gid_t? {
    guard let gr = getgrnam(name) else { return nil }
    return gr.pointee.gr_gid
}
