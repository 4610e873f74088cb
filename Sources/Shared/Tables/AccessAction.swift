// What an access(5) table value means (smtpd_check.c check_table_result): the first
// word, case-insensitive, picks the action; the rest is its text. Values that name no
// action are a list of restrictions (or a restriction class) for smtpd to evaluate.

/// The meaning of one access-table value.
public enum AccessAction: Equatable {
    /// `OK`, or an all-numeric value (a time stamp some tools store).
    case ok
    /// `RELAY` (trailing text ignored).
    case relay
    /// `DUNNO`: as if not found, and shorter keys are not tried.
    case dunno
    /// `REJECT [[d.s.n] text]`: access_map_reject_code.
    case reject(dsn: String?, text: String?)
    /// `DEFER [[d.s.n] text]`: access_map_defer_code.
    case `defer`(dsn: String?, text: String?)
    /// `4NN [d.s.n] text` or `5NN [d.s.n] text` (text required).
    case reply(code: Int, dsn: String?, text: String)
    case deferIfReject(dsn: String?, text: String?)
    case deferIfPermit(dsn: String?, text: String?)
    case hold(text: String?)
    case discard(text: String?)
    /// `FILTER transport:destination`.
    case filter(String)
    /// `REDIRECT user@domain`.
    case redirect(String)
    /// `BCC user@domain`.
    case bcc(String)
    /// `PREPEND header: value`.
    case prepend(String)
    case info(text: String?)
    case warn(text: String?)
    /// An action with a bad argument; Postfix logs `access table T entry "K" <reason>`
    /// and goes on as for DUNNO.
    case malformed(reason: String)
    /// A value naming a lookup table (`type:name`): a configuration error in Postfix.
    case tableReference(String)
    /// Anything else: restrictions or restriction classes, in order. Empty means OK,
    /// with Postfix's warning that the entry has an empty value.
    case restrictions([String])

    /// Parses VALUE as Postfix does.
    public init(_ value: String) {
        let end = value.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? value.endIndex
        let command = value[..<end].uppercased()
        let rest = value[end...].drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
        let text = rest.isEmpty ? nil : String(rest)
        switch command {
        case "DUNNO": self = .dunno
        case "REJECT": self = AccessAction.withDSN(text) { .reject(dsn: $0, text: $1) }
        case "DEFER": self = AccessAction.withDSN(text) { .defer(dsn: $0, text: $1) }
        case "DEFER_IF_REJECT": self = AccessAction.withDSN(text) { .deferIfReject(dsn: $0, text: $1) }
        case "DEFER_IF_PERMIT": self = AccessAction.withDSN(text) { .deferIfPermit(dsn: $0, text: $1) }
        case "WARN": self = .warn(text: text)
        case "INFO": self = .info(text: text)
        case "HOLD": self = .hold(text: text)
        case "DISCARD": self = .discard(text: text)
        case "FILTER":
            if let text, text.contains(":") {
                self = .filter(text)
            } else {
                self = .malformed(reason: text == nil ? "has FILTER entry without value" : "requires transport:destination")
            }
        case "REDIRECT", "BCC":
            guard let text, text.contains("@") else {
                self = .malformed(reason: "requires user@domain target")
                return
            }
            self = command == "BCC" ? .bcc(text) : .redirect(text)
        case "PREPEND":
            guard let text, AccessAction.isHeader(text) else {
                self = .malformed(reason: "requires header: text")
                return
            }
            self = .prepend(text)
        case "OK", "RELAY":
            self = command == "OK" ? .ok : .relay
        default:
            self = AccessAction.other(value, command: String(value[..<end]), text: text)
        }
    }

    /// All-numeric values, `4NN text`/`5NN text`, table references and restriction lists.
    static func other(_ value: String, command: String, text: String?) -> AccessAction {
        if !value.isEmpty && value.allSatisfy({ $0.isASCII && $0.isNumber }) { return .ok }
        let digits = Array(command.utf8)
        if let text, digits.count == 3, digits[0] == UInt8(ascii: "4") || digits[0] == UInt8(ascii: "5"),
            digits.allSatisfy({ $0 >= 48 && $0 <= 57 }), let code = Int(command)
        {
            let (dsn, rest) = splitDSN(text)
            return .reply(code: code, dsn: dsn, text: rest)
        }
        if value.contains(":") { return .tableReference(value) }
        return .restrictions(splitList(value))
    }

    static func withDSN(_ text: String?, _ make: (String?, String?) -> AccessAction) -> AccessAction {
        guard let text else { return make(nil, nil) }
        let (dsn, rest) = splitDSN(text)
        return make(dsn, rest.isEmpty ? nil : rest)
    }

    /// Splits a leading RFC 3463 status (`5.7.1 text`) off TEXT (Postfix's dsn_split).
    public static func splitDSN(_ text: String) -> (dsn: String?, text: String) {
        let end = text.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? text.endIndex
        let word = text[..<end]
        let parts = word.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let first = parts[0].first, "245".contains(first), parts[0].count == 1,
            parts[1...].allSatisfy({ (1...3).contains($0.count) && $0.allSatisfy { $0.isASCII && $0.isNumber } })
        else { return (nil, text) }
        return (String(word), String(text[end...].drop(while: { $0 == " " || $0 == "\t" })))
    }

    /// `Name: value` with a valid header name (Postfix's is_header).
    static func isHeader(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":") else { return false }
        let name = text[..<colon].reversed().drop(while: { $0 == " " || $0 == "\t" })
        return !name.isEmpty
            && name.allSatisfy { $0.isASCII && $0 != " " && $0 != "\t" && ($0.asciiValue ?? 0) > 32 && $0 != ":" }
    }
}
