// pcre: and regexp: tables: matching, flags, negation, if/endif, `$n` substitution, the
// inline form, and each malformed rule with the exact warning Postfix gives for it.
import XCTest

@testable import Shared

final class TablesPatternTests: XCTestCase {
    var scratch = ""

    override func setUp() { scratch = makeTablesScratch() }
    override func tearDown() { removeTablesScratch(scratch) }

    /// Writes RULES as TYPE table, opens it, and returns it with the warnings opening gave.
    func table(_ type: String, _ rules: String, flags: TableFlags = .standard) throws -> (LookupTable, [String]) {
        let path = "\(scratch)/t.\(type)"
        writeTableFile(path, rules)
        return try capturingTableWarnings { try TableRegistry.openTable(TableSpec(type: type, name: path), flags: flags) }
    }

    let rules = """
        /^(.*)@example\\.com$/ ${1}
        /^x(\\w+)/i got $1 end
        !/foo/ notfoo
        if /^if/
        /^if(.*)/ in-if $1
        endif
        /abc/ ABC

        """

    func testMatching() throws {
        let cases: [(String, String?)] = [
            ("me@example.com", "me"), ("xyz", "got yz end"), ("XAB", "notfoo"), ("if_zz", "notfoo"),
            ("foo", nil), ("ABC", "notfoo"),
        ]
        for type in ["pcre", "regexp"] {
            let (t, warnings) = try table(type, rules)
            XCTAssertEqual(warnings, [], type)
            XCTAssertFalse(t.isFixed)
            for (key, expected) in cases { XCTAssertEqual(try t.lookup(key), expected, "\(type) \(key)") }
        }
    }

    func testIfBlocksAndSubstitution() throws {
        let text = """
            if !/^skip/
            /^(a)(b)?(c)/ [$1|$2|${3}|$$]
            endif
            /^skip(.*)$/ S$(1)
            IF /never/
            /./ inside
            ENDIF
            /./ last

            """
        for type in ["pcre", "regexp"] {
            let (t, warnings) = try table(type, text)
            XCTAssertEqual(warnings, [], type)
            XCTAssertEqual(try t.lookup("ac"), "[a||c|$]", type)
            XCTAssertEqual(try t.lookup("abc"), "[a|b|c|$]", type)
            XCTAssertEqual(try t.lookup("skipper"), "Sper", type)
            XCTAssertEqual(try t.lookup("zzz"), "last", type)
        }
    }

    func testPCREFlags() throws {
        let (t, warnings) = try table("pcre", "/^a.b$/ dotall\n/^c.d$/s nodot\n/^E$/i exact\n/x$/E endonly\n/y/X obsolete\n")
        XCTAssertEqual(warnings, ["pcre map \(scratch)/t.pcre, line 5: ignoring obsolete regexp option \"X\""])
        XCTAssertEqual(try t.lookup("a\nb"), "dotall")
        XCTAssertNil(try t.lookup("c\nd"))
        XCTAssertNil(try t.lookup("e"))
        XCTAssertEqual(try t.lookup("E"), "exact")
        XCTAssertNil(try t.lookup("x\n"))
        XCTAssertEqual(try t.lookup("y"), "obsolete")
    }

    func testRegexpSecondPattern() throws {
        let (t, _) = try table("regexp", "/^a/!/b$/ a-not-b\n")
        XCTAssertEqual(try t.lookup("ax"), "a-not-b")
        XCTAssertNil(try t.lookup("ab"))
    }

    func testBadRules() throws {
        let text = "/(/ x\n/a/q res\nnoslash x\n/b/\n/c\n/d/ $2\nendif\n!/n(.)/ $1\n/e/ ${x}\n/f/ $0\nif /g/ extra\nendif junk\nif /h/\n"
        let common = [
            "line 2: unknown regexp option \"q\": skipping this rule",
            "line 3: ignoring unrecognized request",
            "line 4: no replacement text: using empty string",
            "line 6: out of range replacement index \"2\": skipping this rule",
            "line 7: ignoring ENDIF without matching IF",
            "line 8: $number found in negative match replacement text: skipping this rule",
            "line 9: non-numeric replacement index \"x\"",
            "line 9: bad replacement syntax: skipping this rule",
            "line 10: bad replacement syntax: skipping this rule",
            "line 11: ignoring extra text after IF statement: \"extra\"",
            "line 11: do not prepend whitespace to statements between IF and ENDIF",
            "line 12: ignoring extra text after ENDIF",
            "line 13: IF has no matching ENDIF",
        ]
        let expected: [String: [String]] = [
            "pcre": [
                "line 1: error in regex at offset 1: missing closing parenthesis",
                "line 5: no closing regexp delimiter \"/\": ignoring this rule",
                "line 10: out of range replacement index \"0\"",
            ],
            "regexp": [
                "line 1: Unmatched ( or \\(",
                "line 5: no closing regexp delimiter \"/\": skipping this rule",
                "line 10: out-of-range replacement index \"0\"",
            ],
        ]
        for (type, specific) in expected {
            let (t, warnings) = try table(type, text)
            let prefix = "\(type) map \(scratch)/t.\(type), "
            XCTAssertEqual(Set(warnings), Set((common + specific).map { prefix + $0 }), type)
            XCTAssertEqual(try t.lookup("b"), "", type)
        }
    }

    func testEmptyMacroName() throws {
        let (_, warnings) = try table("pcre", "/x(a)/ ${1}$$ $\n")
        XCTAssertEqual(warnings, [
            "empty macro name: \"${1}$$ $\"",
            "pcre map \(scratch)/t.pcre, line 1: bad replacement syntax: skipping this rule",
        ])
    }

    func testSubstitutionCanBeForbidden() throws {
        var flags = TableFlags()
        flags.regexSubstitution = false
        let (t, warnings) = try table("pcre", "/(.*)/ $1\n/lit/ literal\n", flags: flags)
        XCTAssertEqual(warnings, ["pcre map \(scratch)/t.pcre, line 1: regular expression substitution is not allowed: skipping this rule"])
        XCTAssertEqual(try t.lookup("lit"), "literal")
    }

    func testInlineForm() throws {
        let t = try XCTUnwrap(openTestTable("pcre:{ {/a/ A}, {/(b)/ B$1} }"))
        XCTAssertEqual(try t.lookup("a"), "A")
        XCTAssertEqual(try t.lookup("b"), "Bb")
        XCTAssertEqual(t.files, [])
        let (_, warnings) = capturingTableWarnings { openTestTable("regexp:{{/(b/ B}}") }
        XCTAssertEqual(warnings, ["regexp map {{/(b/ B}}, line 1: Unmatched ( or \\("])
    }

    func testMissingFileIsUnavailable() {
        for type in ["pcre", "regexp", "cidr"] {
            XCTAssertThrowsError(try TableRegistry.openTable(TableSpec(type: type, name: scratch + "/none"))) { error in
                XCTAssertEqual(error as? TableError, .unavailable("open \(scratch)/none: No such file or directory"))
            }
        }
    }
}
