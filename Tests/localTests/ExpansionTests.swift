// Recipient expansion, step by step: users, unknown users, aliases (lists, self
// references, loops, owner- aliases, commands and files and who they run as),
// :include: files, .forward files, address extensions, Delivered-To: loops, and the
// temporary failures (alias table, passwd) that defer instead of bouncing.
import Foundation
import XCTest

@testable import Shared
@testable import local

final class ExpansionTests: XCTestCase {
    var scratch = ""
    var users: FakeUsers!

    override func setUp() {
        scratch = makeLocalScratch()
        users = FakeUsers(scratch: scratch, names: ["alice", "bob"])
    }

    override func tearDown() {
        removeLocalScratch(scratch)
    }

    var alice: LocalUser { users.users["alice"]! }
    var bob: LocalUser { users.users["bob"]! }

    func expand(
        _ address: String, aliases: String? = nil, _ overrides: [String: String] = [:], loops: Set<String> = []
    ) -> [DeliveryStep] {
        var settingsOverrides = overrides
        if let aliases { settingsOverrides["alias_maps"] = buildAliases(scratch, aliases, name: "aliases-\(UUID().uuidString)") }
        let settings = localTestSettings(scratch, settingsOverrides)
        let maps = try! AliasMaps(settings.aliasMaps)
        let expander = RecipientExpander(settings: settings, aliases: maps, users: users, loopAddresses: loops)
        return expander.expand(address, original: address, sender: "sender@example.org")
    }

    func step(_ recipient: String, _ action: DeliveryAction, delivered: String, sender: String = "sender@example.org") -> DeliveryStep {
        DeliveryStep(recipient: recipient, sender: sender, deliveredTo: delivered, action: action)
    }

    func maildir(_ user: LocalUser) -> DeliveryAction { .maildir(path: user.home + "/Maildir/", user: user) }

    /// Who commands and files from a table owned by the tests' user run as.
    func aliasOwner() -> LocalUser {
        getuid() == 0 ? unprivilegedTestUser() : (try! SystemUsers().user(uid: getuid()))!
    }

    /// Commands never run as root: a root user's ones run as default_privs.
    func commandUser(_ user: LocalUser) -> LocalUser {
        user.uid == 0 ? unprivilegedTestUser() : user
    }

    // MARK: users

    func testUserGetsTheirMaildir() {
        XCTAssertEqual(expand("Alice@Example.COM"), [step("Alice@Example.COM", maildir(alice), delivered: "Alice@Example.COM")])
    }

    func testUnknownUserBouncesAsPostfixDoes() {
        XCTAssertEqual(
            expand("nosuchuser42@example.com"),
            [step(
                "nosuchuser42@example.com", .bounce(dsn: "5.1.1", text: "unknown user: \"nosuchuser42\""),
                delivered: "nosuchuser42@example.com")])
    }

    func testPostmasterWithoutAliasIsDiscarded() {
        XCTAssertEqual(expand("postmaster@example.com").map(\.action), [.sent(dsn: "2.0.0", text: "discarded")])
    }

    func testMailSpoolAndHomeMailboxFiles() {
        XCTAssertEqual(
            expand("alice@example.com", ["home_mailbox": ""]).map(\.action),
            [.mailbox(path: scratch + "/spool/alice", user: alice, inSpool: true)])
        XCTAssertEqual(
            expand("alice@example.com", ["home_mailbox": "Mailbox"]).map(\.action),
            [.mailbox(path: alice.home + "/Mailbox", user: alice, inSpool: false)])
        XCTAssertEqual(
            expand("alice@example.com", ["home_mailbox": "", "mail_spool_directory": "/var/spool/maildirs/"]).map(\.action),
            [.maildir(path: "/var/spool/maildirs/alice/", user: alice)])
    }

    func testMailboxCommandIsExpandedAndRunAsTheUser() {
        let steps = expand(
            "alice+box@example.com", ["mailbox_command": "/usr/bin/procmail -a \"$extension\" $user", "recipient_delimiter": "+"])
        guard case .command(let command, let user, let environment)? = steps.first?.action else { return XCTFail("\(steps)") }
        XCTAssertEqual(command, "/usr/bin/procmail -a \"box\" alice")
        XCTAssertEqual(user, commandUser(alice))
        XCTAssertTrue(environment.contains("EXTENSION=box"))
        XCTAssertTrue(environment.contains("HOME=\(alice.home)"))
    }

    func testUserLookupFailureDefers() {
        users.failing = true
        XCTAssertEqual(expand("alice@example.com").map(\.action), [.deferral(dsn: "4.0.0", text: "user lookup error")])
    }

