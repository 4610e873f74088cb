// check_policy_service: asks a policy server (reference §2) and returns its action,
// which the restriction engine evaluates like an access-table result. One client per
// distinct argument lives as long as the smtpd process, so its connection is reused by
// every session the process serves.
import Shared

/// The policy clients of this process, by check_policy_service argument.
enum PolicyClients {
    nonisolated(unsafe) static var byArgument: [String: PolicyClient] = [:]

    /// The client for ARGUMENT, made on first use.
    static func client(_ argument: String, config: MainConfig) throws -> PolicyClient {
        if let known = byArgument[argument] { return known }
        let client = PolicyClient(try PolicyService(argument: argument, config: config))
        byArgument[argument] = client
        return client
    }
}

extension Restrictions {
    /// The action for ARGUMENT (the endpoint, or the `{ endpoint, name=value … }` group)
    /// at the state in CTX; smtpd_policy_service_default_action when the server fails.
    func policyAction(_ argument: String, _ ctx: CheckContext) -> String {
        let client: PolicyClient
        do {
            client = try PolicyClients.client(argument, config: config)
        } catch {
            Log.warning("\(error)")
            return config.value("smtpd_policy_service_default_action")
        }
        return client.action(for: PolicyRequest.attributes(ctx, policyContext: client.service.policyContext))
    }
}
