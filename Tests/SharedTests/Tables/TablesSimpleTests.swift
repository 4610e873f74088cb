// texthash:, inline:, static: and unix: tables, with the exact errors and warnings their
// bad input gives.
import XCTest

@testable import Shared

final class TablesSimpleTests: XCTestCase {
    var scratch = ""

    override func setUp() { scratch = makeTablesScratch() }
    override func tearDown() { removeTablesScratch(scratch) }

    func testTextHash() throws {
        let path = scratch + "/th"
        writeTableFile(path, "k v1\nK v2\nbad\n\"q x\" y\nalias: form\n")
        let (t, warnings) = try capturingTableWarnings { try TableRegistry.openTable(TableSpec(type: "texthash", name: path)) }
        XCTAssertEqual(warnings, [
            "\(path), line 2: duplicate entry: \"K\"",
            "\(path), line 3: expected format: key whitespace value -- ignoring this line",
            "\(path), line 5: record is in \"key: value\" format; is this an alias file?",
        ])
        XCTAssertEqual(try t.lookup("K"), "v1")
        XCTAssertEqual(try t.lookup("\"q x\""), "y")
        XCTAssertNil(try t.lookup("q x"))
        XCTAssertEqual(try t.entries().map { "\($0.key)=\($0.value)" }, ["k=v1", "\"q x\"=y", "alias:=form"])
        XCTAssertEqual(t.files, [path])
    }

    func testInline() throws {
        let t = try XCTUnwrap(openTestTable("inline:{ foo=bar, {Baz = x y}, k=v, k=w }"))
        XCTAssertEqual(try t.lookup("baz"), "x y")
        XCTAssertEqual(try t.lookup("FOO"), "bar")
        XCTAssertEqual(try t.lookup("k"), "w", "the last value for a key wins")
        XCTAssertNil(try t.lookup("x"))
        XCTAssertEqual(try t.entries().map(\.key), ["foo", "baz", "k"])
    }

    func testInlineErrors() {
        let need = "; need \"inline:{name=value...}\""
        let cases: [(String, String)] = [
            ("inline:a", "bad syntax: \"inline:a\"" + need),
            ("inline:{ }", "empty table: \"inline:{ }\"" + need),
            ("inline:{ k = }", "missing '=' after attribute name: \"inline:{ k = }\"" + need),
            ("inline:{a}", "missing '=' after attribute name: \"inline:{a}\"" + need),
        ]
        for (spec, message) in cases {
            XCTAssertThrowsError(try TableRegistry.openTable(TableSpec(parsing: spec))) { error in
                XCTAssertEqual(error as? TableError, .configuration(message), spec)
            }
        }
    }

    func testStatic() throws {
        XCTAssertEqual(try openTestTable("static:fixed")?.lookup("anything"), "fixed")
        XCTAssertEqual(try openTestTable("static:{ a b }")?.lookup("x"), "a b")
        XCTAssertThrowsError(try openTestTable("static:x")?.entries()) { error in
            XCTAssertEqual("\(error)", "table static:x: sequence operation is not supported")
        }
    }

    func testUnix() throws {
        let passwd = try XCTUnwrap(openTestTable("unix:passwd.byname"))
        XCTAssertEqual(try passwd.lookup("ROOT")?.hasPrefix("root:"), true)
        XCTAssertEqual(try passwd.lookup("root")?.split(separator: ":", omittingEmptySubsequences: false)[2...3].joined(separator: ":"), "0:0")
        XCTAssertNil(try passwd.lookup("no-such-user-here"))
        XCTAssertEqual(try openTestTable("unix:group.byname")?.lookup("root")?.hasPrefix("root:x:0:"), true)
        XCTAssertThrowsError(try TableRegistry.openTable(TableSpec(parsing: "unix:foo"))) { error in
            XCTAssertEqual(error as? TableError, .configuration("unknown table: unix:foo"))
        }
    }
}
