// The DNS client every program uses (smtpd's client names and DNS restrictions, smtp's
// MX and address lookups), through libunbound as a stub resolver: queries go to the
// servers of /etc/resolv.conf, or to `postern_dns_server` (Postern's only DNS
// parameter) when set. One context per process keeps unbound's cache (answers and
// negative answers for their TTL), plus a small front cache of decoded answers.
//
// Each lookup runs asynchronously on unbound's own thread (ub_ctx_async) while this
// thread polls ub_fd with a deadline, so a dead or slow server costs at most the
// resolv.conf time-out × attempts (5 s × 2 by default, as glibc's resolver, which
// Postfix uses) and then reports a temporary failure; it never hangs a session. The
// /etc/hosts file is not consulted here (Postfix's DNS lookups do not either); smtpd's
// client name lookup reads it first through HostsFile, as glibc does for getnameinfo.
// Unbound's built-in local zones (localhost, the loopback and private reverse zones,
// test., invalid. …) are switched off: every question goes to the configured server,
// as with Postfix.
import CUnbound
import Glibc

/// A stub resolver with a per-process cache.
public final class DNSResolver {
    /// The configured servers as `address@port`.
    public let servers: [String]
    /// True when the servers come from /etc/resolv.conf (postern_dns_server is empty).
    public let usesSystemConfiguration: Bool
    /// How long one lookup may take before it counts as a temporary failure.
    public let timeoutMs: Int
    /// The `inet_protocols` families `addresses` asks for.
    let askIPv4: Bool
    let askIPv6: Bool
    /// unbound's context, made at the first lookup: a process that never asks (most smtpd
    /// sessions from listed clients, qmgr, local) does not pay for its caches and thread.
    private var context: OpaquePointer?
    private var contextTried = false
    private let setupFailure: String?
    private var cache: [String: CachedAnswer] = [:]
    static let cacheLimit = 4096

    nonisolated(unsafe) private static var instance: DNSResolver?
    /// The reason of every temporary failure, in the resolver library's words (h_errno
    /// TRY_AGAIN), as Postfix's replies and log lines quote it.
    public static let tryAgain = "Host not found, try again"

    /// A resolver for CONFIG: `postern_dns_server` (`address[@port]`, several allowed)
    /// or /etc/resolv.conf; `inet_protocols` for address lookups. Throws a
    /// configuration error for a malformed server or when unbound refuses the settings.
    public init(config: MainConfig) throws {
        let families = Set(config.list("inet_protocols").map { $0.asciiLowercased })
        askIPv4 = families.contains("all") || families.contains("ipv4") || families.isEmpty
        askIPv6 = families.contains("all") || families.contains("ipv6")
        let configured = config.list("postern_dns_server")
        let system = ResolvConf.read("/etc/resolv.conf")
        if configured.isEmpty {
            servers = system.servers
            usesSystemConfiguration = true
        } else {
            servers = try configured.map { entry in
                guard let server = DNSResolver.serverAddress(entry) else {
                    throw ConfigError("\(config.origin("postern_dns_server")): bad DNS server \"\(entry)\": expected address or address@port")
                }
                return server
            }
            usesSystemConfiguration = false
        }
        timeoutMs = system.timeoutSeconds * system.attempts * 1000
        setupFailure = nil
    }

    private init(failure: String) {
        servers = []
        usesSystemConfiguration = true
        timeoutMs = 0
        askIPv4 = true
        askIPv6 = false
        setupFailure = failure
    }

    deinit {
        if let context { ub_ctx_delete(context) }
    }

    /// The process's resolver, made on first use. A configuration it cannot use is logged
    /// once; every lookup then fails temporarily, so nothing is accepted by mistake.
    public static func shared(config: MainConfig) -> DNSResolver {
        if let instance { return instance }
        let made: DNSResolver
        do {
            made = try DNSResolver(config: config)
        } catch {
            Log.warning("DNS resolver unavailable: \(error)")
            made = DNSResolver(failure: "DNS resolver unavailable")
        }
        instance = made
        return made
    }

    // MARK: lookups

