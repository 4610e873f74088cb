// The local submission path's shared parts: what postdrop accepts from sendmail (the
// envelope checks and the chunked content with its end marker, fuzzed), the addresses
// `sendmail -t` takes from header values, and getopt's optional arguments (`-q`).
import Glibc
import XCTest

@testable import Shared

final class SendmailSubmissionTests: XCTestCase {
    func testEnvelopeRoundTripAndChecks() throws {
        let envelope = SubmissionEnvelope(sender: "", fullName: "Joe Q. Public", recipients: ["a@example.com", "b"],
                                          notify: [.success, .failure], dsnReturn: "HDRS", dsnEnvelopeID: "id+1")
        XCTAssertEqual(SubmissionEnvelope(envelope.attributes), envelope)
        func accepts(_ items: [(String, String)]) -> Bool { SubmissionEnvelope(AttributeList(items)) != nil }
        XCTAssertTrue(accepts([("sender", "u"), ("recipient", "r@x")]))
        XCTAssertFalse(accepts([("recipient", "r@x")]), "no sender")
        XCTAssertFalse(accepts([("sender", "u")]), "no recipient")
        XCTAssertFalse(accepts([("sender", "u"), ("sender", "v"), ("recipient", "r@x")]), "two senders")
        XCTAssertFalse(accepts([("sender", "u"), ("recipient", "r@x\nRCPT")]), "control character")
        XCTAssertFalse(accepts([("sender", "u"), ("recipient", "r@x"), ("queue_id", "X")]), "unknown name")
        XCTAssertFalse(accepts([("sender", "u"), ("recipient", "r@x"), ("notify", "SOMETIMES")]))
        XCTAssertFalse(accepts([("sender", "u"), ("recipient", "r@x"), ("dsn_ret", "ALL")]))
        XCTAssertFalse(accepts([("sender", "u"), ("recipient", "r@x"), ("dsn_envid", "a b")]))
        XCTAssertFalse(accepts([("sender", String(repeating: "u", count: 5000)), ("recipient", "r@x")]))
        XCTAssertTrue(accepts([("sender", "u"), ("recipient", ""), ("recipient", "r@x")]), "empty recipients are dropped")
    }

    /// Writes BYTES into one end of a socket pair and reads content chunks from the other.
    func readContent(_ bytes: [UInt8]) -> Result<[UInt8], Error> {
        let (a, b) = try! Sockets.pair()
        defer { close(b) }
        try! FileIO.writeAll(a, bytes)
        close(a)
        let stream = BufferedStream(descriptor: b, timeoutMs: 1000)
        var content: [UInt8] = []
        return Result {
            try MaildropSubmission.readContent(stream) { content += $0 }
            return content
        }
    }

    func testContentChunksNeedTheirEndMarker() throws {
        let framed = MaildropSubmission.chunkHeader(5) + Array("hello".utf8) + MaildropSubmission.chunkHeader(2) + [10, 10]
        XCTAssertEqual(try readContent(framed + MaildropSubmission.chunkHeader(0)).get(), Array("hello\n\n".utf8))
        XCTAssertThrowsError(try readContent(framed).get()) {
            XCTAssertEqual($0 as? MaildropSubmission.ContentError, .truncated)
        }
        XCTAssertThrowsError(try readContent(MaildropSubmission.chunkHeader(9) + Array("cut".utf8)).get()) {
            XCTAssertEqual($0 as? MaildropSubmission.ContentError, .truncated)
        }
        for bad in ["x\n", "-1\n", "99999999999\n", "\n", "2000000\n"] {
            XCTAssertThrowsError(try readContent(Array(bad.utf8)).get(), bad) {
                XCTAssertEqual($0 as? MaildropSubmission.ContentError, .malformed)
            }
        }
    }

    /// Random bytes never trap the reader and never count as a complete message without
    /// an end chunk (a line `0`).
    func testContentFuzz() {
        var random = SeededGenerator(seed: 7)
        let alphabet = Array("0123456789\nab".utf8)
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0..<40, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            if case .success = readContent(bytes) {
                XCTAssertTrue(bytes.split(separator: 10, omittingEmptySubsequences: false).contains([48]), "\(bytes)")
            }
        }
    }

    func testHeaderAddresses() {
        XCTAssertEqual(HeaderAddresses.parse("a@example.com"), ["a@example.com"])
        XCTAssertEqual(HeaderAddresses.parse("\"Joe, Jr.\" <joe@example.com>, b@example.com (Bee)"),
                       ["joe@example.com", "b@example.com"])
        XCTAssertEqual(HeaderAddresses.parse("team: x@example.com, Y <y@example.com>;, z@example.com"),
                       ["x@example.com", "y@example.com", "z@example.com"])
        XCTAssertEqual(HeaderAddresses.parse("undisclosed-recipients:;"), [])
        XCTAssertEqual(HeaderAddresses.parse("<@relay.example,@other.example:user@example.com>"), ["user@example.com"])
        XCTAssertEqual(HeaderAddresses.parse("\"john doe\"@example.com"), ["john doe@example.com"])
        XCTAssertEqual(HeaderAddresses.parse("<>, , root"), ["root"])
        XCTAssertEqual(HeaderAddresses.parse("Broken <unclosed@example.com"), ["unclosed@example.com"])
        var random = SeededGenerator(seed: 11)
        let alphabet = Array("<>@,;:\"()\\ .aZ\u{7f}\t".utf8)
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<30, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            _ = HeaderAddresses.parse(String(decoding: bytes, as: UTF8.self))
        }
    }

    func testGetoptOptionalArgument() {
        let g = Getopt(["-q", "-qRexample.com", "-tq15m", "-o", "i", "user"], spec: "o:q::t")
        XCTAssertEqual(g.items, [.flag("q", nil), .flag("q", "Rexample.com"), .flag("t", nil), .flag("q", "15m"), .flag("o", "i")])
        XCTAssertEqual(g.operands, ["user"])
    }
}
