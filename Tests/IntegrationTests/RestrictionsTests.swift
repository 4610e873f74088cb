// The restriction lists through a real master and smtpd, with a dnsmasq on loopback as
// the only DNS server (postern_dns_server): the classic setup's client, HELO, sender
// and recipient lists and its DNS block lists, each accepting and rejecting with
// Postfix's exact replies under smtpd_delay_reject yes and no; null MX, reply filters,
// rbl_reply_maps, MX access; and a dead DNS server, which must give 4xx replies, never
// an accept and never a crash.
import Foundation
import XCTest

@testable import Shared

final class RestrictionsTests: XCTestCase {
    var instances: [TestInstance] = []
    var servers: [DNSServer] = []

    override func tearDown() {
        instances.removeAll()
        servers.removeAll()
        super.tearDown()
    }

    /// The zone every test starts from: example.com with MX and A, the client's PTR and
    /// A (forward-confirmed), a null-MX domain, and block lists listing 127.0.0.1.
    static let zone = [
        DNSServer.mx("example.com", "mail.example.com", 10), DNSServer.host("mail.example.com", "127.0.0.9"),
        DNSServer.host("client.example.com", "127.0.0.1"), DNSServer.nullMX("nullmx.example"),
        DNSServer.address("1.0.0.127.zen.test", "127.0.0.2"), DNSServer.txt("1.0.0.127.zen.test", "Listed: see https://zen.test/q?127.0.0.1"),
        DNSServer.address("1.0.0.127.psbl.test", "127.0.0.2"),
        DNSServer.address("spam.example.dbl.test", "127.0.1.2"), DNSServer.txt("spam.example.dbl.test", "spam domain"),
        DNSServer.mx("spam.example", "mail.example.com", 10),
    ]

    func start(_ main: [String], dns: [String] = RestrictionsTests.zone, server: String? = nil) throws -> (TestInstance, UInt16) {
        var dnsAddress = server
        if dnsAddress == nil {
            let s = try DNSServer(dns)
            servers.append(s)
            dnsAddress = s.address
        }
        let (inst, port) = try TestInstance.smtp(main: ["postern_dns_server = \(dnsAddress!)", "myhostname = mx.example.test"] + main)
        instances.append(inst)
        return (inst, port)
    }

