// DNS block and allow lists (smtpd_check.c reject_rbl_addr, reject_rbl_domain,
// permit_dnswl_*, rbl_reject_reply): reject_rbl_client, reject_rhsbl_client,
// _reverse_client, _helo, _sender, _recipient, permit_dnswl_client, permit_rhswl_client
// and the old reject_maps_rbl. The query is the reversed client address (or the
// domain) under the list's zone; an optional `=127.0.0.2` / `=127.0.0.[2..11;20]` filter
// must match one of the A records. The reply comes from rbl_reply_maps (keyed by the
// list as written) or default_rbl_reply, expanded with $rbl_code, $rbl_domain,
// $rbl_reason (the TXT records joined by " / "), $rbl_what and $rbl_class. A list that
// cannot be asked is logged and skipped, as Postfix does: one unreachable list must not
// block all mail.
import Shared

/// What a DNS list says about one query name.
enum RBLAnswer {
    case listed(addresses: [String], text: String)
    case notListed
    case failed
}

extension Restrictions {
    /// The DNS-list restrictions with their DOMAIN argument (`zone` or `zone=filter`).
    func dnsListRestriction(_ name: String, _ domain: String, _ target: CheckTarget, _ ctx: CheckContext) throws -> Verdict {
        let client = ctx.client
        switch name {
        case "reject_rbl_client", "reject_rbl":
            return try rejectListed(domain, query: Restrictions.reversed(client.address), what: client.address, .client, ctx)
        case "permit_dnswl_client":
            return try permitListed(name, domain, query: Restrictions.reversed(client.address), what: client.address, .client, ctx)
        case "reject_rhsbl_client":
            guard client.name != "unknown", let query = Restrictions.domainQuery(client.name) else { return .dunno }
            return try rejectListed(domain, query: query, what: client.name, .client, ctx)
        case "permit_rhswl_client":
            guard client.name != "unknown", let query = Restrictions.domainQuery(client.name) else { return .dunno }
            return try permitListed(name, domain, query: query, what: client.name, .client, ctx)
        case "reject_rhsbl_reverse_client":
            guard client.reverseName != "unknown", let query = Restrictions.domainQuery(client.reverseName) else { return .dunno }
            return try rejectListed(domain, query: query, what: client.reverseName, .reverseClient, ctx)
        case "reject_rhsbl_helo":
            guard let helo = ctx.helo, let query = Restrictions.domainQuery(helo) else { return .dunno }
            return try rejectListed(domain, query: query, what: helo, .helo, ctx)
        case "reject_rhsbl_sender":
            guard let sender = ctx.sender, !sender.isEmpty, let query = Restrictions.domainQuery(sender) else { return .dunno }
            return try rejectListed(domain, query: query, what: sender, .sender, ctx)
        default:
            guard let recipient = ctx.recipient, let query = Restrictions.domainQuery(recipient) else { return .dunno }
            return try rejectListed(domain, query: query, what: recipient, .recipient, ctx)
        }
    }

    /// reject_maps_rbl: reject_rbl_client for each of maps_rbl_domains.
    func rejectMapsRBL(_ ctx: CheckContext) throws -> Verdict {
        Log.warning("support for restriction \"reject_maps_rbl\" will be removed from \(config.value("mail_name")); use \"reject_rbl_client domain-name\" instead")
        for domain in config.list("maps_rbl_domains") {
            let verdict = try rejectListed(domain, query: Restrictions.reversed(ctx.client.address), what: ctx.client.address, .client, ctx)
            if verdict != .dunno { return verdict }
        }
        return .dunno
    }

    func rejectListed(_ list: String, query: String, what: String, _ object: CheckObject, _ ctx: CheckContext) throws -> Verdict {
        guard case .listed(_, let text) = try lookUpListed(list, query: query) else { return .dunno }
        return try rblReply(list, what: what, text: text, object, ctx)
    }

