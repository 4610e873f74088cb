// aliases(5): the source format postalias reads (`name: value, value…`, continuation
// lines, quoting, comments) and what an alias value expands to for local(8): addresses,
// `:include:/file`, `|command` and `/file` destinations (local/token.c).

/// One `name: value` entry of an aliases file.
public struct AliasEntry: Equatable {
    /// The alias name in internal form (quotes removed), not yet folded to lower case.
    public let name: String
    /// The value in external form (quoted where needed), as postalias stores it.
    public let value: String
    /// The first line of the entry.
    public let line: Int

    public init(name: String, value: String, line: Int) {
        self.name = name
        self.value = value
        self.line = line
    }
}

/// Where one element of an alias value sends mail.
public enum AliasDestination: Equatable {
    /// A mail address or local name, in internal form.
    case address(String)
    /// `:include:/path`: the addresses listed in that file.
    case include(String)
    /// `|command`: the text after the bar, run by the shell.
    case command(String)
    /// `/path`: a file (a trailing `/` means a maildir).
    case file(String)
}

/// Reading aliases(5) files and alias values.
public enum AliasFile {
    /// The entries of an aliases file, with postalias's warnings (`need name:value
    /// pair`, `name must be local`) passed to WARN as `PATH, line N: text`.
    public static func parse(_ bytes: [UInt8], path: String, warn: (String) -> Void) -> [AliasEntry] {
        var entries: [AliasEntry] = []
        for line in TableSource.logicalLines(bytes, path: path, warn: warn) {
            let tokens = RFC822Token.scan(line.text)
            if tokens.isEmpty { continue }
            guard let colon = tokens.firstIndex(of: .op(UInt8(ascii: ":"))), colon > 0, colon < tokens.count - 1,
                !tokens[..<colon].contains(.op(UInt8(ascii: ",")))
            else {
                warn("\(path), line \(line.line): need name:value pair")
                continue
            }
            if tokens[..<colon].contains(.op(UInt8(ascii: "@"))) || tokens[..<colon].contains(.op(UInt8(ascii: "%"))) {
                warn("\(path), line \(line.line): name must be local")
                continue
            }
            entries.append(
                AliasEntry(
                    name: RFC822Token.internalize(tokens[..<colon]),
                    value: RFC822Token.externalize(tokens[(colon + 1)...]), line: line.line))
        }
        return entries
    }

    /// The destinations an alias VALUE (as stored) lists, in order. Comments are
    /// dropped; `Name <address>` gives the address.
    public static func destinations(_ value: String) -> [AliasDestination] {
        let tokens = RFC822Token.scan(value).filter {
            if case .comment = $0 { return false }
            return true
        }
        var result: [AliasDestination] = []
        for element in tokens.split(separator: .op(UInt8(ascii: ",")), omittingEmptySubsequences: true) {
            var address = element
            if let open = element.lastIndex(of: .op(UInt8(ascii: "<"))),
                let close = element[open...].firstIndex(of: .op(UInt8(ascii: ">")))
            {
                address = element[(open + 1)..<close]
            }
            let text = RFC822Token.internalize(address)
            if text.isEmpty { continue }
            result.append(destination(text))
        }
        return result
    }

    /// Classifies one element in internal form, as local(8) does.
    public static func destination(_ text: String) -> AliasDestination {
        if text.hasPrefix("/") { return .file(text) }
        if text.hasPrefix("|") { return .command(String(text.dropFirst())) }
        if text.hasPrefixIgnoringCase(":include:") { return .include(String(text.dropFirst(9))) }
        return .address(text)
    }
}
