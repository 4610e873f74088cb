// Policy delegation (reference §2) against real servers: Debian's postgrey greylisting
// a first attempt and passing the retry after its delay, a small policy server that
// shows connection reuse, request_limit and max_ttl, and servers that are missing or
// hang, which yield the default action and a warning without holding up the caller.
// The client is Shared's PolicyClient, the one smtpd's check_policy_service uses.
import Foundation
import XCTest

@testable import Shared

/// A background helper process that is killed when the test ends.
final class HelperProcess {
    let process = Process()

    init(_ path: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Asks the process to stop, and kills it if it is still there after 3 seconds.
    deinit {
        guard process.isRunning else { return }
        let pid = process.processIdentifier
        kill(pid, SIGTERM)
        if !eventually(3, { !process.isRunning }) { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}

/// A policy request as smtpd sends it at RCPT (INSTANCE names the MAIL transaction).
func policyRequest(client: String = "192.0.2.10", helo: String = "client.example.org", sender: String, recipient: String, instance: String = "1f.2a.3b.0") -> AttributeList {
    AttributeList([
        ("request", "smtpd_access_policy"), ("protocol_state", "RCPT"), ("protocol_name", "ESMTP"), ("client_address", client),
        ("client_name", "unknown"), ("client_port", "45700"), ("reverse_client_name", "unknown"), ("server_address", "192.0.2.1"),
        ("server_port", "25"), ("helo_name", helo), ("sender", sender), ("recipient", recipient), ("recipient_count", "0"),
        ("queue_id", ""), ("instance", instance), ("size", "0"), ("etrn_domain", ""), ("stress", ""), ("sasl_method", ""),
        ("sasl_username", ""), ("sasl_sender", ""), ("ccert_subject", ""), ("ccert_issuer", ""), ("ccert_fingerprint", ""),
        ("ccert_pubkey_fingerprint", ""), ("encryption_protocol", ""), ("encryption_cipher", ""), ("encryption_keysize", "0"),
        ("policy_context", ""),
    ])
}

final class PolicyTests: XCTestCase {
    var directory = ""
    var helpers: [HelperProcess] = []

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "postern-policy-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        Log.configure(syslogName: "postfix", program: "policytest", hostname: "test", maillog: directory + "/log")
    }

    override func tearDown() {
        helpers.removeAll()
        Log.configure(syslogName: "postfix", program: "policytest", hostname: "test", maillog: "/dev/null")
        try? FileManager.default.removeItem(atPath: directory)
        super.tearDown()
    }

    var log: String { (try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? "" }

    func client(_ argument: String, _ main: String = "") throws -> PolicyClient {
        let config = MainConfig(directory: directory)
        try config.parse(main)
        return PolicyClient(try PolicyService(argument: argument, config: config))
    }

    func testPostgreyGreylistsTheFirstAttemptAndPassesTheRetry() throws {
        let db = directory + "/postgrey"
        try FileManager.default.createDirectory(atPath: db, withIntermediateDirectories: true)
        let account = try XCTUnwrap(Account.named("postgrey"), "scripts/install-deps installs postgrey")
        chown(db, account.uid, account.gid)
        let socket = db + "/socket"
        helpers.append(try HelperProcess("/usr/sbin/postgrey", ["--unix=\(socket)", "--delay=2", "--dbdir=\(db)", "--user=postgrey"]))
        XCTAssertTrue(eventually(20) { FileManager.default.fileExists(atPath: socket) })

        let policy = try client("unix:\(socket)")
        let request = policyRequest(sender: "someone@example.org", recipient: "user@example.test")
        XCTAssertEqual(policy.action(for: request), "DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/example.test.html")
        XCTAssertTrue(policy.isConnected, "the connection stays open for the next request")
        usleep(3_000_000)
        let retry = policy.action(for: request)
        XCTAssertTrue(retry.hasPrefix("PREPEND X-Greylist: delayed "), retry)
        let other = policyRequest(sender: "someone-else@example.org", recipient: "user@example.test")
        XCTAssertTrue(policy.action(for: other).hasPrefix("DEFER_IF_PERMIT 4.2.0 Greylisted"))
    }

    /// A policy server in Python that answers `action=DUNNO conn=N` (N counts accepted
    /// connections), so tests can see when a connection was reused.
    func countingServer() throws -> String {
        let socket = directory + "/counting"
        let script = """
            import os, socket, sys, threading
            path = sys.argv[1]
            server = socket.socket(socket.AF_UNIX)
            server.bind(path)
            server.listen(16)
            count = 0
            def serve(conn, n):
                data = b""
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                    while b"\\n\\n" in data:
                        _, data = data.split(b"\\n\\n", 1)
                        conn.sendall(b"action=DUNNO conn=%d\\n\\n" % n)
            while True:
                conn, _ = server.accept()
                count += 1
                threading.Thread(target=serve, args=(conn, count), daemon=True).start()
            """
        helpers.append(try HelperProcess("/usr/bin/python3", ["-c", script, socket]))
        XCTAssertTrue(eventually { FileManager.default.fileExists(atPath: socket) })
        return socket
    }

    func testConnectionReuseRequestLimitAndTTL() throws {
        let socket = try countingServer()
        let request = policyRequest(sender: "a@example.org", recipient: "b@example.test")
        let reused = try client("unix:\(socket)")
        XCTAssertEqual((0..<3).map { _ in reused.action(for: request) }, Array(repeating: "DUNNO conn=1", count: 3))

        let limited = try client("{ unix:\(socket), request_limit=2 }")
        XCTAssertEqual((0..<3).map { _ in limited.action(for: request) }, ["DUNNO conn=2", "DUNNO conn=2", "DUNNO conn=3"])

        let shortLived = try client("unix:\(socket)", "smtpd_policy_service_max_ttl = 1s")
        XCTAssertEqual(shortLived.action(for: request), "DUNNO conn=4")
        usleep(1_200_000)
        XCTAssertEqual(shortLived.action(for: request), "DUNNO conn=5")

        let idle = try client("{ unix:\(socket), max_idle=1s }")
        XCTAssertEqual(idle.action(for: request), "DUNNO conn=6")
        XCTAssertEqual(idle.action(for: request), "DUNNO conn=6")
        usleep(1_200_000)
        XCTAssertEqual(idle.action(for: request), "DUNNO conn=7")
    }

    func testServerThatIsDownGivesTheDefaultActionAndAWarning() throws {
        let missing = directory + "/no-such-policy"
        let policy = try client("{ unix:\(missing), retry_delay=0 }")
        let request = policyRequest(sender: "a@example.org", recipient: "b@example.test")
        XCTAssertEqual(policy.action(for: request), "451 4.3.5 Server configuration problem")
        XCTAssertTrue(log.contains("warning: connect to \(missing): No such file or directory"), log)
        XCTAssertTrue(log.contains("warning: problem talking to server \(missing): No such file or directory"), log)

        let port = freePort()
        let refused = try client("{ inet:127.0.0.1:\(port), retry_delay=0, default_action=DUNNO }")
        XCTAssertEqual(refused.action(for: request), "DUNNO")
        XCTAssertTrue(log.contains("warning: problem talking to server 127.0.0.1:\(port): Connection refused"), log)
    }

    func testServerThatHangsTimesOut() throws {
        // A listener that never accepts: the connect succeeds, the reply never comes.
        let path = directory + "/silent"
        let listener = try Sockets.listenUnix(path, backlog: 4)
        defer { close(listener) }
        let policy = try client("{ unix:\(path), timeout=1s, try_limit=2, retry_delay=0 }")
        let request = policyRequest(sender: "a@example.org", recipient: "b@example.test")
        XCTAssertEqual(policy.action(for: request), "451 4.3.5 Server configuration problem")
        XCTAssertTrue(log.contains("warning: problem talking to server \(path): Connection timed out"), log)
        XCTAssertFalse(policy.isConnected)
    }

    func testServerThatHangsUpIsReconnectedQuietly() throws {
        // A server that closes after each answer: the kept connection is found dead
        // before the next request, which goes over a new one.
        let socket = directory + "/oneshot"
        let script = """
            import socket, sys
            server = socket.socket(socket.AF_UNIX)
            server.bind(sys.argv[1])
            server.listen(4)
            n = 0
            while True:
                conn, _ = server.accept()
                n += 1
                data = b""
                while b"\\n\\n" not in data:
                    data += conn.recv(4096)
                conn.sendall(b"action=OK %d\\n\\n" % n)
                conn.close()
            """
        helpers.append(try HelperProcess("/usr/bin/python3", ["-c", script, socket]))
        XCTAssertTrue(eventually { FileManager.default.fileExists(atPath: socket) })
        let policy = try client("{ unix:\(socket), retry_delay=0 }")
        let request = policyRequest(sender: "a@example.org", recipient: "b@example.test")
        XCTAssertEqual(policy.action(for: request), "OK 1")
        usleep(200_000)
        XCTAssertEqual(policy.action(for: request), "OK 2")
        XCTAssertFalse(log.contains("problem talking"), log)
    }
}
