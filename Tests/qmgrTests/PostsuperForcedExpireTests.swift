// qmgr's side of `postsuper -e/-f`: a queue file with the forced-expire bit is not
// delivered but returned to its sender at once, with the reason from its defer log
// (or "message is administratively expired" when it has none), and then removed; the
// notification arrives when it is written, so it does not expire in turn.
import Foundation
import XCTest

@testable import Shared
@testable import qmgr

final class PostsuperForcedExpireTests: XCTestCase {
    var root = ""
    var manager: QueueManager!

    override func setUpWithError() throws {
        var template = Array("/tmp/postern-qmgr-test-XXXXXX".utf8CString)
        root = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        for queue in ["incoming", "active", "deferred", "hold", "corrupt", "defer", "bounce"] { mkdir(root + "/" + queue, 0o700) }
        let config = MainConfig(directory: root)
        config.setOverride("queue_directory", root)
        config.setOverride("myhostname", "mx.example.test")
        manager = try QueueManager(config: config, master: MasterConfig.parse("", path: "master.cf", defaultProcessLimit: 100),
                                   loop: EventLoop())
    }

    override func tearDown() {
        manager = nil
        try? FileManager.default.removeItem(atPath: root)
        super.tearDown()
    }

    /// A message from s@example.org to r@example.net in deferred/, marked for forced expiry
    /// when FORCED.
    func deferredMessage(reason: String?, forced: Bool = true) throws -> String {
        let queue = manager.queue
        let writer = try QueueFileWriter(directory: queue)
        writer.envelope.sender = "s@example.org"
        writer.addRecipient(QueueRecipient(address: "r@example.net"))
        try writer.appendContent(Array("Subject: expire me\n\nbody\n".utf8))
        try writer.commit()
        let id = writer.queueID
        try queue.move(id, from: QueueDirectory.incoming, to: QueueDirectory.deferred)
        if let reason {
            let offset = try QueueFile.read(path: queue.path(queue: QueueDirectory.deferred, queueID: id)).recipients[0].statusOffset
            try DeferLog.append([DeliveryStatus(recipient: "r@example.net", offset: offset, status: "4.4.1", action: "delayed", reason: reason)],
                               queueID: id, logQueue: QueueDirectory.deferLog, directory: queue)
        }
        if forced { try queue.setForcedExpire(id, queue: QueueDirectory.deferred) }
        return id
    }

    /// The one notification qmgr wrote to incoming/: its envelope and content.
    func notification() throws -> (QueueFile, String) {
        let ids = manager.queue.list(QueueDirectory.incoming)
        XCTAssertEqual(ids.count, 1)
        let path = manager.queue.path(queue: QueueDirectory.incoming, queueID: ids.first ?? "")
        let file = try QueueFile.read(path: path)
        let bytes = try FileIO.readBytes(path)
        return (file, String(decoding: bytes[file.contentOffset..<(file.contentOffset + file.contentLength)], as: UTF8.self))
    }

    func testForcedExpiryReturnsTheMessageWithItsDelayReason() throws {
        let id = try deferredMessage(reason: "connect to mx.example.net[192.0.2.1]:25: Connection refused")
        manager.activate(id, from: QueueDirectory.deferred)
        XCTAssertTrue(manager.queue.queues(holding: id, among: QueueLayout.messageQueues).isEmpty, "the message is gone")
        XCTAssertFalse(FileIO.exists(manager.queue.path(queue: QueueDirectory.deferLog, queueID: id)), "and its defer log")
        let (file, content) = try notification()
        XCTAssertEqual(file.envelope.sender, "")
        XCTAssertEqual(file.recipients.map(\.address), ["s@example.org"])
        XCTAssertTrue(content.contains("<r@example.net>: connect to mx.example.net[192.0.2.1]:25: Connection refused"), content)
        XCTAssertTrue(content.contains("Subject: expire me"), content)
        XCTAssertLessThan(abs(file.envelope.arrivalSeconds - Clock.now().seconds), 60, "a notification arrives now")
    }

    func testWithoutDelayReasonTheMessageIsAdministrativelyExpired() throws {
        let id = try deferredMessage(reason: nil)
        manager.activate(id, from: QueueDirectory.deferred)
        let (_, content) = try notification()
        XCTAssertTrue(content.contains("<r@example.net>: message is administratively expired"), content)
    }

    func testUnmarkedMessageIsNotExpired() throws {
        let id = try deferredMessage(reason: "refused", forced: false)
        XCTAssertFalse(manager.queue.isForcedExpire(id, queue: QueueDirectory.deferred))
        manager.activate(id, from: QueueDirectory.deferred)
        manager.dispatch()
        XCTAssertTrue(manager.queue.list(QueueDirectory.incoming).isEmpty, "no notification")
        XCTAssertEqual(manager.queue.queues(holding: id, among: QueueLayout.messageQueues), [QueueDirectory.deferred],
                       "deferred again: the transport is unavailable")
    }
}
