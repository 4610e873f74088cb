// The SASL layer without a SASL server: security option lists, the mechanism filter,
// base64 as SASL checks it, Dovecot's auth protocol lines, and the owner lookup of
// smtpd_sender_login_maps.
import Foundation
import XCTest

@testable import Shared

final class SASLTests: XCTestCase {
    func testSecurityOptions() throws {
        XCTAssertEqual(try SASLSecurityOptions(parsing: "noanonymous"), [.noAnonymous])
        XCTAssertEqual(try SASLSecurityOptions(parsing: "NoPlaintext,\tnoanonymous  mutual_auth"), [.noPlaintext, .noAnonymous, .mutualAuth])
        XCTAssertEqual(try SASLSecurityOptions(parsing: "noactive nodictionary forward_secrecy"), [.noActive, .noDictionary, .forwardSecrecy])
        XCTAssertEqual(try SASLSecurityOptions(parsing: ""), [])
        XCTAssertThrowsError(try SASLSecurityOptions(parsing: "noanonymous, bogus")) { error in
            XCTAssertEqual("\(error)", "unknown SASL security options value \"bogus\" in \"noanonymous, bogus\"")
        }
    }

    func testSettingsFromMainCF() throws {
        let config = MainConfig(directory: "/nonexistent")
        try config.parse("myhostname = mx.example.test\nsmtpd_sasl_security_options = noanonymous, noplaintext\n")
        let settings = try SASLServerSettings(config: config)
        XCTAssertEqual(settings.type, "cyrus")
        XCTAssertEqual(settings.path, "smtpd")
        XCTAssertEqual(settings.service, "smtp")
        XCTAssertEqual(settings.security, [.noAnonymous, .noPlaintext])
        XCTAssertEqual(settings.tlsSecurity, [.noAnonymous, .noPlaintext], "smtpd_sasl_tls_security_options follows by default")
        try config.parse("smtpd_sasl_type = kerberos\n")
        XCTAssertThrowsError(try SASLServerFactory(SASLServerSettings(config: config))) { error in
            XCTAssertEqual("\(error)", "unsupported SASL server implementation: kerberos")
        }
    }

    func testMechanismFilter() {
        let standard = SASLMechanismFilter("!external, static:rest")
        XCTAssertEqual(standard.apply(["PLAIN", "EXTERNAL", "LOGIN"]), ["PLAIN", "LOGIN"])
        XCTAssertEqual(SASLMechanismFilter("login, !plain").apply(["PLAIN", "LOGIN", "CRAM-MD5"]), ["LOGIN"])
        XCTAssertEqual(SASLMechanismFilter("!plain static:all").apply(["PLAIN", "LOGIN"]), ["LOGIN"])
        XCTAssertEqual(SASLMechanismFilter("").apply(["PLAIN"]), [])
    }

    func testBase64() {
        XCTAssertTrue(SASLBase64.isValid(""))
        XCTAssertTrue(SASLBase64.isValid("AGFsaWNlAHNlY3JldA=="))
        XCTAssertFalse(SASLBase64.isValid("###"))
        XCTAssertFalse(SASLBase64.isValid("AGF"))
        XCTAssertFalse(SASLBase64.isValid("A==="))
        XCTAssertFalse(SASLBase64.isValid("AG=a"))
        XCTAssertEqual(SASLBase64.encode(Array("Username:".utf8)), "VXNlcm5hbWU6")
        XCTAssertEqual(SASLBase64.encode(Array("\0alice\0secret".utf8)), Data("\0alice\0secret".utf8).base64EncodedString())
        XCTAssertEqual(SASLBase64.encode([]), "")
    }

