// The outbound flow through real processes: smtpd → queue → qmgr → smtp → a server on
// loopback (Postfix's smtp-sink, a scripted fake server, or a second Postern), with
// relayhost and transport_maps routes, deferral and retry, bounces carrying the remote
// reply, AUTH, pipelining and DSN parameters, time-outs, connection reuse and the
// destination rate delay.
import Foundation
import XCTest

@testable import Shared

final class SMTPClientTests: XCTestCase {
    static let user = "posterntest"
    var instances: [TestInstance] = []
    var servers: [FakeSMTPServer] = []
    var processes: [Process] = []
    var home = ""

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("bounces to a user's Maildir need root") }
        if getpwnam(Self.user) == nil {
            runProgram("/usr/sbin/useradd", ["-m", "-s", "/usr/sbin/nologin", Self.user])
        }
        home = String(cString: try XCTUnwrap(getpwnam(Self.user)).pointee.pw_dir)
        try? FileManager.default.removeItem(atPath: home + "/Maildir")
    }

    override func tearDown() {
        for p in processes where p.isRunning { p.terminate() }
        for p in processes { p.waitUntilExit() }
        servers.forEach { $0.stop() }
        instances.removeAll()
        super.tearDown()
    }

    /// An instance that relays mail for other domains through smtp; MAIN adds settings.
    func start(_ main: [String] = []) throws -> (TestInstance, UInt16) {
        let port = freePort()
        let master = """
            127.0.0.1:\(port) inet n - n - - smtpd
            qmgr unix n - n 300 1 qmgr
            local unix - n n - - local
            smtp unix - - n - - smtp
            relay unix - - n - - smtp

            """
        let inst = try TestInstance(masterCF: master, main: [
            "mydomain = example.test", "myorigin = $mydomain", "mydestination = $myhostname, $mydomain, localhost",
            "mynetworks = 127.0.0.0/8", "home_mailbox = Maildir/", "smtpd_error_sleep_time = 0", "alias_maps =",
            "minimal_backoff_time = 1s", "maximal_backoff_time = 2s", "queue_run_delay = 1s",
        ] + main)
        instances.append(inst)
        inst.start()
        return (inst, port)
    }

    func fakeServer(port: UInt16 = 0, _ configure: (FakeSMTPServer) -> Void = { _ in }) throws -> FakeSMTPServer {
        let server = try FakeSMTPServer(port: port)
        configure(server)
        server.start()
        servers.append(server)
        return server
    }

    /// Sends one message; returns the reply to its end of data.
    @discardableResult
    func send(_ port: UInt16, from: String = "sender@example.test", to: [String], mailParameters: String = "", rcptParameters: String = "",
              body: String) -> String {
        guard let c = SMTPTestClient(port: port) else { return "no connection" }
        _ = c.reply()
        _ = c.command("EHLO client.example.org")
        _ = c.command("MAIL FROM:<\(from)>" + mailParameters)
        for r in to { _ = c.command("RCPT TO:<\(r)>" + rcptParameters) }
        _ = c.command("DATA")
        let reply = c.command(body.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n.")
        _ = c.command("QUIT")
        return reply
    }

    func matches(_ text: String, _ pattern: String) -> Bool { text.range(of: pattern, options: .regularExpression) != nil }

    func bounce(containing token: String) -> String? {
        let dir = home + "/Maildir/new"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            let text = (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)) ?? ""
            if text.hasPrefix("Return-Path: <>") && text.contains(token) { return text }
        }
        return nil
    }

    // MARK: tests

    func testRelayhostToSmtpSink() throws {
        let sinkPort = freePort()
        let dump = NSTemporaryDirectory() + "postern-sink-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dump, withIntermediateDirectories: true)
        chmod(dump, 0o777)
        defer { try? FileManager.default.removeItem(atPath: dump) }
        let sink = Process()
        sink.executableURL = URL(fileURLWithPath: "/usr/sbin/smtp-sink")
        sink.arguments = ["-u", "nobody", "-h", "sink.example.net", "-d", dump + "/%s.", "127.0.0.1:\(sinkPort)", "100"]
        try sink.run()
        processes.append(sink)
        let (inst, port) = try start(["relayhost = [127.0.0.1]:\(sinkPort)"])
        let token = UUID().uuidString
        XCTAssertTrue(eventually(5) { LineClient(port: sinkPort) != nil }, "smtp-sink listens")
        XCTAssertTrue(send(port, to: ["friend@elsewhere.example.net"], body: "Subject: Sink \(token)\n\n..leading dot\nbody").hasPrefix("250"))
        XCTAssertTrue(eventually(20) {
            self.matches(inst.log, #"smtp\[[0-9]+\]: [0-9A-F]+: to=<friend@elsewhere\.example\.net>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\#(sinkPort), delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok\)"#)
        }, inst.log)
        XCTAssertTrue(eventually(10) { inst.log.contains(": removed") })
        let dumped = FileManager.default.enumerator(atPath: dump)?.allObjects.compactMap { $0 as? String } ?? []
        let text = dumped.compactMap { try? String(contentsOfFile: dump + "/" + $0, encoding: .utf8) }.first { $0.contains("Sink \(token)") }
        XCTAssertNotNil(text, "smtp-sink stored the message: \(dumped)")
        XCTAssertTrue(text?.contains("\n.leading dot") ?? false, "the dot-stuffing was undone by the server: \(text ?? "")")
    }

    func testConnectionRefusedIsDeferredThenDeliveredWhenTheServerStarts() throws {
        let serverPort = freePort()
        let (inst, port) = try start(["relayhost = [127.0.0.1]:\(serverPort)"])
        let token = UUID().uuidString
        XCTAssertTrue(send(port, to: ["friend@elsewhere.example.net"], body: "Subject: Later \(token)\n\n..two dots\nbye").hasPrefix("250"))
        XCTAssertTrue(eventually(15) {
            inst.log.contains("to=<friend@elsewhere.example.net>, relay=none, ")
                && inst.log.contains("dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:\(serverPort): Connection refused)")
        }, inst.log)
        XCTAssertTrue(inst.log.contains("smtp[") && inst.log.contains("]: connect to 127.0.0.1[127.0.0.1]:\(serverPort): Connection refused"))
        let listing = inst.run("postqueue", ["-p"]).stdout
        XCTAssertTrue(listing.contains("(connect to 127.0.0.1[127.0.0.1]:\(serverPort): Connection refused)"), listing)
        let server = try fakeServer(port: serverPort)
        inst.run("postqueue", ["-f"])
        XCTAssertTrue(eventually(20) { server.messages.contains { $0.data.contains("Later \(token)") } }, inst.log)
        let m = try XCTUnwrap(server.messages.first { $0.data.contains("Later \(token)") })
        XCTAssertTrue(m.data.contains("\r\n..two dots\r\nbye\r\n"), "a line starting with a dot is dot-stuffed; CRLF line ends: \(m.data)")
        XCTAssertEqual(m.rcptTo, ["RCPT TO:<friend@elsewhere.example.net> ORCPT=rfc822;friend@elsewhere.example.net"])
        XCTAssertTrue(eventually(10) { inst.log.contains("status=sent (250 2.0.0 Ok: queued as FAKE") }, inst.log)
    }

    func testRemoteRefusalBouncesWithTheRemoteText() throws {
        let server = try fakeServer {
            $0.hook = { line in line.hasPrefix("RCPT TO:<nobody@") ? .reply("550 5.1.1 <nobody@remote.example.net>: Recipient address rejected: User unknown") : nil }
        }
        let (inst, port) = try start(["transport_maps = inline:{ remote.example.net=smtp:[127.0.0.1]:\(server.port) }"])
        let token = UUID().uuidString
        XCTAssertTrue(send(port, from: "\(Self.user)@example.test", to: ["nobody@remote.example.net", "somebody@remote.example.net"],
                           body: "Subject: Refused \(token)\n\nhello").hasPrefix("250"))
        XCTAssertTrue(eventually(20) { self.bounce(containing: "Refused \(token)") != nil }, inst.log)
        let text = try XCTUnwrap(bounce(containing: "Refused \(token)"))
        let said = "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nobody@remote.example.net>: Recipient address rejected: User unknown (in reply to RCPT TO command)"
        XCTAssertTrue(text.contains("<nobody@remote.example.net>: " + said), text)
        XCTAssertTrue(text.contains("Status: 5.1.1\nRemote-MTA: dns; 127.0.0.1\nDiagnostic-Code: smtp; 550 5.1.1 <nobody@remote.example.net>: Recipient address rejected: User unknown\n"), text)
        XCTAssertFalse(text.contains("<somebody@remote.example.net>:"), "the accepted recipient is not in the notice")
        XCTAssertTrue(matches(inst.log, #"to=<nobody@remote\.example\.net>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\#(server.port), delay=[0-9.]+, delays=[0-9./]+, dsn=5\.1\.1, status=bounced \("# + NSRegularExpression.escapedPattern(for: said) + #"\)"#), inst.log)
        XCTAssertTrue(inst.log.contains("to=<somebody@remote.example.net>, relay=127.0.0.1[127.0.0.1]:\(server.port)"), inst.log)
        XCTAssertEqual(server.messages.count, 1)
    }

    func testTemporaryRefusalIsDeferredWithTheRemoteReply() throws {
        let server = try fakeServer { $0.hook = { $0.hasPrefix("RCPT") ? .reply("452 4.2.2 Mailbox full") : nil } }
        let (inst, port) = try start(["relayhost = [127.0.0.1]:\(server.port)"])
        XCTAssertTrue(send(port, to: ["full@elsewhere.example.net"], body: "Subject: full\n\nx").hasPrefix("250"))
        XCTAssertTrue(eventually(15) {
            inst.log.contains("dsn=4.2.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command))")
        }, inst.log)
    }

    func testDeliveryToASecondPostern() throws {
        let other = "posterntest2"
        if getpwnam(other) == nil { runProgram("/usr/sbin/useradd", ["-m", "-s", "/usr/sbin/nologin", other]) }
        let otherHome = String(cString: try XCTUnwrap(getpwnam(other)).pointee.pw_dir)
        let receiverPort = freePort()
        let receiver = try TestInstance(masterCF: """
            127.0.0.1:\(receiverPort) inet n - n - - smtpd
            qmgr unix n - n 300 1 qmgr
            local unix - n n - - local

            """, main: ["myhostname = mx.b.example", "mydomain = b.example", "mydestination = $mydomain", "home_mailbox = Maildir/",
                        "alias_maps =", "smtpd_error_sleep_time = 0", "mynetworks = 10.9.9.9/32"])
        instances.append(receiver)
        receiver.start()
        let (inst, port) = try start(["transport_maps = inline:{ b.example=smtp:[127.0.0.1]:\(receiverPort) }"])
        let token = UUID().uuidString
        XCTAssertTrue(send(port, to: ["\(other)@b.example"], body: "Subject: Across \(token)\n\nfrom A to B").hasPrefix("250"))
        func arrived() -> String? {
            let dir = otherHome + "/Maildir/new"
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).compactMap {
                try? String(contentsOfFile: dir + "/" + $0, encoding: .utf8)
            }.first { $0.contains("Across \(token)") }
        }
        XCTAssertTrue(eventually(20) { arrived() != nil }, inst.log + receiver.log)
        XCTAssertTrue(matches(inst.log, #"to=<posterntest2@b\.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\#(receiverPort), .*dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as [0-9A-F]+\)"#), inst.log)
        let text = try XCTUnwrap(arrived())
        XCTAssertTrue(text.contains("Received: from mx.example.test (localhost [127.0.0.1])"), "B saw A's EHLO name: \(text)")
    }

    func testRelayhostWithAuth() throws {
        let server = try fakeServer { $0.credentials = ("relayuser", "s3cret:pw") }
        let (inst, port) = try start([
            "relayhost = [127.0.0.1]:\(server.port)", "smtp_sasl_auth_enable = yes", "smtp_sasl_security_options = noanonymous",
            "smtp_sasl_password_maps = inline:{ {[127.0.0.1]:\(server.port) = relayuser:s3cret:pw} }",
        ])
        let token = UUID().uuidString
        XCTAssertTrue(send(port, to: ["far@elsewhere.example.net"], body: "Subject: Auth \(token)\n\nx").hasPrefix("250"))
        XCTAssertTrue(eventually(20) { server.messages.contains { $0.data.contains("Auth \(token)") } }, inst.log)
        XCTAssertTrue(server.commands.contains("AUTH PLAIN " + Data("\0relayuser\0s3cret:pw".utf8).base64EncodedString()), "\(server.commands)")
        XCTAssertTrue(eventually(10) { inst.log.contains("to=<far@elsewhere.example.net>") && inst.log.contains("status=sent") }, inst.log)
    }

    func testAuthFailureDefers() throws {
        let server = try fakeServer { $0.credentials = ("relayuser", "right") }
        let (inst, port) = try start([
            "relayhost = [127.0.0.1]:\(server.port)", "smtp_sasl_auth_enable = yes", "smtp_sasl_security_options = noanonymous",
            "smtp_sasl_mechanism_filter = login", "smtp_sasl_password_maps = inline:{ 127.0.0.1=relayuser:wrong }",
        ])
        XCTAssertTrue(send(port, to: ["far@elsewhere.example.net"], body: "Subject: no\n\nx").hasPrefix("250"))
        XCTAssertTrue(eventually(20) {
            inst.log.contains("relay=127.0.0.1[127.0.0.1]:\(server.port), ")
                && inst.log.contains("dsn=4.7.8, status=deferred (SASL authentication failed; server 127.0.0.1[127.0.0.1] said: 535 5.7.8 Error: authentication failed: authentication failure)")
        }, inst.log)
        XCTAssertTrue(server.commands.contains("AUTH LOGIN"), "smtp_sasl_mechanism_filter picked LOGIN: \(server.commands)")
        XCTAssertTrue(server.messages.isEmpty)
    }

    func testPipeliningAndDSNParametersPassThrough() throws {
        let server = try fakeServer()
        let (inst, port) = try start(["relayhost = [127.0.0.1]:\(server.port)"])
        let token = UUID().uuidString
        XCTAssertTrue(send(port, to: ["a@elsewhere.example.net", "b@elsewhere.example.net"], mailParameters: " RET=HDRS ENVID=env+2Bid BODY=8BITMIME",
                           rcptParameters: " NOTIFY=SUCCESS,DELAY ORCPT=rfc822;orig@elsewhere.example.net", body: "Subject: DSN \(token)\n\nx").hasPrefix("250"))
        XCTAssertTrue(eventually(20) { server.messages.contains { $0.data.contains("DSN \(token)") } }, inst.log)
        let m = try XCTUnwrap(server.messages.first { $0.data.contains("DSN \(token)") })
        XCTAssertTrue(matches(m.mailFrom, #"^MAIL FROM:<sender@example\.test> SIZE=[0-9]+ BODY=8BITMIME ENVID=env\+2Bid RET=HDRS$"#), m.mailFrom)
        XCTAssertEqual(m.rcptTo, [
            "RCPT TO:<a@elsewhere.example.net> ORCPT=rfc822;orig@elsewhere.example.net NOTIFY=SUCCESS,DELAY",
            "RCPT TO:<b@elsewhere.example.net> ORCPT=rfc822;orig@elsewhere.example.net NOTIFY=SUCCESS,DELAY",
        ])
        let commands = server.commands
        let mail = try XCTUnwrap(commands.firstIndex { $0.hasPrefix("MAIL FROM") })
        XCTAssertEqual(commands[mail + 3], "DATA", "MAIL, RCPT, RCPT, DATA in one group")
    }

    func testSMTPUTF8MessageBouncesWhenTheServerLacksIt() throws {
        let server = try fakeServer { $0.ehloKeywords = ["PIPELINING", "8BITMIME"] }
        let (inst, port) = try start(["relayhost = [127.0.0.1]:\(server.port)"])
        XCTAssertTrue(send(port, to: ["jos\u{e9}@elsewhere.example.net"], mailParameters: " SMTPUTF8", body: "Subject: utf8\n\nx").hasPrefix("250"))
        XCTAssertTrue(eventually(20) {
            inst.log.contains("to=<jos\u{e9}@elsewhere.example.net>, relay=127.0.0.1[127.0.0.1]:\(server.port), ")
                && inst.log.contains("dsn=5.6.7, status=bounced (SMTPUTF8 is required, but was not offered by host 127.0.0.1[127.0.0.1])")
        }, inst.log)
        XCTAssertTrue(server.messages.isEmpty)
    }

    func testSilentServerTimesOutAndALostConnectionIsDeferred() throws {
        let silent = try fakeServer { $0.greeting = "" }
        silent.hook = { _ in .silence }
        let lost = try fakeServer { $0.hook = { $0.hasPrefix("RCPT") ? .hangUp : nil } }
        let (inst, port) = try start([
            "smtp_helo_timeout = 2s",
            "transport_maps = inline:{ silent.example=smtp:[127.0.0.1]:\(silent.port), lost.example=smtp:[127.0.0.1]:\(lost.port) }",
        ])
        XCTAssertTrue(send(port, to: ["x@silent.example"], body: "Subject: s\n\nx").hasPrefix("250"))
        XCTAssertTrue(send(port, to: ["x@lost.example"], body: "Subject: l\n\nx").hasPrefix("250"))
        XCTAssertTrue(eventually(20) {
            inst.log.contains("dsn=4.4.2, status=deferred (conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting)")
                && inst.log.contains("dsn=4.4.2, status=deferred (lost connection with 127.0.0.1[127.0.0.1] while sending RCPT TO)")
        }, inst.log)
    }

    func testConnectionReuseForQueuedMail() throws {
        let server = try fakeServer()
        let (inst, port) = try start(["relayhost = [127.0.0.1]:\(server.port)", "smtp_destination_concurrency_limit = 1",
                                      "smtp_connection_cache_time_limit = 5s"])
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        _ = c.reply()
        _ = c.command("EHLO client.example.org")
        for i in 0..<4 {
            _ = c.command("MAIL FROM:<sender@example.test>")
            _ = c.command("RCPT TO:<r\(i)@elsewhere.example.net>")
            _ = c.command("DATA")
            XCTAssertTrue(c.command("Subject: reuse \(i)\r\n\r\nx\r\n.").hasPrefix("250"))
        }
        _ = c.command("QUIT")
        XCTAssertTrue(eventually(20) { server.messages.count == 4 }, inst.log)
        XCTAssertLessThan(server.connections, 4, "queued mail for one next hop shares a connection: \(server.connections)")
        XCTAssertTrue(matches(inst.log, #"relay=127\.0\.0\.1\[127\.0\.0\.1\]:\#(server.port), conn_use=2, delay="#), inst.log)
        XCTAssertTrue(server.commands.contains("RSET"), "a kept connection is probed with RSET before reuse")
    }

    func testDestinationRateDelaySpacesDeliveries() throws {
        let server = try fakeServer()
        var arrivals: [Date] = []
        let lock = NSLock()
        server.hook = { line in
            if line.hasPrefix("MAIL") { lock.withLock { arrivals.append(Date()) } }
            return nil
        }
        let (inst, port) = try start(["relayhost = [127.0.0.1]:\(server.port)", "default_destination_rate_delay = 2s"])
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        _ = c.reply()
        _ = c.command("EHLO client.example.org")
        for i in 0..<2 {
            _ = c.command("MAIL FROM:<sender@example.test>")
            _ = c.command("RCPT TO:<r\(i)@elsewhere.example.net>")
            _ = c.command("DATA")
            XCTAssertTrue(c.command("Subject: rate \(i)\r\n\r\nx\r\n.").hasPrefix("250"))
        }
        XCTAssertTrue(eventually(20) { server.messages.count == 2 }, inst.log)
        let times = lock.withLock { arrivals }
        XCTAssertEqual(times.count, 2)
        XCTAssertGreaterThanOrEqual(times[1].timeIntervalSince(times[0]), 1.9, "two deliveries to one destination are 2s apart")
    }

    func testMXRoutingThroughDNS() throws {
        let server = try fakeServer()
        // 127.0.0.2 is loopback too, but nothing listens there: the better MX is down.
        let dns = try DNSServer([
            DNSServer.mx("a.example", "mx1.a.example", 10), DNSServer.mx("a.example", "mx2.a.example", 20),
            DNSServer.host("mx1.a.example", "127.0.0.2"), DNSServer.host("mx2.a.example", "127.0.0.1"),
            DNSServer.host("plain.example", "127.0.0.1"), DNSServer.nullMX("nullmx.example"),
        ])
        let (inst, port) = try start([dns.parameter, "smtp_tcp_port = \(server.port)"])
        let token = UUID().uuidString
        XCTAssertTrue(send(port, from: "\(Self.user)@example.test", to: ["x@a.example", "y@plain.example", "z@nullmx.example", "w@nx.example"],
                           body: "Subject: MX \(token)\n\nx").hasPrefix("250"))
        XCTAssertTrue(eventually(20) { server.messages.count == 2 && self.bounce(containing: "MX \(token)") != nil }, inst.log)
        let log = inst.log
        XCTAssertTrue(log.contains("]: connect to mx1.a.example[127.0.0.2]:\(server.port): Connection refused"), log)
        XCTAssertTrue(matches(log, #"to=<x@a\.example>, relay=mx2\.a\.example\[127\.0\.0\.1\]:\#(server.port), .*status=sent"#), log)
        XCTAssertTrue(matches(log, #"to=<y@plain\.example>, relay=plain\.example\[127\.0\.0\.1\]:\#(server.port), .*status=sent"#), log)
        XCTAssertTrue(matches(log, #"to=<z@nullmx\.example>, relay=none, .*dsn=5\.1\.0, status=bounced \(Domain nullmx\.example does not accept mail \(nullMX\)\)"#), log)
        XCTAssertTrue(log.contains("dsn=5.4.4, status=bounced (Host or domain name not found. Name service error for name=nx.example type=A: Host not found)"), log)
        let text = try XCTUnwrap(bounce(containing: "MX \(token)"))
        XCTAssertTrue(text.contains("<z@nullmx.example>: Domain nullmx.example does not accept mail (nullMX)"), text)
        XCTAssertTrue(text.contains("Diagnostic-Code: X-Postfix; Domain nullmx.example does not accept mail (nullMX)"), text)
    }

    func testDNSFailureDefers() throws {
        let (inst, port) = try start(["postern_dns_server = \(DNSServer.unreachable)", "smtp_tcp_port = \(freePort())"])
        XCTAssertTrue(send(port, to: ["x@somewhere.example"], body: "Subject: dns\n\nx").hasPrefix("250"))
        XCTAssertTrue(eventually(40) {
            inst.log.contains("to=<x@somewhere.example>, relay=none, ")
                && inst.log.contains("dsn=4.4.3, status=deferred (Host or domain name not found. Name service error for name=somewhere.example type=MX: Host not found, try again)")
        }, inst.log)
    }

    func testSuccessNoticeOnlyFromAServerWithoutDSN() throws {
        let withDSN = try fakeServer()
        let withoutDSN = try fakeServer { $0.ehloKeywords = ["PIPELINING"] }
        let (inst, port) = try start([
            "transport_maps = inline:{ a.example=smtp:[127.0.0.1]:\(withDSN.port), b.example=smtp:[127.0.0.1]:\(withoutDSN.port) }",
        ])
        let token = UUID().uuidString
        XCTAssertTrue(send(port, from: "\(Self.user)@example.test", to: ["x@a.example", "y@b.example"], rcptParameters: " NOTIFY=SUCCESS",
                           body: "Subject: Notify \(token)\n\nx").hasPrefix("250"))
        XCTAssertTrue(eventually(20) { self.bounce(containing: "Notify \(token)") != nil }, inst.log)
        let text = try XCTUnwrap(bounce(containing: "Notify \(token)"))
        XCTAssertTrue(text.contains("Final-Recipient: rfc822; y@b.example\n"), text)
        XCTAssertTrue(text.contains("Action: relayed\nStatus: 2.0.0\nRemote-MTA: dns; 127.0.0.1\nDiagnostic-Code: smtp; 250 2.0.0 Ok: queued as FAKE"), text)
        XCTAssertFalse(text.contains("x@a.example"), "the DSN server was given NOTIFY=SUCCESS and reports itself: \(text)")
        XCTAssertEqual(withDSN.messages.first?.rcptTo.first?.hasSuffix("NOTIFY=SUCCESS"), true)
    }

    /// A second Postern that offers STARTTLS with a self-signed certificate for
    /// `localhost` and delivers b.example to posterntest2's Maildir.
    func tlsReceiver() throws -> (inst: TestInstance, port: UInt16, cert: String, home: String) {
        let other = "posterntest2"
        if getpwnam(other) == nil { runProgram("/usr/sbin/useradd", ["-m", "-s", "/usr/sbin/nologin", other]) }
        let otherHome = String(cString: try XCTUnwrap(getpwnam(other)).pointee.pw_dir)
        let port = freePort()
        let receiver = try TestInstance(masterCF: """
            127.0.0.1:\(port) inet n - n - - smtpd
            qmgr unix n - n 300 1 qmgr
            local unix - n n - - local

            """, main: ["myhostname = mx.b.example", "mydomain = b.example", "mydestination = $mydomain", "home_mailbox = Maildir/",
                        "alias_maps =", "smtpd_error_sleep_time = 0", "mynetworks = 10.9.9.9/32", "smtpd_tls_security_level = may"])
        let cert = receiver.etc + "/server.pem"
        let key = receiver.etc + "/server.key"
        let made = runProgram("/usr/bin/openssl", ["req", "-new", "-x509", "-nodes", "-days", "30", "-subj", "/CN=localhost",
                                                   "-newkey", "rsa:2048", "-keyout", key, "-out", cert])
        XCTAssertEqual(made.status, 0, made.stderr)
        chmod(cert, 0o644)
        try receiver.writeFile("main.cf", try String(contentsOfFile: receiver.etc + "/main.cf", encoding: .utf8)
            + "smtpd_tls_cert_file = \(cert)\nsmtpd_tls_key_file = \(key)\n")
        instances.append(receiver)
        receiver.start()
        return (receiver, port, cert, otherHome)
    }

    func testStartTLSToAReceiver() throws {
        let receiver = try tlsReceiver()
        let (inst, port) = try start([
            "smtp_tls_security_level = may", "smtp_tls_loglevel = 1", "smtp_host_lookup = native",
            "transport_maps = inline:{ b.example=smtp:[127.0.0.1]:\(receiver.port), v.example=smtp:[localhost]:\(receiver.port) }",
        ])
        let token = UUID().uuidString
        XCTAssertTrue(send(port, to: ["posterntest2@b.example"], body: "Subject: TLS \(token)\n\nsecret").hasPrefix("250"))
        func arrived(_ text: String) -> String? {
            let dir = receiver.home + "/Maildir/new"
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).compactMap {
                try? String(contentsOfFile: dir + "/" + $0, encoding: .utf8)
            }.first { $0.contains(text) }
        }
        XCTAssertTrue(eventually(20) { arrived("TLS \(token)") != nil }, inst.log + receiver.inst.log)
        XCTAssertTrue(arrived("TLS \(token)")?.contains("with ESMTPS id") ?? false, "the receiver saw TLS: \(arrived("TLS \(token)") ?? "")")
        XCTAssertTrue(matches(inst.log, #"smtp\[[0-9]+\]: Untrusted TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:\#(receiver.port): TLSv1\.[23] with cipher "#), inst.log)
        XCTAssertTrue(inst.log.contains("to=<posterntest2@b.example>, relay=127.0.0.1[127.0.0.1]:\(receiver.port)"), inst.log)
    }

    func testVerifiedTLSAndARefusedCertificate() throws {
        let receiver = try tlsReceiver()
        let (inst, port) = try start([
            "smtp_tls_security_level = verify", "smtp_tls_loglevel = 1", "smtp_tls_CAfile = \(receiver.cert)", "smtp_host_lookup = native",
            "transport_maps = inline:{ b.example=smtp:[localhost]:\(receiver.port), wrong.example=smtp:[127.0.0.1]:\(receiver.port) }",
        ])
        XCTAssertTrue(send(port, to: ["posterntest2@b.example"], body: "Subject: verified\n\nx").hasPrefix("250"))
        XCTAssertTrue(send(port, to: ["someone@wrong.example"], body: "Subject: wrong name\n\nx").hasPrefix("250"))
        XCTAssertTrue(eventually(20) {
            inst.log.contains("to=<posterntest2@b.example>, relay=localhost[127.0.0.1]:\(receiver.port)") && inst.log.contains("to=<someone@wrong.example>")
        }, inst.log)
        let log = inst.log
        XCTAssertTrue(matches(log, #"Verified TLS connection established to localhost\[127\.0\.0\.1\]:\#(receiver.port): TLSv1\.[23] with cipher "#), log)
        XCTAssertTrue(matches(log, #"to=<posterntest2@b\.example>, relay=localhost\[127\.0\.0\.1\]:\#(receiver.port), .*status=sent"#), log)
        XCTAssertTrue(log.contains("server certificate verification failed for 127.0.0.1[127.0.0.1]:\(receiver.port)"), log)
        XCTAssertTrue(log.contains("dsn=4.7.5, status=deferred (Server certificate not verified)"), log)
    }

    func testEncryptRefusesAServerWithoutStartTLS() throws {
        let server = try fakeServer()
        let (inst, port) = try start(["relayhost = [127.0.0.1]:\(server.port)", "smtp_tls_security_level = encrypt"])
        XCTAssertTrue(send(port, to: ["x@elsewhere.example.net"], body: "Subject: plain\n\nx").hasPrefix("250"))
        XCTAssertTrue(eventually(20) {
            inst.log.contains("dsn=4.7.4, status=deferred (TLS is required, but was not offered by host 127.0.0.1[127.0.0.1])")
        }, inst.log)
        XCTAssertTrue(server.messages.isEmpty)
    }
}
