// A Dovecot auth server as the SMTP server's SASL implementation (smtpd_sasl_type =
// dovecot), speaking Dovecot's authentication protocol 1.x over the socket named by
// smtpd_sasl_path (relative to the queue directory, absolute, or `inet:host:port`), as
// Postfix's xsasl_dovecot_server.c does: one connection per process, made on first use
// and again after it breaks; the handshake (`VERSION 1 1`, `CPID`; the server's VERSION,
// MECH lines with their properties, DONE); then per attempt
// `AUTH id MECH service=smtp nologin lip= rip= [secured] [resp=…]`, answered by
// `CONT id challenge`, `OK id user=…` or `FAIL id [reason=…] [temp] [user=…]`.
// Mechanisms are offered as the server lists them, less those the security options
// refuse. The mechanism and the base64 are checked before anything is sent, with
// Postfix's texts for the failures.
import Glibc

/// Parsing of the auth server's lines, without I/O.
enum DovecotAuthProtocol {
    /// One `MECH name flag…` line: the name, or nil when the security options (or the
    /// `private` flag) keep it from being offered.
    static func offeredMechanism(_ fields: [String], security: SASLSecurityOptions) -> String? {
        guard fields.count >= 2, fields[0] == "MECH" else { return nil }
        let flags = Set(fields.dropFirst(2))
        if flags.contains("private") { return nil }
        if security.contains(.noAnonymous) && flags.contains("anonymous") { return nil }
        if security.contains(.noPlaintext) && flags.contains("plaintext") { return nil }
        if security.contains(.noDictionary) && flags.contains("dictionary") { return nil }
        if security.contains(.noActive) && flags.contains("active") { return nil }
        if security.contains(.mutualAuth) && !flags.contains("mutual-auth") { return nil }
        if security.contains(.forwardSecrecy) && !flags.contains("forward-secrecy") { return nil }
        return fields[1]
    }

    /// A reply to request ID: the step, and the user name it names (if any); nil when
    /// the line is not a reply to ID.
    static func reply(_ fields: [String], id: UInt32) -> (step: SASLStep, user: String?)? {
        guard fields.count >= 2, UInt32(fields[1]) == id else { return nil }
        var user: String?
        var reason = ""
        var temporary = false
        for parameter in fields.dropFirst(2) {
            if parameter.hasPrefix("user=") {
                user = unescape(String(parameter.dropFirst(5)))
            } else if parameter.hasPrefix("reason=") {
                reason = unescape(String(parameter.dropFirst(7)))
            } else if parameter == "temp" {
                temporary = true
            }
        }
        switch fields[0] {
        case "CONT": return (.challenge(fields.count > 2 ? fields[2] : ""), nil)
        case "OK": return (.success, user)
        case "FAIL": return (temporary ? .temporaryFailure(reason) : .failure(reason), user)
        default: return nil
        }
    }

    /// Undoes Dovecot's tab-escaping (`\001` followed by 0, 1, t, r, n or l).
    static func unescape(_ text: String) -> String {
        guard text.utf8.contains(1) else { return text }
        var out: [UInt8] = []
        var escaped = false
        for byte in text.utf8 {
            if escaped {
                switch byte {
                case UInt8(ascii: "0"): out.append(0)
                case UInt8(ascii: "1"): out.append(1)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "n"), UInt8(ascii: "l"): out.append(10)
                default: out.append(byte)
                }
                escaped = false
            } else if byte == 1 {
                escaped = true
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A request field value with tabs, line ends and `\001` escaped.
    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 1 || $0 == 9 || $0 == 10 || $0 == 13 || $0 == 0 }) else { return text }
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case 0: out += [1, UInt8(ascii: "0")]
            case 1: out += [1, UInt8(ascii: "1")]
            case 9: out += [1, UInt8(ascii: "t")]
            case 10: out += [1, UInt8(ascii: "n")]
            case 13: out += [1, UInt8(ascii: "r")]
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The process's connection to the Dovecot auth server.
final class DovecotAuthConnection {
    let path: String
    var stream: BufferedStream?
    /// The MECH lines of the last handshake, split into fields.
    var mechanismLines: [[String]] = []
    var lastID: UInt32 = 0
    /// How long to wait for the auth server; Dovecot itself delays failures by seconds.
    static let timeoutMs = 60_000

    init(path: String) { self.path = path }

    struct Broken: Error {}

