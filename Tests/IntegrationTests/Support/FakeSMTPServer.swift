// A scriptable SMTP server on a loopback port for the SMTP client's tests: it announces
// the EHLO keywords a test asks for, can require AUTH PLAIN/LOGIN with given credentials,
// lets a test replace any reply (or drop the connection, or stay silent), and records
// every command line and every message it accepted. Served on a background thread; each
// connection is handled to its end before the next is accepted.
import Foundation
import XCTest

final class FakeSMTPServer {
    struct Message {
        var mailFrom: String
        var rcptTo: [String]
        /// The DATA content as received (CRLF line ends, dots still doubled).
        var data: String
    }

    /// What a reply hook tells the server to do with a command.
    enum Action {
        case reply(String)
        /// Close the connection without answering.
        case hangUp
        /// Answer nothing and wait for the client to give up.
        case silence
    }

    let port: UInt16
    let listener: Int32
    let lock = NSLock()
    var greeting = "220 fake.example.net ESMTP"
    var ehloKeywords = ["PIPELINING", "SIZE 10240000", "8BITMIME", "DSN", "SMTPUTF8"]
    /// When set, AUTH PLAIN LOGIN is announced and MAIL needs a login with these.
    var credentials: (user: String, password: String)?
    /// Returns an action for a command line (before the server's own handling), or nil.
    var hook: ((String) -> Action?)?
    private var _commands: [String] = []
    private var _messages: [Message] = []
    private var _connections = 0
    private var stopped = false
    private var thread: Thread?

    /// A server on PORT (a free one when 0).
    init(port: UInt16 = 0) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var on: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                guard bind(listener, p, length) == 0 else { return -1 }
                return getsockname(listener, p, &length)
            }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw NSError(domain: "FakeSMTPServer", code: Int(errno))
        }
        self.port = UInt16(bigEndian: address.sin_port)
    }

    deinit { stop() }

    var commands: [String] { lock.withLock { _commands } }
    var messages: [Message] { lock.withLock { _messages } }
    var connections: Int { lock.withLock { _connections } }

    func start() {
        let t = Thread { [unowned self] in self.acceptLoop() }
        thread = t
        t.start()
    }

    func stop() {
        let wasStopped = lock.withLock { () -> Bool in
            let s = stopped
            stopped = true
            return s
        }
        guard !wasStopped else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        if let t = thread { while t.isExecuting { usleep(10_000) } }
    }

    func acceptLoop() {
        while true {
            var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            if lock.withLock({ stopped }) { return }
            guard poll(&p, 1, 100) > 0 else { continue }
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if lock.withLock({ stopped }) { return }
                continue
            }
            lock.withLock { _connections += 1 }
            serve(fd)
            close(fd)
        }
    }

    func record(_ line: String) { lock.withLock { _commands.append(line) } }

    /// One connection's dialog.
    func serve(_ fd: Int32) {
        let io = LineIO(fd: fd)
        var message: Message?
        var authenticated = false
        if !greeting.isEmpty { io.send(greeting) }
        while let line = io.readLine() {
            record(line)
            if let action = hook?(line) {
                switch action {
                case .reply(let text):
                    io.send(text)
                    continue
                case .hangUp: return
                case .silence:
                    while io.readLine() != nil {}
                    return
                }
            }
            let verb = line.split(separator: " ").first.map { $0.uppercased() } ?? ""
            switch verb {
            case "EHLO":
                var lines = ["fake.example.net"] + ehloKeywords
                if credentials != nil { lines.append("AUTH PLAIN LOGIN") }
                for (i, l) in lines.enumerated() { io.send((i == lines.count - 1 ? "250 " : "250-") + l) }
            case "HELO": io.send("250 fake.example.net")
            case "AUTH": authenticated = authenticate(line, io)
            case "MAIL":
                if credentials != nil && !authenticated {
                    io.send("530 5.7.0 Authentication required")
                    continue
                }
                message = Message(mailFrom: line, rcptTo: [], data: "")
                io.send("250 2.1.0 Ok")
            case "RCPT":
                message?.rcptTo.append(line)
                io.send(message == nil ? "503 5.5.1 Error: need MAIL command" : "250 2.1.5 Ok")
            case "DATA":
                guard var m = message, !m.rcptTo.isEmpty else {
                    io.send("554 5.5.1 Error: no valid recipients")
                    continue
                }
                io.send("354 End data with <CR><LF>.<CR><LF>")
                var data = ""
                while let l = io.readLine(), l != "." { data += l + "\r\n" }
                m.data = data
                lock.withLock { _messages.append(m) }
                message = nil
                io.send("250 2.0.0 Ok: queued as FAKE\(messages.count)")
            case "RSET":
                message = nil
                io.send("250 2.0.0 Ok")
            case "QUIT":
                io.send("221 2.0.0 Bye")
                return
            default: io.send("502 5.5.2 Error: command not recognized")
            }
        }
    }

    /// AUTH PLAIN (initial response or not) and AUTH LOGIN against `credentials`.
    func authenticate(_ line: String, _ io: LineIO) -> Bool {
        guard let credentials else {
            io.send("503 5.5.1 Error: authentication not enabled")
            return false
        }
        let words = line.split(separator: " ").map(String.init)
        func decode(_ s: String) -> String { String(decoding: Data(base64Encoded: s) ?? Data(), as: UTF8.self) }
        var user = ""
        var password = ""
        if words.count > 1 && words[1].uppercased() == "PLAIN" {
            var response = words.count > 2 ? words[2] : ""
            if response.isEmpty {
                io.send("334 ")
                response = io.readLine() ?? ""
                record(response)
            }
            let parts = decode(response).split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
            if parts.count == 3 { (user, password) = (parts[1], parts[2]) }
        } else if words.count > 1 && words[1].uppercased() == "LOGIN" {
            io.send("334 VXNlcm5hbWU6")
            user = decode(io.readLine() ?? "")
            io.send("334 UGFzc3dvcmQ6")
            password = decode(io.readLine() ?? "")
        } else {
            io.send("504 5.5.4 Unrecognized authentication type")
            return false
        }
        guard user == credentials.user && password == credentials.password else {
            io.send("535 5.7.8 Error: authentication failed: authentication failure")
            return false
        }
        io.send("235 2.7.0 Authentication successful")
        return true
    }
}

/// CRLF lines over a socket, for FakeSMTPServer.
final class LineIO {
    let fd: Int32
    var buffer: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        var tv = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ line: String) {
        let bytes = Array((line + "\r\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func readLine() -> String? {
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                var line = Array(buffer[..<nl])
                buffer.removeFirst(nl + 1)
                if line.last == 13 { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }
}
