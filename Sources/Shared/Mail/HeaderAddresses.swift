// The addresses in an address-list header value (RFC 5322 §3.4) or a sendmail
// command-line recipient, in internal form, as Postfix's cleanup extracts recipients
// for `sendmail -t` (tok822_parse + tok822_grep): `Name <addr>` gives addr, a bare
// addr stays, comments go, groups (`team: a@x, b@y;`) give their members, source
// routes are stripped, `<>` and empty elements are dropped. Also which header names
// `sendmail -t` reads. Input is whatever a user typed: nothing here may trap.

/// Extracting addresses from header text.
public enum HeaderAddresses {
    /// The headers `sendmail -t` takes recipients from, lower case.
    public static let recipientHeaders: Set<String> = ["to", "cc", "bcc"]
    /// The same for a resent message (one with any Resent- header).
    public static let resentRecipientHeaders: Set<String> = ["resent-to", "resent-cc", "resent-bcc"]

    /// The addresses in VALUE, in order.
    public static func parse(_ value: String) -> [String] {
        var addresses: [String] = []
        var phrase: [RFC822Token] = []
        var route: [RFC822Token]?
        var inAngle = false
        func flush() {
            var tokens = route ?? phrase.filter { if case .comment = $0 { return false } else { return true } }
            if route != nil, let colon = tokens.lastIndex(of: .op(UInt8(ascii: ":"))) {
                tokens.removeSubrange(...colon)
            }
            let address = RFC822Token.internalize(tokens[...])
            if !address.isEmpty { addresses.append(address) }
            phrase = []
            route = nil
        }
        for token in RFC822Token.scan(value) {
            if inAngle {
                if token == .op(UInt8(ascii: ">")) {
                    inAngle = false
                } else if case .comment = token {
                    continue
                } else {
                    route?.append(token)
                }
                continue
            }
            switch token {
            case .op(UInt8(ascii: "<")):
                inAngle = true
                route = []
            case .op(UInt8(ascii: ",")), .op(UInt8(ascii: ";")):
                flush()
            case .op(UInt8(ascii: ":")) where route == nil:
                phrase = []
            default:
                if route == nil { phrase.append(token) }
            }
        }
        flush()
        return addresses
    }
}
