// In-process cleanup, table-driven: lines in, content out. Received: first, dropped
// headers, `Name :` normalised, folding kept, header_size_limit, a first non-header line
// starting the body, missing headers (and Resent- forms) for clients that may have them,
// Message-Id reporting, hop and size limits, lines fed in pieces, writing to a real
// queue file, and PREPEND headers above the Received: header.
import Glibc
import XCTest

@testable import Shared

final class CleanupTests: XCTestCase {
    static let received = "Received: from c.example (c.example [192.0.2.1])\n"
        + "\tby mx.example.test (Postern) with ESMTP id E173FF7C139;\n"
        + "\tWed, 25 Nov 2026 11:40:43 +0000 (UTC)"
    static let messageID = "<20261125114043.E173FF7C139@mx.example.test>"
    static let added = "Message-Id: \(messageID)\nDate: Wed, 25 Nov 2026 11:40:43 +0000 (UTC)\nFrom: sender@example.org\n"

    static func message(sender: String = "sender@example.org", fullName: String? = nil, addMissing: Bool = true,
                        prepended: [String] = []) -> CleanupMessage {
        CleanupMessage(queueID: "E173FF7C139", queueFileTime: 1_795_606_843, arrivalTime: 1_795_606_843, sender: sender,
                       fullName: fullName, addMissingHeaders: addMissing, receivedHeader: received, prependedHeaders: prepended)
    }

    static let settings = CleanupSettings(myhostname: "mx.example.test")

    struct Case {
        let name: String
        var settings = CleanupTests.settings
        var message = CleanupTests.message()
        let input: [String]
        let output: String
        var messageID: String?
        var resentMessageID: String?
    }

    static let r = received + "\n"

