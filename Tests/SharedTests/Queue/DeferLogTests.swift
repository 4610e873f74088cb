// defer/ and bounce/ logs in Postfix's record format: exact bytes, appends read back,
// quoting, values that cannot break the format, garbled files.
import Glibc
import XCTest

@testable import Shared

final class DeferLogTests: XCTestCase {
    let refused = DeliveryStatus(recipient: "a@remote.example.net", offset: 251, dsnOriginalRecipient: "rfc822;a@remote.example.net",
                                 status: "4.4.1", action: "delayed",
                                 reason: "connect to 127.0.0.1[127.0.0.1]:42599: Connection refused")

    func testPostfixRecordFormat() {
        let text = String(decoding: DeferLog.format([refused]), as: UTF8.self)
        XCTAssertEqual(text, """

            <a@remote.example.net>: connect to 127.0.0.1[127.0.0.1]:42599: Connection refused
            recipient=a@remote.example.net
            offset=251
            dsn_orig_rcpt=rfc822;a@remote.example.net
            status=4.4.1
            action=delayed
            reason=connect to 127.0.0.1[127.0.0.1]:42599: Connection refused


            """)
        let full = DeliveryStatus(recipient: "john doe@example.net", originalRecipient: "JD@example.net", offset: 0,
                                  dsnNotify: [.failure, .delay], status: "5.1.1", action: "failed", diagnosticType: "smtp",
                                  diagnosticText: "550 5.1.1 no such user", mtaType: "dns", mtaName: "mx.example.net",
                                  reason: "host said: 550\r\nbye")
        XCTAssertEqual(String(decoding: DeferLog.format([full], legacyLine: false), as: UTF8.self), """

            recipient="john doe"@example.net
            orig_rcpt=JD@example.net
            dsn_notify=12
            status=5.1.1
            action=failed
            diag_type=smtp
            diag_text=550 5.1.1 no such user
            mta_type=dns
            mta_name=mx.example.net
            reason=host said: 550??bye


            """)
        let sameButCase = DeliveryStatus(recipient: "a@x", originalRecipient: "A@X", status: "", action: "", reason: "")
        XCTAssertEqual(String(decoding: DeferLog.format([sameButCase], legacyLine: false), as: UTF8.self), "\nrecipient=a@x\n\n")
        let nullRecipient = DeliveryStatus(recipient: "", status: "5.0.0", action: "failed", reason: "r")
        XCTAssertEqual(String(decoding: DeferLog.format([nullRecipient]), as: UTF8.self),
                       "\n<>: r\nrecipient=<>\nstatus=5.0.0\naction=failed\nreason=r\n\n")
    }

    func testAppendAndReadBack() throws {
        let queue = TemporaryQueue()
        defer { queue.remove() }
        let second = DeliveryStatus(recipient: "b@remote.example.net", offset: 290, dsnNotify: .never, status: "4.4.1",
                                    action: "delayed", reason: "connect to 127.0.0.1[127.0.0.1]:42599: Connection refused")
        try DeferLog.append([refused], queueID: "6737EF7C71D", logQueue: "defer", directory: queue.directory)
        try DeferLog.append([second], queueID: "6737EF7C71D", logQueue: "defer", directory: queue.directory)
        let path = queue.path + "/defer/6/6737EF7C71D"
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        XCTAssertEqual(try DeferLog.read(path), [refused, second])
        try DeferLog.append([second], queueID: "6737EF7C71D", logQueue: "bounce", directory: queue.directory)
        XCTAssertEqual(try DeferLog.read(queue.path + "/bounce/6737EF7C71D"), [second])
        XCTAssertThrowsError(try DeferLog.append([second], to: queue.path + "/missing/x"))
    }

    func testGarbledLogsYieldWhatTheyCan() {
        let text = "\n<a@x>: gone\nrecipient=a@x\nstatus=5.0.0\nunknown=1\nreason=gone\n\n\nstatus=4.0.0\nno equals sign\n\nrecipient=c@x\nreas"
        let records = DeferLog.parse(Array(text.utf8))
        XCTAssertEqual(records.map(\.recipient), ["a@x", "c@x"])
        XCTAssertEqual(records[0].reason, "gone")
        XCTAssertEqual(records[0].status, "5.0.0")
        XCTAssertEqual(records[1].reason, "")
        XCTAssertEqual(DeferLog.parse([]), [])
    }
}
