// One connection from qmgr: delivery requests one after another on a kept-open socket,
// each answered with one result per recipient. Between requests, connections kept in
// the cache are closed when their idle time runs out. A malformed request, a time-out or
// a broken connection ends the loop; the requests answered before it stay answered.
import Glibc
import Shared

enum RequestLoop {
    /// Serves the requests arriving on FD until qmgr closes it; TIMEOUTMS limits each
    /// wait for a request or for qmgr to take a reply.
    static func serve(_ fd: Int32, agent: SMTPAgent, timeoutMs: Int) {
        let stream = BufferedStream(descriptor: fd, timeoutMs: timeoutMs)
        defer { agent.cache.closeAll() }
        while true {
            waitWhileCaching(stream, agent.cache)
            let list: AttributeList
            do {
                guard let next = try stream.readAttributes(xtext: true) else { return }
                list = next
            } catch {
                Log.warning("read delivery request: \(error)")
                return
            }
            guard let request = DeliveryRequest(list) else {
                Log.warning("malformed delivery request: \(list)")
                return
            }
            let results = agent.deliver(request)
            stream.writeAttributes(DeliveryReply.attributes(results), xtext: true)
            do {
                try stream.flush()
            } catch {
                Log.warning("\(request.queueID): send delivery reply: \(error)")
                return
            }
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