    /// The A and AAAA records of NAME (per inet_protocols), as text. Found when either
    /// family has addresses; a temporary failure of one family wins over "not found".
    public func addresses(_ name: String) -> DNSResult<[String]> {
        var results: [DNSResult<[String]>] = []
        if askIPv4 { results.append(lookup(name, .a).map { $0.compactMap(DNSRecords.address) }) }
        if askIPv6 { results.append(lookup(name, .aaaa).map { $0.compactMap(DNSRecords.address) }) }
        let found = results.flatMap { $0.value ?? [] }
        if !found.isEmpty { return .found(found) }
        if let failure = results.first(where: \.isFailure) { return failure }
        let nxdomain = results.contains { if case .notFound(true) = $0 { return true } else { return false } }
        return .notFound(nxdomain: nxdomain)
    }

    /// The A records of NAME only (DNS block lists answer with IPv4 addresses).
    public func ipv4Addresses(_ name: String) -> DNSResult<[String]> {
        lookup(name, .a).map { $0.compactMap(DNSRecords.address) }
    }

    /// The MX records of NAME sorted by preference; a null MX is `[MXRecord(0, "")]`.
    public func mx(_ name: String) -> DNSResult<[MXRecord]> {
        lookup(name, .mx).map { records in
            records.compactMap(DNSRecords.mx).sorted { $0.preference < $1.preference }
        }
    }

    /// The names ADDRESS (IPv4 or IPv6 text) points back to.
    public func ptr(_ address: String) -> DNSResult<[String]> {
        guard let query = DNSRecords.reverseName(address) else { return .notFound(nxdomain: true) }
        return lookup(query, .ptr).map { $0.compactMap { DNSRecords.name($0) } }
    }

    /// The TXT records of NAME, each one's strings joined.
    public func txt(_ name: String) -> DNSResult<[String]> {
        lookup(name, .txt).map { $0.compactMap(DNSRecords.txt) }
    }

    /// The name servers of NAME.
    public func ns(_ name: String) -> DNSResult<[String]> {
        lookup(name, .ns).map { $0.compactMap { DNSRecords.name($0) } }
    }

    /// The raw record data of TYPE for NAME: from the front cache, else from unbound.
    func lookup(_ name: String, _ type: DNSRecordType) -> DNSResult<[[UInt8]]> {
        if let setupFailure { return .failed(reason: setupFailure) }
        var query = name
        while query.hasSuffix(".") { query.removeLast() }
        guard !query.isEmpty, !query.contains(".."), query.utf8.count <= 253 else { return .notFound(nxdomain: true) }
        let key = "\(type.rawValue) \(query.asciiLowercased)"
        let now = Clock.monotonicMs()
        if let hit = cache[key], hit.expiresMs > now { return hit.answer }
        let (answer, ttl) = resolve(query, type)
        if !answer.isFailure && ttl > 0 {
            if cache.count >= DNSResolver.cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[key] = CachedAnswer(answer: answer, expiresMs: now + Int64(ttl) * 1000)
        }
        return answer
    }

    /// One asynchronous query, waited for until the deadline; cancelled after it.
    private func resolve(_ name: String, _ type: DNSRecordType) -> (DNSResult<[[UInt8]]>, Int) {
        guard let context = readyContext() else { return (.failed(reason: "DNS resolver unavailable"), 0) }
        let pending = PendingQuery()
        let token = Unmanaged.passRetained(pending)
        var id: Int32 = 0
        let rc = ub_resolve_async(context, name, type.rawValue, 1, token.toOpaque(), pendingQueryDone, &id)
        if rc != 0 {
            token.release()
            if rc == UB_SYNTAX.rawValue { return (.notFound(nxdomain: true), 0) }
            Log.warning("DNS query \(name) \(type.name): \(String(cString: ub_strerror(rc)))")
            return (.failed(reason: DNSResolver.tryAgain), 0)
        }
        let deadline = Clock.monotonicMs() + Int64(timeoutMs)
        let fd = ub_fd(context)
        while !pending.done {
            let remaining = deadline - Clock.monotonicMs()
            if remaining <= 0 {
                pending.abandoned = true
                if ub_cancel(context, id) == 0 { token.release() }
                return (.failed(reason: DNSResolver.tryAgain), 0)
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, Int32(min(remaining, 1000))) > 0 {
                _ = ub_process(context)
            }
        }
        return (pending.answer(name, type), pending.ttl)
    }

    // MARK: set-up

    /// The unbound context, made on first use; nil (logged once) when unbound refuses the
    /// settings or the set-up failed earlier.
    private func readyContext() -> OpaquePointer? {
        if contextTried || setupFailure != nil { return context }
        contextTried = true
        do {
            context = try DNSResolver.makeContext(servers, timeoutMs: timeoutMs)
        } catch {
            Log.warning("DNS resolver unavailable: \(error)")
        }
        return context
    }

