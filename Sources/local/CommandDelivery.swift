// Delivery to a command (Postfix's command.c and pipe_command.c): `/bin/sh -c COMMAND`
// (or local_command_shell) gets the message on a pipe, with a `From ` line,
// Return-Path:, X-Original-To: and Delivered-To:, the environment recipient expansion
// built, and command_time_limit seconds for the whole run. Never a fork: the command
// is spawned, and as root it goes through setpriv(1) so that it runs with the user's
// real and effective ids and groups for good (our own process stays root). The first
// 4 KiB of its output end up in the log text when it fails. Exit status: 0 delivered;
// a "D.S.N text" first output line decides; else sysexits codes (75 EX_TEMPFAIL
// defers); any other status bounces; a signal defers; the time limit bounces.
import Glibc
import Shared

/// Delivery to a shell command.
struct CommandDelivery {
    static let setpriv = "/usr/bin/setpriv"
    static let outputLimit = 4095

    /// The DSN and text of each sysexits.h code (Postfix's sys_exits.c).
    static let exitCodes: [Int32: (dsn: String, text: String)] = [
        64: ("5.3.0", "command line usage error"), 65: ("5.6.0", "data format error"),
        66: ("5.3.0", "cannot open input"), 67: ("5.1.1", "user unknown"), 68: ("5.1.2", "host name unknown"),
        69: ("5.3.0", "service unavailable"), 70: ("5.3.0", "internal software error"),
        71: ("4.3.0", "system resource problem"), 72: ("5.3.0", "critical OS file missing"),
        73: ("5.2.0", "can't create user output file"), 74: ("5.3.0", "input/output error"),
        75: ("4.3.0", "temporary failure"), 76: ("5.5.0", "remote error in protocol"),
        77: ("5.7.0", "permission denied"), 78: ("5.3.5", "local configuration error"),
    ]

    /// command_time_limit, in seconds.
    var timeLimit: Int
    /// local_command_shell ("" = `/bin/sh -c`).
    var shell: String

    /// Runs COMMAND as USER with ENVIRONMENT and COPY on its standard input.
    func deliver(_ copy: MessageCopy, command: String, user: LocalUser, environment: [String]) -> StepOutcome {
        signal(SIGPIPE, SIG_IGN)
        var argv = shell.isEmpty ? ["/bin/sh", "-c"] : splitFields(shell)
        argv.append(command)
        if Privileges.canSwitch {
            guard access(CommandDelivery.setpriv, X_OK) == 0 else {
                Log.warning("\(CommandDelivery.setpriv) is needed to run commands as uid \(user.uid): \(errnoText())")
                return .failed("4.3.5", "mail system configuration error")
            }
            let groups = Identity(user).groups
            argv = [CommandDelivery.setpriv, "--reuid=\(user.uid)", "--regid=\(user.gid)",
                    groups.isEmpty ? "--clear-groups" : "--groups=" + groups.map { String($0) }.joined(separator: ","), "--"]
                + argv
        }
        var input: [Int32] = [-1, -1]
        var output: [Int32] = [-1, -1]
        guard pipe(&input) == 0 else { return .failed("4.3.0", "Delivery failed: pipe: \(errnoText())") }
        guard pipe(&output) == 0 else {
            let failure = StepOutcome.failed("4.3.0", "Delivery failed: pipe: \(errnoText())")
            close(input[0])
            close(input[1])
            return failure
        }
        let pid: pid_t
        do {
            pid = try Spawn.run(argv, environment: environment, stdio: [input[0], output[1], output[1]], newSession: true)
        } catch {
            for fd in input + output { close(fd) }
            return .failed("4.3.0", "Delivery failed: \(error)")
        }
        close(input[0])
        close(output[1])
        let deadline = Clock.monotonicMs() + Int64(max(1, timeLimit)) * 1000
        let session = CommandSession(pid: pid, input: input[1], output: output[0], deadline: deadline)
        var copyFailure: StepOutcome?
        do {
            try copy.write { try session.send($0) }
        } catch CopyError.read(let error) {
            copyFailure = .failed("4.3.0", "error reading message: \(errnoText(error.code))")
        } catch CopyError.write(let error) where error.code != EPIPE && error.code != ETIMEDOUT {
            copyFailure = .failed("4.3.0", "Command failed: error writing message: \(errnoText(error.code)): \"\(command)\"")
        } catch {}
        session.finishInput()
        let status = session.waitForExit()
        return CommandDelivery.outcome(
            status: status, timedOut: session.timedOut, output: session.captured, command: command, copyFailure: copyFailure)
    }

