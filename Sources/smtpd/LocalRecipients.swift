// local_recipient_maps and the domain-list tables, through the one table layer: which
// local users exist (`user@domain`, then `user` with and without its address extension),
// with a table that cannot be read reported as a temporary failure, never as "unknown".
import Shared

enum LocalRecipients {
    /// A lookup function for local_recipient_maps, or nil when the parameter is empty
    /// (every local address is accepted, as in Postfix).
    static func lookup(_ config: MainConfig) throws -> ((String) throws -> Bool)? {
        let value = config.value("local_recipient_maps")
        guard !value.trimmed.isEmpty else { return nil }
        let tables = try TableRegistry.openList(value)
        let delimiters = config.value("recipient_delimiter")
        return { address in
            let parts = MailAddress(address)
            var keys = [address.asciiLowercased, parts.localPart.asciiLowercased]
            if let i = parts.localPart.firstIndex(where: { delimiters.contains($0) }), !delimiters.isEmpty {
                keys.append(String(parts.localPart[..<i]).asciiLowercased)
            }
            for key in keys where try tables.lookup(key) != nil { return true }
            return false
        }
    }

    /// Answers `type:table` entries of domain lists (mydestination, relay_domains…).
    static func domainTableLookup(spec: String, domain: String) throws -> Bool {
        try TableRegistry.open(spec).lookup(domain) != nil
    }
}
