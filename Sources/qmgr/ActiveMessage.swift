// A message in the active queue as qmgr tracks it: its queue file, which recipients are
// still out with an agent, and what happened to each (sent, deferred with a reason,
// bounced with a reason) until the message can be removed, deferred or bounced.
import Shared

final class ActiveMessage {
    let queueID: String
    var file: QueueFile
    let activeTime: Double
    /// Deliveries handed to agents and not answered yet.
    var outstanding = 0
    /// Recipients (by index) that failed temporarily in this pass, with their reason.
    var deferred: [Int: DeliveryResult] = [:]
    /// Recipients that failed permanently in this pass.
    var bounced: [Int: DeliveryResult] = [:]
    /// Recipients delivered in this pass that asked for a success notice (NOTIFY=SUCCESS).
    var delivered: [Int: DeliveryResult] = [:]
    /// Addresses local(8) forwarded this message to, to be queued as new messages.
    var forwarded: [ForwardedRecipient] = []

    init(queueID: String, file: QueueFile, activeTime: Double) {
        self.queueID = queueID
        self.file = file
        self.activeTime = activeTime
    }

    var arrivalTime: Double {
        Double(file.envelope.arrivalSeconds) + Double(file.envelope.arrivalMicros) / 1_000_000
    }

    var sender: String { file.envelope.sender }

    /// Whether RESULT's recipient wants a failure notice (DSN NOTIFY: none given means yes,
    /// NEVER means no, otherwise FAILURE must be among them).
    func wantsFailureNotice(_ index: Int) -> Bool {
        guard index < file.recipients.count else { return true }
        let notify = file.recipients[index].dsnNotify
        if notify.isEmpty { return true }
        return !notify.contains(.never) && notify.contains(.failure)
    }

    /// Whether the recipient wants a delay warning (none given means yes, as for failures).
    func wantsDelayNotice(_ index: Int) -> Bool {
        guard index < file.recipients.count else { return true }
        let notify = file.recipients[index].dsnNotify
        if notify.isEmpty { return true }
        return !notify.contains(.never) && notify.contains(.delay)
    }

    func wantsSuccessNotice(_ index: Int) -> Bool {
        index < file.recipients.count && file.recipients[index].dsnNotify.contains(.success)
    }

    /// Recipients not yet done in the queue file.
    var pending: [(index: Int, recipient: QueueRecipient)] {
        file.recipients.enumerated().filter { !$0.element.isDone }.map { ($0.offset, $0.element) }
    }
}
