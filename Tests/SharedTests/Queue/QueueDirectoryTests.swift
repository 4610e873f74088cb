// The queue directory helper: paths with hashed subdirectories, moves between queues,
// scans that see hashed subdirectories and skip temporary files, back-off times.
import Glibc
import XCTest

@testable import Shared

final class QueueDirectoryTests: XCTestCase {
    var queue: TemporaryQueue!

    override func setUp() { queue = TemporaryQueue() }
    override func tearDown() { queue.remove() }

    func committedMessage() throws -> String {
        let writer = try QueueFileWriter(directory: queue.directory)
        writer.addRecipient(QueueRecipient(address: "r@example.com"))
        try writer.commit()
        return writer.queueID
    }

    func testPaths() {
        let d = QueueDirectory(path: "/q", hashDepth: 2)
        XCTAssertEqual(d.path(queue: "deferred", queueID: "6737EF7C71D"), "/q/deferred/6/7/6737EF7C71D")
        XCTAssertEqual(d.path(queue: "defer", queueID: "6737EF7C71D"), "/q/defer/6/7/6737EF7C71D")
        XCTAssertEqual(d.path(queue: "incoming", queueID: "6737EF7C71D"), "/q/incoming/6737EF7C71D")
        XCTAssertEqual(QueueDirectory(path: "/q", hashedQueues: [], hashDepth: 1).path(queue: "deferred", queueID: "6737EF7C71D"),
                       "/q/deferred/6737EF7C71D")
    }

    func testConfigSettings() throws {
        let config = MainConfig(directory: "/nonexistent")
        try config.override("queue_directory=/var/spool/test")
        try config.override("hash_queue_names=deferred, defer, hold")
        try config.override("hash_queue_depth=2")
        try config.override("enable_long_queue_ids=yes")
        let d = QueueDirectory(config: config)
        XCTAssertEqual(d.path, "/var/spool/test")
        XCTAssertEqual(d.hashedQueues, ["deferred", "defer", "hold"])
        XCTAssertEqual(d.hashDepth, 2)
        XCTAssertTrue(d.longQueueIDs)
    }

    func testMoveScanAndRemove() throws {
        let first = try committedMessage()
        let second = try committedMessage()
        let pending = try QueueFileWriter(directory: queue.directory)
        XCTAssertEqual(Set(queue.directory.list("incoming")), [first, second])
        try queue.directory.move(first, from: "incoming", to: "active")
        try queue.directory.move(first, from: "active", to: "deferred")
        XCTAssertTrue(FileIO.exists(queue.directory.path(queue: "deferred", queueID: first)))
        XCTAssertTrue(FileIO.isDirectory(queue.path + "/deferred/" + String(first.prefix(1))))
        XCTAssertEqual(queue.directory.list("deferred"), [first])
        XCTAssertEqual(queue.directory.list("incoming"), [second])
        XCTAssertThrowsError(try queue.directory.move(first, from: "incoming", to: "hold")) { error in
            XCTAssertEqual((error as? SystemError)?.code, ENOENT)
        }
        try queue.directory.remove(first, queue: "deferred")
        try queue.directory.remove(first, queue: "deferred")
        XCTAssertEqual(queue.directory.list("deferred"), [])
        pending.abort()
    }

    func testSetTimeForBackoff() throws {
        let id = try committedMessage()
        try queue.directory.move(id, from: "incoming", to: "deferred")
        try queue.directory.setTime(id, queue: "deferred", seconds: 1_795_607_212)
        var st = stat()
        XCTAssertEqual(stat(queue.directory.path(queue: "deferred", queueID: id), &st), 0)
        XCTAssertEqual(st.st_mtim.tv_sec, 1_795_607_212)
        XCTAssertEqual(st.st_atim.tv_sec, 1_795_607_212)
        XCTAssertThrowsError(try queue.directory.setTime(id, queue: "hold", seconds: 0))
    }
}
