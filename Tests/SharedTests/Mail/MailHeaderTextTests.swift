// Header text as Postfix writes it: mail dates in several time zones, the Received:
// forms of smtpd and pickup, local-part quoting, full-name phrases, header-name parsing.
import Glibc
import XCTest

@testable import Shared

/// Runs BODY with the process time zone set to ZONE, then restores it.
func withTimeZone<T>(_ zone: String, _ body: () throws -> T) rethrows -> T {
    let saved = getenv("TZ").map { String(cString: $0) }
    setenv("TZ", zone, 1)
    tzset()
    defer {
        if let saved { setenv("TZ", saved, 1) } else { unsetenv("TZ") }
        tzset()
    }
    return try body()
}

final class MailHeaderTextTests: XCTestCase {
    func testMailDate() {
        let cases: [(zone: String, seconds: Int, text: String)] = [
            ("UTC", 1_795_606_843, "Wed, 25 Nov 2026 11:40:43 +0000 (UTC)"),  // observed
            ("UTC", 1_793_876_400, "Thu,  5 Nov 2026 11:00:00 +0000 (UTC)"),  // %e pads with a space
            ("Asia/Kolkata", 1_795_606_843, "Wed, 25 Nov 2026 17:10:43 +0530 (IST)"),
            ("America/St_Johns", 1_795_606_843, "Wed, 25 Nov 2026 08:10:43 -0330 (NST)"),
            ("America/St_Johns", 1_782_900_000, "Wed,  1 Jul 2026 07:30:00 -0230 (NDT)"),
        ]
        for c in cases {
            XCTAssertEqual(withTimeZone(c.zone) { MailDate.rfc2822(c.seconds) }, c.text, c.zone)
        }
        XCTAssertEqual(withTimeZone("Asia/Kolkata") { MailDate.compactUTC(1_795_606_843) }, "20261125114043")
    }

    func testReceivedBySMTPD() {
        withTimeZone("UTC") {
            XCTAssertEqual(ReceivedHeader.smtp(heloName: "client.example.org", clientName: "localhost", clientAddress: "127.0.0.1",
                                               protocolName: "ESMTP", myhostname: "mx.example.test", mailName: "Postern",
                                               queueID: "E173FF7C139", recipient: nil, time: 1_795_606_843),
                           "Received: from client.example.org (localhost [127.0.0.1])\n"
                               + "\tby mx.example.test (Postern) with ESMTP id E173FF7C139;\n"
                               + "\tWed, 25 Nov 2026 11:40:43 +0000 (UTC)")
            XCTAssertEqual(ReceivedHeader.smtp(heloName: nil, clientName: "unknown", clientAddress: "2001:db8::1",
                                               protocolName: "ESMTPSA", myhostname: "mx.example.test", mailName: "Postern",
                                               queueID: "E173FF7C139", recipient: "john doe@example.test", time: 1_795_606_843,
                                               commentLines: ["(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))"],
                                               authenticatedSender: "alice (admin)"),
                           "Received: from unknown (unknown [IPv6:2001:db8::1])\n"
                               + "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\n"
                               + "\t(Authenticated sender: alice \\(admin\\))\n"
                               + "\tby mx.example.test (Postern) with ESMTPSA id E173FF7C139\n"
                               + "\tfor <\"john doe\"@example.test>; Wed, 25 Nov 2026 11:40:43 +0000 (UTC)")
        }
    }

    func testReceivedByPickup() {
        let header = withTimeZone("UTC") {
            ReceivedHeader.pickup(myhostname: "mx.example.test", mailName: "Postfix", uid: 0, queueID: "C76A7F7C7A9",
                                  time: 1_795_606_920)
        }
        XCTAssertEqual(header, "Received: by mx.example.test (Postfix, from userid 0)\n\tid C76A7F7C7A9; Wed, 25 Nov 2026 11:42:00 +0000 (UTC)")
    }

    func testQuoteLocalPart() {
        let cases: [(String, String)] = [
            ("user@example.com", "user@example.com"),
            ("first.last+tag@example.com", "first.last+tag@example.com"),
            ("john doe@example.com", "\"john doe\"@example.com"),
            ("a\"b\\c@example.com", "\"a\\\"b\\\\c\"@example.com"),
            (".lead@example.com", "\".lead\"@example.com"),
            ("two..dots@example.com", "\"two..dots\"@example.com"),
            ("trail.@example.com", "\"trail.\"@example.com"),
            ("at@sign@example.com", "\"at@sign\"@example.com"),
            ("@relay.example:user name@example.com", "@relay.example:\"user name\"@example.com"),
            ("postmaster", "postmaster"),
            ("jörg@example.com", "jörg@example.com"),
            ("", "\"\""),
        ]
        for (address, quoted) in cases { XCTAssertEqual(RFC822Quoting.quoteLocalPart(address), quoted, address) }
    }

    func testPhraseAndComment() {
        XCTAssertEqual(RFC822Quoting.phrase("root"), "root")
        XCTAssertEqual(RFC822Quoting.phrase("John Q Public"), "John Q Public")
        XCTAssertEqual(RFC822Quoting.phrase("John Q. Public"), "\"John Q. Public\"")
        XCTAssertEqual(RFC822Quoting.phrase("Say \"hi\""), "\"Say \\\"hi\\\"\"")
        XCTAssertEqual(RFC822Quoting.phrase("two  spaces"), "\"two  spaces\"")
        XCTAssertEqual(RFC822Quoting.phrase("Jörg"), "=?utf-8?B?SsO2cmc=?=")
        let long = RFC822Quoting.phrase(String(repeating: "é", count: 40))
        let words = long.split(separator: " ")
        XCTAssertEqual(words.count, 2)
        XCTAssertTrue(words.allSatisfy { $0.count <= 75 && $0.hasPrefix("=?utf-8?B?") && $0.hasSuffix("?=") })
        XCTAssertEqual(RFC822Quoting.commentText("a (b) \\c\td"), "a \\(b\\) \\\\c?d")
    }

    func testHeaderNames() {
        let cases: [(String, Int?, Int?)] = [
            ("Subject: hi", 7, 7),
            ("Subject  : hi", 7, 9),
            ("X-Weird!#$: v", 10, 10),
            ("Subject", nil, nil),
            (": value", nil, nil),
            (" Subject: hi", nil, nil),
            ("Two Words: no", nil, nil),
            ("Caf\u{e9}: no", nil, nil),
            ("From someone@example.com Mon Nov 23", nil, nil),
            ("", nil, nil),
        ]
        for (line, length, colon) in cases {
            var text = line
            let name = text.withUTF8 { MessageHeader.name(in: UnsafeRawBufferPointer($0)) }
            XCTAssertEqual(name?.length, length, line)
            XCTAssertEqual(name?.colon, colon, line)
        }
        XCTAssertTrue(MessageHeader.isHeader("To: undisclosed-recipients:;"))
        XCTAssertFalse(MessageHeader.isHeader("undisclosed"))
    }
}
