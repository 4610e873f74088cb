// SMTP AUTH through a real master and smtpd, against real SASL back ends started by the
// tests: Cyrus with saslauthd (`-a shadow` for a local account whose password the test
// sets, `-a sasldb`), Cyrus auxprop with a sasldb file made by saslpasswd2 -f, and a
// private Dovecot auth server. Checked: the EHLO keyword, AUTH PLAIN (initial response
// and 334 continuation) and LOGIN, wrong passwords (535 and the warning fail2ban reads),
// `*`, relay allowed only after AUTH, sender login mismatch (both texts), the client= log
// line, `with ESMTPA` plus `(Authenticated sender: …)` in the delivered message, and with
// TLS: smtpd_tls_auth_only (no AUTH before STARTTLS), ESMTPSA, the login forgotten at STARTTLS.
import Foundation
import XCTest

final class SASLTests: XCTestCase {
    static let user = "posterntest"
    static let password = "Sasl-Test-Secret-7"
    var instances: [TestInstance] = []
    var daemons: [Process] = []
    var cleanups: [() -> Void] = []
    var home = ""

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("saslauthd, Dovecot and Maildir delivery need root") }
        if getpwnam(Self.user) == nil {
            runProgram("/usr/sbin/useradd", ["-m", "-s", "/usr/sbin/nologin", Self.user])
        }
        home = String(cString: try XCTUnwrap(getpwnam(Self.user)).pointee.pw_dir)
        XCTAssertEqual(runProgram("/usr/sbin/chpasswd", [], input: "\(Self.user):\(Self.password)\n").status, 0)
    }

    override func tearDown() {
        instances.removeAll()
        for daemon in daemons where daemon.isRunning {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        daemons.removeAll()
        for cleanup in cleanups { cleanup() }
        cleanups.removeAll()
        super.tearDown()
    }

    // MARK: helpers

    /// Runs PROGRAM in the foreground until the test ends.
    func daemon(_ program: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        daemons.append(process)
        return process
    }

    /// A saslauthd with MECHANISM listening in DIRECTORY/mux, reachable by mail_owner.
    func saslauthd(_ mechanism: String, in directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        _ = try daemon("/usr/sbin/saslauthd", ["-d", "-a", mechanism, "-m", directory, "-n", "1"])
        let mux = directory + "/mux"
        XCTAssertTrue(eventually { FileManager.default.fileExists(atPath: mux) }, "saslauthd did not start")
        return mux
    }

    /// An instance (smtpd, qmgr, local) with Cyrus SASL configured by SMTPDCONF.
    func cyrusInstance(_ smtpdConf: String, main: [String] = []) throws -> (TestInstance, UInt16) {
        let (inst, port) = try TestInstance.smtp(main: [
            "smtpd_sasl_auth_enable = yes", "cyrus_sasl_config_path = $config_directory/sasl",
        ] + main, delivery: true)
        instances.append(inst)
        // smtpd reads it when the first client makes the master start one.
        try FileManager.default.createDirectory(atPath: inst.etc + "/sasl", withIntermediateDirectories: true)
        try inst.writeFile("sasl/smtpd.conf", smtpdConf)
        return (inst, port)
    }

    func connect(_ port: UInt16) throws -> SMTPTestClient {
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        XCTAssertEqual(c.reply()?.code, 220)
        return c
    }

    /// The EHLO reply's lines.
    func ehlo(_ c: SMTPTestClient) -> [String] {
        c.send("EHLO client.example.org\r\n")
        return c.reply()?.lines ?? []
    }

    func plain(_ user: String, _ password: String) -> String {
        Data("\0\(user)\0\(password)".utf8).base64EncodedString()
    }

    func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    func delivered(containing text: String) -> String? {
        let dir = home + "/Maildir/new"
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).map { dir + "/" + $0 }
        return files.lazy.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.first { $0.contains(text) }
    }

    // MARK: Cyrus through saslauthd

    func testSaslauthdShadowPlainLoginAndFailures() throws {
        let mux = try saslauthd("shadow", in: NSTemporaryDirectory() + "postern-saslauthd-" + UUID().uuidString.prefix(8))
        cleanups.append { try? FileManager.default.removeItem(atPath: (mux as NSString).deletingLastPathComponent) }
        let test = runProgram("/usr/sbin/testsaslauthd", ["-u", Self.user, "-p", Self.password, "-f", mux])
        XCTAssertTrue(test.stdout.hasPrefix("0: OK"), test.stdout + test.stderr)
        let (inst, port) = try cyrusInstance("pwcheck_method: saslauthd\nsaslauthd_path: \(mux)\nmech_list: PLAIN LOGIN\n")

        let c = try connect(port)
        XCTAssertTrue(ehlo(c).contains("AUTH PLAIN LOGIN"))
        XCTAssertEqual(c.command("AUTH PLAIN \(plain(Self.user, "wrong"))"), "535 5.7.8 Error: authentication failed: authentication failure")
        XCTAssertEqual(c.command("AUTH LOGIN"), "334 VXNlcm5hbWU6")
        XCTAssertEqual(c.command("*"), "501 5.7.0 Authentication aborted")
        XCTAssertEqual(c.command("AUTH PLAIN \(plain(Self.user, Self.password))"), "235 2.7.0 Authentication successful")
        XCTAssertEqual(c.command("AUTH PLAIN \(plain(Self.user, Self.password))"), "503 5.5.1 Error: already authenticated")
        XCTAssertEqual(c.command("QUIT"), "221 2.0.0 Bye")

        let continued = try connect(port)
        _ = ehlo(continued)
        XCTAssertEqual(continued.command("AUTH PLAIN"), "334 ")
        XCTAssertEqual(continued.command(plain(Self.user, Self.password)), "235 2.7.0 Authentication successful")

        let login = try connect(port)
        _ = ehlo(login)
        XCTAssertEqual(login.command("AUTH LOGIN"), "334 VXNlcm5hbWU6")
        XCTAssertEqual(login.command(base64(Self.user)), "334 UGFzc3dvcmQ6")
        XCTAssertEqual(login.command(base64(Self.password)), "235 2.7.0 Authentication successful")

        XCTAssertTrue(eventually {
            inst.log.contains("warning: localhost[127.0.0.1]: SASL PLAIN authentication failed: authentication failure, sasl_username=\(Self.user)")
        }, inst.log)
        XCTAssertTrue(inst.log.contains("warning: localhost[127.0.0.1]: SASL LOGIN authentication aborted"), inst.log)
        XCTAssertTrue(eventually { inst.log.contains("ehlo=1 auth=1/4 quit=1 commands=3/6") }, inst.log)
    }

    func testRelayLoginMapsAndTheReceivedHeader() throws {
        let mux = try saslauthd("shadow", in: NSTemporaryDirectory() + "postern-saslauthd-" + UUID().uuidString.prefix(8))
        cleanups.append { try? FileManager.default.removeItem(atPath: (mux as NSString).deletingLastPathComponent) }
        let (inst, port) = try cyrusInstance(
            "pwcheck_method: saslauthd\nsaslauthd_path: \(mux)\nmech_list: PLAIN LOGIN\n",
            main: [
                "smtpd_sender_login_maps = pcre:$config_directory/login_maps.pcre",
                "smtpd_sender_restrictions = reject_non_fqdn_sender, reject_sender_login_mismatch, permit",
                "smtpd_recipient_restrictions = permit_sasl_authenticated, reject_unauth_destination, permit",
                "smtpd_sasl_authenticated_header = yes",
            ])
        try inst.writeFile("login_maps.pcre", "/^(.*)@example\\.test$/ ${1}\n")

        let anonymous = try connect(port)
        _ = ehlo(anonymous)
        XCTAssertEqual(anonymous.command("MAIL FROM:<testuser@internet.com>"), "250 2.1.0 Ok")
        XCTAssertEqual(anonymous.command("RCPT TO:<someone@elsewhere.example.net>"), "454 4.7.1 <someone@elsewhere.example.net>: Relay access denied")
        XCTAssertEqual(anonymous.command("RSET"), "250 2.0.0 Ok")
        XCTAssertEqual(anonymous.command("MAIL FROM:<\(Self.user)@example.test>"), "250 2.1.0 Ok")
        XCTAssertEqual(anonymous.command("RCPT TO:<\(Self.user)@example.test>"),
                       "553 5.7.1 <\(Self.user)@example.test>: Sender address rejected: not logged in")

        let c = try connect(port)
        _ = ehlo(c)
        XCTAssertEqual(c.command("AUTH PLAIN \(plain(Self.user, Self.password))"), "235 2.7.0 Authentication successful")
        XCTAssertEqual(c.command("MAIL FROM:<other@example.test>"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RCPT TO:<\(Self.user)@example.test>"),
                       "553 5.7.1 <other@example.test>: Sender address rejected: not owned by user \(Self.user)")
        XCTAssertEqual(c.command("RSET"), "250 2.0.0 Ok")
        XCTAssertEqual(c.command("MAIL FROM:<\(Self.user)@example.test> AUTH=\(Self.user)+40example.test"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RCPT TO:<someone@elsewhere.example.net>"), "250 2.1.5 Ok")
        XCTAssertEqual(c.command("RSET"), "250 2.0.0 Ok")
        let token = "SASL \(UUID().uuidString)"
        XCTAssertEqual(c.command("MAIL FROM:<\(Self.user)@example.test>"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RCPT TO:<\(Self.user)@example.test>"), "250 2.1.5 Ok")
        XCTAssertEqual(c.command("DATA"), "354 End data with <CR><LF>.<CR><LF>")
        XCTAssertTrue(c.command("Subject: \(token)\r\n\r\nhi\r\n.").hasPrefix("250 2.0.0 Ok: queued as "))
        XCTAssertTrue(eventually(15) { self.delivered(containing: token) != nil }, inst.log)
        let message = try XCTUnwrap(delivered(containing: token))
        XCTAssertTrue(message.contains("Received: from client.example.org (localhost [127.0.0.1])\n\t(Authenticated sender: \(Self.user))\n"
                                        + "\tby mx.example.test (Postern) with ESMTPA id "), message)
        XCTAssertNotNil(inst.log.range(of: #": client=localhost\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=posterntest, sasl_sender=posterntest@example.test\n"#,
                                       options: .regularExpression), inst.log)
        XCTAssertNotNil(inst.log.range(of: #": client=localhost\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=posterntest\n"#,
                                       options: .regularExpression), inst.log)
    }

    func testSaslauthdSasldb() throws {
        // saslauthd's sasldb back end reads only /etc/sasldb2: the user is added there and removed again.
        let user = "posternsasl"
        let realm = "mx.example.test"
        XCTAssertEqual(runProgram("/usr/sbin/saslpasswd2", ["-p", "-c", "-u", realm, user], input: "Db-Secret-3").status, 0)
        cleanups.append { runProgram("/usr/sbin/saslpasswd2", ["-d", "-u", realm, user]) }
        let mux = try saslauthd("sasldb", in: NSTemporaryDirectory() + "postern-saslauthd-" + UUID().uuidString.prefix(8))
        cleanups.append { try? FileManager.default.removeItem(atPath: (mux as NSString).deletingLastPathComponent) }
        let test = runProgram("/usr/sbin/testsaslauthd", ["-u", user, "-r", realm, "-p", "Db-Secret-3", "-f", mux])
        XCTAssertTrue(test.stdout.hasPrefix("0: OK"), test.stdout + test.stderr)
        // Cyrus hands saslauthd the realm smtpd_sasl_local_domain names.
        let (_, port) = try cyrusInstance("pwcheck_method: saslauthd\nsaslauthd_path: \(mux)\nmech_list: PLAIN LOGIN\n",
                                          main: ["smtpd_sasl_local_domain = $myhostname"])
        let c = try connect(port)
        _ = ehlo(c)
        XCTAssertEqual(c.command("AUTH PLAIN \(plain(user, "Db-Secret-3"))"), "235 2.7.0 Authentication successful")
    }

    // MARK: with TLS

    /// An SMTP dialog through Python's ssl module: one output line per reply (its lines
    /// joined by `|`); the command `TLS` runs STARTTLS and wraps the socket.
    func tlsDialog(_ port: UInt16, _ commands: [String]) -> [String] {
        let script = """
            import socket, ssl, sys
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
            f = s.makefile("rb")
            def reply():
                lines = []
                while True:
                    l = f.readline().decode("utf-8", "replace").rstrip("\\r\\n")
                    lines.append(l)
                    if len(l) < 4 or l[3] != "-":
                        return "|".join(lines)
            print(reply())
            for cmd in sys.argv[2:]:
                if cmd == "TLS":
                    s.sendall(b"STARTTLS\\r\\n")
                    print(reply())
                    ctx = ssl.create_default_context()
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                    s = ctx.wrap_socket(s, server_hostname="mx.example.test")
                    f = s.makefile("rb")
                    continue
                s.sendall(cmd.encode() + b"\\r\\n")
                print(reply())
            """
        let r = runProgram("/usr/bin/python3", ["-c", script, String(port)] + commands)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\n").map(String.init)
    }

    func testTLSAuthOnlyAndESMTPSA() throws {
        let mux = try saslauthd("shadow", in: NSTemporaryDirectory() + "postern-saslauthd-" + UUID().uuidString.prefix(8))
        cleanups.append { try? FileManager.default.removeItem(atPath: (mux as NSString).deletingLastPathComponent) }
        let conf = "pwcheck_method: saslauthd\nsaslauthd_path: \(mux)\nmech_list: PLAIN LOGIN\n"
        let tls = ["smtpd_tls_security_level = may", "smtpd_tls_cert_file = $config_directory/cert.pem",
                   "smtpd_tls_key_file = $config_directory/key.pem"]
        let (inst, port) = try cyrusInstance(conf, main: tls + ["smtpd_tls_auth_only = yes"])
        let made = runProgram("/usr/bin/openssl", ["req", "-new", "-x509", "-newkey", "rsa:2048", "-days", "30", "-nodes",
                                                   "-subj", "/CN=mx.example.test", "-keyout", inst.etc + "/key.pem", "-out", inst.etc + "/cert.pem"])
        XCTAssertEqual(made.status, 0, made.stderr)
        let good = plain(Self.user, Self.password)

        let before = tlsDialog(port, ["EHLO client.example.org", "AUTH PLAIN \(good)", "QUIT"])
        XCTAssertTrue(before[1].contains("|250-STARTTLS|"), before[1])
        XCTAssertFalse(before[1].contains("AUTH"), "no AUTH before STARTTLS: \(before[1])")
        XCTAssertEqual(before[2], "503 5.5.1 Error: authentication not enabled")

        let token = "SASL-TLS \(UUID().uuidString)"
        let after = tlsDialog(port, ["EHLO client.example.org", "TLS", "EHLO client.example.org", "AUTH PLAIN \(good)",
                                     "MAIL FROM:<\(Self.user)@example.test>", "RCPT TO:<\(Self.user)@example.test>", "DATA",
                                     "Subject: \(token)\r\n\r\nhi\r\n.", "QUIT"])
        XCTAssertEqual(after[2], "220 2.0.0 Ready to start TLS")
        XCTAssertTrue(after[3].contains("|250-AUTH PLAIN LOGIN|"), after[3])
        XCTAssertEqual(after[4], "235 2.7.0 Authentication successful")
        XCTAssertTrue(after[8].hasPrefix("250 2.0.0 Ok: queued as "), after.joined(separator: "\n"))
        XCTAssertTrue(eventually(15) { self.delivered(containing: token) != nil }, inst.log)
        XCTAssertTrue(try XCTUnwrap(delivered(containing: token)).contains("\tby mx.example.test (Postern) with ESMTPSA id "))

        // Without smtpd_tls_auth_only AUTH works in plaintext, and STARTTLS forgets the login (RFC 3207 §4.2).
        let (_, open) = try cyrusInstance(conf, main: tls)
        XCTAssertEqual(runProgram("/bin/cp", [inst.etc + "/key.pem", inst.etc + "/cert.pem", instances.last!.etc]).status, 0)
        let reset = tlsDialog(open, ["EHLO client.example.org", "AUTH PLAIN \(good)", "TLS", "EHLO client.example.org",
                                     "MAIL FROM:<\(Self.user)@example.test>", "RCPT TO:<someone@elsewhere.example.net>", "QUIT"])
        XCTAssertEqual(reset[2], "235 2.7.0 Authentication successful")
        XCTAssertEqual(reset[6], "454 4.7.1 <someone@elsewhere.example.net>: Relay access denied")
    }

    // MARK: Cyrus auxprop with a sasldb file

    func testAuxpropSasldbAndSecurityOptions() throws {
        let directory = NSTemporaryDirectory() + "postern-sasldb-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        cleanups.append { try? FileManager.default.removeItem(atPath: directory) }
        let db = directory + "/sasldb2"
        XCTAssertEqual(runProgram("/usr/sbin/saslpasswd2", ["-f", db, "-p", "-c", "-u", "mx.example.test", "dbuser"], input: "Aux-Secret-5").status, 0)
        chmod(db, 0o644)
        let conf = "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: \(db)\nmech_list: PLAIN LOGIN CRAM-MD5\n"
        let (inst, port) = try cyrusInstance(conf)
        let c = try connect(port)
        let auth = try XCTUnwrap(ehlo(c).first { $0.hasPrefix("AUTH ") })
        XCTAssertEqual(Set(auth.split(separator: " ").dropFirst()), ["PLAIN", "LOGIN", "CRAM-MD5"])
        XCTAssertEqual(c.command("AUTH LOGIN \(base64("dbuser"))"), "334 UGFzc3dvcmQ6")
        XCTAssertEqual(c.command(base64("Aux-Secret-5")), "235 2.7.0 Authentication successful")
        let wrong = try connect(port)
        _ = ehlo(wrong)
        XCTAssertEqual(wrong.command("AUTH PLAIN \(plain("dbuser", "nope"))"), "535 5.7.8 Error: authentication failed: authentication failure")
        XCTAssertTrue(eventually { inst.log.contains("SASL PLAIN authentication failed: authentication failure, sasl_username=dbuser") }, inst.log)

        let (_, strictPort) = try cyrusInstance(conf, main: ["smtpd_sasl_security_options = noanonymous, noplaintext"])
        let strict = try connect(strictPort)
        XCTAssertTrue(ehlo(strict).contains("AUTH CRAM-MD5"), "noplaintext leaves only CRAM-MD5")
        XCTAssertEqual(strict.command("AUTH PLAIN \(plain("dbuser", "Aux-Secret-5"))"),
                       "535 5.7.8 Error: authentication failed: encryption needed to use mechanism")
    }

    func testEnabledForOneServiceWithDashO() throws {
        let directory = NSTemporaryDirectory() + "postern-sasldb-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        cleanups.append { try? FileManager.default.removeItem(atPath: directory) }
        let db = directory + "/sasldb2"
        XCTAssertEqual(runProgram("/usr/sbin/saslpasswd2", ["-f", db, "-p", "-c", "-u", "mx.example.test", "dbuser"], input: "Aux-Secret-5").status, 0)
        chmod(db, 0o644)
        let (smtp, submission) = (freePort(), freePort())
        let inst = try TestInstance(masterCF: """
            127.0.0.1:\(smtp) inet n - n - - smtpd
            127.0.0.1:\(submission) inet n - n - - smtpd
              -o syslog_name=postfix/submission
              -o smtpd_sasl_auth_enable=yes
              -o smtpd_relay_restrictions=permit_sasl_authenticated,reject

            """, main: ["mydestination = $myhostname", "mynetworks = 10.9.9.9/32", "alias_maps =", "smtpd_error_sleep_time = 0",
                        "cyrus_sasl_config_path = $config_directory/sasl"])
        instances.append(inst)
        try FileManager.default.createDirectory(atPath: inst.etc + "/sasl", withIntermediateDirectories: true)
        try inst.writeFile("sasl/smtpd.conf", "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: \(db)\nmech_list: PLAIN\n")
        inst.start()
        let plainPort = try connect(smtp)
        XCTAssertFalse(ehlo(plainPort).contains { $0.hasPrefix("AUTH") })
        XCTAssertEqual(plainPort.command("AUTH PLAIN \(plain("dbuser", "Aux-Secret-5"))"), "503 5.5.1 Error: authentication not enabled")
        let c = try connect(submission)
        XCTAssertTrue(ehlo(c).contains("AUTH PLAIN"))
        XCTAssertEqual(c.command("MAIL FROM:<dbuser@example.test>"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RCPT TO:<someone@elsewhere.example.net>"), "554 5.7.1 <someone@elsewhere.example.net>: Recipient address rejected: Access denied")
        XCTAssertEqual(c.command("RSET"), "250 2.0.0 Ok")
        XCTAssertEqual(c.command("AUTH PLAIN \(plain("dbuser", "Aux-Secret-5"))"), "235 2.7.0 Authentication successful")
        XCTAssertEqual(c.command("MAIL FROM:<dbuser@example.test>"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RCPT TO:<someone@elsewhere.example.net>"), "250 2.1.5 Ok")
        XCTAssertTrue(eventually { inst.log.contains("postfix/submission/smtpd[") }, inst.log)
    }

    // MARK: Dovecot

    func testDovecotAuthServer() throws {
        let (inst, port) = try TestInstance.smtp(main: ["smtpd_sasl_auth_enable = yes", "smtpd_sasl_type = dovecot",
                                                        "smtpd_sasl_path = private/auth"], delivery: false)
        instances.append(inst)
        let dir = inst.root + "/dovecot"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "alice:{PLAIN}wonderland\n".write(toFile: dir + "/passwd", atomically: true, encoding: .utf8)
        try """
            protocols =
            base_dir = \(dir)/run
            state_dir = \(dir)/state
            log_path = \(dir)/log
            ssl = no
            auth_mechanisms = plain login
            passdb {
              driver = passwd-file
              args = \(dir)/passwd
            }
            userdb {
              driver = static
              args = uid=nobody gid=nogroup home=\(dir)
            }
            service auth {
              unix_listener \(inst.spool)/private/auth {
                mode = 0666
              }
            }

            """.write(toFile: dir + "/dovecot.conf", atomically: true, encoding: .utf8)
        XCTAssertTrue(eventually { FileManager.default.fileExists(atPath: inst.spool + "/private") })
        let dovecot = try daemon("/usr/sbin/dovecot", ["-F", "-c", dir + "/dovecot.conf"])
        XCTAssertTrue(eventually { FileManager.default.fileExists(atPath: inst.spool + "/private/auth") },
                      (try? String(contentsOfFile: dir + "/log", encoding: .utf8)) ?? "")

        let c = try connect(port)
        XCTAssertTrue(ehlo(c).contains("AUTH PLAIN LOGIN"))
        XCTAssertEqual(c.command("AUTH FOO"), "535 5.7.8 Error: authentication failed: Invalid authentication mechanism")
        XCTAssertEqual(c.command("AUTH PLAIN %%%"), "535 5.7.8 Error: authentication failed: Invalid base64 data in initial response")
        XCTAssertEqual(c.command("AUTH PLAIN \(plain("alice", "wrong"))"), "535 5.7.8 Error: authentication failed: (reason unavailable)")
        XCTAssertEqual(c.command("AUTH LOGIN"), "334 VXNlcm5hbWU6")
        XCTAssertEqual(c.command(base64("alice")), "334 UGFzc3dvcmQ6")
        XCTAssertEqual(c.command(base64("wonderland")), "235 2.7.0 Authentication successful")
        XCTAssertEqual(c.command("MAIL FROM:<alice@example.test>"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RCPT TO:<someone@elsewhere.example.net>"), "250 2.1.5 Ok", "permit_sasl_authenticated relays")
        XCTAssertTrue(eventually { inst.log.contains(": client=localhost[127.0.0.1], sasl_method=LOGIN, sasl_username=alice") }, inst.log)
        XCTAssertTrue(inst.log.contains("warning: localhost[127.0.0.1]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=alice"),
                      inst.log)

        let continued = try connect(port)
        _ = ehlo(continued)
        XCTAssertEqual(continued.command("AUTH PLAIN"), "334 ")
        XCTAssertEqual(continued.command(plain("alice", "wonderland")), "235 2.7.0 Authentication successful")

        // The auth server goes away (its auth process would outlive the master while a
        // client is connected): a temporary failure, and the session goes on.
        let children = childPids(of: dovecot.processIdentifier)
        for pid in children { kill(pid, SIGKILL) }
        XCTAssertTrue(eventually { children.allSatisfy { !processAlive($0) } })
        dovecot.terminate()
        dovecot.waitUntilExit()
        let later = try connect(port)
        _ = ehlo(later)
        XCTAssertTrue(later.command("AUTH PLAIN \(plain("alice", "wonderland"))").hasPrefix("454 4.7.0 Temporary authentication failure: "))
        XCTAssertEqual(later.command("NOOP"), "250 2.0.0 Ok")
    }

    // MARK: configuration

    func testPostconfListsTheImplementationsAndBadOptionsStopSmtpd() throws {
        let (inst, port) = try TestInstance.smtp(main: ["smtpd_sasl_auth_enable = yes", "smtpd_sasl_security_options = noanonymous, bogus"])
        instances.append(inst)
        XCTAssertEqual(inst.run("postconf", ["-a"]).stdout, "cyrus\ndovecot\n")
        XCTAssertEqual(inst.run("postconf", ["-A"]).stdout, "cyrus\n")
        let client = SMTPTestClient(port: port)
        XCTAssertNotNil(client)
        XCTAssertTrue(eventually {
            inst.log.range(of: #"fatal: /\S+/main\.cf, line [0-9]+: smtpd_sasl_security_options: unknown SASL security options value "bogus" in "noanonymous, bogus""#,
                           options: .regularExpression) != nil
        }, inst.log)
    }
}
