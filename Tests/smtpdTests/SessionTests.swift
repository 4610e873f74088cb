// The SMTP session state machine line by line: every reply of reference §4.2 that smtpd
// gives without TLS or SASL, against a fake queue.
import XCTest

@testable import Shared
@testable import smtpd

final class FakeTransaction: MessageTransaction {
    let queueID: String
    var recipients: [String] = []
    var originals: [String?] = []
    var lines: [String] = []
    var committed = false
    var aborted = false
    var failWith: Error?

    init(_ id: String) { queueID = id }
    func addRecipient(_ address: String, originalRecipient: String?, notify: String?) throws {
        recipients.append(address)
        originals.append(originalRecipient)
    }
    func beginContent(recipients: [String]) throws {}
    func contentLine(_ line: ArraySlice<UInt8>) throws {
        if let e = failWith { throw e }
        lines.append(String(decoding: line, as: UTF8.self))
    }
    func commit() throws -> String {
        committed = true
        return "<20261125.\(queueID)@mx.example.test>"
    }
    func abort() { aborted = true }
}

final class FakeStore: MessageStore {
    var transactions: [FakeTransaction] = []
    func begin(_ envelope: EnvelopeInfo) throws -> MessageTransaction {
        let t = FakeTransaction("4A1B2C3D\(transactions.count)")
        transactions.append(t)
        return t
    }
}

final class SessionTests: XCTestCase {
    var store = FakeStore()

    func session(_ main: String = "", client: String = "192.0.2.7", users: Set<String> = ["alice", "postmaster"]) throws -> SMTPSession {
        let config = MainConfig(directory: "/nonexistent")
        try config.parse("""
            compatibility_level = 3.7
            myhostname = mx.example.test
            mydomain = example.test
            mydestination = $myhostname, $mydomain, localhost
            mynetworks = 127.0.0.0/8
            smtpd_error_sleep_time = 0
            \(main)
            """)
        let settings = SMTPDSettings(config)
        let restrictions = try Restrictions(config: config, settings: settings)
        restrictions.localRecipientExists = { address in users.contains(MailAddress(address).localPart.asciiLowercased) }
        let identity = ClientIdentity(address: client, port: 4000, name: "client.example.org", reverseName: "client.example.org")
        return SMTPSession(settings: settings, restrictions: restrictions, store: store, client: identity)
    }

    /// Runs COMMANDS and returns every reply line as `CODE text`.
    func dialog(_ s: SMTPSession, _ commands: [String]) -> [String] {
        var out: [String] = []
        for c in commands {
            let outcome = s.command(Array(c.utf8))
            out += outcome.replies.flatMap { r in r.lines.map { "\(r.code) " + (r.enhanced.map { $0 + " " } ?? "") + $0 } }
        }
        return out
    }

    func testGreetingAndHelo() throws {
        let s = try session("smtpd_banner = $myhostname ESMTP Why, hello there!")
        XCTAssertEqual(s.greeting().replies, [SMTPReply(220, nil, "mx.example.test ESMTP Why, hello there!")])
        XCTAssertEqual(dialog(s, ["HELO", "EHLO", "HELO client.example.org"]),
                       ["501 Syntax: HELO hostname", "501 Syntax: EHLO hostname", "250 mx.example.test"])
    }

    func testEhloKeywordsInPostfixOrder() throws {
        let s = try session()
        XCTAssertEqual(dialog(s, ["EHLO c.example.org"]), [
            "250 mx.example.test", "250 PIPELINING", "250 SIZE 10240000", "250 VRFY", "250 ETRN", "250 ENHANCEDSTATUSCODES",
            "250 8BITMIME", "250 DSN", "250 SMTPUTF8", "250 CHUNKING",
        ])
        let wire = s.command(Array("EHLO c".utf8)).replies[0].wire
        XCTAssertTrue(wire.hasPrefix("250-mx.example.test\r\n250-PIPELINING\r\n"))
        XCTAssertTrue(wire.hasSuffix("250 CHUNKING\r\n"))
        let trimmed = try session("disable_vrfy_command = yes\nmessage_size_limit = 0\nsmtpd_discard_ehlo_keywords = chunking, dsn")
        XCTAssertEqual(dialog(trimmed, ["EHLO c"]), [
            "250 mx.example.test", "250 PIPELINING", "250 SIZE", "250 ETRN", "250 ENHANCEDSTATUSCODES", "250 8BITMIME", "250 SMTPUTF8",
        ])
    }

