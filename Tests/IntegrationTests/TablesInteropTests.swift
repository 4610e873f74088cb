// Lookup tables against the real thing: Postern's postmap/postalias side by side with
// Debian's Postfix 3.7 (postfix, postfix-cdb, postfix-pcre) and tinycdb's `cdb` tool.
// The cdb files must be byte-identical, and queries must give the same output, warnings
// and exit status.
import Foundation
import XCTest

final class TablesInteropTests: XCTestCase {
    var dir = ""

    override func setUp() { dir = TablesInterop.makeConfig() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    let accessSource = """
        User@Example.COM OK
        example.net REJECT go away
        "with space" quoted
        10.1.2.3 DUNNO
        alice@example.com\talice
        bad
        foo: bar
        example.net dup
          continued line
        # comment

        k v
        K second
          # indented comment
        q\\ x y

        """

    /// Runs Debian's and Postern's PROGRAM with ARGUMENTS (`-c DIR` added) and returns
    /// both results.
    func both(_ program: String, _ arguments: [String], input: String? = nil) throws
        -> (postfix: (status: Int32, stdout: String, stderr: String), postern: (status: Int32, stdout: String, stderr: String))
    {
        let debian = try TablesInterop.debian("/usr/sbin/" + program)
        let ours = try TablesInterop.ours(program)
        return (runProgram(debian, ["-c", dir] + arguments, input: input), runProgram(ours, ["-c", dir] + arguments, input: input))
    }

    func assertSame(_ program: String, _ arguments: [String], input: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let (postfix, postern) = try both(program, arguments, input: input)
        let what = "\(program) \(arguments.joined(separator: " "))"
        XCTAssertEqual(postern.status, postfix.status, "exit status of " + what, file: file, line: line)
        XCTAssertEqual(postern.stdout, postfix.stdout, "output of " + what, file: file, line: line)
        XCTAssertEqual(TablesInterop.warnings(postern.stderr, dir: dir), TablesInterop.warnings(postfix.stderr, dir: dir),
                       "messages of " + what, file: file, line: line)
    }

    func testCDBFilesAreByteIdenticalToPostfix() throws {
        let debian = try TablesInterop.debian("/usr/sbin/postmap")
        let ours = try TablesInterop.ours("postmap")
        for options in [[], ["-N"], ["-n"], ["-f"], ["-r"], ["-w"], ["-N", "-r", "-f"]] {
            TablesInterop.write(dir + "/pf", accessSource)
            TablesInterop.write(dir + "/pt", accessSource)
            let postfix = runProgram(debian, ["-c", dir] + options + ["cdb:" + dir + "/pf"])
            let postern = runProgram(ours, ["-c", dir] + options + ["cdb:" + dir + "/pt"])
            XCTAssertEqual(postern.status, 0, postern.stderr)
            XCTAssertEqual(postfix.status, 0, postfix.stderr)
            let expected = try XCTUnwrap(TablesInterop.bytes(dir + "/pf.cdb"))
            XCTAssertEqual(TablesInterop.bytes(dir + "/pt.cdb"), expected, "options \(options)")
            XCTAssertEqual(postern.stderr.replacingOccurrences(of: dir + "/pt", with: "SRC"),
                           postfix.stderr.replacingOccurrences(of: dir + "/pf", with: "SRC"), "options \(options)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/pt.cdb.tmp"))
        }
    }

    func testTinyCDBAndPostmapReadEachOthersFiles() throws {
        let cdb = try TablesInterop.debian("/usr/bin/cdb")
        let ours = try TablesInterop.ours("postmap")
        TablesInterop.write(dir + "/access", accessSource)
        XCTAssertEqual(runProgram(ours, ["-c", dir, "cdb:" + dir + "/access"]).status, 0)
        XCTAssertEqual(runProgram(cdb, ["-q", dir + "/access.cdb", "user@example.com"]).stdout, "OK")
        XCTAssertEqual(runProgram(cdb, ["-q", dir + "/access.cdb", "\"with space\""]).stdout, "quoted")
        XCTAssertEqual(runProgram(cdb, ["-c", dir + "/raw.cdb"], input: "+3,3:abc->xyz\n+4,4:nul\0->val\0\n\n").status, 0)
        XCTAssertEqual(runProgram(ours, ["-c", dir, "-q", "ABC", "cdb:" + dir + "/raw"]).stdout, "xyz\n")
        XCTAssertEqual(runProgram(ours, ["-c", dir, "-q", "nul", "cdb:" + dir + "/raw"]).stdout, "val\n")
    }

