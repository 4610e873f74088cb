// The queue listing behind postqueue -p/-j and showq: golden texts of Postfix's `mailq`
// table (short and long queue IDs, status marks, reason lines, trailers, the empty
// queue) and JSON lines, the showq wire form, and the scan of a real queue directory
// with defer logs, done recipients, the forced-expire bit and a damaged file.
import Glibc
import XCTest

@testable import Shared

final class PostqueueListingTests: XCTestCase {
    /// Wed Nov 25 11:41:52 2026 UTC, the arrival time of reference §5.5's example.
    let arrival = 1_795_606_912
    let refused = "connect to 127.0.0.1[127.0.0.1]:42599: Connection refused"

    override func setUp() {
        super.setUp()
        setenv("TZ", "UTC", 1)
        tzset()
    }

    /// TZ must not leak into later tests (spawn's export_environment passes it on).
    override func tearDown() {
        unsetenv("TZ")
        tzset()
        super.tearDown()
    }

    func entry(_ queue: String, _ id: String, size: Int, sender: String, forced: Bool = false,
               _ recipients: [(String, String?)]) -> QueueListingEntry {
        QueueListingEntry(queueName: queue, queueID: id, arrivalTime: arrival, messageSize: size, forcedExpire: forced,
                          sender: sender, recipients: recipients.map { .init(address: $0.0, delayReason: $0.1) })
    }

    func table(_ entries: [QueueListingEntry], long: Bool = false) -> String {
        var table = QueueListingTable(longQueueIDs: long)
        return entries.map { table.format($0) }.joined() + table.trailer
    }

    /// Reference §5.5, observed from Postfix 3.7: same bytes.
    func testShortLayoutAsPostfixPrintsIt() {
        let text = table([
            entry("deferred", "6737EF7C71D", size: 400, sender: "sender@example.org",
                  [("a@remote.example.net", refused), ("b@remote.example.net", refused)]),
            entry("hold", "72799F7C722", size: 416, sender: "", [("c@remote.example.net", refused)]),
        ])
        XCTAssertEqual(text, """
            -Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
            6737EF7C71D     400 Wed Nov 25 11:41:52  sender@example.org
                               (connect to 127.0.0.1[127.0.0.1]:42599: Connection refused)
                                                     a@remote.example.net
                                                     b@remote.example.net

            72799F7C722!     416 Wed Nov 25 11:41:52  MAILER-DAEMON
                               (connect to 127.0.0.1[127.0.0.1]:42599: Connection refused)
                                                     c@remote.example.net

            -- 0 Kbytes in 2 Requests.

            """)
    }

    func testStatusMarksReasonChangesAndOneRequest() {
        let text = table([
            entry("active", "ABCDE12", size: 2048, sender: "a@example.org", [("x@example.net", nil)]),
            entry("deferred", "BCDEF1234", size: 1000, sender: "b@example.org", forced: true,
                  [("p@example.net", "temporary failure"), ("q@example.net", "temporary failure"),
                   ("r@example.net", "mail transport unavailable"), ("s@example.net", nil)]),
        ])
        XCTAssertEqual(text, """
            -Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
            ABCDE12*       2048 Wed Nov 25 11:41:52  a@example.org
                                                     x@example.net

            BCDEF1234#     1000 Wed Nov 25 11:41:52  b@example.org
                                                                       (temporary failure)
                                                     p@example.net
                                                     q@example.net
                                                              (mail transport unavailable)
                                                     r@example.net
                                                                      (reason unavailable)
                                                     s@example.net

            -- 2 Kbytes in 2 Requests.

            """)
        XCTAssertEqual(table([entry("incoming", "ABCDE12", size: 5, sender: "a@example.org", [("x@example.net", nil)])])
            .split(separator: "\n").last, "-- 0 Kbytes in 1 Request.")
    }

    func testEmptyQueue() {
        XCTAssertEqual(table([]), "Mail queue is empty\n")
        XCTAssertEqual(table([], long: true), "Mail queue is empty\n")
    }

    func testReasonLongerThanTheLineIsNotPadded() {
        let reason = String(repeating: "x", count: 90)
        let text = table([entry("deferred", "ABCDE12", size: 1, sender: "a@example.org", [("x@example.net", reason)])])
        XCTAssertTrue(text.contains("\n(" + reason + ")\n"), text)
    }

    func testLongQueueIDLayout() {
        let text = table([
            entry("deferred", "4jZHpT4Lvxz2NP9J", size: 400, sender: "sender@example.org", [("a@remote.example.net", refused)]),
            entry("hold", "4jZHpT4LvXz2NP9K", size: 12_345_678, sender: "s@example.org", [("b@remote.example.net", nil)]),
        ], long: true)
        XCTAssertEqual(text, """
            ----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------
            4jZHpT4Lvxz2NP9J       400 Wed Nov 25 11:41:52 sender@example.org
                               (connect to 127.0.0.1[127.0.0.1]:42599: Connection refused)
                                                           a@remote.example.net

            4jZHpT4LvXz2NP9K! 12345678 Wed Nov 25 11:41:52 s@example.org
                                                           b@remote.example.net

            -- 12056 Kbytes in 2 Requests.

            """)
    }

