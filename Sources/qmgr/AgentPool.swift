// Connections from qmgr to the delivery agents' sockets (`private/local`,
// `private/smtp`…): one request at a time per connection, idle connections kept open
// for the next request so agents stay warm, and replies read from the event loop.
import Glibc
import Shared

final class AgentConnection {
    let transport: String
    let stream: BufferedStream
    var delivery: PendingDelivery?
    /// The time-out armed while a request is out.
    var timer: Int?

    init(transport: String, descriptor: Int32) {
        self.transport = transport
        stream = BufferedStream(descriptor: descriptor, timeoutMs: 30_000)
    }

    var descriptor: Int32 { stream.descriptor }
}

final class AgentPool {
    let queueDirectory: String
    var idle: [String: [AgentConnection]] = [:]

    init(queueDirectory: String) {
        self.queueDirectory = queueDirectory
    }

    /// An idle connection to TRANSPORT's agent, or a new one; nil when nobody listens.
    func connection(_ transport: String) -> AgentConnection? {
        while let c = idle[transport]?.popLast() {
            // A connection the agent closed while idle shows up as readable: drop it.
            if Sockets.waitFor(c.descriptor, events: Int16(POLLIN), timeoutMs: 0) {
                close(c.descriptor)
                continue
            }
            return c
        }
        let path = queueDirectory + "/private/" + transport
        guard let fd = try? Sockets.connectUnix(path, timeout: 10) else {
            Log.warning("connect to transport private/\(transport): \(errnoText())")
            return nil
        }
        return AgentConnection(transport: transport, descriptor: fd)
    }

    /// Sends REQUEST; false when the agent went away.
    func send(_ request: DeliveryRequest, on connection: AgentConnection) -> Bool {
        connection.stream.writeAttributes(request.attributes, xtext: true)
        do {
            try connection.stream.flush()
            return true
        } catch {
            return false
        }
    }

    /// Reads the agent's reply; nil when it failed or went away.
    func reply(_ connection: AgentConnection) -> AttributeList? {
        try? connection.stream.readAttributes(xtext: true)
    }

    func release(_ connection: AgentConnection, reusable: Bool) {
        connection.delivery = nil
        connection.timer = nil
        if reusable {
            idle[connection.transport, default: []].append(connection)
        } else {
            close(connection.descriptor)
        }
    }
}