    /// Connects and shakes hands when not connected; false (with a warning) on failure.
    func ensureConnected() -> Bool {
        if stream != nil { return true }
        let fd: Int32
        do {
            if path.hasPrefix("inet:") {
                let rest = String(path.dropFirst(5))
                guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]),
                    let address = InetAddress(host: String(rest[..<colon]).trimmingBrackets, port: port)
                else {
                    Log.warning("SASL: bad Dovecot auth socket address: \(path)")
                    return false
                }
                fd = try Sockets.connectInet(address, timeout: 10)
            } else {
                fd = try Sockets.connectUnix(path, timeout: 10)
            }
        } catch let e as SystemError {
            Log.warning("SASL: Connect to Dovecot auth socket '\(path)' failed: \(String(cString: strerror(e.code)))")
            return false
        } catch {
            Log.warning("SASL: Connect to Dovecot auth socket '\(path)' failed: \(error)")
            return false
        }
        let s = BufferedStream(descriptor: fd, timeoutMs: DovecotAuthConnection.timeoutMs)
        s.write("VERSION\t1\t1\nCPID\t\(getpid())\n")
        var mechanisms: [[String]] = []
        do {
            try s.flush()
            while true {
                guard let (line, _) = try s.readLine() else { throw Broken() }
                let fields = String(decoding: line, as: UTF8.self).split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                switch fields.first {
                case "VERSION":
                    guard fields.count >= 2, fields[1] == "1" else {
                        Log.warning("SASL: Dovecot auth protocol version mismatch (\(fields.dropFirst().joined(separator: ".")))")
                        close(fd)
                        return false
                    }
                case "MECH": mechanisms.append(fields)
                case "DONE":
                    stream = s
                    mechanismLines = mechanisms
                    return true
                default: continue
                }
            }
        } catch {
            Log.warning("SASL: Dovecot auth socket '\(path)': lost connection during the handshake")
            close(fd)
            return false
        }
    }

    func disconnect() {
        if let s = stream { close(s.descriptor) }
        stream = nil
    }

    /// Sends REQUEST (one line, without its LF) and reads the reply to ID. Throws when the
    /// connection breaks; the caller reconnects once.
    func exchange(_ request: String, id: UInt32) throws -> (step: SASLStep, user: String?) {
        guard let s = stream else { throw Broken() }
        s.write(request + "\n")
        try s.flush()
        while true {
            guard let (line, _) = try s.readLine(limit: 1 << 20) else { throw Broken() }
            let fields = String(decoding: line, as: UTF8.self).split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if let reply = DovecotAuthProtocol.reply(fields, id: id) { return reply }
        }
    }

    func nextID() -> UInt32 {
        lastID &+= 1
        if lastID == 0 { lastID = 1 }
        return lastID
    }
}

/// One session's view of the Dovecot auth server.
final class DovecotSASLServer: SASLServer {
    let connection: DovecotAuthConnection
    let peer: SASLPeer
    let service: String
    let security: SASLSecurityOptions
    let filter: SASLMechanismFilter
    var requestID: UInt32 = 0
    var username: String?

    init(connection: DovecotAuthConnection, peer: SASLPeer, service: String, security: SASLSecurityOptions, filter: SASLMechanismFilter) {
        self.connection = connection
        self.peer = peer
        self.service = service
        self.security = security
        self.filter = filter
    }

    var mechanisms: [String] {
        guard connection.ensureConnected() else { return [] }
        let offered = connection.mechanismLines.compactMap { DovecotAuthProtocol.offeredMechanism($0, security: security) }
        return filter.apply(offered)
    }

    func start(mechanism: String, initialResponse: String?) -> SASLStep {
        let name = mechanism.uppercased()
        guard mechanisms.contains(where: { $0.uppercased() == name }) else {
            return connection.stream == nil ? .temporaryFailure("") : .failure("Invalid authentication mechanism")
        }
        if let initialResponse, !SASLBase64.isValid(initialResponse) {
            return .failure("Invalid base64 data in initial response")
        }
        username = nil
        var request = "\tservice=\(DovecotAuthProtocol.escape(service))\tnologin"
        if !peer.serverAddress.isEmpty { request += "\tlip=\(peer.serverAddress)" }
        if !peer.clientAddress.isEmpty { request += "\trip=\(peer.clientAddress)" }
        if peer.tlsActive { request += "\tsecured" }
        if let initialResponse { request += "\tresp=\(initialResponse)" }
        return send { id in "AUTH\t\(id)\t\(name)" + request }
    }

    func step(_ response: String) -> SASLStep {
        guard SASLBase64.isValid(response) else { return .failure("Invalid base64 data in continued response") }
        let id = requestID
        return send(sameID: true) { _ in "CONT\t\(id)\t\(response)" }
    }

    /// Sends the request REQUEST(id) and reads its reply; an AUTH (not a CONT) is sent
    /// again once over a fresh connection when the old one broke.
    func send(sameID: Bool = false, _ request: (UInt32) -> String) -> SASLStep {
        for attempt in 0..<2 {
            guard connection.ensureConnected() else { return .temporaryFailure("") }
            let id = sameID ? requestID : connection.nextID()
            requestID = id
            do {
                let (step, user) = try connection.exchange(request(id), id: id)
                if let user { username = user.saslPrintable }
                return step
            } catch {
                connection.disconnect()
                Log.warning("SASL: Dovecot auth socket '\(connection.path)': connection lost")
                if sameID || attempt == 1 { return .temporaryFailure("Connection lost to authentication server") }
            }
        }
        return .temporaryFailure("")
    }
}

extension String {
    /// `[::1]` → `::1`.
    var trimmingBrackets: String { hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self }
}
