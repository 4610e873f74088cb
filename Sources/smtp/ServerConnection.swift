// One TCP connection to a mail server and the loop that carries out its dialog: the
// protocol engine (SMTPClientSession) says what to send and what to wait for; this file
// only moves bytes, within each stage's time limit, and reports a lost connection or a
// time-out back to the engine with the stage it happened in.
import Glibc
import Shared

final class ServerConnection {
    let server: SMTPServer
    let session: SMTPClientSession
    let stream: BufferedStream
    let settings: SMTPAgentSettings
    /// The next hop it was opened for (the connection cache's key).
    let nexthop: String
    /// The destination domain the server was found for (TLS name checks).
    let destination: String
    /// Monotonic seconds: when it was opened, and when it last finished a transaction.
    let openedAt: Double
    var idleSince: Double
    var isClosed = false

    init(server: SMTPServer, session: SMTPClientSession, descriptor: Int32, settings: SMTPAgentSettings, nexthop: String,
         destination: String) {
        self.server = server
        self.session = session
        self.settings = settings
        self.nexthop = nexthop
        self.destination = destination
        stream = BufferedStream(descriptor: descriptor, timeoutMs: 300_000)
        openedAt = ServerConnection.clock()
        idleSince = openedAt
    }

    static func clock() -> Double { Double(Clock.monotonicMs()) / 1000 }

    /// Connects to SERVER within smtp_connect_timeout; the failure is Postfix's
    /// `connect to host[addr]:port: Connection refused` (4.4.1).
    static func open(_ server: SMTPServer, session: SMTPClientSession, settings: SMTPAgentSettings, nexthop: String,
                     destination: String) -> Result<ServerConnection, SMTPFailure>
    {
        guard let address = InetAddress(host: server.address, port: server.port) else {
            return .failure(SMTPFailure(dsn: "4.4.1", reason: "connect to \(server.relayName): Invalid argument"))
        }
        do {
            let fd = try Sockets.connectInet(address, timeout: settings.connectTimeout > 0 ? settings.connectTimeout : 3600)
            // Commands and content already go out in whole groups: no Nagle wait for an ACK.
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            return .success(ServerConnection(
                server: server, session: session, descriptor: fd, settings: settings, nexthop: nexthop, destination: destination))
        } catch let e as SystemError {
            return .failure(SMTPFailure(dsn: "4.4.1", reason: "connect to \(server.relayName): \(errnoText(e.code))"))
        } catch {
            return .failure(SMTPFailure(dsn: "4.4.1", reason: "connect to \(server.relayName): \(error)"))
        }
    }

    var descriptor: Int32 { stream.descriptor }

    /// Carries out the dialog until the engine is idle or closes; MESSAGE supplies the
    /// content when DATA is accepted. Returns false once the connection is closed.
    @discardableResult
    func run(message: QueuedMessage?, queueID: String) -> Bool {
        while true {
            switch session.nextStep() {
            case .send(let line, _):
                stream.write(line)
                stream.write("\r\n")
            case .receive(let stage):
                stream.timeoutMs = (settings.timeouts[stage] ?? 300) * 1000
                do {
                    try stream.flush()
                    session.receive(try readReply())
                } catch {
                    session.connectionFailed(at: stage, timedOut: error as? StreamError == .timeout)
                }
            case .sendContent:
                sendContent(message, queueID: queueID)
            case .startTLS:
                startTLS()
            case .idle:
                return true
            case .close:
                close()
                return false
            }
        }
    }

    /// The TLS handshake after the server's 220 to STARTTLS; the stream then reads and
    /// writes through TLS, and anything the server sent ahead of it is thrown away.
    func startTLS() {
        guard let context = settings.tls else { return session.tlsStarted(failure: "Cannot start TLS: handshake failure") }
        do {
            try stream.flush()
            let level = session.settings.tlsLevel
            let transport = try context.start(
                descriptor: stream.descriptor, level: level, peer: server.relayName, serverName: tlsServerName(context),
                matchNames: tlsMatchNames(context, level), timeoutMs: (settings.timeouts[.starttls] ?? 300) * 1000)
            stream.discardBufferedInput()
            stream.transport = transport
            session.tlsStarted()
        } catch let e as TLSError {
            if case .verification = e {
                session.tlsStarted(failure: "Server certificate not verified")
            } else {
                session.tlsStarted(failure: "Cannot start TLS: handshake failure")
            }
        } catch {
            session.tlsStarted(failure: "Cannot start TLS: handshake failure")
        }
    }

    /// smtp_tls_servername: the SNI name (`hostname`: the server's, `nexthop`: the
    /// destination's, or a literal name).
    func tlsServerName(_ context: TLSClientContext) -> String {
        switch context.settings.serverName.lowercased() {
        case "": return ""
        case "hostname": return server.host
        case "nexthop": return destination
        default: return context.settings.serverName
        }
    }

    /// The names the server certificate must show at verify (smtp_tls_verify_cert_match)
    /// and secure (smtp_tls_secure_cert_match) levels.
    func tlsMatchNames(_ context: TLSClientContext, _ level: TLSSecurityLevel) -> [String] {
        let strategies = level == .verify ? context.settings.verifyCertMatch : context.settings.secureCertMatch
        return strategies.map { strategy in
            switch strategy.lowercased() {
            case "hostname": return server.host
            case "nexthop": return destination
            case "dot-nexthop": return "." + destination
            default: return strategy
            }
        }
    }

    /// Streams the message; a queue file that cannot be read ends the connection
    /// (Postfix: `local data error while talking to …`).
    func sendContent(_ message: QueuedMessage?, queueID: String) {
        stream.timeoutMs = (settings.timeouts[.content] ?? 180) * 1000
        do {
            guard let message else { throw SystemError("no message", code: EINVAL) }
            if try message.send(to: stream, lineLimit: settings.lineLimit) {
                Log.info("\(queueID): breaking line > \(settings.lineLimit) bytes with <CR><LF>SPACE")
            }
        } catch let e as StreamError {
            session.connectionFailed(at: .content, timedOut: e == .timeout)
        } catch {
            Log.warning("\(queueID): cannot read message content: \(error)")
            session.localDataError()
        }
    }

    /// One reply, its lines read within the stream's time limit.
    func readReply() throws -> SMTPClientReply {
        var reader = SMTPClientReplyReader()
        while true {
            guard let (line, _) = try stream.readLine(limit: 2048) else { throw StreamError.closed }
            if let reply = reader.feed(String(decoding: line, as: UTF8.self)) { return reply }
        }
    }

    /// Sends QUIT (unless the engine already closed) and closes the socket.
    func quit() {
        guard !isClosed else { return }
        session.quit()
        run(message: nil, queueID: "")
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        Glibc.close(stream.descriptor)
    }
}
