// The master supervising a small test service (testd) on loopback: on-demand and
// pre-started children, max_use and max_idle, crashes and start-up throttling, reload,
// per-service restart, stop, the lock against a second master, descriptor hygiene.
import Foundation
import XCTest

final class MasterTests: XCTestCase {
    /// Starts an instance running SERVICES (PORT stands for a free port); it is stopped
    /// and removed after the test.
    var instances: [TestInstance] = []

    override func tearDown() {
        instances.removeAll()
        super.tearDown()
    }

    func instance(_ services: String, main: [String] = []) throws -> (TestInstance, UInt16) {
        let port = freePort()
        let inst = try TestInstance(masterCF: services.replacingOccurrences(of: "PORT", with: String(port)), main: main)
        instances.append(inst)
        inst.start()
        return (inst, port)
    }

    func testSpawnsOnDemandAndReusesAnIdleChild() throws {
        let (inst, port) = try instance("127.0.0.1:PORT inet n - n - 3 testd")
        XCTAssertTrue(inst.processes("PORT").isEmpty, "no child before the first client")
        let first = try XCTUnwrap(LineClient(port: port)?.greeting())
        XCTAssertEqual(first["served"], "0")
        XCTAssertTrue(eventually { inst.processes(String(port)).first?.state == "idle" })
        let second = try XCTUnwrap(LineClient(port: port)?.greeting())
        XCTAssertEqual(second["pid"], first["pid"], "the idle child takes the next client")
        XCTAssertEqual(second["served"], "1")
    }

    func testEchoAndConcurrentClientsUpToMaxproc() throws {
        let (_, port) = try instance("127.0.0.1:PORT inet n - n - 2 testd")
        let a = try XCTUnwrap(LineClient(port: port))
        let b = try XCTUnwrap(LineClient(port: port))
        let ga = try XCTUnwrap(a.greeting())
        let gb = try XCTUnwrap(b.greeting())
        XCTAssertNotEqual(ga["pid"], gb["pid"])
        a.send("hello\n")
        XCTAssertEqual(a.readLine(), "hello")
        // A third client waits until one of the two processes is free.
        let c = try XCTUnwrap(LineClient(port: port))
        b.send("quit\n")
        let gc = try XCTUnwrap(c.greeting())
        XCTAssertEqual(gc["pid"], gb["pid"])
    }

    func testPrestartedIdleChildren() throws {
        let (inst, port) = try instance("127.0.0.1:PORT inet n - n - 10 testd -o prestart_process_count=2")
        XCTAssertTrue(eventually { inst.processes(String(port)).filter { $0.state == "idle" }.count == 2 })
        let ready = Set(inst.processes(String(port)).map { String($0.pid) })
        let client = try XCTUnwrap(LineClient(port: port))
        let g = try XCTUnwrap(client.greeting())
        XCTAssertTrue(ready.contains(g["pid"] ?? ""), "a pre-started child served the client")
        // While one is busy, another idle one is started to keep two ready.
        XCTAssertTrue(eventually { inst.processes(String(port)).filter { $0.state == "idle" }.count == 2 })
    }

    func testMaxUseRecyclesTheChild() throws {
        let (_, port) = try instance("127.0.0.1:PORT inet n - n - 1 testd -o max_use=2")
        let p1 = try XCTUnwrap(LineClient(port: port)?.greeting()?["pid"])
        XCTAssertEqual(try XCTUnwrap(LineClient(port: port)?.greeting()?["pid"]), p1)
        let p3 = try XCTUnwrap(LineClient(port: port)?.greeting()?["pid"])
        XCTAssertNotEqual(p3, p1, "after max_use clients the child exits and a new one serves")
        XCTAssertFalse(processAlive(Int32(p1)!))
    }

    func testMaxIdleExit() throws {
        let (inst, port) = try instance("127.0.0.1:PORT inet n - n - 1 testd -o max_idle=1s")
        let pid = try XCTUnwrap(Int32(LineClient(port: port)?.greeting()?["pid"] ?? ""))
        XCTAssertTrue(eventually { !processAlive(pid) }, "an idle child leaves after max_idle")
        XCTAssertFalse(inst.log.contains("warning: process"), "a voluntary exit is not a crash")
        XCTAssertNotNil(LineClient(port: port)?.greeting(), "a new child serves the next client")
    }

