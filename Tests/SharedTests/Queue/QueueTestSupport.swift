// Helpers for the queue and cleanup tests: a throw-away queue directory, a seeded random
// source, and an in-memory content sink.
import Glibc
import XCTest

@testable import Shared

/// A queue directory under /tmp with the queues the tests use, removed on cleanup.
final class TemporaryQueue {
    let path: String
    let directory: QueueDirectory

    init(longQueueIDs: Bool = false, hashDepth: Int = 1) {
        var template = Array("/tmp/postern-queue-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        for queue in ["maildrop", "incoming", "active", "deferred", "hold", "corrupt", "defer", "bounce"] {
            mkdir(path + "/" + queue, 0o700)
        }
        directory = QueueDirectory(path: path, hashDepth: hashDepth, longQueueIDs: longQueueIDs)
    }

    func remove() { Self.removeTree(path) }

    static func removeTree(_ path: String) {
        if FileIO.isDirectory(path) {
            for name in FileIO.list(path) { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// A small deterministic generator (xorshift) so that fuzz cases repeat.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}

/// Message content collected in memory, for cleanup tests.
final class ContentBuffer: MessageContentSink {
    var bytes: [UInt8] = []
    var text: String { String(decoding: bytes, as: UTF8.self) }
    func appendContent(_ content: UnsafeRawBufferPointer, newline: Bool) throws {
        bytes.append(contentsOf: content)
        if newline { bytes.append(10) }
    }
}
