// sendmail's command line as Postfix's sendmail(1) reads it: the mode (`-bm` deliver a
// message, `-bs` SMTP on stdin/stdout, `-bp` list the queue, `-bi` rebuild aliases,
// `-bd`/`-bl` start the mail system, `-q` flush, `-qRsite`, `-qIqueueid`), the envelope
// (`-f`/`-r` sender, `-F` full name, `-t` recipients from headers, `-i`/`-oi` no dot
// end, `-N`/`-R`/`-V` DSN), and the flags that Postfix accepts and ignores (`-B`, `-bh`,
// `-bH`, `-G`, `-h`, `-L`, `-m`, `-n`, `-oXXX`, `-O`, `-p`, `-U`, `-v`, `-x`, …).
// Invoked as `mailq` it lists the queue, as `newaliases` it rebuilds the aliases.
import Shared

/// What sendmail was asked to do.
enum SendmailMode: Equatable {
    /// Read a message from standard input and submit it (-bm, the default).
    case deliver
    /// Speak SMTP on standard input and output (-bs).
    case smtp
    /// List the mail queue (-bp, mailq).
    case listQueue
    /// Rebuild the alias databases (-bi, -I, newaliases).
    case newAliases
    /// Start the mail system (-bd, -bl).
    case startDaemon
    /// Flush the queue (-q), or the mail for one site (-qRsite).
    case flush(site: String?)
    /// Deliver one deferred message now (-qIqueueid).
    case flushMessage(String)
}

/// The parsed command line.
struct SendmailOptions {
    static let usage = "usage: sendmail [options] [recipient ...]"
    static let spec = "B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:q::r:tvx"

    /// What to do (`-b…`, `-q`, `-I`, the program name).
    var mode = SendmailMode.deliver
    /// `-C`: a configuration directory, or a main.cf whose directory is meant.
    var configDirectory: String?
    /// `-f`/`-r`: the envelope sender as given.
    var sender: String?
    /// `-F`: the sender's full name.
    var fullName: String?
    /// `-t`: take recipients from the headers too.
    var extractRecipients = false
    /// `-i`/`-oi`: a line with a single `.` does not end the message.
    var ignoreDots = false
    /// `-oA`: the alias database -bi rebuilds instead of alias_database.
    var aliasDatabase: String?
    /// `-N`: DSN NOTIFY as given.
    var notify: String?
    /// `-R`: DSN RET as given.
    var dsnReturn: String?
    /// `-V`: DSN ENVID.
    var dsnEnvelopeID: String?
    /// The recipient arguments.
    var recipients: [String] = []

    /// Parses ARGUMENTS (without argv[0]) for a program invoked as PROGRAM: the options,
    /// or the first option error.
    static func parse(_ arguments: [String], program: String) -> Result<SendmailOptions, OptionError> {
        var options = SendmailOptions()
        if program == "mailq" { options.mode = .listQueue }
        if program == "newaliases" { options.mode = .newAliases }
        let getopt = Getopt(arguments, spec: spec)
        for item in getopt.items {
            if let error = options.apply(item) { return .failure(error) }
        }
        options.recipients = getopt.operands
        return .success(options)
    }

    /// Applies one option; the error to report, if any.
    mutating func apply(_ item: Getopt.Item) -> OptionError? {
        switch item {
        case .flag("b", let mode?): return setMode(mode)
        case .flag("C", let path?): configDirectory = path.hasSuffix("main.cf") ? directoryOf(path) : path
        case .flag("F", let name?): fullName = name
        case .flag("f", let address?), .flag("r", let address?): sender = address
        case .flag("I", nil): mode = .newAliases
        case .flag("i", nil): ignoreDots = true
        case .flag("N", let value?): notify = value
        case .flag("R", let value?): dsnReturn = value
        case .flag("V", let value?): dsnEnvelopeID = value
        case .flag("t", nil): extractRecipients = true
        case .flag("o", let option?): setOption(option)
        case .flag("q", let argument): flush(argument)
        case .flag: break
        case .bad(let letter): return OptionError("invalid option -- '\(letter)'")
        case .missingArgument(let letter): return OptionError("option requires an argument -- '\(letter)'")
        }
        return nil
    }

    mutating func setMode(_ letters: String) -> OptionError? {
        switch letters {
        case "m": mode = .deliver
        case "s": mode = .smtp
        case "p": mode = .listQueue
        case "i": mode = .newAliases
        case "d", "l": mode = .startDaemon
        case "h", "H": break
        default: return OptionError("unsupported: -b\(letters)")
        }
        return nil
    }

    /// `-oi` is -i, `-oAfile` names an alias database; the other `-o` options are ignored.
    mutating func setOption(_ option: String) {
        if option == "i" {
            ignoreDots = true
        } else if option.hasPrefix("A") && option.count > 1 {
            aliasDatabase = String(option.dropFirst())
        }
    }

    /// `-q` flushes, `-qRsite` flushes one site, `-qIqueueid` one message; `-q<interval>`
    /// is ignored as in Postfix.
    mutating func flush(_ argument: String?) {
        guard let argument else {
            mode = .flush(site: nil)
            return
        }
        guard argument.count > 1 else { return }
        if argument.hasPrefix("R") { mode = .flush(site: String(argument.dropFirst())) }
        if argument.hasPrefix("I") { mode = .flushMessage(String(argument.dropFirst())) }
    }

    func directoryOf(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// A command-line mistake, reported before the usage line.
struct OptionError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
