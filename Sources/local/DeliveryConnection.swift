// One connection from qmgr to local: the shared delivery-agent loop (DeliveryAgentLoop),
// answering with local's reply, which also names the addresses a message was forwarded to.
import Shared

/// The request loop of one qmgr connection.
enum DeliveryConnection {
    /// Serves the requests that arrive on FD until qmgr closes it; TIMEOUTMS limits
    /// each wait for a request or for qmgr to take a reply.
    static func serve(_ fd: Int32, agent: LocalAgent, timeoutMs: Int) {
        DeliveryAgentLoop.serve(fd, timeoutMs: timeoutMs) { request in
            let outcome = agent.deliver(request)
            return LocalReply.attributes(outcome.results, forwards: outcome.forwards)
        }
    }
}
