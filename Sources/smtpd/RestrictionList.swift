// Restriction lists as main.cf writes them (postconf(5) smtpd_*_restrictions;
// smtpd_check.c smtpd_check_parse): names separated by commas or white space, `{ … }`
// groups kept whole, and the restrictions that take the next word as their argument
// (a lookup table, a DNS list domain, a policy server). A bare `type:table` stands for
// the list's own check_*_access. Also the start-up sanity check that the relay or
// recipient list can refuse mail for other destinations.
import Shared

/// One restriction of a list.
struct Restriction: Equatable {
    /// The word as written (restriction class names are matched as written).
    let word: String
    /// The name in lower case, for the built-in restrictions.
    let name: String
    /// The next word, for the restrictions that take one; nil when it is missing.
    let argument: String?
    /// A bare `type:table`: the list's default access check applies to it.
    var implicitTable: Bool { name.contains(":") }
}

enum RestrictionList {
    /// Restrictions whose argument is a lookup table.
    static let tableArgument: Set<String> = {
        var names: Set<String> = [
            "check_client_access", "check_reverse_client_access", "check_helo_access", "check_sender_access",
            "check_recipient_access", "check_etrn_access", "check_sasl_access", "check_ccert_access",
        ]
        for object in ["client", "reverse_client", "helo", "sender", "recipient"] {
            for kind in ["mx", "ns", "a"] { names.insert("check_\(object)_\(kind)_access") }
        }
        return names
    }()

    /// Restrictions whose argument is a DNS list domain (with an optional `=reply` filter).
    static let domainArgument: Set<String> = [
        "reject_rbl_client", "reject_rbl", "permit_dnswl_client", "reject_rhsbl_client", "permit_rhswl_client",
        "reject_rhsbl_reverse_client", "reject_rhsbl_helo", "reject_rhsbl_sender", "reject_rhsbl_recipient",
    ]

    /// Restrictions with some other argument: a policy server (word or `{ … }` group), seconds.
    static let otherArgument: Set<String> = ["check_policy_service", "sleep"]

    static func takesArgument(_ name: String) -> Bool {
        tableArgument.contains(name) || domainArgument.contains(name) || otherArgument.contains(name)
    }

    /// Parses a list's TEXT into restrictions.
    static func parse(_ text: String) -> [Restriction] {
        parse(words: words(text))
    }

    static func parse(words: [String]) -> [Restriction] {
        var result: [Restriction] = []
        var i = 0
        while i < words.count {
            let word = words[i]
            let name = word.asciiLowercased
            var argument: String?
            if takesArgument(name), i + 1 < words.count {
                argument = words[i + 1]
                i += 1
            }
            result.append(Restriction(word: word, name: name, argument: argument))
            i += 1
        }
        return result
    }

    /// Splits TEXT at commas and white space outside `{ … }`; groups keep their braces.
    static func words(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        var depth = 0
        for ch in text {
            if ch == "{" {
                depth += 1
            } else if ch == "}" && depth > 0 {
                depth -= 1
            } else if depth == 0 && (ch == "," || ch == " " || ch == "\t" || ch == "\r" || ch == "\n") {
                if !current.isEmpty { result.append(current) }
                current = ""
                continue
            }
            current.append(ch)
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// The restrictions of which the relay or recipient list needs one.
    static let required = [
        "reject_unauth_destination", "defer_unauth_destination", "reject", "defer", "defer_if_permit",
        "check_relay_domains",
    ]

    /// True when LIST (or a restriction class it names) holds a required restriction
    /// before any `permit` (smtpd_check.c has_required).
    static func hasRequired(_ list: [Restriction], classes: [String: [Restriction]], depth: Int = 0) -> Bool {
        guard depth < 100 else { return false }
        var skipNext = false
        for (i, r) in list.enumerated() {
            if skipNext {
                skipNext = false
                continue
            }
            if r.name == "warn_if_reject" && i + 1 < list.count {
                skipNext = true
                continue
            }
            if r.name == "permit" {
                if i + 1 < list.count { Log.warning("restriction `\(list[i + 1].word)' after `permit' is ignored") }
                return false
            }
            if required.contains(r.name) { return true }
            if let expansion = classes[r.word], hasRequired(expansion, classes: classes, depth: depth + 1) { return true }
        }
        return false
    }
}
