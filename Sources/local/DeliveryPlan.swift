// What recipient expansion decides, before anything is written: an ordered list of
// steps, each naming the address its log line shows and what to do (write a mailbox or
// maildir, append to a file, run a command, hand an address back to qmgr, or report a
// bounce or deferral found while expanding). Deciding and doing are kept apart so the
// expansion rules can be checked without writing a single mailbox.
import Glibc
import Shared

/// One thing to do for a recipient of a delivery request.
struct DeliveryStep: Equatable {
    /// The address the log line names (`to=<…>`): the recipient as expanded so far.
    var recipient: String
    /// The envelope sender (an owner- alias replaces the original one).
    var sender: String
    /// The address for the Delivered-To: header.
    var deliveredTo: String
    var action: DeliveryAction
}

/// What a step does.
enum DeliveryAction: Equatable {
    /// Append to the mbox file PATH owned by USER; IN_SPOOL when PATH is in
    /// mail_spool_directory, whose permissions then decide who creates it.
    case mailbox(path: String, user: LocalUser, inSpool: Bool)
    /// Deliver into the maildir PATH (ending in `/`) as USER.
    case maildir(path: String, user: LocalUser)
    /// Append to the file PATH as USER.
    case file(path: String, user: LocalUser)
    /// Run COMMAND with the message on its standard input, as USER, with ENVIRONMENT.
    case command(String, user: LocalUser, environment: [String])
    /// Give the step's recipient back to qmgr as a recipient of a new message.
    case forward
    /// Nothing to write; the recipient counts as delivered with TEXT (`discarded`).
    case sent(dsn: String, text: String)
    case bounce(dsn: String, text: String)
    case deferral(dsn: String, text: String)
}

/// How one step ended: the status, DSN code and text of its log line.
struct StepOutcome: Equatable {
    var status: DeliveryResult.Status
    var dsn: String
    var text: String

    static func sent(_ text: String) -> StepOutcome { StepOutcome(status: .sent, dsn: "2.0.0", text: text) }

    /// A failure: deferred for a 4.x.x DSN, bounced otherwise.
    static func failed(_ dsn: String, _ text: String) -> StepOutcome {
        StepOutcome(status: dsn.hasPrefix("4") ? .deferred : .bounced, dsn: dsn, text: text)
    }

    /// The DSN for a mailbox-related errno (mbox_dsn): try again, system full, mailbox full.
    static func mailboxDSN(_ code: Int32, otherwise: String) -> String {
        switch code {
        case EAGAIN, ESTALE: return "4.2.0"
        case ENOSPC: return "4.3.0"
        case EDQUOT, EFBIG: return "5.2.2"
        default: return otherwise
        }
    }
}
