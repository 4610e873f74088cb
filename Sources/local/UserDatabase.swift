// The password database as local(8) asks it (Postfix's mypwd.c): a user by name (the
// recipient's local part) or by uid (the owner of an alias database or :include: file).
// "No such user" and "could not look" are different answers: the first bounces, the
// second defers.
import Glibc
import Shared

/// A user account: whose rights a delivery uses and what its environment says.
struct LocalUser: Equatable {
    var name: String
    var uid: uid_t
    var gid: gid_t
    var home: String
    var shell: String
}

/// Where local looks users up (the system, or the tests' invented users).
protocol UserDatabase {
    /// The user called NAME, nil when there is none; throws when the database fails.
    func user(named name: String) throws -> LocalUser?
    /// The user with UID, nil when there is none; throws when the database fails.
    func user(uid: uid_t) throws -> LocalUser?
}

/// The system's password database (getpwnam_r, getpwuid_r: files, NSS).
struct SystemUsers: UserDatabase {
    func user(named name: String) throws -> LocalUser? {
        try lookup("user \(name)") { entry, buffer, size, result in getpwnam_r(name, entry, buffer, size, result) }
    }

    func user(uid: uid_t) throws -> LocalUser? {
        try lookup("uid \(uid)") { entry, buffer, size, result in getpwuid_r(uid, entry, buffer, size, result) }
    }

    /// Runs CALL (a *_r lookup) with a buffer that grows until the entry fits.
    func lookup(
        _ what: String,
        _ call: (
            UnsafeMutablePointer<passwd>, UnsafeMutablePointer<CChar>, Int, UnsafeMutablePointer<UnsafeMutablePointer<passwd>?>
        ) -> Int32
    ) throws -> LocalUser? {
        var size = 4096
        while true {
            let entry = UnsafeMutablePointer<passwd>.allocate(capacity: 1)
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer {
                entry.deallocate()
                buffer.deallocate()
            }
            var result: UnsafeMutablePointer<passwd>?
            let rc = call(entry, buffer, size, &result)
            if rc == ERANGE && size < 1 << 20 {
                size *= 4
                continue
            }
            if rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM {
                guard let found = result?.pointee else { return nil }
                return LocalUser(
                    name: String(cString: found.pw_name), uid: found.pw_uid, gid: found.pw_gid,
                    home: String(cString: found.pw_dir), shell: String(cString: found.pw_shell))
            }
            throw SystemError("look up \(what) in the password database", code: rc)
        }
    }
}
