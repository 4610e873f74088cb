// One connection from qmgr to smtp: the shared delivery-agent loop (DeliveryAgentLoop),
// answering with one result per recipient; between requests, connections kept in the
// cache are closed when their idle time runs out.
import Glibc
import Shared

enum RequestLoop {
    /// Serves the requests arriving on FD until qmgr closes it; TIMEOUTMS limits each
    /// wait for a request or for qmgr to take a reply.
    static func serve(_ fd: Int32, agent: SMTPAgent, timeoutMs: Int) {
        defer { agent.cache.closeAll() }
        DeliveryAgentLoop.serve(fd, timeoutMs: timeoutMs, beforeWait: { waitWhileCaching($0, agent.cache) }) { request in
            DeliveryReply.attributes(agent.deliver(request))
        }
    }

    /// Waits for qmgr's next request while kept connections age; each that runs out of
    /// idle time is closed.
    static func waitWhileCaching(_ stream: BufferedStream, _ cache: ConnectionCache) {
        while stream.bufferedCount == 0, let expiry = cache.nextExpiry {
            let waitMs = Int(max(0, (expiry - ServerConnection.clock()) * 1000)) + 1
            if Sockets.waitFor(stream.descriptor, events: Int16(POLLIN), timeoutMs: waitMs) { return }
            cache.expire()
        }
    }
}