    func testTheClassicDialog() throws {
        let s = try session()
        XCTAssertEqual(dialog(s, ["EHLO c.example.org", "MAIL FROM: testuser@internet.com", "RCPT TO: alice@example.test", "DATA"]).suffix(3),
                       ["250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"])
        s.contentLine(Array("Subject: Hello!".utf8)[...])
        s.contentLine([][...])
        s.contentLine(Array("How have you been?".utf8)[...])
        let end = s.endOfData()
        XCTAssertEqual(end.replies, [SMTPReply(250, "2.0.0", "Ok: queued as 4A1B2C3D0")])
        let t = store.transactions[0]
        XCTAssertTrue(t.committed)
        XCTAssertEqual(t.recipients, ["alice@example.test"])
        XCTAssertEqual(t.originals, ["rfc822;alice@example.test"])
        XCTAssertEqual(t.lines, ["Subject: Hello!", "", "How have you been?"])
        XCTAssertEqual(dialog(s, ["QUIT"]), ["221 2.0.0 Bye"])
    }

    func testSequenceErrors() throws {
        let s = try session("smtpd_helo_required = yes")
        XCTAssertEqual(dialog(s, ["MAIL FROM:<a@b.example>"]), ["503 5.5.1 Error: send HELO/EHLO first"])
        XCTAssertEqual(dialog(s, ["EHLO c", "RCPT TO:<alice@example.test>", "DATA"]).suffix(2),
                       ["503 5.5.1 Error: need MAIL command", "503 5.5.1 Error: need RCPT command"])
        XCTAssertEqual(dialog(s, ["MAIL FROM:<a@b.example>", "MAIL FROM:<a@b.example>", "DATA"]),
                       ["250 2.1.0 Ok", "503 5.5.1 Error: nested MAIL command", "503 5.5.1 Error: need RCPT command"])
        XCTAssertEqual(dialog(s, ["RCPT TO:<nobody@example.test>", "DATA"]),
                       ["550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in local recipient table",
                        "554 5.5.1 Error: no valid recipients"])
    }

    func testSyntaxErrors() throws {
        let s = try session()
        let replies = dialog(s, [
            "EHLO c", "MAIL", "MAIL TO:<a@b>", "MAIL FROM:<a b@c>", "MAIL FROM:<a@b", "MAIL FROM:<a@b> SIZE=abc",
            "MAIL FROM:<a@b> FOO=1", "MAIL FROM:<a@b> RET=SOME", "MAIL FROM:<a@b> SIZE=20000000",
            "MAIL FROM:<>", "RCPT TO:<>", "RCPT", "RCPT TO:<alice@example.test> NOTIFY=SOMETIMES",
            "RCPT TO:<alice@example.test> ORCPT=bad", "DATA extra", "RSET now", "VRFY", "FOO", "NOOP",
        ])
        XCTAssertEqual(Array(replies.dropFirst(10)), [
            "501 5.5.4 Syntax: MAIL FROM:<address>", "501 5.5.4 Syntax: MAIL FROM:<address>", "501 5.1.7 Bad sender address syntax",
            "501 5.1.7 Bad sender address syntax", "501 5.5.4 Bad message size syntax", "555 5.5.4 Unsupported option: FOO=1",
            "501 5.5.4 Bad RET parameter syntax", "552 5.3.4 Message size exceeds fixed limit", "250 2.1.0 Ok",
            "501 5.1.3 Bad recipient address syntax", "501 5.5.4 Syntax: RCPT TO:<address>",
            "501 5.5.4 Error: Bad NOTIFY parameter syntax", "501 5.5.4 Error: Bad ORCPT parameter syntax",
            "501 5.5.4 Syntax: DATA", "501 5.5.4 Syntax: RSET", "501 5.5.4 Syntax: VRFY address",
            "500 5.5.2 Error: command not recognized", "250 2.0.0 Ok",
        ])
    }

