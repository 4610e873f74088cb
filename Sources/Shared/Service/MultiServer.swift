// The multi-client skeleton (Postfix's multi_server): one resident process serves many
// connections from an event loop; each request is a callback. Reports TAKEN/AVAIL around
// each request so the master counts its use, and exits when the master closes fd 5.
import CSupport
import Glibc

public final class MultiServer {
    public let runtime: ServiceRuntime
    public let loop = EventLoop()
    /// Called with each new connection's stream; return false to refuse it.
    public var onConnect: (BufferedStream) -> Bool = { _ in true }
    /// Called when a connection has input; return false to close it.
    public var onReadable: (BufferedStream) -> Bool = { _ in false }
    /// Called when a connection closes.
    public var onDisconnect: (BufferedStream) -> Void = { _ in }
    /// Called once when the process exits because the master went away.
    public var onExit: () -> Void = {}
    var clients: [Int32: BufferedStream] = [:]

    public init(_ runtime: ServiceRuntime) {
        self.runtime = runtime
    }

    /// Runs forever (exits when the master goes away).
    public func run() -> Never {
        runtime.serveEvents(on: loop, accept: { [unowned self] fd in self.accept(fd) }, beforeExit: { [unowned self] in self.onExit() })
    }

    func accept(_ listener: Int32) {
        let fd = postern_accept4(listener, Int32(SOCK_CLOEXEC.rawValue))
        guard fd >= 0 else { return }
        let stream = BufferedStream(descriptor: fd, timeoutMs: 10_000)
        guard onConnect(stream) else {
            close(fd)
            return
        }
        clients[fd] = stream
        loop.watch(fd) { [unowned self] fd, _ in self.serve(fd) }
    }

    func serve(_ fd: Int32) {
        guard let stream = clients[fd] else { return }
        StatusChannel.report(StatusMessage.taken)
        var keep = onReadable(stream)
        // Pipelined requests already buffered are served now.
        while keep && stream.bufferedCount > 0 { keep = onReadable(stream) }
        StatusChannel.report(StatusMessage.available)
        if !keep { disconnect(fd) }
    }

    public func disconnect(_ fd: Int32) {
        guard let stream = clients.removeValue(forKey: fd) else { return }
        loop.unwatch(fd)
        onDisconnect(stream)
        close(fd)
    }
}
