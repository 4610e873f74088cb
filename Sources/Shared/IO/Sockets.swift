// Creating, binding and connecting sockets: the listeners the master binds, the Unix
// sockets internal services talk over, and the client connections commands open.
import CSupport
import Glibc

public enum Sockets {
    static let streamFlags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)

    /// A listening TCP socket on ADDRESS (SO_REUSEADDR; IPV6_V6ONLY for IPv6).
    public static func listenInet(_ address: InetAddress, backlog: Int32) throws -> Int32 {
        var address = address
        let fd = socket(address.family, streamFlags, 0)
        guard fd >= 0 else { throw SystemError("socket") }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if address.family == AF_INET6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &on, socklen_t(MemoryLayout<Int32>.size))
        }
        if address.withSockaddr({ bind(fd, $0, $1) }) != 0 {
            let e = SystemError("bind \(address)")
            close(fd)
            throw e
        }
        guard listen(fd, backlog) == 0 else {
            let e = SystemError("listen \(address)")
            close(fd)
            throw e
        }
        return fd
    }

    /// A listening Unix socket at PATH (an old socket there is replaced), mode 0666:
    /// access is controlled by the directory, as in Postfix.
    public static func listenUnix(_ path: String, backlog: Int32, type: Int32 = Int32(SOCK_STREAM.rawValue)) throws -> Int32 {
        let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket") }
        unlink(path)
        var address = UnixAddress(path)
        let oldMask = umask(0)
        defer { umask(oldMask) }
        if address.withSockaddr({ bind(fd, $0, $1) }) != 0 {
            let e = SystemError("bind \(path)")
            close(fd)
            throw e
        }
        chmod(path, 0o666)
        if type == Int32(SOCK_STREAM.rawValue) && listen(fd, backlog) != 0 {
            let e = SystemError("listen \(path)")
            close(fd)
            throw e
        }
        return fd
    }

    /// Connects to a Unix stream socket, waiting at most TIMEOUT seconds.
    public static func connectUnix(_ path: String, timeout: Int = 10) throws -> Int32 {
        let fd = socket(AF_UNIX, streamFlags, 0)
        guard fd >= 0 else { throw SystemError("socket") }
        var address = UnixAddress(path)
        do {
            try connectWithTimeout(fd, timeout: timeout) { address.withSockaddr { connect(fd, $0, $1) } }
        } catch let e as SystemError {
            close(fd)
            throw SystemError("connect to \(path)", code: e.code)
        }
        return fd
    }

    /// Connects to a TCP address, waiting at most TIMEOUT seconds.
    public static func connectInet(_ address: InetAddress, timeout: Int = 30) throws -> Int32 {
        var address = address
        let fd = socket(address.family, streamFlags, 0)
        guard fd >= 0 else { throw SystemError("socket") }
        do {
            try connectWithTimeout(fd, timeout: timeout) { address.withSockaddr { connect(fd, $0, $1) } }
        } catch let e as SystemError {
            close(fd)
            throw SystemError("connect to \(address)", code: e.code)
        }
        return fd
    }

    static func connectWithTimeout(_ fd: Int32, timeout: Int, _ attempt: () -> Int32) throws {
        postern_set_nonblock(fd, 1)
        defer { postern_set_nonblock(fd, 0) }
        if attempt() == 0 { return }
        guard errno == EINPROGRESS || errno == EAGAIN else { throw SystemError("connect") }
        guard waitFor(fd, events: Int16(POLLOUT), timeoutMs: timeout * 1000) else {
            throw SystemError("connect", code: ETIMEDOUT)
        }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        if error != 0 { throw SystemError("connect", code: error) }
    }

    /// Waits until FD is ready for EVENTS; false on time-out. A negative time-out waits forever.
    @discardableResult
    public static func waitFor(_ fd: Int32, events: Int16, timeoutMs: Int) -> Bool {
        var p = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let n = poll(&p, 1, Int32(clamping: timeoutMs))
            if n < 0 && errno == EINTR { continue }
            return n > 0
        }
    }

    /// A connected pair of Unix stream sockets, close-on-exec.
    public static func pair() throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, streamFlags, 0, &fds) == 0 else { throw SystemError("socketpair") }
        return (fds[0], fds[1])
    }

    /// The peer address of a connected TCP socket, or nil for a Unix socket.
    public static func peerAddress(_ fd: Int32) -> InetAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard ok == 0, storage.ss_family == sa_family_t(AF_INET) || storage.ss_family == sa_family_t(AF_INET6) else {
            return nil
        }
        return InetAddress(storage: storage, length: length)
    }

    /// The local address of a bound TCP socket.
    public static func localAddress(_ fd: Int32) -> InetAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard ok == 0, storage.ss_family == sa_family_t(AF_INET) || storage.ss_family == sa_family_t(AF_INET6) else {
            return nil
        }
        return InetAddress(storage: storage, length: length)
    }
}
