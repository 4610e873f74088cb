// main.cf parsing and expansion: table-driven cases against Postfix's rules.
import XCTest

@testable import Shared

final class MainConfigTests: XCTestCase {
    func config(_ text: String) throws -> MainConfig {
        let c = MainConfig(directory: "/etc/postern")
        try c.parse(text)
        return c
    }

    func testLogicalLinesJoinContinuationsAndSkipComments() throws {
        let c = try config("""
            # a comment
            myhostname = mx.example.com

            mydestination = $myhostname,
                localhost,
              # a comment inside is skipped
            \texample.net
            smtpd_banner=$myhostname ESMTP
            """)
        XCTAssertEqual(c.raw("mydestination"), "$myhostname, localhost, example.net")
        XCTAssertEqual(c.settings["mydestination"]?.line, 4)
        XCTAssertEqual(c.value("smtpd_banner"), "mx.example.com ESMTP")
        XCTAssertEqual(c.order, ["myhostname", "mydestination", "smtpd_banner"])
    }

    func testLaterAssignmentWins() throws {
        let c = try config("a_param = 1\na_param = 2\n")
        XCTAssertEqual(c.raw("a_param"), "2")
        XCTAssertEqual(c.settings["a_param"]?.line, 2)
    }

    func testExpansionForms() throws {
        let c = try config("""
            myhostname = mx.example.com
            mydomain = example.com
            empty_one =
            set_one = yes
            """)
        let cases: [(String, String)] = [
            ("$myhostname", "mx.example.com"),
            ("${myhostname}", "mx.example.com"),
            ("$(myhostname)", "mx.example.com"),
            ("x${set_one?text}y", "xtexty"),
            ("x${empty_one?text}y", "xy"),
            ("x${empty_one:fallback}y", "xfallbacky"),
            ("x${set_one:fallback}y", "xyesy"),
            ("${set_one?{a b}:{c d}}", "a b"),
            ("${empty_one?{a b}:{c d}}", "c d"),
            ("${{$mydomain} == {example.com} ? {same} : {other}}", "same"),
            ("${{$mydomain} != {example.com} ? {same} : {other}}", "other"),
            ("${{3.6} <level {3.10} ? {older} : {newer}}", "older"),
            ("${{10} < {9} ? {yes} : {no}}", "no"),
            ("$undefined_parameter_x end", " end"),
            ("cost $$5", "cost $5"),
            ("trailing $", "trailing $"),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(c.expand(input), expected, input)
        }
    }

    func testCompatibilityLevelDrivesDefaults() throws {
        XCTAssertEqual(try config("compatibility_level = 3.7").value("smtpd_relay_restrictions"),
                       "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination")
        XCTAssertEqual(try config("").value("smtpd_relay_restrictions"), "")
        XCTAssertEqual(try config("compatibility_level = 3.7").value("append_dot_mydomain"), "no")
        XCTAssertEqual(try config("").value("append_dot_mydomain"), "yes")
    }

    func testRecursionIsCutNotFatal() throws {
        let c = try config("a_loop = $b_loop\nb_loop = $a_loop x")
        XCTAssertEqual(c.value("a_loop"), " x")
    }

    func testOverridesWin() throws {
        let c = try config("syslog_name = postfix")
        try c.override("syslog_name=postfix/submission")
        try c.override("smtpd_tls_security_level = encrypt")
        XCTAssertEqual(c.value("syslog_name"), "postfix/submission")
        XCTAssertEqual(c.value("smtpd_tls_security_level"), "encrypt")
        XCTAssertThrowsError(try c.override("no_equals_sign"))
    }

    func testTypedValues() throws {
        let c = try config("max_idle = 2m\nmaximal_queue_lifetime = 2\nsmtpd_recipient_limit = 50\nbiff = yes")
        XCTAssertEqual(c.seconds("max_idle"), 120)
        XCTAssertEqual(c.seconds("maximal_queue_lifetime"), 2 * 86400, "days are this parameter's unit")
        XCTAssertEqual(c.int("smtpd_recipient_limit"), 50)
        XCTAssertTrue(c.bool("biff"))
        XCTAssertEqual(c.int("default_process_limit"), 100)
        XCTAssertEqual(c.list("mydestination"), ["$myhostname", "localhost.$mydomain", "localhost"].map(c.expand))
    }

    func testDefaultsFromRegistry() {
        let c = MainConfig(directory: "/x")
        XCTAssertEqual(c.raw("smtpd_recipient_limit"), "1000")
        XCTAssertEqual(c.raw("mail_name"), "Postern")
        XCTAssertEqual(c.raw("config_directory"), "/x")
        XCTAssertEqual(c.value("smtpd_banner"), c.value("myhostname") + " ESMTP Postern")
        XCTAssertNil(c.raw("no_such_parameter"))
    }

    func testServiceSpecificParametersAreKnown() throws {
        let c = try config("policy_time_limit = 3600\nlocal_destination_concurrency_limit = 2\nfoo_time_limit = 1")
        c.serviceNames = ["policy", "local"]
        XCTAssertEqual(c.unusedParameters(), ["foo_time_limit=1"])
        XCTAssertEqual(c.seconds("policy_time_limit"), 3600)
    }

    func testReferencedUnknownParametersAreUsed() throws {
        let c = try config("my_networks_list = 10.0.0.0/8\nmynetworks = $my_networks_list\nstray_thing = 1")
        XCTAssertEqual(c.unusedParameters(), ["stray_thing=1"])
    }
}
