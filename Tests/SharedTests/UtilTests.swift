// Small shared helpers: list splitting, time and boolean parsing, getopt, xtext, the
// attribute codec and the buffered stream's line reader.
import Glibc
import XCTest

@testable import Shared

final class UtilTests: XCTestCase {
    func testSplitList() {
        XCTAssertEqual(splitList("a, b c,,d\n\te"), ["a", "b", "c", "d", "e"])
        XCTAssertEqual(splitList("check_policy_service { unix:private/p, timeout=10 }, reject"),
                       ["check_policy_service", "unix:private/p, timeout=10", "reject"])
    }

    func testParseTime() {
        XCTAssertEqual(parseTime("300s"), 300)
        XCTAssertEqual(parseTime("5d"), 432_000)
        XCTAssertEqual(parseTime("2", defaultUnit: "h"), 7200)
        XCTAssertEqual(parseTime("1w"), 604_800)
        XCTAssertNil(parseTime("s"))
        XCTAssertNil(parseTime("-1s"))
        XCTAssertNil(parseTime("1y"))
    }

    func testGetopt() {
        let g = Getopt(["-nv", "-c", "/etc", "-oa=b", "-q", "word", "-x"], spec: "c:no:qv")
        XCTAssertEqual(g.items, [.flag("n", nil), .flag("v", nil), .flag("c", "/etc"), .flag("o", "a=b"), .flag("q", nil)])
        XCTAssertEqual(g.operands, ["word", "-x"])
        XCTAssertEqual(Getopt(["-z"], spec: "c:").items, [.bad("z")])
        XCTAssertEqual(Getopt(["-c"], spec: "c:").items, [.missingArgument("c")])
    }

    func testXtextRoundTrip() {
        for text in ["plain", "a=b+c", "two\nlines", "tab\there", "ünïcode", ""] {
            XCTAssertEqual(Xtext.decode(Xtext.encode(text)), text)
            XCTAssertFalse(Xtext.encode(text).contains("\n"))
        }
        XCTAssertEqual(Xtext.encode("a b=c"), "a+20b+3Dc")
        XCTAssertNil(Xtext.decode("bad+Z1"))
    }

    func testAttributesOverAStream() throws {
        let (a, b) = try Sockets.pair()
        defer {
            close(a)
            close(b)
        }
        let writer = BufferedStream(descriptor: a, timeoutMs: 1000)
        writer.writeAttributes(AttributeList([("request", "status"), ("text", "two\nlines")]), xtext: true)
        writer.writeAttributes(AttributeList([("request", "smtpd_access_policy"), ("sender", "a@b")]), xtext: false)
        try writer.flush()
        let reader = BufferedStream(descriptor: b, timeoutMs: 1000)
        XCTAssertEqual(try reader.readAttributes(xtext: true), AttributeList([("request", "status"), ("text", "two\nlines")]))
        let plain = try reader.readAttributes(xtext: false)
        XCTAssertEqual(plain?["sender"], "a@b")
    }

    func testReadLineLimitsAndEndings() throws {
        let (a, b) = try Sockets.pair()
        defer { close(b) }
        let long = String(repeating: "x", count: 100_000)
        try FileIO.writeAll(a, "one\r\ntwo\n" + long + "\r\nlast")
        close(a)
        let reader = BufferedStream(descriptor: b, timeoutMs: 1000)
        XCTAssertEqual(try reader.readLine(limit: 1000)?.line, Array("one".utf8))
        XCTAssertEqual(try reader.readLine(limit: 1000)?.line, Array("two".utf8))
        let cut = try reader.readLine(limit: 1000)
        XCTAssertEqual(cut?.line.count, 1000)
        XCTAssertEqual(cut?.truncated, true)
        XCTAssertEqual(try reader.readLine(limit: 1000)?.line, Array("last".utf8))
        XCTAssertNil(try reader.readLine(limit: 1000))
    }

    func testReadLineTimesOut() throws {
        let (a, b) = try Sockets.pair()
        defer {
            close(a)
            close(b)
        }
        let reader = BufferedStream(descriptor: b, timeoutMs: 50)
        XCTAssertThrowsError(try reader.readLine()) { XCTAssertEqual($0 as? StreamError, .timeout) }
    }

    func testStatusMessageLayout() {
        let m = StatusMessage(pid: 0x01020304, generation: 7, availability: StatusMessage.available)
        XCTAssertEqual(m.bytes, [4, 3, 2, 1, 7, 0, 0, 0, 1, 0, 0, 0])
        XCTAssertEqual(StatusMessage(bytes: m.bytes[...]), m)
    }
}
