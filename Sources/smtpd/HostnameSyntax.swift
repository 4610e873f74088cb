// Host-name and address syntax as Postfix checks HELO names and mail domains
// (valid_hostname.c, valid_mailhost_addr.c): labels of letters, digits, `_` and inner
// `-`, at most 63 characters each and 255 in all, not all-numeric; IPv4 dotted quads and
// IPv6 addresses, `IPv6:` prefixed inside address literals.
import Glibc

enum HostnameSyntax {
    /// Postfix's valid_hostname.
    static func isValidHostname(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 255 else { return false }
        var labelLength = 0
        var nonNumeric = false
        for (i, b) in bytes.enumerated() {
            let next: UInt8? = i + 1 < bytes.count ? bytes[i + 1] : nil
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                labelLength += 1
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
                labelLength += 1
                nonNumeric = true
            case UInt8(ascii: "-"):
                labelLength += 1
                nonNumeric = true
                if labelLength == 1 || next == nil || next == UInt8(ascii: ".") { return false }
            case UInt8(ascii: "."):
                if labelLength == 0 || next == nil { return false }
                labelLength = 0
            default:
                return false
            }
            if labelLength > 63 { return false }
        }
        return nonNumeric
    }

    /// Postfix's valid_hostaddr: a bare IPv4 or IPv6 address.
    static func isHostAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        if text.contains(":") { return inet_pton(AF_INET6, text, &v6) == 1 }
        return inet_pton(AF_INET, text, &v4) == 1
    }

    /// Postfix's valid_mailhost_addr: the inside of an address literal, `IPv6:` first for IPv6.
    static func isMailHostAddress(_ text: String) -> Bool {
        if text.lowercased().hasPrefix("ipv6:") { return text.dropFirst(5).contains(":") && isHostAddress(String(text.dropFirst(5))) }
        return !text.contains(":") && isHostAddress(text)
    }

    /// NAME without one trailing dot (`host.` → `host`, `host..` unchanged).
    static func truncatingDot(_ name: String) -> String {
        name.count > 1 && name.hasSuffix(".") && !name.hasSuffix("..") ? String(name.dropLast()) : name
    }
}