    static let cases: [Case] = [
        Case(name: "complete headers are kept",
             input: ["From: a@example.org", "To: b@example.net", "Date: Tue, 24 Nov 2026 10:00:00 +0000",
                     "Message-ID: <m1@example.org>", "Subject: s", "", "body", "", ".dot stays"],
             output: r + "From: a@example.org\nTo: b@example.net\nDate: Tue, 24 Nov 2026 10:00:00 +0000\n"
                 + "Message-ID: <m1@example.org>\nSubject: s\n\nbody\n\n.dot stays\n",
             messageID: "<m1@example.org>"),
        Case(name: "missing headers are added at the end of the headers",
             input: ["Subject: s", "", "body"],
             output: r + "Subject: s\n" + added + "\nbody\n", messageID: messageID),
        Case(name: "no headers are added for other clients",
             message: message(addMissing: false), input: ["Subject: s", "", "body"],
             output: r + "Subject: s\n\nbody\n"),
        Case(name: "always_add_missing_headers",
             settings: CleanupSettings(myhostname: "mx.example.test", alwaysAddMissingHeaders: true),
             message: message(addMissing: false), input: ["Subject: s", ""],
             output: r + "Subject: s\n" + added + "\n", messageID: messageID),
        Case(name: "message_drop_headers, with their continuation lines",
             message: message(addMissing: false),
             input: ["BCC: hidden@example.net,", "\tother@example.net", "Return-Path: <x@example.org>",
                     "content-length: 5", "To: t@example.net", "", "Bcc: in the body stays"],
             output: r + "To: t@example.net\n\nBcc: in the body stays\n"),
        Case(name: "a configured drop list",
             settings: CleanupSettings(myhostname: "mx.example.test", dropHeaders: ["X-Secret"]),
             message: message(addMissing: false), input: ["x-secret: 1", " more", "Bcc: kept", ""],
             output: r + "Bcc: kept\n\n"),
        Case(name: "white space before the colon is removed",
             message: message(addMissing: false), input: ["Subject  :  spaced", "X-Tab\t: t", ""],
             output: r + "Subject:  spaced\nX-Tab: t\n\n"),
        Case(name: "folded headers stay folded",
             message: message(addMissing: false), input: ["Subject: one", "\ttwo", "  three", "To: x@example.net", "", "b"],
             output: r + "Subject: one\n\ttwo\n  three\nTo: x@example.net\n\nb\n"),
        Case(name: "header_size_limit discards later continuation lines",
             settings: CleanupSettings(myhostname: "mx.example.test", headerSizeLimit: 200), message: message(addMissing: false),
             input: ["Subject: " + String(repeating: "x", count: 100), "\t" + String(repeating: "y", count: 100), "\tzzz",
                     " also gone", "To: x@example.net", ""],
             output: r + "Subject: " + String(repeating: "x", count: 100) + "\n\t" + String(repeating: "y", count: 100)
                 + "\nTo: x@example.net\n\n"),
        Case(name: "a first line that is not a header starts the body after a blank line",
             message: message(addMissing: false), input: ["Hello there", "Subject: not a header now"],
             output: r + "\nHello there\nSubject: not a header now\n"),
        Case(name: "a leading space line continues the Received header",
             message: message(addMissing: false), input: [" sneaky", "Subject: s", ""],
             output: r + " sneaky\nSubject: s\n\n"),
        Case(name: "headers without a body get no blank line",
             input: ["Subject: s"], output: r + "Subject: s\n" + added, messageID: messageID),
        Case(name: "an empty message", input: [], output: r + added, messageID: messageID),
        Case(name: "Resent- headers get Resent- forms added",
             input: ["Resent-From: r@example.org", "From: f@example.org", "Date: d", "Message-Id: <m2@example.org>", ""],
             output: r + "Resent-From: r@example.org\nFrom: f@example.org\nDate: d\nMessage-Id: <m2@example.org>\n"
                 + "Resent-Message-Id: \(messageID)\nResent-Date: Wed, 25 Nov 2026 11:40:43 +0000 (UTC)\n\n",
             messageID: "<m2@example.org>", resentMessageID: messageID),
        Case(name: "a dropped Resent-Bcc still makes the message resent",
             input: ["Resent-Bcc: x@example.net", "Subject: s", ""],
             output: r + "Subject: s\nResent-Message-Id: \(messageID)\nResent-Date: Wed, 25 Nov 2026 11:40:43 +0000 (UTC)\n"
                 + "Resent-From: sender@example.org\n\n",
             resentMessageID: messageID),
        Case(name: "the null sender is MAILER-DAEMON",
             message: message(sender: "", fullName: "Nobody"), input: ["Message-Id: <m3@x>", "Date: d", ""],
             output: r + "Message-Id: <m3@x>\nDate: d\nFrom: MAILER-DAEMON\n\n", messageID: "<m3@x>"),
        Case(name: "a full name, standard format",
             message: message(sender: "root@mx.example.test", fullName: "root"), input: ["Message-Id: <m4@x>", "Date: d", ""],
             output: r + "Message-Id: <m4@x>\nDate: d\nFrom: root <root@mx.example.test>\n\n", messageID: "<m4@x>"),
        Case(name: "a full name that needs quoting",
             message: message(sender: "john doe@example.org", fullName: "John Q. Doe"), input: ["Message-Id: <m5@x>", "Date: d", ""],
             output: r + "Message-Id: <m5@x>\nDate: d\nFrom: \"John Q. Doe\" <\"john doe\"@example.org>\n\n", messageID: "<m5@x>"),
        Case(name: "a full name, obsolete format",
             settings: CleanupSettings(myhostname: "mx.example.test", obsoleteFromFormat: true),
             message: message(fullName: "Charlie (root)"), input: ["Message-Id: <m6@x>", "Date: d", ""],
             output: r + "Message-Id: <m6@x>\nDate: d\nFrom: sender@example.org (Charlie \\(root\\))\n\n", messageID: "<m6@x>"),
        Case(name: "long queue IDs make Message-Ids without a time stamp",
             settings: CleanupSettings(myhostname: "mx.example.test", longQueueIDs: true), input: ["Date: d", "From: f", ""],
             output: r + "Date: d\nFrom: f\nMessage-Id: <E173FF7C139@mx.example.test>\n\n",
             messageID: "<E173FF7C139@mx.example.test>"),
        Case(name: "undisclosed_recipients_header without To: or Cc:",
             settings: CleanupSettings(myhostname: "mx.example.test", undisclosedRecipientsHeader: "To: undisclosed-recipients:;"),
             input: ["Subject: s", ""], output: r + "Subject: s\n" + added + "To: undisclosed-recipients:;\n\n", messageID: messageID),
        Case(name: "undisclosed_recipients_header not with Cc:",
             settings: CleanupSettings(myhostname: "mx.example.test", undisclosedRecipientsHeader: "To: undisclosed-recipients:;"),
             input: ["cc: c@example.net", ""], output: r + "cc: c@example.net\n" + added + "\n", messageID: messageID),
        Case(name: "PREPEND headers go above the Received: header, in order",
             message: message(addMissing: false, prepended: ["Received-SPF: pass (example.org: 192.0.2.1 is authorized)", "X-Tag : b"]),
             input: ["Subject: s", "", "body"],
             output: "Received-SPF: pass (example.org: 192.0.2.1 is authorized)\nX-Tag: b\n" + r + "Subject: s\n\nbody\n"),
        Case(name: "a folded Message-ID is reported unfolded",
             message: message(addMissing: false), input: ["Message-ID:", "  <folded@example.org>", ""],
             output: r + "Message-ID:\n  <folded@example.org>\n\n", messageID: "<folded@example.org>"),
    ]

