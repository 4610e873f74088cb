// AUTH in the session state machine, line by line against a scripted SASL server: every
// AUTH reply of reference §4.2, the EHLO keywords, smtpd_tls_auth_only before and after
// TLS, the response limit, MAIL FROM's AUTH= parameter, and the sender login mismatch
// restrictions with both of Postfix's texts.
import Foundation
import XCTest

@testable import Shared
@testable import smtpd

/// PLAIN and LOGIN against one user, in base64 as on the wire.
final class ScriptedSASLServer: SASLServer {
    let mechanisms: [String]
    var username: String?
    var mechanism = ""
    var loginUser: String?
    var starts: [(String, String?)] = []
    /// When set, every start answers this.
    var forced: SASLStep?

    init(mechanisms: [String] = ["PLAIN", "LOGIN"]) { self.mechanisms = mechanisms }

    static func decoded(_ text: String) -> String? {
        Data(base64Encoded: text).map { String(decoding: $0, as: UTF8.self) }
    }

    func check(_ user: String, _ password: String) -> SASLStep {
        username = user
        return password == "secret" && user == "alice" ? .success : .failure("authentication failure")
    }

    func start(mechanism: String, initialResponse: String?) -> SASLStep {
        starts.append((mechanism, initialResponse))
        if let forced { return forced }
        self.mechanism = mechanism.uppercased()
        username = nil
        loginUser = nil
        switch self.mechanism {
        case "PLAIN":
            guard let initialResponse else { return .challenge("") }
            return step(initialResponse)
        case "LOGIN":
            return .challenge("VXNlcm5hbWU6")
        default:
            return .failure("no mechanism available")
        }
    }

    func step(_ response: String) -> SASLStep {
        guard let text = ScriptedSASLServer.decoded(response) else { return .failure("bad protocol / cancel") }
        if mechanism == "PLAIN" {
            let parts = text.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { return .failure("bad protocol / cancel") }
            return check(parts[1], parts[2])
        }
        guard let user = loginUser else {
            loginUser = text
            return .challenge("UGFzc3dvcmQ6")
        }
        return check(user, text)
    }
}

final class SessionAuthTests: XCTestCase {
    var store = FakeStore()
    var server = ScriptedSASLServer()
    var peers: [SASLPeer] = []
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "sessionauth-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "shared@example.org alice, Bob\n".write(toFile: directory + "/owners", atomically: true, encoding: .utf8)
        try "/^(.*)@example\\.test$/ ${1}\n".write(toFile: directory + "/login.pcre", atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
        super.tearDown()
    }

    func session(_ main: String = "", sasl: Bool = true, tlsAuthOnly: Bool = false, broken: Bool = false) throws -> SMTPSession {
        let config = MainConfig(directory: "/nonexistent")
        try config.parse("""
            compatibility_level = 3.7
            myhostname = mx.example.test
            mydomain = example.test
            mydestination = $myhostname, $mydomain, localhost
            mynetworks = 127.0.0.0/8
            smtpd_error_sleep_time = 0
            smtpd_sasl_auth_enable = \(sasl ? "yes" : "no")
            smtpd_sender_login_maps = pcre:\(directory)/login.pcre texthash:\(directory)/owners
            \(main)
            """)
        let settings = SMTPDSettings(config)
        let restrictions = try Restrictions(config: config, settings: settings)
        restrictions.localRecipientExists = { address in ["alice", "bob"].contains(MailAddress(address).localPart.asciiLowercased) }
        let identity = ClientIdentity(address: "192.0.2.7", port: 4000, name: "client.example.org", reverseName: "client.example.org")
        let s = SMTPSession(settings: settings, restrictions: restrictions, store: store, client: identity)
        s.serverAddress = "192.0.2.1"
        s.serverPort = 25
        if sasl {
            let setup = SMTPDSASL(tlsAuthOnly: tlsAuthOnly, brokenClients: broken, responseLimit: 12288) { peer in
                self.peers.append(peer)
                return self.server
            }
            s.sasl = SessionSASL(setup)
        }
        return s
    }

