// The restrictions that ask the DNS (smtpd_check.c): reject_unknown_client_hostname and
// reject_unknown_reverse_client_hostname (from the client name lookup at connect),
// reject_unknown_helo_hostname (A, AAAA or MX must exist; a null MX is fine for an MTA
// name), reject_unknown_sender_domain / _recipient_domain (MX, else A/AAAA; a null MX
// is refused with 550 5.7.27 / 556 5.1.10), and check_*_{mx,ns,a}_access, which look up
// the MX hosts, name servers or addresses of a name in an access table. A temporary DNS
// failure never rejects for good: it defers (defer_if_permit by default) with 450.
import Shared

/// What a name's records say for the unknown-host checks (dns_lookup_l).
enum HostLookup: Equatable {
    case found, nullMX, notFound, failed
}

extension Restrictions {
    /// The DNS-based rules without an argument; nil for other names.
    func dnsRestriction(_ name: String, _ target: CheckTarget, _ ctx: CheckContext) throws -> Verdict? {
        let client = ctx.client
        switch name {
        case "reject_unknown_client_hostname", "reject_unknown_client":
            guard client.nameStatus != .ok else { return .dunno }
            let code = client.nameStatus == .temporary ? 450 : config.int("unknown_client_reject_code")
            return reject(ctx, code, "4.7.25", "Client host rejected: cannot find your hostname, [\(client.address)]")
        case "reject_unknown_reverse_client_hostname":
            guard client.reverseNameStatus != .ok else { return .dunno }
            let code = client.reverseNameStatus == .permanent ? config.int("unknown_client_reject_code") : 450
            return reject(ctx, code, "4.7.1", "Client host rejected: cannot find your reverse hostname, [\(client.address)]")
        case "reject_unknown_helo_hostname", "reject_unknown_hostname":
            guard let helo = ctx.helo else { return .dunno }
            if helo.hasPrefix("[") { return invalidHostAddress(helo, ctx) }
            return unknownHostname(helo, ctx)
        case "reject_unknown_sender_domain", "reject_unknown_address":
            guard let sender = ctx.sender, !sender.isEmpty else { return .dunno }
            return try unknownAddress(sender, .sender, ctx)
        case "reject_unknown_recipient_domain":
            guard let recipient = ctx.recipient else { return .dunno }
            return try unknownAddress(recipient, .recipient, ctx)
        case "reject_maps_rbl":
            return try rejectMapsRBL(ctx)
        default:
            return nil
        }
    }

    /// reject_unknown_helo_hostname: the name needs an A, AAAA or MX record.
    func unknownHostname(_ helo: String, _ ctx: CheckContext) -> Verdict {
        let target = CheckTarget(object: .helo, name: helo, defaultAccess: nil)
        switch hostLookup(helo, addressesFirst: true) {
        case .found, .nullMX:
            return .dunno
        case .notFound:
            return reject(ctx, config.int("unknown_hostname_reject_code"), "4.7.1", target, "Host not found")
        case .failed:
            return deferIfPermit(ctx, 450, "4.7.1", "<\(helo)>: Helo command rejected: Host not found", defers: unknownNameDefersIfPermit)
        }
    }

    /// reject_unknown_sender_domain / _recipient_domain: a domain we do not deliver to
    /// ourselves needs an MX, A or AAAA record, and must not have a null MX.
    func unknownAddress(_ address: String, _ object: CheckObject, _ ctx: CheckContext) throws -> Verdict {
        let qualified = resolver.qualified(address)
        guard let at = qualified.lastIndex(of: "@") else { return .dunno }
        let domain = String(qualified[qualified.index(after: at)...])
        let addressClass: Route.Class
        do {
            addressClass = try resolver.addressClass(qualified)
        } catch {
            throw StageAbort.lookupFailure(address)
        }
        if addressClass == .local || addressClass == .virtualAlias || addressClass == .virtualMailbox { return .dunno }
        if domain.hasPrefix("[") && domain.hasSuffix("]") { return .dunno }
        let sender = object == .sender
        let target = CheckTarget(object: object, name: address, defaultAccess: nil)
        switch hostLookup(domain, addressesFirst: false) {
        case .found:
            return .dunno
        case .nullMX:
            return reject(ctx, sender ? 550 : 556, sender ? "4.7.27" : "4.1.10", target, "Domain \(domain) does not accept mail (nullMX)")
        case .notFound:
            return reject(ctx, config.int("unknown_address_reject_code"), sender ? "4.1.8" : "4.1.2", target, "Domain not found")
        case .failed:
            return deferIfPermit(ctx, 450, sender ? "4.1.8" : "4.1.2", "<\(address)>: \(object.className) rejected: Domain not found",
                                 defers: unknownAddressDefersIfPermit)
        }
    }

