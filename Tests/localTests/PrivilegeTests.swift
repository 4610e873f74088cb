// Deliveries as a real, unprivileged user (`postern-lt1`, created when missing): Maildir
// folders and files owned by the recipient, a maildir the recipient may not write
// refused, a spool mailbox created by root and handed to the recipient, a command
// running with the recipient's ids and groups, and the process back to root after
// each. Only as root; skipped otherwise.
import Foundation
import XCTest

@testable import Shared
@testable import local

final class PrivilegeTests: XCTestCase {
    static let userName = "postern-lt1"
    var scratch = ""
    var user: LocalUser!

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root") }
        if (try SystemUsers().user(named: PrivilegeTests.userName)) == nil {
            let add = Process()
            add.executableURL = URL(fileURLWithPath: "/usr/sbin/useradd")
            add.arguments = ["-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", PrivilegeTests.userName]
            try add.run()
            add.waitUntilExit()
        }
        let account = try XCTUnwrap(try SystemUsers().user(named: PrivilegeTests.userName))
        scratch = makeLocalScratch()
        let home = scratch + "/home"
        mkdir(home, 0o700)
        chown(home, account.uid, account.gid)
        user = LocalUser(name: account.name, uid: account.uid, gid: account.gid, home: home, shell: account.shell)
    }

    override func tearDown() {
        if !scratch.isEmpty { removeLocalScratch(scratch) }
    }

    func copy(options: CopyOptions = [.returnPath, .deliveredTo]) -> MessageCopy {
        MessageCopy(
            source: writeMessage(scratch, "Subject: x\n\nbody\n"), sender: "sender@example.org", originalRecipient: "",
            deliveredTo: "lt1@example.com", options: options)
    }

    func owner(_ path: String) -> (uid: uid_t, gid: gid_t, mode: mode_t) {
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0, path)
        return (st.st_uid, st.st_gid, st.st_mode & 0o7777)
    }

    func testMaildirBelongsToTheRecipient() {
        let maildir = user.home + "/Maildir/"
        XCTAssertEqual(MaildirDelivery.deliver(copy(), to: maildir, as: user, hostName: "vm"), .sent("delivered to maildir"))
        XCTAssertEqual(geteuid(), 0)
        XCTAssertEqual(getegid(), 0)
        for folder in ["", "tmp", "new", "cur"] {
            XCTAssertEqual(owner(maildir + folder).uid, user.uid, folder)
            XCTAssertEqual(owner(maildir + folder).gid, user.gid, folder)
        }
        let files = listDirectory(maildir + "new")
        XCTAssertEqual(files.count, 1)
        XCTAssertEqual(owner(maildir + "new/" + files[0]).uid, user.uid)
        XCTAssertEqual(owner(maildir + "new/" + files[0]).mode, 0o600)
    }

    func testMaildirTheRecipientMayNotWriteIsRefused() {
        let closed = scratch + "/closed"
        mkdir(closed, 0o755)
        let outcome = MaildirDelivery.deliver(copy(), to: closed + "/Maildir/", as: user, hostName: "vm")
        XCTAssertEqual(outcome.status, .bounced)
        XCTAssertTrue(outcome.text.hasSuffix(": Permission denied"), outcome.text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: closed + "/Maildir"))
        XCTAssertEqual(geteuid(), 0)
    }

    func testSpoolMailboxIsCreatedByRootForTheRecipient() {
        let spool = scratch + "/spool"
        mkdir(spool, 0o755)
        let settings = localTestSettings(scratch, ["mail_spool_directory": spool, "home_mailbox": ""])
        let path = spool + "/" + user.name
        let outcome = MailboxDelivery.deliverMailbox(copy(options: .mailbox), path: path, user: user, inSpool: true, settings: settings)
        XCTAssertEqual(outcome, .sent("delivered to mailbox"))
        XCTAssertEqual(owner(path).uid, user.uid)
        XCTAssertEqual(owner(path).mode, 0o600)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".lock"))
        XCTAssertTrue(readLocalFile(path).contains("\nDelivered-To: lt1@example.com\n"))
    }

    func testGroupWritableSpoolIsUsedWithItsGroup() {
        let spool = scratch + "/spool"
        mkdir(spool, 0o775)
        chmod(spool, 0o775)
        let mail = groupID("mail") ?? 8
        chown(spool, 0, mail)
        let settings = localTestSettings(scratch, ["mail_spool_directory": spool, "home_mailbox": ""])
        let path = spool + "/" + user.name
        XCTAssertEqual(
            MailboxDelivery.deliverMailbox(copy(options: .mailbox), path: path, user: user, inSpool: true, settings: settings),
            .sent("delivered to mailbox"))
        XCTAssertEqual(owner(path).uid, user.uid)
        XCTAssertEqual(owner(path).gid, mail)
    }

    func testCommandRunsWithTheRecipientsIdsAndGroups() {
        let out = scratch + "/out"
        mkdir(out, 0o777)
        chmod(out, 0o777)
        let command = "id -u > \(out)/uid; id -g > \(out)/gid; id -G > \(out)/groups; "
            + "cat /proc/self/status > \(out)/status; cat > \(out)/message"
        let outcome = CommandDelivery(timeLimit: 20, shell: "").deliver(
            copy(options: [.fromLine]), command: command, user: user, environment: ["PATH=/usr/bin:/bin"])
        XCTAssertEqual(outcome, .sent("delivered to command: \(command)"))
        XCTAssertEqual(readLocalFile(out + "/uid"), "\(user.uid)\n")
        XCTAssertEqual(readLocalFile(out + "/gid"), "\(user.gid)\n")
        XCTAssertEqual(readLocalFile(out + "/groups"), Identity(user).groups.map(String.init).joined(separator: " ") + "\n")
        XCTAssertEqual(owner(out + "/message").uid, user.uid)
        // Real, effective, saved and file-system ids all the user's, no capabilities left.
        let status = lines(readLocalFile(out + "/status"))
        XCTAssertTrue(status.contains("Uid:\t\(user.uid)\t\(user.uid)\t\(user.uid)\t\(user.uid)"), "\(status)")
        XCTAssertTrue(status.contains("Gid:\t\(user.gid)\t\(user.gid)\t\(user.gid)\t\(user.gid)"), "\(status)")
        XCTAssertTrue(status.contains("CapEff:\t0000000000000000"), "\(status)")
        XCTAssertEqual(geteuid(), 0)
    }

    func testDotForwardIsLookedAtWithTheUsersRights() {
        writeLocalFile(user.home + "/.forward", "someone@remote.example\n", mode: 0o600)
        chown(user.home + "/.forward", user.uid, user.gid)
        let users = FakeUsers(scratch: scratch, names: [])
        users.users[user.name] = user
        let expander = RecipientExpander(
            settings: localTestSettings(scratch), aliases: try! AliasMaps(""), users: users, loopAddresses: [])
        let address = "\(user.name)@example.com"
        XCTAssertEqual(expander.expand(address, original: "", sender: "s@example.org").map(\.recipient), ["someone@remote.example"])
        // Root could still read it; the user cannot once the home directory is closed to them.
        chown(user.home, 0, 0)
        XCTAssertEqual(
            expander.expand(address, original: "", sender: "s@example.org").map(\.action),
            [.maildir(path: user.home + "/Maildir/", user: user)])
        XCTAssertEqual(geteuid(), 0)
    }
}