    func testRelayControlAndRecipientChecks() throws {
        let s = try session()
        XCTAssertEqual(dialog(s, ["EHLO c", "MAIL FROM:<a@remote.example>", "RCPT TO:<someone@elsewhere.example.net>",
                                  "RCPT TO:<nonexistent@example.test>", "RCPT TO:<postmaster>", "RCPT TO:<ALICE@Example.TEST>"]).suffix(4),
                       ["454 4.7.1 <someone@elsewhere.example.net>: Relay access denied",
                        "550 5.1.1 <nonexistent@example.test>: Recipient address rejected: User unknown in local recipient table",
                        "250 2.1.5 Ok", "250 2.1.5 Ok"])
        let trusted = try session(client: "127.0.0.1")
        XCTAssertEqual(dialog(trusted, ["EHLO c", "MAIL FROM:<a@b.example>", "RCPT TO:<x@elsewhere.example.net>"]).last, "250 2.1.5 Ok")
        let strict = try session("smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination")
        XCTAssertEqual(dialog(strict, ["EHLO c", "MAIL FROM:<a@b.example>", "RCPT TO:<x@elsewhere.example.net>"]).last,
                       "554 5.7.1 <x@elsewhere.example.net>: Relay access denied")
        let soft = try session("soft_bounce = yes")
        XCTAssertEqual(dialog(soft, ["EHLO c", "MAIL FROM:<a@b.example>", "RCPT TO:<nobody@example.test>"]).last,
                       "450 4.1.1 <nobody@example.test>: Recipient address rejected: User unknown in local recipient table")
    }

    func testRestrictionListsAndDelayReject() throws {
        let s = try session("""
            smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname
            smtpd_sender_restrictions = reject_non_fqdn_sender
            """)
        XCTAssertEqual(dialog(s, ["HELO bad_helo!", "MAIL FROM:<a@b.example>", "RCPT TO:<alice@example.test>"]).last,
                       "501 5.5.2 <bad_helo!>: Helo command rejected: Invalid name")
        XCTAssertEqual(dialog(s, ["HELO nodots", "MAIL FROM:<a@b.example>", "RCPT TO:<alice@example.test>"]).last,
                       "504 5.5.2 <nodots>: Helo command rejected: need fully-qualified hostname")
        XCTAssertEqual(dialog(s, ["HELO ok.example.org", "MAIL FROM:<user@nodomain>", "RCPT TO:<alice@example.test>"]).last,
                       "504 5.5.2 <user@nodomain>: Sender address rejected: need fully-qualified address")
        let early = try session("smtpd_delay_reject = no\nsmtpd_client_restrictions = reject")
        XCTAssertEqual(early.greeting().replies.map(\.description), ["554 5.7.1 <client.example.org[192.0.2.7]>: Client host rejected: Access denied"])
        XCTAssertEqual(dialog(early, ["EHLO c", "QUIT"]),
                       ["503 5.7.0 Error: access denied for client.example.org[192.0.2.7]", "221 2.0.0 Bye"])
        let unknown = try session("smtpd_recipient_restrictions = no_such_rule, reject_unauth_destination")
        XCTAssertEqual(dialog(unknown, ["EHLO c", "MAIL FROM:<a@b.example>", "RCPT TO:<alice@example.test>"]).last,
                       "451 4.3.5 Server configuration error")
    }

    func testSanityCheckNeedsARelayGuard() throws {
        let s = try session("smtpd_relay_restrictions = permit_mynetworks\nsmtpd_recipient_restrictions = permit")
        XCTAssertThrowsError(try s.restrictions.sanityCheck())
        XCTAssertNoThrow(try session().restrictions.sanityCheck())
    }

    func testRecipientLimit() throws {
        let s = try session("smtpd_recipient_limit = 2")
        XCTAssertEqual(dialog(s, ["EHLO c", "MAIL FROM:<a@b.example>", "RCPT TO:<alice@example.test>", "RCPT TO:<alice@example.test>",
                                  "RCPT TO:<alice@example.test>"]).last, "452 4.5.3 Error: too many recipients")
    }

