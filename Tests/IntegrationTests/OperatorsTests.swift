// The operator commands against a real master (smtpd, pickup, qmgr, showq): sendmail -t
// from root and from an unprivileged user, sendmail -bs, mailq/postqueue -p/-j as root
// and through showq, postsuper hold/release/delete/requeue/force-expire round trips,
// postcat, postqueue -f/-i, pickup's handling of damaged maildrop files, and postsuper's
// structure check and purge. This instance has no delivery agents (local(8) is being
// built elsewhere): qmgr defers every recipient with "mail transport unavailable", so
// "delivered" is checked as qmgr activating the message again, and the defer gives every
// listing a reason line.
import Foundation
import XCTest

@testable import Shared

final class OperatorsTests: XCTestCase {
    var instance: TestInstance!
    var port: UInt16 = 0

    override func setUpWithError() throws {
        port = freePort()
        instance = try TestInstance(masterCF: """
            127.0.0.1:\(port) inet n - n - - smtpd
            pickup unix n - n 60 1 pickup
            qmgr unix n - n 300 1 qmgr
            showq unix n - n - - showq

            """, main: [
                "mydomain = example.test", "myorigin = $mydomain", "mydestination = $myhostname, $mydomain, localhost",
                "alias_maps =", "smtpd_error_sleep_time = 0",
                "sender_canonical_maps = inline:{ canon@example.test=canonical.sender@example.test }",
                "virtual_alias_maps = inline:{ { team@example.test = alice@example.test, bob@example.test } }",
            ])
        instance.start()
    }

    override func tearDown() {
        instance = nil
        super.tearDown()
    }

    var queue: QueueDirectory { QueueDirectory(path: instance.spool) }

    /// Runs PROGRAM with MAIL_CONFIG set, as root or (USER) as another user in group GROUP.
    @discardableResult
    func run(_ program: String, _ arguments: [String], input: String? = nil, user: String? = nil,
             group: String? = nil) -> (status: Int32, stdout: String, stderr: String) {
        let path = program.hasPrefix("/") ? program : buildProducts + "/" + program
        guard let user else { return runProgram(path, arguments, input: input, environment: ["MAIL_CONFIG": instance.etc]) }
        makeReachableByEveryone(buildProducts)
        let identity = ["-u", user] + (group.map { ["-g", $0] } ?? [])
        return runProgram("/usr/sbin/runuser", identity + ["--", "/usr/bin/env", "MAIL_CONFIG=" + instance.etc, path] + arguments,
                          input: input)
    }

    /// Sends a message through smtpd; returns its queue ID.
    func submitBySMTP(subject: String, to recipients: [String] = ["root@example.test"]) throws -> String {
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        _ = c.reply()
        _ = c.command("EHLO client.example.org")
        XCTAssertEqual(c.command("MAIL FROM:<testuser@internet.com>"), "250 2.1.0 Ok")
        for r in recipients { XCTAssertEqual(c.command("RCPT TO:<\(r)>"), "250 2.1.5 Ok") }
        XCTAssertEqual(c.command("DATA"), "354 End data with <CR><LF>.<CR><LF>")
        c.send("Subject: \(subject)\r\n\r\nqueued\r\n.\r\n")
        let reply = try XCTUnwrap(c.reply())
        XCTAssertEqual(reply.code, 250)
        _ = c.command("QUIT")
        return String(try XCTUnwrap(reply.lines.last?.split(separator: " ").last))
    }

    /// Waits until every one of IDS is in QUEUE.
    func waitFor(_ ids: [String], in queueName: String = QueueDirectory.deferred, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(eventually(15) { Set(ids).isSubset(of: Set(self.queue.list(queueName))) },
                      "\(ids) not in \(queueName): \(instance.log)", file: file, line: line)
    }

    /// The queue IDs pickup logged for messages from SENDER, in order.
    func pickedUp(from sender: String) -> [String] {
        instance.log.split(separator: "\n").compactMap { line in
            guard line.contains("postfix/pickup["), line.contains(" from=<\(sender)>") else { return nil }
            let field = line.split(separator: " ").first { $0.hasSuffix(":") && QueueID.isValid(String($0.dropLast())) }
            return field.map { String($0.dropLast()) }
        }
    }

