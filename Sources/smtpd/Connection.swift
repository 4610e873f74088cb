// The short I/O loop around the session: read a command line, hand it to the session,
// send its replies (held back while pipelined commands are waiting, RFC 2920), and read
// DATA content or BDAT chunks when the session asks for them. For STARTTLS (and at
// connect in wrapper mode) it runs the TLS handshake and puts the TLS transport under
// the stream, after dropping any plaintext the client pipelined behind the command.
import Glibc
import Shared

final class Connection {
    let stream: BufferedStream
    let session: SMTPSession
    let settings: SMTPDSettings

    init(descriptor: Int32, session: SMTPSession, settings: SMTPDSettings) {
        stream = BufferedStream(descriptor: descriptor, timeoutMs: settings.timeoutSeconds * 1000)
        self.session = session
        self.settings = settings
    }

    /// Serves the client until QUIT, a disconnect, a time-out or a fatal protocol error.
    func run() {
        defer {
            session.end()
            (stream.transport as? TLSTransport)?.shutdown()
        }
        session.connected()
        if session.tlsServer.policy.wrapperMode {
            guard session.tlsWrapperModeAllowed(), startTLS() else { return }
        }
        let greeting = session.greeting()
        guard send(greeting, flushNow: true), greeting.next != .disconnect else { return }
        while true {
            if let reply = session.tooManyErrors() {
                _ = send(SessionOutcome(replies: [reply]), flushNow: true)
                return
            }
            let line: [UInt8]
            let truncated: Bool
            do {
                if stream.bufferedCount == 0 { try stream.flush() }
                guard let (read, cut) = try stream.readLine(limit: session.authResponseLimit() ?? settings.lineLengthLimit) else {
                    session.lostConnection()
                    return
                }
                line = read
                truncated = cut
            } catch {
                handle(error)
                return
            }
            session.notePipelining(line, unread: stream.unreadInput)
            var outcome = session.command(line, truncated: truncated)
            switch outcome.next {
            case .command:
                guard send(outcome, flushNow: false) else { return }
            case .disconnect:
                _ = send(outcome, flushNow: true)
                return
            case .startTLS:
                guard send(outcome, flushNow: true), startTLS() else { return }
            case .data:
                guard send(outcome, flushNow: true) else { return }
                guard readData() else { return }
                guard send(session.endOfData(), flushNow: false) else { return }
            case .chunk(let size, let last):
                outcome.next = .command
                guard send(outcome, flushNow: false) else { return }
                do {
                    try stream.read(exactly: size) { session.chunkBytes($0) }
                } catch {
                    handle(error)
                    return
                }
                guard send(session.chunkDone(last: last), flushNow: false) else { return }
            }
        }
    }

    /// Runs the server side of the handshake and swaps the stream's transport. Plaintext
    /// read ahead of it is thrown away first: it was sent before TLS and must not be taken
    /// for commands sent under TLS (the STARTTLS command-injection flaw). False when the
    /// handshake failed (it was logged; the session ends as a lost connection).
    func startTLS() -> Bool {
        stream.discardBufferedInput()
        guard let context = session.tlsServer.context else { return false }
        do {
            let transport = try context.accept(descriptor: stream.descriptor, peer: session.client.nameAddress,
                                               timeoutMs: session.tlsServer.handshakeTimeoutMs)
            transport.timeoutMs = stream.timeoutMs
            stream.transport = transport
            session.tlsStarted(transport.details)
            if let refusal = session.newTLSSessionCounted(resumed: transport.details.reused) {
                _ = send(SessionOutcome(replies: [refusal], next: .disconnect), flushNow: true)
                return false
            }
            return true
        } catch {
            session.lostConnection()
            return false
        }
    }

    /// Reads DATA content to the lone dot, undoing dot-stuffing. False when the session ended.
    func readData() -> Bool {
        let limit = settings.messageSizeLimit > 0 ? settings.messageSizeLimit + 1024 : 1 << 26
        while true {
            do {
                guard let (line, truncated) = try stream.readLine(limit: limit) else {
                    session.lostConnection()
                    return false
                }
                if line.count == 1 && line[0] == UInt8(ascii: ".") { return true }
                if truncated { session.content.failure = .tooBig }
                if line.first == UInt8(ascii: ".") {
                    session.contentLine(line.dropFirst())
                } else {
                    session.contentLine(line[...])
                }
            } catch {
                handle(error)
                return false
            }
        }
    }

    func handle(_ error: Error) {
        if let e = error as? StreamError, e == .timeout {
            let reply = session.timedOut()
            stream.write(reply.wire)
            try? stream.flush()
        } else {
            session.lostConnection()
        }
    }

    /// Queues OUTCOME's replies (after its tarpit delay); flushes when asked or when no
    /// pipelined input waits. False when the client is gone.
    func send(_ outcome: SessionOutcome, flushNow: Bool) -> Bool {
        if outcome.delay > 0 {
            try? stream.flush()
            sleep(UInt32(outcome.delay))
        }
        for reply in outcome.replies { stream.write(reply.wire) }
        do {
            if flushNow || stream.bufferedCount == 0 { try stream.flush() }
        } catch {
            session.lostConnection()
            return false
        }
        return true
    }
}
