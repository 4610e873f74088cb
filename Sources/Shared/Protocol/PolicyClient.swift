// The policy delegation client (SMTPD_POLICY_README; reference §2): a policy server is
// named by `unix:PATH` / `inet:HOST:PORT`, alone or as `{ endpoint, name=value … }` with
// per-server overrides of the smtpd_policy_service_* settings. Each request is sent over
// a kept-open connection and the `action=` of the reply returned; when the server cannot
// be reached or answers badly after try_limit attempts, the default action is returned.

/// One policy server and its settings (main.cf defaults, then the `{ … }` overrides).
public struct PolicyService: Equatable {
    public var endpoint: ServiceEndpoint
    public var timeout: Int
    public var maxIdle: Int
    public var maxTTL: Int
    public var requestLimit: Int
    public var tryLimit: Int
    public var retryDelay: Int
    public var defaultAction: String
    public var policyContext: String

    /// Parses a check_policy_service argument (`unix:private/policy`, or
    /// `{ inet:127.0.0.1:9998, timeout=10s, default_action = { 451 4.3.5 Try later } }`,
    /// with or without its outer braces) over CONFIG's defaults.
    public init(argument: String, config: MainConfig) throws {
        let parts = splitList(stripBraces(argument.trimmed))
        guard let first = parts.first else { throw ConfigError("check_policy_service: missing policy server endpoint") }
        endpoint = try ServiceEndpoint.parse(first)
        timeout = config.seconds("smtpd_policy_service_timeout")
        maxIdle = config.seconds("smtpd_policy_service_max_idle")
        maxTTL = config.seconds("smtpd_policy_service_max_ttl")
        requestLimit = config.int("smtpd_policy_service_request_limit")
        tryLimit = config.int("smtpd_policy_service_try_limit")
        retryDelay = config.seconds("smtpd_policy_service_retry_delay")
        defaultAction = config.value("smtpd_policy_service_default_action")
        policyContext = config.value("smtpd_policy_service_policy_context")
        for part in parts.dropFirst() {
            try apply(part, in: argument)
        }
    }

    mutating func apply(_ assignment: String, in argument: String) throws {
        guard let eq = assignment.firstIndex(of: "=") else {
            throw ConfigError("check_policy_service \(argument): missing '=' after attribute name: \"\(assignment)\"")
        }
        let name = String(assignment[..<eq]).trimmed
        let value = stripBraces(String(assignment[assignment.index(after: eq)...]).trimmed)
        func time() throws -> Int {
            guard let t = parseTime(value) else {
                throw ConfigError("check_policy_service \(argument): invalid time value or unit: \(name) = \(value)")
            }
            return t
        }
        func number() throws -> Int {
            guard let n = Int(value), n >= 0 else {
                throw ConfigError("check_policy_service \(argument): bad numerical value: \(name) = \(value)")
            }
            return n
        }
        switch name {
        case "timeout": timeout = try time()
        case "max_idle": maxIdle = try time()
        case "max_ttl": maxTTL = try time()
        case "request_limit": requestLimit = try number()
        case "try_limit": tryLimit = try number()
        case "retry_delay": retryDelay = try time()
        case "default_action": defaultAction = value
        case "policy_context": policyContext = value
        default: throw ConfigError("check_policy_service \(argument): unknown attribute name: \"\(name)\"")
        }
    }

    var clientSettings: AttributeClient.Settings {
        var s = AttributeClient.Settings()
        s.timeout = timeout
        s.maxIdle = maxIdle
        s.maxTTL = maxTTL
        s.requestLimit = requestLimit
        s.tryLimit = tryLimit
        s.retryDelay = retryDelay
        return s
    }
}

/// A connection to one policy server, reused for every request of the process.
public final class PolicyClient {
    public let service: PolicyService
    let client: AttributeClient

    public init(_ service: PolicyService) {
        self.service = service
        client = AttributeClient(endpoint: service.endpoint, settings: service.clientSettings)
    }

    /// True while the connection to the server is open.
    public var isConnected: Bool { client.isConnected }

    /// The server's action for REQUEST, or the default action when it failed.
    public func action(for request: AttributeList) -> String {
        guard let reply = client.request(request, expecting: "action") else { return service.defaultAction }
        return reply["action"] ?? service.defaultAction
    }

    /// Closes the connection.
    public func disconnect() { client.disconnect() }
}
