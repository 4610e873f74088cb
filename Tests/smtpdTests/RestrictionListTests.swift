// Restriction lists as main.cf writes them: words, `{ … }` groups, the restrictions
// that take the next word, bare `type:table` shorthand, restriction classes, and the
// start-up sanity check.
import XCTest

@testable import Shared
@testable import smtpd

final class RestrictionListTests: XCTestCase {
    func testWordsKeepBraceGroups() {
        XCTAssertEqual(RestrictionList.words("a, b\tc,\n  d"), ["a", "b", "c", "d"])
        XCTAssertEqual(RestrictionList.words("check_policy_service { inet:127.0.0.1:9998, timeout=10s }, permit"),
                       ["check_policy_service", "{ inet:127.0.0.1:9998, timeout=10s }", "permit"])
        XCTAssertEqual(RestrictionList.words("check_client_access inline:{ 1.2.3.4=REJECT, { 5.6.7.8 = 450 go } }"),
                       ["check_client_access", "inline:{ 1.2.3.4=REJECT, { 5.6.7.8 = 450 go } }"])
    }

    func testArgumentsAreTheNextWord() {
        let list = RestrictionList.parse(
            "Check_Client_Access cdb:/etc/postern/access, reject_rbl_client zen.example=127.0.0.[2..11], "
                + "check_policy_service { unix:private/policy, default_action=DUNNO }, reject_rhsbl_sender dbl.example, "
                + "check_sender_mx_access hash:/etc/mx, sleep 1, permit_mynetworks, hash:/etc/bare, reject_rbl_client")
        XCTAssertEqual(list.map(\.name), [
            "check_client_access", "reject_rbl_client", "check_policy_service", "reject_rhsbl_sender",
            "check_sender_mx_access", "sleep", "permit_mynetworks", "hash:/etc/bare", "reject_rbl_client",
        ])
        XCTAssertEqual(list.map(\.argument), [
            "cdb:/etc/postern/access", "zen.example=127.0.0.[2..11]", "{ unix:private/policy, default_action=DUNNO }",
            "dbl.example", "hash:/etc/mx", "1", nil, nil, nil,
        ])
        XCTAssertEqual(list[0].word, "Check_Client_Access")
        XCTAssertTrue(list[7].implicitTable)
        XCTAssertFalse(list[6].implicitTable)
    }

    func testEveryTakingRestrictionIsKnown() {
        for name in ["check_etrn_access", "check_reverse_client_ns_access", "check_recipient_a_access", "check_ccert_access",
                     "check_sasl_access", "permit_dnswl_client", "permit_rhswl_client", "reject_rhsbl_reverse_client",
                     "reject_rhsbl_helo", "reject_rhsbl_recipient", "reject_rhsbl_client", "reject_rbl"] {
            XCTAssertTrue(RestrictionList.takesArgument(name), name)
        }
        XCTAssertFalse(RestrictionList.takesArgument("reject_unknown_client_hostname"))
    }

    func testRequiredRestrictionThroughClassesAndNotAfterPermit() {
        let classes = ["relaycheck": RestrictionList.parse("permit_mynetworks, reject_unauth_destination")]
        XCTAssertTrue(RestrictionList.hasRequired(RestrictionList.parse("permit_sasl_authenticated, relaycheck"), classes: classes))
        XCTAssertFalse(RestrictionList.hasRequired(RestrictionList.parse("permit, reject_unauth_destination"), classes: classes))
        XCTAssertFalse(RestrictionList.hasRequired(RestrictionList.parse("warn_if_reject reject_unauth_destination"), classes: classes))
        XCTAssertTrue(RestrictionList.hasRequired(RestrictionList.parse("check_policy_service unix:private/p, defer_if_permit"), classes: [:]))
    }
}
