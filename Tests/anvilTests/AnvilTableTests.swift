// anvil's counting rules without sockets: counts per stream, the fixed rate window,
// expiry of idle idents, the replies of each request and the statistics lines.
import XCTest

@testable import Shared
@testable import anvil

final class AnvilTableTests: XCTestCase {
    func testConnectCountsAndDisconnectGivesBack() {
        let t = AnvilTable(timeUnit: 60)
        XCTAssertTrue(t.connect(client: 1, ident: "smtp:1.2.3.4", now: 100) == (1, 1))
        XCTAssertTrue(t.connect(client: 2, ident: "smtp:1.2.3.4", now: 101) == (2, 2))
        t.disconnect(client: 1, ident: "smtp:1.2.3.4", now: 102)
        XCTAssertEqual(t.lookup(ident: "smtp:1.2.3.4", now: 102), AnvilCounts(count: 1, rate: 2))
        t.closed(client: 2, now: 103)
        XCTAssertEqual(t.lookup(ident: "smtp:1.2.3.4", now: 103), AnvilCounts(count: 0, rate: 2))
    }

    func testASecondConnectOnOneStreamReplacesTheFirst() {
        let t = AnvilTable(timeUnit: 60)
        _ = t.connect(client: 1, ident: "smtp:1.2.3.4", now: 100)
        XCTAssertTrue(t.connect(client: 1, ident: "smtp:1.2.3.4", now: 100) == (1, 2))
        _ = t.connect(client: 1, ident: "smtp:5.6.7.8", now: 100)
        XCTAssertEqual(t.lookup(ident: "smtp:1.2.3.4", now: 100).count, 0)
        XCTAssertEqual(t.lookup(ident: "smtp:5.6.7.8", now: 100).count, 1)
    }

    func testDisconnectOfAnIdentTheStreamDoesNotHoldChangesNothing() {
        let t = AnvilTable(timeUnit: 60)
        _ = t.connect(client: 1, ident: "smtp:1.2.3.4", now: 100)
        t.disconnect(client: 2, ident: "smtp:1.2.3.4", now: 100)
        XCTAssertEqual(t.lookup(ident: "smtp:1.2.3.4", now: 100).count, 1)
    }

    func testRatesRestartOnlyAfterTheWholeUnit() {
        let t = AnvilTable(timeUnit: 60)
        _ = t.connect(client: 1, ident: "a", now: 100)
        XCTAssertEqual(t.count(.message, client: 1, ident: "a", now: 130), 1)
        XCTAssertEqual(t.count(.message, client: 1, ident: "a", now: 160), 2, "start + unit == now is still the same window")
        XCTAssertEqual(t.count(.recipient, client: 1, ident: "a", now: 160), 1)
        XCTAssertEqual(t.count(.message, client: 1, ident: "a", now: 161), 1, "a new window restarts every rate")
        XCTAssertEqual(t.lookup(ident: "a", now: 161), AnvilCounts(count: 1, rate: 0, mail: 1))
    }

    func testLookupDoesNotReportStaleRates() {
        let t = AnvilTable(timeUnit: 10)
        _ = t.connect(client: 1, ident: "a", now: 100)
        _ = t.count(.auth, client: 1, ident: "a", now: 100)
        XCTAssertEqual(t.lookup(ident: "a", now: 105), AnvilCounts(count: 1, rate: 1, auth: 1))
        XCTAssertEqual(t.lookup(ident: "a", now: 111), AnvilCounts(count: 1))
        XCTAssertTrue(t.connect(client: 2, ident: "a", now: 112) == (2, 1))
    }

    func testNewTLSStatusReadsWithoutCounting() {
        let t = AnvilTable(timeUnit: 60)
        XCTAssertEqual(t.newTLSStatus(ident: "a", now: 1), 0)
        XCTAssertEqual(t.count(.newTLS, client: 1, ident: "a", now: 1), 1)
        XCTAssertEqual(t.newTLSStatus(ident: "a", now: 2), 1)
        XCTAssertEqual(t.newTLSStatus(ident: "a", now: 3), 1)
    }

    func testAnEventForAnUnknownIdentRegistersAConnection() {
        let t = AnvilTable(timeUnit: 60)
        XCTAssertEqual(t.count(.recipient, client: 7, ident: "a", now: 1), 1)
        XCTAssertEqual(t.lookup(ident: "a", now: 1), AnvilCounts(count: 1, rate: 1, rcpt: 1))
        t.closed(client: 7, now: 2)
        XCTAssertEqual(t.lookup(ident: "a", now: 2).count, 0)
    }