    func permitListed(_ name: String, _ list: String, query: String, what: String, _ object: CheckObject, _ ctx: CheckContext) throws -> Verdict {
        if ctx.protocolState == "RCPT", let recipient = ctx.recipient {
            let authorized = (try? resolver.addressClass(recipient)).map { $0 != .other } ?? false
            if !authorized { return .dunno }
        }
        switch try lookUpListed(list, query: query) {
        case .listed: return permit(name, .client, ctx.client.nameAddress, ctx)
        case .notListed: return .dunno
        case .failed: return deferIfReject(ctx, 450, "4.7.1", "<\(what)>: \(object.className) rejected: Service unavailable")
        }
    }

    /// Asks LIST (`zone[=filter]`) about QUERY; a listing must pass the filter.
    func lookUpListed(_ list: String, query: String) throws -> RBLAnswer {
        let zone = list.split(separator: "=", maxSplits: 1).first.map(String.init) ?? list
        let filter = list.contains("=") ? String(list[list.index(after: list.firstIndex(of: "=")!)...]) : nil
        let name = query + "." + zone
        let answer = rblAnswer(name)
        guard let filter, case .listed(let addresses, _) = answer else { return answer }
        guard let pattern = IPMatch(filter) else {
            Log.warning("RBL reply error: bad address pattern: \"\(filter)\"")
            throw StageAbort.serverError
        }
        return addresses.contains(where: pattern.matches) ? answer : .notListed
    }

    /// The A records of NAME and, when there are some, its TXT records joined.
    func rblAnswer(_ name: String) -> RBLAnswer {
        switch dns.ipv4Addresses(name) {
        case .failed(let reason):
            Log.warning("\(name): RBL lookup error: Host or domain name not found. Name service error for name=\(name) type=A: \(reason)")
            return .failed
        case .notFound:
            return .notListed
        case .found(let addresses):
            var text = (dns.txt(name).value ?? []).joined(separator: " / ")
            if text.utf8.count > 500 { text = Restrictions.printable(text, limit: 500) }
            return .listed(addresses: addresses, text: text)
        }
    }

    /// The refusal for a listed WHAT: rbl_reply_maps or default_rbl_reply, expanded.
    func rblReply(_ list: String, what: String, text: String, _ object: CheckObject, _ ctx: CheckContext) throws -> Verdict {
        var template: String?
        let maps = config.value("rbl_reply_maps")
        if !maps.trimmed.isEmpty {
            do {
                template = try TableRegistry.openList(maps).lookup(list)
            } catch {
                Log.warning("rbl_reply_maps: \(error)")
                throw StageAbort.serverError
            }
        }
        var variables = expansionVariables(ctx)
        variables["rbl_code"] = String(config.int("maps_rbl_reject_code"))
        variables["rbl_domain"] = list.split(separator: "=", maxSplits: 1).first.map(String.init) ?? list
        variables["rbl_reason"] = text
        variables["rbl_txt"] = text
        variables["rbl_what"] = what
        variables["rbl_class"] = object.className
        let reply = config.expand(template ?? config.raw("default_rbl_reply") ?? "", variables: variables)
        let bytes = Array(reply.utf8)
        guard bytes.count >= 4, bytes[0] == UInt8(ascii: "4") || bytes[0] == UInt8(ascii: "5"),
            bytes[1...2].allSatisfy({ $0 >= 48 && $0 <= 57 }), bytes[3] == UInt8(ascii: " "), let code = Int(reply.prefix(3))
        else {
            Log.warning("rbl response code configuration error: \(reply)")
            return reject(ctx, 450, "4.7.1", "Service unavailable")
        }
        let (dsn, rest) = AccessAction.splitDSN(String(reply.dropFirst(4)))
        return reject(ctx, code, Restrictions.dsnFix(dsn ?? "4.7.1", object), rest.isEmpty ? "Service unavailable" : rest)
    }

