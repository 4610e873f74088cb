// The master's control socket (`pid/master.control` under the queue directory, mode 0600,
// owner-or-root only): `postern status` and `postern restart SERVICE` ask through it.
// Requests and replies are attribute lists with xtext values.
import Glibc

public enum MasterControl {
    /// The control socket's path relative to the queue directory.
    public static let relativePath = "pid/master.control"
    /// The pid file's path relative to the queue directory.
    public static let pidFile = "pid/master.pid"

    /// Sends REQUEST to the master of QUEUE and returns its reply.
    public static func request(queueDirectory: String, _ request: AttributeList, timeout: Int = 10) throws -> AttributeList {
        let fd = try Sockets.connectUnix(queueDirectory + "/" + relativePath, timeout: timeout)
        defer { close(fd) }
        let stream = BufferedStream(descriptor: fd, timeoutMs: timeout * 1000)
        stream.writeAttributes(request, xtext: true)
        try stream.flush()
        guard let reply = try stream.readAttributes(xtext: true) else { throw StreamError.closed }
        return reply
    }

    /// The pid of the running master of QUEUE, or nil when none runs. The master holds an
    /// exclusive lock on its pid file for as long as it lives.
    public static func runningPid(queueDirectory: String) -> Int32? {
        let path = queueDirectory + "/" + pidFile
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, F_GETLK, &lock) == 0, lock.l_type != Int16(F_UNLCK) else { return nil }
        return lock.l_pid
    }
}