    /// Looks NAME up as Postfix's dns_lookup_l does: A, AAAA then MX for a host name
    /// (ADDRESSESFIRST), MX then A, AAAA for a mail domain; the first type with records
    /// decides; NXDOMAIN ends the search; a temporary failure of any type, with nothing
    /// found, is a temporary failure.
    func hostLookup(_ name: String, addressesFirst: Bool) -> HostLookup {
        var failed = false
        func mx() -> HostLookup? {
            switch dns.mx(name) {
            case .found(let records): return records.count == 1 && records[0].isNullMX ? .nullMX : .found
            case .notFound(let nxdomain): return nxdomain ? .notFound : nil
            case .failed:
                failed = true
                return nil
            }
        }
        func addresses() -> HostLookup? {
            switch dns.addresses(name) {
            case .found: return .found
            case .notFound(let nxdomain): return nxdomain ? .notFound : nil
            case .failed:
                failed = true
                return nil
            }
        }
        let steps = addressesFirst ? [addresses, mx] : [mx, addresses]
        for step in steps {
            if let result = step() {
                if result == .notFound && failed { return .failed }
                return result
            }
        }
        return failed ? .failed : .notFound
    }

    /// check_{client,reverse_client,helo,sender,recipient}_{mx,ns,a}_access.
    func serverAccess(_ name: String, _ table: String, _ target: CheckTarget, _ ctx: CheckContext) throws -> Verdict {
        let parts = name.dropFirst("check_".count).dropLast("_access".count)
        guard let kind = parts.split(separator: "_").last, let type = ["mx": DNSRecordType.mx, "ns": .ns, "a": .a][String(kind)] else {
            Log.warning("unknown smtpd restriction: \"\(name)\"")
            throw StageAbort.serverError
        }
        let object = String(parts.dropLast(kind.count + 1))
        let acl = target.defaultAccess
        let what: String
        let replyTarget: CheckTarget
        switch object {
        case "client":
            guard ctx.client.name != "unknown" else { return .dunno }
            what = ctx.client.name
            replyTarget = CheckTarget(object: .client, name: ctx.client.nameAddress, defaultAccess: acl)
        case "reverse_client":
            guard ctx.client.reverseName != "unknown" else { return .dunno }
            what = ctx.client.reverseName
            replyTarget = CheckTarget(object: .reverseClient, name: what, defaultAccess: acl)
        case "helo":
            guard let helo = ctx.helo else { return .dunno }
            what = helo
            replyTarget = CheckTarget(object: .helo, name: helo, defaultAccess: acl)
        case "sender":
            guard let sender = ctx.sender, !sender.isEmpty else { return .dunno }
            what = sender
            replyTarget = CheckTarget(object: .sender, name: sender, defaultAccess: acl)
        default:
            guard let recipient = ctx.recipient, !recipient.isEmpty else { return .dunno }
            what = recipient
            replyTarget = CheckTarget(object: .recipient, name: recipient, defaultAccess: acl)
        }
        let verdict = try serverAccess(table, what, type, replyTarget, ctx)
        return try forbidAllowlist(name, verdict, what, ctx)
    }

    /// check_server_access: the MX hosts (or name servers, or the name itself for A) of
    /// WHAT's domain, by name and then by address, in TABLE.
    func serverAccess(_ table: String, _ what: String, _ type: DNSRecordType, _ target: CheckTarget, _ ctx: CheckContext) throws -> Verdict {
        var domain = what.lastIndex(of: "@").map { String(what[what.index(after: $0)...]) } ?? what
        if domain.hasPrefix("[") {
            guard type != .ns, domain.hasSuffix("]"), domain.count > 2 else { return .dunno }
            let literal = String(domain.dropFirst().dropLast())
            guard HostnameSyntax.isMailHostAddress(literal) else { return .dunno }
            return try access(table, AccessMap.networkKeys(literal.hasPrefixIgnoringCase("ipv6:") ? String(literal.dropFirst(5)) : literal), target, ctx)
        }
        var servers: [String]
        switch type {
        case .mx:
            switch dns.mx(domain) {
            case .found(let records):
                if records.count == 1 && records[0].isNullMX { return .dunno }
                servers = records.map(\.host)
            case .notFound: servers = [domain]
            case .failed(let reason):
                Log.warning("Unable to look up MX host for \(domain): \(reason)")
                return .dunno
            }
        case .ns:
            var answer = dns.ns(domain)
            while case .notFound = answer, let dot = domain.firstIndex(of: "."), domain.index(after: dot) < domain.endIndex {
                domain = String(domain[domain.index(after: dot)...])
                answer = dns.ns(domain)
            }
            switch answer {
            case .found(let names): servers = names
            case .notFound:
                Log.warning("Unable to look up NS host for \(domain): Host not found")
                return .dunno
            case .failed(let reason):
                Log.warning("Unable to look up NS host for \(domain): \(reason)")
                return .dunno
            }
        default:
            servers = [domain]
        }
        for server in servers {
            if HostnameSyntax.isHostAddress(server) {
                if let verdict = try accessLookup(table, AccessMap.networkKeys(server), target, ctx) { return verdict }
                continue
            }
            if type != .a, let verdict = try accessLookup(table, AccessMap.domainKeys(server, accessSearch), target, ctx) {
                return verdict
            }
            guard let addresses = dns.addresses(server).value else {
                if type != .a {
                    Log.warning("Unable to look up \(type == .mx ? "MX" : "NS") host \(server) for \(target.object.className) \(target.name): hostname not found")
                }
                continue
            }
            for address in addresses {
                if let verdict = try accessLookup(table, AccessMap.networkKeys(address), target, ctx) { return verdict }
            }
        }
        return .dunno
    }
}
