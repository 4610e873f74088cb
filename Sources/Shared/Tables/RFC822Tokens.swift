// RFC 822 tokens as Postfix's tok822 scanner sees them (tok822_parse.c): atoms, quoted
// strings, comments, domain literals and one-character operators (`|"(),.:;<>@[]%!`),
// and the two ways of turning tokens back into text: internal form (quotes removed, as
// addresses are compared) and external form (quoted where needed, as stored in aliases).

/// One token of an RFC 822 address or alias line.
public enum RFC822Token: Equatable {
    case atom(String)
    /// A quoted string's content, unescaped.
    case quoted(String)
    /// A comment, rendered in internal (plain) and external (escaped) form, with its parentheses.
    case comment(plain: String, escaped: String)
    /// A domain literal's content, without brackets.
    case domainLiteral(String)
    case op(UInt8)

    static let operators: [UInt8] = Array("|\"(),.:;<>@[]%!".utf8)

    /// Tokenizes TEXT. A backslash takes the next character literally; an atom that then
    /// holds an operator or white space becomes a quoted string.
    public static func scan(_ text: String) -> [RFC822Token] {
        let bytes = Array(text.utf8)
        var tokens: [RFC822Token] = []
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            i += 1
            if TableSource.isSpace(byte) { continue }
            switch byte {
            case UInt8(ascii: "("):
                tokens.append(comment(bytes, &i))
            case UInt8(ascii: "["):
                tokens.append(.domainLiteral(collect(bytes, &i, until: UInt8(ascii: "]"))))
            case UInt8(ascii: "\""):
                tokens.append(.quoted(collect(bytes, &i, until: UInt8(ascii: "\""))))
            case _ where byte != UInt8(ascii: "\\") && operators.contains(byte):
                tokens.append(.op(byte))
            default:
                i -= 1
                var atom: [UInt8] = []
                var needsQuotes = false
                while i < bytes.count && !TableSource.isSpace(bytes[i]) && !operators.contains(bytes[i]) {
                    if bytes[i] == UInt8(ascii: "\\") {
                        i += 1
                        if i == bytes.count { break }
                    }
                    let ch = bytes[i]
                    if TableSource.isSpace(ch) || ch < 32 || ch == 127 || operators.contains(ch) { needsQuotes = true }
                    atom.append(ch)
                    i += 1
                }
                let text = String(decoding: atom, as: UTF8.self)
                tokens.append(needsQuotes ? .quoted(text) : .atom(text))
            }
        }
        return tokens
    }

    /// Collects up to the closing STOP character (taken off), backslash-escapes resolved.
    static func collect(_ bytes: [UInt8], _ i: inout Int, until stop: UInt8) -> String {
        var result: [UInt8] = []
        while i < bytes.count {
            var ch = bytes[i]
            i += 1
            if ch == UInt8(ascii: "\\") {
                guard i < bytes.count else { break }
                ch = bytes[i]
                i += 1
            } else if ch == stop {
                break
            }
            result.append(ch)
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// A (possibly nested) comment whose `(` was just read.
    static func comment(_ bytes: [UInt8], _ i: inout Int) -> RFC822Token {
        var inner: [UInt8] = []
        var outer: [UInt8] = []
        while i < bytes.count {
            var ch = bytes[i]
            i += 1
            if ch == UInt8(ascii: "(") {
                if case .comment(let innerText, let outerText) = comment(bytes, &i) {
                    inner += Array(innerText.utf8)
                    outer += Array(outerText.utf8)
                }
                continue
            }
            if ch == UInt8(ascii: ")") { break }
            if ch == UInt8(ascii: "\\") {
                guard i < bytes.count else { break }
                ch = bytes[i]
                i += 1
            }
            inner.append(ch)
            if Array("()\\\r\n".utf8).contains(ch) { outer.append(UInt8(ascii: "\\")) }
            outer.append(ch)
        }
        return .comment(
            plain: "(" + String(decoding: inner, as: UTF8.self) + ")",
            escaped: "(" + String(decoding: outer, as: UTF8.self) + ")")
    }

    /// TOKENS as text in internal form (tok822_internalize).
    public static func internalize(_ tokens: ArraySlice<RFC822Token>) -> String {
        render(tokens, external: false)
    }

    /// TOKENS as text in external form (tok822_externalize).
    public static func externalize(_ tokens: ArraySlice<RFC822Token>) -> String {
        render(tokens, external: true)
    }

    static func render(_ tokens: ArraySlice<RFC822Token>, external: Bool) -> String {
        var text = ""
        var index = tokens.startIndex
        while index < tokens.endIndex {
            let token = tokens[index]
            switch token {
            case .atom(let atom): text += atom
            case .quoted(let content): text += external ? "\"" + escaped(content, "\"\\\r\n") + "\"" : content
            case .comment(let plain, let escaped): text += external ? escaped : plain
            case .domainLiteral(let content): text += "[" + (external ? escaped(content, "\\\r\n") : content) + "]"
            case .op(let byte): text.unicodeScalars.append(Unicode.Scalar(byte))
            }
            index += 1
            if index < tokens.endIndex && needsSpace(token, tokens[index]) { text += " " }
        }
        return text
    }

    static func escaped(_ text: String, _ set: String) -> String {
        var result = ""
        for ch in text {
            if set.contains(ch) { result += "\\" }
            result.append(ch)
        }
        return result
    }

    static func needsSpace(_ token: RFC822Token, _ next: RFC822Token) -> Bool {
        if token == .op(UInt8(ascii: ",")) || next == .op(UInt8(ascii: "<")) { return true }
        return token.isWord && next.isWord
    }

    var isWord: Bool {
        if case .op = self { return false }
        return true
    }
}
