// Postfix's `$name` expansion (mac_expand): `$name`, `${name}`, `$(name)`,
// `${name?text}` (text when name is non-empty), `${name:text}` (text when it is empty),
// `${name?{a}:{b}}`, and 3.x relational forms `${{x} == {y} ? {a} : {b}}` with
// ==, !=, <, <=, >, >= (numbers) and <level, <=level, >level, >=level (compatibility levels).

struct Expander {
    let config: MainConfig
    /// Names with fixed values that win over parameters (smtpd's `$rbl_code` and friends);
    /// their values are not expanded further.
    var variables: [String: String] = [:]
    var active: Set<String> = []
    var depth = 0

    init(config: MainConfig) { self.config = config }

    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || (b >= 48 && b <= 57) || b == 95
    }

    mutating func expandParameter(_ name: String) -> String {
        if let value = variables[name] { return value }
        guard let raw = config.raw(name) else { return "" }
        guard !active.contains(name), depth < 100 else {
            Log.warning("\(name): recursive parameter expansion")
            return ""
        }
        active.insert(name)
        depth += 1
        defer {
            active.remove(name)
            depth -= 1
        }
        return expand(raw)
    }

    mutating func expand(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "$")) else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            guard b == UInt8(ascii: "$"), i + 1 < bytes.count else {
                out.append(b)
                i += 1
                continue
            }
            let next = bytes[i + 1]
            if next == UInt8(ascii: "{") || next == UInt8(ascii: "(") {
                let close = next == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: ")")
                guard let end = Expander.matching(bytes, from: i + 1, open: next, close: close) else {
                    out.append(contentsOf: bytes[i...])
                    break
                }
                let inner = String(decoding: bytes[(i + 2)..<end], as: UTF8.self)
                out.append(contentsOf: expandBraced(inner).utf8)
                i = end + 1
            } else if Expander.isNameByte(next) {
                var j = i + 1
                while j < bytes.count && Expander.isNameByte(bytes[j]) { j += 1 }
                out.append(contentsOf: expandParameter(String(decoding: bytes[(i + 1)..<j], as: UTF8.self)).utf8)
                i = j
            } else if next == UInt8(ascii: "$") {
                out.append(b)
                i += 2
            } else {
                out.append(b)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The index of the bracket closing the one at START, honouring nesting.
    static func matching(_ bytes: [UInt8], from start: Int, open: UInt8, close: UInt8) -> Int? {
        var level = 0
        var i = start
        while i < bytes.count {
            if bytes[i] == open { level += 1 } else if bytes[i] == close {
                level -= 1
                if level == 0 { return i }
            }
            i += 1
        }
        return nil
    }

    /// Expands the inside of `${…}`.
    mutating func expandBraced(_ inner: String) -> String {
        let trimmed = inner.trimmed
        if trimmed.hasPrefix("{") { return relational(trimmed) }
        let bytes = Array(trimmed.utf8)
        var j = 0
        while j < bytes.count && Expander.isNameByte(bytes[j]) { j += 1 }
        let name = String(decoding: bytes[..<j], as: UTF8.self)
        let rest = String(decoding: bytes[j...], as: UTF8.self)
        guard let op = rest.first else { return expandParameter(name) }
        let isSet = !(variables[name] ?? config.raw(name) ?? "").isEmpty
        let argument = String(rest.dropFirst())
        let (whenSet, whenEmpty) = Expander.alternatives(argument, op: op)
        switch op {
        case "?": return isSet ? expand(whenSet) : (whenEmpty.map { expand($0) } ?? "")
        case ":": return isSet ? expandParameter(name) : expand(whenSet)
        default: return ""
        }
    }

    /// `{a}:{b}` → (a, b); `{a}` or plain `a` → (a, nil).
    static func alternatives(_ text: String, op: Character) -> (String, String?) {
        let t = text.trimmed
        guard op == "?", t.hasPrefix("{") else { return (stripBraces(t) == t ? text : stripBraces(t), nil) }
        let bytes = Array(t.utf8)
        guard let end = matching(bytes, from: 0, open: UInt8(ascii: "{"), close: UInt8(ascii: "}")) else { return (text, nil) }
        let first = String(decoding: bytes[1..<end], as: UTF8.self)
        let after = String(decoding: bytes[(end + 1)...], as: UTF8.self).trimmed
        guard after.hasPrefix(":") else { return (first, nil) }
        return (first, stripBraces(String(after.dropFirst()).trimmed))
    }

    /// `{x} op {y} ? {a} : {b}`.
    mutating func relational(_ text: String) -> String {
        var rest = Array(text.utf8)[...]
        func takeBraced() -> String? {
            while let f = rest.first, f == 32 || f == 9 { rest = rest.dropFirst() }
            guard rest.first == UInt8(ascii: "{") else { return nil }
            let array = Array(rest)
            guard let end = Expander.matching(array, from: 0, open: UInt8(ascii: "{"), close: UInt8(ascii: "}")) else { return nil }
            rest = rest.dropFirst(end + 1)
            return String(decoding: array[1..<end], as: UTF8.self)
        }
        func takeOperator() -> String {
            while let f = rest.first, f == 32 || f == 9 { rest = rest.dropFirst() }
            let op = rest.prefix { $0 != 32 && $0 != 9 && $0 != UInt8(ascii: "{") }
            rest = rest.dropFirst(op.count)
            return String(decoding: op, as: UTF8.self)
        }
        guard let left = takeBraced() else { return "" }
        let op = takeOperator()
        guard let right = takeBraced() else { return "" }
        _ = takeOperator()  // "?"
        let whenTrue = takeBraced() ?? ""
        _ = takeOperator()  // ":"
        let whenFalse = takeBraced() ?? ""
        let x = expand(left.trimmed)
        let y = expand(right.trimmed)
        let result: Bool
        switch op {
        case "==": result = x == y
        case "!=": result = x != y
        case "<", "<=", ">", ">=": result = Expander.compare(Int(x) ?? 0, Int(y) ?? 0, op)
        case "<level", "<=level", ">level", ">=level":
            result = Expander.compareLevels(x, y, String(op.dropLast(5)))
        default: result = false
        }
        return expand((result ? whenTrue : whenFalse).trimmed)
    }

    static func compare<T: Comparable>(_ a: T, _ b: T, _ op: String) -> Bool {
        switch op {
        case "<": return a < b
        case "<=": return a <= b
        case ">": return a > b
        default: return a >= b
        }
    }

    /// Compares compatibility levels such as `3.6` and `3.10` component by component.
    static func compareLevels(_ a: String, _ b: String, _ op: String) -> Bool {
        let pa = a.split(separator: ".").map { Int($0) ?? 0 }
        let pb = b.split(separator: ".").map { Int($0) ?? 0 }
        let n = max(pa.count, pb.count, 1)
        let la = pa + Array(repeating: 0, count: n - pa.count)
        let lb = pb + Array(repeating: 0, count: n - pb.count)
        return compare(la.lexicographicallyPrecedes(lb) ? -1 : (la == lb ? 0 : 1), 0, op)
    }
}