    func dialog(_ s: SMTPSession, _ commands: [String]) -> [String] {
        var out: [String] = []
        for c in commands {
            out += s.command(Array(c.utf8)).replies.flatMap { r in r.lines.map { "\(r.code) " + (r.enhanced.map { $0 + " " } ?? "") + $0 } }
        }
        return out
    }

    let plain = Data("\0alice\0secret".utf8).base64EncodedString()
    let wrong = Data("\0alice\0guess".utf8).base64EncodedString()

    func testEhloAnnouncesTheMechanisms() throws {
        XCTAssertTrue(dialog(try session(), ["EHLO c.example.org"]).contains("250 AUTH PLAIN LOGIN"))
        let broken = dialog(try session(broken: true), ["EHLO c.example.org"])
        let auth = try XCTUnwrap(broken.firstIndex(of: "250 AUTH PLAIN LOGIN"))
        XCTAssertEqual(broken[auth + 1], "250 AUTH=PLAIN LOGIN")
        XCTAssertFalse(dialog(try session(sasl: false), ["EHLO c.example.org"]).contains { $0.contains("AUTH") })
        XCTAssertFalse(dialog(try session("smtpd_discard_ehlo_keywords = auth"), ["EHLO c"]).contains { $0.contains("AUTH") })
        XCTAssertEqual(peers.first, SASLPeer(clientAddress: "192.0.2.7", clientPort: 4000, serverAddress: "192.0.2.1", serverPort: 25, tlsActive: false))
    }

    func testPlainWithInitialResponseAndContinuation() throws {
        let s = try session()
        XCTAssertEqual(dialog(s, ["EHLO c", "AUTH PLAIN \(plain)"]).last, "235 2.7.0 Authentication successful")
        XCTAssertEqual(s.saslUsername, "alice")
        XCTAssertEqual(s.saslMethod, "PLAIN")
        XCTAssertEqual(dialog(s, ["AUTH PLAIN \(plain)"]), ["503 5.5.1 Error: already authenticated"])

        let t = try session()
        XCTAssertEqual(dialog(t, ["EHLO c", "AUTH PLAIN", plain]).suffix(2), ["334 ", "235 2.7.0 Authentication successful"])
        XCTAssertEqual(t.log.ok["auth"], 1)
        XCTAssertEqual(t.log.total["auth"], 1)
    }

    func testLoginAndItsChallenges() throws {
        let s = try session()
        let user = Data("alice".utf8).base64EncodedString()
        let password = Data("secret".utf8).base64EncodedString()
        XCTAssertEqual(dialog(s, ["EHLO c", "AUTH LOGIN", user, password]).suffix(3),
                       ["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", "235 2.7.0 Authentication successful"])
        XCTAssertEqual(s.saslMethod, "LOGIN")

        let lost = try session()
        _ = dialog(lost, ["EHLO c", "AUTH LOGIN"])
        lost.end()
        XCTAssertEqual(lost.log.total["auth"], 1)
        XCTAssertEqual(lost.log.ok["auth"], 0, "an exchange cut off counts as a failed AUTH: auth=0/1")
    }

    func testFailuresAbortAndTheirCounts() throws {
        let s = try session()
        XCTAssertEqual(dialog(s, ["EHLO c", "AUTH PLAIN \(wrong)"]).last, "535 5.7.8 Error: authentication failed: authentication failure")
        XCTAssertNil(s.saslUsername)
        XCTAssertEqual(dialog(s, ["AUTH LOGIN", "*"]), ["334 VXNlcm5hbWU6", "501 5.7.0 Authentication aborted"])
        XCTAssertNil(s.authExchange)
        XCTAssertEqual(dialog(s, ["NOOP"]), ["250 2.0.0 Ok"], "after the abort, lines are commands again")
        server.forced = .temporaryFailure("")
        XCTAssertEqual(dialog(s, ["AUTH PLAIN \(plain)"]), ["454 4.7.0 Temporary authentication failure: (reason unavailable)"])
        server.forced = nil
        XCTAssertEqual(s.log.total["auth"], 3)
        XCTAssertEqual(s.log.ok["auth"] ?? 0, 0)
        XCTAssertEqual(s.errorCount, 3)
    }

