// showq: the queue listing service for users who may not read the queue themselves
// (Postfix's showq(8); `showq unix n - n - - showq`, socket public/showq). It runs as
// mail_owner. A client sends one attribute list: `request=list` gets one attribute list
// per message (QueueListing's wire form) and then end of stream; `request=send_file`
// with `queue_id=ID` moves ID from deferred/ to incoming/ and wakes qmgr (postqueue -i),
// and gets `status=0` (moved), `1` (not in the deferred queue) or `2` (failed).
import Glibc
import Shared

let runtime = ServiceRuntime(program: "showq")
let queue = QueueDirectory(config: runtime.config)
let qmgrSocket = runtime.config.value("queue_directory") + "/public/" + runtime.config.value("queue_service_name")

/// Moves ID from deferred/ to incoming/ and wakes qmgr; the reply's status.
func sendFile(_ queueID: String) -> String {
    guard QueueID.isValid(queueID), !queue.queues(holding: queueID, among: [QueueDirectory.deferred]).isEmpty else {
        return "1"
    }
    do {
        try queue.move(queueID, from: QueueDirectory.deferred, to: QueueDirectory.incoming)
    } catch {
        Log.warning("\(queueID): \(error)")
        return "2"
    }
    TriggerServer.send(qmgrSocket, [UInt8(ascii: "A")])
    return "0"
}

SingleServer.run(runtime) { fd in
    let stream = BufferedStream(descriptor: fd, timeoutMs: 30_000)
    guard let request = try? stream.readAttributes(xtext: true) else { return }
    switch request["request"] {
    case "list":
        var pending = 0
        // A client that goes away ends the scan (the flush throws).
        try? QueueListing.scan(queue) { entry in
            stream.writeAttributes(QueueListing.attributes(entry), xtext: true)
            pending += 1
            if pending == 100 {
                pending = 0
                try stream.flush()
            }
        }
    case "send_file":
        stream.writeAttributes(AttributeList([("status", sendFile(request["queue_id"] ?? ""))]), xtext: true)
    default:
        Log.warning("unknown request: \(request)")
    }
    try? stream.flush()
}
