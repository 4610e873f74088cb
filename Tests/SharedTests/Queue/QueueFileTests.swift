// The queue file: golden bytes of a small file, write → commit → read round trips, every
// truncation reported as incomplete, damaged files as corrupt, random damage never
// trapping, recipients marked done in place, large content streamed, disk errors thrown.
import Glibc
import XCTest

@testable import Shared

final class QueueFileTests: XCTestCase {
    var queue: TemporaryQueue!

    override func setUp() { queue = TemporaryQueue() }
    override func tearDown() { queue.remove() }

    static let golden = """
        Q15:postern-queue 1
        T17:1795606912.012345
        S18:sender@example.org
        A30:client_name=client.example.org
        A24:client_address=192.0.2.1
        A28:helo_name=client.example.org
        A19:protocol_name=ESMTP
        O13:A@example.net
        D20:rfc822;A@example.net
        N1:6
        R14:Pa@example.net
        R14:Pb@example.net
        M000000000019:Subject: hi

        hello

        E0:

        """

    /// Writes the golden file's message and commits it.
    func writeGoldenMessage() throws -> QueueFileWriter {
        let writer = try QueueFileWriter(directory: queue.directory)
        writer.envelope.arrivalSeconds = 1_795_606_912
        writer.envelope.arrivalMicros = 12345
        writer.envelope.sender = "sender@example.org"
        writer.envelope.clientName = "client.example.org"
        writer.envelope.clientAddress = "192.0.2.1"
        writer.envelope.heloName = "client.example.org"
        writer.envelope.protocolName = "ESMTP"
        writer.addRecipient(QueueRecipient(address: "a@example.net", originalRecipient: "A@example.net",
                                           dsnOriginalRecipient: "rfc822;A@example.net", dsnNotify: [.success, .failure]))
        writer.addRecipient(QueueRecipient(address: "b@example.net"))
        for line in ["Subject: hi", "", "hello"] { try writer.appendContent(Array(line.utf8), newline: true) }
        try writer.commit()
        return writer
    }

