// The two engines behind pattern tables: PCRE2 for pcre: (flags i m s x A E U X as in
// pcre_table(5); JIT-compiled when the library can) and POSIX regcomp/regexec from Glibc
// for regexp: (flags i m x as in regexp_table(5)). Each compiled rule owns its match
// buffer, so a lookup allocates nothing; compiled patterns are plain pointers (no
// reference counting on the lookup path) that the table releases when it goes.
import CPCRE2
import Glibc

/// What differs between the regexp: and pcre: table dialects.
struct PatternDialect {
    /// `regexp` or `pcre`, as in messages (`pcre map FILE, line N: …`).
    let type: String
    let defaultOptions: UInt32
    /// regexp allows `/pattern1/!/pattern2/ result`.
    let allowsSecondPattern: Bool
    /// What Postfix says it does with a rule missing its closing delimiter.
    let missingDelimiterAction: String
    /// How a `$0` is described ("out of range" or "out-of-range").
    let indexRangeWording: String
    let toggle: (UInt8, inout UInt32) -> PatternFlag
    /// Compiles a pattern with options; wants captures or not. The error text follows
    /// `MAP, line N: ` in the warning.
    let compile: (String, UInt32, Bool) -> Result<CompiledPattern, PatternError>

    static let pcre = PatternDialect(
        type: "pcre", defaultOptions: UInt32(PCRE2_CASELESS | PCRE2_DOTALL), allowsSecondPattern: false,
        missingDelimiterAction: "ignoring", indexRangeWording: "out of range", toggle: PCREPattern.toggle,
        compile: PCREPattern.compile)

    static let regexp = PatternDialect(
        type: "regexp", defaultOptions: UInt32(REG_EXTENDED | REG_ICASE), allowsSecondPattern: true,
        missingDelimiterAction: "skipping", indexRangeWording: "out-of-range", toggle: POSIXPattern.toggle,
        compile: POSIXPattern.compile)
}

/// A compiled pattern of either engine.
enum CompiledPattern {
    case pcre(PCREPattern)
    case posix(POSIXPattern)

    /// Runs the pattern on the NUL-terminated SUBJECT of LENGTH bytes, recording the
    /// first CAPTURES groups for `group`.
    @inline(__always)
    func match(_ subject: UnsafePointer<CChar>, _ length: Int, captures: Int) -> PatternMatch {
        switch self {
        case .pcre(let pattern): return pattern.match(subject, length)
        case .posix(let pattern): return pattern.match(subject, captures: captures)
        }
    }

    /// The byte range of group N after the last successful match; nil when it did not
    /// take part.
    func group(_ n: Int) -> Range<Int>? {
        switch self {
        case .pcre(let pattern): return pattern.group(n)
        case .posix(let pattern): return pattern.group(n)
        }
    }

    /// The number of capture groups.
    var groups: Int {
        switch self {
        case .pcre(let pattern): return pattern.groups
        case .posix(let pattern): return pattern.regex.pointee.re_nsub
        }
    }

    /// The text of a failed match's status.
    func errorText(_ status: Int32) -> String {
        switch self {
        case .pcre: return PCREPattern.errorText(status)
        case .posix(let pattern): return POSIXPattern.errorText(status, pattern.regex)
        }
    }

    func release() {
        switch self {
        case .pcre(let pattern):
            pcre2_match_data_free_8(pattern.data)
            pcre2_code_free_8(pattern.code)
        case .posix(let pattern):
            regfree(pattern.regex)
            pattern.regex.deallocate()
            pattern.matches.deallocate()
        }
    }
}

/// A compiled PCRE2 pattern and the match data its lookups reuse.
struct PCREPattern {
    let code: OpaquePointer
    let data: OpaquePointer
    let ovector: UnsafeMutablePointer<Int>

    static func toggle(_ flag: UInt8, _ options: inout UInt32) -> PatternFlag {
        let bit: UInt32
        switch flag {
        case UInt8(ascii: "i"): bit = UInt32(PCRE2_CASELESS)
        case UInt8(ascii: "m"): bit = UInt32(PCRE2_MULTILINE)
        case UInt8(ascii: "s"): bit = UInt32(PCRE2_DOTALL)
        case UInt8(ascii: "x"): bit = UInt32(PCRE2_EXTENDED)
        case UInt8(ascii: "A"): bit = UInt32(PCRE2_ANCHORED)
        case UInt8(ascii: "E"): bit = UInt32(PCRE2_DOLLAR_ENDONLY)
        case UInt8(ascii: "U"): bit = UInt32(PCRE2_UNGREEDY)
        case UInt8(ascii: "X"): return .obsolete
        default: return .unknown
        }
        options ^= bit
        return .toggled
    }