    override func setUp() {
        setenv("TZ", "UTC", 1)
        tzset()
    }

    override func tearDown() {
        unsetenv("TZ")
        tzset()
    }

    func run(_ input: [String], settings: CleanupSettings = CleanupTests.settings,
             message: CleanupMessage = CleanupTests.message()) throws -> (Cleanup, ContentBuffer) {
        let buffer = ContentBuffer()
        var cleanup = Cleanup(settings: settings, message: message, output: buffer)
        for line in input { try cleanup.feed(Array(line.utf8)) }
        try cleanup.finish()
        return (cleanup, buffer)
    }

    func testCases() throws {
        for c in Self.cases {
            let (cleanup, buffer) = try run(c.input, settings: c.settings, message: c.message)
            XCTAssertEqual(buffer.text, c.output, c.name)
            XCTAssertEqual(cleanup.messageID, c.messageID, c.name)
            XCTAssertEqual(cleanup.resentMessageID, c.resentMessageID, c.name)
            XCTAssertNil(cleanup.rejection, c.name)
            XCTAssertEqual(cleanup.messageSize, buffer.bytes.count, c.name)
        }
    }

    func testSettingsFromMainCF() throws {
        let config = MainConfig(directory: "/nonexistent")
        try config.override("myhostname=mx.example.test")
        let defaults = CleanupSettings(config: config)
        XCTAssertEqual(defaults.mailName, "Postern")
        XCTAssertEqual(defaults.headerSizeLimit, 102_400)
        XCTAssertEqual(defaults.hopcountLimit, 50)
        XCTAssertEqual(defaults.messageSizeLimit, 10_240_000)
        XCTAssertFalse(defaults.alwaysAddMissingHeaders)
        XCTAssertFalse(defaults.obsoleteFromFormat)
        XCTAssertEqual(defaults.fullNameCharset, "utf-8")
        XCTAssertFalse(defaults.longQueueIDs)
        let input = ["Bcc: b", "Content-Length: 1", "Resent-Bcc: r", "Return-Path: <p>", "X-Kept: k", ""]
        XCTAssertEqual(try run(input, settings: defaults, message: Self.message(addMissing: false)).1.text, Self.r + "X-Kept: k\n\n")
        try config.override("message_drop_headers=x-kept")
        try config.override("header_from_format=obsolete")
        try config.override("mail_name=Mailer")
        let changed = CleanupSettings(config: config)
        XCTAssertTrue(changed.obsoleteFromFormat)
        XCTAssertEqual(changed.mailName, "Mailer")
        XCTAssertEqual(try run(input, settings: changed, message: Self.message(addMissing: false)).1.text,
                       Self.r + "Bcc: b\nContent-Length: 1\nResent-Bcc: r\nReturn-Path: <p>\n\n")
    }

    func testHopcountLimit() throws {
        let hops = (1...48).map { "Received: from hop\($0)" }
        let (ok, _) = try run(hops + ["", "body"])
        XCTAssertNil(ok.rejection)
        XCTAssertEqual(ok.hopCount, 49)
        let (looping, buffer) = try run(hops + ["Received: from hop49", "X-After: 1", "", "body"])
        XCTAssertEqual(looping.rejection, .tooManyHops)
        XCTAssertEqual(looping.hopCount, 50)
        XCTAssertFalse(buffer.text.contains("hop49"))
        XCTAssertFalse(buffer.text.contains("body"))
        XCTAssertEqual(looping.rejection?.smtpCode, 554)
        XCTAssertEqual(looping.rejection?.dsn, "5.4.0")
        XCTAssertEqual(looping.rejection?.text, "Error: too many hops")
        let strict = CleanupSettings(myhostname: "mx.example.test", hopcountLimit: 1)
        XCTAssertEqual(try run([], settings: strict).0.rejection, .tooManyHops)
    }

