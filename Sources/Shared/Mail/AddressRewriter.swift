// Envelope address rewriting as Postfix's trivial-rewrite and cleanup do it (canonical(5),
// virtual(5)): bare addresses completed (append_at_myorigin, append_dot_mydomain),
// canonical_maps plus sender_/recipient_canonical_maps (full address, then the local part
// for local domains, then `@domain`), masquerade_domains for the sender, and
// virtual_alias_maps expanding one recipient into many, recursively, up to
// virtual_alias_recursion_limit and virtual_alias_expansion_limit. A table that cannot be
// read is thrown as a temporary failure.

public final class AddressRewriter {
    let resolver: AddressResolver
    let senderCanonical: [TableList]
    let recipientCanonical: [TableList]
    let virtualAlias: TableList?
    let masquerade: [String]
    let masqueradeExceptions: Set<String>
    let recursionLimit: Int
    let expansionLimit: Int

    public init(config: MainConfig, resolver: AddressResolver) throws {
        self.resolver = resolver
        func tables(_ name: String) throws -> TableList? {
            let value = config.value(name)
            return value.trimmed.isEmpty ? nil : try TableRegistry.openList(value)
        }
        let common = try tables("canonical_maps")
        senderCanonical = [try tables("sender_canonical_maps"), common].compactMap { $0 }
        recipientCanonical = [try tables("recipient_canonical_maps"), common].compactMap { $0 }
        virtualAlias = try tables("virtual_alias_maps")
        masquerade = config.list("masquerade_domains").map { $0.asciiLowercased }
        masqueradeExceptions = Set(config.list("masquerade_exceptions").map { $0.asciiLowercased })
        recursionLimit = max(1, config.int("virtual_alias_recursion_limit"))
        expansionLimit = max(1, config.int("virtual_alias_expansion_limit"))
    }

    public var isIdentity: Bool { senderCanonical.isEmpty && recipientCanonical.isEmpty && virtualAlias == nil && masquerade.isEmpty }

    /// The envelope sender after canonical mapping and masquerading ("" stays "").
    public func sender(_ address: String) throws -> String {
        guard !address.isEmpty else { return address }
        return masqueraded(try canonical(resolver.qualified(address), senderCanonical))
    }

    /// The envelope recipients ADDRESS becomes: canonical mapping, then virtual aliases.
    public func recipients(_ address: String) throws -> [String] {
        try expand(try canonical(resolver.qualified(address), recipientCanonical), depth: 0, seen: [])
    }

    /// The keys a table is searched with for ADDRESS: `user@domain`, then `user` when the
    /// domain is local, then `@domain`.
    func keys(_ address: String) throws -> [(key: String, partial: Bool)] {
        let parts = MailAddress(address)
        var keys: [(String, Bool)] = [(address.asciiLowercased, false)]
        if !parts.domain.isEmpty {
            if try resolver.addressClass(address) == .local { keys.append((parts.localPart.asciiLowercased, true)) }
            keys.append(("@" + parts.normalizedDomain, true))
        }
        return keys
    }

    /// The first table value for ADDRESS; `@domain` results keep the local part.
    func lookup(_ address: String, _ tables: TableList) throws -> String? {
        for (key, partial) in try keys(address) {
            guard let value = try tables.lookup(key, partial: partial) else { continue }
            let v = value.trimmed
            if v.hasPrefix("@") { return MailAddress(address).localPart + v }
            return v
        }
        return nil
    }

    func canonical(_ address: String, _ lists: [TableList]) throws -> String {
        for tables in lists {
            if let mapped = try lookup(address, tables), !mapped.isEmpty { return mapped }
        }
        return address
    }

    func expand(_ address: String, depth: Int, seen: Set<String>) throws -> [String] {
        guard let tables = virtualAlias, depth < recursionLimit else { return [address] }
        guard let value = try lookup(address, tables) else { return [address] }
        var result: [String] = []
        var seen = seen
        seen.insert(address.asciiLowercased)
        for target in splitList(value, separators: ", \t") where !target.isEmpty {
            // An alias that names itself stops the recursion there (virtual(5)).
            if seen.contains(target.asciiLowercased) {
                result.append(target)
            } else {
                result += try expand(target, depth: depth + 1, seen: seen)
            }
            if result.count > expansionLimit { break }
        }
        var unique: [String] = []
        for r in result where !unique.contains(where: { $0.asciiLowercased == r.asciiLowercased }) { unique.append(r) }
        return Array(unique.prefix(expansionLimit))
    }

    /// masquerade_domains: `user@host.sub.example.com` → `user@example.com` for the first
    /// listed domain the address is under (a `!domain` entry stops masquerading there).
    func masqueraded(_ address: String) -> String {
        guard !masquerade.isEmpty else { return address }
        let parts = MailAddress(address)
        if masqueradeExceptions.contains(parts.localPart.asciiLowercased) { return address }
        let domain = parts.normalizedDomain
        for entry in masquerade {
            if entry.hasPrefix("!") {
                if domain == String(entry.dropFirst()) { return address }
                continue
            }
            if domain.hasSuffix("." + entry) { return parts.localPart + "@" + entry }
        }
        return address
    }
}
