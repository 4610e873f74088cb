// Postfix's domain match lists (mydestination, relay_domains, virtual_alias_domains…):
// names matched case-insensitively, `.domain` for subdomains, parent domains matching
// subdomains when parent_domain_matches_subdomains names the parameter, `!name` to
// exclude, and `type:table` entries answered by a lookup (a hook set by the caller).

public struct DomainList {
    enum Entry {
        case name(String)
        case table(String)
    }

    var entries: [(entry: Entry, negated: Bool)] = []
    let parentMatches: Bool
    /// Looks a domain up in a `type:table` entry; throws on a table failure.
    public var tableLookup: ((String, String) throws -> Bool)?

    /// ITEMS are the list's (expanded) elements; PARENTMATCHES follows
    /// parent_domain_matches_subdomains for this list's parameter.
    public init(_ items: [String], parentMatches: Bool) {
        self.parentMatches = parentMatches
        for raw in items {
            var item = raw
            let negated = item.hasPrefix("!")
            if negated { item.removeFirst() }
            if item.contains(":") && !item.hasPrefix("[") {
                entries.append((.table(item), negated))
            } else {
                var name = item.asciiLowercased
                if name.hasSuffix(".") { name.removeLast() }
                entries.append((.name(name), negated))
            }
        }
    }

    /// Builds the list for PARAMETER from CONFIG.
    public init(parameter: String, config: MainConfig) {
        let parents = config.list("parent_domain_matches_subdomains").contains(parameter)
        self.init(config.list(parameter), parentMatches: parents)
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// True when DOMAIN (already lower-case) is in the list.
    public func contains(_ domain: String) throws -> Bool {
        for (entry, negated) in entries {
            let hit: Bool
            switch entry {
            case .name(let name):
                if name.hasPrefix(".") {
                    hit = domain.hasSuffix(name)
                } else {
                    hit = domain == name || (parentMatches && domain.hasSuffix("." + name))
                }
            case .table(let spec):
                hit = try tableLookup?(spec, domain) ?? false
            }
            if hit { return !negated }
        }
        return false
    }
}
