// Turning addresses and names into header text the way Postfix does: the local part of
// an address quoted only when it is not a dot-string (quote_822_local.c), a full name as
// an RFC 5322 phrase (quoted-string when it has specials, RFC 2047 encoded-words when it
// is not ASCII), and text made safe inside a `( comment )`.

/// Quoting of addresses, names and comments for header text.
public enum RFC822Quoting {
    /// ADDRESS (internal, unquoted form) with its local part quoted when it is not an RFC
    /// 822 dot-string: `"john doe"@example.com`, `user@example.com` unchanged. Bytes above
    /// 127 are left as they are (SMTPUTF8).
    public static func quoteLocalPart(_ address: String) -> String {
        let bytes = Array(address.utf8)
        let end = bytes.lastIndex(of: UInt8(ascii: "@")) ?? bytes.count
        var start = 0
        if bytes.first == UInt8(ascii: "@"), let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon < end {
            start = colon + 1  // a source route stays as it is
        }
        let local = bytes[start..<end]
        if isDotString(local) { return address }
        var quoted = Array(bytes[..<start])
        quoted.append(UInt8(ascii: "\""))
        for c in local {
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c == 13 { quoted.append(UInt8(ascii: "\\")) }
            quoted.append(c)
        }
        quoted.append(UInt8(ascii: "\""))
        quoted.append(contentsOf: bytes[end...])
        return String(decoding: quoted, as: UTF8.self)
    }

    /// Whether LOCAL may appear unquoted: not empty, no specials, spaces or controls, no
    /// leading, trailing or doubled dot.
    static func isDotString(_ local: ArraySlice<UInt8>) -> Bool {
        guard let first = local.first, first != UInt8(ascii: "."), local.last != UInt8(ascii: ".") else { return false }
        var previous: UInt8 = 0
        for c in local {
            if c == UInt8(ascii: ".") && previous == UInt8(ascii: ".") { return false }
            if c < 32 || c == 127 || c == 32 { return false }
            if specials.contains(c) { return false }
            previous = c
        }
        return true
    }

    static let specials: Set<UInt8> = Set("()<>@,;:\\\"[]".utf8)

    /// NAME as a display-name phrase: as it is when it is words of RFC 5322 atext, a
    /// quoted-string when it has other ASCII, RFC 2047 `=?CHARSET?B?…?=` encoded-words when
    /// it has bytes above 127.
    public static func phrase(_ name: String, charset: String = "utf-8") -> String {
        let bytes = Array(name.utf8)
        if bytes.contains(where: { $0 > 127 }) { return encodedWords(bytes, charset: charset) }
        let words = bytes.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        if !bytes.isEmpty && words.allSatisfy({ !$0.isEmpty && $0.allSatisfy(isAtext) }) { return name }
        var quoted: [UInt8] = [UInt8(ascii: "\"")]
        for c in bytes {
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { quoted.append(UInt8(ascii: "\\")) }
            quoted.append(c)
        }
        quoted.append(UInt8(ascii: "\""))
        return String(decoding: quoted, as: UTF8.self)
    }

    /// TEXT made safe inside a comment: parentheses and backslashes escaped, control
    /// characters replaced by `?`.
    public static func commentText(_ text: String) -> String {
        var out: [UInt8] = []
        for c in text.utf8 {
            if c == UInt8(ascii: "(") || c == UInt8(ascii: ")") || c == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(c < 32 || c == 127 ? UInt8(ascii: "?") : c)
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isAtext(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || atextSymbols.contains(c)
    }

    static let atextSymbols: Set<UInt8> = Set("!#$%&'*+-/=?^_`{|}~".utf8)

    /// BYTES as RFC 2047 base64 encoded-words of at most 75 characters, split between
    /// UTF-8 characters, separated by spaces.
    static func encodedWords(_ bytes: [UInt8], charset: String) -> String {
        let prefix = "=?" + charset + "?B?"
        let maxChunk = max(3, (75 - prefix.utf8.count - 2) / 4 * 3)
        var words: [String] = []
        var start = 0
        while start < bytes.count {
            var end = min(bytes.count, start + maxChunk)
            while end < bytes.count && end > start + 1 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
            words.append(prefix + base64(bytes[start..<end]) + "?=")
            start = end
        }
        return words.joined(separator: " ")
    }

    static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func base64(_ bytes: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let n = min(3, bytes.endIndex - i)
            let b0 = UInt32(bytes[i]), b1 = n > 1 ? UInt32(bytes[i + 1]) : 0, b2 = n > 2 ? UInt32(bytes[i + 2]) : 0
            let v = b0 << 16 | b1 << 8 | b2
            for k in 0..<4 {
                out.append(k <= n ? base64Alphabet[Int((v >> (18 - 6 * UInt32(k))) & 63)] : UInt8(ascii: "="))
            }
            i += n
        }
        return String(decoding: out, as: UTF8.self)
    }
}
