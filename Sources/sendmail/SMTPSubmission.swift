// `sendmail -bs`: a minimal SMTP server on standard input and output (RFC 5321) for
// programs that submit mail that way. Each accepted DATA becomes one maildrop
// submission through postdrop, like `sendmail -bm`; its reply carries the maildrop
// queue ID. The session is a state machine that takes a command line and returns the
// reply (SubmissionSession); the loop around it reads lines, un-stuffs DATA and writes
// replies. Supported: HELO, EHLO, MAIL (SIZE, BODY), RCPT, DATA, RSET, NOOP, VRFY
// (252), QUIT; anything else is `500 5.5.2 Error: command not recognized`.
import Glibc
import Shared

/// What the loop does after a command.
enum SessionStep: Equatable {
    /// Write the reply and read the next command.
    case reply(String)
    /// Write the 354 reply and read the message for this envelope.
    case data(SubmissionEnvelope)
    /// Write the reply and end the session.
    case quit(String)
}

/// The SMTP state of a `sendmail -bs` session, without I/O.
struct SubmissionSession {
    let hostname: String
    let sizeLimit: Int
    let fullName: String?
    var sender: String?
    var recipients: [String] = []

    /// A session for HOSTNAME (myhostname) with message_size_limit SIZELIMIT; FULLNAME goes
    /// into each envelope.
    init(hostname: String, sizeLimit: Int, fullName: String?) {
        self.hostname = hostname
        self.sizeLimit = sizeLimit
        self.fullName = fullName
    }

    /// The step for one command LINE (without its line end).
    mutating func command(_ line: String) -> SessionStep {
        let verbEnd = line.firstIndex(of: " ") ?? line.endIndex
        let verb = line[..<verbEnd].uppercased()
        let argument = String(line[verbEnd...]).trimmed
        switch verb {
        case "HELO":
            return argument.isEmpty ? .reply("501 Syntax: HELO hostname") : helo(extended: false)
        case "EHLO":
            return argument.isEmpty ? .reply("501 Syntax: EHLO hostname") : helo(extended: true)
        case "MAIL": return .reply(mail(argument))
        case "RCPT": return .reply(rcpt(argument))
        case "DATA": return data(argument)
        case "RSET":
            reset()
            return .reply("250 2.0.0 Ok")
        case "NOOP": return .reply("250 2.0.0 Ok")
        case "VRFY":
            return argument.isEmpty ? .reply("501 5.5.4 Syntax: VRFY address") : .reply("252 2.0.0 " + argument)
        case "QUIT": return .quit("221 2.0.0 Bye")
        default: return .reply("500 5.5.2 Error: command not recognized")
        }
    }

    /// The reply after the message content: the queue ID, or why it was not queued.
    mutating func dataFinished(_ result: Result<String, SubmissionFailure>) -> String {
        reset()
        switch result {
        case .success(let queueID): return "250 2.0.0 Ok: queued as " + queueID
        case .failure(let failure) where failure.reason == "message file too big":
            return "552 5.3.4 Error: message file too big"
        case .failure: return "451 4.3.0 Error: queue file write error"
        }
    }

    mutating func reset() {
        sender = nil
        recipients = []
    }

    mutating func helo(extended: Bool) -> SessionStep {
        reset()
        guard extended else { return .reply("250 " + hostname) }
        let size = sizeLimit > 0 ? "SIZE \(sizeLimit)" : "SIZE"
        return .reply(["250-" + hostname, "250-PIPELINING", "250-" + size, "250-ENHANCEDSTATUSCODES", "250 8BITMIME"]
            .joined(separator: "\r\n"))
    }

    mutating func mail(_ argument: String) -> String {
        guard sender == nil else { return "503 5.5.1 Error: nested MAIL command" }
        guard argument.hasPrefixIgnoringCase("FROM:"),
              let path = SMTPPath.parse(String(argument.dropFirst(5)), strict: false)
        else { return "501 5.5.4 Syntax: MAIL FROM:<address>" }
        for parameter in path.parameters {
            let (name, value) = Self.split(parameter)
            switch name {
            case "SIZE":
                guard let size = Int(value) else { return "501 5.5.4 Bad message size syntax" }
                if sizeLimit > 0 && size > sizeLimit { return "552 5.3.4 Message size exceeds fixed limit" }
            case "BODY":
                guard value == "7BIT" || value == "8BITMIME" else { return "501 5.5.4 Unsupported BODY parameter value" }
            default:
                return "555 5.5.4 Unsupported option: " + parameter
            }
        }
        sender = path.address
        return "250 2.1.0 Ok"
    }

