// Writing a message: the prepended lines and quoting of mail_copy, Maildir delivery
// (folders created, the unique name, durable link into new/), mbox delivery (From_
// lines, >From quoting, locks, ownership checks) and /file/name delivery, all with
// the tests' own uid into a scratch directory.
import Foundation
import XCTest

@testable import Shared
@testable import local

final class MailboxWritingTests: XCTestCase {
    var scratch = ""

    override func setUp() {
        scratch = makeLocalScratch()
    }

    override func tearDown() {
        removeLocalScratch(scratch)
    }

    var me: LocalUser {
        LocalUser(name: "me", uid: getuid(), gid: getgid(), home: scratch, shell: "/bin/sh")
    }

    func copy(_ message: MessageFile, sender: String = "sender@example.org", options: CopyOptions) -> MessageCopy {
        MessageCopy(
            source: message, sender: sender, originalRecipient: "Alice@example.com", deliveredTo: "alice@example.com",
            options: options)
    }

    func collected(_ copy: MessageCopy) throws -> String {
        var bytes: [UInt8] = []
        try copy.write { bytes += $0 }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: mail_copy

    func testPrependedLinesAndFromQuoting() throws {
        let message = writeMessage(scratch, "Subject: hi\r\n\r\nFrom me\nFromage\n>From x\n From y\nlast line without LF")
        let text = try collected(copy(message, options: .mailbox))
        let got = lines(text)
        XCTAssertTrue(got[0].hasPrefix("From sender@example.org  "), got[0])
        XCTAssertNotNil(got[0].range(of: #"^From sender@example\.org  [A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3][0-9] \d\d:\d\d:\d\d \d{4}$"#,
                                     options: .regularExpression), got[0])
        XCTAssertEqual(Array(got[1...]), [
            "Return-Path: <sender@example.org>", "X-Original-To: Alice@example.com", "Delivered-To: alice@example.com",
            "Subject: hi", "", ">From me", "Fromage", ">From x", " From y", "last line without LF", "", "",
        ])
    }

    func testNullSenderAndQuotedLocalParts() throws {
        let message = writeMessage(scratch, "Subject: x\n\nbody\n")
        var nullCopy = copy(message, sender: "", options: [.fromLine, .returnPath])
        XCTAssertTrue(try collected(nullCopy).hasPrefix("From MAILER-DAEMON  "))
        XCTAssertTrue(try collected(nullCopy).contains("\nReturn-Path: <>\n"))
        nullCopy.options = [.returnPath, .deliveredTo]
        nullCopy.sender = "john doe@example.org"
        nullCopy.deliveredTo = "a.b.@example.com"
        XCTAssertEqual(
            lines(try collected(nullCopy)).prefix(2),
            [#"Return-Path: <"john doe"@example.org>"#, #"Delivered-To: "a.b."@example.com"#])
    }

    // MARK: Maildir

    func testMaildirCreatesFoldersAndANewFileNamedAsPostfixDoes() throws {
        let message = writeMessage(scratch, "Subject: hello\n\nHow have you been?\n")
        let maildir = scratch + "/home/Maildir/"
        let outcome = MaildirDelivery.deliver(
            copy(message, options: [.returnPath, .originalRecipient, .deliveredTo]), to: maildir, as: me, hostName: "vm")
        XCTAssertEqual(outcome, .sent("delivered to maildir"))
        for folder in ["tmp", "new", "cur"] {
            var st = stat()
            XCTAssertEqual(stat(maildir + folder, &st), 0, folder)
            XCTAssertEqual(st.st_mode & 0o777, 0o700, folder)
        }
        XCTAssertEqual(listDirectory(maildir + "tmp"), [])
        let names = listDirectory(maildir + "new")
        XCTAssertEqual(names.count, 1)
        let name = try XCTUnwrap(names.first)
        var st = stat()
        XCTAssertEqual(stat(maildir + "new/" + name, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        let pattern = #"^[0-9]+\.V\#(String(UInt64(st.st_dev), radix: 16))I\#(String(UInt64(st.st_ino), radix: 16))M[0-9]{1,6}\.vm$"#
        XCTAssertNotNil(name.range(of: pattern, options: .regularExpression), name)
        XCTAssertEqual(
            lines(readLocalFile(maildir + "new/" + name)),
            ["Return-Path: <sender@example.org>", "X-Original-To: Alice@example.com", "Delivered-To: alice@example.com",
             "Subject: hello", "", "How have you been?", ""])
    }

    func testSecondMaildirDeliveryGetsItsOwnFile() {
        let message = writeMessage(scratch, "Subject: x\n\nbody\n")
        for _ in 0..<3 {
            let outcome = MaildirDelivery.deliver(copy(message, options: []), to: scratch + "/Maildir", as: me, hostName: "vm")
            XCTAssertEqual(outcome.status, .sent)
        }
        XCTAssertEqual(listDirectory(scratch + "/Maildir/new").count, 3)
    }

    func testMaildirThatCannotBeCreatedFails() {
        writeLocalFile(scratch + "/Maildir", "not a directory")
        let message = writeMessage(scratch, "Subject: x\n\nbody\n")
        let outcome = MaildirDelivery.deliver(copy(message, options: []), to: scratch + "/Maildir/", as: me, hostName: "vm")
        XCTAssertEqual(outcome.status, .bounced)
        XCTAssertEqual(outcome.dsn, "5.2.0")
        XCTAssertTrue(outcome.text.hasPrefix("maildir delivery failed: create maildir file \(scratch)/Maildir/tmp/"), outcome.text)
        XCTAssertTrue(outcome.text.hasSuffix(": Not a directory"), outcome.text)
    }

    func testMaildirReadErrorDefersAndLeavesNothingBehind() throws {
        let message = writeMessage(scratch, "Subject: x\n\nbody\n")
        try FileManager.default.removeItem(atPath: message.path)
        let outcome = MaildirDelivery.deliver(copy(message, options: []), to: scratch + "/Maildir/", as: me, hostName: "vm")
        XCTAssertEqual(outcome.status, .deferred)
        XCTAssertEqual(outcome.dsn, "4.3.0")
        XCTAssertEqual(listDirectory(scratch + "/Maildir/tmp"), [])
        XCTAssertEqual(listDirectory(scratch + "/Maildir/new"), [])
    }

    // MARK: mbox

    func testMailboxAppendsWithFromLinesAndBlankLines() {
        let settings = localTestSettings(scratch, ["home_mailbox": "Mailbox"])
        let first = writeMessage(scratch, "Subject: one\n\nFrom the start\n", name: "m1")
        let second = writeMessage(scratch, "Subject: two\n\nsecond\n", name: "m2")
        let path = scratch + "/Mailbox"
        for message in [first, second] {
            let outcome = MailboxDelivery.deliverMailbox(
                copy(message, options: .mailbox), path: path, user: me, inSpool: false, settings: settings)
            XCTAssertEqual(outcome, .sent("delivered to mailbox"))
        }
        let got = lines(readLocalFile(path))
        XCTAssertEqual(got.filter { $0.hasPrefix("From ") }.count, 2)
        XCTAssertTrue(got.contains(">From the start"))
        XCTAssertEqual(Array(got[1...7]), [
            "Return-Path: <sender@example.org>", "X-Original-To: Alice@example.com", "Delivered-To: alice@example.com",
            "Subject: one", "", ">From the start", "",
        ])
        XCTAssertTrue(got[8].hasPrefix("From sender@example.org  "))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".lock"))
        var st = stat()
        stat(path, &st)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
    }

    func testMailboxHeldByADotLockDefers() {
        let settings = localTestSettings(scratch)
        let path = scratch + "/Mailbox"
        writeLocalFile(path + ".lock", "", mode: 0)
        let outcome = MailboxDelivery.deliverMailbox(
            copy(writeMessage(scratch, "Subject: x\n\nbody\n"), options: .mailbox), path: path, user: me, inSpool: false,
            settings: settings)
        XCTAssertEqual(outcome.status, .deferred)
        XCTAssertEqual(outcome.dsn, "4.2.0")
        XCTAssertEqual(
            outcome.text, "cannot update mailbox \(path) for user me. unable to create lock file \(path).lock: File exists")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testStaleDotLockIsRemoved() {
        let settings = localTestSettings(scratch, ["stale_lock_time": "0s"])
        let path = scratch + "/Mailbox"
        writeLocalFile(path + ".lock", "", mode: 0)
        usleep(1_100_000)
        let outcome = MailboxDelivery.deliverMailbox(
            copy(writeMessage(scratch, "Subject: x\n\nbody\n"), options: .mailbox), path: path, user: me, inSpool: false,
            settings: settings)
        XCTAssertEqual(outcome, .sent("delivered to mailbox"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".lock"))
    }

    func testMailboxHeldByAnFcntlLockDefers() throws {
        let settings = localTestSettings(scratch, ["mailbox_delivery_lock": "fcntl"])
        let path = scratch + "/Mailbox"
        writeLocalFile(path, "", mode: 0o600)
        // Another process holds the lock: our own fcntl locks never conflict with us.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { throw XCTSkip("no python3") }
        let holder = Process()
        let ready = Pipe()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let script = "import fcntl,sys,time; f=open(sys.argv[1],'a'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(10)"
        holder.arguments = ["-c", script, path]
        holder.standardOutput = ready
        try holder.run()
        defer { holder.terminate() }
        _ = ready.fileHandleForReading.availableData
        let outcome = MailboxDelivery.deliverMailbox(
            copy(writeMessage(scratch, "Subject: x\n\nbody\n"), options: .mailbox), path: path, user: me, inSpool: false,
            settings: settings)
        XCTAssertEqual(
            outcome,
            .failed(
                "4.2.0", "cannot update mailbox \(path) for user me. unable to lock for exclusive access: Resource temporarily unavailable"))
        XCTAssertEqual(readLocalFile(path), "")
    }

    func testMailboxThatIsNotAFileBounces() {
        let settings = localTestSettings(scratch)
        let path = scratch + "/Mailbox"
        mkdir(path, 0o700)
        let outcome = MailboxDelivery.deliverMailbox(
            copy(writeMessage(scratch, "Subject: x\n\nbody\n"), options: .mailbox), path: path, user: me, inSpool: false,
            settings: settings)
        XCTAssertEqual(outcome.status, .bounced)
        XCTAssertEqual(outcome.dsn, "5.2.0")
        XCTAssertTrue(outcome.text.hasPrefix("cannot update mailbox \(path) for user me. cannot open file: "), outcome.text)
    }

    func testMailboxOwnedBySomeoneElseDefers() {
        let settings = localTestSettings(scratch)
        let path = scratch + "/Mailbox"
        writeLocalFile(path, "", mode: 0o600)
        var recipient = me
        if getuid() == 0 {
            chown(path, 65534, 65534)
        } else {
            recipient.uid += 1
            recipient.name = "stranger"
        }
        let outcome = MailboxDelivery.deliverMailbox(
            copy(writeMessage(scratch, "Subject: x\n\nbody\n"), options: .mailbox), path: path, user: recipient, inSpool: false,
            settings: settings)
        XCTAssertEqual(
            outcome,
            .failed("4.2.0", "cannot update mailbox \(path) for user \(recipient.name). destination \(path) is not owned by recipient"))
        XCTAssertEqual(readLocalFile(path), "")
    }

    // MARK: /file/name

    func testFileDeliveryAppendsLikeAMailbox() {
        let settings = localTestSettings(scratch)
        let path = scratch + "/archive"
        let outcome = MailboxDelivery.deliverFile(
            copy(writeMessage(scratch, "Subject: x\n\nbody\n"), options: .mailbox), path: path, user: me, settings: settings)
        XCTAssertEqual(outcome, .sent("delivered to file: \(path)"))
        XCTAssertTrue(readLocalFile(path).hasPrefix("From sender@example.org  "))
        XCTAssertTrue(readLocalFile(path).hasSuffix("\nbody\n\n"))
    }

    func testExecutableFileIsRefused() {
        let settings = localTestSettings(scratch)
        let path = scratch + "/script"
        writeLocalFile(path, "#!/bin/sh\n", mode: 0o755)
        let outcome = MailboxDelivery.deliverFile(
            copy(writeMessage(scratch, "Subject: x\n\nbody\n"), options: .mailbox), path: path, user: me, settings: settings)
        XCTAssertEqual(outcome, .failed("5.2.0", "cannot append message to destination file \(path): destination file is executable"))
        XCTAssertEqual(readLocalFile(path), "#!/bin/sh\n")
    }

    func testDeliveryToDevNullNeedsNoLock() {
        let settings = localTestSettings(scratch)
        let outcome = MailboxDelivery.deliverFile(
            copy(writeMessage(scratch, "Subject: x\n\nbody\n"), options: .mailbox), path: "/dev/null", user: me, settings: settings)
        XCTAssertEqual(outcome, .sent("delivered to file: /dev/null"))
    }
}
