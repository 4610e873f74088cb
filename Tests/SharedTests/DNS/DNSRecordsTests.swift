// Decoding DNS record data and reading resolver settings, without a DNS server.
import Foundation
import XCTest

@testable import Shared

final class DNSRecordsTests: XCTestCase {
    func testReverseNames() {
        XCTAssertEqual(DNSRecords.reverseName("192.0.2.7"), "7.2.0.192.in-addr.arpa")
        XCTAssertEqual(DNSRecords.reverseName("2001:db8::1"),
                       "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
        XCTAssertNil(DNSRecords.reverseName("not-an-address"))
    }

    func testRecordData() {
        let name: [UInt8] = [4] + Array("mail".utf8) + [7] + Array("example".utf8) + [3] + Array("com".utf8) + [0]
        XCTAssertEqual(DNSRecords.name(name), "mail.example.com")
        XCTAssertEqual(DNSRecords.name([0]), "")
        XCTAssertNil(DNSRecords.name([5, 65]), "truncated")
        XCTAssertEqual(DNSRecords.name([3, 97, 46, 98, 0]), "a\\.b")
        XCTAssertEqual(DNSRecords.mx([0, 10] + name), MXRecord(preference: 10, host: "mail.example.com"))
        XCTAssertEqual(DNSRecords.mx([0, 0, 0]), MXRecord(preference: 0, host: ""))
        XCTAssertTrue(DNSRecords.mx([0, 0, 0])!.isNullMX)
        XCTAssertEqual(DNSRecords.txt([5] + Array("hello".utf8) + [6] + Array(" world".utf8)), "hello world")
        XCTAssertEqual(DNSRecords.address([127, 0, 0, 2]), "127.0.0.2")
        XCTAssertEqual(DNSRecords.address([0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]), "2001:db8::1")
        XCTAssertNil(DNSRecords.address([1, 2, 3]))
    }

    func testServerAddresses() {
        XCTAssertEqual(DNSResolver.serverAddress("127.0.0.1"), "127.0.0.1@53")
        XCTAssertEqual(DNSResolver.serverAddress("127.0.0.1@5353"), "127.0.0.1@5353")
        XCTAssertEqual(DNSResolver.serverAddress("[::1]@5353"), "::1@5353")
        XCTAssertNil(DNSResolver.serverAddress("dns.example@53"))
        XCTAssertNil(DNSResolver.serverAddress("127.0.0.1@0"))
    }

    func testResolvConf() throws {
        let path = NSTemporaryDirectory() + "resolv-\(getpid()).conf"
        defer { unlink(path) }
        try "# comment\nsearch example.com\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\noptions rotate timeout:2 attempts:3\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let conf = ResolvConf.read(path)
        XCTAssertEqual(conf.servers, ["192.0.2.53@53", "fe80::1@53"])
        XCTAssertEqual(conf.timeoutSeconds, 2)
        XCTAssertEqual(conf.attempts, 3)
        let empty = ResolvConf.read("/nonexistent/resolv.conf")
        XCTAssertEqual(empty.servers, ["127.0.0.1@53"], "no nameserver means the local one, as in glibc")
        XCTAssertEqual(empty.timeoutSeconds * empty.attempts, 10)
    }
}