    /// The content of ID's queue file in QUEUE.
    func content(_ id: String, in queueName: String = QueueDirectory.deferred) throws -> (QueueFile, String) {
        let path = queue.path(queue: queueName, queueID: id)
        let file = try QueueFile.read(path: path)
        let bytes = try FileIO.readBytes(path)
        return (file, String(decoding: bytes[file.contentOffset..<(file.contentOffset + file.contentLength)], as: UTF8.self))
    }

    func activations(_ id: String) -> Int {
        instance.log.components(separatedBy: "qmgr[").filter { $0.contains("]: \(id): from=<") && $0.contains("(queue active)") }.count
    }

    // MARK: sendmail

    func testSendmailTAsRootQueuesThroughPickup() throws {
        let message = """
            To: root@example.test, "Second, Person" <nobody@example.test>
            Cc: team: postmaster@example.test;
            Bcc: hidden@example.test
            Subject: via sendmail

            first line
            .
            not part of the message
            """
        let r = run("sendmail", ["-t", "-f", "root@example.test", "-F", "Root User"], input: message)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(eventually { !self.pickedUp(from: "root@example.test").isEmpty }, instance.log)
        let id = try XCTUnwrap(pickedUp(from: "root@example.test").first)
        XCTAssertTrue(instance.log.contains("]: \(id): uid=0 from=<root@example.test>"), instance.log)
        XCTAssertTrue(eventually { self.instance.log.contains("]: \(id): message-id=<") }, instance.log)
        waitFor([id])
        let (file, text) = try content(id)
        XCTAssertEqual(file.envelope.sender, "root@example.test")
        XCTAssertEqual(file.recipients.map(\.address),
                       ["root@example.test", "nobody@example.test", "postmaster@example.test", "hidden@example.test"])
        XCTAssertTrue(text.hasPrefix("Received: by mx.example.test (Postern, from userid 0)\n\tid \(id); "), text)
        XCTAssertFalse(text.contains("Bcc:"), "cleanup drops Bcc: " + text)
        XCTAssertTrue(text.contains("\nFrom: Root User <root@example.test>\n"), text)
        XCTAssertTrue(text.contains("\nMessage-Id: <"), text)
        XCTAssertTrue(text.hasSuffix("\n\nfirst line\n"), "a lone dot ends the message without -i: " + text)
        XCTAssertTrue(queue.list(QueueDirectory.maildrop).isEmpty)
    }

    func testSendmailFromUnprivilegedUserQualifiesAddresses() throws {
        let r = run("sendmail", ["-i", "root"], input: "Subject: from nobody\n\n.\nkept with -i\n", user: "nobody", group: "postdrop")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(eventually { !self.pickedUp(from: "nobody").isEmpty }, instance.log)
        let id = try XCTUnwrap(pickedUp(from: "nobody").first)
        XCTAssertTrue(instance.log.contains("]: \(id): uid=65534 from=<nobody>"), instance.log)
        waitFor([id])
        let (file, text) = try content(id)
        XCTAssertEqual(file.envelope.sender, "nobody@example.test")
        XCTAssertEqual(file.recipients.map(\.address), ["root@example.test"])
        XCTAssertEqual(file.recipients.first?.originalRecipient, "root")
        XCTAssertTrue(text.contains("(Postern, from userid 65534)"), text)
        XCTAssertTrue(text.hasSuffix("\n\n.\nkept with -i\n"), text)

        let refused = run("sendmail", ["root"], input: "Subject: x\n\nno group\n", user: "nobody")
        XCTAssertEqual(refused.status, 75)
        XCTAssertTrue(refused.stderr.contains("sendmail: fatal: nobody(65534): "), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("Permission denied"), refused.stderr)
    }

