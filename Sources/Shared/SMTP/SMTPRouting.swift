// Where the SMTP client sends mail for a next hop (RFC 5321 §5.1, RFC 7505 null MX), as
// Postfix's smtp(8) decides it: a next hop is a list of destinations (`[host]:port`
// skips the MX lookup, `host:port` and `host` look up MX records, falling back to the
// host's own addresses when it has none); MX hosts are tried in preference order, equal
// preferences shuffled; on port 25 the list stops at this host's own address (mail for
// a domain we are MX for must not loop). DNS trouble becomes Postfix's texts and status
// codes (`Host or domain name not found. Name service error for name=… type=MX: …`,
// `Domain … does not accept mail (nullMX)`). The lookups themselves come through
// SMTPHostLookup, so all of this is testable without a resolver.

/// One destination of a next hop.
public struct SMTPDestination: Equatable {
    /// The host or domain, without brackets (an IPv6 address without `ipv6:`).
    public var host: String
    public var port: UInt16
    /// False for `[host]`: connect to the host itself, no MX lookup.
    public var lookupMX: Bool
    /// As written in the next hop (the smtp_sasl_password_maps key).
    public var text: String

    public init(host: String, port: UInt16, lookupMX: Bool, text: String) {
        self.host = host
        self.port = port
        self.lookupMX = lookupMX
        self.text = text
    }

    /// Parses `[host]:port`, `[host]`, `host:port` or `host` (port by number or service
    /// name); nil when malformed.
    public static func parse(_ text: String, defaultPort: UInt16) -> SMTPDestination? {
        var rest = Substring(text)
        var host: Substring
        var lookupMX = true
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            rest = rest[rest.index(after: close)...]
            lookupMX = false
            if host.lowercased().hasPrefix("ipv6:") { host = host.dropFirst(5) }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            rest = rest[colon...]
        } else {
            host = rest
            rest = ""
        }
        var port = defaultPort
        if !rest.isEmpty {
            guard rest.hasPrefix(":"), let p = resolvePort(String(rest.dropFirst())) else { return nil }
            port = p
        }
        guard !host.isEmpty else { return nil }
        return SMTPDestination(host: String(host), port: port, lookupMX: lookupMX, text: text)
    }

    /// The destinations of a next hop: a list separated by commas or white space (Postfix
    /// 3.5), malformed ones left out.
    public static func list(_ nexthop: String, defaultPort: UInt16) -> [SMTPDestination] {
        splitList(nexthop).compactMap { parse($0, defaultPort: defaultPort) }
    }
}

/// One address to connect to.
public struct SMTPServer: Equatable {
    /// The host name (an MX host, or the destination itself).
    public var host: String
    public var address: String
    public var port: UInt16
    /// The MX preference (0 without MX records).
    public var preference: Int

    public init(host: String, address: String, port: UInt16, preference: Int) {
        self.host = host
        self.address = address
        self.port = port
        self.preference = preference
    }

    /// `host[address]:port`, the `relay=` of a log line.
    public var relayName: String { "\(host)[\(address)]:\(port)" }
}

/// The answer of a name lookup.
public enum SMTPLookupResult<Value> {
    case found(Value)
    /// No such name (NXDOMAIN), or the name has no records of the type asked for.
    case notFound(nxdomain: Bool)
    /// The lookup did not complete (server failure, time-out): try again later.
    case failed
}

/// MX and address lookups, as the resolver answers them.
public protocol SMTPHostLookup {
    /// The MX records of DOMAIN; a null MX (RFC 7505) is one record with host "".
    func mx(_ domain: String) -> SMTPLookupResult<[(preference: Int, host: String)]>
    /// The IPv4 and IPv6 addresses of HOST.
    func addresses(_ host: String) -> SMTPLookupResult<[String]>
}

/// The servers for a destination, or why there are none.
public enum SMTPRoute: Equatable {
    case servers([SMTPServer])
    case failed(SMTPFailure)
}

/// Turns destinations into server lists.
public struct SMTPRouter {
    let lookup: SMTPHostLookup
    /// This host's addresses, to stop before ourselves in an MX list (port 25 only).
    let ownAddresses: Set<String>
    /// Address families to use (inet_protocols).
    let ipv4: Bool
    let ipv6: Bool
    /// smtp_randomize_addresses: shuffle hosts of equal preference.
    let randomize: Bool

    public init(lookup: SMTPHostLookup, ownAddresses: Set<String>, ipv4: Bool = true, ipv6: Bool = true, randomize: Bool = true) {
        self.lookup = lookup
        self.ownAddresses = ownAddresses
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.randomize = randomize
    }

    /// The record type Postfix names in address lookup errors.
    var addressType: String { ipv4 ? "A" : "AAAA" }

