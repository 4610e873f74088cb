// The verbose TLS logging of *_tls_loglevel 2 to 4, in Postfix's forms (tls_misc.c):
// handshake states (`SSL_accept:SSLv3/TLS read client hello`), alerts, and at level 3
// (handshake) or 4 (everything) hex dumps of the bytes on the wire
// (`read from 55D5A1B2 [55D5A1C0] (5 bytes => 5 (0x5))` then `0000 16 03 01 …`).
import COpenSSL
import Glibc

/// What a *_tls_loglevel value turns on.
public struct TLSLogLevel: Equatable, Sendable {
    public let level: Int
    public init(_ level: Int) { self.level = max(0, level) }
    /// The one-line summary of each handshake.
    public var summary: Bool { level >= 1 }
    /// Set-up lines, cipher lists, handshake states, session reuse, peer certificates.
    public var verbose: Bool { level >= 2 }
    /// Hex dumps of the handshake.
    public var handshakePackets: Bool { level >= 3 }
    /// Hex dumps of the whole session.
    public var allPackets: Bool { level >= 4 }
}

enum TLSDebugLog {
    /// SSL_set_info_callback target: state changes, alerts and failures.
    static let infoCallback: @convention(c) (OpaquePointer?, Int32, Int32) -> Void = { ssl, whereBits, ret in
        let w = whereBits & ~Int32(SSL_ST_MASK)
        let side = w & Int32(SSL_ST_CONNECT) != 0 ? "SSL_connect" : w & Int32(SSL_ST_ACCEPT) != 0 ? "SSL_accept" : "unknown"
        let state = ssl.map { String(cString: SSL_state_string_long($0)) } ?? ""
        if whereBits & Int32(SSL_CB_LOOP) != 0 {
            Log.info("\(side):\(state)")
        } else if whereBits & Int32(SSL_CB_ALERT) != 0 {
            guard ret & 0xff != Int32(SSL3_AD_CLOSE_NOTIFY) else { return }
            let direction = whereBits & Int32(SSL_CB_READ) != 0 ? "read" : "write"
            Log.info("SSL3 alert \(direction):\(String(cString: SSL_alert_type_string_long(ret))):\(String(cString: SSL_alert_desc_string_long(ret)))")
        } else if whereBits & Int32(SSL_CB_EXIT) != 0 {
            if ret == 0 {
                Log.info("\(side):failed in \(state)")
            } else if ret < 0, let ssl {
                let e = SSL_get_error(ssl, ret)
                if e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE { Log.info("\(side):error in \(state)") }
            }
        }
    }

    /// BIO_set_callback_ex target: a hex dump of every completed read and write.
    static let dumpCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, Int, Int32, Int, Int32, UnsafeMutablePointer<Int>?) -> Int = {
        bio, operation, argp, length, _, _, ret, processed in
        let done = ret > 0 ? (processed?.pointee ?? 0) : 0
        guard done > 0 else { return Int(ret) }
        let direction: String
        switch operation {
        case Int32(BIO_CB_READ | BIO_CB_RETURN): direction = "read from"
        case Int32(BIO_CB_WRITE | BIO_CB_RETURN): direction = "write to"
        default: return Int(ret)
        }
        let bioAddress = UInt(bitPattern: bio.map { Int(bitPattern: UnsafeRawPointer($0)) } ?? 0)
        let bufferAddress = UInt(bitPattern: argp.map { Int(bitPattern: $0) } ?? 0)
        Log.info("\(direction) \(hex(bioAddress, width: 8)) [\(hex(bufferAddress, width: 8))] (\(length) bytes => \(done) (0x\(hex(UInt(done), width: 1))))")
        if let argp {
            argp.withMemoryRebound(to: UInt8.self, capacity: done) { dump(UnsafeBufferPointer(start: $0, count: done)) }
        }
        return Int(ret)
    }

    static func hex(_ value: UInt, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// 16 bytes a line: offset, hex bytes (a `|` after the eighth), then the printable
    /// characters; trailing spaces and NULs are summarised as Postfix does.
    static func dump(_ bytes: UnsafeBufferPointer<UInt8>) {
        var last = bytes.count - 1
        while last >= 0 && (bytes[last] == 0x20 || bytes[last] == 0) { last -= 1 }
        var row = 0
        while row <= last {
            var line = hex(UInt(row), width: 4).lowercased() + " "
            for col in row..<(row + 16) {
                if col > last {
                    line += "   "
                } else {
                    line += hex(UInt(bytes[col]), width: 2).lowercased() + (col - row == 7 ? "|" : " ")
                }
            }
            line += " "
            for col in row..<min(row + 16, last + 1) {
                let c = bytes[col]
                line.append(c >= 0x20 && c < 0x7f ? Character(UnicodeScalar(c)) : ".")
            }
            Log.info(line)
            row += 16
        }
        if last + 1 < bytes.count { Log.info(hex(UInt(bytes.count + 1), width: 4).lowercased() + " - <SPACES/NULS>") }
    }
}
