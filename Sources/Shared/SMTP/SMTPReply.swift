// SMTP replies (RFC 5321 §4.2): a code, an optional enhanced status code (RFC 3463) and
// one or more lines of text, formatted for the wire with `-` continuation, and parsed
// back by clients.

public struct SMTPReply: Equatable, CustomStringConvertible {
    public var code: Int
    /// `2.1.0`; nil for replies that carry none (greeting, HELO, ETRN's).
    public var enhanced: String?
    public var lines: [String]

    public init(_ code: Int, _ enhanced: String?, _ text: String) {
        self.code = code
        self.enhanced = enhanced
        self.lines = [text]
    }

    public init(_ code: Int, _ enhanced: String?, lines: [String]) {
        self.code = code
        self.enhanced = enhanced
        self.lines = lines
    }

    /// Parses `CODE [D.S.N] text` as access tables and policy servers write replies.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 3, let code = Int(String(decoding: bytes[0..<3], as: UTF8.self)),
            (200...599).contains(code), bytes.count == 3 || bytes[3] == 32
        else { return nil }
        var rest = bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : ""
        var enhanced: String?
        if let space = rest.firstIndex(of: " ") ?? (rest.isEmpty ? nil : rest.endIndex),
            SMTPReply.isEnhancedCode(String(rest[..<space]))
        {
            enhanced = String(rest[..<space])
            rest = space < rest.endIndex ? String(rest[rest.index(after: space)...]) : ""
        }
        self.init(code, enhanced, rest)
    }

    /// True for `X.Y.Z` with X in 2, 4, 5 and Y, Z numbers of 1–3 digits.
    public static func isEnhancedCode(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, ["2", "4", "5"].contains(parts[0]) else { return false }
        return parts.dropFirst().allSatisfy { $0.count >= 1 && $0.count <= 3 && $0.allSatisfy(\.isNumber) }
    }

    public var isPositive: Bool { code < 400 }
    public var isTemporary: Bool { code >= 400 && code < 500 }
    public var isPermanent: Bool { code >= 500 }

    /// The reply as one line of text: `550 5.1.1 <a@b>: Recipient address rejected: …`.
    public var description: String {
        lines.map { line in "\(code) " + (enhanced.map { $0 + " " } ?? "") + line }.joined(separator: "\n")
    }

    /// The first line's text after the code (and enhanced code): what logs quote.
    public var text: String { (enhanced.map { $0 + " " } ?? "") + (lines.first ?? "") }

    /// The wire form: every line but the last is `CODE-…`.
    public var wire: String {
        var out = ""
        for (i, line) in lines.enumerated() {
            out += "\(code)" + (i == lines.count - 1 ? " " : "-") + (enhanced.map { $0 + " " } ?? "") + line + "\r\n"
        }
        return out
    }
}
