// access(5) semantics in one place, for smtpd's check_*_access restrictions
// (smtpd_check.c check_mail_access, check_domain_access, check_addr_access,
// check_namadr_access, check_table_result): which keys are tried for an address, a
// domain, a host or a network address, in which order; and what a result means.
// This file decides nothing about SMTP replies; smtpd turns an `AccessAction` into one.

/// One key to try, and whether it is a partial key (parent domain, `user@`, a shorter
/// network), which Postfix looks up only in fixed-string tables (not regexp/pcre/cidr).
public struct AccessKey: Equatable, CustomStringConvertible {
    public let key: String
    public let partial: Bool

    public init(_ key: String, partial: Bool) {
        self.key = key
        self.partial = partial
    }

    public var description: String { partial ? key + " (partial)" : key }
}

/// The settings that shape the key search, from main.cf.
public struct AccessSearch: Equatable {
    /// `parent_domain_matches_subdomains` lists `smtpd_access_maps`: `example.com` also
    /// matches `sub.example.com` (otherwise only `.example.com` does).
    public var parentMatchesSubdomains = true
    /// `recipient_delimiter`: any of these characters starts an address extension.
    public var recipientDelimiters = ""
    /// `double_bounce_sender`, whose local part is never split at a delimiter.
    public var doubleBounceSender = "double-bounce"
    /// `smtpd_null_access_lookup_key`: what the null sender `<>` is looked up as.
    public var nullSenderKey = "<>"

    public init() {}

    public init(config: MainConfig) {
        parentMatchesSubdomains = config.list("parent_domain_matches_subdomains").contains("smtpd_access_maps")
        recipientDelimiters = config.value("recipient_delimiter")
        doubleBounceSender = config.value("double_bounce_sender")
        nullSenderKey = config.value("smtpd_null_access_lookup_key")
    }
}

/// The access(5) key search: which keys smtpd tries, in which order.
public enum AccessMap {
    /// The keys for a sender or recipient ADDRESS, in Postfix's order: `user+ext@domain`,
    /// `user@domain`, the domain and its parents (or `.parent` keys), `user+ext@`,
    /// `user@`. The null sender (an empty address) is looked up as `nullSenderKey` only.
    public static func addressKeys(_ address: String, _ search: AccessSearch) -> [AccessKey] {
        if address.isEmpty { return [AccessKey(search.nullSenderKey, partial: false)] }
        let address = address.asciiLowercased
        var keys = [AccessKey(address, partial: false)]
        let bare = stripExtension(address, search)
        if let bare { keys.append(AccessKey(bare, partial: true)) }
        guard let at = address.lastIndex(of: "@") else { return keys }
        let domain = String(address[address.index(after: at)...])
        keys += domainKeys(domain, search, partial: true)
        keys.append(AccessKey(String(address[...at]), partial: true))
        if let bare, let bareAt = bare.lastIndex(of: "@") {
            keys.append(AccessKey(String(bare[...bareAt]), partial: true))
        }
        return keys
    }

    /// The keys for a DOMAIN (HELO name, client or sender domain): the name, then its
    /// parent domains (`example.com`, `com`) or subdomain keys (`.example.com`, `.com`),
    /// per `parentMatchesSubdomains`. A numeric address gets no parents. PARTIAL marks
    /// the first key too (as for the domain part of a mail address).
    public static func domainKeys(_ domain: String, _ search: AccessSearch, partial: Bool = false) -> [AccessKey] {
        let domain = domain.asciiLowercased
        var keys: [AccessKey] = []
        var name = Substring(domain)
        var isPartial = partial
        while !name.isEmpty {
            keys.append(AccessKey(String(name), partial: isPartial))
            if keys.count == 1 && isHostAddress(domain) { break }
            guard let dot = name.dropFirst().firstIndex(of: ".") else { break }
            name = search.parentMatchesSubdomains ? name[name.index(after: dot)...] : name[dot...]
            isPartial = true
        }
        return keys
    }

    /// The keys for a client ADDRESS: the address, then shorter networks (`1.2.3`,
    /// `1.2`, `1`; for IPv6 the address cut at each `:` from the right).
    public static func networkKeys(_ address: String) -> [AccessKey] {
        let address = address.asciiLowercased
        let delimiter: Character = address.contains(":") ? ":" : "."
        var keys = [AccessKey(address, partial: false)]
        var rest = Substring(address)
        while let cut = rest.lastIndex(of: delimiter) {
            rest = rest[..<cut]
            keys.append(AccessKey(String(rest), partial: true))
        }
        return keys
    }

    /// The keys for a client host: its NAME as a domain, then its ADDRESS as a network
    /// (check_client_access).
    public static func hostKeys(name: String, address: String, _ search: AccessSearch) -> [AccessKey] {
        domainKeys(name, search) + networkKeys(address)
    }

    /// ADDRESS without its extension (`user+foo@example.com` -> `user@example.com`), nil
    /// when it has none or must not be split (postmaster, MAILER-DAEMON, the
    /// double-bounce sender, `owner-x` and `x-request` when `-` is a delimiter).
    public static func stripExtension(_ address: String, _ search: AccessSearch) -> String? {
        guard !search.recipientDelimiters.isEmpty else { return nil }
        let at = address.lastIndex(of: "@") ?? address.endIndex
        let local = address[..<at]
        let lower = local.lowercased()
        if lower == "postmaster" || lower == "mailer-daemon" || lower == search.doubleBounceSender.lowercased() {
            return nil
        }
        if search.recipientDelimiters.contains("-") {
            if lower.hasPrefix("owner-") || (lower.count > 8 && lower.hasSuffix("-request")) { return nil }
        }
        guard let cut = local.firstIndex(where: { search.recipientDelimiters.contains($0) }),
            cut != local.startIndex
        else { return nil }
        return String(local[..<cut]) + String(address[at...])
    }

    /// Whether TEXT is a bare IPv4 or IPv6 address (Postfix's valid_hostaddr).
    static func isHostAddress(_ text: String) -> Bool {
        CIDRTable.address(text) != nil
    }
}

/// A found access-table entry: the key that matched and what its value says.
public struct AccessMatch: Equatable {
    public let key: AccessKey
    public let value: String
    public let action: AccessAction

    public init(key: AccessKey, value: String) {
        self.key = key
        self.value = value
        action = AccessAction(value)
    }
}

extension Table {
    /// Tries KEYS in order; the first key the table has answers (DUNNO included, which
    /// stops the search as in Postfix). Partial keys are skipped on pattern tables.
    public func accessLookup(_ keys: [AccessKey]) throws(TableError) -> AccessMatch? {
        for key in keys where !key.partial || isFixed {
            if let value = try lookup(key.key) { return AccessMatch(key: key, value: value) }
        }
        return nil
    }
}
