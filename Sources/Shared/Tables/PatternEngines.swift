// The two engines behind pattern tables: PCRE2 for pcre: (flags i m s x A E U X as in
// pcre_table(5); JIT-compiled when the library can) and POSIX regcomp/regexec from Glibc
// for regexp: (flags i m x as in regexp_table(5)). Each compiled rule owns its match
// buffer, so a lookup allocates nothing.
import CPCRE2
import Glibc

/// A compiled PCRE2 pattern and the match data its lookups reuse.
final class CompiledPCRE {
    let code: OpaquePointer
    let data: OpaquePointer
    let ovector: UnsafeMutablePointer<Int>
    /// What the last pcre2_match returned (groups at or above it did not take part).
    var lastResult: Int32 = 0

    init(code: OpaquePointer, data: OpaquePointer) {
        self.code = code
        self.data = data
        ovector = pcre2_get_ovector_pointer_8(data)
    }

    deinit {
        pcre2_match_data_free_8(data)
        pcre2_code_free_8(code)
    }
}

enum PCREEngine: PatternEngine {
    static let type = "pcre"
    static let defaultOptions = UInt32(PCRE2_CASELESS | PCRE2_DOTALL)
    static let allowsSecondPattern = false
    static let missingDelimiterAction = "ignoring"
    static let indexRangeWording = "out of range"

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

    static func compile(_ pattern: String, options: UInt32, captures: Bool) -> Result<CompiledPCRE, PatternError> {
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
        return .success(CompiledPCRE(code: code, data: data))
    }

    static func errorText(_ code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = pcre2_get_error_message_8(code, &buffer, buffer.count)
        guard length > 0 else { return "unexpected pcre2 error code \(code)" }
        return String(decoding: buffer[..<Int(length)], as: UTF8.self)
    }

    static func groups(_ compiled: CompiledPCRE) -> Int {
        var count: UInt32 = 0
        _ = pcre2_pattern_info_8(compiled.code, UInt32(PCRE2_INFO_CAPTURECOUNT), &count)
        return Int(count)
    }

    @inline(__always)
    static func match(_ compiled: CompiledPCRE, _ subject: UnsafePointer<CChar>, _ length: Int, captures: Int)
        -> PatternMatch
    {
        let result = subject.withMemoryRebound(to: UInt8.self, capacity: length) {
            pcre2_match_8(compiled.code, $0, length, 0, 0, compiled.data, nil)
        }
        compiled.lastResult = result
        if result > 0 { return .matched }
        if result == PCRE2_ERROR_NOMATCH { return .notMatched }
        return .failed(errorText(result))
    }

    static func group(_ compiled: CompiledPCRE, _ n: Int) -> Range<Int>? {
        guard n < Int(compiled.lastResult) else { return nil }
        let start = compiled.ovector[2 * n]
        let end = compiled.ovector[2 * n + 1]
        guard start >= 0, start <= end else { return nil }
        return start..<end
    }
}

/// A compiled POSIX pattern and the match array its lookups reuse.
final class CompiledRegex {
    let regex: UnsafeMutablePointer<regex_t>
    let matches: UnsafeMutablePointer<regmatch_t>
    let capacity: Int

    init(regex: UnsafeMutablePointer<regex_t>) {
        self.regex = regex
        capacity = regex.pointee.re_nsub + 1
        matches = .allocate(capacity: capacity)
        matches.initialize(repeating: regmatch_t(rm_so: -1, rm_eo: -1), count: capacity)
    }

    deinit {
        regfree(regex)
        regex.deallocate()
        matches.deallocate()
    }
}

enum RegexpEngine: PatternEngine {
    static let type = "regexp"
    static let defaultOptions = UInt32(REG_EXTENDED | REG_ICASE)
    static let allowsSecondPattern = true
    static let missingDelimiterAction = "skipping"
    static let indexRangeWording = "out-of-range"

    static func toggle(_ flag: UInt8, _ options: inout UInt32) -> PatternFlag {
        switch flag {
        case UInt8(ascii: "i"): options ^= UInt32(REG_ICASE)
        case UInt8(ascii: "m"): options ^= UInt32(REG_NEWLINE)
        case UInt8(ascii: "x"): options ^= UInt32(REG_EXTENDED)
        default: return .unknown
        }
        return .toggled
    }

    static func compile(_ pattern: String, options: UInt32, captures: Bool) -> Result<CompiledRegex, PatternError> {
        let regex = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        regex.initialize(to: regex_t())
        let flags = Int32(bitPattern: options) | (captures ? 0 : REG_NOSUB)
        let status = regcomp(regex, pattern, flags)
        guard status == 0 else {
            let message = errorText(status, regex)
            regex.deallocate()
            return .failure(PatternError(message: message))
        }
        return .success(CompiledRegex(regex: regex))
    }

    static func errorText(_ status: Int32, _ regex: UnsafePointer<regex_t>) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        _ = regerror(status, regex, &buffer, buffer.count)
        return String(cString: buffer)
    }

    static func groups(_ compiled: CompiledRegex) -> Int {
        compiled.regex.pointee.re_nsub
    }

    @inline(__always)
    static func match(_ compiled: CompiledRegex, _ subject: UnsafePointer<CChar>, _ length: Int, captures: Int)
        -> PatternMatch
    {
        let count = captures > 0 ? min(captures + 1, compiled.capacity) : 0
        let status = regexec(compiled.regex, subject, count, count > 0 ? compiled.matches : nil, 0)
        if status == 0 { return .matched }
        if status == Int32(_REG_NOMATCH.rawValue) { return .notMatched }
        return .failed(errorText(status, compiled.regex))
    }

    static func group(_ compiled: CompiledRegex, _ n: Int) -> Range<Int>? {
        guard n < compiled.capacity else { return nil }
        let match = compiled.matches[n]
        guard match.rm_so >= 0, match.rm_so <= match.rm_eo else { return nil }
        return Int(match.rm_so)..<Int(match.rm_eo)
    }
}
