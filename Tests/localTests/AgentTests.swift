// The agent as qmgr sees it: delivery requests and replies over a socketpair, several
// on one connection, with the forwarded recipients in the reply, the log lines Postfix
// writes, loops found in Delivered-To: headers, unreadable messages and deferring
// commands.
import Foundation
import XCTest

@testable import Shared
@testable import local

final class AgentTests: XCTestCase {
    var scratch = ""
    var users: FakeUsers!

    override func setUp() {
        scratch = makeLocalScratch()
        users = FakeUsers(scratch: scratch, names: ["alice", "mailtest"])
    }

    override func tearDown() {
        removeLocalScratch(scratch)
    }

    func agent(aliases: String) -> LocalAgent {
        let settings = localTestSettings(scratch, ["alias_maps": buildAliases(scratch, aliases)])
        let directory = scratch
        return LocalAgent(
            settings: settings, aliases: try! AliasMaps(settings.aliasMaps), users: users,
            openMessage: { request in try MessageFile(path: directory + "/" + request.queueFile) })
    }

    func request(_ id: String, _ recipients: [String], file: String = "message", sender: String = "sender@example.org")
        -> DeliveryRequest
    {
        let now = LocalAgent.now()
        return DeliveryRequest(
            queueID: id, queueFile: file, sender: sender, nexthop: "example.com", arrivalTime: now - 2, activeTime: now - 1,
            recipients: recipients.enumerated().map { DeliveryRecipient(index: 10 + $0.offset, address: $0.element) })
    }

    /// Sends REQUESTS one after another on one connection; the replies.
    func exchange(_ agent: LocalAgent, _ requests: [DeliveryRequest]) throws -> [AttributeList] {
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        let served = expectation(description: "connection served")
        let server = fds[1]
        Thread.detachNewThread {
            DeliveryConnection.serve(server, agent: agent, timeoutMs: 20_000)
            close(server)
            served.fulfill()
        }
        let client = BufferedStream(descriptor: fds[0], timeoutMs: 20_000)
        var replies: [AttributeList] = []
        for request in requests {
            client.writeAttributes(request.attributes, xtext: true)
            try client.flush()
            replies.append(try XCTUnwrap(try client.readAttributes(xtext: true)))
        }
        close(fds[0])
        wait(for: [served], timeout: 20)
        return replies
    }

    func testRequestsAndRepliesOnOneConnection() throws {
        writeLocalFile(scratch + "/message", "Subject: Hello\n\nHow have you been?\n")
        let agent = agent(aliases: "team: mailtest, carol@remote.example\nbouncer: nosuchuser42\n")
        let (replies, log) = try capturingLocalLog {
            try exchange(agent, [
                request("A1B2C3", ["mailtest@example.com", "team@example.com"]), request("D4E5F6", ["bouncer@example.com"]),
            ])
        }
        XCTAssertEqual(replies.count, 2)
        XCTAssertEqual(DeliveryReply.results(replies[0]), [
            DeliveryResult(index: 10, status: .sent, dsn: "2.0.0", reason: "delivered to maildir"),
            DeliveryResult(index: 11, status: .sent, dsn: "2.0.0", reason: "delivered to maildir"),
        ])
        XCTAssertEqual(LocalReply.forwards(replies[0]), [
            ForwardedRecipient(index: 11, address: "carol@remote.example", sender: "sender@example.org", deliveredTo: "team@example.com")
        ])
        XCTAssertEqual(DeliveryReply.results(replies[1]), [
            DeliveryResult(index: 10, status: .bounced, dsn: "5.1.1", reason: "unknown user: \"nosuchuser42\"")
        ])
        XCTAssertEqual(LocalReply.forwards(replies[1]), [])

        let local = #"relay=local, delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/0/[0-9.]+"#
        let expected = [
            #"^A1B2C3: to=<mailtest@example\.com>, \#(local), dsn=2\.0\.0, status=sent \(delivered to maildir\)$"#,
            #"^A1B2C3: to=<mailtest@example\.com>, orig_to=<team@example\.com>, \#(local), dsn=2\.0\.0, "#
                + #"status=sent \(delivered to maildir\)$"#,
            #"^A1B2C3: to=<carol@remote\.example>, orig_to=<team@example\.com>, \#(local), dsn=2\.0\.0, "#
                + #"status=sent \(forwarded as new message\)$"#,
            #"^D4E5F6: to=<nosuchuser42@example\.com>, orig_to=<bouncer@example\.com>, \#(local), dsn=5\.1\.1, "#
                + #"status=bounced \(unknown user: "nosuchuser42"\)$"#,
        ]
        XCTAssertEqual(log.count, expected.count, "\(log)")
        for (line, pattern) in zip(log, expected) {
            XCTAssertNotNil(line.range(of: pattern, options: .regularExpression), line)
        }

        let maildir = users.users["mailtest"]!.home + "/Maildir/new/"
        let files = listDirectory(maildir)
        XCTAssertEqual(files.count, 2)
        let contents = files.map { lines(readLocalFile(maildir + $0)) }
        for address in ["mailtest@example.com", "team@example.com"] {
            let headers = ["Return-Path: <sender@example.org>", "X-Original-To: \(address)", "Delivered-To: \(address)"]
            XCTAssertTrue(contents.contains { $0.prefix(3) == headers[...] }, address)
        }
    }

