// The message of a delivery request read from its queue file: the content lines between
// the envelope records and the end marker, streamed in chunks, never held whole.
import Glibc
import Shared

final class QueueMessage: MessageSource {
    let path: String
    let file: QueueFile
    /// Opened while still root: deliveries run with the recipient's rights, which cannot
    /// open the queue file (mode 0700, mail_owner).
    let descriptor: Int32

    /// Opens the queue file at PATH (relative to the queue directory) and reads its envelope.
    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SystemError("open \(path)") }
        do {
            file = try QueueFile.read(descriptor: descriptor)
        } catch {
            close(descriptor)
            throw error
        }
    }

    deinit { close(descriptor) }

    func readLines(_ visit: (ArraySlice<UInt8>) throws -> Bool) throws {
        let fd = descriptor
        // One buffer for every line: a line is copied out of the chunk, never allocated.
        var line: [UInt8] = []
        line.reserveCapacity(1024)
        var stopped = false
        try file.readContent(descriptor: fd) { chunk in
            guard !stopped else { return }
            var start = 0
            while !stopped, let newline = chunk[start...].firstIndex(of: 10) {
                line.append(contentsOf: chunk[start..<newline])
                stopped = try !visit(line[...])
                line.removeAll(keepingCapacity: true)
                start = newline + 1
            }
            if !stopped { line.append(contentsOf: chunk[start...]) }
        }
        if !stopped && !line.isEmpty { _ = try visit(line[...]) }
    }

    /// The content exactly as queued (LF line ends), with an LF added if the last line
    /// lacks one.
    func readContent(_ visit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var last: UInt8 = 10
        try file.readContent(descriptor: descriptor) { chunk in
            if let byte = chunk.last { last = byte }
            try visit(chunk)
        }
        if last != 10 { try [UInt8(10)].withUnsafeBytes(visit) }
    }
}