    func testCommandChecksInPostfixOrder() throws {
        let s = try session("smtpd_helo_required = yes")
        XCTAssertEqual(dialog(s, ["AUTH PLAIN"]), ["503 5.5.1 Error: send HELO/EHLO first"])
        XCTAssertEqual(dialog(s, ["EHLO c", "AUTH", "AUTH PLAIN a b"]).suffix(2),
                       ["501 5.5.4 Syntax: AUTH mechanism", "501 5.5.4 Syntax: AUTH mechanism"])
        XCTAssertEqual(dialog(s, ["MAIL FROM:<x@example.org>", "AUTH PLAIN \(plain)"]).last, "503 5.5.1 Error: MAIL transaction in progress")
        XCTAssertEqual(dialog(try session(sasl: false), ["EHLO c", "AUTH PLAIN \(plain)"]).last, "503 5.5.1 Error: authentication not enabled")
        XCTAssertEqual(dialog(try session("smtpd_discard_ehlo_keywords = auth"), ["EHLO c", "AUTH PLAIN \(plain)"]).last,
                       "503 5.5.1 Error: authentication not enabled")
    }

    func testEqualsSignIsAnEmptyInitialResponse() throws {
        let s = try session()
        _ = dialog(s, ["EHLO c", "AUTH PLAIN ="])
        XCTAssertEqual(server.starts.last?.0, "PLAIN")
        XCTAssertEqual(server.starts.last?.1, "")
    }

    func testResponseLimit() throws {
        let s = try session()
        _ = dialog(s, ["EHLO c", "AUTH LOGIN"])
        XCTAssertEqual(s.authResponseLimit(), 12288)
        let outcome = s.command(Array(repeating: UInt8(ascii: "A"), count: 12288), truncated: true)
        XCTAssertEqual(outcome.replies, [SMTPReply(500, "5.5.6", "SASL response limit exceeded")])
        XCTAssertNil(s.authResponseLimit())
    }

    func testTLSAuthOnly() throws {
        let s = try session(tlsAuthOnly: true)
        XCTAssertFalse(dialog(s, ["EHLO c"]).contains { $0.contains("AUTH") })
        XCTAssertEqual(dialog(s, ["AUTH PLAIN \(plain)"]), ["503 5.5.1 Error: authentication not enabled"])
        s.tls.active = true
        XCTAssertTrue(dialog(s, ["EHLO c"]).contains("250 AUTH PLAIN LOGIN"))
        XCTAssertEqual(dialog(s, ["AUTH PLAIN \(plain)"]), ["235 2.7.0 Authentication successful"])
        XCTAssertEqual(peers.last?.tlsActive, true, "the server is made again for the TLS security options")
        s.authReset()
        XCTAssertNil(s.saslUsername)
        XCTAssertNil(s.saslMethod)
    }

    func testMailAuthParameter() throws {
        let s = try session()
        XCTAssertEqual(dialog(s, ["EHLO c", "MAIL FROM:<x@example.org> AUTH=someone+2Bx@example.org"]).last, "250 2.1.0 Ok")
        XCTAssertNil(s.saslSender, "an unauthenticated client's AUTH= counts as <>")
        _ = dialog(s, ["RSET", "AUTH PLAIN \(plain)"])
        XCTAssertEqual(dialog(s, ["MAIL FROM:<alice@example.test> AUTH=someone+2Bx@example.org"]).last, "250 2.1.0 Ok")
        XCTAssertEqual(s.saslSender, "someone+x@example.org")
        XCTAssertEqual(dialog(s, ["RSET", "MAIL FROM:<alice@example.test> AUTH=<>"]).last, "250 2.1.0 Ok")
        XCTAssertNil(s.saslSender)
        XCTAssertEqual(dialog(s, ["RSET", "MAIL FROM:<alice@example.test> AUTH=a@b.example AUTH=c@d.example"]).last,
                       "503 5.5.4 Error: multiple AUTH= options")
        XCTAssertNil(s.sender)
    }

