// The libunbound resolver (Sources/Shared/DNS) against a dnsmasq on loopback: A, AAAA,
// MX (sorted, null MX), PTR, TXT, NS, CNAME chains, NXDOMAIN vs NODATA, the cache, and a
// dead server as a temporary failure within the time-out.
import Foundation
import XCTest

@testable import Shared

final class DNSResolverTests: XCTestCase {
    func resolver(_ server: String, _ extra: [String] = []) throws -> DNSResolver {
        let dir = NSTemporaryDirectory() + "postern-dns-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (["postern_dns_server = \(server)", "inet_protocols = all"] + extra).joined(separator: "\n")
            .write(toFile: dir + "/main.cf", atomically: true, encoding: .utf8)
        return try DNSResolver(config: MainConfig.load(directory: dir))
    }

    func testRecordsOfEachType() throws {
        let dns = try DNSServer([
            DNSServer.mx("example.com", "mail2.example.com", 20), DNSServer.mx("example.com", "mail.example.com", 10),
            DNSServer.host("mail.example.com", "127.0.0.9", "::9"), DNSServer.ptr("127.0.0.1", "client.example.com"),
            DNSServer.txt("2.0.0.127.zen.test", "Listed: see https://zen.test/q?127.0.0.2"),
            DNSServer.nullMX("nullmx.test"), DNSServer.cname("www.example.com", "mail.example.com"),
            DNSServer.ns("example.com", "ns1.example.com"),
        ])
        let r = try resolver(dns.address)
        XCTAssertEqual(r.mx("example.com").value, [MXRecord(preference: 10, host: "mail.example.com"), MXRecord(preference: 20, host: "mail2.example.com")])
        XCTAssertEqual(r.addresses("mail.example.com").value?.sorted(), ["127.0.0.9", "::9"])
        XCTAssertEqual(r.addresses("www.example.com").value?.sorted(), ["127.0.0.9", "::9"], "CNAME followed")
        XCTAssertEqual(r.ptr("127.0.0.1").value, ["client.example.com"])
        XCTAssertEqual(r.ptr("127.0.0.9").value, ["mail.example.com"])
        XCTAssertEqual(r.txt("2.0.0.127.zen.test").value, ["Listed: see https://zen.test/q?127.0.0.2"])
        XCTAssertEqual(r.mx("nullmx.test").value, [MXRecord(preference: 0, host: "")])
        XCTAssertEqual(r.ns("example.com").value, ["ns1.example.com"])
        guard case .notFound(nxdomain: true) = r.addresses("nonexistent.test") else { return XCTFail("NXDOMAIN") }
        guard case .notFound(nxdomain: false) = r.mx("mail.example.com") else { return XCTFail("NODATA") }
        guard case .notFound(nxdomain: true) = r.ptr("127.0.0.77") else { return XCTFail("no PTR") }
    }

    func testInetProtocolsLimitsTheFamilies() throws {
        let dns = try DNSServer([DNSServer.host("mail.example.com", "127.0.0.9", "::9")])
        let r = try resolver(dns.address, ["inet_protocols = ipv4"])
        XCTAssertEqual(r.addresses("mail.example.com").value, ["127.0.0.9"])
    }

    func testAnswersComeFromTheCacheWhileTheirTTLRuns() throws {
        var dns: DNSServer? = try DNSServer([DNSServer.host("mail.example.com", "127.0.0.9"), "--local-ttl=300"])
        let r = try resolver(dns!.address, ["inet_protocols = ipv4"])
        XCTAssertEqual(r.addresses("mail.example.com").value, ["127.0.0.9"])
        dns = nil
        XCTAssertEqual(r.addresses("mail.example.com").value, ["127.0.0.9"])
        XCTAssertTrue(r.addresses("other.example.com").isFailure)
    }

    func testDeadServerIsATemporaryFailureWithinTheTimeout() throws {
        let r = try resolver(DNSServer.unreachable)
        let start = Date()
        guard case .failed = r.mx("example.com") else { return XCTFail("a dead server must be a temporary failure") }
        XCTAssertLessThan(Date().timeIntervalSince(start), Double(r.timeoutMs) / 1000 + 2)
        let again = Date()
        guard case .failed = r.ptr("127.0.0.1") else { return XCTFail("a dead server must be a temporary failure") }
        guard case .failed = r.addresses("mail.example.com") else { return XCTFail("a dead server must be a temporary failure") }
        XCTAssertLessThan(Date().timeIntervalSince(again), Double(2 * r.timeoutMs) / 1000 + 2)
    }

    func testServerFailureIsTemporary() throws {
        // A dnsmasq that forwards everything to a dead upstream answers SERVFAIL/REFUSED.
        let dns = try DNSServer(["--server=/broken.test/127.0.0.1#\(freePort())"])
        let r = try resolver(dns.address)
        XCTAssertTrue(r.addresses("host.broken.test").isFailure)
    }

    func testBadServerParameterIsAConfigurationError() throws {
        XCTAssertThrowsError(try resolver("not-an-address@53"))
        XCTAssertThrowsError(try resolver("127.0.0.1@99999"))
    }
}

final class HostsFileTests: XCTestCase {
    func testNamesAndAddresses() {
        let hosts = HostsFile(text: "127.0.0.1\tlocalhost # loopback\n::1 localhost ip6-localhost\n# 10.0.0.1 gone\n10.0.0.2 Mail.Example.com mail\n")
        XCTAssertEqual(hosts.name(for: "127.0.0.1"), "localhost")
        XCTAssertEqual(hosts.name(for: "0:0::1"), "localhost")
        XCTAssertEqual(hosts.addresses("LOCALHOST"), ["127.0.0.1", "::1"])
        XCTAssertEqual(hosts.addresses("mail"), ["10.0.0.2"])
        XCTAssertNil(hosts.name(for: "10.0.0.1"))
    }
}
