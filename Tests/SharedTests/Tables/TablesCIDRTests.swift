// cidr: tables: IPv4 and IPv6 networks, bare and bracketed addresses, negation,
// if/endif, keys that are not addresses, and each bad rule with Postfix's warning.
import XCTest

@testable import Shared

final class TablesCIDRTests: XCTestCase {
    var scratch = ""

    override func setUp() { scratch = makeTablesScratch() }
    override func tearDown() { removeTablesScratch(scratch) }

    func table(_ rules: String) throws -> (LookupTable, [String]) {
        writeTableFile(scratch + "/t.cidr", rules)
        return try capturingTableWarnings { try TableRegistry.openTable(TableSpec(type: "cidr", name: scratch + "/t.cidr")) }
    }

    func testMatching() throws {
        let (t, warnings) = try table("""
            192.168.0.0/16 REJECT
            10.0.0.1 ONE
            !10.0.0.0/8 NOTTEN
            2001:db8::/32 V6
            [::1] LOOP
            if 172.16.0.0/12
            172.16.5.0/24 IN
            endif
            [1.2.3.0]/24 BR

            """)
        XCTAssertEqual(warnings, [])
        let cases: [(String, String?)] = [
            ("192.168.4.5", "REJECT"), ("10.0.0.1", "ONE"), ("11.1.1.1", "NOTTEN"), ("10.2.2.2", nil),
            ("2001:db8::5", "V6"), ("::1", "LOOP"), ("2001:db9::1", nil), ("notanip", nil), ("[10.0.0.1]", nil),
        ]
        for (key, expected) in cases { XCTAssertEqual(try t.lookup(key), expected, key) }
    }

    func testIfBlocksSkipOnFamilyAndNegation() throws {
        let (t, _) = try table("IF !1.2.3.4\n1.0.0.0/8 not1234\nENDIF\n! 1.2.3.4 spaced\n0.0.0.0/0 ANY\n")
        XCTAssertEqual(try t.lookup("1.9.9.9"), "not1234")
        XCTAssertEqual(try t.lookup("1.2.3.4"), "ANY")
        XCTAssertEqual(try t.lookup("2.2.2.2"), "spaced")
        XCTAssertNil(try t.lookup("::2"), "an IPv4 IF does not apply to IPv6, nor do its negations")
    }

    func testBadRules() throws {
        let (_, warnings) = try table("""
            endif
            if 10.0.0.0/8 extra
            endif junk
            if
            [1.2.3.4 x
            [1.2.3.4]z x
            10.1.2.3/8 x
            1.2.3.4/33 x
            1.2.3.4/a x
            foo/8 x
            foo x
            1.2.3.0/24
            if 10.0.0.0/8

            """)
        let prefix = "cidr map \(scratch)/t.cidr, "
        XCTAssertEqual(warnings, [
            "line 1: ENDIF without IF: skipping this rule",
            "line 2: bad mask value in \"10.0.0.0/8 extra\": skipping this rule",
            "line 3: garbage after ENDIF: skipping this rule",
            "line 4: no address pattern: skipping this rule",
            "line 5: missing ']' character after \"[1.2.3.4\": skipping this rule",
            "line 6: garbage after \"[1.2.3.4]\": skipping this rule",
            "line 7: non-null host address bits in \"10.1.2.3/8\", perhaps you should use \"10.0.0.0/8\" instead: skipping this rule",
            "line 8: bad mask length in \"1.2.3.4/33\": skipping this rule",
            "line 9: bad mask value in \"1.2.3.4/a\": skipping this rule",
            "line 10: bad network value in \"foo/8\": skipping this rule",
            "line 11: bad address pattern: \"foo\": skipping this rule",
            "line 12: no lookup result: skipping this rule",
            "line 13: IF has no matching ENDIF",
        ].map { prefix + $0 })
    }

    func testSequenceIsNotSupported() throws {
        let (t, _) = try table("1.2.3.4 x\n")
        XCTAssertThrowsError(try t.entries()) { error in
            XCTAssertEqual("\(error)", "table cidr:\(scratch)/t.cidr: sequence operation is not supported")
        }
    }
}
