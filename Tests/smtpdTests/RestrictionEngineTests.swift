// The restriction engine without sockets or DNS: access(5) results and key order, the
// DSN fix-ups and reply rules of reference §4.1, warn_if_reject, defer_if_permit /
// defer_if_reject bookkeeping, restriction classes, smtpd_delay_reject yes and no,
// check_policy_service answers, reject_unauth_pipelining, ETRN and DATA lists.
import XCTest

@testable import Shared
@testable import smtpd

final class RestrictionEngineTests: XCTestCase {
    var store = FakeStore()

    func session(_ main: String, client: ClientIdentity? = nil) throws -> SMTPSession {
        let config = MainConfig(directory: "/nonexistent")
        try config.parse("""
            compatibility_level = 3.7
            myhostname = mx.example.test
            mydomain = example.test
            mydestination = $myhostname, $mydomain, localhost
            mynetworks = 127.0.0.0/8
            smtpd_error_sleep_time = 0
            \(main)
            """)
        let settings = SMTPDSettings(config)
        let restrictions = try Restrictions(config: config, settings: settings)
        try restrictions.sanityCheck()
        restrictions.localRecipientExists = { address in ["alice", "bob"].contains(MailAddress(address).localPart.asciiLowercased) }
        let identity = client ?? ClientIdentity(address: "192.0.2.7", port: 4000, name: "client.example.org", reverseName: "client.example.org")
        return SMTPSession(settings: settings, restrictions: restrictions, store: store, client: identity)
    }

    /// Runs COMMANDS and returns the last reply line of each as `CODE text`.
    func dialog(_ s: SMTPSession, _ commands: [String]) -> [String] {
        commands.map { c in
            s.command(Array(c.utf8)).replies.last.map { "\($0.code) " + ($0.enhanced.map { $0 + " " } ?? "") + ($0.lines.last ?? "") } ?? ""
        }
    }

    func rcpt(_ main: String, sender: String = "a@example.org", recipient: String = "alice@example.test", helo: String = "client.example.org",
              client: ClientIdentity? = nil) throws -> String {
        let s = try session(main, client: client)
        return dialog(s, ["EHLO \(helo)", "MAIL FROM:<\(sender)>", "RCPT TO:<\(recipient)>"]).last!
    }

    func testAccessResults() throws {
        let map = "smtpd_client_restrictions = check_client_access inline:{ {192.0.2.7 = VALUE} }"
        func reply(_ value: String) throws -> String { try rcpt(map.replacingOccurrences(of: "VALUE", with: value)) }
        XCTAssertEqual(try reply("REJECT"), "554 5.7.1 <client.example.org[192.0.2.7]>: Client host rejected: Access denied")
        XCTAssertEqual(try reply("REJECT go away"), "554 5.7.1 <client.example.org[192.0.2.7]>: Client host rejected: go away")
        XCTAssertEqual(try reply("DEFER"), "450 4.7.1 <client.example.org[192.0.2.7]>: Client host rejected: Access denied")
        XCTAssertEqual(try reply("550 5.2.1 full"), "550 5.2.1 <client.example.org[192.0.2.7]>: Client host rejected: full")
        XCTAssertEqual(try reply("451 try later"), "451 4.7.1 <client.example.org[192.0.2.7]>: Client host rejected: try later")
        XCTAssertEqual(try reply("554 4.7.1 class follows code"), "554 5.7.1 <client.example.org[192.0.2.7]>: Client host rejected: class follows code")
        XCTAssertEqual(try reply("550 5.1.1 address code on a client"), "550 5.0.0 <client.example.org[192.0.2.7]>: Client host rejected: address code on a client")
        XCTAssertEqual(try reply("OK"), "250 2.1.5 Ok")
        XCTAssertEqual(try reply("1234567890"), "250 2.1.5 Ok")
        XCTAssertEqual(try reply("DUNNO"), "250 2.1.5 Ok")
        XCTAssertEqual(try reply("WARN be careful"), "250 2.1.5 Ok")
        XCTAssertEqual(try reply("reject_unauth_destination, reject"), "554 5.7.1 <client.example.org[192.0.2.7]>: Client host rejected: Access denied")
        XCTAssertEqual(try reply("699 bad code"), "451 4.3.5 Server configuration error", "not a reply, so a restriction list")
        XCTAssertEqual(try reply("hash:/etc/nothing"), "451 4.3.5 Server configuration error")
        XCTAssertEqual(try reply("DEFER_IF_PERMIT maybe later"), "450 4.7.1 <client.example.org[192.0.2.7]>: Client host rejected: maybe later")
    }

