// Test support for DNS: a private dnsmasq on a free loopback port, serving only the
// records a test gives it (every other name is NXDOMAIN), for `postern_dns_server`.
// Stopped when the value goes away. Record options are dnsmasq's own, e.g.
//   DNSServer.mx("example.com", "mail.example.com", 10), DNSServer.host("mail.example.com", "127.0.0.9"),
//   DNSServer.ptr("127.0.0.1", "client.example.com"), DNSServer.txt("2.0.0.127.zen.test", "reason"),
//   DNSServer.nullMX("nullmx.example")
import Foundation
import XCTest

final class DNSServer {
    let port: UInt16
    private let process: Process

    /// `address@port` for postern_dns_server.
    var address: String { "127.0.0.1@\(port)" }

    /// The main.cf line that points Postern at this server.
    var parameter: String { "postern_dns_server = \(address)" }

    /// Starts dnsmasq with RECORDS (dnsmasq options such as `--mx-host=…`).
    init(_ records: [String]) throws {
        var lastError = ""
        for _ in 0..<5 {
            let port = freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/dnsmasq")
            process.arguments = [
                "--no-daemon", "--keep-in-foreground", "--port=\(port)", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
                "--local=/#/", "--user=\(DNSServer.user)",
            ] + records
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            if eventually(5, { !process.isRunning || LineClient(port: port) != nil }), process.isRunning {
                self.port = port
                self.process = process
                return
            }
            process.waitUntilExit()
            lastError = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
        throw NSError(domain: "DNSServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "dnsmasq did not start: \(lastError)"])
    }

    /// dnsmasq drops root privileges to this user.
    static let user = getuid() == 0 ? "nobody" : String(cString: getpwuid(getuid()).pointee.pw_name)

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
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