    func testGoldenBytes() throws {
        let writer = try writeGoldenMessage()
        let bytes = try FileIO.readBytes(queue.path + "/incoming/" + writer.queueID)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), Self.golden)
    }

    func testRoundTrip() throws {
        let writer = try writeGoldenMessage()
        let file = try QueueFile.read(path: queue.path + "/incoming/" + writer.queueID)
        XCTAssertEqual(file.envelope.arrivalSeconds, 1_795_606_912)
        XCTAssertEqual(file.envelope.arrivalMicros, 12345)
        XCTAssertEqual(file.envelope.sender, "sender@example.org")
        XCTAssertEqual(file.envelope.clientName, "client.example.org")
        XCTAssertEqual(file.envelope.protocolName, "ESMTP")
        XCTAssertNil(file.envelope.saslUsername)
        XCTAssertEqual(file.envelope.attributes.map(\.name), ["client_name", "client_address", "helo_name", "protocol_name"])
        XCTAssertEqual(file.recipients.map(\.address), ["a@example.net", "b@example.net"])
        XCTAssertEqual(file.recipients[0].originalRecipient, "A@example.net")
        XCTAssertEqual(file.recipients[0].dsnOriginalRecipient, "rfc822;A@example.net")
        XCTAssertEqual(file.recipients[0].dsnNotify, [.success, .failure])
        XCTAssertEqual(file.recipients[1].dsnNotify, [])
        XCTAssertEqual(file.pendingRecipients.count, 2)
        XCTAssertEqual(file.contentLength, 19)
        let bytes = Array(Self.golden.utf8)
        XCTAssertEqual(String(decoding: bytes[file.contentOffset..<(file.contentOffset + file.contentLength)], as: UTF8.self),
                       "Subject: hi\n\nhello\n")
        XCTAssertEqual(bytes[file.recipients[1].statusOffset], UInt8(ascii: "P"))
        XCTAssertEqual(try QueueFile.parse(bytes), file)
    }

    /// delay_warning_time: the due time is a fixed-width record after the sender, and
    /// clearing it after the warning rewrites only its digits.
    func testWarningRecordIsClearedInPlace() throws {
        let writer = try QueueFileWriter(directory: queue.directory)
        writer.envelope.sender = "s@example.org"
        writer.envelope.warningTime = 1_795_610_512
        writer.envelope.clientName = "c.example.org"
        writer.addRecipient(QueueRecipient(address: "r@example.net"))
        try writer.commit()
        let text = String(decoding: try FileIO.readBytes(writer.path), as: UTF8.self)
        XCTAssertTrue(text.contains("S13:s@example.org\nW12:001795610512\nA"), text)
        let file = try QueueFile.read(path: writer.path)
        XCTAssertEqual(file.envelope.warningTime, 1_795_610_512)
        try file.clearWarning(path: writer.path)
        let cleared = try QueueFile.read(path: writer.path)
        XCTAssertEqual(cleared.envelope.warningTime, 0)
        XCTAssertEqual(cleared.recipients, file.recipients)
        XCTAssertThrowsError(try QueueFile.parse(Array(text.replacingOccurrences(of: "W12:001795610512", with: "W12:00179561051x").utf8)))
    }

    func testCommitMakesTheFileCompleteUnderItsID() throws {
        let writer = try QueueFileWriter(directory: queue.directory)
        XCTAssertTrue(QueueID.isShort(writer.queueID))
        var st = stat()
        // Until commit the file has no name at all (O_TMPFILE): a crash leaves nothing.
        XCTAssertTrue(QueueFileWriter.unnamedFilesWork)
        XCTAssertEqual(FileIO.list(queue.path + "/incoming"), [])
        XCTAssertEqual(fstat(writer.descriptor, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        XCTAssertEqual(QueueID.inode(of: writer.queueID), UInt64(st.st_ino))
        writer.addRecipient(QueueRecipient(address: "x@example.com"))
        try writer.commit()
        XCTAssertEqual(stat(queue.path + "/incoming/" + writer.queueID, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o700)
        XCTAssertEqual(queue.directory.list("incoming"), [writer.queueID])
        let file = try QueueFile.read(path: writer.path)
        XCTAssertEqual(file.envelope.sender, "")
        XCTAssertEqual(file.envelope.arrivalSeconds, writer.creationTime.seconds)
        XCTAssertEqual(file.contentLength, 0)
    }

    func testAbortRemovesTheFile() throws {
        let writer = try QueueFileWriter(directory: queue.directory)
        try writer.appendContent(Array("Subject: x".utf8), newline: true)
        let path = writer.path
        writer.abort()
        writer.abort()
        XCTAssertFalse(FileIO.exists(path))
        var dropped: QueueFileWriter? = try QueueFileWriter(directory: queue.directory)
        let droppedPath = dropped!.path
        dropped = nil
        XCTAssertFalse(FileIO.exists(droppedPath))
        XCTAssertEqual(FileIO.list(queue.path + "/incoming"), [])
    }

    func testEveryTruncationIsIncomplete() throws {
        let bytes = Array(Self.golden.utf8)
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try QueueFile.parse(Array(bytes[0..<length])), "length \(length)") { error in
                guard case QueueFileError.incomplete = error else { return XCTFail("length \(length): \(error)") }
            }
        }
    }

    func testDamageIsCorrupt() {
        let golden = Self.golden
        let cases: [(String, String)] = [
            ("not a queue file", "X15:postern-queue 1\n"),
            ("version", golden.replacingFirst("postern-queue 1", with: "postern-queue 2")),
            ("length digit", golden.replacingFirst("S18:", with: "S1x:")),
            ("length too long", golden.replacingFirst("S18:", with: "S0000000000018:")),
            ("record end", golden.replacingFirst("S18:sender@example.org\n", with: "S18:sender@example.orgX")),
            ("status byte", golden.replacingFirst("R14:Pb", with: "R14:Xb")),
            ("unknown record", golden.replacingFirst("N1:6", with: "W1:6")),
            ("notify value", golden.replacingFirst("N1:6", with: "N1:x")),
            ("dangling recipient details", golden.replacingFirst("R14:Pb@example.net\n", with: "O1:x\n")),
            ("attribute after recipients", golden.replacingFirst("M000", with: "A3:a=b\nM000")),
            ("attribute without name", golden.replacingFirst("A19:protocol_name=ESMTP", with: "A6:=ESMTP")),
            ("arrival time", golden.replacingFirst("T17:1795606912.012345", with: "T17:1795606912,012345")),
            ("missing sender", golden.replacingFirst("S18:sender@example.org\n", with: "")),
            ("data after end", golden + "x"),
            ("end marker with data", golden.replacingFirst("E0:\n", with: "E1:x\n")),
            ("content length", golden.replacingFirst("M000000000019", with: "M000000000018")),
        ]
        for (name, text) in cases {
            XCTAssertThrowsError(try QueueFile.parse(Array(text.utf8)), name) { error in
                guard case QueueFileError.corrupt = error else { return XCTFail("\(name): \(error)") }
            }
        }
    }

    func testRandomDamageNeverTraps() {
        var random = SeededGenerator(seed: 42)
        let golden = Array(Self.golden.utf8)
        var parsed = 0
        for _ in 0..<5000 {
            var bytes = golden
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes.remove(at: at)
                default: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
                }
            }
            if let file = try? QueueFile.parse(bytes) {
                parsed += 1
                XCTAssertLessThanOrEqual(file.contentOffset + file.contentLength, bytes.count)
            }
        }
        for _ in 0..<2000 {
            let garbage = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            XCTAssertThrowsError(try QueueFile.parse(garbage))
        }
        XCTAssertGreaterThan(parsed, 0)
        XCTAssertLessThan(parsed, 5000)
    }

    func testMarkDoneInPlaceSurvivesReread() throws {
        let writer = try writeGoldenMessage()
        let path = writer.path
        let before = try FileIO.readBytes(path)
        let file = try QueueFile.read(path: path)
        try QueueFile.markDone(path: path, statusOffsets: [file.recipients[1].statusOffset])
        let after = try QueueFile.read(path: path)
        XCTAssertEqual(after.recipients.map(\.isDone), [false, true])
        XCTAssertEqual(after.pendingRecipients.map(\.address), ["a@example.net"])
        let bytes = try FileIO.readBytes(path)
        XCTAssertEqual(bytes.count, before.count)
        XCTAssertEqual(zip(before, bytes).filter { $0 != $1 }.count, 1)
        try QueueFile.markDone(path: path, statusOffsets: [file.recipients[1].statusOffset, file.recipients[0].statusOffset])
        XCTAssertEqual(try QueueFile.read(path: path).pendingRecipients, [])
        XCTAssertThrowsError(try QueueFile.markDone(path: path, statusOffsets: [file.contentOffset])) { error in
            guard case QueueFileError.corrupt = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try FileIO.readBytes(path).count, before.count)
    }

    func testLargeContentStreamsWithRecipientsAfterIt() throws {
        let writer = try QueueFileWriter(directory: queue.directory)
        writer.envelope.sender = "big@example.org"
        writer.addRecipient(QueueRecipient(address: "first@example.net"))
        var expected: [UInt8] = []
        var line = Array(repeating: UInt8(ascii: "x"), count: 997)
        for i in 0..<1000 {
            line[0] = UInt8(ascii: "0") + UInt8(i % 10)
            try writer.appendContent(line, newline: true)
            expected += line + [10]
        }
        let chunk = [UInt8](repeating: UInt8(ascii: "y"), count: 300_000)
        try writer.appendContent(chunk, newline: false)
        expected += chunk
        writer.addRecipient(QueueRecipient(address: "extracted@example.net", dsnNotify: .never))
        XCTAssertEqual(writer.contentLength, expected.count)
        XCTAssertEqual(writer.recipientCount, 2)
        try writer.commit()
        let fd = open(writer.path, O_RDONLY)
        defer { close(fd) }
        let file = try QueueFile.read(descriptor: fd)
        XCTAssertEqual(file.contentLength, expected.count)
        XCTAssertEqual(file.recipients.map(\.address), ["first@example.net", "extracted@example.net"])
        XCTAssertEqual(file.recipients[1].dsnNotify, .never)
        XCTAssertGreaterThan(file.recipients[1].statusOffset, file.contentOffset + file.contentLength)
        var content: [UInt8] = []
        var chunks = 0
        try file.readContent(descriptor: fd, chunkSize: 65536) { content.append(contentsOf: $0); chunks += 1 }
        XCTAssertEqual(content, expected)
        XCTAssertEqual(chunks, (expected.count + 65535) / 65536)
        let writable = open(writer.path, O_RDWR)
        try QueueFile.markDone(descriptor: writable, statusOffsets: [file.recipients[1].statusOffset], sync: false)
        close(writable)
        XCTAssertEqual(try QueueFile.read(descriptor: fd).pendingRecipients.map(\.address), ["first@example.net"])
    }

    func testChunksLargerThanTheBufferAndOverlongValues() throws {
        let writer = try QueueFileWriter(directory: queue.directory)
        writer.envelope.heloName = String(repeating: "h", count: 2 << 20)
        let big = [UInt8](repeating: UInt8(ascii: "z"), count: QueueFileWriter.flushThreshold + 1)
        try writer.appendContent(big, newline: true)
        try writer.appendContent(Array("tail".utf8), newline: true)
        try writer.appendContent(big, newline: false)
        try writer.commit()
        let fd = open(writer.path, O_RDONLY)
        defer { close(fd) }
        let file = try QueueFile.read(descriptor: fd)
        XCTAssertEqual(file.envelope.heloName?.utf8.count, QueueRecord.maxRecordLength - "helo_name=".utf8.count)
        var content: [UInt8] = []
        try file.readContent(descriptor: fd) { content.append(contentsOf: $0) }
        XCTAssertEqual(content, big + [10] + Array("tail\n".utf8) + big)
        XCTAssertEqual(file.contentLength, writer.contentLength)
    }

    func testWriteErrorsAreThrownAndLeaveNothing() throws {
        let writer = try QueueFileWriter(directory: queue.directory)
        let temporary = writer.path
        close(writer.descriptor)
        writer.descriptor = open("/dev/full", O_WRONLY)
        XCTAssertGreaterThanOrEqual(writer.descriptor, 0)
        XCTAssertThrowsError(try writer.appendContent([UInt8](repeating: 65, count: 200_000), newline: true)) { error in
            XCTAssertEqual((error as? SystemError)?.code, ENOSPC)
        }
        XCTAssertThrowsError(try writer.commit()) { error in
            XCTAssertEqual((error as? SystemError)?.code, ENOSPC)
        }
        XCTAssertFalse(FileIO.exists(temporary))
        XCTAssertEqual(FileIO.list(queue.path + "/incoming"), [])
    }

    func testLongQueueIDs() throws {
        let longQueue = TemporaryQueue(longQueueIDs: true)
        defer { longQueue.remove() }
        let writer = try QueueFileWriter(directory: longQueue.directory)
        XCTAssertTrue(QueueID.isLong(writer.queueID))
        XCTAssertEqual(QueueID.microseconds(of: writer.queueID), writer.creationTime.micros)
        try writer.commit()
        XCTAssertEqual(longQueue.directory.list("incoming"), [writer.queueID])
    }

    func testEnvelopeAttributes() {
        var envelope = QueueEnvelope(sender: "s@example.org")
        envelope.saslUsername = "alice"
        envelope.smtputf8 = true
        envelope["x_custom"] = "1"
        envelope.saslUsername = "bob"
        XCTAssertEqual(envelope.attributes.map(\.name), ["sasl_username", "smtputf8", "x_custom"])
        XCTAssertEqual(envelope.saslUsername, "bob")
        XCTAssertTrue(envelope.smtputf8)
        envelope.smtputf8 = false
        envelope["x_custom"] = nil
        XCTAssertEqual(envelope.attributes, [QueueEnvelope.Attribute(name: "sasl_username", value: "bob")])
    }

    func testDSNNotifyValues() {
        XCTAssertEqual(DSNNotify(esmtpValue: "SUCCESS,delay"), [.success, .delay])
        XCTAssertEqual(DSNNotify(esmtpValue: "NEVER"), .never)
        XCTAssertNil(DSNNotify(esmtpValue: "NEVER,SUCCESS"))
        XCTAssertNil(DSNNotify(esmtpValue: "SUCCESS,,DELAY"))
        XCTAssertNil(DSNNotify(esmtpValue: "sometimes"))
        XCTAssertEqual(DSNNotify([.failure, .success, .delay]).esmtpValue, "SUCCESS,FAILURE,DELAY")
        XCTAssertEqual(DSNNotify([.success, .failure]).rawValue, 6)
    }
}

extension String {
    /// The string with the first occurrence of TARGET replaced (it must occur).
    func replacingFirst(_ target: String, with replacement: String) -> String {
        let bytes = Array(utf8), t = Array(target.utf8)
        guard let at = (0...(bytes.count - t.count)).first(where: { Array(bytes[$0..<($0 + t.count)]) == t }) else {
            XCTFail("\(target) not found")
            return self
        }
        return String(decoding: bytes[..<at] + Array(replacement.utf8) + bytes[(at + t.count)...], as: UTF8.self)
    }
}
