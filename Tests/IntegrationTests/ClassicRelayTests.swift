// The classic setup's relay flow in one piece: a remote user submits on the submission
// service (encryption required, STARTTLS, AUTH through Cyrus SASL), Postern accepts mail
// for another domain only after the login, and the smtp client delivers it to that
// domain's MX found through DNS (dnsmasq), here a test SMTP server on loopback.
import Foundation
import XCTest

final class ClassicRelayTests: XCTestCase {
    var instances: [TestInstance] = []
    var servers: [FakeSMTPServer] = []
    var dns: DNSServer?
    var work = ""

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("the master needs root") }
        work = NSTemporaryDirectory() + "postern-classic-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        chmod(work, 0o755)
    }

    override func tearDown() {
        instances.removeAll()
        servers.removeAll()
        dns = nil
        try? FileManager.default.removeItem(atPath: work)
        super.tearDown()
    }

    func testAuthenticatedSubmissionLeavesThroughTheDestinationsMX() throws {
        let receiver = try FakeSMTPServer()
        receiver.start()
        servers.append(receiver)
        let dns = try DNSServer([DNSServer.mx("remote.example", "mx.remote.example", 10), DNSServer.host("mx.remote.example", "127.0.0.1")])
        self.dns = dns
        let cert = work + "/cert.pem", key = work + "/key.pem"
        let made = runProgram("/usr/bin/openssl", ["req", "-new", "-x509", "-newkey", "rsa:2048", "-days", "2", "-nodes",
                                                   "-subj", "/CN=mx.example.test", "-keyout", key, "-out", cert])
        XCTAssertEqual(made.status, 0, made.stderr)
        let sasldb = work + "/sasldb2"
        XCTAssertEqual(runProgram("/usr/sbin/saslpasswd2", ["-f", sasldb, "-p", "-c", "-u", "mx.example.test", "alice"], input: "Relay-Secret-7").status, 0)
        chmod(sasldb, 0o644)

        let port = freePort(), submission = freePort()
        let master = """
            127.0.0.1:\(port) inet n - n - - smtpd
            127.0.0.1:\(submission) inet n - n - - smtpd
              -o syslog_name=postfix/submission
              -o smtpd_tls_security_level=encrypt
              -o smtpd_sasl_auth_enable=yes
              -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
            qmgr unix n - n 300 1 qmgr
            local unix - n n - - local
            smtp unix - - n - - smtp
            anvil unix - - n - 1 anvil

            """
        let inst = try TestInstance(masterCF: master, main: [
            "myhostname = mx.example.test", "mydomain = example.test", "myorigin = $mydomain",
            "mydestination = $myhostname, $mydomain, localhost", "mynetworks = 10.9.9.9/32", "alias_maps =",
            "smtpd_tls_cert_file = \(cert)", "smtpd_tls_key_file = \(key)", "smtpd_tls_security_level = may",
            "cyrus_sasl_config_path = $config_directory/sasl", "smtpd_sasl_security_options = noanonymous",
            "smtp_tcp_port = \(receiver.port)", dns.parameter, "smtpd_error_sleep_time = 0",
        ])
        instances.append(inst)
        try FileManager.default.createDirectory(atPath: inst.etc + "/sasl", withIntermediateDirectories: true)
        try inst.writeFile("sasl/smtpd.conf", "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: \(sasldb)\nmech_list: PLAIN LOGIN\n")
        inst.start()

        let token = UUID().uuidString
        let client = """
            import smtplib, ssl, sys
            port, token = int(sys.argv[1]), sys.argv[2]
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            s = smtplib.SMTP("127.0.0.1", port, timeout=20)
            s.ehlo("client.example.org")
            code, text = s.mail("alice@example.test")
            print("mail-before-tls", code, text.decode())
            s.starttls(context=ctx); s.ehlo("client.example.org")
            code, text = s.mail("alice@example.test"); code, text = s.rcpt("bob@remote.example")
            print("rcpt-without-login", code, text.decode()); s.rset()
            s.login("alice", "Relay-Secret-7")
            s.sendmail("alice@example.test", ["bob@remote.example"], "Subject: relay %s\\r\\n\\r\\nto the world\\r\\n" % token)
            print("sent"); s.quit()
            """
        let result = runProgram("/usr/bin/python3", ["-c", client, String(submission), token])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("mail-before-tls 530 5.7.0 Must issue a STARTTLS command first"), result.stdout)
        XCTAssertTrue(result.stdout.contains("rcpt-without-login 554 5.7.1 <bob@remote.example>: Recipient address rejected: Access denied"), result.stdout)
        XCTAssertTrue(result.stdout.contains("sent"), result.stdout + result.stderr)
        XCTAssertTrue(eventually(20) { receiver.messages.contains { $0.data.contains("relay \(token)") } }, inst.log)
        let delivered = try XCTUnwrap(receiver.messages.first { $0.data.contains("relay \(token)") })
        XCTAssertEqual(delivered.rcptTo.count, 1)
        XCTAssertTrue(delivered.rcptTo[0].hasPrefix("RCPT TO:<bob@remote.example>"), "\(delivered.rcptTo)")
        XCTAssertTrue(delivered.data.contains("with ESMTPSA id"), delivered.data)
        let log = inst.log
        XCTAssertTrue(log.contains("postfix/submission/smtpd["), log)
        XCTAssertTrue(log.contains("sasl_method=PLAIN, sasl_username=alice"), log)
        // The agent logs once the receiver's 250 is in, just after the message arrived.
        XCTAssertTrue(eventually(10) {
            inst.log.range(of: #"to=<bob@remote\.example>, relay=mx\.remote\.example\[127\.0\.0\.1\]:\#(receiver.port), .*status=sent \(250 "#,
                           options: .regularExpression) != nil
        }, inst.log)
    }
}
