// The address in MAIL FROM / RCPT TO (RFC 5321 §4.1.2), as Postfix's smtpd extracts it:
// `<addr>`, `<>`, source routes `<@a,@b:user@dom>` stripped, quoted local parts, and a
// bare address without brackets unless strict_rfc821_envelopes is set. Then the ESMTP
// parameters that follow.

public enum SMTPPath {
    public struct Parsed: Equatable {
        /// The address without brackets; empty for the null sender.
        public var address: String
        /// As the client wrote it (for ORCPT): `<a@b>`.
        public var written: String
        public var parameters: [String]
    }

    /// Parses the text after `FROM:` / `TO:`. Returns nil for a syntax error.
    public static func parse(_ text: String, strict: Bool) -> Parsed? {
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count && (bytes[i] == 32 || bytes[i] == 9) { i += 1 }
        guard i < bytes.count else { return nil }
        var addressBytes: ArraySlice<UInt8>
        let start = i
        if bytes[i] == UInt8(ascii: "<") {
            guard let close = closingBracket(bytes, from: i + 1) else { return nil }
            addressBytes = bytes[(i + 1)..<close]
            i = close + 1
            guard i == bytes.count || bytes[i] == 32 || bytes[i] == 9 else { return nil }
        } else {
            guard !strict else { return nil }
            var j = i
            var quoted = false
            while j < bytes.count && (quoted || (bytes[j] != 32 && bytes[j] != 9)) {
                if bytes[j] == UInt8(ascii: "\"") { quoted.toggle() }
                if bytes[j] == UInt8(ascii: "\\") { j += 1 }
                j += 1
            }
            guard !quoted else { return nil }
            addressBytes = bytes[i..<min(j, bytes.count)]
            i = min(j, bytes.count)
        }
        let written = String(decoding: bytes[start..<i], as: UTF8.self)
        addressBytes = stripSourceRoute(addressBytes)
        guard let address = validate(addressBytes) else { return nil }
        let parameters = splitFields(String(decoding: bytes[i...], as: UTF8.self))
        return Parsed(address: address, written: written, parameters: parameters)
    }

    /// The index of the `>` that closes the path, skipping quoted text.
    static func closingBracket(_ bytes: [UInt8], from start: Int) -> Int? {
        var quoted = false
        var i = start
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\\"): i += 1
            case UInt8(ascii: "\""): quoted.toggle()
            case UInt8(ascii: ">") where !quoted: return i
            default: break
            }
            i += 1
        }
        return nil
    }

    /// `@a,@b:user@dom` → `user@dom`.
    static func stripSourceRoute(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard bytes.first == UInt8(ascii: "@"), let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return bytes }
        return bytes[(colon + 1)...]
    }

    /// The address text if it is acceptable: no unquoted white space, controls or
    /// brackets, balanced quotes, at most one unquoted `@` part separator in the domain.
    static func validate(_ bytes: ArraySlice<UInt8>) -> String? {
        var quoted = false
        var escaped = false
        for b in bytes {
            if escaped {
                escaped = false
                continue
            }
            switch b {
            case UInt8(ascii: "\\"): escaped = true
            case UInt8(ascii: "\""): quoted.toggle()
            case 0..<32, 127: return nil
            case 32, UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ","),
                UInt8(ascii: ";"):
                if !quoted { return nil }
            default: break
            }
        }
        guard !quoted && !escaped else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        if let at = text.lastIndex(of: "@") {
            let domain = text[text.index(after: at)...]
            if domain.isEmpty || domain.contains("@") && !domain.hasPrefix("[") { return nil }
        }
        return text
    }
}

/// An email address split at its last unquoted `@`.
public struct MailAddress: Equatable {
    public var localPart: String
    public var domain: String

    public init(_ address: String) {
        if let at = address.lastIndex(of: "@") {
            localPart = String(address[..<at])
            domain = String(address[address.index(after: at)...])
        } else {
            localPart = address
            domain = ""
        }
    }

    /// The domain folded to lower case, a trailing dot removed.
    public var normalizedDomain: String {
        var d = domain.asciiLowercased
        if d.hasSuffix(".") { d.removeLast() }
        return d
    }
}
