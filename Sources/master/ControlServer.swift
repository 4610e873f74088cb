// The master's control socket: `postern status` and `postern restart SERVICE` are asked
// here. Only root and the master's own user may connect (SO_PEERCRED); each connection
// carries one attribute request and gets one attribute reply.
import CSupport
import Glibc
import Shared

final class ControlServer {
    var descriptor: Int32 = -1
    var path = ""

    func open(master: Master) throws {
        path = master.config.value("queue_directory") + "/" + MasterControl.relativePath
        descriptor = try Sockets.listenUnix(path, backlog: 16)
        chmod(path, 0o600)
        postern_set_nonblock(descriptor, 1)
        master.loop.watch(descriptor) { [unowned self, unowned master] fd, _ in self.accept(fd, master: master) }
    }

    func close() {
        if descriptor >= 0 {
            Glibc.close(descriptor)
            unlink(path)
        }
        descriptor = -1
    }

    func accept(_ listener: Int32, master: Master) {
        let fd = postern_accept4(listener, Int32(SOCK_CLOEXEC.rawValue))
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        var uid: uid_t = 0
        guard postern_peer_uid(fd, &uid) == 0, uid == 0 || uid == geteuid() else {
            Log.warning("control request from uid \(uid) refused")
            return
        }
        let stream = BufferedStream(descriptor: fd, timeoutMs: 2000)
        guard let request = try? stream.readAttributes(xtext: true) else { return }
        stream.writeAttributes(reply(to: request, master: master), xtext: true)
        try? stream.flush()
    }

    func reply(to request: AttributeList, master: Master) -> AttributeList {
        switch request["request"] ?? "" {
        case "status":
            return status(master)
        case "restart":
            let name = request["service"] ?? ""
            let count = master.restart(serviceNamed: name)
            if count == 0 { return AttributeList([("status", "fail"), ("reason", "no service named \"\(name)\"")]) }
            return AttributeList([("status", "ok"), ("count", String(count))])
        case "reload":
            master.reload()
            return AttributeList([("status", "ok")])
        default:
            return AttributeList([("status", "fail"), ("reason", "unknown request")])
        }
    }

    /// One `service` attribute per service and one `process` attribute per child:
    /// `service=NAME TYPE LISTEN MAXPROC THROTTLED`, `process=PID SERVICE-KEY STATE USES GEN`.
    func status(_ master: Master) -> AttributeList {
        var list = AttributeList([("status", "ok"), ("pid", String(getpid()))])
        for key in master.serviceOrder {
            guard let s = master.services[key] else { continue }
            let listen = s.entry.type == .inet ? s.listenDescriptors.compactMap { Sockets.localAddress($0)?.description }.joined(separator: ",") : s.entry.socketPath
            list.append("service", [s.entry.name, s.entry.type.rawValue, listen.isEmpty ? "-" : listen,
                                    String(s.entry.maxproc), s.isThrottled ? "throttled" : "running", key].joined(separator: " "))
            for child in s.children.values.sorted(by: { $0.pid < $1.pid }) {
                let state = child.generation != s.generation ? "draining" : (child.available ? "idle" : "busy")
                list.append("process", "\(child.pid) \(key) \(state) \(child.useCount)")
            }
        }
        return list
    }
}
