// Delivery to commands: the message on standard input with its prepended lines, the
// exit status mapped as Postfix maps it (0 sent, 75 deferred, others bounced, a
// "D.S.N text" line, signals, the time limit), the captured output, and the
// environment and rights the command gets (default_privs when the tests run as root).
import Foundation
import XCTest

@testable import Shared
@testable import local

final class CommandDeliveryTests: XCTestCase {
    var scratch = ""
    var out = ""

    override func setUp() {
        scratch = makeLocalScratch()
        out = scratch + "/out"
        mkdir(out, 0o777)
        chmod(out, 0o777)
    }

    override func tearDown() {
        removeLocalScratch(scratch)
    }

    func run(
        _ command: String, message: String = "Subject: hi\n\nFrom here\n", timeLimit: Int = 20,
        environment: [String] = ["PATH=/usr/bin:/bin", "RECIPIENT=pipe@example.com"]
    ) -> StepOutcome {
        let copy = MessageCopy(
            source: writeMessage(scratch, message), sender: "sender@example.org", originalRecipient: "pipe@example.com",
            deliveredTo: "pipe@example.com", options: [.fromLine, .returnPath, .originalRecipient, .deliveredTo])
        return CommandDelivery(timeLimit: timeLimit, shell: "").deliver(
            copy, command: command, user: unprivilegedTestUser(), environment: environment)
    }

    func testCommandReadsTheMessageWithAFromLine() {
        let command = "cat > \(out)/got"
        XCTAssertEqual(run(command), .sent("delivered to command: \(command)"))
        let got = lines(readLocalFile(out + "/got"))
        XCTAssertTrue(got[0].hasPrefix("From sender@example.org  "), got[0])
        XCTAssertEqual(Array(got[1...]), [
            "Return-Path: <sender@example.org>", "X-Original-To: pipe@example.com", "Delivered-To: pipe@example.com",
            "Subject: hi", "", "From here", "",
        ])
    }

    func testExitStatusesAreMappedAsSysexits() {
        XCTAssertEqual(run("exit 75"), .failed("4.3.0", "temporary failure"))
        XCTAssertEqual(run("exit 1"), .failed("5.3.0", "Command died with status 1: \"exit 1\""))
        XCTAssertEqual(run("echo no such user; exit 67"), .failed("5.1.1", "user unknown. Command output: no such user"))
        XCTAssertEqual(run("printf '4.2.2 mailbox\\tfull\\n'; exit 1"), .failed("4.2.2", "mailbox full"))
        XCTAssertEqual(run("echo oops >&2; exit 75").status, .deferred)
        XCTAssertEqual(run("echo oops >&2; exit 75").text, "temporary failure. Command output: oops")
    }

    func testSignalDefersAndTheTimeLimitBounces() {
        XCTAssertEqual(run("kill -9 $$"), .failed("4.3.0", "Command died with signal 9: \"kill -9 $$\""))
        let started = Date()
        XCTAssertEqual(run("sleep 30", timeLimit: 1), .failed("5.3.0", "Command time limit exceeded: \"sleep 30\""))
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    func testBigMessageToACommandThatDoesNotReadIt() {
        let body = String(repeating: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", count: 40000)
        XCTAssertEqual(run("exit 0", message: "Subject: big\n\n" + body), .sent("delivered to command: exit 0"))
        XCTAssertEqual(run("wc -c > \(out)/size", message: "Subject: big\n\n" + body).status, .sent)
        XCTAssertGreaterThan(Int(readLocalFile(out + "/size").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, body.utf8.count)
    }

    func testCommandRunsUnprivilegedWithOnlyTheEnvironmentGiven() {
        XCTAssertEqual(run("id -u > \(out)/uid; env > \(out)/env").status, .sent)
        XCTAssertEqual(readLocalFile(out + "/uid"), "\(unprivilegedTestUser().uid)\n")
        let shellOwn = ["PWD=", "SHLVL=", "_="]
        let environment = Set(lines(readLocalFile(out + "/env")).filter { line in !line.isEmpty && !shellOwn.contains { line.hasPrefix($0) } })
        XCTAssertEqual(environment, ["PATH=/usr/bin:/bin", "RECIPIENT=pipe@example.com"])
    }

    func testExitCodeTableAndOutputCleaning() {
        XCTAssertEqual(CommandDelivery.exitCodes[75]?.dsn, "4.3.0")
        XCTAssertEqual(CommandDelivery.exitCodes[77]?.text, "permission denied")
        XCTAssertEqual(CommandDelivery.printable(Array("a\tb\nc\u{1}d\n".utf8)), "a b c_d")
        XCTAssertNil(CommandDelivery.dsnPrefix("4.2 short"))
        XCTAssertNil(CommandDelivery.dsnPrefix("2.0.0 fine"))
        XCTAssertEqual(CommandDelivery.dsnPrefix("5.7.1 go away")?.dsn, "5.7.1")
    }
}