    /// The servers to try for DESTINATION, in order.
    public func route(_ destination: SMTPDestination) -> SMTPRoute {
        if isAddress(destination.host) {
            return .servers([SMTPServer(host: destination.host, address: destination.host, port: destination.port, preference: 0)])
        }
        guard destination.lookupMX else { return hostRoute(destination) }
        switch lookup.mx(destination.host) {
        case .failed:
            return .failed(SMTPFailure(dsn: "4.4.3", reason: nameError(destination.host, "MX", "Host not found, try again")))
        case .notFound:
            return hostRoute(destination)
        case .found(let records):
            if records.contains(where: { $0.host.isEmpty || $0.host == "." }) {
                return .failed(SMTPFailure(dsn: "5.1.0", reason: "Domain \(destination.host) does not accept mail (nullMX)"))
            }
            return mxRoute(destination, records)
        }
    }

    /// No MX: the destination's own addresses.
    func hostRoute(_ destination: SMTPDestination) -> SMTPRoute {
        var failure: SMTPFailure?
        let servers = addresses(destination.host, preference: 0, port: destination.port, failure: &failure)
        if servers.isEmpty { return .failed(failure ?? unavailable) }
        if destination.port == 25 && servers.contains(where: { ownAddresses.contains($0.address) }) {
            return .failed(SMTPFailure(dsn: "5.4.6", reason: "mail for \(destination.text) loops back to myself"))
        }
        return .servers(servers)
    }

    /// The MX hosts' addresses by preference, cut before our own.
    func mxRoute(_ destination: SMTPDestination, _ records: [(preference: Int, host: String)]) -> SMTPRoute {
        var failure: SMTPFailure?
        var servers: [SMTPServer] = []
        for record in records.sorted(by: { $0.preference < $1.preference }) {
            var host = record.host
            if host.hasSuffix(".") { host.removeLast() }
            servers += addresses(host, preference: record.preference, port: destination.port, failure: &failure)
        }
        guard !servers.isEmpty else {
            Log.warning("no MX host for \(destination.host) has a valid address record")
            return .failed(failure ?? unavailable)
        }
        servers = ordered(servers)
        let best = records.map(\.preference).min() ?? 0
        if destination.port == 25, let me = servers.first(where: { ownAddresses.contains($0.address) }) {
            servers = servers.filter { $0.preference < me.preference }
            if servers.isEmpty {
                return .failed(me.preference == best
                    ? SMTPFailure(dsn: "5.4.6", reason: "mail for \(destination.host) loops back to myself")
                    : SMTPFailure(dsn: "4.4.4", reason: "unable to find primary relay for \(destination.host)"))
            }
        }
        return .servers(servers)
    }

    /// HOST's addresses as servers; a failed lookup leaves its reason in FAILURE, a
    /// temporary one winning over a permanent one (as Postfix keeps a soft error).
    func addresses(_ host: String, preference: Int, port: UInt16, failure: inout SMTPFailure?) -> [SMTPServer] {
        if isAddress(host) { return [SMTPServer(host: host, address: host, port: port, preference: preference)] }
        let soft = failure?.isTemporary ?? false
        switch lookup.addresses(host) {
        case .found(let list):
            let usable = list.filter { $0.contains(":") ? ipv6 : ipv4 }
            if usable.isEmpty && failure == nil {
                failure = SMTPFailure(dsn: "5.4.4", reason: nameError(host, addressType, "Host found but no data record of requested type"))
            }
            return usable.map { SMTPServer(host: host, address: $0, port: port, preference: preference) }
        case .notFound(let nxdomain):
            if !soft {
                failure = SMTPFailure(dsn: "5.4.4", reason: nameError(host, addressType, nxdomain ? "Host not found" : "Host found but no data record of requested type"))
            }
        case .failed:
            failure = SMTPFailure(dsn: "4.4.3", reason: nameError(host, addressType, "Host not found, try again"))
        }
        return []
    }

    /// Servers by preference; equal preferences shuffled when asked.
    func ordered(_ servers: [SMTPServer]) -> [SMTPServer] {
        let groups = Dictionary(grouping: servers, by: \.preference)
        return groups.keys.sorted().flatMap { randomize ? groups[$0]!.shuffled() : groups[$0]! }
    }

    var unavailable: SMTPFailure { SMTPFailure(dsn: "4.3.0", reason: "server unavailable or unable to receive mail") }

    func nameError(_ name: String, _ type: String, _ detail: String) -> String {
        "Host or domain name not found. Name service error for name=\(name) type=\(type): \(detail)"
    }

    func isAddress(_ host: String) -> Bool { InetAddress(host: host, port: 0) != nil }
}
