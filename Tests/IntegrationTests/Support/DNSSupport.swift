// Test support for DNS: a private dnsmasq on a free loopback port, serving only the
// records a test gives it (every other name is NXDOMAIN), for `postern_dns_server`.
// Stopped when the value goes away. Record options are dnsmasq's own, e.g.
//   DNSServer.mx("example.com", "mail.example.com", 10), DNSServer.host("mail.example.com", "127.0.0.9"),
//   DNSServer.ptr("127.0.0.1", "client.example.com"), DNSServer.txt("2.0.0.127.zen.test", "reason"),
//   DNSServer.nullMX("nullmx.example")
import Foundation
import XCTest

@testable import Shared

final class DNSServer {
    let port: UInt16
    let pid: pid_t

    /// `address@port` for postern_dns_server.
    var address: String { "127.0.0.1@\(port)" }

    /// The main.cf line that points Postern at this server.
    var parameter: String { "postern_dns_server = \(address)" }

    /// Starts dnsmasq with RECORDS (dnsmasq options such as `--mx-host=…`). It is
    /// started with posix_spawn, not Foundation's Process: that one reaps its children
    /// with a blocking wait on a shared thread, so a long-lived child stops every later
    /// Process (runProgram) from ever finishing.
    init(_ records: [String]) throws {
        var lastError = ""
        for _ in 0..<5 {
            let port = freePort()
            let log = NSTemporaryDirectory() + "dnsmasq-\(port).log"
            let logFD = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            let nullFD = open("/dev/null", O_RDONLY)
            defer {
                close(logFD)
                close(nullFD)
                unlink(log)
            }
            let argv = [
                "/usr/sbin/dnsmasq", "--no-daemon", "--keep-in-foreground", "--port=\(port)", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
                "--local=/#/", "--user=\(DNSServer.user)",
            ] + records
            let pid = try Spawn.run(argv, environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], stdio: [nullFD, logFD, logFD])
            var status: Int32?
            let settled = eventually(5) {
                status = status ?? DNSServer.exited(pid)
                return status != nil || LineClient(port: port) != nil
            }
            if settled && status == nil {
                self.port = port
                self.pid = pid
                return
            }
            if status == nil {
                kill(pid, SIGKILL)
                _ = DNSServer.reap(pid)
            }
            lastError = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        }
        throw NSError(domain: "DNSServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "dnsmasq did not start: \(lastError)"])
    }

    /// dnsmasq drops root privileges to this user.
    static let user = getuid() == 0 ? "nobody" : String(cString: getpwuid(getuid()).pointee.pw_name)

    deinit {
        kill(pid, SIGTERM)
        _ = DNSServer.reap(pid)
    }

    /// The exit status when PID has ended (and is reaped), nil while it runs.
    static func exited(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid ? status : nil
    }

    static func reap(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    /// A `postern_dns_server` value where no server answers.
    static var unreachable: String { "127.0.0.1@\(freePort())" }

    // MARK: records

    static func mx(_ domain: String, _ host: String, _ preference: Int) -> String { "--mx-host=\(domain),\(host),\(preference)" }

    /// A and PTR for an address (dnsmasq's host-record: the reverse name comes too).
    static func host(_ name: String, _ addresses: String...) -> String { "--host-record=\(name)," + addresses.joined(separator: ",") }

    /// Only an A/AAAA record (no PTR), for names like DNSBL entries.
    static func address(_ name: String, _ address: String) -> String { "--address=/\(name)/\(address)" }

    static func ptr(_ address: String, _ name: String) -> String {
        let reverse = address.split(separator: ".").reversed().joined(separator: ".") + ".in-addr.arpa"
        return "--ptr-record=\(reverse),\(name)"
    }

    /// A TXT record (TEXT without commas: dnsmasq splits strings at them).
    static func txt(_ name: String, _ text: String) -> String { "--txt-record=\(name),\(text)" }

    static func cname(_ name: String, _ target: String) -> String { "--cname=\(name),\(target)" }

    /// RFC 7505's null MX: preference 0, root target.
    static func nullMX(_ domain: String) -> String { "--dns-rr=\(domain),15,000000" }

    /// An NS record.
    static func ns(_ domain: String, _ server: String) -> String { "--dns-rr=\(domain),2,\(wireName(server))" }

    /// NAME in DNS wire form as hex, for --dns-rr.
    static func wireName(_ name: String) -> String {
        var bytes: [UInt8] = []
        for label in name.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes += label.utf8
        }
        bytes.append(0)
        return bytes.map { String(format: "%02x", $0) }.joined()
    }
}
