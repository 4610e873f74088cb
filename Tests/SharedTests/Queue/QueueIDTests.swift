// Queue IDs against Postfix's: short and long forms from observed IDs, validation of
// file names, and the hashed subdirectory rule.
import XCTest

@testable import Shared

final class QueueIDTests: XCTestCase {
    func testShortIDsAsPostfixMakesThem() {
        let cases: [(micros: Int, inode: UInt64, id: String)] = [
            (0xE173F, 0xF7C139, "E173FF7C139"),  // observed: usec E173F, inode F7C139
            (0x6737E, 0xF7C71D, "6737EF7C71D"),
            (5, 0x1, "000051"),
            (999_999, 0xFFFF_FFFF_FFFF_FFFF, "F423FFFFFFFFFFFFFFFFF"),
        ]
        for c in cases {
            XCTAssertEqual(QueueID.make(seconds: 1_795_606_912, micros: c.micros, inode: c.inode, long: false), c.id)
            XCTAssertTrue(QueueID.isShort(c.id), c.id)
            XCTAssertTrue(QueueID.isValid(c.id), c.id)
            XCTAssertEqual(QueueID.microseconds(of: c.id), c.micros)
            XCTAssertEqual(QueueID.inode(of: c.id), c.inode)
        }
    }

    func testLongIDsAsPostfixMakesThem() {
        // Observed 4jZHpT4Lvxz2NP9J: 2026-11-25 11:42:09 UTC, usec 613597, inode 0xF7C7B6.
        let observed = "4jZHpT4Lvxz2NP9J"
        XCTAssertEqual(QueueID.make(seconds: 1_795_606_929, micros: 613_597, inode: 0xF7C7B6, long: true), observed)
        XCTAssertTrue(QueueID.isLong(observed))
        XCTAssertFalse(QueueID.isShort(observed))
        XCTAssertEqual(QueueID.microseconds(of: observed), 613_597)
        XCTAssertEqual(QueueID.inode(of: observed), 0xF7C7B6)
        let cases: [(seconds: Int, micros: Int, inode: UInt64, id: String)] = [
            (0, 0, 0, "0000000000z0"),  // seconds padded to 6, micros to exactly 4
            (52 * 52 * 52 * 52 * 52 * 52, 51, 50, "1000000000zzy"),  // 7 second digits; micros ending in z
            (1, 999_999, 51, "00000175plz10"),
        ]
        for c in cases {
            let id = QueueID.make(seconds: c.seconds, micros: c.micros, inode: c.inode, long: true)
            XCTAssertEqual(id, c.id)
            XCTAssertTrue(QueueID.isLong(id), id)
            XCTAssertEqual(QueueID.microseconds(of: id), c.micros)
            XCTAssertEqual(QueueID.inode(of: id), c.inode)
        }
    }

    func testNamesThatAreNotQueueIDs() {
        for name in ["", "E173F", "e173ff7c139", "E173FF7C13G", "F4240A", "917345.4242", "E173F F7C139",
                     "0000000000z", "000000000z0", "0000000000zz", "000000aeiouz0", "00000008FjMz1",
                     "E173FF7C139E173FF7C139", "0000000000z0000000000000"] {
            XCTAssertFalse(QueueID.isValid(name), name)
        }
        XCTAssertNil(QueueID.inode(of: "917345.4242"))
    }

    func testHashedSubdirectory() {
        let cases: [(id: String, depth: Int, directory: String)] = [
            ("6737EF7C71D", 1, "6"),  // observed deferred/6/6737EF7C71D
            ("6737EF7C71D", 2, "6/7"),
            ("6737EF7C71D", 0, ""),
            ("4jZHpT4Lvxz2NP9J", 1, "9"),  // usec 613597 = 0x95CDD
            ("4jZHpT4Lvxz2NP9J", 3, "9/5/C"),
            ("0000000000z0", 6, "0/0/0/0/0/_"),
        ]
        for c in cases {
            XCTAssertEqual(QueueID.hashDirectory(for: c.id, depth: c.depth), c.directory, "\(c.id) depth \(c.depth)")
        }
    }
}
