// check_policy_service arguments: endpoints, the `{ endpoint, name=value … }` form and
// the main.cf defaults they override.
import XCTest

@testable import Shared

final class PolicyServiceTests: XCTestCase {
    func config(_ text: String = "") throws -> MainConfig {
        let c = MainConfig(directory: "/nonexistent")
        try c.parse(text)
        return c
    }

    func testEndpoints() throws {
        XCTAssertEqual(try ServiceEndpoint.parse("unix:private/policy").transport, .unix("private/policy"))
        XCTAssertEqual(try ServiceEndpoint.parse("unix:/run/p.sock").transport, .unix("/run/p.sock"))
        XCTAssertEqual(try ServiceEndpoint.parse("inet:127.0.0.1:9998").transport, .inet(host: "127.0.0.1", port: "9998"))
        XCTAssertEqual(try ServiceEndpoint.parse("inet:[::1]:9998").transport, .inet(host: "::1", port: "9998"))
        XCTAssertEqual("\(try ServiceEndpoint.parse("unix:private/policy"))", "private/policy")
        XCTAssertEqual("\(try ServiceEndpoint.parse("inet:[::1]:9998"))", "[::1]:9998")
        XCTAssertThrowsError(try ServiceEndpoint.parse("private/policy")) {
            XCTAssertEqual("\($0)", "need service transport:endpoint instead of \"private/policy\"")
        }
        XCTAssertThrowsError(try ServiceEndpoint.parse("inet:localhost"))
        XCTAssertThrowsError(try ServiceEndpoint.parse("tcp:1.2.3.4:5"))
    }

    func testDefaultsFromMainCf() throws {
        let s = try PolicyService(argument: "unix:private/policy", config: config())
        XCTAssertEqual(s.timeout, 100)
        XCTAssertEqual(s.maxIdle, 300)
        XCTAssertEqual(s.maxTTL, 1000)
        XCTAssertEqual(s.requestLimit, 0)
        XCTAssertEqual(s.tryLimit, 2)
        XCTAssertEqual(s.retryDelay, 1)
        XCTAssertEqual(s.defaultAction, "451 4.3.5 Server configuration problem")
        XCTAssertEqual(s.policyContext, "")
        let tuned = try PolicyService(argument: "unix:x", config: config("smtpd_policy_service_timeout = 2m\nsmtpd_policy_service_default_action = DUNNO"))
        XCTAssertEqual(tuned.timeout, 120)
        XCTAssertEqual(tuned.defaultAction, "DUNNO")
    }

    func testPerServerOverrides() throws {
        let text = "{ inet:127.0.0.1:9998, timeout=10s, max_idle=5, max_ttl=1h, request_limit=3, try_limit=1, retry_delay=0,"
            + " { default_action = 450 4.7.1 Try later }, policy_context=submission }"
        for argument in [text, String(text.dropFirst().dropLast())] {
            let s = try PolicyService(argument: argument, config: config())
            XCTAssertEqual(s.endpoint.transport, .inet(host: "127.0.0.1", port: "9998"))
            XCTAssertEqual(s.timeout, 10)
            XCTAssertEqual(s.maxIdle, 5)
            XCTAssertEqual(s.maxTTL, 3600)
            XCTAssertEqual(s.requestLimit, 3)
            XCTAssertEqual(s.tryLimit, 1)
            XCTAssertEqual(s.retryDelay, 0)
            XCTAssertEqual(s.defaultAction, "450 4.7.1 Try later")
            XCTAssertEqual(s.policyContext, "submission")
        }
        XCTAssertThrowsError(try PolicyService(argument: "{ unix:x, colour=blue }", config: config())) {
            XCTAssertTrue("\($0)".hasSuffix("unknown attribute name: \"colour\""), "\($0)")
        }
        XCTAssertThrowsError(try PolicyService(argument: "{ unix:x, timeout=soon }", config: config()))
    }
}