    func testSenderLoginMismatch() throws {
        let rules = "smtpd_sender_restrictions = reject_sender_login_mismatch"
        let anonymous = try session(rules)
        XCTAssertEqual(dialog(anonymous, ["EHLO c", "MAIL FROM:<alice@example.test>", "RCPT TO:<bob@example.test>"]).last,
                       "553 5.7.1 <alice@example.test>: Sender address rejected: not logged in")
        XCTAssertEqual(dialog(anonymous, ["RSET", "MAIL FROM:<x@elsewhere.example>", "RCPT TO:<bob@example.test>"]).last,
                       "250 2.1.5 Ok", "an address nobody owns needs no login")
        XCTAssertEqual(dialog(anonymous, ["RSET", "MAIL FROM:<>", "RCPT TO:<bob@example.test>"]).last, "250 2.1.5 Ok")

        let s = try session(rules)
        _ = dialog(s, ["EHLO c", "AUTH PLAIN \(plain)"])
        XCTAssertEqual(dialog(s, ["MAIL FROM:<ALICE@example.test>", "RCPT TO:<bob@example.test>"]).last, "250 2.1.5 Ok")
        XCTAssertEqual(dialog(s, ["RSET", "MAIL FROM:<shared@example.org>", "RCPT TO:<bob@example.test>"]).last, "250 2.1.5 Ok",
                       "one of the listed owners")
        XCTAssertEqual(dialog(s, ["RSET", "MAIL FROM:<bob@example.test>", "RCPT TO:<bob@example.test>"]).last,
                       "553 5.7.1 <bob@example.test>: Sender address rejected: not owned by user alice")
        XCTAssertEqual(dialog(s, ["RSET", "MAIL FROM:<x@elsewhere.example>", "RCPT TO:<bob@example.test>"]).last,
                       "553 5.7.1 <x@elsewhere.example>: Sender address rejected: not owned by user alice")

        let known = try session("smtpd_sender_restrictions = reject_known_sender_login_mismatch")
        _ = dialog(known, ["EHLO c", "AUTH PLAIN \(plain)"])
        XCTAssertEqual(dialog(known, ["MAIL FROM:<x@elsewhere.example>", "RCPT TO:<bob@example.test>"]).last, "250 2.1.5 Ok")
        XCTAssertEqual(dialog(known, ["RSET", "MAIL FROM:<bob@example.test>", "RCPT TO:<bob@example.test>"]).last,
                       "553 5.7.1 <bob@example.test>: Sender address rejected: not owned by user alice")

        let authOnly = try session("smtpd_sender_restrictions = reject_authenticated_sender_login_mismatch")
        XCTAssertEqual(dialog(authOnly, ["EHLO c", "MAIL FROM:<alice@example.test>", "RCPT TO:<bob@example.test>"]).last, "250 2.1.5 Ok")
        let unauthOnly = try session("smtpd_sender_restrictions = reject_unauthenticated_sender_login_mismatch")
        _ = dialog(unauthOnly, ["EHLO c", "AUTH PLAIN \(plain)"])
        XCTAssertEqual(dialog(unauthOnly, ["MAIL FROM:<bob@example.test>", "RCPT TO:<bob@example.test>"]).last, "250 2.1.5 Ok")

        let disabled = try session(rules, sasl: false)
        XCTAssertEqual(dialog(disabled, ["EHLO c", "MAIL FROM:<alice@example.test>", "RCPT TO:<bob@example.test>"]).last, "250 2.1.5 Ok",
                       "without SASL the rule is ignored (with a warning)")
    }

    func testPermitSaslAuthenticatedRelays() throws {
        let s = try session()
        XCTAssertEqual(dialog(s, ["EHLO c", "MAIL FROM:<alice@example.test>", "RCPT TO:<x@elsewhere.example.net>"]).last,
                       "454 4.7.1 <x@elsewhere.example.net>: Relay access denied")
        XCTAssertEqual(dialog(s, ["RSET", "AUTH PLAIN \(plain)", "MAIL FROM:<alice@example.test>", "RCPT TO:<x@elsewhere.example.net>"]).last,
                       "250 2.1.5 Ok")
    }
}
