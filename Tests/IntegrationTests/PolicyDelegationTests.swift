// check_policy_service end to end (reference §2, §4.1): real SMTP clients talk to a real
// master whose smtpd asks real policy servers. Debian's postgrey greylists the first
// RCPT (`450 4.2.0 … Greylisted, see …`) over inet: and over the classic
// `unix:postgrey/socket`, and the retry after --delay is delivered with its X-Greylist
// header; postfix-policyd-spf-perl, run by spawn as in the classic setup, answers from
// dnsmasq's SPF records for a client at 192.0.2.10 in a network namespace of the test's
// own: a forbidden sender gets the policy's 550 text, a permitted one is delivered with
// the Received-SPF header the policy PREPENDs; a server that is down or never answers
// gives `451 4.3.5 … Server configuration problem` and a warning without wedging smtpd,
// and default_action=DUNNO lets mail through; a recording Python server shows the
// protocol_state and attributes of each stage's request with smtpd_delay_reject=no, and
// the client list's request at RCPT with the default smtpd_delay_reject=yes.
import Foundation
import XCTest

@testable import Shared

final class PolicyDelegationTests: XCTestCase {
    static let user = "posterntest"
    let banner = "220 mx.example.test ESMTP Postern"
    var instances: [TestInstance] = []
    var helpers: [HelperProcess] = []
    var home = ""
    var dnsmasqPidFile: String?

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("delivery to a user's Maildir and network namespaces need root") }
        if getpwnam(Self.user) == nil {
            runProgram("/usr/sbin/useradd", ["-m", "-s", "/usr/sbin/nologin", Self.user])
        }
        home = String(cString: try XCTUnwrap(getpwnam(Self.user)).pointee.pw_dir)
    }

    override func tearDown() {
        if let file = dnsmasqPidFile, let text = try? String(contentsOfFile: file, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            kill(pid, SIGTERM)
        }
        instances.removeAll()
        helpers.removeAll()
        super.tearDown()
    }

    // MARK: support

    /// An instance (not started) with one smtpd process on a free port, so that a stuck
    /// smtpd would show, and qmgr and local for delivery; MAIN adds to main.cf.
    func instance(_ main: [String], masterCF extra: String = "") throws -> (TestInstance, UInt16) {
        let port = freePort()
        let master = """
            127.0.0.1:\(port) inet n - n - 1 smtpd
            qmgr unix n - n 300 1 qmgr
            local unix - n n - - local
            \(extra)
            """
        let inst = try TestInstance(masterCF: master, main: [
            "mydomain = example.test", "myorigin = $mydomain", "mydestination = $myhostname, $mydomain, localhost",
            "mynetworks = 10.9.9.9/32", "alias_maps =", "home_mailbox = Maildir/", "smtpd_error_sleep_time = 0",
        ] + main)
        instances.append(inst)
        return (inst, port)
    }

    /// One SMTP session on PORT: the greeting, then COMMANDS one by one; every reply as
    /// `CODE text` of its last line ("closed" once the server hung up).
    func session(_ port: UInt16, _ commands: [String]) -> [String] {
        guard let c = SMTPTestClient(port: port), let greeting = c.reply() else { return ["closed"] }
        return ["\(greeting.code) \(greeting.lines.last ?? "")"] + commands.map { c.command($0) }
    }

    /// A whole message to RECIPIENT from SENDER; SUBJECT marks it in the Maildir.
    func mail(from sender: String, to recipient: String, subject: String, helo: String = "client.example.org") -> [String] {
        ["EHLO \(helo)", "MAIL FROM:<\(sender)>", "RCPT TO:<\(recipient)>", "DATA", "Subject: \(subject)\r\n\r\nbody\r\n.", "QUIT"]
    }

    /// The delivered message whose text contains TOKEN, if any.
    func delivered(containing token: String) -> String? {
        let dir = home + "/Maildir/new/"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            if let text = try? String(contentsOfFile: dir + name, encoding: .utf8), text.contains(token) { return text }
        }
        return nil
    }

    /// The header lines of MESSAGE (before the first empty line).
    func headerLines(_ message: String) -> [String] {
        Array(message.components(separatedBy: "\n").prefix { !$0.isEmpty })
    }

    /// Starts a Python policy server from SCRIPT (given the socket path or port as its
    /// first argument) and waits until it listens.
    func pythonServer(_ script: String, _ arguments: [String], ready: @escaping () -> Bool) throws {
        helpers.append(try HelperProcess("/usr/bin/python3", ["-c", script] + arguments))
        XCTAssertTrue(eventually(10, ready), "the policy server did not start")
    }

    // MARK: postgrey

    /// Starts postgrey with a 2-second delay on LISTEN (`--inet=…` or `--unix=…`), its
    /// database in DB.
    func startPostgrey(_ listen: String, db: String, ready: @escaping () -> Bool) throws {
        try FileManager.default.createDirectory(atPath: db, withIntermediateDirectories: true)
        let account = try XCTUnwrap(Account.named("postgrey"), "scripts/install-deps installs postgrey")
        chown(db, account.uid, account.gid)
        chmod(db, 0o755)
        helpers.append(try HelperProcess("/usr/sbin/postgrey", [listen, "--delay=2", "--dbdir=\(db)", "--user=postgrey"]))
        XCTAssertTrue(eventually(30, ready), "postgrey did not start")
    }

    /// The greylisting round: the first RCPT is refused with postgrey's text as Postfix
    /// shows it, the same triplet after the delay is accepted and delivered with the
    /// X-Greylist header postgrey prepends, above smtpd's Received: header.
    func checkGreylisting(_ inst: TestInstance, _ port: UInt16) throws {
        let recipient = "\(Self.user)@example.test"
        let token = "greylisted \(UUID().uuidString)"
        let first = session(port, ["EHLO client.example.org", "MAIL FROM:<someone@example.org>", "RCPT TO:<\(recipient)>", "DATA", "QUIT"])
        let greylisted = "450 4.2.0 <\(recipient)>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.test.html"
        XCTAssertEqual(first[3], greylisted, inst.log)
        XCTAssertEqual(first[4], "554 5.5.1 Error: no valid recipients")
        XCTAssertTrue(eventually {
            inst.log.contains("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: \(greylisted); "
                + "from=<someone@example.org> to=<\(recipient)> proto=ESMTP helo=<client.example.org>")
        }, inst.log)

        usleep(3_000_000)
        let retry = session(port, mail(from: "someone@example.org", to: recipient, subject: token))
        XCTAssertEqual(Array(retry.prefix(4)), [banner, "250 CHUNKING", "250 2.1.0 Ok", "250 2.1.5 Ok"], inst.log)
        XCTAssertTrue(retry[5].hasPrefix("250 2.0.0 Ok: queued as "), retry[5])
        XCTAssertTrue(eventually(15) { self.delivered(containing: token) != nil }, inst.log)
        let headers = headerLines(try XCTUnwrap(delivered(containing: token)))
        let greylist = try XCTUnwrap(headers.firstIndex { $0.hasPrefix("X-Greylist: delayed ") }, "\(headers)")
        XCTAssertTrue(headers[greylist].contains(" seconds by postgrey-"), headers[greylist])
        XCTAssertTrue(headers[greylist + 1].hasPrefix("Received: from client.example.org (localhost [127.0.0.1])"), "\(headers)")
    }

    func testPostgreyOverInetGreylistsThenDelivers() throws {
        let policyPort = freePort()
        let (inst, port) = try instance([
            "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service inet:127.0.0.1:\(policyPort)",
        ])
        try startPostgrey("--inet=127.0.0.1:\(policyPort)", db: inst.root + "/postgrey") { LineClient(port: policyPort) != nil }
        inst.start()
        try checkGreylisting(inst, port)
    }

    func testPostgreyOnTheClassicUnixSocketGreylistsThenDelivers() throws {
        // The classic setup: postgrey's socket under the queue directory, named relative to it.
        let (inst, port) = try instance([
            "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service unix:postgrey/socket",
        ])
        inst.start()
        let socket = inst.spool + "/postgrey/socket"
        try startPostgrey("--unix=\(socket)", db: inst.spool + "/postgrey") { FileManager.default.fileExists(atPath: socket) }
        try checkGreylisting(inst, port)
    }

    // MARK: SPF through spawn

    /// The classic SPF setup in a network and mount namespace: 192.0.2.10 on its loopback,
    /// dnsmasq answering SPF TXT queries through /etc/resolv.conf, and the master.
    func startInNamespace(_ inst: TestInstance) throws {
        let resolv = inst.root + "/resolv.conf"
        try "nameserver 127.0.0.1\n".write(toFile: resolv, atomically: true, encoding: .utf8)
        chmod(resolv, 0o644)
        dnsmasqPidFile = inst.root + "/dnsmasq.pid"
        let script = """
            set -e
            ip link set lo up
            ip addr add 192.0.2.10/32 dev lo
            mount --bind \(resolv) /etc/resolv.conf
            dnsmasq --port=53 --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts --user=root \
              --local=/example/ --local=/example.org/ --local=/in-addr.arpa/ \
              --pid-file=\(dnsmasqPidFile!) \
              --txt-record=permitted.example,'v=spf1 ip4:192.0.2.10 -all' \
              --txt-record=forbidden.example,'v=spf1 ip4:198.51.100.0/24 -all'
            \(buildProducts)/postern -c \(inst.etc) start
            """
        let r = runProgram("/usr/bin/unshare", ["--net", "--mount", "--", "/bin/sh", "-c", script])
        XCTAssertEqual(r.status, 0, "namespaces: \(r.stdout) \(r.stderr)")
    }

    /// One SMTP session from 192.0.2.10 inside the master's network namespace (Python's
    /// socket module through nsenter): the greeting and each command's reply, one a line.
    func namespaceSession(_ inst: TestInstance, _ port: UInt16, _ commands: [String]) throws -> [String] {
        let script = """
            import json, socket, sys
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60, source_address=("192.0.2.10", 0))
            f = s.makefile("rb")
            def reply():
                while True:
                    line = f.readline()
                    if not line:
                        return "closed"
                    line = line.rstrip(b"\\r\\n").decode()
                    if len(line) < 4 or line[3] == " ":
                        return line
            print(reply(), flush=True)
            for command in json.loads(sys.argv[2]):
                s.sendall(command.encode() + b"\\r\\n")
                print(reply(), flush=True)
            """
        let pid = try XCTUnwrap(inst.masterPid)
        let json = String(decoding: try JSONSerialization.data(withJSONObject: commands), as: UTF8.self)
        let r = runProgram("/usr/bin/nsenter", ["--target", String(pid), "--net", "--", "/usr/bin/python3", "-c", script, String(port), json])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\n").map(String.init)
    }

    func testPolicydSPFThroughSpawnRejectsAndPrepends() throws {
        let (inst, port) = try instance([
            "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service unix:private/policy-spf",
            "policy-spf_time_limit = 3600s",
        ], masterCF: """
            policy-spf unix - n n - 0 spawn
                user=nobody argv=/usr/sbin/postfix-policyd-spf-perl
            """)
        try startInNamespace(inst)
        let recipient = "\(Self.user)@example.test"

        let forbidden = try namespaceSession(
            inst, port, ["EHLO client.example.org", "MAIL FROM:<someone@forbidden.example>", "RCPT TO:<\(recipient)>", "QUIT"])
        // r= is the receiver: Mail::SPF's default is the host name.
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let refusal = "550 5.7.1 <\(recipient)>: Recipient address rejected: Please see "
            + "http://www.openspf.org/Why?s=mfrom;id=someone%40forbidden.example;ip=192.0.2.10;r=\(String(cString: host))"
        XCTAssertEqual(forbidden, [banner, "250 CHUNKING", "250 2.1.0 Ok", refusal, "221 2.0.0 Bye"], inst.log)
        XCTAssertTrue(eventually {
            inst.log.contains("NOQUEUE: reject: RCPT from unknown[192.0.2.10]: \(refusal); "
                + "from=<someone@forbidden.example> to=<\(recipient)> proto=ESMTP helo=<client.example.org>")
        }, inst.log)

        let token = "spf-pass \(UUID().uuidString)"
        let permitted = try namespaceSession(inst, port, mail(from: "someone@permitted.example", to: recipient, subject: token))
        XCTAssertEqual(Array(permitted.prefix(4)), [banner, "250 CHUNKING", "250 2.1.0 Ok", "250 2.1.5 Ok"], inst.log)
        XCTAssertTrue(permitted.count > 5 && permitted[5].hasPrefix("250 2.0.0 Ok: queued as "), "\(permitted)")
        XCTAssertTrue(eventually(15) { self.delivered(containing: token) != nil }, inst.log)
        let headers = headerLines(try XCTUnwrap(delivered(containing: token)))
        let spf = try XCTUnwrap(headers.firstIndex { $0.hasPrefix("Received-SPF: ") }, "\(headers)")
        XCTAssertTrue(headers[spf].hasPrefix(
            "Received-SPF: pass (permitted.example: 192.0.2.10 is authorized to use 'someone@permitted.example' in 'mfrom' identity"),
            headers[spf])
        XCTAssertTrue(headers[spf].contains("client-ip=192.0.2.10"), headers[spf])
        XCTAssertTrue(headers[spf + 1].hasPrefix("Received: from client.example.org (unknown [192.0.2.10])"), "\(headers)")
        XCTAssertEqual(inst.processes("policy-spf").count, 1, "one policyd-spf-perl serves the kept-open connection")
    }

    // MARK: servers that fail

    /// A server that accepts connections and reads requests but never answers.
    func silentServer() throws -> UInt16 {
        let port = freePort()
        let script = """
            import socket, sys, threading
            server = socket.socket()
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", int(sys.argv[1])))
            server.listen(16)
            def drain(conn):
                while conn.recv(4096):
                    pass
            while True:
                conn, _ = server.accept()
                threading.Thread(target=drain, args=(conn,), daemon=True).start()
            """
        try pythonServer(script, [String(port)]) { LineClient(port: port) != nil }
        return port
    }

    /// Two sessions in a row against one smtpd process: each RCPT gets the default action
    /// and the warning is logged; the second session shows smtpd was not left stuck.
    func checkServerFailure(_ policy: String, warning: String) throws {
        let (inst, port) = try instance([
            "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service \(policy)",
            "smtpd_policy_service_timeout = 2s",
        ])
        inst.start()
        let recipient = "\(Self.user)@example.test"
        let refusal = "451 4.3.5 <\(recipient)>: Recipient address rejected: Server configuration problem"
        for round in 1...2 {
            let replies = session(port, ["EHLO client.example.org", "MAIL FROM:<a@example.org>", "RCPT TO:<\(recipient)>", "QUIT"])
            XCTAssertEqual(replies, [banner, "250 CHUNKING", "250 2.1.0 Ok", refusal, "221 2.0.0 Bye"],
                           "session \(round): \(inst.log)")
        }
        XCTAssertTrue(inst.log.contains(warning), inst.log)
        XCTAssertTrue(inst.log.contains("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: \(refusal); from=<a@example.org>"), inst.log)
        XCTAssertEqual(inst.processes("127.0.0.1:\(port)").count, 1, "one smtpd served both sessions")
    }

    func testPolicyServerThatIsDown() throws {
        let port = freePort()
        try checkServerFailure("inet:127.0.0.1:\(port)", warning: "warning: problem talking to server 127.0.0.1:\(port): Connection refused")
    }

    func testPolicyServerThatNeverAnswers() throws {
        let port = try silentServer()
        try checkServerFailure("inet:127.0.0.1:\(port)", warning: "warning: problem talking to server 127.0.0.1:\(port): Connection timed out")
    }

    func testDefaultActionDunnoLetsMailThrough() throws {
        let down = freePort()
        let silent = try silentServer()
        let (inst, port) = try instance([
            "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination,"
                + " check_policy_service { inet:127.0.0.1:\(down), default_action=DUNNO },"
                + " check_policy_service { inet:127.0.0.1:\(silent), timeout=1s, default_action=DUNNO }",
        ])
        inst.start()
        let token = "dunno \(UUID().uuidString)"
        let replies = session(port, mail(from: "a@example.org", to: "\(Self.user)@example.test", subject: token))
        XCTAssertEqual(Array(replies.prefix(5)), [banner, "250 CHUNKING", "250 2.1.0 Ok", "250 2.1.5 Ok",
                                                 "354 End data with <CR><LF>.<CR><LF>"], inst.log)
        XCTAssertTrue(replies[5].hasPrefix("250 2.0.0 Ok: queued as "), replies[5])
        XCTAssertTrue(eventually(15) { self.delivered(containing: token) != nil }, inst.log)
        XCTAssertTrue(inst.log.contains("warning: problem talking to server 127.0.0.1:\(down): Connection refused"), inst.log)
        XCTAssertTrue(inst.log.contains("warning: problem talking to server 127.0.0.1:\(silent): Connection timed out"), inst.log)
    }

    // MARK: the request at each protocol state

    /// A policy server that appends each request (as JSON) to LOG and answers DUNNO, or
    /// `REJECT policy refuses STATE` when helo_name is `reject-STATE` (state in lower case).
    func recordingServer(_ path: String, log: String) throws {
        let script = """
            import json, os, socket, sys, threading
            path, log = sys.argv[1], sys.argv[2]
            server = socket.socket(socket.AF_UNIX)
            server.bind(path)
            os.chmod(path, 0o666)
            server.listen(16)
            lock = threading.Lock()
            def serve(conn):
                data = b""
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                    while b"\\n\\n" in data:
                        block, data = data.split(b"\\n\\n", 1)
                        attrs = dict(line.split("=", 1) for line in block.decode().split("\\n"))
                        with lock:
                            with open(log, "a") as f:
                                f.write(json.dumps(attrs) + "\\n")
                        action = "DUNNO"
                        if attrs.get("helo_name") == "reject-" + attrs["protocol_state"].lower():
                            action = "REJECT policy refuses " + attrs["protocol_state"]
                        conn.sendall(("action=%s\\n\\n" % action).encode())
            while True:
                conn, _ = server.accept()
                threading.Thread(target=serve, args=(conn,), daemon=True).start()
            """
        try pythonServer(script, [path, log]) { FileManager.default.fileExists(atPath: path) }
    }

    func recorded(_ log: String) -> [[String: String]] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: String]
        }
    }

    func testProtocolStatesReachThePolicyServer() throws {
        let (inst, port) = try instance([])
        let socket = inst.root + "/recorder"
        let requests = inst.root + "/requests"
        try recordingServer(socket, log: requests)
        let policy = "check_policy_service unix:\(socket)"
        try inst.writeFile("main.cf", try String(contentsOfFile: inst.etc + "/main.cf", encoding: .utf8) + """
            smtpd_delay_reject = no
            smtpd_client_restrictions = \(policy)
            smtpd_helo_restrictions = \(policy)
            smtpd_sender_restrictions = \(policy)
            smtpd_recipient_restrictions = reject_unauth_destination, \(policy)
            smtpd_data_restrictions = \(policy)
            smtpd_end_of_data_restrictions = \(policy)

            """)
        inst.start()
        let first = "\(Self.user)@example.test"
        let second = "postmaster@example.test"
        let replies = session(port, [
            "EHLO client.example.org", "MAIL FROM:<a@example.org> SIZE=100", "RCPT TO:<\(first)>", "RCPT TO:<\(second)>", "DATA",
            "Subject: states\r\n\r\nbody\r\n.", "MAIL FROM:<b@example.org>", "QUIT",
        ])
        XCTAssertTrue(replies[6].hasPrefix("250 2.0.0 Ok: queued as "), "\(replies) \(inst.log)")
        let queueID = String(replies[6].dropFirst("250 2.0.0 Ok: queued as ".count))
        XCTAssertTrue(eventually { self.recorded(requests).count == 8 }, "\(recorded(requests))")
        let r = recorded(requests)
        XCTAssertEqual(r.map { $0["protocol_state"] ?? "" }, ["CONNECT", "EHLO", "MAIL", "RCPT", "RCPT", "DATA", "END-OF-MESSAGE", "MAIL"])
        XCTAssertEqual(r.map { $0["protocol_name"] ?? "" }, ["SMTP", "SMTP"] + Array(repeating: "ESMTP", count: 6),
                       "EHLO is checked before it changes the protocol")
        XCTAssertEqual(r.map { $0["helo_name"] ?? "" }, [""] + Array(repeating: "client.example.org", count: 7))
        XCTAssertEqual(r.map { $0["sender"] ?? "" }, ["", ""] + Array(repeating: "a@example.org", count: 5) + ["b@example.org"])
        XCTAssertEqual(r.map { $0["recipient"] ?? "" }, ["", "", "", first, second, "", "", ""], "with two recipients DATA names none")
        XCTAssertEqual(r.map { $0["recipient_count"] ?? "" }, ["0", "0", "0", "0", "0", "2", "2", "0"])
        XCTAssertEqual(r.map { $0["queue_id"] ?? "" }, ["", "", "", "", queueID, queueID, queueID, ""])
        // SIZE= until the content is in; then the content as received, CRLFs included.
        XCTAssertEqual(r.map { $0["size"] ?? "" }, ["0", "0", "100", "100", "100", "100", "25", "0"])
        // The instance is made once MAIL is accepted (so not yet in the MAIL request) and
        // forgotten when the transaction ends.
        let instance = try XCTUnwrap(r[3]["instance"])
        XCTAssertFalse(instance.isEmpty)
        XCTAssertEqual(r.map { $0["instance"] ?? "" }, ["", "", "", instance, instance, instance, instance, ""])
        for request in r {
            XCTAssertEqual(request["request"], "smtpd_access_policy")
            XCTAssertEqual(request["client_address"], "127.0.0.1")
            XCTAssertEqual(request["server_port"], String(port))
        }

        // A reject from the policy in the DATA and end-of-data lists, with their reply names.
        let data = session(port, ["EHLO reject-data", "MAIL FROM:<a@example.org>", "RCPT TO:<\(first)>", "DATA", "QUIT"])
        XCTAssertEqual(data[4], "554 5.7.1 <DATA>: Data command rejected: policy refuses DATA", inst.log)
        let eod = session(port, ["EHLO reject-end-of-message", "MAIL FROM:<a@example.org>", "RCPT TO:<\(first)>", "DATA",
                                 "Subject: x\r\n\r\nbody\r\n.", "QUIT"])
        XCTAssertEqual(eod[5], "554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: policy refuses END-OF-MESSAGE", inst.log)
        XCTAssertTrue(eventually {
            inst.log.contains(": reject: END-OF-MESSAGE from localhost[127.0.0.1]: 554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: "
                + "policy refuses END-OF-MESSAGE; from=<a@example.org> to=<\(first)> proto=ESMTP helo=<reject-end-of-message>")
        }, inst.log)
    }

    func testClientListAtRCPTWithDelayedRejects() throws {
        // smtpd_delay_reject = yes (the default): the client list runs at RCPT, and its
        // policy request says so.
        let (inst, port) = try instance([])
        let socket = inst.root + "/recorder"
        let requests = inst.root + "/requests"
        try recordingServer(socket, log: requests)
        try inst.writeFile("main.cf", try String(contentsOfFile: inst.etc + "/main.cf", encoding: .utf8) + """
            smtpd_client_restrictions = check_policy_service unix:\(socket)

            """)
        inst.start()
        let replies = session(port, ["HELO reject-rcpt", "MAIL FROM:<a@example.org>", "RCPT TO:<\(Self.user)@example.test>", "QUIT"])
        XCTAssertEqual(replies[3], "554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: policy refuses RCPT", inst.log)
        XCTAssertTrue(eventually { self.recorded(requests).count == 1 })
        let request = try XCTUnwrap(recorded(requests).first)
        XCTAssertEqual(request["protocol_state"], "RCPT")
        XCTAssertEqual(request["protocol_name"], "SMTP")
        XCTAssertEqual(request["recipient"], "\(Self.user)@example.test")
    }
}