    func testIdleIdentsAreForgottenOneUnitAfterTheLastDisconnect() {
        let t = AnvilTable(timeUnit: 60)
        _ = t.connect(client: 1, ident: "a", now: 100)
        t.closed(client: 1, now: 110)
        t.expire(now: 169)
        XCTAssertNotNil(t.remotes["a"])
        t.expire(now: 170)
        XCTAssertNil(t.remotes["a"])
        XCTAssertEqual(t.lookup(ident: "a", now: 171), AnvilCounts())
    }

    func testAReconnectKeepsTheIdent() {
        let t = AnvilTable(timeUnit: 60)
        _ = t.connect(client: 1, ident: "a", now: 100)
        t.closed(client: 1, now: 110)
        _ = t.connect(client: 2, ident: "a", now: 120)
        t.expire(now: 500)
        XCTAssertEqual(t.lookup(ident: "a", now: 500).count, 1)
    }

    func testStatisticsReportPeaksOnceAndReset() {
        let t = AnvilTable(timeUnit: 60)
        _ = t.connect(client: 1, ident: "smtp:1.2.3.4", now: 100)
        _ = t.connect(client: 2, ident: "smtp:1.2.3.4", now: 101)
        _ = t.connect(client: 3, ident: "smtp:5.6.7.8", now: 102)
        _ = t.count(.message, client: 3, ident: "smtp:5.6.7.8", now: 103)
        let lines = t.statistics { "T\($0)" }
        XCTAssertEqual(lines, [
            "statistics: max connection rate 2/60s for (smtp:1.2.3.4) at T101",
            "statistics: max connection count 2 for (smtp:1.2.3.4) at T101",
            "statistics: max message rate 1/60s for (smtp:5.6.7.8) at T103",
            "statistics: max cache size 2 at T102",
        ])
        XCTAssertEqual(t.statistics { "T\($0)" }, [])
    }
}

final class AnvilServiceTests: XCTestCase {
    func request(_ name: String, _ ident: String = "smtp:1.2.3.4") -> AttributeList {
        AttributeList([("request", name), ("ident", ident)])
    }

    func testRepliesInPostfixsOrder() {
        let s = AnvilService(table: AnvilTable(timeUnit: 60))
        XCTAssertEqual(s.reply(to: request("connect"), client: 1, now: 1)?.encoded(xtext: false), "status=0\ncount=1\nrate=1\n\n")
        XCTAssertEqual(s.reply(to: request("message"), client: 1, now: 1)?.encoded(xtext: false), "status=0\nrate=1\n\n")
        XCTAssertEqual(s.reply(to: request("recipient"), client: 1, now: 1)?.encoded(xtext: false), "status=0\nrate=1\n\n")
        XCTAssertEqual(s.reply(to: request("newtls"), client: 1, now: 1)?.encoded(xtext: false), "status=0\nrate=1\n\n")
        XCTAssertEqual(s.reply(to: request("newtls_status"), client: 1, now: 1)?.encoded(xtext: false), "status=0\nrate=1\n\n")
        XCTAssertEqual(s.reply(to: request("auth"), client: 1, now: 1)?.encoded(xtext: false), "status=0\nrate=1\n\n")
        XCTAssertEqual(s.reply(to: request("lookup"), client: 1, now: 1)?.encoded(xtext: false),
                       "status=0\ncount=1\nrate=1\nmail=1\nrcpt=1\nnewtls=1\nauth=1\n\n")
        XCTAssertEqual(s.reply(to: request("disconnect"), client: 1, now: 1)?.encoded(xtext: false), "status=0\n\n")
    }

    func testUnknownRequestFailsWithMinusOneUnsigned() {
        let s = AnvilService(table: AnvilTable(timeUnit: 60))
        XCTAssertEqual(s.reply(to: request("newtls_report"), client: 1, now: 1)?.encoded(xtext: false), "status=4294967295\n\n")
    }

    func testMalformedRequestsCloseTheConnection() {
        let s = AnvilService(table: AnvilTable(timeUnit: 60))
        XCTAssertNil(s.reply(to: AttributeList([("request", "connect")]), client: 1, now: 1))
        XCTAssertNil(s.reply(to: AttributeList([("request", "connect"), ("ident", "a"), ("x", "y")]), client: 1, now: 1))
    }
}
