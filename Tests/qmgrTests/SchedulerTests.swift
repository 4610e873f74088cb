// qmgr's scheduling decisions without files or sockets: grouping, recipient limits,
// destination concurrency, process limits and round-robin between transports.
import XCTest

@testable import Shared
@testable import qmgr

final class SchedulerTests: XCTestCase {
    let limits: [String: TransportLimits] = [
        "local": TransportLimits(processLimit: 100, destinationConcurrency: 2, recipientLimit: 1),
        "smtp": TransportLimits(processLimit: 3, destinationConcurrency: 2, recipientLimit: 2),
    ]

    func scheduler() -> Scheduler { Scheduler { self.limits[$0]! } }

    func routed(_ items: [(String, String, String)]) -> [(route: Route, recipient: DeliveryRecipient)] {
        items.enumerated().map { i, item in
            (Route(transport: item.0, nexthop: item.1, recipient: item.2, addressClass: item.0 == "local" ? .local : .other),
             DeliveryRecipient(index: i, address: item.2))
        }
    }

    func testGroupsByDestinationAndSplitsAtTheRecipientLimit() {
        let s = scheduler()
        s.enqueue(queueID: "A", routed([
            ("smtp", "b.example", "1@b.example"), ("local", "mx", "u1@mx"), ("smtp", "b.example", "2@b.example"),
            ("smtp", "b.example", "3@b.example"), ("local", "mx", "u2@mx"), ("smtp", "c.example", "4@c.example"),
        ]))
        var out: [PendingDelivery] = []
        while let d = s.next() { out.append(d) }
        let shape = out.map { "\($0.transport):\($0.nexthop):" + $0.recipients.map(\.address).joined(separator: ",") }
        XCTAssertEqual(Set(shape), [
            "smtp:b.example:1@b.example,2@b.example", "smtp:b.example:3@b.example", "smtp:c.example:4@c.example",
            "local:mx:u1@mx", "local:mx:u2@mx",
        ])
        XCTAssertEqual(s.inFlight, 5)
    }

    func testDestinationConcurrencyHoldsBackThenReleases() {
        let s = scheduler()
        for id in ["A", "B", "C"] { s.enqueue(queueID: id, routed([("smtp", "b.example", "x@b.example")])) }
        let first = s.next()
        let second = s.next()
        XCTAssertNotNil(first)
        XCTAssertNotNil(second)
        XCTAssertNil(s.next(), "two deliveries to b.example at once at most")
        s.finished(first!)
        XCTAssertEqual(s.next()?.queueID, "C")
        XCTAssertTrue(s.isEmpty)
    }

    func testLocalConcurrencyIsPerRecipient() {
        let s = scheduler()
        for id in ["A", "B", "C"] { s.enqueue(queueID: id, routed([("local", "mx", "same@mx")])) }
        s.enqueue(queueID: "D", routed([("local", "mx", "other@mx")]))
        let ids = [s.next(), s.next(), s.next()].compactMap { $0?.queueID }
        XCTAssertEqual(ids, ["A", "B", "D"], "a third delivery to the same user waits; another user goes ahead")
    }

    func testProcessLimitAndRoundRobin() {
        let s = scheduler()
        for i in 0..<5 { s.enqueue(queueID: "S\(i)", routed([("smtp", "d\(i).example", "x@d\(i).example")])) }
        for i in 0..<2 { s.enqueue(queueID: "L\(i)", routed([("local", "mx", "u\(i)@mx")])) }
        var order: [String] = []
        while let d = s.next() { order.append(d.queueID) }
        XCTAssertEqual(order.filter { $0.hasPrefix("S") }.count, 3, "smtp's process limit is 3")
        XCTAssertEqual(Array(order.prefix(4)), ["S0", "L0", "S1", "L1"], "transports take turns")
    }

    func testForgetDropsWaitingDeliveries() {
        let s = scheduler()
        s.enqueue(queueID: "A", routed([("smtp", "b.example", "1@b.example")]))
        s.forget("A")
        XCTAssertNil(s.next())
        XCTAssertTrue(s.isEmpty)
    }

    func testRateDelayOneAtATimeWithAPause() {
        let s = Scheduler { _ in TransportLimits(processLimit: 10, destinationConcurrency: 5, recipientLimit: 50, rateDelay: 2) }
        for id in ["A", "B", "C"] { s.enqueue(queueID: id, routed([("smtp", "b.example", "x@b.example")])) }
        s.enqueue(queueID: "D", routed([("smtp", "c.example", "x@c.example")]))
        let a = s.next(now: 100)
        XCTAssertEqual(a?.queueID, "A")
        XCTAssertTrue(s.hasWaiting(like: a!), "B and C wait for the same destination")
        XCTAssertEqual(s.next(now: 100)?.queueID, "D", "another destination is not held back")
        XCTAssertNil(s.next(now: 100), "one delivery at a time to b.example")
        s.finished(a!, now: 101)
        XCTAssertNil(s.next(now: 102.5), "the rate delay runs from the end of the last delivery")
        XCTAssertEqual(s.nextResume(), 103)
        XCTAssertEqual(s.next(now: 103)?.queueID, "B")
    }
}