    func testDeliveredToHeaderStopsAForwardingLoop() throws {
        writeLocalFile(scratch + "/message", "Received: from a\n\tby b\nDELIVERED-TO: Alice@Example.com\nSubject: loop\n\nbody\n")
        let agent = agent(aliases: "team: alice\n")
        let outcome = agent.deliver(request("L00P", ["alice@example.com", "team@example.com", "mailtest@example.com"]))
        XCTAssertEqual(outcome.results.map(\.status), [.bounced, .bounced, .sent])
        XCTAssertEqual(outcome.results[0].dsn, "5.4.6")
        XCTAssertEqual(outcome.results[0].reason, "mail forwarding loop for alice@example.com")
        XCTAssertEqual(listDirectory(users.users["alice"]!.home + "/Maildir/new"), [])
    }

    func testUnreadableMessageDefersEveryRecipient() {
        let outcome = agent(aliases: "").deliver(request("GONE", ["alice@example.com", "mailtest@example.com"], file: "absent"))
        XCTAssertEqual(outcome.results, [
            DeliveryResult(index: 10, status: .deferred, dsn: "4.3.0", reason: "error reading message"),
            DeliveryResult(index: 11, status: .deferred, dsn: "4.3.0", reason: "error reading message"),
        ])
    }

    func testADeferringCommandDefersItsRecipientAndDropsItsForwards() {
        writeLocalFile(scratch + "/message", "Subject: later\n\nlater\n")
        let agent = agent(aliases: "deferme: carol@remote.example, \"|exit 75\"\nlater: mailtest, \"|exit 75\"\n")
        let outcome = agent.deliver(request("DEF", ["deferme@example.com", "later@example.com"]))
        XCTAssertEqual(outcome.results, [
            DeliveryResult(index: 10, status: .deferred, dsn: "4.3.0", reason: "temporary failure"),
            DeliveryResult(index: 11, status: .deferred, dsn: "4.3.0", reason: "temporary failure"),
        ])
        XCTAssertEqual(outcome.forwards, [])
    }

    func testDeferralFoundWhileExpandingWritesNothing() {
        writeLocalFile(scratch + "/message", "Subject: x\n\nbody\n")
        let agent = agent(aliases: "team: alice, mailtest\n")
        users.failing = true
        let outcome = agent.deliver(request("TMP", ["team@example.com"]))
        XCTAssertEqual(outcome.results, [DeliveryResult(index: 10, status: .deferred, dsn: "4.0.0", reason: "user lookup error")])
        XCTAssertEqual(listDirectory(users.users["alice"]!.home + "/Maildir/new"), [])
    }

    func testMalformedRequestEndsTheConnection() throws {
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        defer { close(fds[0]) }
        let client = BufferedStream(descriptor: fds[0], timeoutMs: 5000)
        client.write("request=deliver\nqueue_id=X\n\n")
        try client.flush()
        DeliveryConnection.serve(fds[1], agent: agent(aliases: ""), timeoutMs: 5000)
        close(fds[1])
        XCTAssertNil(try client.readAttributes(xtext: true))
    }
}
