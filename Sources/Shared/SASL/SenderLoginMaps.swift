// smtpd_sender_login_maps: who owns an envelope sender address, as Postfix's
// reject_*_sender_login_mismatch restrictions ask (smtpd_check.c with mail_addr_find):
// the address, then the address without its extension, then (fixed-string tables only)
// the local part when the domain is local and `@domain`. The value is one login name or a
// list separated by commas and white space; logins compare without regard to case.

/// The owners of sender addresses, from one table list.
public struct SenderLoginMaps {
    let tables: TableList
    let resolver: AddressResolver
    let search: AccessSearch

    /// The maps named by VALUE (a `smtpd_sender_login_maps` setting); nil when empty.
    public init?(_ value: String, resolver: AddressResolver, search: AccessSearch) throws {
        guard !value.trimmed.isEmpty else { return nil }
        tables = try TableRegistry.openList(value)
        self.resolver = resolver
        self.search = search
    }

    /// The login names that own SENDER, or nil when the maps do not know it. A table
    /// that cannot be read throws.
    public func owners(_ sender: String) throws -> [String]? {
        let address = resolver.qualified(sender)
        var keys: [(String, Bool)] = [(address, false)]
        if let bare = AccessMap.stripExtension(address, search) { keys.append((bare, false)) }
        let parts = MailAddress(address)
        if !parts.domain.isEmpty {
            if try resolver.addressClass(address) == .local { keys.append((parts.localPart, true)) }
            keys.append(("@" + parts.normalizedDomain, true))
        }
        for (key, partial) in keys {
            if let value = try tables.lookup(key, partial: partial) { return splitList(value) }
        }
        return nil
    }

    /// Whether LOGIN is among OWNERS (case-insensitive, as Postfix compares them).
    public static func owns(_ owners: [String], login: String) -> Bool {
        owners.contains { $0.lowercased() == login.lowercased() }
    }
}
