// The registry: spec parsing, unknown types, proxy:, table lists from parameters, one
// open table per process, re-opening when the file changes, and an unreadable table
// reported as unavailable (a temporary failure), never as "not found".
import Foundation
import XCTest

@testable import Shared

final class TablesRegistryTests: XCTestCase {
    var scratch = ""

    override func setUp() {
        scratch = makeTablesScratch()
        TableRegistry.closeAll()
    }

    override func tearDown() {
        TableRegistry.closeAll()
        Table.checkInterval = 1
        removeTablesScratch(scratch)
    }

    func testSpecParsing() throws {
        XCTAssertEqual(try TableSpec(parsing: "proxy:cdb:/etc/x"), TableSpec(type: "proxy", name: "cdb:/etc/x"))
        XCTAssertEqual(try TableSpec(parsing: "inline:{ a=b }"), TableSpec(type: "inline", name: "{ a=b }"))
        XCTAssertEqual(try TableSpec(parsing: "/etc/aliases", defaultType: "hash"), TableSpec(type: "hash", name: "/etc/aliases"))
        for bad in ["static:", "cdb:", ":x", "nocolon"] {
            XCTAssertThrowsError(try TableSpec(parsing: bad)) { error in
                XCTAssertEqual(error as? TableError,
                               .configuration("open dictionary: expecting \"type:name\" form instead of \"\(bad)\""))
            }
        }
        XCTAssertThrowsError(try TableRegistry.open("nosuch:x")) { error in
            XCTAssertEqual(error as? TableError, .configuration("unsupported dictionary type: nosuch"))
        }
    }

    /// A table type added from outside: answers every key with the key reversed.
    final class ReversingTable: LookupTable {
        let type = "reversing"
        let name: String
        let isFixed = true
        init(name: String) { self.name = name }
        func lookup(_ key: String) throws(TableError) -> String? { String(key.reversed()) }
    }

    func testTypesByName() throws {
        XCTAssertEqual(Set(TableRegistry.typeNames).intersection(["btree", "cdb", "cidr", "hash", "inline", "pcre", "proxy", "regexp", "static", "texthash", "unix"]).count, 11)
        TableRegistry.register("reversing", isFixed: true) { name, _ throws(TableError) in ReversingTable(name: name) }
        XCTAssertTrue(TableRegistry.typeNames.contains("reversing"))
        XCTAssertEqual(try TableRegistry.open("reversing:x").lookup("abc"), "cba")
        XCTAssertEqual(try TableRegistry.isFixed(TableSpec(parsing: "proxy:pcre:/x")), false)
    }

    func testListFromParameter() throws {
        let list = try TableRegistry.openList("inline:{ a=1, b=2 }, static:{ fall back }  inline:{c=3}")
        XCTAssertEqual(list.tables.map(\.spec.type), ["inline", "static", "inline"])
        XCTAssertEqual(try list.lookup("b"), "2")
        XCTAssertEqual(try list.lookup("zz"), "fall back")
        let patterns = try TableRegistry.openList("pcre:{{/^a/ pattern}}, inline:{a@=fixed}")
        XCTAssertEqual(try patterns.lookup("a@"), "pattern")
        XCTAssertEqual(try patterns.lookup("a@", partial: true), "fixed", "partial keys skip pattern tables")
    }

    func testOpenedOncePerProcess() throws {
        let first = try TableRegistry.open("static:x")
        XCTAssertTrue(first === (try TableRegistry.open("static:x")))
        var other = TableFlags()
        other.foldCase = false
        XCTAssertFalse(first === (try TableRegistry.open("static:x", flags: other)))
    }

    func build(_ text: String) throws {
        let source = scratch + "/map"
        writeTableFile(source, text)
        _ = try capturingTableWarnings {
            try TableBuilder.build(TableSpec(type: "cdb", name: source), format: .keyValue, flags: .standard,
                                   options: TableBuilder.Options())
        }
    }

    func testReopenedWhenTheFileChanges() throws {
        Table.checkInterval = 0
        try build("k old\n")
        let table = try TableRegistry.open("cdb:\(scratch)/map")
        XCTAssertEqual(try table.lookup("k"), "old")
        try build("k new\nother 1\n")
        XCTAssertEqual(try table.lookup("k"), "new")
        XCTAssertEqual(try table.lookup("other"), "1")
    }

    func testUnavailableUntilTheFileAppears() throws {
        Table.checkInterval = 0
        let (table, warnings) = try capturingTableWarnings { try TableRegistry.open("cdb:\(scratch)/map") }
        XCTAssertEqual(warnings, ["cdb:\(scratch)/map: open database \(scratch)/map.cdb: No such file or directory"])
        XCTAssertThrowsError(try table.lookup("k")) { error in
            XCTAssertEqual(error as? TableError, .unavailable("open database \(scratch)/map.cdb: No such file or directory"))
        }
        try build("k v\n")
        XCTAssertEqual(try table.lookup("k"), "v")
    }

    func testConfigurationErrorsAreThrownAtOpen() {
        XCTAssertThrowsError(try TableRegistry.open("inline:{x}")) { error in
            guard case .configuration? = error as? TableError else { return XCTFail("\(error)") }
        }
    }

    func testBuildRefusesOtherTypes() {
        let cases: [(String, String)] = [
            ("texthash:/x", "unsupported dictionary type: texthash does not support bulk-mode creation."),
            ("proxy:cdb:/x", "can't create maps via the proxy service"),
            ("nosuch:/x", "unsupported dictionary type: nosuch"),
            ("cdb:\(scratch)/missing", "open \(scratch)/missing: No such file or directory"),
        ]
        for (spec, message) in cases {
            XCTAssertThrowsError(try TableBuilder.build(TableSpec(parsing: spec), format: .keyValue, flags: .standard,
                                                        options: TableBuilder.Options())) { error in
                XCTAssertEqual("\(error)", message, spec)
            }
        }
    }
}