    func testQueriesMatchPostfix() throws {
        TablesInterop.write(dir + "/access", accessSource)
        TablesInterop.write(dir + "/login.pcre", "/^(.*)@example\\.com$/ ${1}\n/^x(\\w+)/i got $1 end\n!/foo/ notfoo\nif /^if/\n/^if(.*)/ in-if $1\nendif\n/(/ bad\n/a/q res\n/c\n/d/ $2\nendif\n")
        TablesInterop.write(dir + "/login.regexp", "/^(.*)@example\\.com$/ ${1}\n/^a/!/b$/ a-not-b\n/(/ bad\nif /e/\n/e/ E\n")
        TablesInterop.write(dir + "/nets.cidr", "192.168.0.0/16 REJECT\n!10.0.0.0/8 NOTTEN\n2001:db8::/32 V6\n10.1.2.3/8 x\n1.2.3.4/33 x\nfoo x\nif 172.16.0.0/12\n172.16.5.0/24 IN\nendif\n")
        _ = runProgram(try TablesInterop.debian("/usr/sbin/postmap"), ["-c", dir, "cdb:" + dir + "/access"])
        let cases: [(String, [String])] = [
            ("USER@example.com", ["cdb:" + dir + "/access"]), ("example.net", ["cdb:" + dir + "/access"]),
            ("nobody@nowhere", ["cdb:" + dir + "/access"]),
            ("x", ["cdb:" + dir + "/missing"]),
            ("me@example.com", ["pcre:" + dir + "/login.pcre"]), ("XAB", ["pcre:" + dir + "/login.pcre"]),
            ("if_zz", ["pcre:" + dir + "/login.pcre"]), ("foo", ["pcre:" + dir + "/login.pcre"]),
            ("me@example.com", ["regexp:" + dir + "/login.regexp"]), ("ax", ["regexp:" + dir + "/login.regexp"]),
            ("ab", ["regexp:" + dir + "/login.regexp"]), ("e", ["regexp:" + dir + "/login.regexp"]),
            ("192.168.4.5", ["cidr:" + dir + "/nets.cidr"]), ("11.1.1.1", ["cidr:" + dir + "/nets.cidr"]),
            ("10.2.2.2", ["cidr:" + dir + "/nets.cidr"]), ("2001:db8::5", ["cidr:" + dir + "/nets.cidr"]),
            ("172.16.5.1", ["cidr:" + dir + "/nets.cidr"]), ("notanip", ["cidr:" + dir + "/nets.cidr"]),
            ("Baz", ["inline:{ foo=bar, {baz = x y} }"]), ("k", ["inline:{ }"]), ("k", ["inline:{ k = }"]),
            ("anything", ["static:fixed"]), ("x", ["static:{ a b }"]), ("x", ["static:"]),
            ("alice@example.com", ["texthash:" + dir + "/access"]), ("K", ["texthash:" + dir + "/access"]),
            ("root", ["unix:passwd.byname"]), ("root", ["unix:group.byname"]), ("x", ["unix:foo"]),
            ("abc", ["regexp:{ {/b/ B}, {/c/ C} }"]),
            ("k", ["inline:{a=1}", "static:second"]), ("q\\ x", ["texthash:" + dir + "/access"]),
        ]
        for (key, tables) in cases { try assertSame("postmap", ["-q", key] + tables) }
    }

    func testStandardInputQueriesMatchPostfix() throws {
        TablesInterop.write(dir + "/access", accessSource)
        _ = runProgram(try TablesInterop.debian("/usr/sbin/postmap"), ["-c", dir, "cdb:" + dir + "/access"])
        let keys = "User@Example.com\nnone\nexample.net\nK\nlast-without-newline"
        try assertSame("postmap", ["-q", "-", "cdb:" + dir + "/access", "inline:{last-without-newline=1}"], input: keys)
        try assertSame("postmap", ["-q", "-", "static:x"], input: "")
        try assertSame("postalias", ["-q", "-", "inline:{a=1}"], input: "a\nb\n")
    }

