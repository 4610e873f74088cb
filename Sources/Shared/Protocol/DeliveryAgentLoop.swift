// The delivery agents' side of a qmgr connection: requests one after another on a
// kept-open socket, each answered once every recipient in it is done (delivered,
// bounced or deferred). A malformed request, a time-out or a broken connection ends the
// loop; the requests answered before it stay answered.

/// The request loop every delivery agent (local, smtp) runs per qmgr connection.
public enum DeliveryAgentLoop {
    /// Serves the requests arriving on FD until qmgr closes it; TIMEOUTMS limits each wait
    /// for a request or for qmgr to take a reply. BEFOREWAIT runs before each wait for a
    /// request (the smtp agent ages its cached connections there); ANSWER delivers one
    /// request and gives the reply's attributes.
    public static func serve(
        _ fd: Int32, timeoutMs: Int, beforeWait: (BufferedStream) -> Void = { _ in },
        answer: (DeliveryRequest) -> AttributeList
    ) {
        let stream = BufferedStream(descriptor: fd, timeoutMs: timeoutMs)
        while true {
            beforeWait(stream)
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
            stream.writeAttributes(answer(request), xtext: true)
            do {
                try stream.flush()
            } catch {
                Log.warning("\(request.queueID): send delivery reply: \(error)")
                return
            }
        }
    }
}
