// Message header lines as Postfix's cleanup sees them: is_header() (a name of printable
// ASCII, optional white space, a colon; RFC 822's obsolete `Name :` allowed) and the
// header_opts table of names cleanup acts on (Received: counted for hopcount_limit,
// Message-Id/Date/From and their Resent- forms looked for before adding missing ones),
// plus the message_drop_headers list.

/// The header names cleanup treats specially (header_opts.c types it needs).
enum HeaderKind: UInt8 {
    case other = 0
    case received, messageID, date, from, to, cc
    case resentMessageID, resentDate, resentFrom, resentTo, resentCc, resentOther

    /// Resent- headers switch cleanup to adding Resent- variants of missing headers.
    var isResent: Bool { rawValue >= HeaderKind.resentMessageID.rawValue }
    var bit: UInt32 { 1 << UInt32(rawValue) }
}

/// Recognising header lines.
public enum MessageHeader {
    /// If LINE starts with a header name: the length of the name (without white space
    /// before the colon) and the index of the colon. nil for anything else, including a
    /// name of non-ASCII, control or space characters.
    public static func name(in line: UnsafeRawBufferPointer) -> (length: Int, colon: Int)? {
        var length = 0
        var sawSpace = false
        for i in 0..<line.count {
            let c = line[i]
            switch c {
            case UInt8(ascii: ":"):
                return length > 0 ? (length, i) : nil
            case 32, 9:
                guard length > 0 else { return nil }
                sawSpace = true
            default:
                guard c > 32 && c < 127, !sawSpace else { return nil }
                length += 1
            }
        }
        return nil
    }

    /// Whether TEXT starts with a header name and colon.
    public static func isHeader(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { name(in: UnsafeRawBufferPointer($0)) != nil }
    }
}

/// Header names (lower case) mapped to their kind and drop flag; built once per
/// configuration.
struct HeaderTable {
    struct Entry {
        var kind: HeaderKind
        var drop: Bool
    }

    /// Names longer than this are never looked up (no known or droppable name is).
    static let maxNameLength = 128

    static let known: [(String, HeaderKind)] = [
        ("received", .received), ("message-id", .messageID), ("date", .date), ("from", .from),
        ("to", .to), ("cc", .cc), ("resent-message-id", .resentMessageID), ("resent-date", .resentDate),
        ("resent-from", .resentFrom), ("resent-to", .resentTo), ("resent-cc", .resentCc),
        ("resent-bcc", .resentOther), ("resent-reply-to", .resentOther), ("resent-sender", .resentOther),
    ]

    var entries: [[UInt8]: Entry] = [:]

    /// The table for message_drop_headers DROPHEADERS (names in any case).
    init(dropHeaders: [String]) {
        for (name, kind) in Self.known { entries[Array(name.utf8)] = Entry(kind: kind, drop: false) }
        for name in dropHeaders {
            let key = Array(name.asciiLowercased.utf8)
            entries[key, default: Entry(kind: .other, drop: false)].drop = true
        }
    }

    func lookup(_ lowercasedName: [UInt8]) -> Entry {
        entries[lowercasedName] ?? Entry(kind: .other, drop: false)
    }
}