    func testForbiddenCommandsDisconnect() throws {
        for line in ["GET / HTTP/1.0", "CONNECT host:25", "Subject: hello", "POST /x"] {
            let s = try session()
            let outcome = s.command(Array(line.utf8))
            XCTAssertEqual(outcome.replies.map(\.description), ["221 2.7.0 Error: I can break rules, too. Goodbye."], line)
            XCTAssertEqual(outcome.next, .disconnect)
        }
    }

    func testErrorLimits() throws {
        let s = try session("smtpd_hard_error_limit = 3\nsmtpd_soft_error_limit = 1\nsmtpd_error_sleep_time = 1")
        XCTAssertEqual(s.command(Array("FOO".utf8)).delay, 0)
        XCTAssertNil(s.tooManyErrors())
        XCTAssertEqual(s.command(Array("FOO".utf8)).delay, 1, "past the soft limit each error waits")
        _ = s.command(Array("FOO".utf8))
        XCTAssertEqual(s.tooManyErrors()?.description, "421 4.7.0 mx.example.test Error: too many errors")
    }

    func testSizeLimitDuringData() throws {
        let s = try session("message_size_limit = 20")
        _ = dialog(s, ["EHLO c", "MAIL FROM:<a@b.example>", "RCPT TO:<alice@example.test>", "DATA"])
        s.contentLine(Array("0123456789".utf8)[...])
        s.contentLine(Array("0123456789".utf8)[...])
        XCTAssertEqual(s.endOfData().replies.map(\.description), ["552 5.3.4 Error: message file too big"])
        XCTAssertFalse(store.transactions[0].committed)
        XCTAssertTrue(store.transactions[0].aborted)
    }

    func testWriteErrorGives451AndNoCommit() throws {
        let s = try session()
        _ = dialog(s, ["EHLO c", "MAIL FROM:<a@b.example>", "RCPT TO:<alice@example.test>", "DATA"])
        store.transactions[0].failWith = SystemError("write", code: ENOSPC)
        s.contentLine(Array("x".utf8)[...])
        XCTAssertEqual(s.endOfData().replies.map(\.description), ["451 4.3.0 Error: queue file write error"])
        XCTAssertFalse(store.transactions[0].committed)
    }

    func testBdat() throws {
        let s = try session()
        _ = dialog(s, ["EHLO c", "MAIL FROM:<a@b.example>", "RCPT TO:<alice@example.test>"])
        XCTAssertEqual(s.command(Array("BDAT 10".utf8)).next, .chunk(10, last: false))
        s.chunkBytes(Array("Subject: b".utf8)[...])
        XCTAssertEqual(s.chunkDone(last: false).replies.map(\.description), ["250 2.0.0 Ok: 10 bytes"])
        XCTAssertEqual(dialog(s, ["DATA"]), ["503 5.5.1 Error: DATA after BDAT"])
        XCTAssertEqual(s.command(Array("BDAT 13 LAST".utf8)).next, .chunk(13, last: true))
        s.chunkBytes(Array("\r\n\r\nchunked\r\n".utf8)[...])
        XCTAssertEqual(s.chunkDone(last: true).replies.map(\.description), ["250 2.0.0 Ok: 23 bytes queued as 4A1B2C3D0"])
        XCTAssertEqual(store.transactions[0].lines, ["Subject: b", "", "chunked"])
        XCTAssertEqual(s.command(Array("BDAT x".utf8)).replies.map(\.description), ["521 5.5.4 Syntax: BDAT count [LAST]"])
        let t = try session()
        XCTAssertEqual(t.command(Array("BDAT 3 LAST".utf8)).next, .chunk(3, last: true))
        t.chunkBytes(Array("abc".utf8)[...])
        XCTAssertEqual(t.chunkDone(last: true).replies.map(\.description), ["503 5.5.1 Error: need RCPT command"])
    }

