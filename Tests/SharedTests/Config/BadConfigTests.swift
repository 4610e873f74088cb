// The bad-configuration suite: each broken main.cf or master.cf and the exact error it
// must produce (file, line, parameter or field, reason).
import XCTest

@testable import Shared

final class BadConfigTests: XCTestCase {
    func mainError(_ text: String) -> String {
        let c = MainConfig(directory: "/etc/postern")
        do {
            try c.parse(text)
            try c.validate()
        } catch {
            return "\(error)"
        }
        return "no error"
    }

    func masterError(_ text: String) -> String {
        do {
            _ = try MasterConfig.parse(text, path: "/etc/postern/master.cf", defaultProcessLimit: 100)
        } catch {
            return "\(error)"
        }
        return "no error"
    }

    func testBadMainCF() {
        let cases: [(String, String)] = [
            ("myhostname = a\njunk line here\n", "/etc/postern/main.cf, line 2: missing '=' after attribute name: \"junk line here\""),
            ("= value\n", "/etc/postern/main.cf, line 1: missing attribute name: \"= value\""),
            ("two words = x\n", "/etc/postern/main.cf, line 1: bad parameter name: \"two words\""),
            ("\n\nsmtpd_recipient_limit = lots\n", "/etc/postern/main.cf, line 3: bad numerical configuration: smtpd_recipient_limit = lots"),
            ("biff = maybe\n", "/etc/postern/main.cf, line 1: bad boolean configuration: biff = maybe"),
            ("max_idle = 10x\n", "/etc/postern/main.cf, line 1: invalid time value or unit: max_idle = 10x"),
            ("limit_source = abc\nsmtpd_recipient_limit = $limit_source\n",
             "/etc/postern/main.cf, line 2: bad numerical configuration: smtpd_recipient_limit = abc"),
        ]
        for (text, expected) in cases { XCTAssertEqual(mainError(text), expected, text) }
    }

    func testBadOverride() throws {
        let c = MainConfig(directory: "/etc/postern")
        try c.override("smtpd_timeout=soon")
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual("\(error)", "-o smtpd_timeout: invalid time value or unit: smtpd_timeout = soon")
        }
    }

    func testBadMasterCF() {
        let cases: [(String, String)] = [
            ("smtp inet n - n - -\n", "/etc/postern/master.cf: line 1: bad field count: expected at least 8 fields, found 7"),
            ("smtp tcp n - n - - smtpd\n", "/etc/postern/master.cf: line 1: field \"type\": bad value: \"tcp\""),
            ("smtp inet n yes n - - smtpd\n", "/etc/postern/master.cf: line 1: field \"unpriv\": bad value: \"yes\""),
            ("smtp inet n - n soon - smtpd\n", "/etc/postern/master.cf: line 1: field \"wakeup\": bad value: \"soon\""),
            ("smtp inet n - n - 10x smtpd\n", "/etc/postern/master.cf: line 1: field \"maxproc\": bad value: \"10x\""),
            ("smtp inet y - n - - smtpd\n", "/etc/postern/master.cf: line 1: inet service cannot be private"),
            ("nosuchservice inet n - n - - smtpd\n", "/etc/postern/master.cf: line 1: unknown service: \"nosuchservice\""),
            ("[::1 inet n - n - - smtpd\n", "/etc/postern/master.cf: line 1: bad inet service address: \"[::1\""),
            ("smtp inet n - n - - smtpd -o\n", "/etc/postern/master.cf: line 1: -o option requires name=value"),
            ("smtp inet n - n - - smtpd -o { a = b\n", "/etc/postern/master.cf: line 1: missing '}' in \"smtp inet n - n - - smtpd -o { a = b\""),
        ]
        for (text, expected) in cases { XCTAssertEqual(masterError(text), expected, text) }
    }
}
