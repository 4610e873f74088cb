// Standard input as sendmail reads it: lines without their line end (a CR before the LF
// is dropped, as Postfix's sendmail does), and lines of any length, handed on in pieces
// of at most 64 KiB so that nothing holds a whole message. A final line without a line
// feed still counts as a line.
import Glibc

/// A line, or a piece of a long one.
struct LinePiece {
    /// The bytes, without the line end.
    var bytes: ArraySlice<UInt8>
    /// True when the line ends after these bytes; false for a piece that continues.
    var endsLine: Bool
    /// True when these bytes start a line.
    var startsLine: Bool
}

/// Reads line pieces from a descriptor.
final class InputLines {
    static let pieceLimit = 65536

    let descriptor: Int32
    var buffer: [UInt8] = []
    var start = 0
    var atLineStart = true
    var ended = false

    /// Reads from DESCRIPTOR (standard input).
    init(descriptor: Int32) {
        self.descriptor = descriptor
        buffer.reserveCapacity(Self.pieceLimit * 2)
    }

    /// The next piece; nil at the end of input.
    func next() -> LinePiece? {
        while true {
            if let nl = buffer[start...].firstIndex(of: 10) {
                var end = nl
                if end > start && buffer[end - 1] == 13 { end -= 1 }
                return take(start..<end, skip: nl + 1, endsLine: true)
            }
            let pending = buffer.count - start
            if pending > Self.pieceLimit {
                // Keep a CR back: it may be the first half of a CRLF.
                let end = buffer[start + Self.pieceLimit - 1] == 13 ? start + Self.pieceLimit - 1 : start + Self.pieceLimit
                return take(start..<end, skip: end, endsLine: false)
            }
            if ended {
                guard pending > 0 else { return nil }
                var end = buffer.count
                if buffer[end - 1] == 13 { end -= 1 }
                return take(start..<end, skip: buffer.count, endsLine: true)
            }
            fill()
        }
    }

    func take(_ range: Range<Int>, skip: Int, endsLine: Bool) -> LinePiece {
        let piece = LinePiece(bytes: buffer[range], endsLine: endsLine, startsLine: atLineStart)
        start = skip
        atLineStart = endsLine
        return piece
    }

    /// Reads more input, compacting the buffer first.
    func fill() {
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: Self.pieceLimit))
        var n: Int
        repeat {
            n = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + old, Self.pieceLimit) }
        } while n < 0 && errno == EINTR
        buffer.removeLast(Self.pieceLimit - max(n, 0))
        if n <= 0 { ended = true }
    }
}
