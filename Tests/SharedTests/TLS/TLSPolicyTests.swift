// TLS policy values without sockets: Postfix's protocol-list syntax, cipher grades and
// exclusions, smtpd's level (with the old smtpd_use_tls / smtpd_enforce_tls and wrapper
// mode), the fingerprint format, and server contexts refusing bad configurations with
// Postfix's warnings.
import XCTest

@testable import Shared

final class TLSPolicyTests: XCTestCase {
    func testProtocolLists() {
        let all = Set(TLSProtocolVersion.allCases)
        let cases: [(String, TLSProtocolPolicy?)] = [
            (">=TLSv1", TLSProtocolPolicy(floor: 0x0301)),
            (">=TLSv1.2", TLSProtocolPolicy(floor: 0x0303)),
            ("<=TLSv1.2", TLSProtocolPolicy(ceiling: 0x0303)),
            (">=TLSv1.1 <=TLSv1.2", TLSProtocolPolicy(floor: 0x0302, ceiling: 0x0303)),
            (">=0x0303", TLSProtocolPolicy(floor: 0x0303)),
            ("!SSLv2, !SSLv3, !TLSv1", TLSProtocolPolicy(excluded: [.sslv2, .sslv3, .tlsv1])),
            ("!SSLv2:!SSLv3", TLSProtocolPolicy(excluded: [.sslv2, .sslv3])),
            ("TLSv1.2 TLSv1.3", TLSProtocolPolicy(excluded: all.subtracting([.tlsv1_2, .tlsv1_3]))),
            ("TLSv1.3, !TLSv1.3", TLSProtocolPolicy(excluded: all)),
            ("", TLSProtocolPolicy()),
            (">=None", TLSProtocolPolicy()),
            ("tlsv1.2", nil),
            ("!TLSv9", nil),
            (">=TLSv1.4", nil),
            (">=", nil),
            ("SSLv23", nil),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(TLSProtocolPolicy.parse(text), expected, text)
        }
    }

    func testWhatAPolicyAllows() throws {
        let modern = try XCTUnwrap(TLSProtocolPolicy.parse(">=TLSv1.2"))
        XCTAssertEqual(TLSProtocolVersion.allCases.filter(modern.allows), [.tlsv1_2, .tlsv1_3])
        let legacy = try XCTUnwrap(TLSProtocolPolicy.parse("!SSLv2, !SSLv3, !TLSv1"))
        XCTAssertEqual(TLSProtocolVersion.allCases.filter(legacy.allows), [.tlsv1_1, .tlsv1_2, .tlsv1_3])
        let capped = try XCTUnwrap(TLSProtocolPolicy.parse(">=TLSv1 <=TLSv1.2"))
        XCTAssertEqual(TLSProtocolVersion.allCases.filter(capped.allows), [.tlsv1, .tlsv1_1, .tlsv1_2])
    }

    func testCipherGrades() {
        XCTAssertEqual(TLSCipherGrade(name: "HIGH"), .high)
        XCTAssertEqual(TLSCipherGrade(name: "low"), .medium)
        XCTAssertEqual(TLSCipherGrade(name: "export"), .medium)
        XCTAssertEqual(TLSCipherGrade(name: "null"), .null)
        XCTAssertNil(TLSCipherGrade(name: "strong"))
        XCTAssertEqual(TLSCipherGrade.medium.cipherList(base: "HIGH:MEDIUM", exclusions: ["aNULL", "RC4"]), "HIGH:MEDIUM:!aNULL:!RC4")
        XCTAssertNil(TLSCipherGrade.high.cipherList(base: "HIGH", exclusions: ["!RC4"]))
    }

    func testFingerprintText() {
        XCTAssertEqual(TLSLibrary.fingerprintText([0x0a, 0xbc, 0xff]), "0A:BC:FF")
        XCTAssertEqual(TLSLibrary.fingerprintText([]), "")
    }

    func policy(_ text: String) throws -> SMTPDTLSPolicy {
        let c = MainConfig(directory: "/etc/postern")
        try c.parse(text)
        return try SMTPDTLSPolicy(c)
    }