    func testCrashedChildIsReplacedAndLogged() throws {
        let (inst, port) = try instance("127.0.0.1:PORT inet n - n - 1 testd")
        let first = try XCTUnwrap(LineClient(port: port)?.greeting())  // one client served
        let client = try XCTUnwrap(LineClient(port: port))
        XCTAssertEqual(client.greeting()?["pid"], first["pid"])
        client.send("crash\n")
        XCTAssertNil(client.readLine())
        XCTAssertTrue(eventually { inst.log.contains("pid \(first["pid"]!) killed by signal 6") })
        XCTAssertFalse(inst.log.contains("throttling"), "a child that served a client is not a start-up failure")
        let next = try XCTUnwrap(LineClient(port: port)?.greeting())
        XCTAssertNotEqual(next["pid"], first["pid"])
    }

    func testStartupCrashThrottlesTheService() throws {
        let (inst, port) = try instance("127.0.0.1:PORT inet n - n - 1 testd -o testd_startup=fail")
        _ = LineClient(port: port)
        XCTAssertTrue(eventually { inst.log.contains("testd: bad command startup -- throttling") })
        XCTAssertTrue(inst.log.contains("exit status 1"))
        XCTAssertTrue(inst.run("postern", ["status"]).stdout.contains("throttled"))
        // service_throttle_time (2s) later the master tries again, and is throttled again.
        XCTAssertTrue(eventually { inst.log.components(separatedBy: "bad command startup").count >= 3 })
    }

    func testNoDescriptorsLeakIntoChildren() throws {
        let (_, port) = try instance("127.0.0.1:PORT inet n - n - 1 testd")
        let client = try XCTUnwrap(LineClient(port: port))
        let g = try XCTUnwrap(client.greeting(), "errno \(client.lastError)")
        let fds = (g["fds"] ?? "").split(separator: ",").compactMap { Int($0) }
        // 0-2 stdio, 3 the log, 4 the directory listing /proc/self/fd, 5 status, 6 listener, 7 client.
        XCTAssertEqual(fds, [0, 1, 2, 3, 4, 5, 6, 7])
    }

    func testWakeupStartsAUnixService() throws {
        let (inst, _) = try instance("waker unix - - n 1 1 testd")
        XCTAssertTrue(FileManager.default.fileExists(atPath: inst.spool + "/private/waker"))
        XCTAssertTrue(eventually { !inst.processes("waker").isEmpty }, "the master's wake-up starts a child")
    }

    func testReloadAddsChangesAndRemovesServices() throws {
        let (inst, port) = try instance("127.0.0.1:PORT inet n - n - 2 testd")
        let master = try XCTUnwrap(inst.masterPid)
        let held = try XCTUnwrap(LineClient(port: port))
        let oldPid = try XCTUnwrap(held.greeting()?["pid"])
        let port2 = freePort()
        try inst.appendMasterCF("127.0.0.1:\(port2) inet n - n - 1 testd")
        XCTAssertEqual(inst.run("postern", ["reload"]).status, 0)
        XCTAssertTrue(eventually { LineClient(port: port2) != nil }, "the new service listens: \(inst.log)")
        XCTAssertTrue(inst.log.contains("reload -- version"))
        XCTAssertEqual(inst.masterPid, master)
        // The client accepted before the reload is still served by its old process.
        held.send("still there\n")
        XCTAssertEqual(held.readLine(), "still there")
        let fresh = try XCTUnwrap(LineClient(port: port)?.greeting())
        XCTAssertNotEqual(fresh["pid"], oldPid, "new clients get a new generation of children")
        held.send("quit\n")
        XCTAssertTrue(eventually { !processAlive(Int32(oldPid)!) }, "the old child leaves after its client")
        // Remove the added service again.
        try inst.writeMasterCF("127.0.0.1:\(port) inet n - n - 2 testd\n")
        inst.run("postern", ["reload"])
        XCTAssertTrue(eventually { LineClient(port: port2) == nil }, "the removed service stops listening")
        XCTAssertNotNil(LineClient(port: port)?.greeting())
    }