    /// Mail from sendmail is rewritten as mail from smtpd is: sender canonical maps and
    /// virtual aliases apply to the envelope.
    func testPickupRewritesTheEnvelope() throws {
        let r = run("sendmail", ["-i", "-f", "canon@example.test", "team@example.test"], input: "Subject: rewrite\n\nx\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(eventually { !self.pickedUp(from: "canon@example.test").isEmpty }, instance.log)
        let id = try XCTUnwrap(pickedUp(from: "canon@example.test").first)
        waitFor([id])
        let (file, _) = try content(id)
        XCTAssertEqual(file.envelope.sender, "canonical.sender@example.test")
        XCTAssertEqual(file.recipients.map(\.address), ["alice@example.test", "bob@example.test"])
        XCTAssertEqual(file.recipients.map(\.originalRecipient), ["team@example.test", "team@example.test"])
    }

    /// A set-group-ID postdrop does not let an ordinary user name another configuration.
    func testSetgidPostdropRefusesAForeignConfiguration() throws {
        let bin = instance.root + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for program in ["sendmail", "postdrop"] {
            try FileManager.default.copyItem(atPath: buildProducts + "/" + program, toPath: bin + "/" + program)
        }
        chown(bin + "/postdrop", 0, try XCTUnwrap(groupID("postdrop")))
        chmod(bin + "/postdrop", 0o2755)
        let r = run(bin + "/sendmail", ["root"], input: "Subject: x\n\nbody\n", user: "nobody")
        XCTAssertEqual(r.status, 75)
        XCTAssertTrue(r.stderr.contains("unauthorized configuration directory: \(instance.etc)"), r.stderr)
        XCTAssertTrue(queue.list(QueueDirectory.maildrop).isEmpty)
    }

    func testSendmailErrors() {
        let none = run("sendmail", ["-t"], input: "Subject: no recipients\n\nbody\n")
        XCTAssertEqual(none.status, 75)
        XCTAssertTrue(none.stderr.contains("sendmail: fatal: root(0): No recipient addresses found in message header"), none.stderr)
        let bare = run("sendmail", [], input: "Subject: x\n\nbody\n")
        XCTAssertTrue(bare.stderr.contains("Recipient addresses must be specified on the command line or via the -t option"), bare.stderr)
        let bad = run("sendmail", ["-Z"], input: "")
        XCTAssertEqual(bad.status, 75)
        XCTAssertTrue(bad.stderr.contains("usage: sendmail"), bad.stderr)
    }

    /// postdrop holds the user's content to message_size_limit; the headers pickup adds
    /// do not push an accepted message over it.
    func testMessageSizeLimit() throws {
        XCTAssertTrue(eventually { !self.instance.processes("pickup").isEmpty }, "the master's wake-up starts pickup")
        let pickup = try XCTUnwrap(instance.processes("pickup").first?.pid)
        let main = try String(contentsOfFile: instance.etc + "/main.cf", encoding: .utf8)
        try instance.writeFile("main.cf", main + "message_size_limit = 1000\n")
        instance.run("postern", ["reload"])
        XCTAssertTrue(eventually { self.instance.processes("pickup").first.map { $0.pid != pickup } ?? true }, "pickup restarts")
        let big = run("sendmail", ["root"], input: "Subject: big\n\n" + String(repeating: "x", count: 2000) + "\n")
        XCTAssertEqual(big.status, 75)
        XCTAssertTrue(big.stderr.contains("postdrop: fatal: uid=0: message file too big"), big.stderr)
        XCTAssertTrue(big.stderr.contains("sendmail: fatal: root(0): message file too big"), big.stderr)
        let body = String(repeating: "y", count: 950)
        XCTAssertEqual(run("sendmail", ["-f", "fits@example.org", "root"], input: "Subject: fits\n\n" + body + "\n").status, 0)
        XCTAssertTrue(eventually { !self.pickedUp(from: "fits@example.org").isEmpty }, instance.log)
        let id = try XCTUnwrap(pickedUp(from: "fits@example.org").first)
        waitFor([id])
        XCTAssertGreaterThan(try content(id).0.contentLength, 1000)
        XCTAssertTrue(queue.list(QueueDirectory.maildrop).isEmpty)
    }

    func testSendmailBsSpeaksSMTP() throws {
        let dialog = [
            "EHLO client.example.org", "MAIL FROM:<bs@example.org>", "RCPT TO:<root@example.test>", "DATA",
            "Subject: bs", "", "..stuffed", "body", ".", "RSET", "FOO", "QUIT",
        ].joined(separator: "\r\n") + "\r\n"
        let r = run("sendmail", ["-bs"], input: dialog)
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        XCTAssertEqual(lines.first, "220 mx.example.test ESMTP Postern")
        XCTAssertTrue(lines.contains("250-PIPELINING"))
        XCTAssertTrue(lines.contains("354 End data with <CR><LF>.<CR><LF>"))
        let queued = try XCTUnwrap(lines.first { $0.hasPrefix("250 2.0.0 Ok: queued as ") })
        XCTAssertTrue(QueueID.isValid(String(queued.split(separator: " ").last ?? "")), queued)
        XCTAssertEqual(Array(lines.suffix(3)), ["250 2.0.0 Ok", "500 5.5.2 Error: command not recognized", "221 2.0.0 Bye"])
        XCTAssertTrue(eventually { !self.pickedUp(from: "bs@example.org").isEmpty }, instance.log)
        let id = try XCTUnwrap(pickedUp(from: "bs@example.org").first)
        waitFor([id])
        let (_, text) = try content(id)
        XCTAssertTrue(text.hasSuffix("\n\n.stuffed\nbody\n"), text)
    }

    // MARK: listing

    func testMailqShowsADeferredMessageWithItsReason() throws {
        let id = try submitBySMTP(subject: "listed")
        waitFor([id])
        let listing = run("postqueue", ["-p"])
        XCTAssertEqual(listing.status, 0, listing.stderr)
        let lines = listing.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines[0], "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------")
        XCTAssertTrue(lines[1].range(of: "^\(id) +[0-9]+ [A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8}  testuser@internet.com$",
                                     options: .regularExpression) != nil, lines[1])
        XCTAssertEqual(lines[2], String(repeating: " ", count: 50) + "(mail transport unavailable)")
        XCTAssertEqual(lines[3], String(repeating: " ", count: 41) + "root@example.test")
        XCTAssertEqual(Array(lines[4...]), ["", "-- 0 Kbytes in 1 Request.", ""])

        XCTAssertEqual(run("sendmail", ["-bp"]).stdout, listing.stdout)
        let mailq = instance.root + "/mailq"
        try FileManager.default.createSymbolicLink(atPath: mailq, withDestinationPath: buildProducts + "/sendmail")
        XCTAssertEqual(run(mailq, []).stdout, listing.stdout, "sendmail invoked as mailq")
        let showq = run("postqueue", ["-p"], user: "nobody", group: "postdrop")
        XCTAssertEqual(showq.stdout, listing.stdout, "through showq: " + showq.stderr)

        let json = run("postqueue", ["-j"], user: "nobody", group: "postdrop").stdout
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(object["queue_name"] as? String, "deferred")
        XCTAssertEqual(object["queue_id"] as? String, id)
        XCTAssertEqual(object["sender"] as? String, "testuser@internet.com")
        XCTAssertEqual(object["forced_expire"] as? Bool, false)
        let recipients = try XCTUnwrap(object["recipients"] as? [[String: String]])
        XCTAssertEqual(recipients, [["address": "root@example.test", "delay_reason": "mail transport unavailable"]])
        XCTAssertTrue(json.hasPrefix("{\"queue_name\": \"deferred\", \"queue_id\": \"\(id)\", \"arrival_time\": "), json)
    }