    func testVrfyAndEtrn() throws {
        let s = try session()
        XCTAssertEqual(dialog(s, ["VRFY alice", "VRFY nobody@example.test", "ETRN", "ETRN example.org"]), [
            "252 2.0.0 alice", "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in local recipient table",
            "500 Syntax: ETRN domain", "250 Queuing started",
        ])
        let off = try session("disable_vrfy_command = yes")
        XCTAssertEqual(dialog(off, ["VRFY alice"]), ["502 5.5.1 VRFY command is disabled"])
    }

    func testDisconnectCounters() throws {
        let s = try session()
        _ = dialog(s, ["EHLO c", "MAIL FROM:<a@b.example>", "RCPT TO:<alice@example.test>", "RCPT TO:<nobody@example.test>",
                       "RCPT TO:<x@y.example.net>", "DATA"])
        _ = s.endOfData()
        _ = dialog(s, ["QUIT"])
        XCTAssertEqual(s.log.ok["rcpt"], 1)
        XCTAssertEqual(s.log.total["rcpt"], 3)
        XCTAssertEqual(s.log.ok["data"], 1)
    }
}

final class PathTests: XCTestCase {
    func testPaths() {
        let cases: [(String, String?, [String])] = [
            ("<a@b.example>", "a@b.example", []), ("<>", "", []), ("a@b.example", "a@b.example", []),
            ("<a@b.example> SIZE=10 BODY=8BITMIME", "a@b.example", ["SIZE=10", "BODY=8BITMIME"]),
            ("<@relay.example,@r2.example:user@dom.example>", "user@dom.example", []),
            ("<\"john doe\"@example.com>", "\"john doe\"@example.com", []),
            ("<a@b", nil, []), ("<a b@c>", nil, []), ("<a@>", nil, []), ("<a@b>junk", nil, []),
        ]
        for (input, expected, params) in cases {
            let parsed = SMTPPath.parse(input, strict: false)
            XCTAssertEqual(parsed?.address, expected, input)
            if expected != nil { XCTAssertEqual(parsed?.parameters, params, input) }
        }
        XCTAssertNil(SMTPPath.parse("a@b.example", strict: true))
    }

    func testReplyParsing() {
        XCTAssertEqual(SMTPReply(parsing: "550 5.7.1 go away"), SMTPReply(550, "5.7.1", "go away"))
        XCTAssertEqual(SMTPReply(parsing: "450 try later"), SMTPReply(450, nil, "try later"))
        XCTAssertNil(SMTPReply(parsing: "hello"))
        XCTAssertEqual(SMTPReply(250, nil, lines: ["a", "b"]).wire, "250-a\r\n250 b\r\n")
    }

    func testHostnameSyntax() {
        XCTAssertTrue(HostnameSyntax.isValidHostname("mail.example.com"))
        XCTAssertTrue(HostnameSyntax.isValidHostname("under_score.example"))
        XCTAssertFalse(HostnameSyntax.isValidHostname("bad_helo!"))
        XCTAssertFalse(HostnameSyntax.isValidHostname("1.2.3.4"), "all-numeric")
        XCTAssertFalse(HostnameSyntax.isValidHostname("-lead.example"))
        XCTAssertFalse(HostnameSyntax.isValidHostname("a..b"))
        XCTAssertEqual(HostnameSyntax.truncatingDot("host.example."), "host.example")
        XCTAssertTrue(HostnameSyntax.isHostAddress("1.2.3.4"))
        XCTAssertTrue(HostnameSyntax.isMailHostAddress("IPv6:::1"))
        XCTAssertFalse(HostnameSyntax.isMailHostAddress("::1"))
        XCTAssertFalse(HostnameSyntax.isMailHostAddress("300.1.2.3"))
    }

    func testNetworkList() {
        let list = NetworkList(["127.0.0.0/8", "[::1]/128", "!192.0.2.9", "192.0.2.0/24", ".trusted.example"])
        XCTAssertTrue(list.matches(address: "127.1.2.3"))
        XCTAssertTrue(list.matches(address: "::1"))
        XCTAssertFalse(list.matches(address: "192.0.2.9"))
        XCTAssertTrue(list.matches(address: "192.0.2.10"))
        XCTAssertTrue(list.matches(address: "198.51.100.1", name: "mx.trusted.example"))
        XCTAssertFalse(list.matches(address: "198.51.100.1"))
    }
}
