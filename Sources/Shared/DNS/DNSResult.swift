// What a DNS lookup can answer, kept in the three kinds Postfix's dns_lookup()
// distinguishes: found, permanently not found (NXDOMAIN, or NODATA: the name exists
// without records of that type), and a temporary failure (SERVFAIL, time-out, no
// reachable server), which callers must answer with a 4xx, never with an accept or a 5xx.

/// The outcome of one lookup.
public enum DNSResult<Value> {
    case found(Value)
    /// The name does not exist (`nxdomain: true`) or has no record of the type asked for.
    case notFound(nxdomain: Bool)
    /// A temporary failure; REASON is for log lines.
    case failed(reason: String)

    /// The value when found.
    public var value: Value? {
        if case .found(let v) = self { return v }
        return nil
    }

    /// True for a temporary failure.
    public var isFailure: Bool {
        if case .failed = self { return true }
        return false
    }

    /// The same outcome with the found value transformed.
    public func map<T>(_ transform: (Value) -> T) -> DNSResult<T> {
        switch self {
        case .found(let v): return .found(transform(v))
        case .notFound(let nx): return .notFound(nxdomain: nx)
        case .failed(let reason): return .failed(reason: reason)
        }
    }
}

/// One MX record (RFC 5321 §5.1). A null MX (RFC 7505: one record, preference 0, target
/// `.`) is reported as `found([MXRecord(preference: 0, host: "")])`.
public struct MXRecord: Equatable {
    public let preference: Int
    /// The exchanger's name without the trailing dot; empty for a null MX.
    public let host: String

    public init(preference: Int, host: String) {
        self.preference = preference
        self.host = host
    }

    /// True for RFC 7505's "this domain accepts no mail" record.
    public var isNullMX: Bool { host.isEmpty }
}
