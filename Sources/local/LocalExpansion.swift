// `$name` expansion of a recipient's attributes (Postfix's local_expand.c over
// mac_expand): `$name`, `${name}`, `$(name)`, `${name?text}`, `${name:text}` and `$$`
// in forward_path, mailbox_command and luser_relay. An unknown name, or `$extension`
// without an extension, is undefined: a forward_path element that uses one is skipped.
// Characters of substituted values outside the expansion filter become `_`.

/// What `$user`, `$home`… stand for while one recipient is delivered.
struct RecipientAttributes {
    var user: String
    /// The home and shell of the user whose rights apply, when there is one.
    var home: String?
    var shell: String?
    var domain: String
    var local: String
    var recipient: String
    var addressExtension: String?
    /// The delimiter that separated the extension, when there was one.
    var delimiter: String?

    /// The value of `$NAME`; nil when NAME is unknown or has no value.
    func value(_ name: String) -> String? {
        switch name {
        case "user": return user
        case "home": return home
        case "shell": return shell
        case "domain": return domain
        case "local", "mailbox": return local
        case "recipient": return recipient
        case "extension": return addressExtension
        case "recipient_delimiter": return delimiter
        default: return nil
        }
    }
}

/// The result of expanding one pattern.
struct Expansion {
    var text = ""
    /// A name without a value was used outside `${name?…}` / `${name:…}`.
    var undefined = false
}

/// mac_expand for the recipient attributes.
enum LocalExpansion {
    /// Expands PATTERN against ATTRIBUTES; FILTER, when given, lists the bytes allowed in
    /// substituted values.
    static func expand(_ pattern: String, _ attributes: RecipientAttributes, filter: Set<UInt8>?) -> Expansion {
        var result = Expansion()
        var out: [UInt8] = []
        let bytes = Array(pattern.utf8)
        var i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "$"), i + 1 < bytes.count else {
                out.append(bytes[i])
                i += 1
                continue
            }
            let next = bytes[i + 1]
            if next == UInt8(ascii: "$") {
                out.append(next)
                i += 2
            } else if next == UInt8(ascii: "{") || next == UInt8(ascii: "(") {
                let close = next == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: ")")
                guard let end = matching(bytes, from: i + 1, open: next, close: close) else {
                    out.append(contentsOf: bytes[i...])
                    break
                }
                braced(bytes[(i + 2)..<end], attributes, filter: filter, into: &out, &result)
                i = end + 1
            } else if isNameByte(next) {
                var j = i + 1
                while j < bytes.count && isNameByte(bytes[j]) { j += 1 }
                substitute(String(decoding: bytes[(i + 1)..<j], as: UTF8.self), attributes, filter: filter, into: &out, &result)
                i = j
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        result.text = String(decoding: out, as: UTF8.self)
        return result
    }

    /// `name`, `name?text` or `name:text` inside braces.
    static func braced(
        _ inner: ArraySlice<UInt8>, _ attributes: RecipientAttributes, filter: Set<UInt8>?, into out: inout [UInt8],
        _ result: inout Expansion
    ) {
        guard let op = inner.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: ":") }) else {
            substitute(String(decoding: inner, as: UTF8.self), attributes, filter: filter, into: &out, &result)
            return
        }
        let name = String(decoding: inner[..<op], as: UTF8.self)
        let value = attributes.value(name) ?? ""
        let wanted = inner[op] == UInt8(ascii: "?") ? !value.isEmpty : value.isEmpty
        guard wanted else { return }
        let text = expand(String(decoding: inner[(op + 1)...], as: UTF8.self), attributes, filter: filter)
        result.undefined = result.undefined || text.undefined
        out.append(contentsOf: text.text.utf8)
    }

    static func substitute(
        _ name: String, _ attributes: RecipientAttributes, filter: Set<UInt8>?, into out: inout [UInt8], _ result: inout Expansion
    ) {
        guard let value = attributes.value(name) else {
            result.undefined = true
            return
        }
        for byte in value.utf8 {
            out.append(filter == nil || filter!.contains(byte) ? byte : UInt8(ascii: "_"))
        }
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || (b >= 48 && b <= 57) || b == 95
    }

    static func matching(_ bytes: [UInt8], from start: Int, open: UInt8, close: UInt8) -> Int? {
        var level = 0
        for i in start..<bytes.count {
            if bytes[i] == open {
                level += 1
            } else if bytes[i] == close {
                level -= 1
                if level == 0 { return i }
            }
        }
        return nil
    }
}