    func testDovecotMechanismLines() {
        func offered(_ line: String, _ options: SASLSecurityOptions) -> String? {
            DovecotAuthProtocol.offeredMechanism(line.split(separator: "\t").map(String.init), security: options)
        }
        XCTAssertEqual(offered("MECH\tPLAIN\tplaintext", [.noAnonymous]), "PLAIN")
        XCTAssertNil(offered("MECH\tPLAIN\tplaintext", [.noPlaintext]))
        XCTAssertNil(offered("MECH\tANONYMOUS\tanonymous", [.noAnonymous]))
        XCTAssertNil(offered("MECH\tCRAM-MD5\tdictionary\tactive", [.noDictionary]))
        XCTAssertNil(offered("MECH\tCRAM-MD5\tdictionary\tactive", [.noActive]))
        XCTAssertNil(offered("MECH\tCRAM-MD5\tdictionary", [.mutualAuth]))
        XCTAssertEqual(offered("MECH\tSCRAM-SHA-256\tmutual-auth", [.mutualAuth]), "SCRAM-SHA-256")
        XCTAssertNil(offered("MECH\tPLAIN", [.forwardSecrecy]))
        XCTAssertNil(offered("MECH\tX\tprivate", []))
        XCTAssertNil(offered("SPID\t12", []))
    }

    func testDovecotReplies() {
        func reply(_ line: String, _ id: UInt32 = 7) -> (step: SASLStep, user: String?)? {
            DovecotAuthProtocol.reply(line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init), id: id)
        }
        XCTAssertEqual(reply("OK\t7\tuser=alice")?.step, .success)
        XCTAssertEqual(reply("OK\t7\tuser=alice")?.user, "alice")
        XCTAssertEqual(reply("CONT\t7\tVXNlcm5hbWU6")?.step, .challenge("VXNlcm5hbWU6"))
        XCTAssertEqual(reply("CONT\t7\t")?.step, .challenge(""))
        XCTAssertEqual(reply("FAIL\t7\tuser=alice")?.step, .failure(""))
        XCTAssertEqual(reply("FAIL\t7\treason=Password expired\tuser=alice")?.step, .failure("Password expired"))
        XCTAssertEqual(reply("FAIL\t7\ttemp\treason=try later")?.step, .temporaryFailure("try later"))
        XCTAssertNil(reply("OK\t6\tuser=alice"), "a reply to another request")
        XCTAssertNil(reply("DONE"))
        XCTAssertEqual(DovecotAuthProtocol.unescape("a\u{1}tb\u{1}1c\u{1}0"), "a\tb\u{1}c\0")
        XCTAssertEqual(DovecotAuthProtocol.escape("a\tb\nc"), "a\u{1}tb\u{1}nc")
    }

    func testSenderLoginMapsKeys() throws {
        let directory = NSTemporaryDirectory() + "loginmaps-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
            shared@example.org alice, Bob
            carol carol
            @team.example dave
            """.write(toFile: directory + "/owners", atomically: true, encoding: .utf8)
        try "/^(.*)@example\\.com$/ ${1}\n".write(toFile: directory + "/login.pcre", atomically: true, encoding: .utf8)
        let config = MainConfig(directory: "/nonexistent")
        try config.parse("""
            myhostname = mx.example.test
            mydomain = example.test
            mydestination = $mydomain
            recipient_delimiter = +
            """)
        let resolver = try AddressResolver(config: config)
        let maps = try XCTUnwrap(SenderLoginMaps("pcre:\(directory)/login.pcre, texthash:\(directory)/owners",
                                                 resolver: resolver, search: AccessSearch(config: config)))
        XCTAssertEqual(try maps.owners("eve@example.com"), ["eve"])
        XCTAssertEqual(try maps.owners("Shared@Example.org"), ["alice", "Bob"])
        XCTAssertEqual(try maps.owners("shared+list@example.org"), ["alice", "Bob"], "the extension is stripped")
        XCTAssertEqual(try maps.owners("carol@example.test"), ["carol"], "the local part, for a local domain")
        XCTAssertNil(try maps.owners("carol@elsewhere.example"))
        XCTAssertEqual(try maps.owners("anyone@team.example"), ["dave"])
        XCTAssertTrue(SenderLoginMaps.owns(["alice", "Bob"], login: "bob"))
        XCTAssertFalse(SenderLoginMaps.owns(["alice", "Bob"], login: "bobby"))
        XCTAssertNil(try SenderLoginMaps(" ", resolver: resolver, search: AccessSearch()))
    }

    func testPrintable() {
        XCTAssertEqual("al\u{7}ice\n".saslPrintable, "al?ice?")
        XCTAssertEqual("jöran".saslPrintable, "jöran")
    }
}
