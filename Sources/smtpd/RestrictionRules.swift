// The individual restrictions (smtpd_check.c generic_checks) and their exact replies
// (reference §4.2): the generic ones (permit, reject, defer, defer_if_permit,
// defer_if_reject, reject_unauth_pipelining, check_policy_service, sleep,
// reject_plaintext_session), the client, HELO, sender, recipient and ETRN ones, and
// restriction classes. Table-based rules are in AccessRules.swift, DNS-based ones in
// DNSRules.swift and RBLRules.swift; STARTTLS and SASL rules come from their hooks.
import Glibc
import Shared

extension Restrictions {
    /// The name replies quote for OBJECT in CTX (for the TLS and SASL hooks).
    func objectText(_ object: CheckObject, _ ctx: CheckContext) -> String {
        switch object {
        case .client: return ctx.client.nameAddress
        case .reverseClient: return ctx.client.reverseName
        case .helo: return ctx.helo ?? ""
        case .sender: return ctx.sender ?? ""
        case .recipient: return ctx.recipient ?? ""
        case .data: return "DATA"
        case .endOfData: return "END-OF-MESSAGE"
        case .etrn: return ctx.etrnDomain ?? ""
        case .clientCertificate: return ctx.tls.ccertSubject
        case .saslLogin: return ctx.saslUsername ?? ""
        }
    }

    /// `CODE DSN <obj>: CLASS rejected: REASON`, not yet checked (see `reject`).
    func refusal(_ code: Int, _ dsn: String, _ object: CheckObject, _ ctx: CheckContext, _ reason: String) -> Verdict {
        .reject(SMTPReply(code, dsn, "<\(objectText(object, ctx))>: \(object.className) rejected: \(reason)"))
    }

    /// `<name>: CLASS rejected: REASON` as a checked refusal.
    func reject(_ ctx: CheckContext, _ code: Int, _ dsn: String, _ target: CheckTarget, _ reason: String) -> Verdict {
        reject(ctx, code, dsn, "<\(target.name)>: \(target.object.className) rejected: \(reason)")
    }

    /// One restriction of a list about TARGET.
    func apply(_ r: Restriction, _ target: CheckTarget, _ ctx: CheckContext) throws -> Verdict {
        guard r.implicitTable else { return try apply(r.name, r.argument, r, target, ctx) }
        guard let access = target.defaultAccess else {
            Log.warning(
                "specify one of (check_client_access, check_reverse_client_access, check_helo_access, check_sender_access, "
                    + "check_recipient_access, check_etrn_access) before \(target.object.className) restriction \"\(r.word)\"")
            throw StageAbort.serverError
        }
        return try apply(access, r.word, r, target, ctx)
    }

    func apply(_ name: String, _ argument: String?, _ r: Restriction, _ target: CheckTarget, _ ctx: CheckContext) throws -> Verdict {
        if RestrictionList.tableArgument.contains(name) {
            guard let table = argument, table.contains(":") else {
                Log.warning("restriction \(name): bad argument \"\(argument ?? "")\": need maptype:mapname")
                throw StageAbort.serverError
            }
            return try accessRestriction(name, table, target, ctx)
        }
        if RestrictionList.domainArgument.contains(name) {
            guard let domain = argument else {
                Log.warning("restriction \(name) requires domain name argument")
                return .dunno
            }
            return try dnsListRestriction(name, domain, target, ctx)
        }
        if let verdict = try genericRestriction(name, argument, target, ctx) { return verdict }
        if let verdict = try addressRestriction(name, target, ctx) { return verdict }
        if let verdict = try dnsRestriction(name, target, ctx) { return verdict }
        if let list = classes[r.word] { return try evaluate(list, target, ctx) }
        if let verdict = saslRestriction(name, object: target.object, ctx) { return finish(verdict, ctx) }
        if let verdict = tlsRestriction(name, object: target.object, ctx) { return finish(verdict, ctx) }
        Log.warning("unknown smtpd restriction: \"\(r.word)\"")
        throw StageAbort.serverError
    }

