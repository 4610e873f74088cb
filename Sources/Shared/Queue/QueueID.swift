// Queue IDs exactly as Postfix makes them (postfix/src/global/mail_queue.[ch]): the short
// form, upper-case hex of the microseconds (5 digits) and of the queue file's inode; the
// long form (enable_long_queue_ids), base-52 seconds, base-52 microseconds, `z`, base-51
// inode. Also the check that a file name is a queue ID, and the hashed subdirectory
// (hash_queue_names, hash_queue_depth) a queue file or log lives in.

/// Making and checking queue IDs.
public enum QueueID {
    /// The vowel-free alphabet of long queue IDs; base-51 fields stop before its last
    /// letter `z`, which separates the time from the inode.
    static let alphabet: [UInt8] = Array("0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz".utf8)
    static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)
    static let separator = UInt8(ascii: "z")
    /// Digits of a long ID's value, by byte (-1 = not in the alphabet).
    static let alphabetValue: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    static let shortMicrosWidth = 5
    static let longSecondsWidth = 6
    static let longMicrosWidth = 4

    /// The queue ID of a file created at SECONDS.MICROS with inode INODE, in the long form
    /// when LONG is set (enable_long_queue_ids = yes).
    public static func make(seconds: Int, micros: Int, inode: UInt64, long: Bool) -> String {
        var id: [UInt8] = []
        id.reserveCapacity(24)
        if long {
            append(UInt64(max(seconds, 0)), base: 52, width: longSecondsWidth, to: &id)
            append(UInt64(micros), base: 52, width: longMicrosWidth, to: &id)
            id.append(separator)
            append(inode, base: 51, width: 1, to: &id)
        } else {
            appendHex(UInt64(micros), width: shortMicrosWidth, to: &id)
            appendHex(inode, width: 1, to: &id)
        }
        return String(decoding: id, as: UTF8.self)
    }

    /// VALUE in the long-ID alphabet, BASE 51 or 52, left-padded with `0` to WIDTH.
    static func append(_ value: UInt64, base: UInt64, width: Int, to id: inout [UInt8]) {
        let start = id.count
        var v = value
        repeat {
            id.append(alphabet[Int(v % base)])
            v /= base
        } while v != 0
        while id.count - start < width { id.append(UInt8(ascii: "0")) }
        id[start...].reverse()
    }

    /// VALUE in upper-case hex, left-padded with `0` to WIDTH (printf `%0*lX`).
    static func appendHex(_ value: UInt64, width: Int, to id: inout [UInt8]) {
        let start = id.count
        var v = value
        repeat {
            id.append(hexDigits[Int(v & 15)])
            v >>= 4
        } while v != 0
        while id.count - start < width { id.append(UInt8(ascii: "0")) }
        id[start...].reverse()
    }

    /// True when ID is a short queue ID: 5 hex digits of microseconds (below 1000000) and
    /// 1 to 16 hex digits of inode, upper case.
    public static func isShort(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard bytes.count > shortMicrosWidth, bytes.count <= shortMicrosWidth + 16,
              bytes.allSatisfy(isUpperHex) else { return false }
        return hexValue(bytes[..<shortMicrosWidth])! < 1_000_000
    }

    /// True when ID is a long queue ID: at least 6 base-52 digits of seconds, 4 of
    /// microseconds (below 1000000), `z`, and 1 to 12 base-51 digits of inode.
    public static func isLong(_ id: String) -> Bool {
        longFields(Array(id.utf8)) != nil
    }

    /// True when NAME is a queue ID of either form. Temporary files (`usec.pid`) and other
    /// names a queue directory may hold are not.
    public static func isValid(_ name: String) -> Bool { isShort(name) || isLong(name) }

    /// The microseconds a queue ID was made at.
    public static func microseconds(of id: String) -> Int? {
        let bytes = Array(id.utf8)
        if isShort(id) { return Int(hexValue(bytes[..<shortMicrosWidth])!) }
        guard let fields = longFields(bytes) else { return nil }
        return Int(fields.micros)
    }

    /// The inode number a queue ID names (postsuper -s compares it with the file's).
    public static func inode(of id: String) -> UInt64? {
        let bytes = Array(id.utf8)
        if isShort(id) { return hexValue(bytes[shortMicrosWidth...]) }
        return longFields(bytes)?.inode
    }

    /// The hashed subdirectory of ID for a queue listed in hash_queue_names, DEPTH levels
    /// deep: one character per level, `6/7` for `67...` at depth 2, "" at depth 0. Short IDs
    /// hash on their own first characters; long IDs on their microseconds as 5 hex digits.
    public static func hashDirectory(for id: String, depth: Int) -> String {
        guard depth > 0 else { return "" }
        var key = Array(id.utf8)
        if let micros = longFields(key)?.micros {
            key = []
            appendHex(micros, width: shortMicrosWidth, to: &key)
        }
        var path: [UInt8] = []
        for level in 0..<depth {
            if level > 0 { path.append(UInt8(ascii: "/")) }
            path.append(level < key.count ? key[level] : UInt8(ascii: "_"))
        }
        return String(decoding: path, as: UTF8.self)
    }

    static func isUpperHex(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 70)
    }

    static func hexValue(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        var v: UInt64 = 0
        for c in digits {
            guard isUpperHex(c) else { return nil }
            v = v << 4 | UInt64(c <= 57 ? c - 48 : c - 55)
        }
        return v
    }

    /// The value of DIGITS in the long-ID alphabet, BASE 51 or 52; nil on a foreign digit
    /// or overflow.
    static func alphabetValue(_ digits: ArraySlice<UInt8>, base: UInt64) -> UInt64? {
        guard !digits.isEmpty else { return nil }
        var v: UInt64 = 0
        for c in digits {
            let d = alphabetValue[Int(c)]
            guard d >= 0, UInt64(d) < base else { return nil }
            let (product, overflow) = v.multipliedReportingOverflow(by: base)
            guard !overflow else { return nil }
            v = product + UInt64(d)
        }
        return v
    }

    /// The seconds, microseconds and inode of a long ID, or nil if BYTES is not one.
    static func longFields(_ bytes: [UInt8]) -> (seconds: UInt64, micros: UInt64, inode: UInt64)? {
        guard let z = bytes.lastIndex(of: separator), z >= longSecondsWidth + longMicrosWidth,
              bytes.count - z - 1 <= 12 else { return nil }
        let microsStart = z - longMicrosWidth
        guard let seconds = alphabetValue(bytes[..<microsStart], base: 52),
              let micros = alphabetValue(bytes[microsStart..<z], base: 52), micros < 1_000_000,
              let inode = alphabetValue(bytes[(z + 1)...], base: 51) else { return nil }
        return (seconds, micros, inode)
    }
}
