// smtpd through a real master on loopback, spoken to by real clients (Python's smtplib,
// swaks, smtp-source and raw sockets): dialogs, pipelining, dot-stuffing, 8-bit and
// SMTPUTF8 content, BDAT, size limits, error limits, time-outs, aborted transfers, load,
// and durability when smtpd is killed in the middle of DATA.
import Foundation
import XCTest

@testable import Shared

final class SMTPDTests: XCTestCase {
    var instances: [TestInstance] = []

    override func tearDown() {
        instances.removeAll()
        super.tearDown()
    }

    func start(_ main: [String] = []) throws -> (TestInstance, UInt16) {
        let (inst, port) = try TestInstance.smtp(main: main)
        instances.append(inst)
        return (inst, port)
    }

    /// The content of the only queue file in incoming/.
    func queuedContent(_ inst: TestInstance) throws -> (QueueFile, String) {
        let files = inst.queueFiles()
        XCTAssertEqual(files.count, 1, "\(files)")
        let path = inst.spool + "/incoming/" + (files.first ?? "")
        let file = try QueueFile.read(path: path)
        let bytes = try FileIO.readBytes(path)
        let content = String(decoding: bytes[file.contentOffset..<(file.contentOffset + file.contentLength)], as: UTF8.self)
        return (file, content)
    }

    func python(_ script: String, _ args: [String]) -> (status: Int32, stdout: String, stderr: String) {
        runProgram("/usr/bin/python3", ["-c", script] + args)
    }

    func testSmtplibDialogQueuesTheMessage() throws {
        let (inst, port) = try start(["smtpd_banner = $myhostname ESMTP Why, hello there!"])
        let r = python("""
            import smtplib, sys
            s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
            print(s.ehlo("client.example.org")[0])
            print(s.sendmail("testuser@internet.com", ["root@example.test"], "Subject: Hello!\\r\\n\\r\\nHow have you been?\\r\\n"))
            s.quit()
            """, [String(port)])
        XCTAssertEqual(r.stdout, "250\n{}\n", r.stderr)
        let (file, content) = try queuedContent(inst)
        XCTAssertEqual(file.envelope.sender, "testuser@internet.com")
        XCTAssertEqual(file.recipients.map(\.address), ["root@example.test"])
        XCTAssertTrue(content.hasPrefix("Received: from client.example.org (localhost [127.0.0.1])\n\tby mx.example.test (Postern) with ESMTP id "), content)
        XCTAssertTrue(content.contains("\tfor <root@example.test>; "))
        XCTAssertTrue(content.contains("\nSubject: Hello!\n"), content)
        XCTAssertTrue(content.hasSuffix("\n\nHow have you been?\n"), content)
        XCTAssertTrue(content.contains("\nMessage-Id: <"), "a local client's message gets the missing headers")
        XCTAssertTrue(eventually { inst.log.contains("disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5") }, inst.log)
        XCTAssertTrue(inst.log.contains("connect from localhost[127.0.0.1]"))
        XCTAssertTrue(inst.log.contains(": client=localhost[127.0.0.1]"))
        XCTAssertTrue(inst.log.contains(": message-id=<"))
    }