    func testBrokenConfigurationOnReloadKeepsRunning() throws {
        let (inst, port) = try instance("127.0.0.1:PORT inet n - n - 2 testd")
        try inst.appendMasterCF("broken line")
        let r = inst.run("postern", ["reload"])
        XCTAssertNotEqual(r.status, 0, "postern reload checks the files first")
        XCTAssertTrue(r.stderr.contains("master.cf: line 2: bad field count: expected at least 8 fields, found 2"), r.stderr)
        // A SIGHUP sent some other way: the master keeps its running configuration.
        kill(try XCTUnwrap(inst.masterPid), SIGHUP)
        XCTAssertTrue(eventually { inst.log.contains("reload failed, keeping the running configuration") })
        XCTAssertNotNil(LineClient(port: port)?.greeting())
    }

    func testRestartOneService() throws {
        let (inst, port) = try instance("127.0.0.1:PORT inet n - n - 2 testd\nother unix - - n - 1 testd")
        let held = try XCTUnwrap(LineClient(port: port))
        let oldPid = try XCTUnwrap(held.greeting()?["pid"])
        let r = inst.run("postern", ["restart", "127.0.0.1:\(port)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        held.send("ping\n")
        XCTAssertEqual(held.readLine(), "ping", "an accepted client is not dropped")
        XCTAssertNotEqual(LineClient(port: port)?.greeting()?["pid"], oldPid)
        XCTAssertNotEqual(inst.run("postern", ["restart", "nosuch"]).status, 0)
    }

    func testStopLeavesNoProcessBehind() throws {
        let (inst, port) = try instance("127.0.0.1:PORT inet n - n - 3 testd -o prestart_process_count=2")
        let master = try XCTUnwrap(inst.masterPid)
        let busy = try XCTUnwrap(LineClient(port: port))
        XCTAssertNotNil(busy.greeting())
        let children = childPids(of: master)
        XCTAssertGreaterThanOrEqual(children.count, 2)
        XCTAssertEqual(inst.run("postern", ["stop"]).status, 0)
        XCTAssertFalse(processAlive(master))
        XCTAssertTrue(eventually(6) { children.allSatisfy { !processAlive($0) } })
        XCTAssertTrue(inst.log.contains("terminating on signal 15"))
        XCTAssertNotEqual(inst.run("postern", ["status"]).status, 0)
    }

    func testSecondMasterIsRefused() throws {
        let (inst, _) = try instance("127.0.0.1:PORT inet n - n - 1 testd")
        let r = inst.run("postern", ["start"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("the Postern mail system is already running"), r.stderr)
        let direct = inst.run("master", [])
        XCTAssertNotEqual(direct.status, 0, "the pid-file lock refuses a second master too")
    }

    func testInetProtocolsAllListensOnBothFamilies() throws {
        let (_, port) = try instance("PORT inet n - n - 2 testd", main: ["inet_interfaces = loopback-only", "inet_protocols = all"])
        XCTAssertNotNil(LineClient(port: port, host: "127.0.0.1")?.greeting())
        XCTAssertNotNil(LineClient(port: port, host: "::1")?.greeting())
    }

    func testInetInterfacesIsHonoured() throws {
        let (_, port) = try instance("PORT inet n - n - 2 testd", main: ["inet_interfaces = 127.0.0.1", "inet_protocols = all"])
        XCTAssertNotNil(LineClient(port: port, host: "127.0.0.1")?.greeting())
        XCTAssertNil(LineClient(port: port, host: "::1"))
    }

    func testBadConfigurationStopsStartUp() throws {
        let inst = try TestInstance(masterCF: "smtp inet n - n - - smtpd\n", main: ["smtpd_recipient_limit = many"])
        let r = inst.run("postern", ["start"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("main.cf, line 13: bad numerical configuration: smtpd_recipient_limit = many"), r.stderr)
    }
}
