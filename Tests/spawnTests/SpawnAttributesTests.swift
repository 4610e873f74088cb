// spawn's master.cf attributes and its refusals, with Postfix's texts.
import XCTest

@testable import Shared
@testable import spawn

final class SpawnAttributesTests: XCTestCase {
    func testUserAndArgvTakingTheRestOfTheLine() throws {
        let a = try SpawnAttributes.parse(["user=nobody", "argv=/usr/bin/perl", "-w", "/usr/local/bin/policy", "user=x"])
        XCTAssertEqual(a, SpawnAttributes(user: "nobody", group: nil, argv: ["/usr/bin/perl", "-w", "/usr/local/bin/policy", "user=x"]))
        let g = try SpawnAttributes.parse(["user=nobody:nogroup", "argv=/bin/cat"])
        XCTAssertEqual(g.group, "nogroup")
    }

    func testRefusals() {
        XCTAssertThrowsError(try SpawnAttributes.parse(["argv=/bin/cat"])) { XCTAssertEqual("\($0)", "missing user= attribute") }
        XCTAssertThrowsError(try SpawnAttributes.parse(["user=nobody"])) { XCTAssertEqual("\($0)", "missing argv= attribute") }
        XCTAssertThrowsError(try SpawnAttributes.parse(["size=5", "argv=/bin/cat"])) { XCTAssertEqual("\($0)", "unknown attribute name: size=5") }
        XCTAssertThrowsError(try SpawnAttributes.check(uid: 0, gid: 5, ownerUID: 100, ownerGID: 100)) {
            XCTAssertEqual("\($0)", "request to deliver as root")
        }
        XCTAssertThrowsError(try SpawnAttributes.check(uid: 100, gid: 5, ownerUID: 100, ownerGID: 101)) {
            XCTAssertEqual("\($0)", "request to deliver as mail system owner")
        }
        XCTAssertThrowsError(try SpawnAttributes.check(uid: 7, gid: 0, ownerUID: 100, ownerGID: 101)) {
            XCTAssertEqual("\($0)", "request to use privileged group id 0")
        }
        XCTAssertThrowsError(try SpawnAttributes.check(uid: 7, gid: 101, ownerUID: 100, ownerGID: 101)) {
            XCTAssertEqual("\($0)", "request to use mail system owner group id 101")
        }
        XCTAssertNoThrow(try SpawnAttributes.check(uid: 7, gid: 8, ownerUID: 100, ownerGID: 101))
        XCTAssertThrowsError(try SpawnAttributes(user: "root", group: nil, argv: ["/bin/cat"]).identity(ownerUID: 100, ownerGID: 101)) {
            XCTAssertEqual("\($0)", "request to deliver as root")
        }
        XCTAssertThrowsError(try SpawnAttributes(user: "no-such-user-here", group: nil, argv: ["/bin/cat"]).identity(ownerUID: 100, ownerGID: 101)) {
            XCTAssertEqual("\($0)", "unknown user name: no-such-user-here")
        }
    }

    func testCommandLineThroughSetprivAndPath() {
        let a = SpawnAttributes(user: "nobody", group: nil, argv: ["cat", "-u"])
        let asRoot = CommandRunner(attributes: a, identity: (65534, 65534), environment: ["PATH=/usr/bin:/bin"], timeLimit: 10)
        XCTAssertEqual(asRoot.spawnArguments, ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--groups=65534", "--", "/usr/bin/cat", "-u"])
        let asUser = CommandRunner(attributes: a, identity: nil, environment: [], timeLimit: 10)
        XCTAssertEqual(asUser.spawnArguments, ["/usr/bin/cat", "-u"])
    }

    func testOnlyExportedVariables() {
        setenv("POSTERN_SPAWN_TEST", "yes", 1)
        XCTAssertEqual(CommandRunner.exported(["POSTERN_SPAWN_TEST", "NOT_SET_ANYWHERE_X", "TZ=UTC"]), ["POSTERN_SPAWN_TEST=yes", "TZ=UTC"])
    }
}
