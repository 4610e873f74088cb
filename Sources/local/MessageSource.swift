// The message local(8) delivers, as local needs to see it: the content (headers, empty
// line, body) one line at a time, re-readable from the start for every delivery. The
// queue-file reader is adapted to `MessageSource`; `MessageFile` reads a plain message
// file (LF or CRLF line ends) and serves the tests and a queue of plain files.
import Glibc
import Shared

/// The content of the message a delivery request names.
protocol MessageSource: AnyObject {
    /// Passes the content to VISIT one whole line at a time, without its line end, from
    /// the first header line to the last body line; VISIT returns false to stop early.
    /// Every call starts again at the first line. Throws a `SystemError` when the
    /// content cannot be read, and passes on whatever VISIT throws.
    func readLines(_ visit: (ArraySlice<UInt8>) throws -> Bool) throws

    /// Passes the whole content to VISIT in large pieces, every line ended by LF. The
    /// default goes line by line; a source stored with LF line ends passes its bytes as
    /// they are.
    func readContent(_ visit: (UnsafeRawBufferPointer) throws -> Void) throws
}

extension MessageSource {
    func readContent(_ visit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var piece: [UInt8] = []
        try readLines { line in
            piece.append(contentsOf: line)
            piece.append(10)
            if piece.count >= 65536 {
                try piece.withUnsafeBytes(visit)
                piece.removeAll(keepingCapacity: true)
            }
            return true
        }
        if !piece.isEmpty { try piece.withUnsafeBytes(visit) }
    }
}

/// Opens the message of a delivery request (the queue file it names).
typealias MessageOpener = (DeliveryRequest) throws -> MessageSource

/// A message stored as a plain file: lines end in LF (a CR before the LF is dropped); a
/// last line without LF still counts as a line.
final class MessageFile: MessageSource {
    let path: String

    /// Checks that PATH can be opened; the file is read on each `readLines`.
    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open \(path)") }
        close(fd)
        self.path = path
    }

    func readLines(_ visit: (ArraySlice<UInt8>) throws -> Bool) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open \(path)") }
        defer { close(fd) }
        var chunk = [UInt8](repeating: 0, count: 65536)
        var pending: [UInt8] = []
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read \(path)")
            }
            if n == 0 { break }
            var start = 0
            while let newline = chunk[start..<n].firstIndex(of: 10) {
                let keepGoing: Bool
                if pending.isEmpty {
                    keepGoing = try visit(MessageFile.withoutCR(chunk[start..<newline]))
                } else {
                    pending.append(contentsOf: chunk[start..<newline])
                    keepGoing = try visit(MessageFile.withoutCR(pending[...]))
                    pending.removeAll(keepingCapacity: true)
                }
                if !keepGoing { return }
                start = newline + 1
            }
            pending.append(contentsOf: chunk[start..<n])
        }
        if !pending.isEmpty { _ = try visit(MessageFile.withoutCR(pending[...])) }
    }

    static func withoutCR(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        line.last == 13 ? line.dropLast() : line
    }
}
