// access(5) semantics: the order of keys tried for addresses, domains, hosts and
// networks; what each kind of result means; DUNNO stopping the search; partial keys
// skipped on pattern tables.
import XCTest

@testable import Shared

final class TablesAccessMapTests: XCTestCase {
    func keys(_ list: [AccessKey]) -> [String] { list.map(\.description) }

    func testAddressKeys() {
        var search = AccessSearch()
        search.recipientDelimiters = "+"
        let cases: [(String, [String])] = [
            ("User@Sub.Example.COM", [
                "user@sub.example.com", "sub.example.com (partial)", "example.com (partial)", "com (partial)",
                "user@ (partial)",
            ]),
            ("user+foo@example.com", [
                "user+foo@example.com", "user@example.com (partial)", "example.com (partial)", "com (partial)",
                "user+foo@ (partial)", "user@ (partial)",
            ]),
            ("+foo@example.com", ["+foo@example.com", "example.com (partial)", "com (partial)", "+foo@ (partial)"]),
            ("postmaster+x@a.b", [
                "postmaster+x@a.b", "postmaster@a.b (partial)", "a.b (partial)", "b (partial)",
                "postmaster+x@ (partial)", "postmaster@ (partial)",
            ]),
            ("", ["<>"]),
            ("local", ["local"]),
        ]
        for (address, expected) in cases { XCTAssertEqual(keys(AccessMap.addressKeys(address, search)), expected, address) }
    }

    func testSubdomainStyleAndDelimiterRules() {
        var search = AccessSearch()
        search.parentMatchesSubdomains = false
        search.recipientDelimiters = "-+"
        XCTAssertEqual(keys(AccessMap.domainKeys("a.b.example.com", search)),
                       ["a.b.example.com", ".b.example.com (partial)", ".example.com (partial)", ".com (partial)"])
        XCTAssertEqual(AccessMap.stripExtension("owner-list@x", search), nil)
        XCTAssertEqual(AccessMap.stripExtension("list-request@x", search), nil)
        XCTAssertEqual(AccessMap.stripExtension("double-bounce@x", search), nil)
        XCTAssertEqual(AccessMap.stripExtension("MAILER-DAEMON@x", search), nil)
        XCTAssertEqual(AccessMap.stripExtension("a-b+c@x", search), "a@x")
        XCTAssertEqual(AccessMap.stripExtension("ab@x", search), nil)
    }

    func testHostAndNetworkKeys() {
        let search = AccessSearch()
        XCTAssertEqual(keys(AccessMap.hostKeys(name: "mail.Example.org", address: "192.0.2.10", search)), [
            "mail.example.org", "example.org (partial)", "org (partial)",
            "192.0.2.10", "192.0.2 (partial)", "192.0 (partial)", "192 (partial)",
        ])
        XCTAssertEqual(keys(AccessMap.networkKeys("2001:DB8::1")),
                       ["2001:db8::1", "2001:db8: (partial)", "2001:db8 (partial)", "2001 (partial)"])
        XCTAssertEqual(keys(AccessMap.domainKeys("192.0.2.1", search)), ["192.0.2.1"], "no parents for an address")
        XCTAssertEqual(keys(AccessMap.domainKeys("host.example.", search)),
                       ["host.example.", "example. (partial)"])
    }

    func testSearchSettingsFromMainCF() throws {
        let config = MainConfig(directory: "/nonexistent")
        try config.override("recipient_delimiter=+")
        try config.override("parent_domain_matches_subdomains=relay_domains")
        let search = AccessSearch(config: config)
        XCTAssertEqual(search.recipientDelimiters, "+")
        XCTAssertFalse(search.parentMatchesSubdomains)
        XCTAssertEqual(search.nullSenderKey, "<>")
        XCTAssertEqual(search.doubleBounceSender, "double-bounce")
        XCTAssertTrue(AccessSearch(config: MainConfig(directory: "/nonexistent")).parentMatchesSubdomains)
    }

    func testActions() {
        let cases: [(String, AccessAction)] = [
            ("OK", .ok), ("ok trailing text", .ok), ("RELAY", .relay), ("12345", .ok), ("DUNNO whatever", .dunno),
            ("REJECT", .reject(dsn: nil, text: nil)),
            ("reject go away", .reject(dsn: nil, text: "go away")),
            ("REJECT 5.7.2 not you", .reject(dsn: "5.7.2", text: "not you")),
            ("DEFER later", .defer(dsn: nil, text: "later")),
            ("550 5.1.1 no such user", .reply(code: 550, dsn: "5.1.1", text: "no such user")),
            ("450 busy", .reply(code: 450, dsn: nil, text: "busy")),
            ("450", .ok),
            ("DEFER_IF_REJECT maybe", .deferIfReject(dsn: nil, text: "maybe")),
            ("DEFER_IF_PERMIT 4.7.5", .deferIfPermit(dsn: "4.7.5", text: nil)),
            ("HOLD", .hold(text: nil)), ("DISCARD spam", .discard(text: "spam")),
            ("FILTER smtp:[127.0.0.1]:10025", .filter("smtp:[127.0.0.1]:10025")),
            ("FILTER", .malformed(reason: "has FILTER entry without value")),
            ("FILTER nocolon", .malformed(reason: "requires transport:destination")),
            ("REDIRECT a@b", .redirect("a@b")), ("BCC a@b", .bcc("a@b")),
            ("REDIRECT nobody", .malformed(reason: "requires user@domain target")),
            ("PREPEND X-Tag: yes", .prepend("X-Tag: yes")),
            ("PREPEND no header", .malformed(reason: "requires header: text")),
            ("INFO note", .info(text: "note")), ("WARN", .warn(text: nil)),
            ("permit_mynetworks, reject", .restrictions(["permit_mynetworks", "reject"])),
            ("myclass", .restrictions(["myclass"])),
            ("check_client_access cdb:/x", .tableReference("check_client_access cdb:/x")),
            ("", .restrictions([])),
        ]
        for (value, expected) in cases { XCTAssertEqual(AccessAction(value), expected, value) }
    }

    func testLookupStopsAtFirstFoundKeyAndSkipsPartialKeysOnPatterns() throws {
        TableRegistry.closeAll()
        defer { TableRegistry.closeAll() }
        let search = AccessSearch()
        let fixed = try TableRegistry.open("inline:{ example.com=DUNNO, com=REJECT, user@=OK }")
        let match = try fixed.accessLookup(AccessMap.addressKeys("user@mail.example.com", search))
        XCTAssertEqual(match, AccessMatch(key: AccessKey("example.com", partial: true), value: "DUNNO"))
        XCTAssertEqual(match?.action, .dunno)
        let pattern = try TableRegistry.open("pcre:{ {/^example\\.com$/ REJECT} }")
        XCTAssertNil(try pattern.accessLookup(AccessMap.addressKeys("user@example.com", search)))
        XCTAssertEqual(try pattern.accessLookup(AccessMap.domainKeys("example.com", search))?.action,
                       .reject(dsn: nil, text: nil))
    }
}