    func testAddressKeysAndDSNFixUps() throws {
        let sender = "smtpd_sender_restrictions = check_sender_access inline:{ {user@example.org = 550 5.1.1 no such user}, example.net=REJECT, {<> = 550 5.1.2 no bounces} }"
        XCTAssertEqual(try rcpt(sender, sender: "user@example.org"), "550 5.1.7 <user@example.org>: Sender address rejected: no such user")
        XCTAssertEqual(try rcpt(sender, sender: "x@sub.example.net"), "554 5.7.1 <x@sub.example.net>: Sender address rejected: Access denied")
        XCTAssertEqual(try rcpt(sender, sender: ""), "550 5.1.8 <>: Sender address rejected: no bounces")
        let recipient = "smtpd_recipient_restrictions = check_recipient_access inline:{ {alice@ = 550 5.1.7 bad}, bob@example.test=OK }, reject_unauth_destination"
        XCTAssertEqual(try rcpt(recipient), "550 5.1.3 <alice@example.test>: Recipient address rejected: bad")
    }

    func testWarnIfRejectOnlyLogs() throws {
        XCTAssertEqual(try rcpt("smtpd_recipient_restrictions = warn_if_reject reject, reject_unauth_destination"), "250 2.1.5 Ok")
        XCTAssertEqual(try rcpt("smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = warn_if_reject reject_unauth_destination, reject", recipient: "x@elsewhere.example"),
                       "554 5.7.1 <x@elsewhere.example>: Recipient address rejected: Access denied")
    }

    func testDeferIfPermitAndDeferIfReject() throws {
        XCTAssertEqual(try rcpt("smtpd_recipient_restrictions = defer_if_permit, permit"),
                       "450 4.7.0 <alice@example.test>: Recipient address rejected: defer_if_permit requested")
        XCTAssertEqual(try rcpt("smtpd_recipient_restrictions = defer_if_permit, reject"),
                       "554 5.7.1 <alice@example.test>: Recipient address rejected: Access denied")
        XCTAssertEqual(try rcpt("smtpd_recipient_restrictions = defer_if_reject, reject"),
                       "450 4.7.0 <alice@example.test>: Recipient address rejected: defer_if_reject requested")
        XCTAssertEqual(try rcpt("smtpd_recipient_restrictions = defer_if_reject, permit"), "250 2.1.5 Ok")
        XCTAssertEqual(try rcpt("smtpd_client_restrictions = defer_if_permit\nsmtpd_recipient_restrictions = permit"),
                       "450 4.7.0 <client.example.org[192.0.2.7]>: Client host rejected: defer_if_permit requested",
                       "a client-stage deferral outlives the client list")
    }

    func testRestrictionClasses() throws {
        let main = """
            smtpd_restriction_classes = strict, relaxed
            strict = reject
            relaxed = permit
            smtpd_recipient_restrictions = check_recipient_access inline:{ alice@example.test=strict, bob@example.test=relaxed }, reject_unauth_destination
            """
        XCTAssertEqual(try rcpt(main), "554 5.7.1 <alice@example.test>: Recipient address rejected: Access denied")
        XCTAssertEqual(try rcpt(main, recipient: "bob@example.test"), "250 2.1.5 Ok")
        XCTAssertThrowsError(try session("smtpd_restriction_classes = missing"))
    }

    func testBareTableIsTheListsAccessCheck() throws {
        XCTAssertEqual(try rcpt("smtpd_helo_restrictions = inline:{ {client.example.org=REJECT nope} }"),
                       "554 5.7.1 <client.example.org>: Helo command rejected: nope")
    }

    func testUnknownRestrictionAndMissingArguments() throws {
        XCTAssertEqual(try rcpt("smtpd_recipient_restrictions = no_such_rule, reject_unauth_destination"), "451 4.3.5 Server configuration error")
        XCTAssertEqual(try rcpt("smtpd_recipient_restrictions = reject_unauth_destination, check_recipient_access"), "451 4.3.5 Server configuration error")
        XCTAssertEqual(try rcpt("smtpd_recipient_restrictions = reject_unauth_destination, reject_rbl_client"), "250 2.1.5 Ok")
        XCTAssertEqual(try rcpt("smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = reject_unauth_destination, check_recipient_mx_access inline:{ x=OK }",
                                recipient: "alice@[192.0.2.1]"), "554 5.7.1 <alice@[192.0.2.1]>: Relay access denied")
    }

    func testSoftBounceAndLongTexts() throws {
        XCTAssertEqual(try rcpt("soft_bounce = yes\nsmtpd_recipient_restrictions = reject"),
                       "454 4.7.1 <alice@example.test>: Recipient address rejected: Access denied")
        let long = String(repeating: "x", count: 600)
        let r = try rcpt("smtpd_client_restrictions = check_client_access inline:{ {192.0.2.7 = REJECT \(long)} }")
        XCTAssertEqual(r.utf8.count, 510)
        XCTAssertEqual(Restrictions.printable("a\u{1}b\tc", limit: 100), "a b c")
    }