    func testEmptyQueueAndMailSystemDown() {
        XCTAssertEqual(run("postqueue", ["-p"]).stdout, "Mail queue is empty\n")
        XCTAssertEqual(run("postqueue", ["-j"]).stdout, "")
        instance.stop()
        let down = run("postqueue", ["-p"], user: "nobody", group: "postdrop")
        XCTAssertEqual(down.status, 69)
        XCTAssertTrue(down.stderr.contains("postqueue: fatal: Queue report unavailable - mail system is down"), down.stderr)
        XCTAssertEqual(run("postqueue", ["-p"]).stdout, "Mail queue is empty\n", "root reads the queue itself")
        XCTAssertEqual(run("postqueue", ["-f"]).status, 69)
    }

    // MARK: postsuper

    func testHoldReleaseAndRetry() throws {
        let id = try submitBySMTP(subject: "hold me")
        waitFor([id])
        let hold = run("postsuper", ["-h", id])
        XCTAssertEqual(hold.stderr, "postsuper: \(id): placed on hold\npostsuper: Placed on hold: 1 message\n")
        XCTAssertTrue(run("postqueue", ["-p"]).stdout.contains("\n\(id)!"))
        XCTAssertEqual(run("postsuper", ["-h", id]).stderr, "postsuper: Placed on hold: 0 messages\n")
        let before = activations(id)
        XCTAssertEqual(run("postqueue", ["-f"]).status, 0)
        usleep(500_000)
        XCTAssertEqual(activations(id), before, "a flush leaves held mail alone")
        XCTAssertEqual(queue.list(QueueDirectory.hold), [id])

        let release = run("postsuper", ["-H", id])
        XCTAssertEqual(release.stderr, "postsuper: \(id): released from hold\npostsuper: Released from hold: 1 message\n")
        XCTAssertTrue(eventually { self.activations(id) == before + 1 }, "released mail is tried at once: \(instance.log)")
        waitFor([id])
        XCTAssertTrue(instance.log.contains("postfix/postsuper["), instance.log)
        XCTAssertTrue(instance.log.contains("]: \(id): placed on hold"), instance.log)
    }

