// regexp: and pcre: tables (regexp_table(5), pcre_table(5); dict_regexp.c, dict_pcre.c):
// rules `/pattern/flags result`, `!/pattern/ result`, `if /pattern/` … `endif`, tried in
// order on the whole lookup string; the first match answers, with `$1`/`${1}` replaced
// by the matched text. Rules are compiled once, when the table is opened; a bad rule is a
// warning naming the file and line, and is skipped, as in Postfix.

/// What toggling one pattern flag letter did.
enum PatternFlag {
    case toggled
    case unknown
    /// Accepted but ignored, with a warning (pcre's `X`).
    case obsolete
}

/// The outcome of running one compiled pattern.
enum PatternMatch {
    case matched
    case notMatched
    /// The engine failed with this status (match limit, bad input): warned about, and
    /// the rule does not apply.
    case failed(Int32)
}

struct PatternError: Error {
    let message: String
}

/// A rule's result text: literal text and `$n` references.
struct Replacement {
    enum Part {
        case literal([UInt8])
        case group(Int)
    }

    var parts: [Part] = []
    /// The largest `$n` (0 when there is none).
    var maxGroup = 0
    /// The whole text (with `$$` made `$`) when there is no `$n`: returned as it is.
    var literal = ""
}

final class PatternTable: LookupTable {
    /// One rule; plain data, so the lookup loop copies no references.
    struct Rule {
        enum Operation { case match, ifBlock, endif }
        let operation: Operation
        let line: Int
        var pattern: CompiledPattern?
        var matches = true
        var second: CompiledPattern?
        var secondMatches = true
        /// The largest `$n` of the result; 0 when the result is literal text.
        var maxGroup = 0
        /// The result's index in `replacements`.
        var replacement = 0
        /// For `if`: the index of its `endif`, nil when it has none.
        var endif: Int?
    }

    var type: String { dialect.type }
    let dialect: PatternDialect
    let name: String
    let isFixed = false
    let files: [String]
    let flags: TableFlags
    var rules: [Rule] = []
    var replacements: [Replacement] = []

    /// Reads and compiles the file NAME, or the inline rules when NAME is `{ {…}, … }`.
    init(name: String, flags: TableFlags, dialect: PatternDialect) throws(TableError) {
        self.name = name
        self.dialect = dialect
        self.flags = flags
        let lines: [SourceLine]
        if name.hasPrefix("{") {
            lines = try TableSource.inlineRules(name, type: dialect.type)
            files = []
        } else {
            let bytes = try TableSource.read(name, failure: "open")
            lines = TableSource.logicalLines(bytes, path: name, warn: Log.warning)
            files = [name]
        }
        var open: [Int] = []
        for line in lines {
            guard let rule = parse(line, nesting: open.count) else { continue }
            switch rule.operation {
            case .ifBlock:
                open.append(rules.count)
            case .endif:
                rules[open.removeLast()].endif = rules.count
            case .match:
                break
            }
            rules.append(rule)
        }
        for index in open.reversed() { warn(rules[index].line, "IF has no matching ENDIF") }
    }

    deinit {
        for rule in rules {
            rule.pattern?.release()
            rule.second?.release()
        }
    }

    func warn(_ line: Int, _ text: String) {
        Log.warning("\(dialect.type) map \(name), line \(line): \(text)")
    }

    // MARK: lookup

    func lookup(_ key: String) throws(TableError) -> String? {
        let length = key.utf8.count
        let rules = self.rules
        return key.withCString { subject in
            rules.withUnsafeBufferPointer { rules in
                var index = 0
                while index < rules.count {
                    let rule = rules[index]
                    index += 1
                    switch rule.operation {
                    case .match:
                        guard test(rule.pattern!, rule.matches, rule.line, subject, length, rule.maxGroup) else { continue }
                        if let second = rule.second, !test(second, rule.secondMatches, rule.line, subject, length, 0) {
                            continue
                        }
                        return expand(rule, subject)
                    case .ifBlock:
                        if test(rule.pattern!, rule.matches, rule.line, subject, length, 0) { continue }
                        guard let end = rule.endif else { return nil }
                        index = end + 1
                    case .endif:
                        continue
                    }
                }
                return nil
            }
        }
    }

    @inline(__always)
    func test(
        _ pattern: CompiledPattern, _ positive: Bool, _ line: Int, _ subject: UnsafePointer<CChar>, _ length: Int,
        _ captures: Int
    ) -> Bool {
        switch pattern.match(subject, length, captures: captures) {
        case .matched: return positive
        case .notMatched: return !positive
        case .failed(let status):
            warn(line, pattern.errorText(status))
            return false
        }
    }