    /// Reference §5.6: key order, spacing, numbers and booleans unquoted, no delay_reason
    /// without a reason.
    func testJSONLinesAsPostfixPrintsThem() {
        let deferred = entry("deferred", "6737EF7C71D", size: 400, sender: "sender@example.org",
                             [("a@remote.example.net", refused), ("b@remote.example.net", nil)])
        XCTAssertEqual(QueueListingJSON.line(deferred), """
            {"queue_name": "deferred", "queue_id": "6737EF7C71D", "arrival_time": 1795606912, "message_size": 400, \
            "forced_expire": false, "sender": "sender@example.org", "recipients": [{"address": "a@remote.example.net", \
            "delay_reason": "connect to 127.0.0.1[127.0.0.1]:42599: Connection refused"}, {"address": "b@remote.example.net"}]}

            """)
        let odd = entry("hold", "ABCDE12", size: 1, sender: "", forced: true, [("\"q\\x\"@example.net", "tab\there\u{1}")])
        XCTAssertEqual(QueueListingJSON.line(odd), """
            {"queue_name": "hold", "queue_id": "ABCDE12", "arrival_time": 1795606912, "message_size": 1, \
            "forced_expire": true, "sender": "", "recipients": [{"address": "\\"q\\\\x\\"@example.net", \
            "delay_reason": "tab\\there\\u0001"}]}

            """)
    }

    func testWireFormRoundTrip() throws {
        let original = entry("deferred", "6737EF7C71D", size: 400, sender: "", forced: true,
                             [("a@remote.example.net", "reason with = and +\nnewline"), ("b@x", nil), ("c@x", "r")])
        let wire = QueueListing.attributes(original).encoded(xtext: true)
        let lines = wire.utf8.split(separator: 10).map(Array.init)
        let decoded = try XCTUnwrap(AttributeList.decode(lines: lines, xtext: true))
        XCTAssertEqual(QueueListing.entry(decoded), original)
        XCTAssertNil(QueueListing.entry(AttributeList([("queue_name", "deferred"), ("queue_id", "X")])))
        XCTAssertNil(QueueListing.entry(AttributeList([
            ("queue_name", "deferred"), ("queue_id", "X"), ("arrival_time", "soon"), ("message_size", "1"), ("sender", ""),
        ])))
    }

    /// A real queue: showq's order, pending recipients only, reasons from the defer log by
    /// status offset, the forced-expire bit; a damaged file and a temporary file are left out.
    func testScanOfAQueueDirectory() throws {
        let temporary = TemporaryQueue()
        defer { temporary.remove() }
        let queue = temporary.directory
        func write(_ queueName: String, sender: String, recipients: [String], done: Set<String> = []) throws -> QueueFile {
            let writer = try QueueFileWriter(directory: queue)
            writer.envelope.sender = sender
            for r in recipients { writer.addRecipient(QueueRecipient(address: r, isDone: done.contains(r))) }
            try writer.appendContent(Array("Subject: t\n\nbody\n".utf8))
            try writer.commit()
            if queueName != QueueDirectory.incoming { try queue.move(writer.queueID, from: QueueDirectory.incoming, to: queueName) }
            return try QueueFile.read(path: queue.path(queue: queueName, queueID: writer.queueID))
        }
        let held = try write(QueueDirectory.hold, sender: "h@example.org", recipients: ["h1@x"])
        let deferred = try write(QueueDirectory.deferred, sender: "d@example.org", recipients: ["d1@x", "d2@x", "d3@x"], done: ["d2@x"])
        let active = try write(QueueDirectory.active, sender: "", recipients: ["a1@x"])
        let ids = queue.list(QueueDirectory.deferred) + queue.list(QueueDirectory.hold) + queue.list(QueueDirectory.active)
        XCTAssertEqual(ids.count, 3)
        let deferredID = queue.list(QueueDirectory.deferred)[0]
        try DeferLog.append([
            DeliveryStatus(recipient: "d1@x", offset: deferred.recipients[0].statusOffset, status: "4.4.1", action: "delayed", reason: "old"),
            DeliveryStatus(recipient: "d1@x", offset: deferred.recipients[0].statusOffset, status: "4.4.1", action: "delayed", reason: "newer"),
            DeliveryStatus(recipient: "d3@x", status: "4.3.0", action: "delayed", reason: "by address"),
        ], queueID: deferredID, logQueue: QueueDirectory.deferLog, directory: queue)
        try queue.setForcedExpire(deferredID, queue: QueueDirectory.deferred)
        XCTAssertFalse(try queue.setForcedExpire(deferredID, queue: QueueDirectory.deferred), "already marked")
        try FileIO.writeAtomically(queue.path + "/incoming/ABCDEF1", Array("Q15:postern-queue 1\nT3:bad\n".utf8))
        try FileIO.writeAtomically(queue.path + "/incoming/12345.678", [])

        var listed: [QueueListingEntry] = []
        QueueListing.scan(queue) { listed.append($0) }
        XCTAssertEqual(listed.map(\.queueName), ["active", "deferred", "hold"])
        XCTAssertEqual(listed[0].sender, "")
        XCTAssertEqual(listed[0].recipients, [.init(address: "a1@x")])
        XCTAssertEqual(listed[0].messageSize, active.contentLength)
        XCTAssertEqual(listed[1].queueID, deferredID)
        XCTAssertTrue(listed[1].forcedExpire)
        XCTAssertEqual(listed[1].recipients, [.init(address: "d1@x", delayReason: "newer"), .init(address: "d3@x", delayReason: "by address")])
        XCTAssertFalse(listed[2].forcedExpire)
        XCTAssertEqual(listed[2].arrivalTime, held.envelope.arrivalSeconds)
    }
}