    func testSwaksDialog() throws {
        let (inst, port) = try start()
        let r = runProgram("/usr/bin/swaks", ["--server", "127.0.0.1:\(port)", "--from", "a@internet.com", "--to", "root@example.test",
                                              "--helo", "c.example.org", "--body", "swaks body"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("<-  250 2.0.0 Ok: queued as "), r.stdout)
        XCTAssertEqual(inst.queueFiles().count, 1)
    }

    func testRejectsAndTheirLogLines() throws {
        let (inst, port) = try start()
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        XCTAssertEqual(c.reply()?.code, 220)
        XCTAssertEqual(c.command("EHLO client.example.org"), "250 CHUNKING")
        XCTAssertEqual(c.command("MAIL FROM:<testuser@internet.com>"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RCPT TO:<nonexistent@example.test>"),
                       "550 5.1.1 <nonexistent@example.test>: Recipient address rejected: User unknown in local recipient table")
        XCTAssertEqual(c.command("RCPT TO:<someone@elsewhere.example.net>"), "454 4.7.1 <someone@elsewhere.example.net>: Relay access denied")
        XCTAssertEqual(c.command("QUIT"), "221 2.0.0 Bye")
        XCTAssertTrue(eventually {
            inst.log.contains("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <nonexistent@example.test>: Recipient address rejected: User unknown in local recipient table; from=<testuser@internet.com> to=<nonexistent@example.test> proto=ESMTP helo=<client.example.org>")
        }, inst.log)
        XCTAssertTrue(eventually { inst.log.contains("disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=0/2 quit=1 commands=3/5") }, inst.log)
        XCTAssertTrue(inst.queueFiles().isEmpty)
    }

    func testPipelinedDialogAndDotStuffing() throws {
        let (inst, port) = try start()
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        _ = c.reply()
        _ = c.command("EHLO c.example.org")
        c.send("MAIL FROM:<a@internet.com>\r\nRCPT TO:<root@example.test>\r\nRCPT TO:<nosuchuser42@example.test>\r\nDATA\r\n")
        let codes = (0..<4).compactMap { _ in c.reply()?.code }
        XCTAssertEqual(codes, [250, 250, 550, 354])
        c.send("Subject: p\r\n\r\n..dot-stuffed\r\n...two\r\n.\r\nQUIT\r\n")
        XCTAssertEqual(c.reply()?.code, 250)
        XCTAssertEqual(c.reply()?.code, 221)
        let (_, content) = try queuedContent(inst)
        XCTAssertTrue(content.contains("\nSubject: p\n"), content)
        XCTAssertTrue(content.hasSuffix("\n\n.dot-stuffed\n..two\n"), content)
    }

    func testEightBitAndSMTPUTF8() throws {
        let (inst, port) = try start()
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        _ = c.reply()
        _ = c.command("EHLO c.example.org")
        XCTAssertEqual(c.command("MAIL FROM:<jöran@internet.com>"), "553 5.6.7 Must declare SMTPUTF8 to send unicode address")
        XCTAssertEqual(c.command("MAIL FROM:<jöran@internet.com> SMTPUTF8 BODY=8BITMIME"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RCPT TO:<root@example.test>"), "250 2.1.5 Ok")
        XCTAssertEqual(c.command("DATA"), "354 End data with <CR><LF>.<CR><LF>")
        c.send("Subject: größe\r\n\r\nÜberraschung \u{1F600}\r\n.\r\n")
        let queued = c.reply()
        XCTAssertEqual(queued?.code, 250, "\(String(describing: queued)) \(inst.log)")
        let (file, content) = try queuedContent(inst)
        XCTAssertEqual(file.envelope.sender, "jöran@internet.com")
        XCTAssertTrue(content.contains("\nSubject: größe\n"), content)
        XCTAssertTrue(content.hasSuffix("\n\nÜberraschung \u{1F600}\n"), content)
        XCTAssertTrue(content.contains(" with UTF8SMTP id "), content)
    }

    func testBDAT() throws {
        let (inst, port) = try start()
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        _ = c.reply()
        _ = c.command("EHLO c.example.org")
        _ = c.command("MAIL FROM:<a@internet.com>")
        _ = c.command("RCPT TO:<root@example.test>")
        let first = "Subject: b\r\n"
        c.send("BDAT \(first.utf8.count)\r\n" + first)
        XCTAssertEqual(c.reply().map { "\($0.code) \($0.lines[0])" }, "250 2.0.0 Ok: \(first.utf8.count) bytes")
        let last = "\r\nchunked\r\n"
        c.send("BDAT \(last.utf8.count) LAST\r\n" + last)
        let reply = try XCTUnwrap(c.reply())
        XCTAssertEqual(reply.code, 250)
        XCTAssertTrue(reply.lines[0].hasPrefix("2.0.0 Ok: \(first.utf8.count + last.utf8.count) bytes queued as "), reply.lines[0])
        let (_, content) = try queuedContent(inst)
        XCTAssertTrue(content.contains("\nSubject: b\n"), content)
        XCTAssertTrue(content.hasSuffix("\n\nchunked\n"), content)
    }

    func testSizeLimits() throws {
        let (inst, port) = try start(["message_size_limit = 2000"])
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        _ = c.reply()
        XCTAssertEqual(c.command("EHLO c.example.org"), "250 CHUNKING")
        XCTAssertEqual(c.command("MAIL FROM:<a@internet.com> SIZE=20000000"), "552 5.3.4 Message size exceeds fixed limit")
        XCTAssertEqual(c.command("MAIL FROM:<a@internet.com> SIZE=100"), "250 2.1.0 Ok")
        _ = c.command("RCPT TO:<root@example.test>")
        _ = c.command("DATA")
        c.send(String(repeating: "0123456789012345678901234567890123456789\r\n", count: 100) + ".\r\n")
        XCTAssertEqual(c.reply().map { "\($0.code) \($0.lines[0])" }, "552 5.3.4 Error: message file too big")
        XCTAssertEqual(c.command("QUIT"), "221 2.0.0 Bye")
        XCTAssertTrue(inst.queueFiles().isEmpty, "a refused message leaves no queue file")
    }

    func testTooManyErrorsDisconnects() throws {
        let (inst, port) = try start(["smtpd_hard_error_limit = 3"])
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        _ = c.reply()
        XCTAssertEqual(c.command("FOO"), "500 5.5.2 Error: command not recognized")
        XCTAssertEqual(c.command("BAR"), "500 5.5.2 Error: command not recognized")
        c.send("BAZ\r\n")
        XCTAssertEqual(c.reply()?.code, 500)
        XCTAssertEqual(c.reply().map { "\($0.code) \($0.lines[0])" }, "421 4.7.0 mx.example.test Error: too many errors")
        XCTAssertNil(c.reply())
        XCTAssertTrue(eventually { inst.log.contains("too many errors after UNKNOWN from localhost[127.0.0.1]") }, inst.log)
    }

    func testTimeout() throws {
        let (inst, port) = try start(["smtpd_timeout = 1s"])
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        _ = c.reply()
        _ = c.command("EHLO c.example.org")
        XCTAssertEqual(c.reply().map { "\($0.code) \($0.lines[0])" }, "421 4.4.2 mx.example.test Error: timeout exceeded")
        XCTAssertTrue(eventually { inst.log.contains("timeout after EHLO from localhost[127.0.0.1]") }, inst.log)
    }

    func testHTTPRequestIsTurnedAway() throws {
        let (inst, port) = try start()
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        _ = c.reply()
        XCTAssertEqual(c.command("GET / HTTP/1.0"), "221 2.7.0 Error: I can break rules, too. Goodbye.")
        XCTAssertTrue(eventually { inst.log.contains("warning: non-SMTP command from localhost[127.0.0.1]: GET / HTTP/1.0") })
    }

    func testDisconnectMidDataLeavesNoQueueFile() throws {
        let (inst, port) = try start()
        do {
            let c = try XCTUnwrap(SMTPTestClient(port: port))
            _ = c.reply()
            _ = c.command("EHLO c.example.org")
            _ = c.command("MAIL FROM:<a@internet.com>")
            _ = c.command("RCPT TO:<root@example.test>")
            XCTAssertEqual(c.command("DATA").prefix(3), "354")
            c.send("Subject: partial\r\n\r\nhalf a message")
        }
        XCTAssertTrue(eventually { inst.log.contains("lost connection after DATA (") }, inst.log)
        XCTAssertTrue(eventually { (try? FileManager.default.contentsOfDirectory(atPath: inst.spool + "/incoming"))?.isEmpty ?? false })
    }

    func testKillDuringDataLosesNothingAcknowledged() throws {
        let (inst, port) = try start()
        // One message fully acknowledged…
        let ok = try XCTUnwrap(SMTPTestClient(port: port))
        _ = ok.reply()
        _ = ok.command("EHLO c.example.org")
        _ = ok.command("MAIL FROM:<a@internet.com>")
        _ = ok.command("RCPT TO:<root@example.test>")
        _ = ok.command("DATA")
        XCTAssertTrue(ok.command("Subject: kept\r\n\r\nbody\r\n.").hasPrefix("250 2.0.0 Ok: queued as"))
        // …and one cut off by kill -9 of its smtpd in the middle of DATA.
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        _ = c.reply()
        _ = c.command("EHLO c.example.org")
        _ = c.command("MAIL FROM:<b@internet.com>")
        _ = c.command("RCPT TO:<root@example.test>")
        _ = c.command("DATA")
        c.send("Subject: lost\r\n\r\nsome of it")
        usleep(200_000)
        for pid in childPids(of: try XCTUnwrap(inst.masterPid)) { kill(pid, SIGKILL) }
        XCTAssertNil(c.reply())
        let files = inst.queueFiles()
        XCTAssertEqual(files.count, 1)
        XCTAssertEqual(try QueueFile.read(path: inst.spool + "/incoming/" + files[0]).envelope.sender, "a@internet.com")
        XCTAssertTrue(eventually {
            ((try? FileManager.default.contentsOfDirectory(atPath: inst.spool + "/incoming")) ?? []).count == 1
        }, "no partial file remains once the master has reaped the child")
    }

    func testTwentyParallelSmtpSourceSessions() throws {
        let (inst, port) = try start()
        let r = runProgram("/usr/sbin/smtp-source", ["-s", "20", "-m", "100", "-l", "1024", "-f", "load@internet.com", "-t", "root@example.test",
                                                     "127.0.0.1:\(port)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(inst.queueFiles().count, 100)
        for id in inst.queueFiles() {
            XCTAssertNoThrow(try QueueFile.read(path: inst.spool + "/incoming/" + id))
        }
    }
}
