// sendmail without processes: the command line as Postfix's sendmail reads it (modes,
// envelope flags, the flags it ignores, `mailq` and `newaliases`), the recipients `-t`
// finds in a header block, and the `-bs` SMTP session line by line.
import XCTest

@testable import Shared
@testable import sendmail

final class SendmailOptionsTests: XCTestCase {
    func parse(_ arguments: [String], program: String = "sendmail") -> SendmailOptions? {
        try? SendmailOptions.parse(arguments, program: program).get()
    }

    func testEnvelopeFlags() throws {
        let o = try XCTUnwrap(parse(["-t", "-i", "-f", "<root@example.com>", "-F", "Root User", "-N", "success,delay",
                                     "-R", "hdrs", "-V", "env1", "-C", "/etc/alt/main.cf", "a@example.com", "b"]))
        XCTAssertEqual(o.mode, .deliver)
        XCTAssertTrue(o.extractRecipients)
        XCTAssertTrue(o.ignoreDots)
        XCTAssertEqual(o.sender, "<root@example.com>")
        XCTAssertEqual(o.fullName, "Root User")
        XCTAssertEqual(o.notify, "success,delay")
        XCTAssertEqual(o.dsnReturn, "hdrs")
        XCTAssertEqual(o.dsnEnvelopeID, "env1")
        XCTAssertEqual(o.configDirectory, "/etc/alt")
        XCTAssertEqual(o.recipients, ["a@example.com", "b"])
        XCTAssertEqual(parse(["-r", "x@y", "-oi", "u"])?.sender, "x@y")
        XCTAssertEqual(parse(["-oi", "u"])?.ignoreDots, true)
        XCTAssertEqual(parse(["-C", "/etc/alt", "u"])?.configDirectory, "/etc/alt")
    }

    func testModes() {
        XCTAssertEqual(parse(["-bs"])?.mode, .smtp)
        XCTAssertEqual(parse(["-bp"])?.mode, .listQueue)
        XCTAssertEqual(parse(["-bi"])?.mode, .newAliases)
        XCTAssertEqual(parse(["-I"])?.mode, .newAliases)
        XCTAssertEqual(parse(["-bd"])?.mode, .startDaemon)
        XCTAssertEqual(parse(["-bm", "u"])?.mode, .deliver)
        XCTAssertEqual(parse(["-q"])?.mode, .flush(site: nil))
        XCTAssertEqual(parse(["-qRexample.com"])?.mode, .flush(site: "example.com"))
        XCTAssertEqual(parse(["-qIABCDE12"])?.mode, .flushMessage("ABCDE12"))
        XCTAssertEqual(parse(["-q15m", "u"])?.mode, .deliver, "an interval alone is ignored")
        XCTAssertEqual(parse(["-bh", "u"])?.mode, .deliver, "-bh is ignored")
        XCTAssertEqual(parse([], program: "mailq")?.mode, .listQueue)
        XCTAssertEqual(parse([], program: "newaliases")?.mode, .newAliases)
        XCTAssertEqual(parse(["-bi", "-oA/etc/other-aliases"])?.aliasDatabase, "/etc/other-aliases")
    }

    func testIgnoredAndBadFlags() {
        let ignored = parse(["-B", "8BITMIME", "-G", "-h", "5", "-L", "label", "-m", "-n", "-om", "-oee", "-O", "x=y",
                             "-p", "smtp", "-U", "-v", "-x", "-c", "-e", "p", "-X", "/tmp/log", "u"])
        XCTAssertEqual(ignored?.recipients, ["u"])
        XCTAssertEqual(ignored?.mode, .deliver)
        guard case .failure(let bad) = SendmailOptions.parse(["-Z"], program: "sendmail") else { return XCTFail("-Z accepted") }
        XCTAssertEqual(bad.message, "invalid option -- 'Z'")
        guard case .failure(let mode) = SendmailOptions.parse(["-bv"], program: "sendmail") else { return XCTFail("-bv accepted") }
        XCTAssertEqual(mode.message, "unsupported: -bv")
        guard case .failure(let missing) = SendmailOptions.parse(["-f"], program: "sendmail") else { return XCTFail() }
        XCTAssertEqual(missing.message, "option requires an argument -- 'f'")
    }
}

final class SendmailHeaderRecipientsTests: XCTestCase {
    /// Feeds TEXT line by line as InputLines would, until the collector stops.
    func recipients(_ text: String) -> [String] {
        var collector = HeaderRecipients()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !collector.feed(LinePiece(bytes: Array(line.utf8)[...], endsLine: true, startsLine: true)) { break }
        }
        collector.finish()
        return collector.recipients
    }

    func testToCcBccWithContinuations() {
        XCTAssertEqual(recipients("""
            From: me
            To: a@example.com,
              "B, Jr." <b@example.com>
            Subject: To: not@example.com
            CC: c@example.com
            bcc: hidden@example.com

            To: body@example.com
            """), ["a@example.com", "b@example.com", "c@example.com", "hidden@example.com"])
    }

    func testResentHeadersWin() {
        XCTAssertEqual(recipients("To: old@example.com\nResent-To: new@example.com\nResent-Bcc: n2@example.com\n\n"),
                       ["new@example.com", "n2@example.com"])
    }

    func testHeaderBlockEndsAtTheFirstNonHeaderLine() {
        XCTAssertEqual(recipients("To: a@example.com\nthis is body text\nCc: late@example.com\n"), ["a@example.com"])
        XCTAssertEqual(recipients(" leading white space\nTo: a@example.com\n"), [])
    }

    func testLongLineInPieces() {
        var collector = HeaderRecipients()
        XCTAssertTrue(collector.feed(LinePiece(bytes: Array("To: a@exa".utf8)[...], endsLine: false, startsLine: true)))
        XCTAssertTrue(collector.feed(LinePiece(bytes: Array("mple.com, b@example.com".utf8)[...], endsLine: true, startsLine: false)))
        XCTAssertFalse(collector.feed(LinePiece(bytes: [], endsLine: true, startsLine: true)))
        collector.finish()
        XCTAssertEqual(collector.recipients, ["a@example.com", "b@example.com"])
    }
}