    func testDeleteOneFromStandardInputAndAll() throws {
        let ids = try (0..<3).map { try submitBySMTP(subject: "delete \($0)") }
        waitFor(ids)
        let one = run("postsuper", ["-d", ids[0]])
        XCTAssertEqual(one.stderr, "postsuper: \(ids[0]): removed\npostsuper: Deleted: 1 message\n")
        XCTAssertFalse(FileIO.exists(queue.path(queue: QueueDirectory.deferLog, queueID: ids[0])), "its defer log goes too")
        let stdin = run("postsuper", ["-d", "-"], input: ids[1] + "\nnot-an-id\n")
        XCTAssertEqual(stdin.stderr, "postsuper: warning: invalid mail queue id: not-an-id\npostsuper: \(ids[1]): removed\n"
            + "postsuper: Deleted: 1 message\n")
        XCTAssertEqual(run("postsuper", ["-d", "ALL", "hold"]).stderr, "postsuper: Deleted: 0 messages\n")
        XCTAssertEqual(run("postsuper", ["-d", "ALL"]).stderr, "postsuper: Deleted: 1 message\n")
        XCTAssertEqual(run("postqueue", ["-p"]).stdout, "Mail queue is empty\n")
        XCTAssertEqual(run("postsuper", ["-d", "ALL", "nosuch"]).stderr, "postsuper: fatal: invalid directory name: nosuch\n")
        let nobody = run("postsuper", ["-d", "ALL"], user: "nobody")
        XCTAssertEqual(nobody.status, 1)
        XCTAssertEqual(nobody.stderr, "postsuper: fatal: use of this command is reserved for the superuser\n")
    }

    func testRequeueRunsThroughPickupAgain() throws {
        let id = try submitBySMTP(subject: "requeue me", to: ["root@example.test", "nobody@example.test"])
        waitFor([id])
        let (_, original) = try content(id)
        XCTAssertEqual(run("postsuper", ["-r", id]).stderr, "postsuper: \(id): requeued\npostsuper: Requeued: 1 message\n")
        XCTAssertTrue(eventually { self.instance.log.contains(" orig_id=\(id)") }, instance.log)
        let line = try XCTUnwrap(instance.log.split(separator: "\n").first { $0.contains(" orig_id=\(id)") })
        XCTAssertTrue(line.contains("uid=\(try XCTUnwrap(Account.named("postfix")).uid) from=<testuser@internet.com>"), String(line))
        let newID = try XCTUnwrap(pickedUp(from: "testuser@internet.com").first)
        XCTAssertNotEqual(newID, id)
        waitFor([newID])
        let (file, requeued) = try content(newID)
        XCTAssertEqual(requeued, original, "the content is kept as it was: no second Received:, same Message-Id")
        XCTAssertEqual(file.recipients.map(\.address), ["root@example.test", "nobody@example.test"])
        XCTAssertFalse(queue.queues(holding: id, among: QueueLayout.messageQueues).contains(QueueDirectory.deferred))
    }