    /// The outcome of a finished command (pipe_command.c's status mapping).
    static func outcome(status: Int32, timedOut: Bool, output: [UInt8], command: String, copyFailure: StepOutcome?)
        -> StepOutcome
    {
        let text = printable(output)
        let suffix = text.isEmpty ? "" : ". Command output: " + text
        if timedOut { return .failed("5.3.0", "Command time limit exceeded: \"\(command)\"" + suffix) }
        let (code, signal) = Spawn.describe(status: status)
        if signal != 0 { return .failed("4.3.0", "Command died with signal \(signal): \"\(command)\"" + suffix) }
        if code != 0 {
            if let reported = dsnPrefix(text) { return .failed(reported.dsn, reported.text) }
            if let known = exitCodes[code] { return .failed(known.dsn, known.text + suffix) }
            return .failed("5.3.0", "Command died with status \(code): \"\(command)\"" + suffix)
        }
        return copyFailure ?? .sent("delivered to command: \(command)")
    }

    /// Output as one line: tabs and newlines become spaces, other control bytes `_`.
    static func printable(_ output: [UInt8]) -> String {
        let mapped = output.map { byte -> UInt8 in
            if byte == 9 || byte == 10 || byte == 13 { return 32 }
            return byte < 32 || byte == 127 ? UInt8(ascii: "_") : byte
        }
        return String(decoding: mapped, as: UTF8.self).trimmed
    }

    /// `4.2.2 text` at the start of TEXT: the DSN and the text.
    static func dsnPrefix(_ text: String) -> (dsn: String, text: String)? {
        let parts = text.split(separator: " ", maxSplits: 1)
        guard let code = parts.first, code.first == "4" || code.first == "5" else { return nil }
        let fields = code.split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0].count == 1,
            fields[1...].allSatisfy({ (1...3).contains($0.count) && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) })
        else { return nil }
        return (String(code), parts.count > 1 ? String(parts[1]) : String(code))
    }
}

/// One running command: feeds its input, collects its output, enforces the deadline.
final class CommandSession {
    let pid: pid_t
    var input: Int32
    var output: Int32
    let deadline: Int64
    var captured: [UInt8] = []
    var timedOut = false
    var scratch = [UInt8](repeating: 0, count: 4096)

    init(pid: pid_t, input: Int32, output: Int32, deadline: Int64) {
        self.pid = pid
        self.input = input
        self.output = output
        self.deadline = deadline
        _ = fcntl(input, F_SETFL, O_NONBLOCK)
        _ = fcntl(output, F_SETFL, O_NONBLOCK)
        _ = fcntl(input, F_SETFD, FD_CLOEXEC)
        _ = fcntl(output, F_SETFD, FD_CLOEXEC)
    }

    /// Writes BYTES to the command while reading what it prints. Throws a
    /// `SystemError` with EPIPE when it stopped reading, ETIMEDOUT at the deadline.
    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let remaining = deadline - Clock.monotonicMs()
            if remaining <= 0 {
                timedOut = true
                throw SystemError("write to command", code: ETIMEDOUT)
            }
            var fds = [pollfd(fd: input, events: Int16(POLLOUT), revents: 0), pollfd(fd: output, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, Int32(clamping: remaining)) < 0 {
                if errno == EINTR { continue }
                throw SystemError("poll")
            }
            if fds[1].revents != 0 { readOutput() }
            guard fds[0].revents != 0 else { continue }
            let n = bytes.withUnsafeBytes { write(input, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw SystemError("write to command")
            }
            offset += n
        }
    }

    /// Closes the command's standard input.
    func finishInput() {
        if input >= 0 { close(input) }
        input = -1
    }

    /// Reads what is there to read; closes the pipe at its end.
    func readOutput() {
        while output >= 0 {
            let n = read(output, &scratch, scratch.count)
            if n > 0 {
                captured.append(contentsOf: scratch[0..<min(n, CommandDelivery.outputLimit - captured.count)])
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
            close(output)
            output = -1
        }
    }

    /// Waits for the command (reading its output meanwhile) until the deadline, then
    /// kills its whole process group; returns the wait status.
    func waitForExit() -> Int32 {
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped < 0 && errno != EINTR) {
                readOutput()
                if output >= 0 { close(output) }
                output = -1
                return status
            }
            let remaining = deadline - Clock.monotonicMs()
            if remaining <= 0 {
                timedOut = true
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                readOutput()
                if output >= 0 { close(output) }
                output = -1
                return status
            }
            let slice = Int32(clamping: min(remaining, output >= 0 ? 100 : 10))
            if output >= 0 {
                var fds = [pollfd(fd: output, events: Int16(POLLIN), revents: 0)]
                if poll(&fds, 1, slice) > 0 { readOutput() }
            } else {
                usleep(UInt32(slice) * 1000)
            }
        }
    }
}