    /// The restrictions that apply at any stage; nil for other names.
    func genericRestriction(_ name: String, _ argument: String?, _ target: CheckTarget, _ ctx: CheckContext) throws -> Verdict? {
        switch name {
        case "permit":
            return permit(name, target.object, target.name, ctx)
        case "reject":
            return reject(ctx, config.int("reject_code"), "5.7.1", target, "Access denied")
        case "defer":
            return reject(ctx, config.int("defer_code"), "4.3.2", target, "Try again later")
        case "defer_if_permit":
            return deferIfPermit(ctx, 450, "4.7.0", "<\(target.name)>: \(target.object.className) rejected: defer_if_permit requested")
        case "defer_if_reject":
            return deferIfReject(ctx, 450, "4.7.0", "<\(target.name)>: \(target.object.className) rejected: defer_if_reject requested")
        case "reject_unauth_pipelining":
            guard ctx.checks.improperPipelining else { return .dunno }
            return reject(ctx, 503, "5.5.0", "<\(target.name)>: \(target.object.className) rejected: Improper use of SMTP command pipelining",
                          .protocolError)
        case "check_policy_service":
            guard let server = argument, server.contains(":") else {
                Log.warning("restriction check_policy_service must be followed by transport:server")
                throw StageAbort.serverError
            }
            return try tableResult(policyAction(server, ctx), table: server, datum: "policy query", target, ctx)
        case "sleep":
            guard let seconds = argument.flatMap({ UInt32($0) }) else {
                Log.warning("restriction sleep must be followed by number")
                throw StageAbort.serverError
            }
            sleep(seconds)
            return .dunno
        case "reject_plaintext_session":
            guard !ctx.tls.active else { return .dunno }
            return reject(ctx, config.int("plaintext_reject_code"), "4.7.1", "Session encryption is required")
        case "permit_inet_interfaces":
            let local = Set([ctx.serverAddress] + config.list("inet_interfaces"))
            return local.contains(ctx.client.address) ? permit(name, .client, ctx.client.nameAddress, ctx) : .dunno
        case "permit_mynetworks":
            return mynetworks.matches(address: ctx.client.address, name: ctx.client.name)
                ? permit(name, .client, ctx.client.nameAddress, ctx) : .dunno
        case "permit_sasl_authenticated":
            // An ANONYMOUS login is no login for relaying.
            let loggedIn = ctx.saslUsername.map { !$0.isEmpty } ?? false && ctx.saslMethod?.uppercased() != "ANONYMOUS"
            return loggedIn ? permit(name, .client, ctx.client.nameAddress, ctx) : .dunno
        default:
            return nil
        }
    }

    /// HELO-name and address syntax, destinations and listed addresses; nil for other names.
    func addressRestriction(_ name: String, _ target: CheckTarget, _ ctx: CheckContext) throws -> Verdict? {
        switch name {
        case "reject_invalid_helo_hostname", "reject_invalid_hostname":
            guard let helo = ctx.helo else { return .dunno }
            if helo.hasPrefix("[") { return invalidHostAddress(helo, ctx) }
            let name = HostnameSyntax.truncatingDot(helo)
            guard HostnameSyntax.isValidHostname(name) || HostnameSyntax.isHostAddress(name) else {
                return reject(ctx, config.int("invalid_hostname_reject_code"), "5.5.2", CheckTarget(object: .helo, name: helo, defaultAccess: nil),
                              "Invalid name")
            }
            return .dunno
        case "reject_non_fqdn_helo_hostname", "reject_non_fqdn_hostname":
            guard let helo = ctx.helo else { return .dunno }
            if helo.hasPrefix("[") { return invalidHostAddress(helo, ctx) }
            let name = HostnameSyntax.truncatingDot(helo)
            guard HostnameSyntax.isValidHostname(name), name.contains(".") else {
                return reject(ctx, config.int("non_fqdn_reject_code"), "5.5.2", CheckTarget(object: .helo, name: helo, defaultAccess: nil),
                              "need fully-qualified hostname")
            }
            return .dunno
        case "permit_naked_ip_address":
            Log.warning("restriction permit_naked_ip_address is deprecated. Use permit_mynetworks or permit_sasl_authenticated instead")
            guard let helo = ctx.helo, !helo.isEmpty, helo.allSatisfy({ $0.isNumber || $0 == "." || $0 == ":" }) else { return .dunno }
            let verdict = invalidHostAddress(helo, ctx)
            return verdict == .dunno ? permit(name, .helo, helo, ctx) : verdict
        case "reject_non_fqdn_sender":
            guard let sender = ctx.sender, !sender.isEmpty else { return .dunno }
            return nonFQDNAddress(sender, .sender, ctx)
        case "reject_non_fqdn_recipient":
            guard let recipient = ctx.recipient else { return .dunno }
            return nonFQDNAddress(recipient, .recipient, ctx)
        case "permit_auth_destination", "reject_unauth_destination", "defer_unauth_destination", "check_relay_domains":
            guard let recipient = ctx.recipient else { return .dunno }
            return try unauthDestination(name, recipient, ctx)
        case "reject_unlisted_recipient", "check_recipient_maps":
            guard let recipient = ctx.recipient, !recipient.isEmpty else { return .dunno }
            return try unlistedRecipient(ctx, recipient)
        case "reject_unlisted_sender":
            guard let sender = ctx.sender, !sender.isEmpty else { return .dunno }
            return try unlistedSender(ctx, sender)
        case "reject_multi_recipient_bounce":
            guard ctx.sender == "", ctx.recipientCount > (ctx.protocolState == "RCPT" ? 0 : 1) else { return .dunno }
            return reject(ctx, config.int("multi_recipient_bounce_reject_code"), "5.5.3", target, "Multi-recipient bounce")
        default:
            return nil
        }
    }