    func testForceExpireReturnsTheMessageToItsSender() throws {
        let id = try submitBySMTP(subject: "expire me")
        waitFor([id])
        XCTAssertEqual(run("postsuper", ["-e", id]).stderr, "postsuper: \(id): expired\npostsuper: Force-expired: 1 message\n")
        XCTAssertTrue(run("postqueue", ["-p"]).stdout.contains("\n\(id)#"))
        XCTAssertTrue(run("postqueue", ["-j"]).stdout.contains("\"forced_expire\": true"))
        XCTAssertEqual(run("postqueue", ["-f"]).status, 0)
        XCTAssertTrue(eventually {
            self.instance.log.contains("]: \(id): from=<testuser@internet.com>, status=force-expired, returned to sender")
        }, instance.log)
        XCTAssertTrue(eventually { self.instance.log.contains("]: \(id): sender non-delivery notification: ") }, instance.log)
        XCTAssertTrue(eventually { self.instance.log.contains("]: \(id): removed") }, instance.log)

        let held = try submitBySMTP(subject: "held then expired")
        waitFor([held])
        run("postsuper", ["-h", held])
        XCTAssertEqual(run("postsuper", ["-f", held]).stderr,
                       "postsuper: \(held): expired\npostsuper: \(held): released from hold\npostsuper: Force-expired: 1 message\n"
                           + "postsuper: Released from hold: 1 message\n")
        XCTAssertTrue(eventually { self.instance.log.contains("]: \(held): from=<testuser@internet.com>, status=force-expired") },
                      instance.log)
    }

    // MARK: postcat, postqueue -i, pickup, structure

    func testPostcatSections() throws {
        let id = try submitBySMTP(subject: "cat me")
        waitFor([id])
        let all = run("postcat", ["-c", instance.etc, "-q", id])
        XCTAssertEqual(all.status, 0, all.stderr)
        let path = "deferred/" + QueueID.hashDirectory(for: id, depth: 1) + "/" + id
        XCTAssertTrue(all.stdout.hasPrefix("*** ENVELOPE RECORDS \(path) ***\nmessage_size: "), all.stdout)
        for expected in ["\nsender: testuser@internet.com\n", "\nrecipient: root@example.test\n",
                         "\n*** MESSAGE CONTENTS \(path) ***\nReceived: from ",
                         "\nSubject: cat me\n", "\n\nqueued\n*** HEADER EXTRACTED \(path) ***\n*** MESSAGE FILE END \(path) ***\n"] {
            XCTAssertTrue(all.stdout.contains(expected), expected + " in " + all.stdout)
        }
        let header = run("postcat", ["-c", instance.etc, "-h", "-q", id]).stdout
        XCTAssertTrue(header.hasPrefix("Received: from "), header)
        XCTAssertTrue(header.contains("\nSubject: cat me\n") && header.hasSuffix("\n") && !header.hasSuffix("\n\n"), header)
        XCTAssertFalse(header.contains("queued"), header)
        XCTAssertEqual(run("postcat", ["-c", instance.etc, "-b", "-q", id]).stdout, "\nqueued\n")
        let envelope = run("postcat", ["-c", instance.etc, "-e", "-q", id]).stdout
        XCTAssertFalse(envelope.contains("Subject:"))
        XCTAssertTrue(envelope.contains("*** MESSAGE CONTENTS \(path) ***\n*** HEADER EXTRACTED"), envelope)
        XCTAssertEqual(run("postcat", [instance.spool + "/" + path]).stdout,
                       all.stdout.replacingOccurrences(of: " \(path) ***", with: " \(instance.spool)/\(path) ***"))
        let missing = run("postcat", ["-c", instance.etc, "-q", "ABCDEF123"])
        XCTAssertEqual(missing.stderr, "postcat: fatal: open queue file ABCDEF123: No such file or directory\n")
        XCTAssertTrue(run("postcat", ["-c", instance.etc, "-q", id], user: "nobody").stderr.contains("Permission denied"))
    }

