// The policy request smtpd sends (reference §2.2): attribute order and values at the
// protocol states a session reaches, without a policy server.
import XCTest

@testable import Shared
@testable import smtpd

final class PolicyRequestTests: XCTestCase {
    func session() throws -> SMTPSession {
        let config = MainConfig(directory: "/nonexistent")
        try config.parse("compatibility_level = 3.7\nmyhostname = mx.example.test\nmydestination = example.test\nsmtpd_error_sleep_time = 0")
        let settings = SMTPDSettings(config)
        let restrictions = try Restrictions(config: config, settings: settings)
        let identity = ClientIdentity(address: "192.0.2.10", port: 45700, name: "unknown", reverseName: "c.example.org")
        let s = SMTPSession(settings: settings, restrictions: restrictions, store: FakeStore(), client: identity)
        s.serverAddress = "192.0.2.1"
        s.serverPort = 25
        return s
    }

    func testEveryAttributeInPostfixsOrderAtRCPT() throws {
        let s = try session()
        _ = s.command(Array("EHLO good.example.org".utf8))
        _ = s.command(Array("MAIL FROM:<user@example.org> SIZE=1234".utf8))
        _ = s.command(Array("RCPT TO:<a@example.test>".utf8))
        var ctx = s.context
        ctx.recipient = "b@example.test"
        let request = PolicyRequest.attributes(ctx, policyContext: "submission")
        XCTAssertEqual(request.items.map(\.name), [
            "request", "protocol_state", "protocol_name", "client_address", "client_name", "client_port", "reverse_client_name",
            "server_address", "server_port", "helo_name", "sender", "recipient", "recipient_count", "queue_id", "instance", "size",
            "etrn_domain", "stress", "sasl_method", "sasl_username", "sasl_sender", "ccert_subject", "ccert_issuer",
            "ccert_fingerprint", "ccert_pubkey_fingerprint", "encryption_protocol", "encryption_cipher", "encryption_keysize",
            "policy_context",
        ])
        XCTAssertEqual(request["request"], "smtpd_access_policy")
        XCTAssertEqual(request["protocol_state"], "RCPT")
        XCTAssertEqual(request["protocol_name"], "ESMTP")
        XCTAssertEqual(request["client_address"], "192.0.2.10")
        XCTAssertEqual(request["client_name"], "unknown")
        XCTAssertEqual(request["client_port"], "45700")
        XCTAssertEqual(request["reverse_client_name"], "c.example.org")
        XCTAssertEqual(request["server_address"], "192.0.2.1")
        XCTAssertEqual(request["server_port"], "25")
        XCTAssertEqual(request["helo_name"], "good.example.org")
        XCTAssertEqual(request["sender"], "user@example.org")
        XCTAssertEqual(request["recipient"], "b@example.test")
        XCTAssertEqual(request["recipient_count"], "0", "only DATA and END-OF-MESSAGE report the count")
        XCTAssertEqual(request["queue_id"], "4A1B2C3D0", "the queue file exists after the first accepted RCPT")
        XCTAssertEqual(request["size"], "1234")
        XCTAssertEqual(request["encryption_keysize"], "0")
        XCTAssertEqual(request["policy_context"], "submission")
        let instance = try XCTUnwrap(request["instance"]).split(separator: ".")
        XCTAssertEqual(instance.count, 4)
        XCTAssertEqual(instance.first.flatMap { Int32($0, radix: 16) }, getpid())
        XCTAssertEqual(instance.last, "0")
        XCTAssertTrue(request.encoded(xtext: false).hasPrefix("request=smtpd_access_policy\nprotocol_state=RCPT\n"))
        XCTAssertTrue(request.encoded(xtext: false).hasSuffix("\nencryption_keysize=0\npolicy_context=submission\n\n"))
    }

    func testDataStatesReportTheRecipientCountAndBDATIsData() throws {
        let s = try session()
        _ = s.command(Array("HELO c".utf8))
        _ = s.command(Array("MAIL FROM:<>".utf8))
        _ = s.command(Array("RCPT TO:<a@example.test>".utf8))
        _ = s.command(Array("RCPT TO:<b@example.test>".utf8))
        var ctx = s.context
        ctx.protocolState = "BDAT"
        let request = PolicyRequest.attributes(ctx, policyContext: "")
        XCTAssertEqual(request["protocol_state"], "DATA")
        XCTAssertEqual(request["protocol_name"], "SMTP")
        XCTAssertEqual(request["recipient_count"], "2")
        XCTAssertEqual(request["recipient"], "")
        XCTAssertEqual(request["sender"], "")
    }

    func testInstanceChangesPerTransaction() throws {
        let s = try session()
        _ = s.command(Array("MAIL FROM:<a@example.org>".utf8))
        let first = s.context.instance
        _ = s.command(Array("RSET".utf8))
        _ = s.command(Array("MAIL FROM:<a@example.org>".utf8))
        XCTAssertNotEqual(s.context.instance, first)
        XCTAssertTrue(s.context.instance.hasSuffix(".1"))
        XCTAssertEqual(PolicyRequest.instance(pid: 0x586d, seconds: 0x6b06c958, micros: 0x25559, sequence: 0), "586d.6b06c958.25559.0")
    }

    func testCertificateNamesAreQuoted() {
        XCTAssertEqual(PolicyRequest.quoted("CN=a b+c"), "CN=a+20b+2Bc")
    }
}