    /// The session facts reply templates may name (smtpd_expand.c).
    func expansionVariables(_ ctx: CheckContext) -> [String: String] {
        func local(_ a: String?) -> String { a.map { MailAddress($0).localPart } ?? "" }
        func domain(_ a: String?) -> String { a.map { MailAddress($0).domain } ?? "" }
        return [
            "client_address": ctx.client.address, "client_name": ctx.client.name, "client_port": String(ctx.client.port),
            "reverse_client_name": ctx.client.reverseName, "helo_name": ctx.helo ?? "",
            "sender": ctx.sender ?? "", "sender_name": local(ctx.sender), "sender_domain": domain(ctx.sender),
            "recipient": ctx.recipient ?? "", "recipient_name": local(ctx.recipient), "recipient_domain": domain(ctx.recipient),
        ]
    }

    /// The client address as a DNS-list query label sequence (`4.3.2.1`, or 32 nibbles).
    static func reversed(_ address: String) -> String {
        guard let name = DNSRecords.reverseName(address) else { return address }
        for suffix in [".in-addr.arpa", ".ip6.arpa"] where name.hasSuffix(suffix) { return String(name.dropLast(suffix.count)) }
        return name
    }

    /// The domain of WHAT (an address or a name) as an RHSBL query, or nil when Postfix
    /// would not ask: address literals, names ending in a numeric label, invalid names.
    static func domainQuery(_ what: String) -> String? {
        let domain = what.lastIndex(of: "@").map { String(what[what.index(after: $0)...]) } ?? what
        if domain.isEmpty || domain.hasPrefix("[") { return nil }
        let last = domain.split(separator: ".", omittingEmptySubsequences: false).last ?? ""
        if !last.isEmpty && last.allSatisfy({ $0.isASCII && $0.isNumber }) { return nil }
        return HostnameSyntax.isValidHostname(domain) ? domain : nil
    }
}

/// Postfix's ip_match patterns for DNS-list replies: four octets, each a number or a
/// `[n;m..k;…]` set (`127.0.0.2`, `127.0.0.[2..11]`, `127.0.[0;1].[2;4..6]`).
struct IPMatch {
    let octets: [[ClosedRange<Int>]]

    init?(_ pattern: String) {
        var octets: [[ClosedRange<Int>]] = []
        var rest = Substring(pattern)
        while !rest.isEmpty {
            var ranges: [ClosedRange<Int>] = []
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { return nil }
                for item in rest[rest.index(after: rest.startIndex)..<close].split(separator: ";", omittingEmptySubsequences: false) {
                    let chars = Array(item)
                    let dots = chars.indices.first { $0 + 1 < chars.count && chars[$0] == "." && chars[$0 + 1] == "." }
                    let lowText = String(chars[..<(dots ?? chars.count)])
                    let highText = dots.map { String(chars[($0 + 2)...]) } ?? lowText
                    guard let low = IPMatch.octet(lowText), let high = IPMatch.octet(highText), low <= high else { return nil }
                    ranges.append(low...high)
                }
                rest = rest[rest.index(after: close)...]
            } else {
                let digits = rest.prefix { $0 != "." }
                guard let value = IPMatch.octet(String(digits)) else { return nil }
                ranges.append(value...value)
                rest = rest.dropFirst(digits.count)
            }
            octets.append(ranges)
            if rest.hasPrefix(".") {
                rest = rest.dropFirst()
                if rest.isEmpty { return nil }
            } else if !rest.isEmpty {
                return nil
            }
        }
        guard octets.count == 4 else { return nil }
        self.octets = octets
    }

    static func octet(_ text: String) -> Int? {
        guard !text.isEmpty, text.count <= 3, text.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int(text), v <= 255 else { return nil }
        return v
    }

    /// Whether the IPv4 ADDRESS matches.
    func matches(_ address: String) -> Bool {
        let parts = address.split(separator: ".").compactMap { Int($0) }
        guard parts.count == 4 else { return false }
        return zip(parts, octets).allSatisfy { value, ranges in ranges.contains { $0.contains(value) } }
    }
}
