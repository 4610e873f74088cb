// The message content in the form DATA sends it (RFC 5321 §4.5.2, §4.5.3.1.6): queue
// file content has LF line ends; on the wire every line ends in CRLF, a line that starts
// with a dot gets a second one, and, as Postfix's smtp(8) does with
// smtp_line_length_limit, a line longer than the limit is broken with CRLF SPACE. The
// end of the content is `.` CRLF, after a CRLF that ends an unterminated last line.
// Works on chunks so a message is never held whole.

/// Encodes content chunks for DATA.
public struct SMTPDataEncoder {
    /// The longest line sent unbroken (0 = no limit).
    public let lineLimit: Int
    /// True once a line had to be broken (Postfix logs this once per message).
    public private(set) var brokeLongLine = false
    var column = 0
    var atLineStart = true
    var lastWasCR = false

    /// An encoder breaking lines longer than LINELIMIT bytes (0: never).
    public init(lineLimit: Int) {
        self.lineLimit = lineLimit
    }

    /// Appends the wire form of CHUNK to OUT.
    public mutating func encode(_ chunk: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let bytes = chunk.bindMemory(to: UInt8.self)
        var i = 0
        let n = bytes.count
        out.reserveCapacity(out.count + n + n / 32 + 8)
        while i < n {
            if atLineStart {
                atLineStart = false
                if bytes[i] == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
            }
            var end = i
            while end < n && bytes[end] != 10 { end += 1 }
            appendSegment(bytes, from: i, to: end, into: &out)
            if end < n {
                if !lastWasCR { out.append(13) }
                out.append(10)
                column = 0
                atLineStart = true
                lastWasCR = false
                end += 1
            }
            i = end
        }
    }

    /// Appends the bytes of one line piece, breaking at the line limit.
    mutating func appendSegment(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, into out: inout [UInt8]) {
        var k = start
        while k < end {
            if lineLimit > 0 && column >= lineLimit {
                out.append(contentsOf: [13, 10, 32])
                column = 1
                brokeLongLine = true
            }
            let take = lineLimit > 0 ? min(lineLimit - column, end - k) : end - k
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[k..<(k + take)]))
            column += take
            k += take
            lastWasCR = bytes[k - 1] == 13
        }
    }

    /// Appends the end of the content: CRLF for an unterminated last line, then `.` CRLF.
    public mutating func finish(into out: inout [UInt8]) {
        if !atLineStart {
            if !lastWasCR { out.append(13) }
            out.append(10)
        }
        out.append(contentsOf: [UInt8(ascii: "."), 13, 10])
        column = 0
        atLineStart = true
        lastWasCR = false
    }
}