    mutating func rcpt(_ argument: String) -> String {
        guard sender != nil else { return "503 5.5.1 Error: need MAIL command" }
        guard argument.hasPrefixIgnoringCase("TO:"), let path = SMTPPath.parse(String(argument.dropFirst(3)), strict: false)
        else { return "501 5.5.4 Syntax: RCPT TO:<address>" }
        guard !path.address.isEmpty else { return "501 5.1.3 Bad recipient address syntax" }
        if let parameter = path.parameters.first { return "555 5.5.4 Unsupported option: " + parameter }
        recipients.append(path.address)
        return "250 2.1.5 Ok"
    }

    mutating func data(_ argument: String) -> SessionStep {
        guard argument.isEmpty else { return .reply("501 5.5.4 Syntax: DATA") }
        guard let sender else { return .reply("503 5.5.1 Error: need MAIL command") }
        guard !recipients.isEmpty else { return .reply("503 5.5.1 Error: need RCPT command") }
        return .data(SubmissionEnvelope(sender: sender, fullName: fullName, recipients: recipients))
    }

    /// `NAME=value` → (upper-case NAME, upper-case value).
    static func split(_ parameter: String) -> (String, String) {
        guard let eq = parameter.firstIndex(of: "=") else { return (parameter.uppercased(), "") }
        return (parameter[..<eq].uppercased(), parameter[parameter.index(after: eq)...].uppercased())
    }
}

/// The I/O loop of `sendmail -bs`.
struct SMTPSubmission {
    /// Command lines longer than this are refused.
    static let commandLimit = 4096

    let config: MainConfig
    let user: SubmittingUser

    /// Runs the session on standard input and output until QUIT or end of input.
    func run() -> Never {
        var session = SubmissionSession(hostname: config.value("myhostname"), sizeLimit: config.int("message_size_limit"),
                                        fullName: user.fullName)
        let input = InputLines(descriptor: 0)
        send("220 " + config.value("smtpd_banner"))
        while let line = readCommand(input) {
            guard let text = line else {
                send("500 5.5.2 Error: command too long")
                continue
            }
            switch session.command(text) {
            case .reply(let reply):
                send(reply)
            case .quit(let reply):
                send(reply)
                exit(0)
            case .data(let envelope):
                send("354 End data with <CR><LF>.<CR><LF>")
                let result = receive(envelope, input)
                if case .failure(let failure) = result { Log.warning("\(user.name)(\(user.uid)): \(failure.reason)") }
                send(session.dataFinished(result))
            }
        }
        exit(0)
    }

    /// The next command line; .some(nil) for one longer than commandLimit, nil at the end.
    func readCommand(_ input: InputLines) -> String?? {
        var line: [UInt8] = []
        while let piece = input.next() {
            if line.count <= Self.commandLimit { line += piece.bytes }
            if piece.endsLine { return line.count > Self.commandLimit ? .some(nil) : String(decoding: line, as: UTF8.self) }
        }
        return line.isEmpty ? nil : String(decoding: line, as: UTF8.self)
    }

    /// Reads the message up to the lone `.`, un-stuffing leading dots, and hands it to
    /// postdrop. The input is read to its end marker whatever happens to postdrop; when
    /// it ends inside DATA, postdrop gets no end chunk and drops the message.
    func receive(_ envelope: SubmissionEnvelope, _ input: InputLines) -> Result<String, SubmissionFailure> {
        var client: PostdropClient?
        do {
            client = try PostdropClient(config: config, envelope: envelope)
        } catch {
            Log.warning("\(error)")
        }
        while let piece = input.next() {
            var bytes = piece.bytes
            if piece.startsLine && bytes.first == UInt8(ascii: ".") {
                if piece.endsLine && bytes.count == 1 {
                    return client?.finish() ?? .failure(SubmissionFailure("cannot run postdrop"))
                }
                bytes = bytes.dropFirst()
            }
            client?.append(bytes, endsLine: piece.endsLine)
        }
        exit(1)
    }

    func send(_ reply: String) {
        try? FileIO.writeAll(1, reply + "\r\n")
    }
}