    static func compile(_ pattern: String, options: UInt32, captures: Bool) -> Result<CompiledPattern, PatternError> {
        var error: Int32 = 0
        var offset = 0
        let code = pattern.withCString { text in
            text.withMemoryRebound(to: UInt8.self, capacity: pattern.utf8.count + 1) {
                pcre2_compile_8($0, pattern.utf8.count, options, &error, &offset, nil)
            }
        }
        guard let code else {
            return .failure(PatternError(message: "error in regex at offset \(offset): \(errorText(error))"))
        }
        _ = pcre2_jit_compile_8(code, UInt32(PCRE2_JIT_COMPLETE))
        guard let data = pcre2_match_data_create_from_pattern_8(code, nil) else {
            pcre2_code_free_8(code)
            return .failure(PatternError(message: "out of memory in pcre2_match_data_create_from_pattern()"))
        }
        return .success(.pcre(PCREPattern(code: code, data: data, ovector: pcre2_get_ovector_pointer_8(data))))
    }

    static func errorText(_ code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = pcre2_get_error_message_8(code, &buffer, buffer.count)
        guard length > 0 else { return "unexpected pcre2 error code \(code)" }
        return String(decoding: buffer[..<Int(length)], as: UTF8.self)
    }

    var groups: Int {
        var count: UInt32 = 0
        _ = pcre2_pattern_info_8(code, UInt32(PCRE2_INFO_CAPTURECOUNT), &count)
        return Int(count)
    }

    @inline(__always)
    func match(_ subject: UnsafePointer<CChar>, _ length: Int) -> PatternMatch {
        let result = subject.withMemoryRebound(to: UInt8.self, capacity: length) {
            pcre2_match_8(code, $0, length, 0, 0, data, nil)
        }
        if result > 0 { return .matched }
        if result == PCRE2_ERROR_NOMATCH { return .notMatched }
        return .failed(result)
    }

    /// Groups that did not take part, unused ones at the end included, are PCRE2_UNSET.
    func group(_ n: Int) -> Range<Int>? {
        let start = ovector[2 * n]
        let end = ovector[2 * n + 1]
        guard start >= 0, start <= end else { return nil }
        return start..<end
    }
}

/// A compiled POSIX pattern and the match array its lookups reuse.
struct POSIXPattern {
    let regex: UnsafeMutablePointer<regex_t>
    let matches: UnsafeMutablePointer<regmatch_t>
    let capacity: Int

    static func toggle(_ flag: UInt8, _ options: inout UInt32) -> PatternFlag {
        switch flag {
        case UInt8(ascii: "i"): options ^= UInt32(REG_ICASE)
        case UInt8(ascii: "m"): options ^= UInt32(REG_NEWLINE)
        case UInt8(ascii: "x"): options ^= UInt32(REG_EXTENDED)
        default: return .unknown
        }
        return .toggled
    }

    static func compile(_ pattern: String, options: UInt32, captures: Bool) -> Result<CompiledPattern, PatternError> {
        let regex = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        regex.initialize(to: regex_t())
        let flags = Int32(bitPattern: options) | (captures ? 0 : REG_NOSUB)
        let status = regcomp(regex, pattern, flags)
        guard status == 0 else {
            let message = errorText(status, regex)
            regex.deallocate()
            return .failure(PatternError(message: message))
        }
        let capacity = regex.pointee.re_nsub + 1
        let matches = UnsafeMutablePointer<regmatch_t>.allocate(capacity: capacity)
        matches.initialize(repeating: regmatch_t(rm_so: -1, rm_eo: -1), count: capacity)
        return .success(.posix(POSIXPattern(regex: regex, matches: matches, capacity: capacity)))
    }

    static func errorText(_ status: Int32, _ regex: UnsafePointer<regex_t>) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        _ = regerror(status, regex, &buffer, buffer.count)
        return String(cString: buffer)
    }

    @inline(__always)
    func match(_ subject: UnsafePointer<CChar>, captures: Int) -> PatternMatch {
        let count = captures > 0 ? min(captures + 1, capacity) : 0
        let status = regexec(regex, subject, count, count > 0 ? matches : nil, 0)
        if status == 0 { return .matched }
        if status == Int32(_REG_NOMATCH.rawValue) { return .notMatched }
        return .failed(status)
    }

    func group(_ n: Int) -> Range<Int>? {
        guard n < capacity else { return nil }
        let match = matches[n]
        guard match.rm_so >= 0, match.rm_so <= match.rm_eo else { return nil }
        return Int(match.rm_so)..<Int(match.rm_eo)
    }
}