    func expand(_ rule: Rule, _ subject: UnsafePointer<CChar>) -> String {
        let replacement = replacements[rule.replacement]
        if rule.maxGroup == 0 { return replacement.literal }
        var result: [UInt8] = []
        result.reserveCapacity(64)
        let bytes = UnsafeRawPointer(subject).assumingMemoryBound(to: UInt8.self)
        for part in replacement.parts {
            switch part {
            case .literal(let text):
                result.append(contentsOf: text)
            case .group(let n):
                if let range = rule.pattern!.group(n), !range.isEmpty {
                    result.append(contentsOf: UnsafeBufferPointer(start: bytes + range.lowerBound, count: range.count))
                }
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    // MARK: parsing

    func parse(_ source: SourceLine, nesting: Int) -> Rule? {
        var text = Array(source.text.trimmed.utf8)[...]
        guard let first = text.first else { return nil }
        if !isAlphanumeric(first) { return parseMatch(&text, source.line) }
        if keyword(text, "if") {
            text = text.dropFirst(2)
            return parseIf(&text, source.line)
        }
        if keyword(text, "endif") {
            if nesting == 0 {
                warn(source.line, "ignoring ENDIF without matching IF")
                return nil
            }
            if text.dropFirst(5).contains(where: { !TableSource.isSpace($0) }) {
                warn(source.line, "ignoring extra text after ENDIF")
            }
            return Rule(operation: .endif, line: source.line)
        }
        warn(source.line, "ignoring unrecognized request")
        return nil
    }

    func parseMatch(_ text: inout ArraySlice<UInt8>, _ line: Int) -> Rule? {
        guard let (first, options, matches) = pattern(&text, line) else { return nil }
        var second: (String, UInt32, Bool)?
        if dialect.allowsSecondPattern && text.first == UInt8(ascii: "!") {
            guard let parsed = pattern(&text, line) else { return nil }
            second = parsed
        }
        skipSpace(&text)
        if text.isEmpty { warn(line, "no replacement text: using empty string") }
        let template = String(decoding: text, as: UTF8.self)
        guard let replacement = parseReplacement(template, line) else {
            warn(line, "bad replacement syntax: skipping this rule")
            return nil
        }
        if replacement.maxGroup > 0 && !matches {
            warn(line, "$number found in negative match replacement text: skipping this rule")
            return nil
        }
        if replacement.maxGroup > 0 && !flags.regexSubstitution {
            warn(line, "regular expression substitution is not allowed: skipping this rule")
            return nil
        }
        guard let compiled = compile(first, options, line, captures: replacement.maxGroup > 0) else { return nil }
        if replacement.maxGroup > compiled.groups {
            warn(line, "out of range replacement index \"\(replacement.maxGroup)\": skipping this rule")
            compiled.release()
            return nil
        }
        var rule = Rule(
            operation: .match, line: line, pattern: compiled, matches: matches, maxGroup: replacement.maxGroup,
            replacement: replacements.count)
        if let (text, options, matches) = second {
            guard let compiled = compile(text, options, line, captures: false) else {
                rule.pattern!.release()
                return nil
            }
            rule.second = compiled
            rule.secondMatches = matches
        }
        replacements.append(replacement)
        return rule
    }

    func parseIf(_ text: inout ArraySlice<UInt8>, _ line: Int) -> Rule? {
        skipSpace(&text)
        guard let (source, options, matches) = pattern(&text, line) else { return nil }
        skipSpace(&text)
        if !text.isEmpty {
            warn(line, "ignoring extra text after IF statement: \"\(String(decoding: text, as: UTF8.self))\"")
            warn(line, "do not prepend whitespace to statements between IF and ENDIF")
        }
        guard let compiled = compile(source, options, line, captures: false) else { return nil }
        return Rule(operation: .ifBlock, line: line, pattern: compiled, matches: matches)
    }

    func compile(_ pattern: String, _ options: UInt32, _ line: Int, captures: Bool) -> CompiledPattern? {
        switch dialect.compile(pattern, options, captures) {
        case .success(let compiled): return compiled
        case .failure(let error):
            warn(line, error.message)
            return nil
        }
    }

    /// Takes `!`s, the delimited pattern and its flags off the front of TEXT.
    func pattern(_ text: inout ArraySlice<UInt8>, _ line: Int) -> (String, UInt32, Bool)? {
        var matches = true
        while let byte = text.first, byte == UInt8(ascii: "!") || TableSource.isSpace(byte) {
            if byte == UInt8(ascii: "!") { matches.toggle() }
            text.removeFirst()
        }
        guard let delimiter = text.popFirst() else {
            warn(line, "no regexp: skipping this rule")
            return nil
        }
        var end = text.startIndex
        while end < text.endIndex && text[end] != delimiter {
            end += text[end] == UInt8(ascii: "\\") ? 2 : 1
        }
        guard end < text.endIndex else {
            let shown = String(decoding: [delimiter], as: UTF8.self)
            warn(line, "no closing regexp delimiter \"\(shown)\": \(dialect.missingDelimiterAction) this rule")
            return nil
        }
        let source = String(decoding: text[..<end], as: UTF8.self)
        text = text[(end + 1)...]
        var options = dialect.defaultOptions
        while let flag = text.first, !TableSource.isSpace(flag) {
            if dialect.allowsSecondPattern && flag == UInt8(ascii: "!") { break }
            let shown = String(decoding: [flag], as: UTF8.self)
            switch dialect.toggle(flag, &options) {
            case .toggled: break
            case .obsolete: warn(line, "ignoring obsolete regexp option \"\(shown)\"")
            case .unknown:
                warn(line, "unknown regexp option \"\(shown)\": skipping this rule")
                return nil
            }
            text.removeFirst()
        }
        return (source, options, matches)
    }

    /// Parses TEMPLATE as Postfix's mac_parse does (`$$`, `$n`, `${n}`, `$(n)`), keeping
    /// the `$n` references; nil (after a warning) when it is malformed.
    func parseReplacement(_ template: String, _ line: Int) -> Replacement? {
        var replacement = Replacement()
        var literal: [UInt8] = []
        var failed = false
        let bytes = Array(template.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] != UInt8(ascii: "$") {
                literal.append(bytes[i])
                i += 1
                continue
            }
            if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "$") {
                literal.append(UInt8(ascii: "$"))
                i += 2
                continue
            }
            i += 1
            let nameBytes: ArraySlice<UInt8>
            if i < bytes.count, let close = closing(bytes[i]) {
                let open = bytes[i]
                var depth = 1
                var end = i + 1
                while end < bytes.count {
                    if bytes[end] == open { depth += 1 }
                    if bytes[end] == close { depth -= 1 }
                    if depth == 0 { break }
                    end += 1
                }
                guard end < bytes.count else {
                    Log.warning("truncated macro reference: \"\(template)\"")
                    return nil
                }
                nameBytes = bytes[(i + 1)..<end]
                i = end + 1
            } else {
                let start = i
                while i < bytes.count && (isAlphanumeric(bytes[i]) || bytes[i] == UInt8(ascii: "_")) { i += 1 }
                nameBytes = bytes[start..<i]
            }
            guard !nameBytes.isEmpty else {
                Log.warning("empty macro name: \"\(template)\"")
                return nil
            }
            if !literal.isEmpty { replacement.parts.append(.literal(literal)) }
            literal.removeAll()
            let name = String(decoding: nameBytes, as: UTF8.self)
            guard nameBytes.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(name) else {
                warn(line, "non-numeric replacement index \"\(name)\"")
                failed = true
                continue
            }
            guard n >= 1 else {
                warn(line, "\(dialect.indexRangeWording) replacement index \"\(name)\"")
                failed = true
                continue
            }
            replacement.parts.append(.group(n))
            replacement.maxGroup = max(replacement.maxGroup, n)
        }
        if failed { return nil }
        if !literal.isEmpty { replacement.parts.append(.literal(literal)) }
        if replacement.maxGroup == 0 { replacement.literal = String(decoding: literal, as: UTF8.self) }
        return replacement
    }

    func closing(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "{"): return UInt8(ascii: "}")
        case UInt8(ascii: "("): return UInt8(ascii: ")")
        default: return nil
        }
    }

    func keyword(_ text: ArraySlice<UInt8>, _ word: String) -> Bool {
        let length = word.utf8.count
        guard text.count >= length,
            String(decoding: text.prefix(length), as: UTF8.self).asciiLowercased == word
        else { return false }
        return text.count == length || !isAlphanumeric(text[text.startIndex + length])
    }

    func skipSpace(_ text: inout ArraySlice<UInt8>) {
        while let byte = text.first, TableSource.isSpace(byte) { text.removeFirst() }
    }

    func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
    }
}
