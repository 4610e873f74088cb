// The client side of Postfix's plain attribute protocol (attr_clnt + auto_clnt): one
// kept-open connection to a `unix:` or `inet:` endpoint, reused for many requests, closed
// when idle too long, too old or used too often, and reopened on demand. A request that
// fails is retried up to a try limit with a delay in between; each failure is logged as
// `warning: problem talking to server NAME: REASON` (transient ones only on the last try,
// as Postfix does) and the caller gets nil, never an exception and never a wait longer
// than its time limits. anvil's and the policy services' clients are built on it.
import CSupport
import Glibc

/// Where a service listens: `unix:PATH` (absolute, or relative to the queue directory,
/// which is every daemon's working directory) or `inet:HOST:PORT`.
public struct ServiceEndpoint: Equatable, CustomStringConvertible {
    public enum Transport: Equatable {
        case unix(String)
        case inet(host: String, port: String)
    }

    public let transport: Transport

    public init(_ transport: Transport) { self.transport = transport }

    /// Parses `unix:private/policy`, `unix:/run/x.sock`, `inet:127.0.0.1:9998`,
    /// `inet:[::1]:9998`, `inet:localhost:9998`.
    public static func parse(_ text: String) throws -> ServiceEndpoint {
        guard let colon = text.firstIndex(of: ":") else {
            throw ConfigError("need service transport:endpoint instead of \"\(text)\"")
        }
        let kind = String(text[..<colon]).asciiLowercased
        let rest = String(text[text.index(after: colon)...])
        switch kind {
        case "unix", "local":
            guard !rest.isEmpty else { throw ConfigError("missing pathname in \"\(text)\"") }
            return ServiceEndpoint(.unix(rest))
        case "inet":
            guard let split = rest.lastIndex(of: ":"), split != rest.startIndex, rest.index(after: split) != rest.endIndex else {
                throw ConfigError("missing host or port in \"\(text)\"")
            }
            var host = String(rest[..<split])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return ServiceEndpoint(.inet(host: host, port: String(rest[rest.index(after: split)...])))
        default:
            throw ConfigError("unsupported transport type: \(kind)")
        }
    }

    /// The name Postfix's warnings use: the endpoint without its transport prefix.
    public var description: String {
        switch transport {
        case .unix(let path): return path
        case .inet(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }

    /// Opens a connection, waiting at most TIMEOUT seconds.
    func connect(timeout: Int) throws -> Int32 {
        switch transport {
        case .unix(let path):
            return try Sockets.connectUnix(path, timeout: timeout)
        case .inet(let host, let port):
            guard let number = resolvePort(port) else { throw SystemError("unknown service \(port)/tcp", code: EINVAL) }
            var lastError = SystemError("connect to \(self)", code: EHOSTUNREACH)
            for address in ServiceEndpoint.addresses(host, number) {
                do {
                    return try Sockets.connectInet(address, timeout: timeout)
                } catch let e as SystemError {
                    lastError = e
                }
            }
            throw lastError
        }
    }

    /// HOST's addresses: itself when numeric, else what getaddrinfo finds.
    static func addresses(_ host: String, _ port: UInt16) -> [InetAddress] {
        if let numeric = InetAddress(host: host, port: port) { return [numeric] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0 else { return [] }
        defer { freeaddrinfo(result) }
        var found: [InetAddress] = []
        var p = result
        while let ai = p {
            defer { p = ai.pointee.ai_next }
            guard let addr = ai.pointee.ai_addr else { continue }
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: addr, count: Int(ai.pointee.ai_addrlen)))
            }
            found.append(InetAddress(storage: storage, length: ai.pointee.ai_addrlen))
        }
        return found
    }
}

/// Why one attempt failed: an errno, or a protocol fault (shown as "Application error").
struct AttributeClientFailure: Error {
    let code: Int32

    static let protocolFault = AttributeClientFailure(code: 0)

    var text: String { code == 0 ? "Application error" : errnoText(code) }

    /// Faults Postfix reports only on the last try: a server that went away or is not there.
    var isQuiet: Bool { code == 0 || code == EPIPE || code == ENOENT || code == ECONNRESET }

    init(code: Int32) { self.code = code }

