// Decoding the record data libunbound hands back (RFC 1035 §3.3, RFC 3596 §2.2): A and
// AAAA addresses as text, domain names in wire form (uncompressed in unbound's results),
// MX preference + exchanger, TXT character-strings; and the reverse-lookup names
// (RFC 1035 §3.5 in-addr.arpa, RFC 3596 §2.5 ip6.arpa) for an address.
import Glibc

/// DNS record types Postern asks for.
public enum DNSRecordType: Int32 {
    case a = 1
    case ns = 2
    case ptr = 12
    case mx = 15
    case txt = 16
    case aaaa = 28

    public var name: String {
        switch self {
        case .a: return "A"
        case .ns: return "NS"
        case .ptr: return "PTR"
        case .mx: return "MX"
        case .txt: return "TXT"
        case .aaaa: return "AAAA"
        }
    }
}

public enum DNSRecords {
    /// An A (4 bytes) or AAAA (16 bytes) record as text; nil for other lengths.
    static func address(_ rdata: [UInt8]) -> String? {
        let family: Int32
        switch rdata.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok = rdata.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) } != nil
        return ok ? String(cString: text) : nil
    }

    /// A domain name in wire form starting at OFFSET, without the trailing dot ("" for
    /// the root). Bytes outside printable ASCII, dots and backslashes inside a label are
    /// written as `\DDD` / `\.` as dig shows them. Nil when the data is malformed.
    static func name(_ rdata: [UInt8], at offset: Int = 0) -> String? {
        var labels: [String] = []
        var i = offset
        while i < rdata.count {
            let length = Int(rdata[i])
            if length == 0 { return labels.joined(separator: ".") }
            guard length < 64, i + 1 + length <= rdata.count else { return nil }
            var label = ""
            for byte in rdata[(i + 1)...(i + length)] {
                switch byte {
                case UInt8(ascii: "."), UInt8(ascii: "\\"):
                    label += "\\" + String(UnicodeScalar(byte))
                case 33...126:
                    label.unicodeScalars.append(UnicodeScalar(byte))
                default:
                    let digits = String(byte)
                    label += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            labels.append(label)
            i += 1 + length
        }
        return nil
    }

    /// An MX record: 16-bit preference, then the exchanger's name.
    static func mx(_ rdata: [UInt8]) -> MXRecord? {
        guard rdata.count >= 3, let host = name(rdata, at: 2) else { return nil }
        return MXRecord(preference: Int(rdata[0]) << 8 | Int(rdata[1]), host: host)
    }

    /// A TXT record: its character-strings joined, as Postfix joins them.
    static func txt(_ rdata: [UInt8]) -> String? {
        var bytes: [UInt8] = []
        var i = 0
        while i < rdata.count {
            let length = Int(rdata[i])
            guard i + 1 + length <= rdata.count else { return nil }
            bytes += rdata[(i + 1)..<(i + 1 + length)]
            i += 1 + length
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The PTR query name for a textual IPv4 or IPv6 address; nil when it is neither.
    public static func reverseName(_ address: String) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            let b = withUnsafeBytes(of: &v4) { Array($0) }
            return "\(b[3]).\(b[2]).\(b[1]).\(b[0]).in-addr.arpa"
        }
        var v6 = in6_addr()
        let text = address.hasPrefixIgnoringCase("ipv6:") ? String(address.dropFirst(5)) : address
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let b = withUnsafeBytes(of: &v6) { Array($0) }
        let hex = Array("0123456789abcdef")
        var nibbles: [String] = []
        for byte in b.reversed() {
            nibbles.append(String(hex[Int(byte & 0xf)]))
            nibbles.append(String(hex[Int(byte >> 4)]))
        }
        return nibbles.joined(separator: ".") + ".ip6.arpa"
    }
}
