// TLS through a real master on loopback, spoken to by real clients: `openssl s_client
// -starttls smtp`, swaks --tls and --tlsc (wrapper mode), Python's smtplib starttls();
// session resumption across two smtpd processes, plaintext injected behind STARTTLS,
// protocol lists, the Received: TLS lines, level encrypt's 530, client certificates with
// permit_tls_clientcerts, broken certificate files, certificates re-read on reload, log
// levels, and Postern's own TLS client (Shared) against its smtpd.
import Foundation
import XCTest

@testable import Shared

final class TLSTests: XCTestCase {
    var instances: [TestInstance] = []

    override func tearDown() {
        instances.removeAll()
        super.tearDown()
    }

    // MARK: helpers

    /// Runs openssl with ARGUMENTS (under a time limit); returns its status and output.
    @discardableResult
    func openssl(_ arguments: [String], input: String = "") -> (status: Int32, output: String) {
        let r = runProgram("/usr/bin/timeout", ["20", "/usr/bin/openssl"] + arguments, input: input)
        return (r.status, r.stdout + r.stderr)
    }

    /// A self-signed certificate and key for CN in DIRECTORY (NAME.pem, NAME.key); ECDSA
    /// when EC. With ISSUER, a certificate signed by that CA instead.
    @discardableResult
    func makeCertificate(_ directory: String, name: String, cn: String, ec: Bool = false, issuer: String? = nil) -> (cert: String, key: String) {
        let cert = directory + "/\(name).pem"
        let key = directory + "/\(name).key"
        let keySpec = ec ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] : ["-newkey", "rsa:2048"]
        if let issuer {
            let csr = directory + "/\(name).csr"
            XCTAssertEqual(openssl(["req", "-new", "-nodes", "-subj", "/CN=\(cn)", "-keyout", key, "-out", csr] + keySpec).status, 0)
            XCTAssertEqual(openssl(["x509", "-req", "-in", csr, "-CA", issuer + ".pem", "-CAkey", issuer + ".key", "-CAcreateserial",
                                    "-days", "30", "-out", cert]).status, 0)
        } else {
            XCTAssertEqual(openssl(["req", "-new", "-x509", "-nodes", "-days", "30", "-subj", "/CN=\(cn)", "-keyout", key, "-out", cert] + keySpec).status, 0)
        }
        chmod(key, 0o600)
        chmod(cert, 0o644)
        return (cert, key)
    }

    /// An smtpd on a free port with a fresh RSA certificate for mx.example.test; EXTRA
    /// lines are added to master.cf (PORT2 is a second free port for them).
    func start(_ main: [String] = [], certificate: Bool = true, master extra: (UInt16) -> String = { _ in "" }) throws
        -> (inst: TestInstance, port: UInt16, port2: UInt16)
    {
        let port = freePort()
        var port2 = freePort()
        while port2 == port { port2 = freePort() }
        let base = [
            "mydomain = example.test", "myorigin = $mydomain", "mydestination = $myhostname, $mydomain, localhost",
            "mynetworks = 10.9.9.9/32", "alias_maps =", "smtpd_error_sleep_time = 0", "smtpd_tls_security_level = may",
        ]
        let inst = try TestInstance(masterCF: "127.0.0.1:\(port) inet n - n - - smtpd\n" + extra(port2), main: base)
        instances.append(inst)
        var tls: [String] = []
        if certificate {
            let (cert, key) = makeCertificate(inst.etc, name: "server", cn: "mx.example.test")
            tls = ["smtpd_tls_cert_file = \(cert)", "smtpd_tls_key_file = \(key)"]
        }
        let text = try String(contentsOfFile: inst.etc + "/main.cf", encoding: .utf8)
        try inst.writeFile("main.cf", text + (tls + main).joined(separator: "\n") + "\n")
        inst.start()
        XCTAssertTrue(eventually { SMTPTestClient(port: port) != nil })
        return (inst, port, port2)
    }

    /// One s_client STARTTLS session sending LINES, with extra ARGUMENTS.
    func startTLSClient(_ port: UInt16, _ lines: [String] = ["EHLO client.example.org", "QUIT"], _ arguments: [String] = []) -> (status: Int32, output: String) {
        openssl(["s_client", "-starttls", "smtp", "-connect", "127.0.0.1:\(port)", "-ign_eof"] + arguments,
                input: lines.map { $0 + "\r\n" }.joined())
    }

    func python(_ script: String, _ args: [String]) -> (status: Int32, stdout: String, stderr: String) {
        runProgram("/usr/bin/python3", ["-c", script] + args)
    }

    func queuedContent(_ inst: TestInstance) -> String {
        guard let id = inst.queueFiles().last else { return "" }
        return inst.run("postcat", ["-q", id]).stdout
    }

    // MARK: STARTTLS with real clients

    func testOpenSSLStartTLSAndTheSummaryLine() throws {
        let (inst, port, _) = try start(["smtpd_tls_loglevel = 1"])
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        _ = c.reply()
        c.send("EHLO client.example.org\r\n")
        XCTAssertTrue(c.reply()?.lines.contains("STARTTLS") ?? false)
        XCTAssertEqual(c.command("STARTTLS now"), "501 5.5.4 Syntax: STARTTLS")
        let s = startTLSClient(port)
        XCTAssertTrue(s.output.contains("Cipher is TLS_AES_256_GCM_SHA384") || s.output.contains("Cipher is"), s.output)
        XCTAssertTrue(s.output.contains("250 CHUNKING"), s.output)
        XCTAssertFalse(s.output.components(separatedBy: "250-STARTTLS").count > 2, "STARTTLS is not offered again after TLS")
        XCTAssertTrue(s.output.contains("221 2.0.0 Bye"), s.output)
        XCTAssertTrue(eventually {
            inst.log.contains("Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits)")
        }, inst.log)
        XCTAssertTrue(eventually { inst.log.contains("disconnect from localhost[127.0.0.1] ehlo=2 starttls=1 quit=1 commands=4") }, inst.log)
    }

    func testSwaksTLSAndTheReceivedHeader() throws {
        let (inst, port, _) = try start(["smtpd_tls_received_header = yes"])
        let r = runProgram("/usr/bin/swaks", ["--server", "127.0.0.1:\(port)", "--tls", "--helo", "client.example.org",
                                              "--from", "testuser@internet.com", "--to", "root@example.test", "--h-Subject", "over TLS"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("TLS started with cipher TLSv1.3"), r.stdout)
        let content = queuedContent(inst)
        XCTAssertTrue(content.contains("""
            Received: from client.example.org (localhost [127.0.0.1])
            \t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
            \t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)
            \t(No client certificate requested)
            \tby mx.example.test (Postern) with ESMTPS id
            """), content)
    }

    func testReceivedHeaderForTLS12AndWithoutTheTLSLines() throws {
        let (inst, port, _) = try start(["smtpd_tls_received_header = yes"])
        let s = startTLSClient(port, ["EHLO client.example.org", "MAIL FROM:<a@internet.com>", "RCPT TO:<root@example.test>", "DATA",
                                      "Subject: one", "", "body", ".", "QUIT"], ["-tls1_2"])
        XCTAssertTrue(s.output.contains("250 2.0.0 Ok: queued as"), s.output)
        XCTAssertTrue(queuedContent(inst).contains("\n\t(using TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits))\n\t(No client certificate requested)\n\tby mx.example.test (Postern) with ESMTPS id"),
                      queuedContent(inst))
        let (plain, plainPort, _) = try start()
        let t = startTLSClient(plainPort, ["EHLO client.example.org", "MAIL FROM:<a@internet.com>", "RCPT TO:<root@example.test>", "DATA",
                                           "Subject: two", "", "body", ".", "QUIT"])
        XCTAssertTrue(t.output.contains("250 2.0.0 Ok: queued as"), t.output)
        let content = queuedContent(plain)
        XCTAssertTrue(content.contains("Received: from client.example.org (localhost [127.0.0.1])\n\tby mx.example.test (Postern) with ESMTPS id"), content)
        XCTAssertFalse(content.contains("(using"), content)
    }

    func testPythonSmtplibStartTLS() throws {
        let (inst, port, _) = try start()
        let r = python("""
            import smtplib, ssl, sys
            s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
            s.ehlo("client.example.org")
            print(s.has_extn("starttls"))
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            print(s.starttls(context=ctx)[0])
            s.ehlo("client.example.org")
            print(s.has_extn("starttls"))
            print(s.sendmail("testuser@internet.com", ["root@example.test"], "Subject: smtplib\\r\\n\\r\\nover TLS\\r\\n"))
            s.quit()
            """, [String(port)])
        XCTAssertEqual(r.stdout, "True\n220\nFalse\n{}\n", r.stderr)
        XCTAssertTrue(queuedContent(inst).contains("with ESMTPS id"))
    }

    // MARK: wrapper mode, resumption, injection, protocols

    func testWrapperModeWithSwaksAndOpenSSL() throws {
        let (inst, _, smtps) = try start(master: { "127.0.0.1:\($0) inet n - n - - smtpd\n  -o smtpd_tls_wrappermode=yes\n" })
        let s = openssl(["s_client", "-connect", "127.0.0.1:\(smtps)", "-ign_eof"], input: "EHLO client.example.org\r\nQUIT\r\n")
        XCTAssertTrue(s.output.contains("\n220 mx.example.test ESMTP Postern"), s.output)
        XCTAssertFalse(s.output.contains("STARTTLS"), "no STARTTLS inside wrapper mode")
        let r = runProgram("/usr/bin/swaks", ["--server", "127.0.0.1:\(smtps)", "--tlsc", "--from", "a@internet.com", "--to", "root@example.test"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(queuedContent(inst).contains("with ESMTPS id"))
        let plain = try XCTUnwrap(LineClient(port: smtps))
        plain.send("EHLO plain.example.org\r\n")
        XCTAssertNil(plain.readLine(), "a plaintext client on the wrapper port gets no banner")
    }

    func testSessionResumesAcrossTwoSmtpdProcesses() throws {
        let (inst, port, _) = try start(["max_use = 1", "smtpd_tls_loglevel = 1"])
        let session = inst.root + "/session.pem"
        let first = startTLSClient(port, ["QUIT"], ["-tls1_2", "-sess_out", session])
        XCTAssertTrue(first.output.contains("New, TLSv1.2"), first.output)
        let second = startTLSClient(port, ["QUIT"], ["-tls1_2", "-sess_in", session])
        XCTAssertTrue(second.output.contains("\nReused, TLSv1.2"), second.output)
        let tls13 = inst.root + "/session13.pem"
        _ = startTLSClient(port, ["QUIT"], ["-sess_out", tls13])
        XCTAssertTrue(startTLSClient(port, ["QUIT"], ["-sess_in", tls13]).output.contains("\nReused, TLSv1.3"))
        // max_use = 1: each connection had a process of its own.
        XCTAssertTrue(eventually { inst.log.components(separatedBy: "TLS connection established").count == 5 }, inst.log)
        let pids = Set(inst.log.split(separator: "\n").filter { $0.contains("TLS connection established") }.compactMap { line -> String? in
            guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]") else { return nil }
            return String(line[open..<close])
        })
        XCTAssertEqual(pids.count, 4, inst.log)
        let keys = inst.root + "/data/smtpd_tls_ticket_keys"
        let attributes = try FileManager.default.attributesOfItem(atPath: keys)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertEqual((attributes[.size] as? NSNumber)?.intValue, 88)
    }

    func testPlaintextPipelinedAfterStartTLSIsDiscarded() throws {
        let (inst, port, _) = try start()
        let r = python("""
            import socket, ssl, sys
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10); f = s.makefile("rb")
            def reply(f):
                while True:
                    l = f.readline().decode()
                    if l[3:4] != "-": return l.strip()
            reply(f); s.sendall(b"EHLO c.example.org\\r\\n"); reply(f)
            s.sendall(b"STARTTLS\\r\\nMAIL FROM:<injected@evil.example>\\r\\n"); print(reply(f))
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            t = ctx.wrap_socket(s, server_hostname="mx.example.test"); g = t.makefile("rb")
            t.sendall(b"NOOP\\r\\n"); print(reply(g))
            t.sendall(b"EHLO c.example.org\\r\\n"); print(reply(g))
            t.sendall(b"MAIL FROM:<real@example.org>\\r\\n"); print(reply(g))
            t.sendall(b"STARTTLS\\r\\n"); print(reply(g))
            t.sendall(b"QUIT\\r\\n"); print(reply(g))
            """, [String(port)])
        XCTAssertEqual(r.stdout, """
            220 2.0.0 Ready to start TLS
            250 2.0.0 Ok
            250 CHUNKING
            250 2.1.0 Ok
            554 5.5.1 Error: TLS already active
            221 2.0.0 Bye

            """, r.stderr)
        XCTAssertTrue(eventually { inst.log.contains("ehlo=2 starttls=1/2 mail=1 noop=1 quit=1") }, inst.log)
    }

    func testProtocolListsRefuseOldOrNewVersions() throws {
        let (_, port, _) = try start(["smtpd_tls_protocols = >=TLSv1.2"])
        let old = startTLSClient(port, ["QUIT"], ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"])
        XCTAssertFalse(old.output.contains("Cipher is ECDHE"), old.output)
        XCTAssertTrue(startTLSClient(port, ["QUIT"], ["-tls1_2"]).output.contains("New, TLSv1.2"))
        let tls10 = startTLSClient(port, ["QUIT"], ["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"])
        XCTAssertFalse(tls10.output.contains("New, TLSv1,"), tls10.output)
        let (_, capped, _) = try start(["smtpd_tls_protocols = <=TLSv1.2"])
        let tls13 = startTLSClient(capped, ["QUIT"], ["-tls1_3"])
        XCTAssertFalse(tls13.output.contains("New, TLSv1.3"), tls13.output)
        XCTAssertTrue(startTLSClient(capped, ["QUIT"]).output.contains("New, TLSv1.2"))
        let (_, listed, _) = try start(["smtpd_tls_protocols = !SSLv2, !SSLv3, !TLSv1, !TLSv1.1, !TLSv1.3"])
        XCTAssertTrue(startTLSClient(listed, ["QUIT"]).output.contains("New, TLSv1.2"))
    }

    // MARK: levels and client certificates

    func testEncryptLevelRequiresStartTLSFirst() throws {
        let (_, _, submission) = try start(master: { "127.0.0.1:\($0) inet n - n - - smtpd\n  -o smtpd_tls_security_level=encrypt\n" })
        let c = try XCTUnwrap(SMTPTestClient(port: submission))
        _ = c.reply()
        XCTAssertEqual(c.command("EHLO client.example.org"), "250 CHUNKING")
        XCTAssertEqual(c.command("MAIL FROM:<a@internet.com>"), "530 5.7.0 Must issue a STARTTLS command first")
        XCTAssertEqual(c.command("RSET"), "530 5.7.0 Must issue a STARTTLS command first")
        XCTAssertEqual(c.command("NOOP"), "250 2.0.0 Ok")
        XCTAssertEqual(c.command("QUIT"), "221 2.0.0 Bye")
        let s = startTLSClient(submission, ["EHLO client.example.org", "MAIL FROM:<a@internet.com>", "QUIT"])
        XCTAssertTrue(s.output.contains("250 2.1.0 Ok"), s.output)
    }

    func testClientCertificatesAndPermitTLSClientcerts() throws {
        let dir = NSTemporaryDirectory() + "postern-ca-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        makeCertificate(dir, name: "ca", cn: "Test CA")
        let client = makeCertificate(dir, name: "client", cn: "client.example.org", issuer: dir + "/ca")
        let stranger = makeCertificate(dir, name: "stranger", cn: "stranger.example.org")
        let fingerprint = openssl(["x509", "-in", client.cert, "-noout", "-fingerprint", "-sha256"]).output
            .split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        try "\(fingerprint) client\n".write(toFile: dir + "/relay_clientcerts", atomically: true, encoding: .utf8)
        let (inst, port, all) = try start([
            "smtpd_tls_ask_ccert = yes", "smtpd_tls_CAfile = \(dir)/ca.pem", "smtpd_tls_received_header = yes", "smtpd_tls_loglevel = 1",
            "relay_clientcerts = texthash:\(dir)/relay_clientcerts",
            "smtpd_relay_restrictions = permit_tls_clientcerts, reject_unauth_destination",
        ], master: { "127.0.0.1:\($0) inet n - n - - smtpd\n  -o smtpd_relay_restrictions=permit_tls_all_clientcerts,reject_unauth_destination\n" })
        let relay = ["EHLO client.example.org", "MAIL FROM:<a@example.org>", "RCPT TO:<someone@elsewhere.example.net>", "QUIT"]
        let withCert = startTLSClient(port, relay, ["-cert", client.cert, "-key", client.key])
        XCTAssertTrue(withCert.output.contains("250 2.1.5 Ok"), withCert.output)
        XCTAssertTrue(eventually { inst.log.contains("Trusted TLS connection established from localhost[127.0.0.1]: TLSv1.3") }, inst.log)
        let noCert = startTLSClient(port, relay)
        XCTAssertTrue(noCert.output.contains("554 5.7.1 <someone@elsewhere.example.net>: Relay access denied"), noCert.output)
        // An untrusted certificate is not enough for permit_tls_all_clientcerts, a listed one is.
        XCTAssertTrue(startTLSClient(all, relay, ["-cert", stranger.cert, "-key", stranger.key]).output.contains("554 5.7.1"))
        XCTAssertTrue(startTLSClient(all, relay, ["-cert", client.cert, "-key", client.key]).output.contains("250 2.1.5 Ok"))
        XCTAssertTrue(eventually { inst.log.contains("Untrusted TLS connection established from localhost[127.0.0.1]") }, inst.log)
        let mail = startTLSClient(port, ["EHLO client.example.org", "MAIL FROM:<a@example.org>", "RCPT TO:<root@example.test>", "DATA",
                                         "Subject: cert", "", "body", ".", "QUIT"], ["-cert", client.cert, "-key", client.key])
        XCTAssertTrue(mail.output.contains("250 2.0.0 Ok: queued as"), mail.output)
        XCTAssertTrue(queuedContent(inst).contains("\t(Client CN \"client.example.org\", Issuer \"Test CA\" (verified OK))\n"), queuedContent(inst))
    }

    func testShippedSubmissionAndSmtpsEntries() throws {
        let shipped = try String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("conf/master.cf").path, encoding: .utf8)
        let submission = freePort()
        var smtps = freePort()
        while smtps == submission { smtps = freePort() }
        // Uncomment the entries meant for any client, as an administrator would, on free ports.
        var lines: [String] = []
        var inEntry = false
        for line in shipped.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("#submission ") || line.hasPrefix("#smtps ") {
                inEntry = true
                let port = line.hasPrefix("#smtps") ? smtps : submission
                lines.append("127.0.0.1:\(port) " + line.drop { $0 != " " }.drop { $0 == " " })
            } else if inEntry && line.hasPrefix("#  -o ") {
                lines.append(String(line.dropFirst()))
            } else {
                if !line.hasPrefix("#     ") { inEntry = false }
                if !line.hasPrefix("smtp ") && !line.hasPrefix("smtp      inet") { lines.append(line) }
            }
        }
        let (inst, _, _) = try start(master: { _ in lines.joined(separator: "\n") })
        XCTAssertTrue(inst.run("postconf", ["-M"]).stdout.contains("127.0.0.1:\(smtps)"), inst.run("postconf", ["-M"]).stdout)
        XCTAssertTrue(eventually { SMTPTestClient(port: submission) != nil }, inst.log)
        let c = try XCTUnwrap(SMTPTestClient(port: submission))
        _ = c.reply()
        _ = c.command("EHLO client.example.org")
        XCTAssertEqual(c.command("MAIL FROM:<a@internet.com>"), "530 5.7.0 Must issue a STARTTLS command first")
        let s = openssl(["s_client", "-connect", "127.0.0.1:\(smtps)", "-ign_eof"], input: "QUIT\r\n")
        XCTAssertTrue(s.output.contains("\n220 mx.example.test ESMTP Postern"), s.output)
        XCTAssertTrue(eventually { inst.log.contains("postfix/smtps/smtpd[") }, inst.log)
    }

    // MARK: configuration problems and reload

    func testMissingCertificateIsReportedAndNeverCrashes() throws {
        let (inst, port, smtps) = try start(["smtpd_tls_cert_file = /nonexistent/cert.pem", "smtpd_tls_key_file = /nonexistent/key.pem"],
                                            certificate: false,
                                            master: { "127.0.0.1:\($0) inet n - n - - smtpd\n  -o smtpd_tls_wrappermode=yes\n" })
        let check = inst.run("postern", ["check"])
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stderr.contains("smtpd_tls_cert_file = /nonexistent/cert.pem: No such file or directory: TLS will not be available"), check.stderr)
        for _ in 0..<3 {
            let c = try XCTUnwrap(SMTPTestClient(port: port))
            XCTAssertEqual(c.reply()?.code, 220)
            c.send("EHLO client.example.org\r\n")
            XCTAssertTrue(c.reply()?.lines.contains("STARTTLS") ?? false)
            XCTAssertEqual(c.command("STARTTLS"), "454 4.7.0 TLS not available due to local problem")
            XCTAssertEqual(c.command("MAIL FROM:<a@internet.com>"), "250 2.1.0 Ok")
            XCTAssertEqual(c.command("QUIT"), "221 2.0.0 Bye")
        }
        let wrapped = try XCTUnwrap(LineClient(port: smtps))
        XCTAssertNil(wrapped.readLine())
        XCTAssertTrue(eventually { inst.log.contains("Wrapper-mode request dropped from localhost[127.0.0.1] for service 127.0.0.1:\(smtps).") }, inst.log)
        XCTAssertTrue(inst.log.contains("warning: cannot get RSA certificate from file \"/nonexistent/cert.pem\": disabling TLS support"), inst.log)
        XCTAssertFalse(inst.log.contains("terminated"), inst.log)
        XCTAssertFalse(inst.log.contains("fatal"), inst.log)
    }

    func testInvalidLevelStopsStartUp() throws {
        let inst = try TestInstance(masterCF: "127.0.0.1:\(freePort()) inet n - n - - smtpd\n", main: ["smtpd_tls_security_level = sometimes"])
        instances.append(inst)
        let check = inst.run("postern", ["check"])
        XCTAssertNotEqual(check.status, 0)
        XCTAssertTrue(check.stderr.contains("Invalid TLS level \"sometimes\""), check.stderr)
    }

    func testCertificatesAreReadAgainOnReload() throws {
        let (inst, port, _) = try start()
        XCTAssertTrue(startTLSClient(port, ["QUIT"]).output.contains("subject=CN = mx.example.test"))
        makeCertificate(inst.etc, name: "server", cn: "renewed.example.test", ec: true)
        XCTAssertEqual(inst.run("postern", ["reload"]).status, 0)
        XCTAssertTrue(eventually(15) { self.startTLSClient(port, ["QUIT"]).output.contains("subject=CN = renewed.example.test") })
        XCTAssertTrue(startTLSClient(port, ["QUIT"]).output.contains("Peer signature type: ECDSA"))
    }

    func testRSAAndECDSACertificatesTogether() throws {
        let dir = NSTemporaryDirectory() + "postern-ec-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        let ec = makeCertificate(dir, name: "ec", cn: "ec.example.test", ec: true)
        let (_, port, _) = try start(["smtpd_tls_eccert_file = \(ec.cert)", "smtpd_tls_eckey_file = \(ec.key)"])
        XCTAssertTrue(startTLSClient(port, ["QUIT"], ["-sigalgs", "ECDSA+SHA256"]).output.contains("subject=CN = ec.example.test"))
        XCTAssertTrue(startTLSClient(port, ["QUIT"], ["-sigalgs", "RSA-PSS+SHA256"]).output.contains("subject=CN = mx.example.test"))
    }

    func testChainFilesHoldKeysAndCertificates() throws {
        let dir = NSTemporaryDirectory() + "postern-chain-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        var chains: [String] = []
        for (name, ec) in [("rsa", false), ("ecdsa", true)] {
            let pair = makeCertificate(dir, name: name, cn: "\(name).example.test", ec: ec)
            let combined = try String(contentsOfFile: pair.key, encoding: .utf8) + String(contentsOfFile: pair.cert, encoding: .utf8)
            try combined.write(toFile: dir + "/\(name)-chain.pem", atomically: true, encoding: .utf8)
            chains.append(dir + "/\(name)-chain.pem")
        }
        let (_, port, _) = try start(["smtpd_tls_chain_files = \(chains.joined(separator: ", "))"], certificate: false)
        XCTAssertTrue(startTLSClient(port, ["QUIT"], ["-sigalgs", "ECDSA+SHA256"]).output.contains("subject=CN = ecdsa.example.test"))
        XCTAssertTrue(startTLSClient(port, ["QUIT"], ["-sigalgs", "RSA-PSS+SHA256"]).output.contains("subject=CN = rsa.example.test"))
    }

    func testStartTLSTimeLimit() throws {
        let (inst, port, _) = try start(["smtpd_starttls_timeout = 1s"])
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        _ = c.reply()
        XCTAssertEqual(c.command("STARTTLS"), "220 2.0.0 Ready to start TLS")
        XCTAssertNil(c.connection.readLine(), "the server gives up the silent handshake")
        XCTAssertTrue(eventually { inst.log.contains("SSL_accept error from localhost[127.0.0.1]: Connection timed out") }, inst.log)
        XCTAssertTrue(eventually { inst.log.contains("lost connection after STARTTLS from localhost[127.0.0.1]") }, inst.log)
    }

    func testLogLevelTwoShowsTheHandshake() throws {
        let (inst, port, _) = try start(["smtpd_tls_loglevel = 2"])
        _ = startTLSClient(port, ["QUIT"])
        XCTAssertTrue(eventually { inst.log.contains("disconnect from localhost[127.0.0.1]") }, inst.log)
        XCTAssertTrue(inst.log.contains("setting up TLS connection from localhost[127.0.0.1]"), inst.log)
        XCTAssertTrue(inst.log.contains("localhost[127.0.0.1]: TLS cipher list \"aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH\""), inst.log)
        XCTAssertTrue(inst.log.contains("SSL_accept:SSLv3/TLS read client hello"), inst.log)
        XCTAssertTrue(inst.log.contains("localhost[127.0.0.1]: Issuing session ticket, key expiration: "), inst.log)
    }

    // MARK: Postern's own TLS client

    func testTLSClientVerifiesPosternsServer() throws {
        let (inst, port, _) = try start()
        var settings = TLSClientSettings()
        settings.caFile = inst.etc + "/server.pem"
        let context = try TLSClientContext(settings)

        func session(level: TLSSecurityLevel, names: [String]) throws -> TLSTransport {
            let fd = try Sockets.connectInet(XCTUnwrap(InetAddress(host: "127.0.0.1", port: port)))
            let stream = BufferedStream(descriptor: fd, timeoutMs: 10_000)
            _ = try stream.readLine()
            stream.write("EHLO client.example.org\r\n")
            try stream.flush()
            while let (line, _) = try stream.readLine(), line.count > 3, line[3] == UInt8(ascii: "-") {}
            stream.write("STARTTLS\r\n")
            try stream.flush()
            XCTAssertEqual(try stream.readLine().map { String(decoding: $0.line, as: UTF8.self) }, "220 2.0.0 Ready to start TLS")
            do {
                let transport = try context.start(descriptor: fd, level: level, peer: "mx.example.test[127.0.0.1]:\(port)",
                                                  serverName: "mx.example.test", matchNames: names, timeoutMs: 10_000)
                stream.transport = transport
                stream.write("EHLO client.example.org\r\n")
                try stream.flush()
                var last = ""
                while let (line, _) = try stream.readLine() {
                    last = String(decoding: line, as: UTF8.self)
                    if line.count > 3 && line[3] == UInt8(ascii: " ") { break }
                }
                XCTAssertEqual(last, "250 CHUNKING")
                stream.write("QUIT\r\n")
                try stream.flush()
                transport.shutdown()
                close(fd)
                return transport
            } catch {
                close(fd)
                throw error
            }
        }

        let verified = try session(level: .verify, names: ["mx.example.test"])
        XCTAssertTrue(verified.details.peerTrusted)
        XCTAssertTrue(verified.peerNameMatched)
        XCTAssertEqual(verified.details.protocolName, "TLSv1.3")
        XCTAssertEqual(verified.details.peerCertificate?.subjectCN, "mx.example.test")
        XCTAssertTrue(try session(level: .verify, names: [".example.test"]).peerNameMatched)
        XCTAssertThrowsError(try session(level: .verify, names: ["other.example.test"])) { error in
            XCTAssertEqual("\(error)", "server certificate verification failed for mx.example.test[127.0.0.1]:\(port): num=62:hostname mismatch")
        }
        let encrypted = try session(level: .encrypt, names: ["other.example.test"])
        XCTAssertTrue(encrypted.details.peerTrusted)
        XCTAssertFalse(encrypted.peerNameMatched)

        let untrusting = try TLSClientContext(TLSClientSettings())
        let fd = try Sockets.connectInet(XCTUnwrap(InetAddress(host: "127.0.0.1", port: port)))
        defer { close(fd) }
        let stream = BufferedStream(descriptor: fd, timeoutMs: 10_000)
        _ = try stream.readLine()
        stream.write("STARTTLS\r\n")
        try stream.flush()
        _ = try stream.readLine()
        XCTAssertThrowsError(try untrusting.start(descriptor: fd, level: .secure, peer: "mx[127.0.0.1]:25", serverName: "", matchNames: ["mx.example.test"],
                                                   timeoutMs: 10_000)) { error in
            XCTAssertTrue("\(error)".hasSuffix("num=18:self-signed certificate"), "\(error)")
        }
    }
}