    func testPostqueueSendFileThroughShowq() throws {
        let id = try submitBySMTP(subject: "send me")
        waitFor([id])
        let before = activations(id)
        let r = run("postqueue", ["-i", id], user: "nobody", group: "postdrop")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(eventually { self.activations(id) == before + 1 }, instance.log)
        waitFor([id])
        XCTAssertEqual(run("postqueue", ["-s", "example.test"], user: "nobody", group: "postdrop").status, 0)
        XCTAssertTrue(eventually { self.activations(id) == before + 2 }, "-s flushes through qmgr: \(instance.log)")
        XCTAssertEqual(run("postqueue", ["-i", "ABCDEF123"]).status, 0, "an ID that is not deferred is no error")
    }

    func testPickupSetsDamagedMaildropFilesAside() throws {
        let corrupt = queue.path + "/maildrop/ABCDE1234"
        try FileIO.writeAtomically(corrupt, Array("Q15:postern-queue 1\nT17:garbage".utf8), mode: 0o444)
        let linked = queue.path + "/maildrop/ABCDE5678"
        try FileIO.writeAtomically(queue.path + "/maildrop/12345.1", [], mode: 0o444)
        link(queue.path + "/maildrop/12345.1", linked)
        TriggerServer.send(queue.path + "/public/pickup", [UInt8(ascii: "W")])
        XCTAssertTrue(eventually { self.queue.list(QueueDirectory.corrupt) == ["ABCDE1234"] }, instance.log)
        XCTAssertTrue(instance.log.contains("warning: ABCDE1234: uid=0: queue file is incomplete"), instance.log)
        XCTAssertTrue(eventually { !FileIO.exists(linked) }, instance.log)
        XCTAssertTrue(instance.log.contains("warning: ABCDE5678: uid=0: file has 2 links: removed"), instance.log)
    }

    /// A looping message that cleanup refuses is kept in corrupt/, not lost.
    func testMailLoopIsSetAsideNotLost() throws {
        let received = String(repeating: "Received: from loop.example.org\n", count: 60)
        XCTAssertEqual(run("sendmail", ["-f", "loop@example.org", "root"], input: received + "Subject: loop\n\nbody\n").status, 0)
        XCTAssertTrue(eventually { self.queue.list(QueueDirectory.corrupt).count == 1 }, instance.log)
        let id = try XCTUnwrap(queue.list(QueueDirectory.corrupt).first)
        XCTAssertTrue(instance.log.contains(
            "warning: \(id): uid=0: message rejected: Error: too many hops; from=<loop@example.org>: moving to corrupt queue"), instance.log)
        XCTAssertTrue(run("postcat", ["-c", instance.etc, "-q", id]).stdout.contains("\nSubject: loop\n"))
        XCTAssertTrue(queue.list(QueueDirectory.incoming).isEmpty)
    }

