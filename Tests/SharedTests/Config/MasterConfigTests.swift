// master.cf parsing: columns and their defaults, names, continuations, braces, duplicates.
import XCTest

@testable import Shared

final class MasterConfigTests: XCTestCase {
    func parse(_ text: String) throws -> MasterConfig {
        try MasterConfig.parse(text, path: "master.cf", defaultProcessLimit: 100)
    }

    func testColumnsAndDefaults() throws {
        let m = try parse("""
            # service type  private unpriv  chroot  wakeup  maxproc command + args
            smtp      inet  n       -       n       -       -       smtpd
            pickup    unix  n       -       n       60      1       pickup
            tlsmgr    unix  -       -       n       1000?   1       tlsmgr
            local     unix  -       n       n       -       0       local
            """)
        XCTAssertEqual(m.entries.count, 4)
        let smtp = m.entries[0]
        XCTAssertEqual(smtp.type, .inet)
        XCTAssertFalse(smtp.isPrivate)
        XCTAssertTrue(smtp.unprivileged)
        XCTAssertFalse(smtp.chroot)
        XCTAssertEqual(smtp.maxproc, 100)
        XCTAssertEqual(smtp.inetPort, 25)
        XCTAssertNil(smtp.inetHost)
        XCTAssertEqual(smtp.key, "inet:*:25")
        XCTAssertEqual(m.entries[1].wakeup, 60)
        XCTAssertFalse(m.entries[1].wakeupConditional)
        XCTAssertEqual(m.entries[1].socketPath, "public/pickup")
        XCTAssertEqual(m.entries[2].wakeup, 1000)
        XCTAssertTrue(m.entries[2].wakeupConditional)
        XCTAssertTrue(m.entries[2].isPrivate)
        XCTAssertEqual(m.entries[2].socketPath, "private/tlsmgr")
        XCTAssertFalse(m.entries[3].unprivileged)
        XCTAssertEqual(m.entries[3].maxproc, 0)
    }

    func testInetNames() throws {
        let cases: [(String, String?, UInt16)] = [
            ("2525", nil, 2525), ("127.0.0.1:2525", "127.0.0.1", 2525), ("[::1]:submission", "::1", 587),
            ("localhost:smtp", "localhost", 25), ("[127.0.0.1]:26", "127.0.0.1", 26), ("*:27", nil, 27),
        ]
        for (name, host, port) in cases {
            let e = try parse("\(name) inet n - n - - smtpd").entries[0]
            XCTAssertEqual(e.inetHost, host, name)
            XCTAssertEqual(e.inetPort, port, name)
        }
        // `smtp` and `25` are the same service.
        XCTAssertEqual(try parse("smtp inet n - n - - smtpd").entries[0].key, try parse("25 inet n - n - - smtpd").entries[0].key)
    }

    func testArgumentsContinuationsAndBraces() throws {
        let m = try parse("""
            submission inet n - n - - smtpd
              -o syslog_name=postfix/submission
              -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }
            policy unix - n n - 0 spawn user=nobody argv=/usr/bin/policyd { with space }
            """)
        let sub = m.entries[0]
        XCTAssertEqual(sub.command, "smtpd")
        XCTAssertEqual(sub.arguments, ["-o", "syslog_name=postfix/submission", "-o", "smtpd_client_restrictions=permit_sasl_authenticated, reject"])
        XCTAssertEqual(sub.override("smtpd_client_restrictions"), "permit_sasl_authenticated, reject")
        XCTAssertEqual(sub.line, 1)
        XCTAssertEqual(m.entries[1].arguments, ["user=nobody", "argv=/usr/bin/policyd", "with space"])
        XCTAssertEqual(m.entries[1].line, 4)
    }

    func testDuplicateEntryLastWinsWithWarning() throws {
        let m = try parse("smtp inet n - n - 5 smtpd\npickup unix n - n 60 1 pickup\n25 inet n - n - 9 smtpd -v\n")
        XCTAssertEqual(m.entries.map(\.name), ["pickup", "25"])
        XCTAssertEqual(m.entries[1].maxproc, 9)
        XCTAssertEqual(m.warnings, ["master.cf: line 3: duplicate master.cf entry for service \"25\" (inet) -- using the last entry"])
    }

    func testTypes() throws {
        for t in ServiceType.allCases {
            let line = t == .inet ? "26 inet n - n - - cmd" : "svc \(t.rawValue) - - n - - cmd"
            XCTAssertEqual(try parse(line).entries[0].type, t)
        }
    }
}