    // MARK: aliases

    func testAliasWithLocalAndRemoteTargets() {
        XCTAssertEqual(
            expand("team@example.com", aliases: "team: alice, carol@remote.example\n"),
            [step("alice@example.com", maildir(alice), delivered: "team@example.com"),
             step("carol@remote.example", .forward, delivered: "team@example.com")])
    }

    func testAliasNamingItselfMeansTheUser() {
        XCTAssertEqual(
            expand("alice@example.com", aliases: "alice: alice, bob\n").map(\.action), [maildir(alice), maildir(bob)])
    }

    func testTheSameMailboxIsWrittenOnce() {
        XCTAssertEqual(
            expand("team@example.com", aliases: "team: alice, root-alias, alice\nroot-alias: alice\n").map(\.action),
            [maildir(alice)])
    }

    func testAliasLoopBouncesAtTheNestingLimit() {
        let steps = expand("a@example.com", aliases: "a: b\nb: a\n")
        XCTAssertEqual(steps.count, 1)
        XCTAssertEqual(steps.first?.action, .bounce(dsn: "5.4.6", text: "recipient nesting limit exceeded"))
    }

    func testOwnerAliasForwardsLocalMembersWithANewSender() {
        XCTAssertEqual(
            expand("list@example.com", aliases: "list: alice, bob\nowner-list: alice\n"),
            [step("alice@example.com", .forward, delivered: "list@example.com", sender: "owner-list@example.com"),
             step("bob@example.com", .forward, delivered: "list@example.com", sender: "owner-list@example.com")])
    }

    func testCommandsAndFilesFromAliasesRunAsTheTableOwnerOrDefaultPrivs() {
        let steps = expand("pipe@example.com", aliases: "pipe: \"|/usr/bin/logger -t mail\", /var/archive/all, /var/maildirs/x/\n")
        let owner = aliasOwner()
        XCTAssertEqual(steps.count, 3)
        guard case .command(let command, let user, let environment)? = steps.first?.action else { return XCTFail("\(steps)") }
        XCTAssertEqual(command, "/usr/bin/logger -t mail")
        XCTAssertEqual(user, owner)
        for variable in ["USER=pipe", "LOGNAME=pipe", "LOCAL=pipe", "DOMAIN=example.com", "RECIPIENT=pipe@example.com",
                         "SENDER=sender@example.org", "ORIGINAL_RECIPIENT=pipe@example.com", "PATH=/usr/bin:/bin"] {
            XCTAssertTrue(environment.contains(variable), "\(variable) in \(environment)")
        }
        XCTAssertEqual(steps[1].action, .file(path: "/var/archive/all", user: owner))
        XCTAssertEqual(steps[2].action, .maildir(path: "/var/maildirs/x/", user: owner))
    }

    func testCommandsAndFilesCanBeRestricted() {
        let steps = expand(
            "pipe@example.com", aliases: "pipe: |/bin/cat, /tmp/file\n",
            ["allow_mail_to_commands": "forward", "allow_mail_to_files": "include"])
        XCTAssertEqual(steps.map(\.action), [
            .bounce(dsn: "5.7.1", text: "mail to command is restricted"), .bounce(dsn: "5.7.1", text: "mail to file is restricted"),
        ])
    }

    func testUnreadableAliasTableDefers() {
        XCTAssertEqual(
            expand("alice@example.com", ["alias_maps": "cdb:\(scratch)/missing/aliases"]).map(\.action),
            [.deferral(dsn: "4.3.0", text: "alias database unavailable")])
    }

    // MARK: :include:

    func testIncludeFileMembersAreForwardedAndMayNotRunCommands() {
        writeLocalFile(scratch + "/members", "# the team\nalice, bob@remote.example\n|/bin/cat\n")
        let steps = expand("team@example.com", aliases: "team: :include:\(scratch)/members\n")
        XCTAssertEqual(steps, [
            step("alice@example.com", .forward, delivered: "team@example.com"),
            step("bob@remote.example", .forward, delivered: "team@example.com"),
            step("team@example.com", .bounce(dsn: "5.7.1", text: "mail to command is restricted"), delivered: "team@example.com"),
        ])
    }

    func testBrokenIncludeFilesBounce() {
        writeLocalFile(scratch + "/open", "alice\n", mode: 0o666)
        for target in ["relative/path", scratch + "/absent", scratch, scratch + "/open"] {
            XCTAssertEqual(
                expand("team@example.com", aliases: "team: :include:\(target)\n").map(\.action),
                [.bounce(dsn: "5.3.5", text: "mail system configuration error")], target)
        }
    }

    // MARK: .forward

