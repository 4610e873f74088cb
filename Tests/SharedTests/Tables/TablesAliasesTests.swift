// aliases(5): entries as postalias stores them (names in internal form, values in
// external form, Postfix's spacing), the warnings for bad entries, and the destinations
// local(8) gets from a value.
import XCTest

@testable import Shared

final class TablesAliasesTests: XCTestCase {
    func parse(_ text: String) -> ([String], [String]) {
        var warnings: [String] = []
        let entries = AliasFile.parse(Array(text.utf8), path: "aliases") { warnings.append($0) }
        return (entries.map { "\($0.name)|\($0.value)|\($0.line)" }, warnings)
    }

    func testEntries() {
        let (entries, warnings) = parse("""
            postmaster: root
            Root: user1,
              user2
            "quoted name": x
            |cmd: bad
            foo :bar
            inc: :include:/etc/list
            pipe: "|/usr/bin/cmd arg"
            file: /var/log/x
            c d: e
            j: k (comment) , l<m@n>, "q r"@s
            k: "a\\"b"
            l.m: x . y
            n: |"quoted cmd"
            "o:p": q
            r:s:t
            a\\.b: x
            x: a\\ b
            y: [1.2\\]3] (co\\)m (nest)) z

            """)
        XCTAssertEqual(warnings, [])
        XCTAssertEqual(entries, [
            "postmaster|root|1", "Root|user1, user2|2", "quoted name|x|4", "|cmd|bad|5", "foo|bar|6",
            "inc|:include:/etc/list|7", "pipe|\"|/usr/bin/cmd arg\"|8", "file|/var/log/x|9", "c d|e|10",
            "j|k (comment), l <m@n>, \"q r\"@s|11", "k|\"a\\\"b\"|12", "l.m|x.y|13", "n||\"quoted cmd\"|14",
            "o:p|q|15", "r|s:t|16", "a.b|x|17", "x|\"a b\"|18", "y|[1.2]3] (co\\)m (nest)) z|19",
        ])
    }

    func testBadEntries() {
        let (entries, warnings) = parse("nocolon value\nempty:\nbs\\: y\nf@dom: g\nu,v: w\nmulti\n  line\nok: fine\n")
        XCTAssertEqual(entries, ["ok|fine|8"])
        XCTAssertEqual(warnings, [
            "aliases, line 1: need name:value pair", "aliases, line 2: need name:value pair",
            "aliases, line 3: need name:value pair", "aliases, line 4: name must be local",
            "aliases, line 5: need name:value pair", "aliases, line 6: need name:value pair",
        ])
    }

    func testDestinations() {
        let cases: [(String, [AliasDestination])] = [
            ("user1, user2", [.address("user1"), .address("user2")]),
            (":include:/etc/list", [.include("/etc/list")]),
            ("\"|/usr/bin/cmd arg, with comma\", root", [.command("/usr/bin/cmd arg, with comma"), .address("root")]),
            ("|/usr/bin/cmd arg", [.command("/usr/bin/cmd arg")]),
            ("/var/log/x, /home/me/Maildir/", [.file("/var/log/x"), .file("/home/me/Maildir/")]),
            ("Some One <one@example.com> (comment), \"q r\"@s", [.address("one@example.com"), .address("q r@s")]),
            (":INCLUDE:/x", [.include("/x")]),
        ]
        for (value, expected) in cases { XCTAssertEqual(AliasFile.destinations(value), expected, value) }
    }
}