    /// `1.2.3.4`, `1.2.3.4@5353`, `::1@53` → unbound's `address@port` form; nil if malformed.
    static func serverAddress(_ entry: String) -> String? {
        var address = entry
        var port = 53
        if let at = entry.lastIndex(of: "@") {
            address = String(entry[..<at])
            guard let p = Int(entry[entry.index(after: at)...]), (1...65535).contains(p) else { return nil }
            port = p
        }
        if address.hasPrefix("[") && address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
        guard DNSRecords.reverseName(address) != nil else { return nil }
        return "\(address)@\(port)"
    }

    /// Zones unbound answers by itself unless told not to (RFC 6303, RFC 6761, RFC 7686).
    static let builtInZones = [
        "localhost.", "127.in-addr.arpa.",
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
        "home.arpa.", "resolver.arpa.", "service.arpa.", "onion.", "test.", "invalid.",
    ]

    /// An unbound context forwarding to SERVERS. A server silent for a quarter of the
    /// time-out counts as down (unbound then answers SERVFAIL by itself, about half-way
    /// through the deadline, and at once for the next minute's questions).
    static func makeContext(_ servers: [String], timeoutMs: Int) throws -> OpaquePointer {
        guard let ctx = ub_ctx_create() else { throw ConfigError("cannot create a DNS resolver context") }
        func check(_ rc: Int32, _ what: String) throws {
            guard rc != 0 else { return }
            ub_ctx_delete(ctx)
            throw ConfigError("DNS resolver: \(what): \(String(cString: ub_strerror(rc)))")
        }
        for (name, value) in [
            ("do-not-query-localhost:", "no"), ("unblock-lan-zones:", "yes"), ("insecure-lan-zones:", "yes"),
            ("infra-keep-probing:", "yes"), ("infra-host-ttl:", "60"),
            ("infra-cache-max-rtt:", String(max(200, timeoutMs / 4))),
        ] {
            try check(ub_ctx_set_option(ctx, name, value), name + " " + value)
        }
        for server in servers { try check(ub_ctx_set_fwd(ctx, server), "server " + server) }
        try check(ub_ctx_async(ctx, 1), "threads")
        // Removing a zone completes the context's set-up; the zones exist only from then on.
        for zone in builtInZones { try check(ub_ctx_zone_remove(ctx, zone), "zone " + zone) }
        return ctx
    }
}

/// A decoded answer and when it stops being valid.
struct CachedAnswer {
    let answer: DNSResult<[[UInt8]]>
    let expiresMs: Int64
}

/// One query in flight; unbound's callback fills it in.
final class PendingQuery {
    var done = false
    /// Set when the caller gave up; the callback then only frees the result.
    var abandoned = false
    var error: Int32 = 0
    var records: [[UInt8]] = []
    var haveData = false
    var nxdomain = false
    var rcode: Int32 = 0
    var bogus = false
    var ttl = 0

    func answer(_ name: String, _ type: DNSRecordType) -> DNSResult<[[UInt8]]> {
        if error != 0 || bogus { return .failed(reason: DNSResolver.tryAgain) }
        if haveData { return .found(records) }
        if nxdomain { return .notFound(nxdomain: true) }
        if rcode == 0 { return .notFound(nxdomain: false) }
        return .failed(reason: DNSResolver.tryAgain)
    }
}

/// unbound's completion callback: copies the result into the waiting query.
private let pendingQueryDone: ub_callback_type = { token, error, result in
    guard let token else {
        ub_resolve_free(result)
        return
    }
    let pending = Unmanaged<PendingQuery>.fromOpaque(token).takeRetainedValue()
    defer { ub_resolve_free(result) }
    pending.done = true
    guard !pending.abandoned else { return }
    pending.error = error
    guard error == 0, let r = result?.pointee else { return }
    pending.haveData = r.havedata != 0
    pending.nxdomain = r.nxdomain != 0
    pending.rcode = r.rcode
    pending.bogus = r.bogus != 0
    pending.ttl = Int(r.ttl)
    if let data = r.data, let lengths = r.len {
        var i = 0
        while let item = data[i] {
            let bytes = UnsafeRawBufferPointer(start: item, count: Int(lengths[i]))
            pending.records.append(Array(bytes))
            i += 1
        }
    }
}
