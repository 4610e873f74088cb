// Postfix's address match lists for clients (mynetworks, permit_mx_backup_networks…):
// `a.b.c.d`, `a.b.c.d/len`, `[ipv6]`, `[ipv6]/len`, `!pattern` to exclude, and host
// names (`.domain` for subdomains) matched against the client's verified name.
import Glibc

public struct NetworkList {
    enum Pattern {
        case network(family: Int32, bytes: [UInt8], length: Int)
        case host(String)
    }

    var patterns: [(pattern: Pattern, negated: Bool)] = []
    /// Entries that could not be parsed (for a start-up warning).
    public private(set) var invalid: [String] = []

    public init(_ entries: [String]) {
        for raw in entries {
            var entry = raw
            let negated = entry.hasPrefix("!")
            if negated { entry.removeFirst() }
            if let p = NetworkList.parseNetwork(entry) {
                patterns.append((p, negated))
            } else if !entry.isEmpty, entry.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) {
                patterns.append((.host(entry.asciiLowercased), negated))
            } else {
                invalid.append(raw)
            }
        }
    }

    /// True when TEXT is a numeric IPv4 or IPv6 address (or network).
    public static func isNumeric(_ text: String) -> Bool { parseNetwork(text) != nil }

    /// Parses `addr`, `addr/len`, `[v6]`, `[v6]/len`.
    static func parseNetwork(_ text: String) -> Pattern? {
        var address = text
        var length: Int?
        if let slash = text.lastIndex(of: "/") {
            guard let n = Int(text[text.index(after: slash)...]) else { return nil }
            length = n
            address = String(text[..<slash])
        }
        if address.hasPrefix("[") && address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
        var v4 = [UInt8](repeating: 0, count: 4)
        var v6 = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, address, &v4) == 1 {
            let l = length ?? 32
            guard l >= 0 && l <= 32 else { return nil }
            return .network(family: AF_INET, bytes: v4, length: l)
        }
        if inet_pton(AF_INET6, address, &v6) == 1 {
            let l = length ?? 128
            guard l >= 0 && l <= 128 else { return nil }
            return .network(family: AF_INET6, bytes: v6, length: l)
        }
        return nil
    }

    /// True when the client (numeric ADDRESS, verified NAME or "unknown") matches; the
    /// first matching entry decides, a negated one with false.
    public func matches(address: String, name: String = "unknown") -> Bool {
        var family = AF_INET
        var bytes = [UInt8](repeating: 0, count: 4)
        var v6 = [UInt8](repeating: 0, count: 16)
        var parsed = inet_pton(AF_INET, address, &bytes) == 1
        if !parsed && inet_pton(AF_INET6, address, &v6) == 1 {
            family = AF_INET6
            bytes = v6
            parsed = true
        }
        let lowerName = name.asciiLowercased
        for (pattern, negated) in patterns {
            let hit: Bool
            switch pattern {
            case .network(let f, let net, let length):
                hit = parsed && f == family && NetworkList.prefixMatches(bytes, net, length)
            case .host(let host):
                hit = lowerName != "unknown" && (lowerName == host || (host.hasPrefix(".") && lowerName.hasSuffix(host)))
            }
            if hit { return !negated }
        }
        return false
    }

    static func prefixMatches(_ a: [UInt8], _ b: [UInt8], _ length: Int) -> Bool {
        var remaining = length
        for i in a.indices {
            if remaining <= 0 { return true }
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if a[i] & mask != b[i] & mask { return false }
            remaining -= bits
        }
        return true
    }
}
