// Reading table source text the way Postfix does (readllines(3), postmap.c, dict_thash.c):
// logical lines (a line starting with white space continues the one before; blank and `#`
// lines are skipped and do not end a logical line), and `key whitespace value` records
// with optionally double-quoted keys, which keep their quotes.

/// One logical line and the number of its first physical line.
public struct SourceLine: Equatable {
    public let text: String
    public let line: Int

    public init(text: String, line: Int) {
        self.text = text
        self.line = line
    }
}

/// Postfix's table source syntax: logical lines and key/value records.
public enum TableSource {
    /// The logical lines of BYTES. PATH names the file in warnings (a continuation
    /// without a line to continue; input that is not UTF-8).
    public static func logicalLines(_ bytes: [UInt8], path: String, warn: (String) -> Void) -> [SourceLine] {
        var result: [SourceLine] = []
        var current: [UInt8] = []
        var first = 0
        var number = 0
        var index = 0

        func finish() {
            defer { current.removeAll(keepingCapacity: true) }
            guard !current.isEmpty else { return }
            if isSpace(current[0]) {
                let shown = String(decoding: current.prefix(30), as: UTF8.self)
                warn("\(path): logical line must not start with whitespace: \"\(shown)\(current.count > 30 ? "..." : "")\"")
                return
            }
            guard let text = String(validating: current, as: UTF8.self) else {
                let shown = String(String(decoding: current, as: UTF8.self).map { $0 == "\u{FFFD}" ? "?" : $0 })
                warn("\(path), line \(first): non-UTF-8 input \"\(shown)\" -- ignoring this line")
                return
            }
            result.append(SourceLine(text: text, line: first))
        }

        while index < bytes.count {
            number += 1
            let end = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let physical = bytes[index..<end]
            index = end + 1
            guard let firstText = physical.firstIndex(where: { !isSpace($0) }),
                physical[firstText] != UInt8(ascii: "#")
            else { continue }
            if !isSpace(physical[physical.startIndex]) {
                finish()
                first = number
            } else if current.isEmpty {
                first = number
            }
            current.append(contentsOf: physical)
        }
        finish()
        return result
    }

    /// The outcome of reading one `key whitespace value` line.
    public enum Record: Equatable {
        case entry(key: String, value: String)
        /// The line is skipped; the text is the warning (without the `path, line N: ` part).
        case skipped(String)
    }

    /// Splits LINE at the first white space outside double quotes (a backslash protects
    /// the next character). The key keeps its quotes and backslashes, as Postfix stores it.
    public static func record(_ line: String) -> Record {
        let bytes = Array(line.utf8)
        var inQuotes = false
        var keyEnd = bytes.count
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "\\") {
                i += 1
            } else if isSpace(byte) && !inQuotes {
                keyEnd = i
                break
            } else if byte == UInt8(ascii: "\"") {
                inQuotes.toggle()
            }
            i += 1
        }
        if inQuotes { return .skipped("unbalanced '\"' in '\(line)' -- ignoring this line") }
        let key = String(decoding: bytes[..<keyEnd], as: UTF8.self)
        let value = String(decoding: bytes[keyEnd...], as: UTF8.self).trimmed
        if key.isEmpty || value.isEmpty { return .skipped("expected format: key whitespace value") }
        return .entry(key: key, value: value)
    }

    /// The bytes of the table file PATH; a failure becomes `.unavailable("PREFIX PATH: reason")`.
    static func read(_ path: String, failure prefix: String) throws(TableError) -> [UInt8] {
        do {
            return try FileIO.readBytes(path)
        } catch {
            let reason = (error as? SystemError).map { errnoText($0.code) } ?? "\(error)"
            throw .unavailable("\(prefix) \(path): \(reason)")
        }
    }

    /// The rules of an inline pattern table (`pcre:{ {rule-1}, {rule-2} }`), numbered
    /// as lines from 1. TYPE names the table type in errors.
    static func inlineRules(_ text: String, type: String) throws(TableError) -> [SourceLine] {
        guard text.hasPrefix("{") && text.hasSuffix("}") && text.count >= 2 else {
            throw .configuration("\(type) map: no '{' at start of text in \"\(text)\"")
        }
        var rules: [SourceLine] = []
        var current = ""
        var depth = 0
        func finish() throws(TableError) {
            defer { current = "" }
            guard !current.isEmpty else { return }
            guard current.hasPrefix("{") && current.hasSuffix("}") else {
                throw .configuration("\(type) map: no '{' at start of text in \"\(current)\"")
            }
            rules.append(SourceLine(text: String(current.dropFirst().dropLast()).trimmed, line: rules.count + 1))
        }
        for ch in text.dropFirst().dropLast() {
            if depth == 0 && (ch == "," || ch == " " || ch == "\t" || ch == "\n") {
                try finish()
                continue
            }
            if ch == "{" { depth += 1 }
            if ch == "}" && depth > 0 { depth -= 1 }
            current.append(ch)
        }
        try finish()
        return rules
    }

    /// The warning postmap adds for a key that ends in `:`.
    static let aliasFormatWarning = "record is in \"key: value\" format; is this an alias file?"

    /// C isspace(3) in the C locale.
    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 32 || (byte >= 9 && byte <= 13)
    }
}