    func testDotForwardForwardsAndKeepsACopy() {
        writeLocalFile(alice.home + "/.forward", "bob@remote.example, \\alice\n", mode: 0o644)
        XCTAssertEqual(
            expand("alice@example.com"),
            [step("bob@remote.example", .forward, delivered: "alice@example.com"),
             step("alice@example.com", maildir(alice), delivered: "alice@example.com")])
    }

    func testDotForwardCommandsRunAsTheUser() {
        writeLocalFile(alice.home + "/.forward", "\"|/usr/bin/vacation alice\"\n")
        let steps = expand("alice@example.com")
        guard case .command(let command, let user, let environment)? = steps.first?.action, steps.count == 1 else {
            return XCTFail("\(steps)")
        }
        XCTAssertEqual(command, "/usr/bin/vacation alice")
        XCTAssertEqual(user, commandUser(alice))
        XCTAssertTrue(environment.contains("HOME=\(alice.home)"))
        XCTAssertTrue(environment.contains("SHELL=/bin/sh"))
    }

    func testDotForwardWithExtensionComesFirst() {
        writeLocalFile(alice.home + "/.forward", "bob@remote.example\n")
        writeLocalFile(alice.home + "/.forward+lists", "carol@remote.example\n")
        let settings = ["recipient_delimiter": "+"]
        XCTAssertEqual(expand("alice+lists@example.com", settings).map(\.recipient), ["carol@remote.example"])
        XCTAssertEqual(expand("alice+other@example.com", settings).map(\.recipient), ["bob@remote.example"])
    }

    func testUnsafeDotForwardIsIgnored() {
        writeLocalFile(alice.home + "/.forward", "bob@remote.example\n", mode: 0o666)
        XCTAssertEqual(expand("alice@example.com").map(\.action), [maildir(alice)])
        writeLocalFile(alice.home + "/.forward", "", mode: 0o644)
        XCTAssertEqual(expand("alice@example.com").map(\.action), [maildir(alice)])
    }

    // MARK: extensions and loops

    func testExtensionTriesTheFullAliasThenTheUser() {
        let aliases = "alice+work: bob\n"
        let settings = ["recipient_delimiter": "+"]
        XCTAssertEqual(expand("alice+work@example.com", aliases: aliases, settings).map(\.action), [maildir(bob)])
        XCTAssertEqual(expand("alice+play@example.com", aliases: aliases, settings).map(\.action), [maildir(alice)])
        XCTAssertEqual(
            expand("bob+x@example.com", aliases: "bob: alice\n", settings).map(\.action), [maildir(alice)])
    }

    func testDeliveredToHeaderMeansALoop() {
        XCTAssertEqual(
            expand("team@example.com", aliases: "team: alice\n", loops: ["alice@example.com"]),
            [step("alice@example.com", .bounce(dsn: "5.4.6", text: "mail forwarding loop for alice@example.com"),
                  delivered: "team@example.com")])
    }

    func testAttributeExpansionAsMacExpandDoes() {
        var attributes = RecipientAttributes(
            user: "alice", home: "/home/alice", shell: "/bin/sh", domain: "example.com", local: "alice+x",
            recipient: "alice+x@example.com", addressExtension: "x", delimiter: "+")
        let forwardFile = "$home/.forward${recipient_delimiter}${extension}"
        XCTAssertEqual(LocalExpansion.expand(forwardFile, attributes, filter: nil).text, "/home/alice/.forward+x")
        XCTAssertEqual(
            LocalExpansion.expand("${extension?+$extension}${extension:none} $$ $(user) $shell $domain", attributes, filter: nil).text,
            "+x $ alice /bin/sh example.com")
        let letters = Set("abcdefghijklmnopqrstuvwxyz.".utf8)
        XCTAssertEqual(LocalExpansion.expand("$recipient", attributes, filter: letters).text, "alice_x_example.com")
        attributes.addressExtension = nil
        attributes.delimiter = nil
        XCTAssertTrue(LocalExpansion.expand(forwardFile, attributes, filter: nil).undefined)
        XCTAssertEqual(LocalExpansion.expand("${extension:none}", attributes, filter: nil).text, "none")
        XCTAssertFalse(LocalExpansion.expand("${extension:none}", attributes, filter: nil).undefined)
        XCTAssertTrue(LocalExpansion.expand("$nosuchname", attributes, filter: nil).undefined)
    }

    func testLuserRelayTakesUnknownUsers() {
        XCTAssertEqual(
            expand("nobody-here@example.com", ["luser_relay": "catchall+$user@remote.example"]).map(\.recipient),
            ["catchall+nobody-here@remote.example"])
    }
}
