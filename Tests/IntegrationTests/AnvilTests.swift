// anvil and smtpd's client limits through a real master: the anvil protocol on its
// socket (greeting, counts, the fixed rate window, lookup, unknown requests, implicit
// disconnect, statistics on exit), and smtpd's 421/450 refusals with their warnings,
// recovered after a short anvil_rate_time_unit, exempt networks, and smtpd going on
// without limits when anvil is gone. Nothing here measures time: tests only wait.
import Foundation
import XCTest

@testable import Shared

/// A raw attribute-protocol connection to a Unix socket, for tests.
final class AttributeTestClient {
    let stream: BufferedStream

    init(_ path: String) throws {
        let fd = try Sockets.connectUnix(path, timeout: 5)
        stream = BufferedStream(descriptor: fd, timeoutMs: 10_000)
    }

    deinit { close(stream.descriptor) }

    /// Reads one attribute list as its wire text (`a=b\nc=d\n\n`), or "closed".
    func read() -> String {
        guard let list = try? stream.readAttributes(xtext: false) else { return "closed" }
        return list.encoded(xtext: false)
    }

    /// Sends RAW and returns the reply's wire text.
    func ask(_ raw: String) -> String {
        stream.write(raw)
        try? stream.flush()
        return read()
    }

    func request(_ name: String, _ ident: String) -> String { ask("request=\(name)\nident=\(ident)\n\n") }
}

final class AnvilTests: XCTestCase {
    var instances: [TestInstance] = []

    override func tearDown() {
        instances.removeAll()
        super.tearDown()
    }

    func anvilInstance(_ main: [String] = []) throws -> TestInstance {
        let inst = try TestInstance(masterCF: "anvil unix - - n - 1 anvil\n", main: ["anvil_rate_time_unit = 2s"] + main)
        instances.append(inst)
        inst.start()
        return inst
    }

    func smtpInstance(_ main: [String], anvil: Bool = true) throws -> (TestInstance, UInt16) {
        let (inst, port) = try TestInstance.smtp(main: ["anvil_rate_time_unit = 2s"] + main)
        instances.append(inst)
        if anvil {
            try inst.appendMasterCF("anvil unix - - n - 1 anvil")
            inst.run("postern", ["reload"])
            XCTAssertTrue(eventually { FileManager.default.fileExists(atPath: inst.spool + "/private/anvil") })
        }
        return (inst, port)
    }

    /// Waits past the fixed window (start + unit < now, whole seconds).
    func waitPastRateWindow() { usleep(3_500_000) }

    func testProtocolCountsRatesLookupAndUnknownRequests() throws {
        let inst = try anvilInstance()
        let path = inst.spool + "/private/anvil"
        let first = try AttributeTestClient(path)
        XCTAssertEqual(first.read(), "protocol=anvil_protocol\n\n")
        XCTAssertEqual(first.request("connect", "smtp:192.0.2.1"), "status=0\ncount=1\nrate=1\n\n")
        let second = try AttributeTestClient(path)
        XCTAssertEqual(second.read(), "protocol=anvil_protocol\n\n")
        XCTAssertEqual(second.request("connect", "smtp:192.0.2.1"), "status=0\ncount=2\nrate=2\n\n")
        XCTAssertEqual(second.request("message", "smtp:192.0.2.1"), "status=0\nrate=1\n\n")
        XCTAssertEqual(second.request("recipient", "smtp:192.0.2.1"), "status=0\nrate=1\n\n")
        XCTAssertEqual(second.request("newtls_status", "smtp:192.0.2.1"), "status=0\nrate=0\n\n")
        XCTAssertEqual(second.request("newtls", "smtp:192.0.2.1"), "status=0\nrate=1\n\n")
        XCTAssertEqual(second.request("auth", "smtp:192.0.2.1"), "status=0\nrate=1\n\n")
        XCTAssertEqual(first.request("lookup", "smtp:192.0.2.1"), "status=0\ncount=2\nrate=2\nmail=1\nrcpt=1\nnewtls=1\nauth=1\n\n")
        XCTAssertEqual(first.request("lookup", "smtp:198.51.100.1"), "status=0\ncount=0\nrate=0\nmail=0\nrcpt=0\nnewtls=0\nauth=0\n\n")
        XCTAssertEqual(first.request("newtls_report", "smtp:192.0.2.1"), "status=4294967295\n\n")
        XCTAssertTrue(eventually { inst.log.contains("warning: unrecognized request: \"newtls_report\", ignored") }, inst.log)

        XCTAssertEqual(first.request("disconnect", "smtp:192.0.2.1"), "status=0\n\n")
        XCTAssertEqual(first.request("lookup", "smtp:192.0.2.1"), "status=0\ncount=1\nrate=2\nmail=1\nrcpt=1\nnewtls=1\nauth=1\n\n")
        // Closing a stream gives back what it counted.
        var third: AttributeTestClient? = try AttributeTestClient(path)
        XCTAssertEqual(third?.read(), "protocol=anvil_protocol\n\n")
        XCTAssertEqual(third?.request("connect", "smtp:192.0.2.1"), "status=0\ncount=2\nrate=3\n\n")
        third = nil
        XCTAssertTrue(eventually { first.request("lookup", "smtp:192.0.2.1").hasPrefix("status=0\ncount=1\n") })

        waitPastRateWindow()
        XCTAssertEqual(first.request("lookup", "smtp:192.0.2.1"), "status=0\ncount=1\nrate=0\nmail=0\nrcpt=0\nnewtls=0\nauth=0\n\n")
        XCTAssertEqual(first.request("connect", "smtp:192.0.2.1"), "status=0\ncount=2\nrate=1\n\n")

        // A request that is not exactly request= and ident= ends the connection.
        XCTAssertEqual(first.ask("request=lookup\n\n"), "closed")

        inst.stop()
        XCTAssertTrue(eventually { inst.log.contains("statistics: max cache size 1 at ") }, inst.log)
        XCTAssertTrue(inst.log.contains("statistics: max connection rate 3/2s for (smtp:192.0.2.1) at "), inst.log)
        XCTAssertTrue(inst.log.contains("statistics: max connection count 2 for (smtp:192.0.2.1) at "), inst.log)
        XCTAssertTrue(inst.log.contains("statistics: max message rate 1/2s for (smtp:192.0.2.1) at "), inst.log)
    }