    /// An address literal HELO (`[…]`) that is not a valid IP address.
    func invalidHostAddress(_ helo: String, _ ctx: CheckContext) -> Verdict {
        var address = helo
        if address.hasPrefix("["), address.hasSuffix("]"), address.count > 2 { address = String(address.dropFirst().dropLast()) }
        guard !HostnameSyntax.isMailHostAddress(address) else { return .dunno }
        return reject(ctx, config.int("invalid_hostname_reject_code"), "5.5.2", CheckTarget(object: .helo, name: helo, defaultAccess: nil),
                      "invalid ip address")
    }

    /// reject_non_fqdn_sender / _recipient: the domain must be a valid name with a dot.
    func nonFQDNAddress(_ address: String, _ object: CheckObject, _ ctx: CheckContext) -> Verdict {
        let domain = address.lastIndex(of: "@").map { String(address[address.index(after: $0)...]) } ?? ""
        if domain.hasPrefix("[") && domain.hasSuffix("]") { return .dunno }
        let name = HostnameSyntax.truncatingDot(domain)
        if !name.isEmpty && HostnameSyntax.isValidHostname(name) && name.contains(".") { return .dunno }
        return reject(ctx, config.int("non_fqdn_reject_code"), "4.5.2", CheckTarget(object: object, name: address, defaultAccess: nil),
                      "need fully-qualified address")
    }

    /// The destination rules: the recipient's domain must be ours or one we relay for.
    func unauthDestination(_ name: String, _ recipient: String, _ ctx: CheckContext) throws -> Verdict {
        let authorized: Bool
        do {
            authorized = try resolver.addressClass(recipient) != .other
        } catch {
            throw StageAbort.lookupFailure(recipient)
        }
        let target = CheckTarget(object: .recipient, name: recipient, defaultAccess: nil)
        switch name {
        case "permit_auth_destination":
            return authorized ? permit(name, .recipient, recipient, ctx) : .dunno
        case "check_relay_domains":
            if authorized || (try? resolver.relayDomains.contains(ctx.client.name)) == true { return permit(name, .recipient, recipient, ctx) }
            return reject(ctx, config.int("relay_domains_reject_code"), "5.7.1", target, "Relay access denied")
        default:
            if authorized { return .dunno }
            let deferring = name == "defer_unauth_destination"
            let code = config.int("relay_domains_reject_code") - (deferring ? 100 : 0)
            return reject(ctx, code, deferring ? "4.7.1" : "5.7.1", "<\(recipient)>: Relay access denied")
        }
    }

    /// reject_unlisted_recipient: a local domain's user must be in local_recipient_maps.
    func unlistedRecipient(_ ctx: CheckContext, _ recipient: String) throws -> Verdict {
        let state = ctx.checks
        if state.recipientListChecked { return .dunno }
        if state.warnIfReject == 0 { state.recipientListChecked = true }
        return try unlisted(ctx, recipient, .recipient)
    }

    /// reject_unlisted_sender: the same test for the sender address.
    func unlistedSender(_ ctx: CheckContext, _ sender: String) throws -> Verdict {
        let state = ctx.checks
        if state.senderListChecked { return .dunno }
        if state.warnIfReject == 0 { state.senderListChecked = true }
        return try unlisted(ctx, sender, .sender)
    }

    func unlisted(_ ctx: CheckContext, _ address: String, _ object: CheckObject) throws -> Verdict {
        guard case .reject(let reply) = rejectUnlisted(ctx, address, object) else { return .dunno }
        if reply.code == 451 { throw StageAbort.lookupFailure(address) }
        return reject(ctx, reply.code, reply.enhanced ?? "5.1.1", reply.lines[0], .bounce)
    }

    /// The local recipient check (an unchecked refusal, also for VRFY): a local
    /// domain's user must be in local_recipient_maps.
    func rejectUnlisted(_ ctx: CheckContext, _ address: String, _ object: CheckObject = .recipient) -> Verdict {
        guard let exists = localRecipientExists else { return .dunno }
        let qualified = resolver.qualified(address)
        let local = MailAddress(qualified).localPart.asciiLowercased
        do {
            guard try resolver.addressClass(address) == .local else { return .dunno }
            if [config.value("double_bounce_sender").asciiLowercased, "postmaster", "mailer-daemon"].contains(local) { return .dunno }
            if try exists(qualified) { return .dunno }
        } catch {
            return .reject(SMTPReply(451, "4.3.0", "<\(address)>: Temporary lookup failure"))
        }
        let code = config.int("unknown_local_recipient_reject_code")
        let table = config.bool("show_user_unknown_table_name") ? " in local recipient table" : ""
        let dsn = object == .sender ? "5.1.0" : "5.1.1"
        return .reject(SMTPReply(code, "\(code / 100)" + dsn.dropFirst(), "<\(address)>: \(object.className) rejected: User unknown" + table))
    }
}
