// What the access checks remember across one SMTP session (smtpd_check.c, SMTPD_STATE):
// the deferred replies of defer_if_permit / defer_if_reject and of DNS look-ups that
// failed temporarily (a later permit becomes that 4xx; a later 5xx reject becomes it),
// which protocol stage raised defer_if_permit, warn_if_reject's reach, the recursion
// depth of restriction classes, DISCARD, the duplicate suppression of the unlisted
// sender/recipient checks, and whether the client pipelined where it may not.

/// Why a reply refuses: only policy and protocol refusals can become warnings.
enum ErrorClass {
    case policy, protocolError, software, resource, data, bounce
}

/// A refusal kept for later (defer_if_permit, defer_if_reject).
struct Deferral {
    var active = false
    var errorClass = ErrorClass.policy
    var code = 450
    var dsn = "4.7.1"
    var text = ""
}

/// Access-check bookkeeping of one session.
final class CheckState {
    var deferIfPermit = Deferral()
    var deferIfReject = Deferral()
    /// defer_if_permit as it stood after the client, HELO and MAIL stages.
    var deferIfPermitAfterClient = false
    var deferIfPermitAfterHelo = false
    var deferIfPermitAfterSender = false
    /// warn_if_reject: the recursion level it was given at, 0 when off.
    var warnIfReject = 0
    var recursion = 0
    /// A DISCARD action was taken: the message is accepted and thrown away, and no
    /// further restriction is evaluated in this transaction.
    var discard = false
    /// reject_unlisted_recipient / _sender already ran for the current address.
    var recipientListChecked = false
    var senderListChecked = false
    /// The client sent commands ahead where RFC 2920 does not allow it.
    var improperPipelining = false
    /// HOLD, FILTER, REDIRECT, BCC and PREPEND actions taken in this transaction.
    var actions: [String] = []

    /// Before each stage's lists (SMTPD_CHECK_RESET).
    func resetStage() {
        recursion = 0
        warnIfReject = 0
        deferIfReject.active = false
    }

    /// A new mail transaction (MAIL after RSET, or after a message).
    func resetTransaction() {
        discard = false
        actions = []
    }
}