final class SendmailSMTPSessionTests: XCTestCase {
    func session() -> SubmissionSession {
        SubmissionSession(hostname: "mx.example.test", sizeLimit: 1000, fullName: "Joe")
    }

    func testDialogToData() {
        var s = session()
        XCTAssertEqual(s.command("EHLO client"),
                       .reply("250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME"))
        XCTAssertEqual(s.command("mail from:<a@example.org> SIZE=10 BODY=8BITMIME"), .reply("250 2.1.0 Ok"))
        XCTAssertEqual(s.command("RCPT TO:<b@example.net>"), .reply("250 2.1.5 Ok"))
        XCTAssertEqual(s.command("RCPT TO:c@example.net"), .reply("250 2.1.5 Ok"))
        XCTAssertEqual(s.command("DATA"), .data(SubmissionEnvelope(sender: "a@example.org", fullName: "Joe",
                                                                      recipients: ["b@example.net", "c@example.net"])))
        XCTAssertEqual(s.dataFinished(.success("ABCDE12")), "250 2.0.0 Ok: queued as ABCDE12")
        XCTAssertEqual(s.command("DATA"), .reply("503 5.5.1 Error: need MAIL command"), "the transaction was reset")
        XCTAssertEqual(s.command("MAIL FROM:<>"), .reply("250 2.1.0 Ok"))
        XCTAssertEqual(s.command("RCPT TO:<x@y>"), .reply("250 2.1.5 Ok"))
        XCTAssertEqual(s.command("DATA"), .data(SubmissionEnvelope(sender: "", fullName: "Joe", recipients: ["x@y"])))
        XCTAssertEqual(s.dataFinished(.failure(SubmissionFailure("message file too big"))), "552 5.3.4 Error: message file too big")
        XCTAssertEqual(s.dataFinished(.failure(SubmissionFailure("premature end of input"))), "451 4.3.0 Error: queue file write error")
        XCTAssertEqual(s.command("QUIT"), .quit("221 2.0.0 Bye"))
    }

    func testErrors() {
        var s = session()
        XCTAssertEqual(s.command("HELO"), .reply("501 Syntax: HELO hostname"))
        XCTAssertEqual(s.command("HELO client"), .reply("250 mx.example.test"))
        XCTAssertEqual(s.command("RCPT TO:<a@b>"), .reply("503 5.5.1 Error: need MAIL command"))
        XCTAssertEqual(s.command("MAIL FROM:"), .reply("501 5.5.4 Syntax: MAIL FROM:<address>"))
        XCTAssertEqual(s.command("MAIL FROM:<a@b> SIZE=5000"), .reply("552 5.3.4 Message size exceeds fixed limit"))
        XCTAssertEqual(s.command("MAIL FROM:<a@b> AUTH=<>"), .reply("555 5.5.4 Unsupported option: AUTH=<>"))
        XCTAssertEqual(s.command("MAIL FROM:<a@b>"), .reply("250 2.1.0 Ok"))
        XCTAssertEqual(s.command("MAIL FROM:<a@b>"), .reply("503 5.5.1 Error: nested MAIL command"))
        XCTAssertEqual(s.command("DATA"), .reply("503 5.5.1 Error: need RCPT command"))
        XCTAssertEqual(s.command("RCPT TO:<>"), .reply("501 5.1.3 Bad recipient address syntax"))
        XCTAssertEqual(s.command("RCPT TO:<a@b> NOTIFY=NEVER"), .reply("555 5.5.4 Unsupported option: NOTIFY=NEVER"))
        XCTAssertEqual(s.command("RCPT TO:<a@b>"), .reply("250 2.1.5 Ok"))
        XCTAssertEqual(s.command("DATA now"), .reply("501 5.5.4 Syntax: DATA"))
        XCTAssertEqual(s.command("VRFY root"), .reply("252 2.0.0 root"))
        XCTAssertEqual(s.command("NOOP"), .reply("250 2.0.0 Ok"))
        XCTAssertEqual(s.command("STARTTLS"), .reply("500 5.5.2 Error: command not recognized"))
        XCTAssertEqual(s.command("RSET"), .reply("250 2.0.0 Ok"))
        XCTAssertEqual(s.command("DATA"), .reply("503 5.5.1 Error: need MAIL command"))
    }
}