    /// A client connected and greeted; replies may take a while when DNS is down.
    func connect(_ port: UInt16, greeting: String = "220 mx.example.test ESMTP Postern") throws -> SMTPTestClient {
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        var tv = timeval(tv_sec: 40, tv_usec: 0)
        setsockopt(c.connection.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let banner = c.reply().map { "\($0.code) \($0.lines.last ?? "")" }
        XCTAssertEqual(banner, greeting)
        return c
    }

    /// Greets, sends MAIL and RCPT, and returns the RCPT reply.
    func rcpt(_ port: UInt16, helo: String = "mail.example.com", from: String = "a@example.com", to: String = "root@example.test") throws -> String {
        let c = try connect(port)
        XCTAssertEqual(c.command("EHLO \(helo)"), "250 CHUNKING")
        XCTAssertEqual(c.command("MAIL FROM:<\(from)>"), "250 2.1.0 Ok")
        return c.command("RCPT TO:<\(to)>")
    }

    static let classic = [
        "smtpd_client_restrictions = reject_unknown_client_hostname, permit",
        "smtpd_helo_required = yes",
        "smtpd_helo_restrictions = reject_unknown_helo_hostname, reject_non_fqdn_helo_hostname, reject_invalid_helo_hostname, permit",
        "smtpd_sender_restrictions = reject_non_fqdn_sender, reject_unknown_sender_domain, permit",
        "smtpd_recipient_restrictions = permit_sasl_authenticated, reject_unauth_destination, permit",
    ]

    func testClassicListsAcceptAGoodClient() throws {
        let (inst, port) = try start(RestrictionsTests.classic)
        let c = try connect(port)
        XCTAssertEqual(c.command("EHLO mail.example.com"), "250 CHUNKING")
        XCTAssertEqual(c.command("MAIL FROM:<a@example.com>"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RCPT TO:<root@example.test>"), "250 2.1.5 Ok")
        XCTAssertEqual(c.command("QUIT"), "221 2.0.0 Bye")
        XCTAssertTrue(eventually { inst.log.contains("connect from client.example.com[127.0.0.1]") }, inst.log)
    }

    func testClassicListsWithDelayedRejects() throws {
        let (inst, port) = try start(RestrictionsTests.classic)
        XCTAssertEqual(try rcpt(port, helo: "blarghhh"), "450 4.7.1 <blarghhh>: Helo command rejected: Host not found")
        XCTAssertEqual(try rcpt(port, helo: "nodots.example.com"), "450 4.7.1 <nodots.example.com>: Helo command rejected: Host not found")
        XCTAssertEqual(try rcpt(port, from: "askljdas@lksjdklfsdjf.com"),
                       "450 4.1.8 <askljdas@lksjdklfsdjf.com>: Sender address rejected: Domain not found")
        XCTAssertEqual(try rcpt(port, from: "a@nullmx.example"),
                       "550 5.7.27 <a@nullmx.example>: Sender address rejected: Domain nullmx.example does not accept mail (nullMX)")
        XCTAssertEqual(try rcpt(port, from: "user@nodomain"), "504 5.5.2 <user@nodomain>: Sender address rejected: need fully-qualified address")
        XCTAssertEqual(try rcpt(port, to: "someone@elsewhere.example.net"), "454 4.7.1 <someone@elsewhere.example.net>: Relay access denied",
                       "the relay list (compatibility 3.7 default) runs first")
        XCTAssertTrue(eventually {
            inst.log.contains("NOQUEUE: reject: RCPT from client.example.com[127.0.0.1]: 450 4.1.8 <askljdas@lksjdklfsdjf.com>: Sender address rejected: Domain not found; from=<askljdas@lksjdklfsdjf.com> to=<root@example.test> proto=ESMTP helo=<mail.example.com>")
        }, inst.log)
    }

    func testClassicListsWithoutDelayRejectAtEachCommand() throws {
        let (_, port) = try start(RestrictionsTests.classic + ["smtpd_delay_reject = no"])
        let c = try connect(port)
        XCTAssertEqual(c.command("MAIL FROM:<a@example.com>"), "503 5.5.1 Error: send HELO/EHLO first")
        XCTAssertEqual(c.command("HELO blarghhh"), "450 4.7.1 <blarghhh>: Helo command rejected: Host not found")
        XCTAssertEqual(c.command("HELO mail.example.com"), "250 mx.example.test")
        XCTAssertEqual(c.command("MAIL FROM:<askljdas@lksjdklfsdjf.com>"), "450 4.1.8 <askljdas@lksjdklfsdjf.com>: Sender address rejected: Domain not found")
        XCTAssertEqual(c.command("MAIL FROM:<a@example.com>"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RCPT TO:<root@example.test>"), "250 2.1.5 Ok")
    }

    func testUnknownClientHostname() throws {
        let forged = [DNSServer.ptr("127.0.0.1", "forged.example.com"), DNSServer.host("forged.example.com", "127.0.0.99")]
        let (inst, port) = try start(["smtpd_client_restrictions = reject_unknown_client_hostname, permit"], dns: forged)
        XCTAssertEqual(try rcpt(port), "450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.1]")
        XCTAssertTrue(eventually { inst.log.contains("warning: hostname forged.example.com does not resolve to address 127.0.0.1") }, inst.log)
        XCTAssertTrue(inst.log.contains("connect from unknown[127.0.0.1]"), inst.log)

        let (_, early) = try start(["smtpd_delay_reject = no", "unknown_client_reject_code = 550",
                                    "smtpd_client_restrictions = reject_unknown_client_hostname"], dns: [])
        let c = try connect(early, greeting: "550 5.7.25 Client host rejected: cannot find your hostname, [127.0.0.1]")
        XCTAssertEqual(c.command("EHLO mail.example.com"), "503 5.7.0 Error: access denied for unknown[127.0.0.1]")
        XCTAssertEqual(c.command("QUIT"), "221 2.0.0 Bye")

        let (_, reverse) = try start(["smtpd_client_restrictions = reject_unknown_reverse_client_hostname"], dns: forged)
        XCTAssertEqual(try rcpt(reverse), "250 2.1.5 Ok", "the reverse name exists; only the forward check failed")
        let (_, none) = try start(["smtpd_client_restrictions = reject_unknown_reverse_client_hostname"], dns: [])
        XCTAssertEqual(try rcpt(none), "450 4.7.1 Client host rejected: cannot find your reverse hostname, [127.0.0.1]")
    }

    func testUnknownRecipientDomain() throws {
        let (_, port) = try start(["mynetworks = 127.0.0.0/8", "smtpd_recipient_restrictions = reject_unknown_recipient_domain, permit"])
        XCTAssertEqual(try rcpt(port, to: "b@nullmx.example"),
                       "556 5.1.10 <b@nullmx.example>: Recipient address rejected: Domain nullmx.example does not accept mail (nullMX)")
        XCTAssertEqual(try rcpt(port, to: "b@nodomain.example"), "450 4.1.2 <b@nodomain.example>: Recipient address rejected: Domain not found")
        XCTAssertEqual(try rcpt(port, to: "b@example.com"), "250 2.1.5 Ok")
    }

    static let blocklists = [
        "smtpd_recipient_restrictions = permit_sasl_authenticated, reject_invalid_hostname, reject_non_fqdn_sender, "
            + "reject_non_fqdn_recipient, reject_unauth_destination, reject_rbl_client zen.test, reject_rbl_client psbl.test, "
            + "reject_rbl_client bl.test, permit",
    ]

    func testBlockLists() throws {
        let (inst, port) = try start(RestrictionsTests.blocklists)
        XCTAssertEqual(try rcpt(port), "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.test; Listed: see https://zen.test/q?127.0.0.1")
        XCTAssertTrue(eventually {
            inst.log.contains("NOQUEUE: reject: RCPT from client.example.com[127.0.0.1]: 554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.test;")
        }, inst.log)
        let (_, delayNo) = try start(RestrictionsTests.blocklists + ["smtpd_delay_reject = no"])
        XCTAssertEqual(try rcpt(delayNo), "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.test; Listed: see https://zen.test/q?127.0.0.1")
    }

    func testBlockListFiltersAndReplyMaps() throws {
        let (_, filtered) = try start(["smtpd_recipient_restrictions = reject_unauth_destination, reject_rbl_client zen.test=127.0.0.3, reject_rbl_client psbl.test=127.0.0.[2..11]"])
        XCTAssertEqual(try rcpt(filtered), "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using psbl.test")
        let (_, mapped) = try start([
            "smtpd_recipient_restrictions = reject_unauth_destination, reject_rbl_client zen.test",
            "rbl_reply_maps = inline:{ {zen.test = 550 5.7.1 $$rbl_what is listed at $$rbl_domain: $$rbl_reason} }",
        ])
        XCTAssertEqual(try rcpt(mapped), "550 5.7.1 127.0.0.1 is listed at zen.test: Listed: see https://zen.test/q?127.0.0.1")
        let (_, notListed) = try start(["smtpd_recipient_restrictions = reject_unauth_destination, reject_rbl_client clean.test, reject_rhsbl_sender dbl.test"])
        XCTAssertEqual(try rcpt(notListed), "250 2.1.5 Ok")
        XCTAssertEqual(try rcpt(notListed, from: "a@spam.example"),
                       "554 5.7.1 Service unavailable; Sender address [a@spam.example] blocked using dbl.test; spam domain")
    }

    func testMXAccessAndClientAccessTable() throws {
        let (inst, port) = try start([
            "smtpd_sender_restrictions = check_sender_mx_access inline:{ {127.0.0.9 = REJECT bad mail exchanger} }",
            "smtpd_client_restrictions = warn_if_reject check_client_access inline:{ {client.example.com = REJECT not welcome} }",
        ])
        XCTAssertEqual(try rcpt(port, from: "a@example.com"), "554 5.7.1 <a@example.com>: Sender address rejected: bad mail exchanger")
        XCTAssertTrue(eventually {
            inst.log.contains("NOQUEUE: reject_warning: RCPT from client.example.com[127.0.0.1]: 554 5.7.1 <client.example.com[127.0.0.1]>: Client host rejected: not welcome; from=<a@example.com> to=<root@example.test> proto=ESMTP helo=<mail.example.com>")
        }, inst.log)
    }

    func testDeadDNSServerGivesTemporaryFailures() throws {
        let (inst, port) = try start(RestrictionsTests.classic + ["smtpd_client_restrictions = permit"], server: DNSServer.unreachable)
        let c = try connect(port)
        XCTAssertEqual(c.command("EHLO helo.example.org"), "250 CHUNKING")
        XCTAssertEqual(c.command("MAIL FROM:<a@example.com>"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RCPT TO:<root@example.test>"), "450 4.7.1 <helo.example.org>: Helo command rejected: Host not found")
        XCTAssertEqual(c.command("QUIT"), "221 2.0.0 Bye")
        let c2 = try connect(port)
        XCTAssertEqual(c2.command("EHLO [127.0.0.1]"), "250 CHUNKING")
        XCTAssertEqual(c2.command("MAIL FROM:<a@example.com>"), "250 2.1.0 Ok")
        XCTAssertEqual(c2.command("RCPT TO:<root@example.test>"), "450 4.1.8 <a@example.com>: Sender address rejected: Domain not found")
        XCTAssertTrue(inst.log.contains("connect from unknown[127.0.0.1]"), inst.log)

        let (_, strict) = try start(["smtpd_client_restrictions = reject_unknown_client_hostname"] + RestrictionsTests.blocklists,
                                   server: DNSServer.unreachable)
        XCTAssertEqual(try rcpt(strict), "450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.1]")
        let (lists, blocked) = try start(RestrictionsTests.blocklists, server: DNSServer.unreachable)
        XCTAssertEqual(try rcpt(blocked), "250 2.1.5 Ok", "an unreachable block list is skipped, as in Postfix")
        XCTAssertTrue(eventually { lists.log.contains("warning: 1.0.0.127.zen.test: RBL lookup error: ") }, lists.log)
        XCTAssertFalse(lists.log.contains("terminated") || lists.log.contains("fatal"), lists.log)
    }
}
