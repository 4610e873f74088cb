// spawn through a real master: the command runs per connection as user=, sees only
// export_environment, is killed at <service>_time_limit, its exit status is logged, and
// user=root is refused. Then Debian's postfix-policyd-spf-perl run by spawn, answering
// SPF questions from dnsmasq's records: the master runs in a network and mount namespace
// of its own whose /etc/resolv.conf points at dnsmasq on that namespace's loopback.
import Foundation
import XCTest

@testable import Shared

final class SpawnTests: XCTestCase {
    var instances: [TestInstance] = []
    var dnsmasqPidFile: String?

    override func tearDown() {
        if let file = dnsmasqPidFile, let text = try? String(contentsOfFile: file, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            kill(pid, SIGTERM)
        }
        instances.removeAll()
        super.tearDown()
    }

    func instance(_ masterCF: String, _ main: [String] = []) throws -> TestInstance {
        let inst = try TestInstance(masterCF: masterCF, main: main)
        instances.append(inst)
        return inst
    }

    /// Connects to a spawn service and returns everything the command wrote.
    func output(of inst: TestInstance, _ service: String) throws -> String {
        let fd = try Sockets.connectUnix(inst.spool + "/private/" + service, timeout: 5)
        defer { close(fd) }
        let stream = BufferedStream(descriptor: fd, timeoutMs: 10_000)
        var lines: [String] = []
        while let (line, _) = try stream.readLine() { lines.append(String(decoding: line, as: UTF8.self)) }
        return lines.joined(separator: "\n")
    }

    func testCommandRunsAsUserWithOnlyExportedVariables() throws {
        let inst = try instance("""
            whoami unix - n n - 0 spawn user=nobody argv=/usr/bin/id -u
            groups unix - n n - 0 spawn user=nobody:nogroup argv=/usr/bin/id -G
            env unix - n n - 0 spawn user=nobody argv=/usr/bin/env
            """, ["export_environment = TZ MAIL_CONFIG POSTERN_FIXED=1"])
        inst.start()
        let nobody = try XCTUnwrap(Account.named("nobody"))
        XCTAssertEqual(try output(of: inst, "whoami"), String(nobody.uid))
        XCTAssertEqual(try output(of: inst, "groups"), String(try XCTUnwrap(groupID("nogroup"))))
        let environment = try output(of: inst, "env").split(separator: "\n").map(String.init).sorted()
        XCTAssertEqual(environment, ["MAIL_CONFIG=\(inst.etc)", "POSTERN_FIXED=1"])
    }

    func testTimeLimitExitStatusAndRefusals() throws {
        let inst = try instance("""
            sleeper unix - n n - 0 spawn user=nobody argv=/bin/sleep 60
            failing unix - n n - 0 spawn user=nobody argv=/bin/false
            rooted unix - n n - 0 spawn user=root argv=/bin/true
            argless unix - n n - 0 spawn user=nobody
            """, ["sleeper_time_limit = 2s"])
        inst.start()
        XCTAssertEqual(try output(of: inst, "failing"), "")
        XCTAssertTrue(eventually { inst.log.contains("warning: command /bin/false exit status 1") }, inst.log)
        XCTAssertEqual(try output(of: inst, "sleeper"), "", "the connection ends when the command is killed")
        XCTAssertTrue(eventually { inst.log.contains("warning: command /bin/sleep killed by signal 9") }, inst.log)
        XCTAssertTrue(inst.log.contains("command time limit exceeded"), inst.log)
        _ = try? output(of: inst, "rooted")
        XCTAssertTrue(eventually { inst.log.contains("fatal: request to deliver as root") }, inst.log)
        _ = try? output(of: inst, "argless")
        XCTAssertTrue(eventually { inst.log.contains("fatal: missing argv= attribute") }, inst.log)
    }

    func testPolicydSPFThroughSpawnWithDNSFromDnsmasq() throws {
        let inst = try instance("""
            policy-spf unix - n n - 0 spawn user=nobody argv=/usr/sbin/postfix-policyd-spf-perl
            """, ["policy-spf_time_limit = 3600s"])
        let resolv = inst.root + "/resolv.conf"
        try "nameserver 127.0.0.1\n".write(toFile: resolv, atomically: true, encoding: .utf8)
        chmod(resolv, 0o644)
        dnsmasqPidFile = inst.root + "/dnsmasq.pid"
        // The namespace keeps living in the master and dnsmasq after the shell exits.
        let script = """
            set -e
            ip link set lo up
            ip addr add 192.0.2.10/32 dev lo
            mount --bind \(resolv) /etc/resolv.conf
            dnsmasq --port=53 --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts --user=root \
              --local=/example/ --local=/example.org/ \
              --pid-file=\(dnsmasqPidFile!) \
              --txt-record=permitted.example,'v=spf1 ip4:192.0.2.10 -all' \
              --txt-record=forbidden.example,'v=spf1 ip4:198.51.100.0/24 -all'
            \(buildProducts)/postern -c \(inst.etc) start
            """
        let r = runProgram("/usr/bin/unshare", ["--net", "--mount", "--", "/bin/sh", "-c", script])
        XCTAssertEqual(r.status, 0, "namespaces: \(r.stdout) \(r.stderr)")

        let policy = PolicyClient(try PolicyService(argument: "unix:\(inst.spool)/private/policy-spf", config: MainConfig(directory: inst.etc)))
        let forbidden = policy.action(for: policyRequest(sender: "someone@forbidden.example", recipient: "user@example.test", instance: "a.1.1.0"))
        XCTAssertTrue(forbidden.hasPrefix("550 Please see http://www.openspf.org/Why?s=mfrom;id=someone%40forbidden.example;ip=192.0.2.10;"), forbidden)
        let permitted = policy.action(for: policyRequest(sender: "someone@permitted.example", recipient: "user@example.test", instance: "a.1.1.1"))
        XCTAssertTrue(permitted.hasPrefix("PREPEND Received-SPF: pass (permitted.example: 192.0.2.10 is authorized to use 'someone@permitted.example'"), permitted)
        XCTAssertEqual(inst.processes("policy-spf").count, 1, "one spawn process serves the kept-open connection")
    }
}
