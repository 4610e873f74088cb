// Small string helpers used everywhere: trimming, splitting the way Postfix does it
// (commas and white space), lower-casing ASCII, and number parsing without Foundation.

extension String {
    /// The string without leading and trailing white space (space, tab, CR, LF).
    public var trimmed: String {
        let bytes = utf8
        let isSpace: (UInt8) -> Bool = { $0 == 32 || $0 == 9 || $0 == 13 || $0 == 10 }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = bytes.index(after: bytes.lastIndex(where: { !isSpace($0) })!)
        if first == bytes.startIndex && end == bytes.endIndex { return self }
        return String(decoding: bytes[first..<end], as: UTF8.self)
    }

    /// ASCII-only lower case, as Postfix folds table keys and domain names.
    public var asciiLowercased: String {
        var bytes = Array(utf8)
        var changed = false
        for i in bytes.indices where bytes[i] >= 65 && bytes[i] <= 90 {
            bytes[i] += 32
            changed = true
        }
        return changed ? String(decoding: bytes, as: UTF8.self) : self
    }

    public func hasPrefixIgnoringCase(_ prefix: String) -> Bool {
        guard utf8.count >= prefix.utf8.count else { return false }
        let fold: (UInt8) -> UInt8 = { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        return zip(utf8, prefix.utf8).allSatisfy { fold($0) == fold($1) }
    }
}

/// Splits a parameter value into its elements the way Postfix lists are written:
/// separated by commas and/or white space, empty elements dropped. Text inside `{ }` stays
/// together (so `{ a b }` is one element, without its braces).
public func splitList(_ value: String, separators: String = ", \t\r\n") -> [String] {
    let separatorSet = Set(separators.unicodeScalars)
    var result: [String] = []
    var current = ""
    var depth = 0
    for ch in value {
        if ch == "{" {
            depth += 1
            current.append(ch)
        } else if ch == "}" && depth > 0 {
            depth -= 1
            current.append(ch)
        } else if depth == 0 && ch.unicodeScalars.allSatisfy({ separatorSet.contains($0) }) {
            if !current.isEmpty { result.append(current) }
            current = ""
        } else {
            current.append(ch)
        }
    }
    if !current.isEmpty { result.append(current) }
    return result.map(stripBraces)
}

/// `{ text }` → `text` (trimmed); anything else unchanged.
public func stripBraces(_ s: String) -> String {
    if s.hasPrefix("{") && s.hasSuffix("}") && s.count >= 2 {
        return String(s.dropFirst().dropLast()).trimmed
    }
    return s
}

/// Splits on white space only, dropping empty fields.
public func splitFields(_ line: String) -> [String] {
    line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).map(String.init)
}

/// Parses a time value such as `300s`, `5d`, `10` (with DEFAULTUNIT) into seconds.
public func parseTime(_ text: String, defaultUnit: Character = "s") -> Int? {
    var digits = text
    var unit = defaultUnit
    if let last = text.last, "smhdw".contains(last) {
        unit = last
        digits = String(text.dropLast())
    }
    guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(digits) else {
        return nil
    }
    switch unit {
    case "s": return n
    case "m": return n * 60
    case "h": return n * 3600
    case "d": return n * 86400
    case "w": return n * 7 * 86400
    default: return nil
    }
}

/// Parses a Postfix boolean: exactly `yes` or `no` (case-insensitive, as Postfix allows).
public func parseBool(_ text: String) -> Bool? {
    switch text.asciiLowercased {
    case "yes", "true", "1": return true
    case "no", "false", "0": return false
    default: return nil
    }
}
