// A server reply as the SMTP client reads it (RFC 5321 §4.2, RFC 3463 enhanced codes),
// with Postfix's smtp(8) conventions: the lines of a multi-line reply are kept with their
// codes and joined by a space for logs and bounces; a line that does not start with three
// digits and a space is taken as a continuation (so garbage cannot end a reply early);
// the enhanced code is the last line's when it is valid and of the reply's class, else
// `X.0.0`; a reply without a three-digit code has code 0.

/// One complete server reply.
public struct SMTPClientReply: Equatable, CustomStringConvertible {
    /// The three-digit code of the last line; 0 when the server sent no valid code.
    public var code: Int
    /// The enhanced status code (`5.1.1`): the server's own, or `C.0.0` from the code's
    /// class; "" for a code outside 2xx/4xx/5xx (which Postfix reports as a protocol error).
    public var dsn: String
    /// Every line as received (code included), control characters replaced by `?`.
    public var lines: [String]

    /// A reply with LINES as the server sent them (`250-first`, `250 last`).
    public init(code: Int, dsn: String, lines: [String]) {
        self.code = code
        self.dsn = dsn
        self.lines = lines
    }

    /// A one-line reply, the enhanced code taken from TEXT as a server reply would be.
    public init(_ line: String) {
        var reader = SMTPClientReplyReader()
        self = reader.feed(line) ?? SMTPClientReply(code: 0, dsn: "", lines: [line])
    }

    /// The lines joined by a space, as Postfix quotes a reply (`550 5.1.1 <a@b>: … unknown`).
    public var text: String { lines.joined(separator: " ") }

    public var description: String { text }

    /// The code's first digit: 2, 3, 4, 5 (0 for a reply without a code).
    public var kind: Int { code / 100 }

    /// The text after `CODE-` / `CODE ` of each line (EHLO keywords, AUTH challenges).
    public var texts: [String] {
        lines.map { line in
            let bytes = Array(line.utf8)
            guard bytes.count > 3, bytes.prefix(3).allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return line }
            return String(decoding: bytes[4...], as: UTF8.self)
        }
    }
}

/// Collects reply lines until a reply is complete.
public struct SMTPClientReplyReader {
    var lines: [String] = []
    /// Replies longer than this many lines keep only their first lines (a defence against
    /// a server that never ends a reply).
    public static let maximumLines = 100

    public init() {}

    /// Feeds one line (without CRLF); returns the reply when LINE completes one.
    public mutating func feed(_ line: String) -> SMTPClientReply? {
        let cleaned = SMTPClientReplyReader.printable(line)
        if lines.count < SMTPClientReplyReader.maximumLines { lines.append(cleaned) }
        let bytes = Array(cleaned.utf8)
        let threeDigits = bytes.count >= 3 && bytes.prefix(3).allSatisfy { $0 >= 48 && $0 <= 57 }
            && (bytes.count == 3 || !(bytes[3] >= 48 && bytes[3] <= 57))
        guard threeDigits, bytes.count == 3 || bytes[3] == 32 else { return nil }
        let code = Int(String(decoding: bytes[0..<3], as: UTF8.self)) ?? 0
        let reply = SMTPClientReply(code: code, dsn: SMTPClientReplyReader.enhancedCode(code: code, line: bytes), lines: lines)
        lines = []
        return reply
    }

    /// The enhanced code of the last line if valid and of the reply's class, else `C.0.0`
    /// ("" for a code outside 2xx/4xx/5xx).
    static func enhancedCode(code: Int, line: [UInt8]) -> String {
        let kind = code / 100
        guard kind == 2 || kind == 4 || kind == 5 else { return "" }
        var rest = line.count > 4 ? Array(line[4...]) : []
        while rest.first == 32 { rest.removeFirst() }
        let word = String(decoding: rest.prefix { $0 != 32 }, as: UTF8.self)
        if SMTPReply.isEnhancedCode(word) && word.first == Character(String(kind)) { return word }
        return "\(kind).0.0"
    }

    /// LINE with control characters (and DEL) replaced by `?`.
    static func printable(_ line: String) -> String {
        guard line.utf8.contains(where: { $0 < 32 || $0 == 127 }) else { return line }
        return String(decoding: line.utf8.map { $0 < 32 || $0 == 127 ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }
}
