// The single-client skeleton (Postfix's single_server): wait for a connection on the
// listen sockets, accept it, report TAKEN, serve it, report AVAIL. Exit after max_use
// clients, after max_idle seconds without one, or when the master closes fd 5; never
// while a client is being served.
import CSupport
import Glibc

public enum SingleServer {
    /// Runs the accept loop; SERVE gets each connected descriptor (closed afterwards).
    public static func run(_ runtime: ServiceRuntime, serve: (Int32) -> Void) -> Never {
        for fd in runtime.listenDescriptors { postern_set_nonblock(fd, 1) }
        var served = 0
        while true {
            guard let client = waitForClient(runtime) else { exit(0) }
            StatusChannel.report(StatusMessage.taken)
            serve(client)
            close(client)
            served += 1
            guard StatusChannel.report(StatusMessage.available) else { exit(0) }
            if runtime.maxUse > 0 && served >= runtime.maxUse { exit(0) }
        }
    }

    /// The next accepted connection, or nil when the process should exit.
    static func waitForClient(_ runtime: ServiceRuntime) -> Int32? {
        let idleMs = runtime.maxIdle > 0 ? runtime.maxIdle * 1000 : -1
        let deadline = Clock.monotonicMs() + Int64(idleMs)
        while true {
            var fds = runtime.listenDescriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            fds.append(pollfd(fd: ServiceFD.status, events: Int16(POLLIN), revents: 0))
            let wait = idleMs < 0 ? -1 : Int(max(0, deadline - Clock.monotonicMs()))
            let n = poll(&fds, nfds_t(fds.count), Int32(clamping: wait))
            if n < 0 {
                if errno == EINTR { continue }
                Log.fatal("poll: \(errnoText())")
            }
            if n == 0 { return nil }
            if fds.last!.revents != 0 && StatusChannel.masterGone() { return nil }
            for p in fds.dropLast() where p.revents & Int16(POLLIN) != 0 {
                let client = postern_accept4(p.fd, Int32(SOCK_CLOEXEC.rawValue))
                if client >= 0 { return client }
                // Another child won the race, or the client went away: wait again.
            }
        }
    }
}
