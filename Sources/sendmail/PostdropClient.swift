// sendmail's side of the submission protocol (MaildropSubmission): postdrop is started
// with posix_spawn and pipes for its standard input and output, gets the envelope as
// one attribute list, then the content in chunks of up to 64 KiB and the end chunk, and
// answers with the maildrop queue ID or the reason it refused the message. postdrop is
// looked for beside this program first (a build tree, or an installation that keeps its
// commands together), then in command_directory.
import CSupport
import Glibc
import Shared

/// One message on its way to postdrop.
final class PostdropClient {
    static let chunkSize = 65536

    let pid: pid_t
    let input: Int32
    let output: Int32
    var buffer: [UInt8] = []
    /// Set once a write failed (postdrop went away): the rest is not sent.
    var broken = false

    /// Starts postdrop for CONFIG with ENVELOPE.
    init(config: MainConfig, envelope: SubmissionEnvelope) throws {
        var toChild: [Int32] = [-1, -1]
        var fromChild: [Int32] = [-1, -1]
        guard postern_pipe2(&toChild, O_CLOEXEC) == 0 else { throw SystemError("pipe") }
        guard postern_pipe2(&fromChild, O_CLOEXEC) == 0 else {
            let error = SystemError("pipe")
            close(toChild[0])
            close(toChild[1])
            throw error
        }
        let environment = ThisProcess.environmentList.filter { !$0.hasPrefix("MAIL_CONFIG=") } + ["MAIL_CONFIG=" + config.directory]
        do {
            pid = try Spawn.run([Self.program("postdrop", config: config), "-r"], environment: environment,
                                stdio: [toChild[0], fromChild[1], -1])
        } catch {
            for fd in toChild + fromChild { close(fd) }
            throw error
        }
        close(toChild[0])
        close(fromChild[1])
        input = toChild[1]
        output = fromChild[0]
        buffer.reserveCapacity(Self.chunkSize)
        write(Array(envelope.attributes.encoded(xtext: true).utf8))
    }

    /// The path of command NAME: beside this executable if it is there, else in
    /// command_directory.
    static func program(_ name: String, config: MainConfig) -> String {
        let beside = ThisProcess.executableDirectory + "/" + name
        return access(beside, X_OK) == 0 ? beside : config.value("command_directory") + "/" + name
    }

    /// Appends a piece of a message line, and its line feed when it ends the line.
    func append(_ piece: ArraySlice<UInt8>, endsLine: Bool) {
        if buffer.count + piece.count >= Self.chunkSize { sendChunk() }
        buffer.append(contentsOf: piece)
        if endsLine { buffer.append(10) }
    }

    /// Sends what is buffered as one chunk.
    func sendChunk() {
        guard !buffer.isEmpty else { return }
        write(MaildropSubmission.chunkHeader(buffer.count) + buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func write(_ bytes: [UInt8]) {
        guard !broken else { return }
        if (try? FileIO.writeAll(input, bytes)) == nil { broken = true }
    }

    /// Sends the end of the message and waits for postdrop: the maildrop queue ID, or
    /// postdrop's reason for refusing the message.
    func finish() -> Result<String, SubmissionFailure> {
        sendChunk()
        write(MaildropSubmission.chunkHeader(0))
        close(input)
        let reply = readReply()
        close(output)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if let reply, reply[MaildropSubmission.statusKey] == "0", let id = reply[MaildropSubmission.queueIDKey] {
            return .success(id)
        }
        if let reason = reply?[MaildropSubmission.reasonKey] { return .failure(SubmissionFailure(reason)) }
        let (code, signal) = Spawn.describe(status: status)
        return .failure(SubmissionFailure(signal != 0 ? "postdrop was killed by signal \(signal)" : "postdrop exited with status \(code)"))
    }

    /// postdrop's reply (read from a pipe, so without socket calls).
    func readReply() -> AttributeList? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 65536 {
            let n = read(output, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        let lines = bytes.split(separator: 10, omittingEmptySubsequences: true).map(Array.init)
        return AttributeList.decode(lines: lines, xtext: true)
    }
}

/// Why a message could not be submitted.
struct SubmissionFailure: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