    func testPolicyActionIsAnAccessResult() throws {
        let main = """
            smtpd_policy_service_default_action = 450 4.7.1 try later
            smtpd_policy_service_try_limit = 1
            smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service unix:/nonexistent/policy
            """
        XCTAssertEqual(try rcpt(main), "450 4.7.1 <alice@example.test>: Recipient address rejected: try later")
        XCTAssertEqual(try rcpt("smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service"),
                       "451 4.3.5 Server configuration error")
    }

    func testPrependAddsHeadersToTheTransaction() throws {
        let s = try session("""
            smtpd_sender_restrictions = check_sender_access inline:{ {a@example.org = PREPEND X-Sender-Tag: one} }
            smtpd_recipient_restrictions = reject_unauth_destination,
                check_recipient_access inline:{ {alice@example.test = PREPEND X-Rcpt-Tag: two}, {bob@example.test = PREPEND no header} }
            """)
        XCTAssertEqual(dialog(s, ["EHLO c.example.org", "MAIL FROM:<a@example.org>", "RCPT TO:<alice@example.test>", "RCPT TO:<bob@example.test>",
                                  "DATA"]),
                       ["250 CHUNKING", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"])
        XCTAssertEqual(store.transactions.last?.prepended, ["X-Sender-Tag: one", "X-Rcpt-Tag: two", "X-Sender-Tag: one"],
                       "with smtpd_delay_reject the sender list runs again at each RCPT, and prepends again, as in Postfix")
        _ = s.endOfData()
        XCTAssertEqual(dialog(s, ["MAIL FROM:<c@example.org>", "RCPT TO:<bob@example.test>", "DATA"]).last,
                       "354 End data with <CR><LF>.<CR><LF>")
        XCTAssertEqual(store.transactions.last?.prepended, [], "a new transaction starts without them")
    }

    func testDelayRejectNoChecksEachCommand() throws {
        let s = try session("""
            smtpd_delay_reject = no
            smtpd_helo_restrictions = reject_non_fqdn_helo_hostname
            smtpd_sender_restrictions = reject_non_fqdn_sender
            """)
        XCTAssertEqual(dialog(s, ["HELO nodots", "HELO client.example.org", "MAIL FROM:<a@nodomain>", "MAIL FROM:<a@example.org>"]), [
            "504 5.5.2 <nodots>: Helo command rejected: need fully-qualified hostname", "250 mx.example.test",
            "504 5.5.2 <a@nodomain>: Sender address rejected: need fully-qualified address", "250 2.1.0 Ok",
        ])
        let delayed = try session("smtpd_helo_restrictions = reject_non_fqdn_helo_hostname")
        XCTAssertEqual(dialog(delayed, ["HELO nodots", "MAIL FROM:<a@example.org>", "RCPT TO:<alice@example.test>"]), [
            "250 mx.example.test", "250 2.1.0 Ok", "504 5.5.2 <nodots>: Helo command rejected: need fully-qualified hostname",
        ])
    }

    func testHeloSyntaxRules() throws {
        let main = "smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname"
        XCTAssertEqual(try rcpt(main, helo: "bad_helo!"), "501 5.5.2 <bad_helo!>: Helo command rejected: Invalid name")
        XCTAssertEqual(try rcpt(main, helo: "1.2.3.4"), "504 5.5.2 <1.2.3.4>: Helo command rejected: need fully-qualified hostname")
        XCTAssertEqual(try rcpt(main, helo: "[1.2.3.999]"), "501 5.5.2 <[1.2.3.999]>: Helo command rejected: invalid ip address")
        XCTAssertEqual(try rcpt(main, helo: "[192.0.2.1]"), "250 2.1.5 Ok")
        XCTAssertEqual(try rcpt(main, helo: "host.example."), "250 2.1.5 Ok")
    }

    func testUnknownClientNames() throws {
        let temporary = ClientIdentity(address: "192.0.2.9", port: 1, name: "unknown", reverseName: "unknown", nameStatus: .temporary, reverseNameStatus: .temporary)
        let forged = ClientIdentity(address: "192.0.2.9", port: 1, name: "unknown", reverseName: "host.example", nameStatus: .forged, reverseNameStatus: .ok)
        let rule = "smtpd_client_restrictions = reject_unknown_client_hostname"
        XCTAssertEqual(try rcpt(rule, client: temporary), "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.9]")
        XCTAssertEqual(try rcpt(rule + "\nunknown_client_reject_code = 550", client: forged), "550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.9]")
        XCTAssertEqual(try rcpt("smtpd_client_restrictions = reject_unknown_reverse_client_hostname", client: forged), "250 2.1.5 Ok")
        XCTAssertEqual(try rcpt("smtpd_client_restrictions = reject_unknown_reverse_client_hostname\nunknown_client_reject_code = 550", client: temporary),
                       "450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.9]")
    }

    func testPipeliningAndDataLists() throws {
        let s = try session("smtpd_data_restrictions = reject_unauth_pipelining")
        _ = dialog(s, ["HELO client.example.org"])
        s.notePipelining(Array("MAIL FROM:<a@example.org>".utf8), unread: Array("RCPT TO:<alice@example.test>\r\nDATA\r\n".utf8)[...])
        XCTAssertEqual(dialog(s, ["MAIL FROM:<a@example.org>", "RCPT TO:<alice@example.test>", "DATA"]), [
            "250 2.1.0 Ok", "250 2.1.5 Ok", "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining",
        ])
        let esmtp = try session("smtpd_data_restrictions = reject_unauth_pipelining")
        _ = dialog(esmtp, ["EHLO client.example.org"])
        esmtp.notePipelining(Array("MAIL FROM:<a@example.org>".utf8), unread: Array("RCPT TO:<alice@example.test>\r\n".utf8)[...])
        XCTAssertEqual(dialog(esmtp, ["MAIL FROM:<a@example.org>", "RCPT TO:<alice@example.test>", "DATA"]).last, "354 End data with <CR><LF>.<CR><LF>")
    }

    func testETRNList() throws {
        let s = try session("smtpd_etrn_restrictions = check_etrn_access inline:{ {example.org=REJECT no flush} }")
        XCTAssertEqual(dialog(s, ["EHLO client.example.org", "ETRN example.org", "ETRN example.net"]), [
            "250 CHUNKING", "554 5.7.1 <example.org>: Etrn command rejected: no flush", "250 Queuing started",
        ])
    }

    func testDSNFix() {
        XCTAssertEqual(Restrictions.dsnFix("5.1.1", .sender), "5.1.7")
        XCTAssertEqual(Restrictions.dsnFix("5.1.2", .sender), "5.1.8")
        XCTAssertEqual(Restrictions.dsnFix("5.1.5", .sender), "5.1.0")
        XCTAssertEqual(Restrictions.dsnFix("5.1.7", .recipient), "5.1.3")
        XCTAssertEqual(Restrictions.dsnFix("5.1.8", .recipient), "5.1.2")
        XCTAssertEqual(Restrictions.dsnFix("5.1.4", .recipient), "5.1.4")
        XCTAssertEqual(Restrictions.dsnFix("4.1.1", .helo), "4.0.0")
        XCTAssertEqual(Restrictions.dsnFix("5.7.1", .sender), "5.7.1")
    }

    func testIPMatch() {
        XCTAssertTrue(IPMatch("127.0.0.2")!.matches("127.0.0.2"))
        XCTAssertFalse(IPMatch("127.0.0.2")!.matches("127.0.0.3"))
        XCTAssertTrue(IPMatch("127.0.0.[2..11]")!.matches("127.0.0.11"))
        XCTAssertTrue(IPMatch("127.0.[0;1].[2;4..6]")!.matches("127.0.1.5"))
        XCTAssertFalse(IPMatch("127.0.[0;1].[2;4..6]")!.matches("127.0.1.3"))
        XCTAssertNil(IPMatch("127.0.0"))
        XCTAssertNil(IPMatch("127.0.0.[5..2]"))
    }
}

extension RestrictionEngineTests {
    func testDiscardAcceptsAndDropsTheMessage() throws {
        let s = try session("smtpd_recipient_restrictions = check_recipient_access inline:{ alice@example.test=DISCARD }, reject")
        XCTAssertEqual(dialog(s, ["EHLO client.example.org", "MAIL FROM:<a@example.org>", "RCPT TO:<alice@example.test>", "RCPT TO:<bob@example.test>",
                                  "DATA"]).suffix(3), ["250 2.1.5 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"])
        s.contentLine(Array("Subject: x".utf8)[...])
        XCTAssertTrue(s.endOfData().replies[0].description.hasPrefix("250 2.0.0 Ok: queued as "))
        XCTAssertTrue(store.transactions[0].aborted)
        XCTAssertFalse(store.transactions[0].committed)
        XCTAssertEqual(dialog(s, ["MAIL FROM:<a@example.org>", "RCPT TO:<bob@example.test>"]).last,
                       "554 5.7.1 <bob@example.test>: Recipient address rejected: Access denied", "DISCARD lasts one transaction")
    }
}
