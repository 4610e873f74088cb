// Table source text: logical lines (continuations, comments, blank lines, bad leading
// white space, non-UTF-8) and `key whitespace value` records, with Postfix's warnings.
import XCTest

@testable import Shared

final class TablesSourceTests: XCTestCase {
    func lines(_ text: String) -> ([SourceLine], [String]) {
        var warnings: [String] = []
        let result = TableSource.logicalLines(Array(text.utf8), path: "t", warn: { warnings.append($0) })
        return (result, warnings)
    }

    func testLogicalLines() {
        let cases: [(String, [SourceLine])] = [
            ("a b\nc d\n", [SourceLine(text: "a b", line: 1), SourceLine(text: "c d", line: 2)]),
            ("a one\n  two   \n\tthree\n#c\n  four\n", [SourceLine(text: "a one  two   \tthree  four", line: 1)]),
            ("b x\n\n  y\n", [SourceLine(text: "b x  y", line: 1)]),
            ("# only\n   # indented comment\n\n", []),
            ("x 1\n   #c\ny 2", [SourceLine(text: "x 1", line: 1), SourceLine(text: "y 2", line: 3)]),
            ("k v\r\n", [SourceLine(text: "k v\r", line: 1)]),
        ]
        for (text, expected) in cases {
            let (result, warnings) = lines(text)
            XCTAssertEqual(result, expected, text)
            XCTAssertEqual(warnings, [], text)
        }
    }

    func testContinuationWithoutLineIsWarned() {
        let (result, warnings) = lines("  lead x\na b\n")
        XCTAssertEqual(result, [SourceLine(text: "a b", line: 2)])
        XCTAssertEqual(warnings, ["t: logical line must not start with whitespace: \"  lead x\""])
        let long = lines("  " + String(repeating: "x", count: 40) + "\n").1
        XCTAssertEqual(long, ["t: logical line must not start with whitespace: \"  " + String(repeating: "x", count: 28) + "...\""])
    }

    func testNonUTF8LineIsSkipped() {
        var warnings: [String] = []
        let result = TableSource.logicalLines(Array("caf".utf8) + [0xe9] + Array(" latin\nok v\n".utf8), path: "u") {
            warnings.append($0)
        }
        XCTAssertEqual(result, [SourceLine(text: "ok v", line: 2)])
        XCTAssertEqual(warnings, ["u, line 1: non-UTF-8 input \"caf? latin\" -- ignoring this line"])
    }

    func testRecords() {
        let cases: [(String, TableSource.Record)] = [
            ("User@Example.COM OK", .entry(key: "User@Example.COM", value: "OK")),
            ("example.net  REJECT go away  ", .entry(key: "example.net", value: "REJECT go away")),
            ("\"with space\" quoted", .entry(key: "\"with space\"", value: "quoted")),
            ("q\\ x y", .entry(key: "q\\ x", value: "y")),
            ("alice@example.com\talice", .entry(key: "alice@example.com", value: "alice")),
            ("bad", .skipped("expected format: key whitespace value")),
            ("\"unbal x", .skipped("unbalanced '\"' in '\"unbal x' -- ignoring this line")),
        ]
        for (line, expected) in cases { XCTAssertEqual(TableSource.record(line), expected, line) }
    }

    func testInlineRules() throws {
        let rules = try TableSource.inlineRules("{ {/a/ A}, {/b/ B} }", type: "pcre")
        XCTAssertEqual(rules, [SourceLine(text: "/a/ A", line: 1), SourceLine(text: "/b/ B", line: 2)])
        XCTAssertThrowsError(try TableSource.inlineRules("{ /b/ B }", type: "regexp")) { error in
            XCTAssertEqual("\(error)", "regexp map: no '{' at start of text in \"/b/\"")
        }
    }
}