    /// Truncated, bit-flipped and random maildrop files: each is queued or set aside in
    /// corrupt/, and the same pickup process goes on.
    func testPickupSurvivesMangledMaildropFiles() throws {
        // A well-formed maildrop file, written where nobody picks it up.
        let writer = try QueueFileWriter(directory: queue, queue: QueueDirectory.hold)
        writer.envelope.sender = "fuzz"
        writer.envelope[QueueEnvelope.fullNameKey] = "Fuzz Er"
        writer.addRecipient(QueueRecipient(address: "root"))
        try writer.appendContent(Array("Subject: fuzz\nTo: root\n\nbody line\n".utf8))
        try writer.commit()
        let template = try FileIO.readBytes(queue.path(queue: QueueDirectory.hold, queueID: writer.queueID))
        try queue.remove(writer.queueID, queue: QueueDirectory.hold)
        let pickupPid = try XCTUnwrap(instance.processes("pickup").first?.pid)
        var state: UInt64 = 2026
        func random(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let count = 60
        for i in 0..<count {
            var bytes = template
            switch i % 3 {
            case 0: bytes = Array(bytes.prefix(random(bytes.count)))
            case 1: for _ in 0..<3 { bytes[random(bytes.count)] ^= UInt8(1 + random(255)) }
            default: bytes = (0..<(1 + random(200))).map { _ in UInt8(random(256)) }
            }
            let name = QueueID.make(seconds: 0, micros: 0xF0000 + i, inode: 0x100 + UInt64(i), long: false)
            try FileIO.writeAtomically(queue.path + "/maildrop/" + name, bytes, mode: 0o444)
        }
        TriggerServer.send(queue.path + "/public/pickup", [UInt8(ascii: "W")])
        XCTAssertTrue(eventually(20) { self.queue.list(QueueDirectory.maildrop).isEmpty }, instance.log)
        let lines = instance.log.split(separator: "\n")
        let queued = lines.filter { $0.contains("postfix/pickup[") && $0.contains(": uid=0 from=<") }.count
        let corrupt = queue.list(QueueDirectory.corrupt).count
        XCTAssertEqual(queued + corrupt, count, instance.log)
        XCTAssertGreaterThan(corrupt, 0)
        XCTAssertGreaterThan(queued, 0)
        XCTAssertEqual(instance.processes("pickup").first?.pid, pickupPid, "pickup did not crash: \(instance.log)")
        XCTAssertFalse(instance.log.contains("panic"), instance.log)
    }

    func testStructureCheckAndPurge() throws {
        let id = try submitBySMTP(subject: "structure")
        waitFor([id])
        run("postsuper", ["-h", id])
        // A queue restored from elsewhere: names (and logs) that do not match the inodes.
        let misnamed = QueueID.make(seconds: 0, micros: 1, inode: 0xABCDEF, long: false)
        func rename(_ queueName: String, _ from: String, _ to: String) {
            XCTAssertEqual(Glibc.rename(queue.path(queue: queueName, queueID: from), queue.path(queue: queueName, queueID: to)), 0)
        }
        rename(QueueDirectory.hold, id, misnamed)
        try queue.makeHashDirectories(queue: QueueDirectory.deferLog, queueID: misnamed)
        rename(QueueDirectory.deferLog, id, misnamed)
        let inode = try XCTUnwrap(FileIO.identity(queue.path(queue: QueueDirectory.hold, queueID: misnamed))).inode
        let fixed = QueueID.make(seconds: 0, micros: 1, inode: inode, long: false)
        try FileIO.writeAtomically(queue.path + "/hold/stray-file", [1])
        let orphan = queue.path(queue: QueueDirectory.deferLog, queueID: "ABCDE9999")
        try queue.makeHashDirectories(queue: QueueDirectory.deferLog, queueID: "ABCDE9999")
        try FileIO.writeAtomically(orphan, [1])
        let old = queue.path + "/incoming/123.456"
        try FileIO.writeAtomically(old, [1])
        var times = [timeval(tv_sec: 1000, tv_usec: 0), timeval(tv_sec: 1000, tv_usec: 0)]
        utimes(old, &times)
        try FileIO.writeAtomically(queue.path + "/incoming/789.1", [1])
        runProgram("/bin/chown", ["-R", "postfix:", queue.path + "/defer", queue.path + "/hold", queue.path + "/incoming"])

        let r = run("postsuper", ["-s", "-p"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(queue.list(QueueDirectory.hold), [fixed], r.stderr)
        XCTAssertTrue(r.stderr.contains("postsuper: warning: hold/\(misnamed): renamed to hold/\(fixed)\n"), r.stderr)
        XCTAssertTrue(r.stderr.contains("postsuper: Renamed to match inode number: 1 message\n"), r.stderr)
        XCTAssertTrue(FileIO.exists(queue.path(queue: QueueDirectory.deferLog, queueID: fixed)), "the defer log follows")
        XCTAssertFalse(FileIO.exists(queue.path + "/hold/stray-file"))
        XCTAssertFalse(FileIO.exists(orphan), "a log without a message is stray")
        XCTAssertFalse(FileIO.exists(old), "an old temporary file is purged")
        XCTAssertTrue(FileIO.exists(queue.path + "/incoming/789.1"), "a fresh one may be in use")
        XCTAssertTrue(run("postqueue", ["-p"]).stdout.contains("\n\(fixed)!"))
    }
}
