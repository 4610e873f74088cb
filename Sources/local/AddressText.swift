// Address text as local(8) handles it: the local part and domain of an address, the
// `@$myorigin` a bare name gets (canon_addr_internal), the recipient_delimiter split
// (split_addr.c), and the RFC 5322 quoting of a local part written into a header
// (quote_822_local: `"john doe"@example.com`).

/// The address handling local(8) needs, on plain strings.
enum AddressText {
    /// LOCAL and DOMAIN of ADDRESS, split at its last `@` (DOMAIN is "" without one).
    static func split(_ address: String) -> (local: Substring, domain: Substring) {
        guard let at = address.utf8.lastIndex(of: UInt8(ascii: "@")) else { return (address[...], "") }
        return (address[..<at], address[address.utf8.index(after: at)...])
    }

    /// ADDRESS with `@ORIGIN` appended when it has no domain.
    static func canonical(_ address: String, origin: String) -> String {
        address.contains("@") || origin.isEmpty ? address : address + "@" + origin
    }

    /// Splits LOCAL at its first delimiter character: the user, the extension and the
    /// delimiter found. postmaster, mailer-daemon, and (when `-` is a delimiter)
    /// owner-foo and foo-request are never split, nor is a split that would leave an
    /// empty user or extension position.
    static func splitExtension(_ local: String, delimiters: String) -> (user: String, addressExtension: String?, delimiter: String?) {
        guard !delimiters.isEmpty, local != "postmaster", local != "mailer-daemon" else { return (local, nil, nil) }
        if delimiters.contains("-") && (local.hasPrefix("owner-") || (local.count > 8 && local.hasSuffix("-request"))) {
            return (local, nil, nil)
        }
        guard let index = local.firstIndex(where: { delimiters.contains($0) }), index != local.startIndex else {
            return (local, nil, nil)
        }
        return (String(local[..<index]), String(local[local.index(after: index)...]), String(local[index]))
    }

    /// ADDRESS with its local part quoted when RFC 5322 needs it (8-bit bytes pass).
    static func quotedLocal(_ address: String) -> String {
        let (local, domain) = split(address)
        guard needsQuotes(local) else { return address }
        let suffix = address.utf8.contains(UInt8(ascii: "@")) ? "@" + domain : ""
        var quoted = "\""
        for ch in local {
            if ch == "\"" || ch == "\\" { quoted.append("\\") }
            quoted.append(ch)
        }
        return quoted + "\"" + suffix
    }

    static func needsQuotes(_ local: Substring) -> Bool {
        let dot = UInt8(ascii: ".")
        guard let first = local.utf8.first, let last = local.utf8.last else { return false }
        if first == dot || last == dot { return true }
        var previous: UInt8 = 0
        for byte in local.utf8 {
            if byte <= 32 || byte == 127 || (byte == dot && previous == dot) { return true }
            switch byte {
            case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"), UInt8(ascii: ","),
                UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "["), UInt8(ascii: "]"):
                return true
            default:
                previous = byte
            }
        }
        return false
    }
}