    func testSMTPDLevels() throws {
        XCTAssertEqual(try policy(""), SMTPDTLSPolicy())
        let may = try policy("smtpd_tls_security_level = may")
        XCTAssertTrue(may.offered)
        XCTAssertFalse(may.enforced)
        XCTAssertFalse(may.authOnly)
        let encrypt = try policy("smtpd_tls_security_level = encrypt")
        XCTAssertTrue(encrypt.offered && encrypt.enforced && encrypt.authOnly)
        let wrapper = try policy("smtpd_tls_security_level = none\nsmtpd_tls_wrappermode = yes")
        XCTAssertTrue(wrapper.wrapperMode && wrapper.enforced && wrapper.offered)
        let legacy = try policy("smtpd_use_tls = yes")
        XCTAssertTrue(legacy.offered)
        XCTAssertFalse(legacy.enforced)
        XCTAssertTrue(try policy("smtpd_enforce_tls = yes").enforced)
        XCTAssertFalse(try policy("smtpd_tls_security_level = none\nsmtpd_use_tls = yes").offered, "the level wins over the old switches")
        let verify = try policy("smtpd_tls_security_level = verify")
        XCTAssertTrue(verify.enforced)
        XCTAssertEqual(verify.warning, "smtpd_tls_security_level: unsupported TLS level \"verify\", using \"encrypt\"")
        XCTAssertTrue(try policy("smtpd_tls_security_level = may\nsmtpd_tls_auth_only = yes").authOnly)
        XCTAssertThrowsError(try policy("smtpd_tls_security_level = maybe")) { error in
            XCTAssertEqual("\(error)", "/etc/postern/main.cf, line 1: Invalid TLS level \"maybe\"")
        }
    }

    func testServerSettingsFollowEnforcement() throws {
        let c = MainConfig(directory: "/etc/postern")
        try c.parse("""
            compatibility_level = 3.7
            smtpd_tls_cert_file = /etc/ssl/mx.pem
            smtpd_tls_protocols = >=TLSv1.2
            smtpd_tls_mandatory_protocols = >=TLSv1.3
            smtpd_tls_mandatory_ciphers = high
            smtpd_tls_exclude_ciphers = RC4, aNULL
            smtpd_tls_mandatory_exclude_ciphers = 3DES
            """)
        let opportunistic = TLSServerSettings(smtpd: c, enforced: false, serviceName: "smtp")
        XCTAssertEqual(opportunistic.protocols, ">=TLSv1.2")
        XCTAssertEqual(opportunistic.cipherGrade, "medium")
        XCTAssertEqual(opportunistic.excludedCiphers, ["RC4", "aNULL"])
        XCTAssertEqual(opportunistic.keyFile, "/etc/ssl/mx.pem", "smtpd_tls_key_file defaults to the certificate file")
        XCTAssertEqual(opportunistic.fingerprintDigest, "sha256")
        XCTAssertEqual(opportunistic.sessionTimeout, 3600)
        let mandatory = TLSServerSettings(smtpd: c, enforced: true, serviceName: "submission")
        XCTAssertEqual(mandatory.protocols, ">=TLSv1.3")
        XCTAssertEqual(mandatory.cipherGrade, "high")
        XCTAssertEqual(mandatory.excludedCiphers, ["RC4", "aNULL", "3DES"])
        XCTAssertEqual(mandatory.sessionContext, "Postern/submission")
    }

    func testServerContextRefusesBadConfigurations() {
        func warnings(_ change: (inout TLSServerSettings) -> Void) -> [String] {
            var s = TLSServerSettings()
            s.certFile = "/nonexistent/cert.pem"
            change(&s)
            do {
                _ = try TLSServerContext(s)
                return []
            } catch {
                guard case .configuration(let lines) = error else { return ["\(error)"] }
                return lines
            }
        }
        XCTAssertEqual(warnings { $0.certFile = "" }, ["No server certs available. TLS won't be enabled"])
        XCTAssertEqual(warnings { $0.protocols = ">=TLSv9" }, ["Invalid TLS protocol list \">=TLSv9\": disabling TLS support"])
        XCTAssertEqual(warnings { $0.cipherGrade = "strongest" }, ["invalid cipher grade: \"strongest\": disabling TLS support"])
        XCTAssertEqual(warnings { $0.fingerprintDigest = "sha7" }, ["Digest algorithm \"sha7\" not found", "disabling TLS support"])
        let missing = warnings { _ in }
        XCTAssertEqual(missing.first, "cannot get RSA certificate from file \"/nonexistent/cert.pem\": disabling TLS support")
        XCTAssertTrue(missing.dropFirst().allSatisfy { $0.hasPrefix("TLS library problem: ") }, "\(missing)")
        XCTAssertTrue(missing.contains { $0.contains("No such file or directory") }, "\(missing)")
    }
}
