// sendmail's default mode (-bm): the message on standard input goes to postdrop with
// the envelope from the command line: the sender (`-f`, else the login name, which
// pickup qualifies with myorigin), the full name (`-F`, else $NAME, else the GECOS
// field), the recipients on the command line plus, with `-t`, those in the headers. The
// header block is held back only while `-t` needs it (at most 4 MiB of it is read for
// recipients); the rest streams through. Without `-i` a line holding a single `.` ends
// the message.
import Glibc
import Shared

/// One message from standard input to the maildrop queue.
struct MessageSubmission {
    /// The most header bytes held back for `-t`.
    static let headerLimit = 4 << 20

    let config: MainConfig
    let options: SendmailOptions
    let user: SubmittingUser

    /// Reads, submits and exits: 0 when postdrop queued the message.
    func run() -> Never {
        let input = InputLines(descriptor: 0)
        var held: [(bytes: [UInt8], endsLine: Bool)] = []
        var ended = false
        var extracted: [String] = []
        if options.extractRecipients {
            var collector = HeaderRecipients()
            var heldBytes = 0
            while heldBytes < Self.headerLimit, let piece = input.next() {
                if isEnd(piece) {
                    ended = true
                    break
                }
                held.append((Array(piece.bytes), piece.endsLine))
                heldBytes += piece.bytes.count
                if !collector.feed(piece) { break }
            }
            collector.finish()
            extracted = collector.recipients
        }
        let recipients = options.recipients.flatMap(HeaderAddresses.parse) + extracted
        if recipients.isEmpty {
            user.fatal(options.extractRecipients
                ? "No recipient addresses found in message header"
                : "Recipient addresses must be specified on the command line or via the -t option")
        }
        let envelope = self.envelope(recipients)
        let client: PostdropClient
        do {
            client = try PostdropClient(config: config, envelope: envelope)
        } catch {
            user.fatal("\(error)")
        }
        for piece in held { client.append(piece.bytes[...], endsLine: piece.endsLine) }
        held = []
        while !ended, let piece = input.next() {
            if isEnd(piece) { break }
            client.append(piece.bytes, endsLine: piece.endsLine)
        }
        switch client.finish() {
        case .success: exit(0)
        case .failure(let failure): user.fatal(failure.reason)
        }
    }

    /// A line holding a single `.` ends the message unless -i was given.
    func isEnd(_ piece: LinePiece) -> Bool {
        !options.ignoreDots && piece.startsLine && piece.endsLine && piece.bytes.elementsEqual([UInt8(ascii: ".")])
    }

    /// The envelope for RECIPIENTS from the options and the user.
    func envelope(_ recipients: [String]) -> SubmissionEnvelope {
        var sender = user.name
        if let given = options.sender {
            sender = HeaderAddresses.parse(given).first ?? ""
        }
        return SubmissionEnvelope(
            sender: sender, fullName: options.fullName ?? user.fullName, recipients: recipients,
            notify: options.notify.flatMap(DSNNotify.init(esmtpValue:)) ?? [], dsnReturn: options.dsnReturn?.uppercased(),
            dsnEnvelopeID: options.dsnEnvelopeID)
    }
}

/// The user running sendmail, as Postfix's sendmail names them in its messages.
struct SubmittingUser {
    let uid: uid_t
    let name: String
    /// $NAME, or the first field of the GECOS entry with `&` standing for the login name.
    let fullName: String?

    /// The real user; fatal when the password database does not know them.
    static func current() -> SubmittingUser {
        let uid = getuid()
        guard let account = Account.withID(uid) else {
            Log.emit(.fatal, "no login name found for user ID \(uid)")
            exit(75)
        }
        var fullName = ThisProcess.environment("NAME")
        if fullName?.isEmpty ?? true {
            let gecos = String(account.gecos.split(separator: ",", omittingEmptySubsequences: false).first ?? "")
            let capitalized = account.name.prefix(1).uppercased() + account.name.dropFirst()
            fullName = gecos.replacingAmpersand(with: capitalized)
        }
        return SubmittingUser(uid: uid, name: account.name, fullName: fullName?.isEmpty ?? true ? nil : fullName)
    }

    /// Logs `USER(UID): TEXT` as a fatal error and exits with EX_TEMPFAIL, as Postfix's
    /// sendmail does.
    func fatal(_ text: String) -> Never {
        Log.emit(.fatal, "\(name)(\(uid)): \(text)")
        exit(75)
    }
}

extension String {
    /// The text with each `&` replaced by NAME (GECOS convention).
    func replacingAmpersand(with name: String) -> String {
        split(separator: "&", omittingEmptySubsequences: false).joined(separator: name)
    }
}
