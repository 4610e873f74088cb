// postconf and `postern check`: output in Postfix's format (compared with Debian's own
// postconf where both know the parameters), in-place editing, and a fresh queue tree.
import Foundation
import XCTest

final class PostconfTests: XCTestCase {
    let realPostconf = "/usr/sbin/postconf"

    func makeInstance(_ main: String, master: String = "smtp inet n - n - - smtpd\n") throws -> TestInstance {
        let inst = try TestInstance(masterCF: master)
        try inst.writeFile("main.cf", main)
        return inst
    }

    func testNonDefaultListingIsSortedRawText() throws {
        let inst = try makeInstance("""
            # Comment
            myhostname = mx.example.com
            mydomain = $myhostname
            smtpd_banner = $myhostname ESMTP
              Why, hello there!
            biff = no

            """)
        let r = inst.run("postconf", ["-n"])
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stdout, """
            biff = no
            config_directory = \(inst.etc)
            mydomain = $myhostname
            myhostname = mx.example.com
            smtpd_banner = $myhostname ESMTP Why, hello there!

            """)
    }

    func testSameOutputAsPostfixForPostfixParameters() throws {
        guard FileManager.default.isExecutableFile(atPath: realPostconf) else { throw XCTSkip("Debian's postfix is not installed") }
        let main = """
            myhostname = mx.example.com
            mydomain = $myhostname
            myorigin = $mydomain
            mydestination = $mydomain, localhost
            mynetworks_style = host
            home_mailbox = Maildir/
            smtpd_recipient_restrictions = permit_mynetworks,
                reject_unauth_destination
            unknown_thing = 1

            """
        let master = """
            smtp      inet  n       -       y       -       -       smtpd
            submission inet n       -       n       -       -       smtpd
              -o syslog_name=postfix/submission
              -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }
            pickup    unix  n       -       y       60      1       pickup
            tlsmgr    unix  -       -       y       1000?   1       tlsmgr
            policy-spf unix -       n       n       -       0       spawn user=nobody argv=/usr/bin/policyd-spf

            """
        let inst = try makeInstance(main, master: master)
        for args in [["-n"], ["-M"], ["-h", "mydestination"], ["-x", "myorigin"], ["myhostname", "smtpd_recipient_restrictions"],
                     ["-d", "smtpd_recipient_limit", "message_size_limit", "smtpd_relay_restrictions"], ["-M", "smtp/inet"]] {
            let ours = inst.run("postconf", args)
            let theirs = runProgram(realPostconf, ["-c", inst.etc] + args)
            XCTAssertEqual(ours.stdout, theirs.stdout, "postconf \(args.joined(separator: " "))")
            XCTAssertEqual(ours.status, theirs.status)
        }
        let warning = inst.run("postconf", ["-n"]).stderr
        XCTAssertEqual(warning, "postconf: warning: \(inst.etc)/main.cf: unused parameter: unknown_thing=1\n")
    }

    func testDefaultsAndUnknownNames() throws {
        let inst = try makeInstance("myhostname = a.example\n")
        XCTAssertEqual(inst.run("postconf", ["-d", "smtpd_recipient_limit"]).stdout, "smtpd_recipient_limit = 1000\n")
        XCTAssertEqual(inst.run("postconf", ["-d", "mail_name"]).stdout, "mail_name = Postern\n")
        let r = inst.run("postconf", ["no_such_parameter"])
        XCTAssertEqual(r.stderr, "postconf: warning: no_such_parameter: unknown parameter\n")
        XCTAssertEqual(r.stdout, "")
        let all = inst.run("postconf", []).stdout.split(separator: "\n")
        XCTAssertGreaterThan(all.count, 1000)
        XCTAssertTrue(all.contains("myhostname = a.example"))
        XCTAssertEqual(all.map(String.init), all.map(String.init).sorted())
    }

    func testEditKeepsCommentsAndOrder() throws {
        let inst = try makeInstance("""
            # top comment
            myhostname = old.example
            mydestination = $myhostname,
                localhost
            # keep me
            biff = no

            """)
        XCTAssertEqual(inst.run("postconf", ["-e", "mydestination = $mydomain, localhost", "myhostname=new.example", "added_one = x y"]).status, 0)
        XCTAssertEqual(try String(contentsOfFile: inst.etc + "/main.cf", encoding: .utf8), """
            # top comment
            myhostname = new.example
            mydestination = $mydomain, localhost
            # keep me
            biff = no
            added_one = x y

            """)
        XCTAssertEqual(inst.run("postconf", ["-X", "biff"]).status, 0)
        XCTAssertFalse(try String(contentsOfFile: inst.etc + "/main.cf", encoding: .utf8).contains("biff"))
    }

    func testTableAndSaslTypes() throws {
        let inst = try makeInstance("")
        let types = inst.run("postconf", ["-m"]).stdout.split(separator: "\n")
        for t in ["cdb", "hash", "pcre", "regexp", "cidr", "texthash", "inline", "static", "unix", "proxy"] {
            XCTAssertTrue(types.contains(Substring(t)), t)
        }
        XCTAssertEqual(inst.run("postconf", ["-a"]).stdout, "cyrus\ndovecot\n")
    }

    func testCheckCreatesTheQueueTree() throws {
        let inst = try makeInstance("""
            queue_directory = QUEUE
            data_directory = DATA
            daemon_directory = \(buildProducts)
            mail_owner = postfix
            setgid_group = postdrop

            """.replacingOccurrences(of: "QUEUE", with: NSTemporaryDirectory() + "pc-\(getpid())/spool")
            .replacingOccurrences(of: "DATA", with: NSTemporaryDirectory() + "pc-\(getpid())/data"))
        let queue = NSTemporaryDirectory() + "pc-\(getpid())/spool"
        defer { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "pc-\(getpid())") }
        let r = inst.run("postern", ["check"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let expected: [(String, Int)] = [
            ("maildrop", 0o730), ("incoming", 0o700), ("active", 0o700), ("deferred", 0o700), ("hold", 0o700),
            ("corrupt", 0o700), ("defer", 0o700), ("bounce", 0o700), ("private", 0o700), ("public", 0o710), ("pid", 0o755),
        ]
        for (name, mode) in expected {
            let attributes = try FileManager.default.attributesOfItem(atPath: queue + "/" + name)
            XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, mode, name)
            if getuid() == 0 {
                let owner = attributes[.ownerAccountName] as? String
                XCTAssertEqual(owner, name == "pid" ? "root" : "postfix", name)
                if name == "maildrop" || name == "public" {
                    XCTAssertEqual(attributes[.groupOwnerAccountName] as? String, "postdrop", name)
                }
            }
        }
        // Running it again changes nothing and still succeeds.
        XCTAssertEqual(inst.run("postern", ["check"]).status, 0)
    }

    func testCheckReportsBadFiles() throws {
        let inst = try makeInstance("myhostname = ok\nsmtpd_timeout = forever\n")
        let r = inst.run("postern", ["check"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "postern: fatal: \(inst.etc)/main.cf, line 2: invalid time value or unit: smtpd_timeout = forever\n")
        try inst.writeFile("main.cf", "")
        try inst.writeFile("master.cf", "smtp inet n - n - - smtpd\nsmtp inet n maybe n - - smtpd\n")
        XCTAssertEqual(inst.run("postern", ["check"]).stderr,
                       "postern: fatal: \(inst.etc)/master.cf: line 2: field \"unpriv\": bad value: \"maybe\"\n")
    }
}
