// The STARTTLS side of the session state machine, without sockets: the replies of
// reference §4.2, the reset after STARTTLS, level encrypt's 530, the EHLO keyword, the
// RFC 3848 transmission type, the Received: TLS lines, and permit_tls_clientcerts.
import Foundation
import XCTest

@testable import Shared
@testable import smtpd

final class SessionTLSTests: XCTestCase {
    var store = FakeStore()
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "postern-tls-unit-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
        super.tearDown()
    }

    /// A session whose smtpd TLS set-up comes from MAIN (a self-signed certificate is made
    /// unless CERTIFICATE is false).
    func session(_ main: String, certificate: Bool = true) throws -> SMTPSession {
        var tls = ""
        if certificate {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            p.arguments = ["req", "-new", "-x509", "-nodes", "-days", "2", "-subj", "/CN=mx.example.test", "-newkey", "rsa:2048",
                           "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem"]
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            tls = "smtpd_tls_cert_file = \(directory)/cert.pem\nsmtpd_tls_key_file = \(directory)/key.pem"
        }
        let config = MainConfig(directory: "/nonexistent")
        try config.parse("""
            compatibility_level = 3.7
            myhostname = mx.example.test
            mydomain = example.test
            mydestination = $myhostname, $mydomain, localhost
            mynetworks = 127.0.0.0/8
            smtpd_error_sleep_time = 0
            data_directory = \(directory)
            \(tls)
            \(main)
            """)
        let settings = SMTPDSettings(config)
        let restrictions = try Restrictions(config: config, settings: settings)
        restrictions.localRecipientExists = { _ in true }
        let identity = ClientIdentity(address: "192.0.2.7", port: 4000, name: "client.example.org", reverseName: "client.example.org")
        let s = SMTPSession(settings: settings, restrictions: restrictions, store: store, client: identity)
        s.tlsServer = SMTPDTLS(config: config, serviceName: "smtp")
        return s
    }

    /// Runs COMMANDS and returns every reply line as `CODE [DSN ]text`.
    func dialog(_ s: SMTPSession, _ commands: [String]) -> [String] {
        commands.flatMap { c in
            s.command(Array(c.utf8)).replies.flatMap { r in r.lines.map { "\(r.code) " + (r.enhanced.map { $0 + " " } ?? "") + $0 } }
        }
    }

    func handshake(_ s: SMTPSession, certificate: TLSPeerCertificate? = nil, trusted: Bool = false) {
        var d = TLSConnectionDetails()
        d.protocolName = "TLSv1.3"
        d.cipherName = "TLS_AES_256_GCM_SHA384"
        d.cipherBits = 256
        d.cipherAlgorithmBits = 256
        d.keyExchange = "X25519"
        d.serverSignature = TLSSignature(name: "RSA-PSS", curve: "", bits: 2048, digest: "SHA256")
        d.peerCertificate = certificate
        d.peerTrusted = trusted
        s.tlsStarted(d)
    }

    func testStartTLSWhenTLSIsOff() throws {
        let s = try session("", certificate: false)
        XCTAssertFalse(dialog(s, ["EHLO c.example.org"]).joined().contains("STARTTLS"))
        XCTAssertEqual(dialog(s, ["STARTTLS", "STARTTLS now"]),
                       ["502 5.5.1 Error: command not implemented", "501 5.5.4 Syntax: STARTTLS"])
        let discarded = try session("smtpd_tls_security_level = may\nsmtpd_discard_ehlo_keywords = starttls")
        XCTAssertEqual(dialog(discarded, ["STARTTLS"]), ["502 5.5.1 Error: command not implemented"])
    }

    func testStartTLSWithoutUsableCertificateIs454() throws {
        let s = try session("smtpd_tls_security_level = may\nsmtpd_tls_cert_file = \(directory)/missing.pem", certificate: false)
        XCTAssertNil(s.tlsServer.context)
        XCTAssertTrue(dialog(s, ["EHLO c.example.org"]).contains("250 STARTTLS"))
        let outcome = s.command(Array("STARTTLS".utf8))
        XCTAssertEqual(outcome.replies.map(\.description), ["454 4.7.0 TLS not available due to local problem"])
        XCTAssertEqual(outcome.next, .command)
        XCTAssertEqual(dialog(s, ["MAIL FROM:<a@b.example>"]), ["250 2.1.0 Ok"])
    }

    func testStartTLSResetsTheSession() throws {
        let s = try session("smtpd_tls_security_level = may")
        XCTAssertNotNil(s.tlsServer.context)
        XCTAssertEqual(dialog(s, ["EHLO c.example.org", "MAIL FROM:<a@b.example>"]).last, "250 2.1.0 Ok")
        let outcome = s.command(Array("STARTTLS".utf8))
        XCTAssertEqual(outcome.replies.map(\.description), ["220 2.0.0 Ready to start TLS"])
        XCTAssertEqual(outcome.next, .startTLS)
        XCTAssertNil(s.helo)
        XCTAssertNil(s.sender)
        XCTAssertEqual(s.protocolName, "SMTP")
        handshake(s)
        XCTAssertTrue(s.tls.active)
        let ehlo = dialog(s, ["EHLO c.example.org"])
        XCTAssertFalse(ehlo.contains("250 STARTTLS"), "\(ehlo)")
        XCTAssertEqual(dialog(s, ["STARTTLS", "STARTTLS x"]), ["554 5.5.1 Error: TLS already active", "501 5.5.4 Syntax: STARTTLS"])
    }

    func testEncryptLevelAllowsOnlyPreTLSCommands() throws {
        let s = try session("smtpd_tls_security_level = encrypt")
        XCTAssertEqual(dialog(s, ["EHLO c.example.org"]).filter { $0.contains("STARTTLS") }, ["250 STARTTLS"])
        let refused = ["MAIL FROM:<a@b.example>", "RCPT TO:<a@example.test>", "DATA", "BDAT 1 LAST", "RSET", "VRFY a", "ETRN example.test", "AUTH PLAIN"]
        XCTAssertEqual(dialog(s, refused), Array(repeating: "530 5.7.0 Must issue a STARTTLS command first", count: refused.count))
        XCTAssertEqual(dialog(s, ["NOOP", "HELO c.example.org", "FOO"]),
                       ["250 2.0.0 Ok", "250 mx.example.test", "500 5.5.2 Error: command not recognized"])
        XCTAssertEqual(s.command(Array("STARTTLS".utf8)).next, .startTLS)
        handshake(s)
        XCTAssertEqual(dialog(s, ["EHLO c.example.org", "MAIL FROM:<a@b.example>"]).last, "250 2.1.0 Ok")
    }

    func testRequiredClientCertificateEndsTheSession() throws {
        let s = try session("smtpd_tls_security_level = encrypt\nsmtpd_tls_req_ccert = yes")
        _ = s.command(Array("STARTTLS".utf8))
        handshake(s)
        let outcome = s.command(Array("EHLO c.example.org".utf8))
        XCTAssertEqual(outcome.replies.map(\.description), ["421 4.7.1 mx.example.test Error: No client certificate presented"])
        XCTAssertEqual(outcome.next, .disconnect)
    }

    func testTransmissionTypeAndReceivedLines() throws {
        let s = try session("smtpd_tls_security_level = may\nsmtpd_tls_received_header = yes")
        _ = dialog(s, ["EHLO c.example.org"])
        XCTAssertEqual(s.receivedProtocolName, "ESMTP")
        XCTAssertEqual(s.receivedTLSComments, [])
        _ = s.command(Array("STARTTLS".utf8))
        handshake(s)
        _ = dialog(s, ["HELO c.example.org"])
        XCTAssertEqual(s.receivedProtocolName, "SMTP", "HELO keeps SMTP after TLS and AUTH, as Postfix 3.7 writes it")
        _ = dialog(s, ["EHLO c.example.org"])
        XCTAssertEqual(s.receivedProtocolName, "ESMTPS")
        s.saslUsername = "alice"
        XCTAssertEqual(s.receivedProtocolName, "ESMTPSA")
        XCTAssertEqual(s.receivedTLSComments, [
            "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
            " key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)",
            "(No client certificate requested)",
        ])
        var cert = TLSPeerCertificate()
        cert.subjectCN = "client.example.org"
        cert.issuerCN = "Test (CA)"
        handshake(s, certificate: cert, trusted: false)
        XCTAssertEqual(s.receivedTLSComments.last, "(Client CN \"client.example.org\", Issuer \"Test \\(CA\\)\" (not verified))")
        let asking = try session("smtpd_tls_security_level = may\nsmtpd_tls_received_header = yes\nsmtpd_tls_ask_ccert = yes")
        handshake(asking)
        XCTAssertEqual(asking.receivedTLSComments.last, "(Client did not present a certificate)")
    }

    func testPermitTLSClientcerts() throws {
        try "AB:CD:EF listed\n".write(toFile: directory + "/relay_clientcerts", atomically: true, encoding: .utf8)
        let s = try session("""
            smtpd_tls_security_level = may
            smtpd_tls_ask_ccert = yes
            relay_clientcerts = texthash:\(directory)/relay_clientcerts
            smtpd_relay_restrictions = permit_tls_clientcerts, reject_unauth_destination
            """)
        let relay = ["EHLO c.example.org", "MAIL FROM:<a@b.example>", "RCPT TO:<x@elsewhere.example.net>"]
        XCTAssertEqual(dialog(s, relay).last, "554 5.7.1 <x@elsewhere.example.net>: Relay access denied")
        var cert = TLSPeerCertificate()
        cert.fingerprint = "AB:CD:EF"
        _ = s.command(Array("STARTTLS".utf8))
        handshake(s, certificate: cert, trusted: false)
        XCTAssertEqual(dialog(s, relay).last, "250 2.1.5 Ok", "a listed fingerprint needs no trusted CA")
        cert.fingerprint = "01:02:03"
        cert.publicKeyFingerprint = "AB:CD:EF"
        handshake(s, certificate: cert, trusted: false)
        XCTAssertEqual(dialog(s, ["RSET"] + relay.dropFirst()).last, "250 2.1.5 Ok", "the public-key fingerprint counts too")
        cert.publicKeyFingerprint = "04:05:06"
        handshake(s, certificate: cert, trusted: true)
        XCTAssertEqual(dialog(s, ["RSET"] + relay.dropFirst()).last, "554 5.7.1 <x@elsewhere.example.net>: Relay access denied")
        let all = try session("smtpd_tls_security_level = may\nsmtpd_relay_restrictions = permit_tls_all_clientcerts, reject_unauth_destination")
        _ = all.command(Array("STARTTLS".utf8))
        handshake(all, certificate: cert, trusted: true)
        XCTAssertEqual(dialog(all, relay).last, "250 2.1.5 Ok")
        handshake(all, certificate: cert, trusted: false)
        XCTAssertEqual(dialog(all, ["RSET"] + relay.dropFirst()).last, "554 5.7.1 <x@elsewhere.example.net>: Relay access denied")
    }
}