    func testListingMatchesPostfix() throws {
        TablesInterop.write(dir + "/access", accessSource)
        _ = runProgram(try TablesInterop.debian("/usr/sbin/postmap"), ["-c", dir, "cdb:" + dir + "/access"])
        for spec in ["texthash:" + dir + "/access", "inline:{ a=1, B=2 }"] {
            let (postfix, postern) = try both("postmap", ["-s", spec])
            XCTAssertEqual(postern.status, postfix.status)
            XCTAssertEqual(Set(postern.stdout.split(separator: "\n")), Set(postfix.stdout.split(separator: "\n")), spec)
        }
        for spec in ["cdb:" + dir + "/access", "pcre:" + dir + "/access", "static:x", "unix:passwd.byname"] {
            try assertSame("postmap", ["-s", spec])
        }
    }

    func testUsageAndOptionErrorsMatchPostfix() throws {
        try assertSame("postmap", [])
        try assertSame("postmap", ["-q", "x"])
        try assertSame("postmap", ["-s", "-q", "x", "static:x"])
        try assertSame("postmap", ["-q", "x", "-s", "static:x"])
        try assertSame("postmap", ["-z", "static:x"])
        try assertSame("postmap", ["texthash:" + dir + "/main.cf"])
        try assertSame("postmap", ["proxy:cdb:" + dir + "/main.cf"])
        try assertSame("postmap", ["cdb:" + dir + "/no/such/file"])
        try assertSame("postalias", [])
    }

    func testPostaliasMatchesPostfix() throws {
        let aliases = """
            postmaster: root
            Root: user1,
              user2
            "quoted name": x
            |cmd: bad
            inc: :include:/etc/list
            pipe: "|/usr/bin/cmd arg"
            j: k (comment) , l<m@n>, "q r"@s
            nocolon value
            f@dom: g
            dup: a
            dup: b

            """
        TablesInterop.write(dir + "/pf", aliases)
        TablesInterop.write(dir + "/pt", aliases)
        let postfix = runProgram(try TablesInterop.debian("/usr/sbin/postalias"), ["-c", dir, "cdb:" + dir + "/pf"])
        let postern = runProgram(try TablesInterop.ours("postalias"), ["-c", dir, "cdb:" + dir + "/pt"])
        XCTAssertEqual(postern.status, postfix.status)
        XCTAssertEqual(postern.stderr.replacingOccurrences(of: dir + "/pt", with: "SRC"),
                       postfix.stderr.replacingOccurrences(of: dir + "/pf", with: "SRC"))
        let cdb = try TablesInterop.debian("/usr/bin/cdb")
        let postfixRecords = runProgram(cdb, ["-d", dir + "/pf.cdb"]).stdout.split(separator: "\n").filter { !$0.contains("YP_") }
        XCTAssertEqual(runProgram(cdb, ["-d", dir + "/pt.cdb"]).stdout.split(separator: "\n"), postfixRecords)
        for key in ["root", "ROOT", "quoted name", "\"quoted name\"", "@", "dup", "|cmd"] {
            try assertSame("postalias", ["-q", key, "cdb:" + dir + "/pt"])
        }
    }

    func testNewaliasesRebuildsTheAliasDatabase() throws {
        let postalias = try TablesInterop.ours("postalias")
        let link = dir + "/newaliases"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: postalias)
        TablesInterop.write(dir + "/main.cf", "alias_database = hash:\(dir)/aliases, cdb:\(dir)/more\n")
        TablesInterop.write(dir + "/aliases", "root: admin\n")
        TablesInterop.write(dir + "/more", "x: y\n")
        let result = runProgram(link, ["-c", dir])
        XCTAssertEqual(result.status, 0, result.stderr)
        let postmap = try TablesInterop.ours("postmap")
        XCTAssertEqual(runProgram(postmap, ["-c", dir, "-q", "root", "hash:" + dir + "/aliases"]).stdout, "admin\n")
        XCTAssertEqual(runProgram(postmap, ["-c", dir, "-q", "@", "cdb:" + dir + "/more"]).stdout, "@\n")
    }
}
