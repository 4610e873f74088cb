// The one registry of main.cf parameters Postern knows: name, kind and built-in default
// (Postfix's, from ParameterDefaultsA/B.swift), plus the rules for service-specific names
// such as `policy_time_limit` or `local_destination_concurrency_limit`.

/// What values a parameter takes; drives validation and `postconf` output.
public enum ParameterKind: Equatable {
    case bool
    case int
    /// A time value; the character is the unit assumed when none is written.
    case time(Character)
    case string
    /// Depends on the machine or process (myhostname, mynetworks…): computed at run time.
    case computed
}

public struct ParameterDefinition {
    public let name: String
    public let kind: ParameterKind
    public let defaultValue: String
}

public enum ParameterRegistry {
    /// Every known parameter by name.
    public static let all: [String: ParameterDefinition] = {
        var result: [String: ParameterDefinition] = [:]
        result.reserveCapacity(1100)
        for table in [tableA, tableB] {
            // Byte-wise: this runs at every process start.
            for line in table.utf8.split(separator: 10) {
                let parts = line.drop(while: { $0 == 32 }).split(separator: UInt8(ascii: "|"), maxSplits: 2, omittingEmptySubsequences: false)
                guard parts.count == 3 else { continue }
                let name = String(decoding: parts[0], as: UTF8.self)
                let kindText = String(decoding: parts[1], as: UTF8.self)
                result[name] = ParameterDefinition(name: name, kind: kind(kindText), defaultValue: String(decoding: parts[2], as: UTF8.self))
            }
        }
        return result
    }()

    /// The kind a table line names (`bool`, `int`, `time:UNIT`, `string`, `computed`).
    static func kind(_ kindText: String) -> ParameterKind {
        switch kindText {
        case "bool": return .bool
        case "int": return .int
        case "computed": return .computed
        case "string": return .string
        default: return kindText.hasPrefix("time:") ? .time(kindText.last!) : .string
        }
    }

    /// All names, sorted as `postconf` prints them.
    public static let sortedNames: [String] = all.keys.sorted()

    /// Suffixes a master.cf service name may carry as its own parameter
    /// (`SERVICE_time_limit`, `TRANSPORT_destination_concurrency_limit`…).
    static let serviceSuffixes = [
        "time_limit", "destination_concurrency_limit", "destination_recipient_limit",
        "initial_destination_concurrency", "destination_concurrency_failed_cohort_limit",
        "destination_concurrency_negative_feedback", "destination_concurrency_positive_feedback",
        "destination_rate_delay", "extra_recipient_limit", "recipient_limit", "recipient_refill_limit",
        "recipient_refill_delay", "delivery_slot_cost", "delivery_slot_discount", "delivery_slot_loan",
        "minimum_delivery_slots", "transport_rate_delay", "process_limit",
    ]

    /// The definition for NAME, including service-specific names for SERVICES.
    public static func definition(_ name: String, services: Set<String> = []) -> ParameterDefinition? {
        if let d = all[name] { return d }
        for service in services where name.hasPrefix(service + "_") {
            let rest = String(name.dropFirst(service.count + 1))
            if serviceSuffixes.contains(rest) {
                let template = all["default_" + rest] ?? all["command_" + rest]
                return ParameterDefinition(name: name, kind: template?.kind ?? .string, defaultValue: template?.defaultValue ?? "")
            }
        }
        return nil
    }
}