    func testIdleIdentsExpireAndPeaksAreReportedPeriodically() throws {
        let inst = try anvilInstance(["anvil_status_update_time = 1s"])
        let c = try AttributeTestClient(inst.spool + "/private/anvil")
        _ = c.read()
        XCTAssertEqual(c.request("connect", "smtp:192.0.2.9"), "status=0\ncount=1\nrate=1\n\n")
        XCTAssertEqual(c.request("disconnect", "smtp:192.0.2.9"), "status=0\n\n")
        XCTAssertEqual(c.request("lookup", "smtp:192.0.2.9"), "status=0\ncount=0\nrate=1\nmail=0\nrcpt=0\nnewtls=0\nauth=0\n\n")
        waitPastRateWindow()
        XCTAssertEqual(c.request("connect", "smtp:192.0.2.9"), "status=0\ncount=1\nrate=1\n\n", "a forgotten ident starts over")
        XCTAssertTrue(eventually { inst.log.contains("statistics: max connection rate 1/2s for (smtp:192.0.2.9) at ") }, inst.log)
    }

    func testMessageAndRecipientRatesRefuseAndRecover() throws {
        let (inst, port) = try smtpInstance(["smtpd_client_message_rate_limit = 2", "smtpd_client_recipient_rate_limit = 2"])
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        XCTAssertEqual(c.reply()?.code, 220)
        XCTAssertEqual(c.command("EHLO client.example.org"), "250 CHUNKING")
        XCTAssertEqual(c.command("MAIL FROM:<a@example.org>"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RCPT TO:<root@example.test>"), "250 2.1.5 Ok")
        XCTAssertEqual(c.command("VRFY root@example.test"), "252 2.0.0 root@example.test")
        XCTAssertEqual(c.command("RCPT TO:<root@example.test>"), "450 4.7.1 Error: too many recipients from 127.0.0.1")
        XCTAssertEqual(c.command("RSET"), "250 2.0.0 Ok")
        XCTAssertEqual(c.command("MAIL FROM:<a@example.org>"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RSET"), "250 2.0.0 Ok")
        XCTAssertEqual(c.command("MAIL FROM:<a@example.org>"), "450 4.7.1 Error: too much mail from 127.0.0.1")
        XCTAssertTrue(eventually {
            inst.log.contains("warning: Message delivery request rate limit exceeded: 3 from ") && inst.log.contains("[127.0.0.1] for service 127.0.0.1:\(port)")
        }, inst.log)
        XCTAssertTrue(inst.log.contains("warning: Recipient address rate limit exceeded: 3 from "), inst.log)

        waitPastRateWindow()
        XCTAssertEqual(c.command("MAIL FROM:<a@example.org>"), "250 2.1.0 Ok")
        XCTAssertEqual(c.command("RCPT TO:<root@example.test>"), "250 2.1.5 Ok")
        XCTAssertEqual(c.command("DATA"), "354 End data with <CR><LF>.<CR><LF>")
        XCTAssertTrue(c.command("Subject: t\r\n\r\nbody\r\n.").hasPrefix("250 2.0.0 Ok: queued as "))
        XCTAssertEqual(c.command("QUIT"), "221 2.0.0 Bye")
    }

    func testConnectionCountAndRateLimits() throws {
        let (inst, port) = try smtpInstance(["smtpd_client_connection_count_limit = 1", "smtpd_client_connection_rate_limit = 3"])
        let first = try XCTUnwrap(SMTPTestClient(port: port))
        XCTAssertEqual(first.reply()?.code, 220)
        let second = try XCTUnwrap(SMTPTestClient(port: port))
        XCTAssertEqual(second.reply().map { "\($0.code) \($0.lines[0])" }, "421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1")
        XCTAssertNil(second.reply(), "the refused client is disconnected")
        XCTAssertTrue(eventually { inst.log.contains("warning: Connection concurrency limit exceeded: 2 from ") }, inst.log)
        XCTAssertEqual(first.command("QUIT"), "221 2.0.0 Bye")

        // The count comes back at the first session's end; the rate is then at 2 of 3.
        let probe = try AttributeTestClient(inst.spool + "/private/anvil")
        _ = probe.read()
        XCTAssertTrue(eventually { probe.request("lookup", "127.0.0.1:\(port):127.0.0.1").hasPrefix("status=0\ncount=0\nrate=2\n") })
        var third = SMTPTestClient(port: port)
        XCTAssertEqual(third?.reply()?.code, 220)
        XCTAssertEqual(third?.command("QUIT"), "221 2.0.0 Bye")
        XCTAssertTrue(eventually { probe.request("lookup", "127.0.0.1:\(port):127.0.0.1").hasPrefix("status=0\ncount=0\nrate=3\n") })
        third = SMTPTestClient(port: port)
        XCTAssertEqual(third?.reply().map { "\($0.code) \($0.lines[0])" }, "421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1")
        XCTAssertTrue(eventually { inst.log.contains("warning: Connection rate limit exceeded: 4 from ") }, inst.log)

        waitPastRateWindow()
        let later = try XCTUnwrap(SMTPTestClient(port: port))
        XCTAssertEqual(later.reply()?.code, 220)
        XCTAssertEqual(later.command("QUIT"), "221 2.0.0 Bye")
    }

    func testExemptNetworksAreNotCounted() throws {
        let (inst, port) = try smtpInstance(["smtpd_client_message_rate_limit = 1", "smtpd_client_event_limit_exceptions = 127.0.0.0/8"])
        let c = try XCTUnwrap(SMTPTestClient(port: port))
        XCTAssertEqual(c.reply()?.code, 220)
        for _ in 0..<3 {
            XCTAssertEqual(c.command("MAIL FROM:<a@example.org>"), "250 2.1.0 Ok")
            XCTAssertEqual(c.command("RSET"), "250 2.0.0 Ok")
        }
        let probe = try AttributeTestClient(inst.spool + "/private/anvil")
        _ = probe.read()
        XCTAssertEqual(probe.request("lookup", "127.0.0.1:\(port):127.0.0.1"), "status=0\ncount=0\nrate=0\nmail=0\nrcpt=0\nnewtls=0\nauth=0\n\n")
    }

    func testSmtpdGoesOnWhenAnvilIsKilledOrMissing() throws {
        let (inst, port) = try smtpInstance(["smtpd_client_message_rate_limit = 100"])
        let warm = try XCTUnwrap(SMTPTestClient(port: port))
        XCTAssertEqual(warm.reply()?.code, 220)
        XCTAssertEqual(warm.command("QUIT"), "221 2.0.0 Bye")
        let anvil = try XCTUnwrap(inst.processes("anvil").first?.pid)
        kill(anvil, SIGKILL)
        XCTAssertTrue(eventually { !processAlive(anvil) })
        XCTAssertTrue(sendMessage(port), inst.log)

        // No anvil at all: limits are off, with a warning, and mail still flows.
        try inst.writeMasterCF("127.0.0.1:\(port) inet n - n - - smtpd\n")
        inst.run("postern", ["reload"])
        XCTAssertTrue(eventually { !FileManager.default.fileExists(atPath: inst.spool + "/private/anvil") })
        XCTAssertTrue(sendMessage(port), inst.log)
        XCTAssertTrue(eventually { inst.log.contains("warning: problem talking to server private/anvil: ") }, inst.log)
    }

    func testSmtpdGoesOnWhenAnvilHangs() throws {
        let (inst, port) = try smtpInstance(["smtpd_client_message_rate_limit = 100"])
        XCTAssertTrue(sendMessage(port), inst.log)
        let anvil = try XCTUnwrap(inst.processes("anvil").first?.pid)
        kill(anvil, SIGSTOP)
        defer { kill(anvil, SIGCONT) }
        XCTAssertTrue(sendMessage(port), inst.log)
        XCTAssertTrue(eventually { inst.log.contains("warning: problem talking to server private/anvil: Connection timed out") }, inst.log)
    }

    func sendMessage(_ port: UInt16) -> Bool {
        guard let c = SMTPTestClient(port: port), c.reply()?.code == 220 else { return false }
        guard c.command("MAIL FROM:<a@example.org>") == "250 2.1.0 Ok", c.command("RCPT TO:<root@example.test>") == "250 2.1.5 Ok",
            c.command("DATA").hasPrefix("354")
        else { return false }
        return c.command("Subject: t\r\n\r\nbody\r\n.").hasPrefix("250 2.0.0 Ok: queued as ")
    }
}