    func testMessageSizeLimit() throws {
        let limit = Self.r.utf8.count + 30
        let settings = CleanupSettings(myhostname: "mx.example.test", messageSizeLimit: limit)
        let (fits, _) = try run(["Subject: 0123456789abcdef", ""], settings: settings, message: Self.message(addMissing: false))
        XCTAssertNil(fits.rejection)
        XCTAssertEqual(fits.messageSize, limit - 3)
        let (big, buffer) = try run(["Subject: 0123456789abcdef", "", "body", "more"], settings: settings,
                                    message: Self.message(addMissing: false))
        XCTAssertEqual(big.rejection, .messageTooBig)
        XCTAssertLessThanOrEqual(buffer.bytes.count, limit)
        XCTAssertEqual(big.rejection?.smtpCode, 552)
        XCTAssertEqual(big.rejection?.dsn, "5.3.4")
        XCTAssertEqual(big.rejection?.text, "Error: message file too big")
        let unlimited = CleanupSettings(myhostname: "mx.example.test", messageSizeLimit: 0)
        XCTAssertNil(try run([String(repeating: "z", count: 100_000)], settings: unlimited).0.rejection)
    }

    func testLinesFedInPieces() throws {
        let buffer = ContentBuffer()
        let settings = CleanupSettings(myhostname: "mx.example.test", headerSizeLimit: 200)
        var cleanup = Cleanup(settings: settings, message: Self.message(addMissing: false), output: buffer)
        let pieces: [(String, Bool)] = [
            ("Subject: he", true), ("", true), ("llo", false),
            ("X-Long: " + String(repeating: "a", count: 150), true), (String(repeating: "b", count: 60), true),
            ("cut", false), ("\tcontinuation dropped", true), (" as a whole", false),
            ("Bcc: dr", true), ("opped", false),
            ("", false), ("bo", true), ("dy", false), ("open end", true),
        ]
        for (piece, partial) in pieces { try cleanup.feed(Array(piece.utf8), partial: partial) }
        try cleanup.finish()
        XCTAssertEqual(buffer.text, Self.r + "Subject: hello\nX-Long: " + String(repeating: "a", count: 150)
                           + String(repeating: "b", count: 60) + "\n\nbody\nopen end\n")
    }

    func testCleanupIntoAQueueFile() throws {
        let queue = TemporaryQueue()
        defer { queue.remove() }
        let writer = try QueueFileWriter(directory: queue.directory)
        writer.envelope.sender = "sender@example.org"
        writer.addRecipient(QueueRecipient(address: "rcpt@example.net"))
        let message = CleanupMessage(queueID: writer.queueID, queueFileTime: writer.creationTime.seconds,
                                     arrivalTime: writer.envelope.arrivalSeconds, sender: writer.envelope.sender,
                                     addMissingHeaders: true,
                                     receivedHeader: ReceivedHeader.smtp(heloName: "c.example", clientName: "c.example",
                                                                         clientAddress: "192.0.2.1", protocolName: "ESMTP",
                                                                         myhostname: "mx.example.test", mailName: "Postern",
                                                                         queueID: writer.queueID, recipient: "rcpt@example.net",
                                                                         time: writer.envelope.arrivalSeconds))
        var cleanup = Cleanup(settings: Self.settings, message: message, output: writer)
        for line in ["Subject: queued", "", "body"] { try cleanup.feed(Array(line.utf8)) }
        try cleanup.finish()
        XCTAssertNil(cleanup.rejection)
        try writer.commit()
        let fd = open(queue.directory.path(queue: "incoming", queueID: writer.queueID), O_RDONLY)
        defer { close(fd) }
        let file = try QueueFile.read(descriptor: fd)
        XCTAssertEqual(file.contentLength, cleanup.messageSize)
        var content: [UInt8] = []
        try file.readContent(descriptor: fd) { content.append(contentsOf: $0) }
        let text = String(decoding: content, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("Received: from c.example (c.example [192.0.2.1])\n\tby mx.example.test (Postern) with ESMTP id "
                                     + writer.queueID + "\n\tfor <rcpt@example.net>; "), text)
        XCTAssertTrue(text.hasSuffix("Subject: queued\nMessage-Id: <" + MailDate.compactUTC(writer.creationTime.seconds) + "."
                                     + writer.queueID + "@mx.example.test>\nDate: " + MailDate.rfc2822(writer.envelope.arrivalSeconds)
                                     + "\nFrom: sender@example.org\n\nbody\n"), text)
    }
}
