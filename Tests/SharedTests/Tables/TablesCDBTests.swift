// cdb tables: the bytes CDBWriter produces (checked against an independent encoder of
// the cdb format), lookups with Postfix's NUL probing and key folding, duplicates, and
// the errors a missing or broken file gives.
import Foundation
import XCTest

@testable import Shared

final class TablesCDBTests: XCTestCase {
    var scratch = ""

    override func setUp() { scratch = makeTablesScratch() }
    override func tearDown() { removeTablesScratch(scratch) }

    /// The cdb format as cdb(5) describes it: a 256-entry table of contents, the records,
    /// then one open-addressing hash table per bucket, twice as long as its record count.
    func referenceCDB(_ records: [(String, String)]) -> [UInt8] {
        func le(_ n: Int) -> [UInt8] { (0..<4).map { UInt8((n >> (8 * $0)) & 0xff) } }
        func hash(_ bytes: [UInt8]) -> UInt32 {
            bytes.reduce(UInt32(5381)) { ($0 &+ ($0 << 5)) ^ UInt32($1) }
        }
        var data: [UInt8] = []
        var buckets = [[(hash: UInt32, position: Int)]](repeating: [], count: 256)
        for (key, value) in records {
            let k = Array(key.utf8)
            let v = Array(value.utf8)
            buckets[Int(hash(k) & 0xff)].append((hash(k), 2048 + data.count))
            data += le(k.count) + le(v.count) + k + v
        }
        var toc: [UInt8] = []
        var tables: [UInt8] = []
        for bucket in buckets {
            let length = bucket.count * 2
            toc += le(2048 + data.count + tables.count) + le(length)
            var slots = [(UInt32, Int)](repeating: (0, 0), count: length)
            for entry in bucket {
                var slot = Int(entry.hash >> 8) % length
                while slots[slot].1 != 0 { slot = (slot + 1) % length }
                slots[slot] = (entry.hash, entry.position)
            }
            for (h, p) in slots { tables += le(Int(h)) + le(p) }
        }
        return toc + data + tables
    }

    @discardableResult
    func build(_ name: String, _ records: [(String, String)], flags: TableFlags = .standard,
               duplicates: CDBWriter.Duplicates = .warn) throws -> [String] {
        let (_, warnings) = try capturingTableWarnings { () throws -> Void in
            let writer = try CDBWriter(path: scratch + "/" + name, flags: flags, duplicates: duplicates)
            for (key, value) in records { try writer.add(key, value) }
            try writer.finish()
        }
        return warnings
    }

    func testBytesFollowTheCDBFormat() throws {
        let records = [("User@Example.COM", "OK"), ("example.net", "REJECT go away"), ("\"with space\"", "quoted"),
                       ("10.1.2.3", "DUNNO"), ("alice@example.com", "alice")]
        XCTAssertEqual(try build("access", records), [])
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: scratch + "/access.cdb")))
        let expected = referenceCDB(records.map { ($0.0.lowercased(), $0.1) })
        XCTAssertEqual(written, expected)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch + "/access.cdb.tmp"))
    }

    func testLookupFoldsKeysAndProbesNul() throws {
        try build("plain", [("Key", "value")])
        try build("nul", [("Key", "value")], flags: { var f = TableFlags(); f.nul = .with; return f }())
        let cases: [(table: String, nul: TableFlags.Nul, key: String, expected: String?)] = [
            ("plain", .probe, "KEY", "value"),
            ("plain", .without, "key", "value"),
            ("plain", .with, "key", nil),
            ("nul", .probe, "key", "value"),
            ("nul", .with, "key", "value"),
            ("nul", .without, "key", nil),
            ("plain", .probe, "other", nil),
        ]
        for c in cases {
            var flags = TableFlags()
            flags.nul = c.nul
            let table = try XCTUnwrap(openTestTable("cdb:\(scratch)/\(c.table)", flags: flags))
            XCTAssertEqual(try table.lookup(c.key), c.expected, "\(c)")
        }
        var unfolded = TableFlags()
        unfolded.foldCase = false
        let table = try XCTUnwrap(openTestTable("cdb:\(scratch)/plain", flags: unfolded))
        XCTAssertNil(try table.lookup("Key"), "stored folded, looked up unfolded")
    }

    func testDuplicates() throws {
        let records = [("k", "v1"), ("K", "v2")]
        XCTAssertEqual(try build("warn", records), ["\(scratch)/warn: duplicate entry: \"k\""])
        XCTAssertEqual(try build("replace", records, duplicates: .replace), [])
        XCTAssertEqual(try build("ignore", records, duplicates: .ignore), [])
        for (name, expected) in [("warn", "v1"), ("replace", "v2"), ("ignore", "v1")] {
            XCTAssertEqual(try openTestTable("cdb:\(scratch)/\(name)")?.lookup("k"), expected, name)
        }
    }

    func testValueEndsAtNul() throws {
        try build("nulvalue", [("k", "ab\u{0}cd")])
        XCTAssertEqual(try openTestTable("cdb:\(scratch)/nulvalue")?.lookup("k"), "ab")
    }

    func testUnreadableFileIsUnavailableNotMissing() throws {
        XCTAssertThrowsError(try TableRegistry.openTable(TableSpec(parsing: "cdb:\(scratch)/none"))) { error in
            XCTAssertEqual(error as? TableError, .unavailable("open database \(scratch)/none.cdb: No such file or directory"))
        }
        writeTableFile(scratch + "/short.cdb", "tiny")
        XCTAssertThrowsError(try TableRegistry.openTable(TableSpec(parsing: "cdb:\(scratch)/short"))) { error in
            guard case .unavailable(let text)? = error as? TableError else { return XCTFail("\(error)") }
            XCTAssertTrue(text.hasPrefix("unable to init \(scratch)/short.cdb: "), text)
        }
    }

    func testHashAndBtreeAreServedByCDB() throws {
        try build("h", [("a", "1")])
        XCTAssertEqual(try openTestTable("hash:\(scratch)/h")?.lookup("a"), "1")
        XCTAssertEqual(try openTestTable("btree:\(scratch)/h")?.lookup("A"), "1")
        XCTAssertEqual(try openTestTable("proxy:hash:\(scratch)/h")?.lookup("a"), "1")
    }
}
