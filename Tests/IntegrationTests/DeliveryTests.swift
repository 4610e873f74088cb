// The whole classic flow through real processes: smtpd → queue → qmgr → local →
// ~/Maildir/new, with aliases, bounces (RFC 3464 notices), deferral and retry, and no
// acknowledged message lost when qmgr or local are killed.
import Foundation
import XCTest

@testable import Shared

final class DeliveryTests: XCTestCase {
    static let user = "posterntest"
    var instances: [TestInstance] = []
    var home = ""

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("delivery to a user's Maildir needs root") }
        if getpwnam(Self.user) == nil {
            runProgram("/usr/sbin/useradd", ["-m", "-s", "/usr/sbin/nologin", Self.user])
        }
        home = String(cString: try XCTUnwrap(getpwnam(Self.user)).pointee.pw_dir)
        try? FileManager.default.removeItem(atPath: home + "/Maildir")
    }

    override func tearDown() {
        instances.removeAll()
        super.tearDown()
    }

    func start(_ main: [String] = [], aliases: String = "") throws -> (TestInstance, UInt16) {
        let port = freePort()
        let master = """
            127.0.0.1:\(port) inet n - n - - smtpd
            qmgr unix n - n 300 1 qmgr
            local unix - n n - - local

            """
        let inst = try TestInstance(masterCF: master, main: [
            "mydomain = example.test", "myorigin = $mydomain", "mydestination = $myhostname, $mydomain, localhost",
            "mynetworks = 10.9.9.9/32", "home_mailbox = Maildir/", "smtpd_error_sleep_time = 0",
            "alias_maps = hash:$config_directory/aliases", "alias_database = hash:$config_directory/aliases",
            "minimal_backoff_time = 1s", "maximal_backoff_time = 2s", "queue_run_delay = 1s",
        ] + main)
        try inst.writeFile("aliases", "postmaster: root\nroot: \(Self.user)\n" + aliases)
        XCTAssertEqual(inst.run("postalias", ["hash:" + inst.etc + "/aliases"]).status, 0)
        instances.append(inst)
        inst.start()
        return (inst, port)
    }

    func send(_ port: UInt16, from: String = "testuser@internet.com", to: String, subject: String, body: String = "How have you been?") -> String {
        let c = SMTPTestClient(port: port)
        _ = c?.reply()
        _ = c?.command("EHLO client.example.org")
        _ = c?.command("MAIL FROM:<\(from)>")
        let rcpt = c?.command("RCPT TO:<\(to)>") ?? ""
        guard rcpt.hasPrefix("250") else { return rcpt }
        _ = c?.command("DATA")
        let reply = c?.command("Subject: \(subject)\r\n\r\n\(body)\r\n.") ?? "closed"
        _ = c?.command("QUIT")
        return reply
    }

    func maildirFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: home + "/Maildir/new")) ?? []).map { home + "/Maildir/new/" + $0 }
    }

    func delivered(containing text: String) -> String? {
        maildirFiles().first { ((try? String(contentsOfFile: $0, encoding: .utf8)) ?? "").contains(text) }
    }

    func testMaildirDelivery() throws {
        let (inst, port) = try start()
        let token = "Hello \(UUID().uuidString)"
        XCTAssertTrue(send(port, to: "\(Self.user)@example.test", subject: token).hasPrefix("250 2.0.0 Ok: queued as"))
        XCTAssertTrue(eventually(15) { self.delivered(containing: token) != nil }, inst.log)
        let path = try XCTUnwrap(delivered(containing: token))
        let name = (path as NSString).lastPathComponent
        XCTAssertNotNil(name.range(of: #"^[0-9]+\.V[0-9a-f]+I[0-9a-f]+M[0-9]+\."#, options: .regularExpression), name)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual(attributes[.ownerAccountName] as? String, Self.user)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("Return-Path: <testuser@internet.com>\n"), text)
        XCTAssertTrue(text.contains("\nDelivered-To: \(Self.user)@example.test\n"), text)
        XCTAssertTrue(text.contains("\nReceived: from client.example.org (localhost [127.0.0.1])"), text)
        XCTAssertTrue(text.hasSuffix("\n\nHow have you been?\n"), text)
        XCTAssertTrue(eventually { inst.log.contains(": removed") })
        let log = inst.log
        XCTAssertNotNil(log.range(of: #"qmgr\[[0-9]+\]: [0-9A-F]+: from=<testuser@internet.com>, size=[0-9]+, nrcpt=1 \(queue active\)"#, options: .regularExpression), log)
        XCTAssertNotNil(log.range(of: #"local\[[0-9]+\]: [0-9A-F]+: to=<posterntest@example.test>, relay=local, delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+, dsn=2.0.0, status=sent \(delivered to maildir\)"#, options: .regularExpression), log)
        XCTAssertTrue(inst.queueFiles("active").isEmpty && inst.queueFiles("incoming").isEmpty)
    }

    func testAliasAndBounceToTheSender() throws {
        let (inst, port) = try start(aliases: "team: \(Self.user), root\nbouncer: nosuchuser42\n")
        let token = UUID().uuidString
        let aliasReply = send(port, to: "team@example.test", subject: "Alias \(token)")
        XCTAssertTrue(aliasReply.hasPrefix("250"), aliasReply + inst.log)
        XCTAssertTrue(eventually(15) { self.delivered(containing: "Alias \(token)") != nil }, inst.log)
        XCTAssertTrue(send(port, from: "\(Self.user)@example.test", to: "bouncer@example.test", subject: "Bounce \(token)").hasPrefix("250"))
        XCTAssertTrue(eventually(20) {
            self.maildirFiles().contains { p in
                let t = (try? String(contentsOfFile: p, encoding: .utf8)) ?? ""
                return t.hasPrefix("Return-Path: <>\n") && t.contains("Bounce \(token)")
            }
        }, inst.log)
        let bounce = try XCTUnwrap(maildirFiles().first { ((try? String(contentsOfFile: $0, encoding: .utf8)) ?? "").contains("Bounce \(token)") && ((try? String(contentsOfFile: $0, encoding: .utf8)) ?? "").hasPrefix("Return-Path: <>") })
        let text = try String(contentsOfFile: bounce, encoding: .utf8)
        XCTAssertTrue(text.contains("multipart/report; report-type=delivery-status"), text)
        XCTAssertTrue(text.contains("Content-Type: message/delivery-status"))
        XCTAssertTrue(text.contains("\nFrom: MAILER-DAEMON@mx.example.test (Mail Delivery System)\n"), text)
        XCTAssertTrue(text.contains("Status: 5.1.1"), text)
        XCTAssertTrue(inst.log.contains("sender non-delivery notification:"), inst.log)
        // The notice's MIME structure as Python's email package reads it.
        let parsed = runProgram("/usr/bin/python3", ["-c", """
            import email, sys
            m = email.message_from_binary_file(open(sys.argv[1], "rb"))
            parts = m.get_payload()
            status = parts[1].get_payload()
            print(m.get_content_type(), m.get_param("report-type"), len(parts), parts[1].get_content_type(), parts[2].get_content_type())
            print(status[0]["Reporting-MTA"], status[1]["Final-Recipient"], status[1]["Action"], status[1]["Status"])
            """, bounce])
        XCTAssertEqual(parsed.stdout, """
            multipart/report delivery-status 3 message/delivery-status message/rfc822
            dns; mx.example.test rfc822; bouncer@example.test failed 5.1.1

            """, parsed.stderr)
    }

    /// Sends a message with a DSN NOTIFY parameter; returns the final reply.
    func sendNotify(_ port: UInt16, from: String, to: String, notify: String, subject: String) -> String {
        let c = SMTPTestClient(port: port)
        _ = c?.reply()
        _ = c?.command("EHLO client.example.org")
        _ = c?.command("MAIL FROM:<\(from)> ENVID=env+2D1")
        _ = c?.command("RCPT TO:<\(to)> NOTIFY=\(notify)")
        _ = c?.command("DATA")
        return c?.command("Subject: \(subject)\r\n\r\nbody\r\n.") ?? "closed"
    }

    func testDSNNotifyIsHonoured() throws {
        let (inst, port) = try start(aliases: "bouncer: nosuchuser42\n")
        let token = UUID().uuidString
        let me = "\(Self.user)@example.test"
        XCTAssertTrue(sendNotify(port, from: me, to: "bouncer@example.test", notify: "NEVER", subject: "Never \(token)").hasPrefix("250"))
        XCTAssertTrue(sendNotify(port, from: me, to: me, notify: "SUCCESS,FAILURE", subject: "Success \(token)").hasPrefix("250"))
        XCTAssertTrue(eventually(20) { inst.log.contains("sender delivery status notification:") }, inst.log)
        XCTAssertTrue(eventually(20) {
            self.maildirFiles().contains { ((try? String(contentsOfFile: $0, encoding: .utf8)) ?? "").contains("Successful Mail Delivery Report") }
        })
        let report = try XCTUnwrap(maildirFiles().first { ((try? String(contentsOfFile: $0, encoding: .utf8)) ?? "").contains("Successful Mail Delivery Report") })
        let text = try String(contentsOfFile: report, encoding: .utf8)
        XCTAssertTrue(text.contains("Action: delivered"), text)
        XCTAssertTrue(text.contains("Original-Envelope-Id: env-1"), text)
        XCTAssertTrue(text.contains("text/rfc822-headers"), text)
        XCTAssertTrue(inst.log.contains("to=<nosuchuser42@example.test>, orig_to=<bouncer@example.test>"), inst.log)
        XCTAssertFalse(inst.log.contains("sender non-delivery notification:"), "NOTIFY=NEVER: no bounce")
    }

    func testDeferredThenDeliveredAfterTheFix() throws {
        let dir = NSTemporaryDirectory() + "postern-cmd-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o1777)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (inst, port) = try start(["delay_warning_time = 2s"],
                                     aliases: "deferme: \"|/bin/sh -c 'test -e \(dir)/ok || exit 75; cat >> \(dir)/out'\"\n")
        let token = UUID().uuidString
        XCTAssertTrue(send(port, from: "\(Self.user)@example.test", to: "deferme@example.test", subject: "Defer \(token)").hasPrefix("250"))
        XCTAssertTrue(eventually(15) { inst.log.contains("to=<deferme@example.test>") && inst.log.contains("status=deferred") }, inst.log)
        // delay_warning_time: once the message has waited that long the sender is told, once.
        XCTAssertTrue(eventually(30) { self.delivered(containing: "Delayed Mail (still being retried)") != nil }, inst.log)
        let warning = try String(contentsOfFile: try XCTUnwrap(delivered(containing: "Delayed Mail")), encoding: .utf8)
        XCTAssertTrue(warning.contains("Return-Path: <>"), warning)
        XCTAssertTrue(warning.contains("Action: delayed\nStatus: 4.3.0"), warning)
        XCTAssertTrue(warning.contains("THIS IS A WARNING ONLY"), warning)
        XCTAssertTrue(warning.contains("Subject: Defer \(token)"), "the original headers are attached")
        XCTAssertTrue(inst.log.contains("sender delay notification: "), inst.log)
        FileManager.default.createFile(atPath: dir + "/ok", contents: nil)
        XCTAssertTrue(eventually(30) { ((try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? "").contains("Defer \(token)") }, inst.log)
        XCTAssertEqual(inst.log.components(separatedBy: "sender delay notification: ").count - 1, 1, "one warning only")
    }

    /// A full file system defers (4.3.0, Postfix's "mail system full" class) and the
    /// message is delivered once there is room again.
    func testFullDiskDefersThenDelivers() throws {
        let maildir = home + "/Maildir"
        try FileManager.default.createDirectory(atPath: maildir, withIntermediateDirectories: true)
        let pw = try XCTUnwrap(getpwnam(Self.user)).pointee
        let mounted = runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700,uid=\(pw.pw_uid),gid=\(pw.pw_gid)", "tmpfs", maildir])
        XCTAssertEqual(mounted.status, 0, mounted.stderr)
        defer { runProgram("/bin/umount", [maildir]) }
        for sub in ["tmp", "new", "cur"] {
            mkdir(maildir + "/" + sub, 0o700)
            chown(maildir + "/" + sub, pw.pw_uid, pw.pw_gid)
        }
        runProgram("/bin/dd", ["if=/dev/zero", "of=\(maildir)/filler", "bs=4k", "count=64"])
        let (inst, port) = try start()
        let token = UUID().uuidString
        XCTAssertTrue(send(port, to: "\(Self.user)@example.test", subject: "Full \(token)", body: String(repeating: "x", count: 8000)).hasPrefix("250"))
        XCTAssertTrue(eventually(15) {
            inst.log.contains("to=<\(Self.user)@example.test>, relay=local") && inst.log.contains("dsn=4.3.0, status=deferred")
                && inst.log.contains("No space left on device")
        }, inst.log)
        XCTAssertNil(delivered(containing: "Full \(token)"))
        unlink(maildir + "/filler")
        XCTAssertTrue(eventually(30) { self.delivered(containing: "Full \(token)") != nil }, inst.log)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: maildir + "/tmp"), [], "no partial file is left behind")
    }

    func testNothingAcknowledgedIsLostWhenAgentsAreKilled() throws {
        let (inst, port) = try start()
        let count = 1000
        let load = Thread {
            _ = runProgram("/usr/sbin/smtp-source", ["-s", "10", "-m", String(count), "-l", "512", "-f", "load@internet.com",
                                                     "-t", "\(Self.user)@example.test", "127.0.0.1:\(port)"])
        }
        load.start()
        // Kill qmgr and local at random moments while mail flows; the master starts them again.
        var kills = 0
        for _ in 0..<12 {
            usleep(UInt32.random(in: 50_000...250_000))
            for pid in childPids(of: try XCTUnwrap(inst.masterPid)) {
                let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
                if (comm.hasPrefix("qmgr") || comm.hasPrefix("local")) && Bool.random() {
                    kill(pid, SIGKILL)
                    kills += 1
                }
            }
        }
        while load.isExecuting || !load.isFinished { usleep(100_000) }
        // A full restart too: the active queue is recovered by the new qmgr.
        inst.stop()
        inst.start()
        let accepted = inst.log.components(separatedBy: ": client=").count - 1
        func deliveredIDs() -> [String] {
            maildirFiles().compactMap { path -> String? in
                guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains("load@internet.com"),
                    let range = text.range(of: #"with E?SMTP id [0-9A-F]+"#, options: .regularExpression)
                else { return nil }
                return String(text[range])
            }
        }
        XCTAssertTrue(eventually(120) {
            inst.run("postern", ["flush"])
            return Set(deliveredIDs()).count >= accepted
        }, "every accepted message arrives: \(Set(deliveredIDs()).count) of \(accepted); queue: "
            + inst.run("postqueue", ["-p"]).stdout.suffix(2000) + "\nlog tail: " + inst.log.suffix(4000))
        let ids = deliveredIDs()
        print("crash test: \(accepted) accepted, \(kills) kills, \(ids.count - Set(ids).count) duplicate deliveries")
        XCTAssertGreaterThanOrEqual(accepted, count, "smtp-source's messages were all accepted")
    }

    func testFileCommandForwardExtensionMboxAndUnwritableMaildir() throws {
        let other = "posterntest2"
        if getpwnam(other) == nil { runProgram("/usr/sbin/useradd", ["-m", "-s", "/usr/sbin/nologin", other]) }
        let otherHome = String(cString: try XCTUnwrap(getpwnam(other)).pointee.pw_dir)
        let work = NSTemporaryDirectory() + "postern-kinds-\(getpid())"
        try FileManager.default.createDirectory(atPath: work + "/spool", withIntermediateDirectories: true)
        chmod(work, 0o1777)
        chmod(work + "/spool", 0o1777)
        defer {
            try? FileManager.default.removeItem(atPath: work)
            try? FileManager.default.removeItem(atPath: otherHome + "/.forward")
        }
        // posterntest2 forwards to the file alias; its mail otherwise goes to an mbox.
        try "tofile\n".write(toFile: otherHome + "/.forward", atomically: true, encoding: .utf8)
        let owner = try XCTUnwrap(getpwnam(other)).pointee
        chown(otherHome + "/.forward", owner.pw_uid, owner.pw_gid)
        let (inst, port) = try start(["recipient_delimiter = +"], aliases: """
            tofile: \(work)/file.out
            tocmd: "|/bin/sh -c 'cat > \(work)/cmd.out'"

            """)
        let token = UUID().uuidString
        XCTAssertTrue(send(port, to: "tofile@example.test", subject: "File \(token)").hasPrefix("250"))
        XCTAssertTrue(send(port, to: "tocmd@example.test", subject: "Cmd \(token)").hasPrefix("250"))
        XCTAssertTrue(send(port, to: "\(Self.user)+news@example.test", subject: "Ext \(token)").hasPrefix("250"))
        XCTAssertTrue(send(port, to: "\(other)@example.test", subject: "Fwd \(token)").hasPrefix("250"))
        func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        XCTAssertTrue(eventually(20) { contents(work + "/file.out").contains("File \(token)") }, inst.log)
        XCTAssertTrue(contents(work + "/file.out").hasPrefix("From testuser@internet.com "), "files get an mbox From_ line")
        XCTAssertTrue(eventually(20) { contents(work + "/cmd.out").contains("Cmd \(token)") }, inst.log)
        XCTAssertTrue(eventually(20) { self.delivered(containing: "Ext \(token)") != nil }, inst.log)
        XCTAssertTrue(contents(try XCTUnwrap(delivered(containing: "Ext \(token)"))).contains("Delivered-To: \(Self.user)+news@example.test"))
        XCTAssertTrue(eventually(20) { contents(work + "/file.out").contains("Fwd \(token)") }, ".forward to the file alias: \(inst.log)")

        // mbox delivery with locking, to mail_spool_directory.
        let (mboxInst, mboxPort) = try start(["home_mailbox =", "mail_spool_directory = \(work)/spool"])
        XCTAssertTrue(send(mboxPort, to: "\(Self.user)@example.test", subject: "Mbox \(token)").hasPrefix("250"))
        XCTAssertTrue(eventually(20) { contents(work + "/spool/" + Self.user).contains("Mbox \(token)") }, mboxInst.log)
        XCTAssertTrue(contents(work + "/spool/" + Self.user).hasPrefix("From testuser@internet.com "))
        XCTAssertTrue(mboxInst.log.contains("status=sent (delivered to mailbox)"))

        // An unwritable Maildir is a permanent failure (5.2.0), as in Postfix.
        try? FileManager.default.removeItem(atPath: home + "/Maildir")
        try FileManager.default.createDirectory(atPath: home + "/Maildir", withIntermediateDirectories: true)
        try "not a folder".write(toFile: home + "/Maildir/tmp", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: home + "/Maildir") }
        XCTAssertTrue(send(port, to: "\(Self.user)@example.test", subject: "Broken \(token)").hasPrefix("250"))
        XCTAssertTrue(eventually(20) { inst.log.contains("dsn=5.2.0, status=bounced (maildir delivery failed") }, inst.log)
    }

    func testVirtualAliasDomainAndSenderCanonical() throws {
        let (inst, port) = try start([
            "virtual_alias_domains = virt.example",
            "virtual_alias_maps = inline:{ {info@virt.example = \(Self.user)@example.test} }",
            "sender_canonical_maps = inline:{ {testuser@internet.com = Test.User@internet.com} }",
        ])
        let token = UUID().uuidString
        XCTAssertTrue(send(port, to: "info@virt.example", subject: "Virtual \(token)").hasPrefix("250"))
        XCTAssertTrue(eventually(20) { self.delivered(containing: "Virtual \(token)") != nil }, inst.log)
        let text = try String(contentsOfFile: try XCTUnwrap(delivered(containing: "Virtual \(token)")), encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("Return-Path: <Test.User@internet.com>\n"), text)
        XCTAssertTrue(inst.log.contains("to=<\(Self.user)@example.test>, orig_to=<info@virt.example>"), inst.log)
    }
}