    init(_ error: Error) {
        switch error {
        case let e as SystemError: code = e.code
        case StreamError.timeout: code = ETIMEDOUT
        case StreamError.failed(let c): code = c
        default: code = 0
        }
    }
}

/// A kept-open attribute-protocol connection with Postfix's reuse and retry rules.
public final class AttributeClient {
    public struct Settings {
        /// Seconds for connecting and for each read or write.
        public var timeout = 100
        /// Close a connection unused for this many seconds (0 = never).
        public var maxIdle = 300
        /// Close a connection this many seconds after it was opened (0 = never).
        public var maxTTL = 1000
        /// Close a connection after this many requests (0 = no limit).
        public var requestLimit = 0
        /// Attempts per request (at least one).
        public var tryLimit = 2
        /// Seconds between attempts.
        public var retryDelay = 1

        public init() {}
    }

    public let endpoint: ServiceEndpoint
    public let settings: Settings
    /// What the server sends first on a new connection (anvil's `protocol=anvil_protocol`).
    public let greeting: AttributeList?
    var stream: BufferedStream?
    var openedAt: Int64 = 0
    var lastUsed: Int64 = 0
    var requestCount = 0

    public init(endpoint: ServiceEndpoint, settings: Settings, greeting: AttributeList? = nil) {
        self.endpoint = endpoint
        self.settings = settings
        self.greeting = greeting
    }

    deinit { disconnect() }

    /// True while a connection is open (for tests of reuse).
    public var isConnected: Bool { stream != nil }

    /// Sends REQUEST and returns the server's reply, or nil after try_limit failed
    /// attempts (each logged as Postfix does). A reply without the attribute EXPECTING
    /// counts as a failed attempt.
    public func request(_ request: AttributeList, expecting: String? = nil) -> AttributeList? {
        var attempt = 0
        while true {
            attempt += 1
            let failure: AttributeClientFailure
            do {
                let reply = try exchange(request)
                if let name = expecting, reply[name] == nil { throw AttributeClientFailure.protocolFault }
                return reply
            } catch let f as AttributeClientFailure {
                failure = f
            } catch {
                failure = AttributeClientFailure(error)
            }
            disconnect()
            let last = attempt >= max(1, settings.tryLimit)
            if last || !failure.isQuiet { Log.warning("problem talking to server \(endpoint): \(failure.text)") }
            if last { return nil }
            if settings.retryDelay > 0 { sleep(UInt32(settings.retryDelay)) }
        }
    }

    /// Closes the connection (the next request opens a new one).
    public func disconnect() {
        if let s = stream { close(s.descriptor) }
        stream = nil
        requestCount = 0
    }

    func exchange(_ request: AttributeList) throws -> AttributeList {
        let s = try connection()
        s.writeAttributes(request, xtext: false)
        try s.flush()
        guard let reply = try s.readAttributes(xtext: false) else { throw AttributeClientFailure.protocolFault }
        lastUsed = Clock.monotonicMs()
        requestCount += 1
        if settings.requestLimit > 0 && requestCount >= settings.requestLimit { disconnect() }
        return reply
    }

    /// The open connection when it may still be used, else a new one.
    func connection() throws -> BufferedStream {
        let now = Clock.monotonicMs()
        if let s = stream {
            let idle = settings.maxIdle > 0 && now - lastUsed >= Int64(settings.maxIdle) * 1000
            let old = settings.maxTTL > 0 && now - openedAt >= Int64(settings.maxTTL) * 1000
            // A server never speaks first on a kept connection: input here means it hung up.
            if !idle && !old && !Sockets.waitFor(s.descriptor, events: Int16(POLLIN), timeoutMs: 0) { return s }
            disconnect()
        }
        let fd: Int32
        do {
            fd = try endpoint.connect(timeout: max(1, settings.timeout))
        } catch let e as SystemError {
            Log.warning("connect to \(endpoint): \(errnoText(e.code))")
            throw AttributeClientFailure(code: e.code)
        }
        let s = BufferedStream(descriptor: fd, timeoutMs: max(1, settings.timeout) * 1000)
        stream = s
        openedAt = now
        lastUsed = now
        if let expected = greeting {
            guard let received = try s.readAttributes(xtext: false), received == expected else {
                throw AttributeClientFailure.protocolFault
            }
        }
        return s
    }
}
