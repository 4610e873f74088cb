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
        var pending: [UInt8] = []
        var stopped = false
        try file.readContent(descriptor: fd) { chunk in
            guard !stopped else { return }
            var start = 0
            while !stopped, let newline = chunk[start...].firstIndex(of: 10) {
                if pending.isEmpty {
                    let line = Array(chunk[start..<newline])
                    stopped = try !visit(line[...])
                } else {
                    pending.append(contentsOf: chunk[start..<newline])
                    stopped = try !visit(pending[...])
                    pending.removeAll(keepingCapacity: true)
                }
                start = newline + 1
            }
            if !stopped { pending.append(contentsOf: chunk[start...]) }
        }
        if !stopped && !pending.isEmpty { _ = try visit(pending[...]) }
    }
}
