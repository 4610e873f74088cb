// The trigger skeleton (Postfix's trigger_server): a resident process woken by short
// messages on its socket (the master's `W` wake-up, a `A` "new mail" nudge). Each
// connection's bytes are read, the connection closed, and the handler called; the daemon
// may also keep its own timers on the event loop.
import CSupport
import Glibc

public final class TriggerServer {
    public let runtime: ServiceRuntime
    public let loop = EventLoop()
    /// Called with the bytes of each trigger request.
    public var onTrigger: ([UInt8]) -> Void = { _ in }

    public init(_ runtime: ServiceRuntime) {
        self.runtime = runtime
    }

    public func run() -> Never {
        runtime.serveEvents(on: loop) { [unowned self] fd in self.accept(fd) }
    }

    func accept(_ listener: Int32) {
        let fd = postern_accept4(listener, Int32(SOCK_CLOEXEC.rawValue))
        guard fd >= 0 else { return }
        // A trigger is a few bytes sent at once; don't let a silent client hold us up.
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while Sockets.waitFor(fd, events: Int16(POLLIN), timeoutMs: 1000) {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            request.append(contentsOf: buffer[0..<n])
            if request.count > 4096 { break }
        }
        close(fd)
        StatusChannel.report(StatusMessage.taken)
        onTrigger(request)
        StatusChannel.report(StatusMessage.available)
    }

    /// Sends TRIGGER to a trigger service's socket (e.g. `public/qmgr`) without waiting
    /// for a reply; false when nobody listens.
    @discardableResult
    public static func send(_ path: String, _ trigger: [UInt8]) -> Bool {
        guard let fd = try? Sockets.connectUnix(path, timeout: 1) else { return false }
        defer { close(fd) }
        return (try? FileIO.writeAll(fd, trigger)) != nil
    }
}
