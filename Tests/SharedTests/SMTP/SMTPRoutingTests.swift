// Where the SMTP client goes for a next hop, without a resolver: destination syntax,
// MX order and fall-back to addresses, null MX, name errors and the loop check.
import XCTest

@testable import Shared

final class SMTPRoutingTests: XCTestCase {
    struct FakeLookup: SMTPHostLookup {
        var mxRecords: [String: SMTPLookupResult<[(preference: Int, host: String)]>] = [:]
        var hosts: [String: SMTPLookupResult<[String]>] = [:]

        func mx(_ domain: String) -> SMTPLookupResult<[(preference: Int, host: String)]> { mxRecords[domain] ?? .notFound(nxdomain: true) }
        func addresses(_ host: String) -> SMTPLookupResult<[String]> { hosts[host] ?? .notFound(nxdomain: true) }
    }

    func router(_ lookup: FakeLookup, own: Set<String> = []) -> SMTPRouter {
        SMTPRouter(lookup: lookup, ownAddresses: own, ipv4: true, ipv6: false, randomize: false)
    }

    func servers(_ route: SMTPRoute) -> [String] {
        guard case .servers(let list) = route else { return [] }
        return list.map { "\($0.host)[\($0.address)]:\($0.port)/\($0.preference)" }
    }

    func failure(_ route: SMTPRoute) -> SMTPFailure? {
        if case .failed(let f) = route { return f }
        return nil
    }

    func testDestinationSyntax() {
        XCTAssertEqual(SMTPDestination.parse("[127.0.0.1]:2525", defaultPort: 25),
                       SMTPDestination(host: "127.0.0.1", port: 2525, lookupMX: false, text: "[127.0.0.1]:2525"))
        XCTAssertEqual(SMTPDestination.parse("[relay.example]", defaultPort: 25)?.lookupMX, false)
        XCTAssertEqual(SMTPDestination.parse("example.com:submission", defaultPort: 25)?.port, 587)
        XCTAssertEqual(SMTPDestination.parse("example.com", defaultPort: 25), SMTPDestination(host: "example.com", port: 25, lookupMX: true, text: "example.com"))
        XCTAssertEqual(SMTPDestination.parse("[ipv6:2001:db8::1]:25", defaultPort: 25)?.host, "2001:db8::1")
        XCTAssertNil(SMTPDestination.parse("[broken", defaultPort: 25))
        XCTAssertNil(SMTPDestination.parse("host:nosuchservice", defaultPort: 25))
        XCTAssertEqual(SMTPDestination.list("[a.example]:26, b.example c.example", defaultPort: 25).map(\.host), ["a.example", "b.example", "c.example"])
    }

    func testMXHostsInPreferenceOrder() {
        var lookup = FakeLookup()
        lookup.mxRecords["example.com"] = .found([(20, "mx2.example.com"), (10, "mx1.example.com."), (30, "gone.example.com")])
        lookup.hosts["mx1.example.com"] = .found(["192.0.2.1", "2001:db8::1"])
        lookup.hosts["mx2.example.com"] = .found(["192.0.2.2"])
        let route = router(lookup).route(SMTPDestination(host: "example.com", port: 25, lookupMX: true, text: "example.com"))
        XCTAssertEqual(servers(route), ["mx1.example.com[192.0.2.1]:25/10", "mx2.example.com[192.0.2.2]:25/20"],
                       "IPv6 left out with inet_protocols = ipv4; a host without address skipped")
    }

    func testNoMXMeansTheHostItself() {
        var lookup = FakeLookup()
        lookup.mxRecords["plain.example"] = .notFound(nxdomain: false)
        lookup.hosts["plain.example"] = .found(["192.0.2.7"])
        XCTAssertEqual(servers(router(lookup).route(SMTPDestination(host: "plain.example", port: 2525, lookupMX: true, text: "plain.example:2525"))),
                       ["plain.example[192.0.2.7]:2525/0"])
        lookup.mxRecords["relay.example"] = .found([(10, "elsewhere.example")])
        lookup.hosts["relay.example"] = .found(["192.0.2.8"])
        XCTAssertEqual(servers(router(lookup).route(SMTPDestination(host: "relay.example", port: 25, lookupMX: false, text: "[relay.example]"))),
                       ["relay.example[192.0.2.8]:25/0"], "[host] skips the MX lookup")
        XCTAssertEqual(servers(router(lookup).route(SMTPDestination(host: "127.0.0.1", port: 2525, lookupMX: false, text: "[127.0.0.1]:2525"))),
                       ["127.0.0.1[127.0.0.1]:2525/0"])
    }

    func testNameErrors() {
        var lookup = FakeLookup()
        lookup.mxRecords["null.example"] = .found([(0, "")])
        lookup.mxRecords["broken.example"] = .failed
        lookup.mxRecords["noaddr.example"] = .found([(10, "mx.noaddr.example")])
        lookup.hosts["mx.noaddr.example"] = .failed
        let r = router(lookup)
        func route(_ host: String) -> SMTPFailure? { failure(r.route(SMTPDestination(host: host, port: 25, lookupMX: true, text: host))) }
        XCTAssertEqual(route("null.example"), SMTPFailure(dsn: "5.1.0", reason: "Domain null.example does not accept mail (nullMX)"))
        XCTAssertEqual(route("nx.example"), SMTPFailure(dsn: "5.4.4", reason: "Host or domain name not found. Name service error for name=nx.example type=A: Host not found"))
        XCTAssertEqual(route("broken.example"), SMTPFailure(dsn: "4.4.3", reason: "Host or domain name not found. Name service error for name=broken.example type=MX: Host not found, try again"))
        XCTAssertEqual(route("noaddr.example"), SMTPFailure(dsn: "4.4.3", reason: "Host or domain name not found. Name service error for name=mx.noaddr.example type=A: Host not found, try again"))
    }

    func testMXListStopsBeforeOurselvesOnPort25() {
        var lookup = FakeLookup()
        lookup.mxRecords["example.com"] = .found([(10, "mx1.example.com"), (20, "me.example.com"), (30, "mx3.example.com")])
        lookup.hosts["mx1.example.com"] = .found(["192.0.2.1"])
        lookup.hosts["me.example.com"] = .found(["192.0.2.99"])
        lookup.hosts["mx3.example.com"] = .found(["192.0.2.3"])
        let r = router(lookup, own: ["192.0.2.99"])
        XCTAssertEqual(servers(r.route(SMTPDestination(host: "example.com", port: 25, lookupMX: true, text: "example.com"))), ["mx1.example.com[192.0.2.1]:25/10"])
        lookup.mxRecords["mine.example"] = .found([(10, "me.example.com")])
        XCTAssertEqual(failure(router(lookup, own: ["192.0.2.99"]).route(SMTPDestination(host: "mine.example", port: 25, lookupMX: true, text: "mine.example"))),
                       SMTPFailure(dsn: "5.4.6", reason: "mail for mine.example loops back to myself"))
        XCTAssertEqual(servers(router(lookup, own: ["192.0.2.99"]).route(SMTPDestination(host: "mine.example", port: 2525, lookupMX: true, text: "mine.example:2525"))),
                       ["me.example.com[192.0.2.99]:2525/10"], "another port is another service: no loop")
    }
}
