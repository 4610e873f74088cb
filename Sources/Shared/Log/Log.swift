// Postfix's log line format, written with one non-blocking write per line:
// `postfix/smtpd[123]: warning: text` to syslog (/dev/log, facility mail), or
// `Nov 25 12:00:00 host postfix/smtpd[123]: text` appended to maillog_file.
// Nothing here may block: a dead or slow log reader loses lines, never wedges a daemon.
import Glibc

public enum Log {
    public enum Severity: Int32 {
        case info = 6, warning = 4, error = 3, fatal = 2, panic = 0

        var label: String {
            switch self {
            case .info: return ""
            case .warning: return "warning: "
            case .error: return "error: "
            case .fatal: return "fatal: "
            case .panic: return "panic: "
            }
        }
    }

    /// `syslog_name/program`, e.g. `postfix/smtpd`.
    nonisolated(unsafe) public static var tag = "postfix/" + ThisProcess.name
    /// The host label written in maillog_file lines.
    nonisolated(unsafe) public static var hostLabel = "localhost"
    /// Also print `program: text` on stderr (commands do, daemons do not).
    nonisolated(unsafe) public static var toStderr = false
    nonisolated(unsafe) static var fileDescriptor: Int32 = -1
    nonisolated(unsafe) static var syslogSocket: Int32 = -1
    nonisolated(unsafe) static var useSyslog = false
    /// Called before a fatal exit (a daemon may want to tell the master something).
    nonisolated(unsafe) public static var beforeExit: (() -> Void)?

    /// Sets up where lines go. An empty MAILLOG means syslog.
    public static func configure(syslogName: String, program: String, hostname: String, maillog: String) {
        tag = syslogName + "/" + program
        hostLabel = String(hostname.split(separator: ".").first ?? Substring(hostname))
        closeSinks()
        if maillog.isEmpty {
            useSyslog = true
            connectSyslog()  // now, before a daemon chroots or drops privileges
        } else if maillog == "/dev/stdout" {
            fileDescriptor = dup(1)
        } else if maillog == "/dev/stderr" {
            fileDescriptor = dup(2)
        } else {
            fileDescriptor = open(maillog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            if fileDescriptor < 0 { useSyslog = true }
        }
    }

    static func closeSinks() {
        if fileDescriptor >= 0 { close(fileDescriptor) }
        if syslogSocket >= 0 { close(syslogSocket) }
        fileDescriptor = -1
        syslogSocket = -1
        useSyslog = false
    }

    /// The open log file descriptor, so a daemon can keep it out of descriptor clean-ups.
    public static var openDescriptors: [Int32] { [fileDescriptor, syslogSocket].filter { $0 >= 0 } }

    public static func info(_ text: String) { emit(.info, text) }
    public static func warning(_ text: String) { emit(.warning, text) }
    public static func error(_ text: String) { emit(.error, text) }

    /// A broken configuration or a missing resource: logs and exits 1.
    public static func fatal(_ text: String) -> Never {
        emit(.fatal, text)
        beforeExit?()
        exit(1)
    }

    /// Something that cannot happen happened: logs and aborts.
    public static func panic(_ text: String) -> Never {
        emit(.panic, text)
        abort()
    }

    public static func emit(_ severity: Severity, _ text: String) {
        let body = severity.label + text
        if toStderr {
            let program = tag.split(separator: "/").last.map(String.init) ?? tag
            writeQuietly(2, program + ": " + body + "\n")
        }
        if fileDescriptor >= 0 {
            writeQuietly(fileDescriptor, timestamp() + " " + hostLabel + " " + tag + "[\(getpid())]: " + body + "\n")
        } else if useSyslog {
            sendSyslog(severity, body)
        }
    }

    static func writeQuietly(_ fd: Int32, _ line: String) {
        var line = line
        line.withUTF8 { buffer in _ = write(fd, buffer.baseAddress, buffer.count) }
    }

    /// `Nov 25 12:00:00`, local time, as syslog writes it.
    public static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let n = strftime(&buffer, buffer.count, "%b %e %H:%M:%S", &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func connectSyslog() {
        guard syslogSocket < 0 else { return }
        syslogSocket = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard syslogSocket >= 0 else { return }
        var address = UnixAddress("/dev/log")
        if address.withSockaddr({ connect(syslogSocket, $0, $1) }) != 0 {
            close(syslogSocket)
            syslogSocket = -1
        }
    }

    static func sendSyslog(_ severity: Severity, _ body: String) {
        connectSyslog()
        guard syslogSocket >= 0 else { return }
        let priority = 2 * 8 + severity.rawValue  // facility mail
        var line = "<\(priority)>" + timestamp() + " " + tag + "[\(getpid())]: " + body
        line.withUTF8 { buffer in _ = send(syslogSocket, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT)) }
    }
}
