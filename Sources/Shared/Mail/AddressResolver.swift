// Where a recipient goes (trivial-rewrite's resolve): local domains to local_transport,
// relay_domains to relay_transport, everything else to default_transport, with
// relayhost and transport_maps (`transport:nexthop`, `smtp:[host]:port`) applied as in
// Postfix. One place answers this for smtpd's relay checks and qmgr's scheduling.

public struct Route: Equatable {
    public var transport: String
    public var nexthop: String
    /// The recipient as it will be delivered (bare local parts get @myorigin).
    public var recipient: String
    public var addressClass: Class

    public enum Class: Equatable {
        case local, virtualAlias, virtualMailbox, relay, other
    }

    public init(transport: String, nexthop: String, recipient: String, addressClass: Class) {
        self.transport = transport
        self.nexthop = nexthop
        self.recipient = recipient
        self.addressClass = addressClass
    }
}

public final class AddressResolver {
    let config: MainConfig
    public var mydestination: DomainList
    public var relayDomains: DomainList
    public var virtualAliasDomains: DomainList
    public var virtualMailboxDomains: DomainList
    let interfaceLiterals: Set<String>
    let myorigin: String
    let myhostname: String
    let relayhost: String
    let mydomain: String
    let appendAtMyorigin: Bool
    let appendDotMydomain: Bool
    let transportMaps: TableList?

    public init(config: MainConfig) throws {
        self.config = config
        mydestination = DomainList(parameter: "mydestination", config: config)
        relayDomains = DomainList(parameter: "relay_domains", config: config)
        virtualAliasDomains = DomainList(parameter: "virtual_alias_domains", config: config)
        virtualMailboxDomains = DomainList(parameter: "virtual_mailbox_domains", config: config)
        myorigin = config.value("myorigin").asciiLowercased
        myhostname = config.value("myhostname").asciiLowercased
        relayhost = config.value("relayhost")
        mydomain = config.value("mydomain").asciiLowercased
        appendAtMyorigin = config.bool("append_at_myorigin")
        appendDotMydomain = config.bool("append_dot_mydomain")
        let maps = config.value("transport_maps")
        transportMaps = maps.trimmed.isEmpty ? nil : try TableRegistry.openList(maps)
        var literals: Set<String> = []
        let interfaces = config.list("inet_interfaces") + config.list("proxy_interfaces")
        for a in interfaces where a != "all" && a != "loopback-only" {
            let bare = a.hasPrefix("[") && a.hasSuffix("]") ? String(a.dropFirst().dropLast()) : a
            literals.insert("[" + bare + "]")
        }
        if interfaces.contains(where: { $0 == "all" || $0 == "loopback-only" }) {
            literals.formUnion(["[127.0.0.1]", "[::1]", "[ipv6:::1]"])
        }
        interfaceLiterals = literals
        let lookup: (String, String) throws -> Bool = { spec, domain in try TableRegistry.open(spec).lookup(domain) != nil }
        mydestination.tableLookup = lookup
        relayDomains.tableLookup = lookup
        virtualAliasDomains.tableLookup = lookup
        virtualMailboxDomains.tableLookup = lookup
    }

    /// The address as trivial-rewrite completes it: @myorigin appended when it has no
    /// domain (append_at_myorigin), .mydomain when the domain has no dot
    /// (append_dot_mydomain).
    public func qualified(_ address: String) -> String {
        guard !address.isEmpty else { return address }
        guard address.contains("@") else { return appendAtMyorigin ? address + "@" + myorigin : address }
        let parts = MailAddress(address)
        if appendDotMydomain && !parts.domain.isEmpty && !parts.domain.contains(".") && !parts.domain.hasPrefix("[") {
            return address + "." + mydomain
        }
        return address
    }

    /// The class of ADDRESS's domain; throws when a domain table cannot be read.
    public func addressClass(_ address: String) throws -> Route.Class {
        let domain = MailAddress(qualified(address)).normalizedDomain
        if try mydestination.contains(domain) || interfaceLiterals.contains(domain) { return .local }
        if try virtualAliasDomains.contains(domain) { return .virtualAlias }
        if try virtualMailboxDomains.contains(domain) { return .virtualMailbox }
        if try relayDomains.contains(domain) { return .relay }
        return .other
    }

    /// The transport and next hop for ADDRESS.
    public func resolve(_ address: String) throws -> Route {
        let recipient = qualified(address)
        let domain = MailAddress(recipient).normalizedDomain
        let cls = try addressClass(recipient)
        var (transport, nexthop): (String, String)
        switch cls {
        case .local: (transport, nexthop) = AddressResolver.split(config.value("local_transport"), fallback: myhostname)
        case .virtualAlias: (transport, nexthop) = ("error", "User unknown in virtual alias table")
        case .virtualMailbox: (transport, nexthop) = AddressResolver.split(config.value("virtual_transport"), fallback: domain)
        case .relay: (transport, nexthop) = AddressResolver.split(config.value("relay_transport"), fallback: relayhost.isEmpty ? domain : relayhost)
        case .other: (transport, nexthop) = AddressResolver.split(config.value("default_transport"), fallback: relayhost.isEmpty ? domain : relayhost)
        }
        if let maps = transportMaps, let entry = try transportEntry(maps, recipient: recipient, domain: domain) {
            let (t, n) = AddressResolver.split(entry, fallback: nexthop)
            if !t.isEmpty { transport = t }
            nexthop = n
        }
        return Route(transport: transport, nexthop: nexthop, recipient: recipient, addressClass: cls)
    }

    /// transport(5) search order: the full address, the domain, then parent domains as
    /// `.domain`, then `*`.
    func transportEntry(_ maps: TableList, recipient: String, domain: String) throws -> String? {
        if let v = try maps.lookup(recipient.asciiLowercased) { return v }
        if let v = try maps.lookup(domain, partial: true) { return v }
        var rest = Substring(domain)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            if let v = try maps.lookup("." + rest, partial: true) { return v }
        }
        return try maps.lookup("*", partial: true)
    }

    /// `transport:nexthop` → its parts; an empty part takes FALLBACK (for the next hop).
    static func split(_ value: String, fallback: String) -> (String, String) {
        guard let colon = value.firstIndex(of: ":") else { return (value, fallback) }
        let nexthop = String(value[value.index(after: colon)...])
        return (String(value[..<colon]), nexthop.isEmpty ? fallback : nexthop)
    }
}
