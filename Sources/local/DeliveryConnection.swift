// One connection from qmgr: delivery requests one after another on a kept-open socket,
// each answered once every recipient in it is done (written durably, bounced or
// deferred). A malformed request, a timeout or a broken connection ends the
// connection; the requests answered before it stay answered.
import Shared

/// The request loop of one qmgr connection.
enum DeliveryConnection {
    /// Serves the requests that arrive on FD until qmgr closes it; TIMEOUTMS limits
    /// each wait for a request or for qmgr to take a reply.
    static func serve(_ fd: Int32, agent: LocalAgent, timeoutMs: Int) {
        let stream = BufferedStream(descriptor: fd, timeoutMs: timeoutMs)
        while true {
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
            let outcome = agent.deliver(request)
            stream.writeAttributes(LocalReply.attributes(outcome.results, forwards: outcome.forwards), xtext: true)
            do {
                try stream.flush()
            } catch {
                Log.warning("\(request.queueID): send delivery reply: \(error)")
                return
            }
        }
    }
}
