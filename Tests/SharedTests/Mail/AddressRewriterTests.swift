// Envelope rewriting: canonical maps (full address, local part for local domains,
// @domain), masquerade_domains, and virtual alias expansion with recursion and limits.
import XCTest

@testable import Shared

final class AddressRewriterTests: XCTestCase {
    func rewriter(_ main: String) throws -> AddressRewriter {
        let config = MainConfig(directory: "/nonexistent")
        try config.parse("""
            myhostname = mx.example.test
            mydomain = example.test
            myorigin = $mydomain
            mydestination = $myhostname, $mydomain
            \(main)
            """)
        return try AddressRewriter(config: config, resolver: try AddressResolver(config: config))
    }

    func testCanonicalMaps() throws {
        let r = try rewriter("""
            sender_canonical_maps = inline:{ {john@example.test = John.Smith@example.test} }
            canonical_maps = inline:{ {@old.example = @new.example}, {root = admin@example.test} }
            """)
        XCTAssertEqual(try r.sender("john@example.test"), "John.Smith@example.test")
        XCTAssertEqual(try r.sender("bob@old.example"), "bob@new.example")
        XCTAssertEqual(try r.recipients("root@example.test"), ["admin@example.test"], "the local part is a key for local domains")
        XCTAssertEqual(try r.recipients("root@elsewhere.example"), ["root@elsewhere.example"])
        XCTAssertEqual(try r.sender(""), "")
    }

    func testBareAddressesAreCompleted() throws {
        XCTAssertEqual(try rewriter("").recipients("alice"), ["alice@example.test"])
        XCTAssertEqual(try rewriter("").sender("alice"), "alice@example.test")
        XCTAssertEqual(try rewriter("append_dot_mydomain = yes").recipients("bob@host"), ["bob@host.example.test"])
        XCTAssertEqual(try rewriter("append_dot_mydomain = no").recipients("bob@host"), ["bob@host"])
    }

    func testMasquerading() throws {
        let r = try rewriter("masquerade_domains = !keep.example.test, example.test\nmasquerade_exceptions = root")
        XCTAssertEqual(try r.sender("a@host.sub.example.test"), "a@example.test")
        XCTAssertEqual(try r.sender("a@keep.example.test"), "a@keep.example.test")
        XCTAssertEqual(try r.sender("root@host.example.test"), "root@host.example.test")
    }

    func testVirtualAliasExpansion() throws {
        let r = try rewriter("""
            virtual_alias_maps = inline:{ {info@virt.example = team@virt.example, boss@example.test}, \
            {team@virt.example = a@example.test, b@example.test, team@virt.example}, {@catch.example = catchall@example.test}, \
            {loop1@virt.example = loop2@virt.example}, {loop2@virt.example = loop1@virt.example} }
            virtual_alias_recursion_limit = 5
            """)
        XCTAssertEqual(try r.recipients("info@virt.example"),
                       ["a@example.test", "b@example.test", "team@virt.example", "boss@example.test"])
        XCTAssertEqual(try r.recipients("anyone@catch.example"), ["anyone@example.test"].map { _ in "catchall@example.test" })
        XCTAssertEqual(try r.recipients("nobody@elsewhere.example"), ["nobody@elsewhere.example"])
        XCTAssertEqual(try r.recipients("loop1@virt.example"), ["loop1@virt.example"], "a loop ends at the address seen before")
        let limited = try rewriter("virtual_alias_maps = inline:{ {many@x.example = 1@a, 2@a, 3@a, 4@a} }\nvirtual_alias_expansion_limit = 2")
        XCTAssertEqual(try limited.recipients("many@x.example"), ["1@a", "2@a"])
    }

    func testUnreadableTableIsAnError() throws {
        let r = try rewriter("virtual_alias_maps = cdb:/nonexistent/virtual")
        XCTAssertThrowsError(try r.recipients("a@example.test"))
    }
}
