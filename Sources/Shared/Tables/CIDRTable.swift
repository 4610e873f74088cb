// cidr: tables (cidr_table(5); dict_cidr.c, cidr_match.c): `network/prefix result`,
// `address result`, `[ipv6]/prefix`, `!` negation, `if network/prefix` … `endif`; the
// first rule that matches the lookup address answers. A key that is not an IP address
// matches nothing. A bad rule is a warning naming the file and line, and is skipped.
import Glibc

final class CIDRTable: LookupTable {
    struct Rule {
        enum Operation { case match, ifBlock, endif }
        let operation: Operation
        let line: Int
        var family: Int32 = 0
        var network: [UInt8] = []
        var mask: [UInt8] = []
        var matches = true
        var value = ""
        var endif: Int?
    }

    let type = "cidr"
    let name: String
    let isFixed = false
    let files: [String]
    var rules: [Rule] = []

    init(name: String) throws(TableError) {
        self.name = name
        let lines: [SourceLine]
        if name.hasPrefix("{") {
            lines = try TableSource.inlineRules(name, type: "cidr")
            files = []
        } else {
            let bytes = try TableSource.read(name, failure: "open")
            lines = TableSource.logicalLines(bytes, path: name, warn: Log.warning)
            files = [name]
        }
        var open: [Int] = []
        for line in lines {
            switch parse(line, nesting: open.count) {
            case .failure(let why):
                Log.warning("cidr map \(name), line \(line.line): \(why.message): skipping this rule")
            case .success(let rule):
                if rule.operation == .ifBlock { open.append(rules.count) }
                if rule.operation == .endif { rules[open.removeLast()].endif = rules.count }
                rules.append(rule)
            }
        }
        for index in open.reversed() {
            Log.warning("cidr map \(name), line \(rules[index].line): IF has no matching ENDIF")
        }
    }

    func lookup(_ key: String) throws(TableError) -> String? {
        guard let (family, address) = CIDRTable.address(key) else { return nil }
        var index = 0
        while index < rules.count {
            let rule = rules[index]
            index += 1
            switch rule.operation {
            case .match:
                if rule.family == family && contains(rule, address) == rule.matches { return rule.value }
            case .ifBlock:
                if rule.family == family && contains(rule, address) == rule.matches { continue }
                guard let end = rule.endif else { return nil }
                index = end + 1
            case .endif:
                continue
            }
        }
        return nil
    }

    @inline(__always)
    func contains(_ rule: Rule, _ address: [UInt8]) -> Bool {
        for i in 0..<rule.network.count where address[i] & rule.mask[i] != rule.network[i] { return false }
        return true
    }

    /// The address family and bytes of TEXT, nil when it is not an IP address.
    static func address(_ text: String) -> (Int32, [UInt8])? {
        let family = text.contains(":") ? AF_INET6 : AF_INET
        var bytes = [UInt8](repeating: 0, count: family == AF_INET6 ? 16 : 4)
        guard inet_pton(family, text, &bytes) == 1 else { return nil }
        return (family, bytes)
    }

    // MARK: parsing

    func parse(_ source: SourceLine, nesting: Int) -> Result<Rule, PatternError> {
        let text = source.text.trimmed
        if keyword(text, "endif") {
            guard text.count == 5 else { return .failure(PatternError(message: "garbage after ENDIF")) }
            guard nesting > 0 else { return .failure(PatternError(message: "ENDIF without IF")) }
            return .success(Rule(operation: .endif, line: source.line))
        }
        var rest = Substring(text)
        let isIf = keyword(text, "if")
        if isIf { rest = rest.dropFirst(2) }
        var matches = true
        while let ch = rest.first, ch == "!" || ch == " " || ch == "\t" {
            if ch == "!" { matches.toggle() }
            rest = rest.dropFirst()
        }
        let pattern: String
        var value = ""
        if isIf {
            pattern = String(rest).trimmed
        } else {
            let end = rest.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? rest.endIndex
            pattern = String(rest[..<end])
            value = String(rest[end...]).trimmed
        }
        if pattern.isEmpty { return .failure(PatternError(message: "no address pattern")) }
        if !isIf && value.isEmpty { return .failure(PatternError(message: "no lookup result")) }
        return CIDRTable.network(pattern).map { network in
            Rule(
                operation: isIf ? .ifBlock : .match, line: source.line, family: network.family,
                network: network.bytes, mask: network.mask, matches: matches, value: value)
        }
    }

    /// Parses `address`, `address/prefix`, `[address]` or `[address]/prefix`.
    static func network(_ text: String) -> Result<(family: Int32, bytes: [UInt8], mask: [UInt8]), PatternError> {
        var address = Substring(text)
        var prefix: Substring?
        if address.hasPrefix("[") {
            address = address.dropFirst()
            guard let close = address.firstIndex(of: "]") else {
                return .failure(PatternError(message: "missing ']' character after \"[\(address)\""))
            }
            let after = address[address.index(after: close)...]
            address = address[..<close]
            if after.hasPrefix("/") {
                prefix = after.dropFirst()
            } else if !after.isEmpty {
                return .failure(PatternError(message: "garbage after \"[\(address)]\""))
            }
        } else if let slash = address.firstIndex(of: "/") {
            prefix = address[address.index(after: slash)...]
            address = address[..<slash]
        }
        let family = address.contains(":") ? AF_INET6 : AF_INET
        let size = family == AF_INET6 ? 16 : 4
        var bytes = [UInt8](repeating: 0, count: size)
        guard let prefix else {
            guard inet_pton(family, String(address), &bytes) == 1 else {
                return .failure(PatternError(message: "bad address pattern: \"\(address)\""))
            }
            return .success((family, bytes, [UInt8](repeating: 0xff, count: size)))
        }
        let shown = "\"\(address)/\(prefix)\""
        guard !prefix.isEmpty, prefix.allSatisfy({ $0.isASCII && $0.isNumber }), let bits = Int(prefix) else {
            return .failure(PatternError(message: "bad mask value in \(shown)"))
        }
        guard bits <= size * 8 else { return .failure(PatternError(message: "bad mask length in \(shown)")) }
        guard inet_pton(family, String(address), &bytes) == 1 else {
            return .failure(PatternError(message: "bad network value in \(shown)"))
        }
        let mask = (0..<size).map { i -> UInt8 in
            let remaining = bits - i * 8
            return remaining >= 8 ? 0xff : remaining <= 0 ? 0 : UInt8(0xff << (8 - remaining) & 0xff)
        }
        let masked = zip(bytes, mask).map { $0 & $1 }
        if masked != bytes {
            var buffer = [CChar](repeating: 0, count: 64)
            _ = inet_ntop(family, masked, &buffer, socklen_t(buffer.count))
            return .failure(
                PatternError(
                    message: "non-null host address bits in \(shown), perhaps you should use \"\(String(cString: buffer))/\(bits)\" instead"
                ))
        }
        return .success((family, bytes, mask))
    }

    func keyword(_ text: String, _ word: String) -> Bool {
        guard text.hasPrefixIgnoringCase(word) else { return false }
        guard let next = text.utf8.dropFirst(word.utf8.count).first else { return true }
        return !((next >= 48 && next <= 57) || (next >= 65 && next <= 90) || (next >= 97 && next <= 122))
    }
}
