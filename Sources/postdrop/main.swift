// postdrop(1): puts one locally submitted message into the maildrop queue. sendmail runs
// it with the submission protocol (MaildropSubmission) on standard input; postdrop
// answers with the maildrop queue ID on standard output and wakes pickup. Installed
// set-group-ID postdrop, it is the only way local users get a file into maildrop/
// (mode 0730, mail_owner:postdrop), so it trusts nothing it reads: the envelope is
// validated, the content must end with its end chunk, message_size_limit holds, and a
// signal or any error removes the half-written file. The file records the real user ID.
import Glibc
import Shared

Log.tag = "postfix/postdrop"
Log.toStderr = true
signal(SIGPIPE, SIG_IGN)

/// The temporary file being written, for the signal handlers to remove.
nonisolated(unsafe) var temporaryFile: UnsafeMutablePointer<CChar>?
for sig in [SIGHUP, SIGINT, SIGQUIT, SIGTERM] {
    signal(sig) { _ in
        if let path = temporaryFile { unlink(path) }
        _exit(1)
    }
}

var configFlag: String?
for item in Getopt(Array(CommandLine.arguments.dropFirst()), spec: "c:rv").items {
    switch item {
    case .flag("c", let dir?): configFlag = dir
    case .flag("r", nil), .flag("v", nil): break
    default: Log.fatal("usage: postdrop [-c config_dir] [-v]")
    }
}
let config: MainConfig
do {
    config = try MainConfig.load(directory: MainConfig.locatePrivilegedDirectory(configFlag))
    try config.validate()
} catch {
    Log.fatal("\(error)")
}
Log.configure(syslogName: config.value("syslog_name"), program: "postdrop", hostname: config.value("myhostname"),
              maillog: config.value("maillog_file"))
let uid = getuid()

/// Writes the reply to sendmail (standard output is a pipe: no socket calls).
func reply(_ list: AttributeList) {
    try? FileIO.writeAll(1, list.encoded(xtext: true))
}

/// Tells sendmail why the message was not queued, logs it and exits.
func refuse(_ reason: String, writer: QueueFileWriter? = nil) -> Never {
    writer?.abort()
    reply(AttributeList([(MaildropSubmission.statusKey, "1"), (MaildropSubmission.reasonKey, reason)]))
    Log.fatal("uid=\(uid): \(reason)")
}

let input = BufferedStream(descriptor: 0, timeoutMs: -1)
guard let request = try? input.readAttributes(xtext: true), let envelope = SubmissionEnvelope(request) else {
    refuse("malformed input")
}
let writer: QueueFileWriter
do {
    writer = try QueueFileWriter(directory: QueueDirectory(config: config), queue: QueueDirectory.maildrop)
} catch {
    refuse("\(error)")
}
temporaryFile = strdup(writer.path)
writer.completeMode = 0o444
var attributes = [QueueEnvelope.Attribute(name: QueueEnvelope.submitterKey, value: String(uid))]
if let name = envelope.fullName { attributes.append(.init(name: QueueEnvelope.fullNameKey, value: name)) }
if let ret = envelope.dsnReturn { attributes.append(.init(name: QueueEnvelope.dsnReturnKey, value: ret)) }
if let envid = envelope.dsnEnvelopeID { attributes.append(.init(name: QueueEnvelope.dsnEnvelopeIDKey, value: envid)) }
writer.envelope.sender = envelope.sender
writer.envelope.attributes = attributes
for recipient in envelope.recipients {
    writer.addRecipient(QueueRecipient(address: recipient, dsnNotify: envelope.notify))
}

/// The message went over message_size_limit.
struct TooBig: Error {}
let sizeLimit = config.int("message_size_limit")
do {
    try MaildropSubmission.readContent(input) { chunk in
        if sizeLimit > 0 && writer.contentLength + chunk.count > sizeLimit { throw TooBig() }
        try chunk.withUnsafeBytes { try writer.appendContent($0, newline: false) }
    }
    try writer.commit()
} catch is TooBig {
    refuse("message file too big", writer: writer)
} catch MaildropSubmission.ContentError.truncated {
    refuse("premature end of input", writer: writer)
} catch MaildropSubmission.ContentError.malformed {
    refuse("malformed input", writer: writer)
} catch {
    refuse("\(error)", writer: writer)
}
temporaryFile = nil
reply(AttributeList([(MaildropSubmission.statusKey, "0"), (MaildropSubmission.queueIDKey, writer.queueID)]))
TriggerServer.send(config.value("queue_directory") + "/public/" + config.value("pickup_service_name"), [UInt8(ascii: "W")])
exit(0)
