// The individual restrictions and their exact replies (reference §4.2): permit, reject,
// defer, permit_mynetworks, permit_sasl_authenticated, the destination rules, the
// unlisted-recipient rule and the syntax rules for HELO names and addresses.
import Shared

extension Restrictions {
    /// `<obj>: CLASS rejected: TEXT` with the object the stage is about.
    func objectText(_ object: CheckObject, _ ctx: CheckContext) -> String {
        switch object {
        case .client: return ctx.client.nameAddress
        case .helo: return ctx.helo ?? ""
        case .sender: return ctx.sender ?? ""
        case .recipient: return ctx.recipient ?? ""
        case .data: return "DATA"
        case .etrn: return "ETRN"
        }
    }

    func refusal(_ code: Int, _ dsn: String, _ object: CheckObject, _ ctx: CheckContext, _ reason: String) -> Verdict {
        .reject(SMTPReply(code, dsn, "<\(objectText(object, ctx))>: \(object.className) rejected: \(reason)"))
    }

    func apply(_ name: String, object: CheckObject, _ ctx: CheckContext) -> Verdict {
        switch name {
        case "permit": return .permit
        case "dunno", "warn_if_reject": return .dunno
        case "reject":
            let code = config.int("reject_code")
            return refusal(code, "\(code / 100).7.1", object, ctx, "Access denied")
        case "defer":
            let code = config.int("defer_code")
            return refusal(code, "\(code / 100).3.2", object, ctx, "Try again later")
        case "permit_mynetworks":
            return mynetworks.matches(address: ctx.client.address, name: ctx.client.name) ? .permit : .dunno
        case "permit_sasl_authenticated":
            return ctx.saslUsername != nil ? .permit : .dunno
        case "reject_unauth_destination", "defer_unauth_destination", "permit_auth_destination":
            return unauthDestination(name, ctx)
        case "reject_unlisted_recipient":
            return ctx.recipient.map { rejectUnlisted(ctx, $0) } ?? .dunno
        case "reject_invalid_helo_hostname", "reject_invalid_hostname":
            guard let helo = ctx.helo else { return .dunno }
            return HostnameSyntax.isValid(helo) ? .dunno : refusal(config.int("invalid_hostname_reject_code"), "5.5.2", .helo, ctx, "Invalid name")
        case "reject_non_fqdn_helo_hostname", "reject_non_fqdn_hostname":
            guard let helo = ctx.helo else { return .dunno }
            return HostnameSyntax.isFullyQualified(helo)
                ? .dunno : refusal(config.int("non_fqdn_reject_code"), "5.5.2", .helo, ctx, "need fully-qualified hostname")
        case "reject_non_fqdn_sender":
            guard let s = ctx.sender, !s.isEmpty else { return .dunno }
            return fqdnAddress(s) ? .dunno : refusal(config.int("non_fqdn_reject_code"), "5.5.2", .sender, ctx, "need fully-qualified address")
        case "reject_non_fqdn_recipient":
            guard let r = ctx.recipient else { return .dunno }
            return fqdnAddress(r) ? .dunno : refusal(config.int("non_fqdn_reject_code"), "5.5.2", .recipient, ctx, "need fully-qualified address")
        default:
            if let verdict = saslRestriction(name, object: object, ctx) { return verdict }
            if let verdict = tlsRestriction(name, object: object, ctx) { return verdict }
            Log.warning("unknown smtpd restriction: \"\(name)\"")
            return .reject(SMTPReply(451, "4.3.5", "Server configuration error"))
        }
    }

    func fqdnAddress(_ address: String) -> Bool {
        let domain = MailAddress(address).domain
        return !domain.isEmpty && (domain.hasPrefix("[") || HostnameSyntax.isFullyQualified(domain))
    }

    /// reject_unauth_destination and friends: the recipient's domain must be ours or one
    /// we relay for.
    func unauthDestination(_ name: String, _ ctx: CheckContext) -> Verdict {
        guard let recipient = ctx.recipient else { return .dunno }
        let authorized: Bool
        do {
            authorized = try resolver.addressClass(recipient) != .other
        } catch {
            return refusal(451, "4.3.0", .recipient, ctx, "Temporary lookup failure")
        }
        if name == "permit_auth_destination" { return authorized ? .permit : .dunno }
        if authorized { return .dunno }
        var code = config.int("relay_domains_reject_code")
        if name == "defer_unauth_destination" { code -= 100 }
        return .reject(SMTPReply(code, "\(code / 100).7.1", "<\(recipient)>: Relay access denied"))
    }

    /// The local recipient check: a local domain's user must be in local_recipient_maps.
    func rejectUnlisted(_ ctx: CheckContext, _ recipient: String) -> Verdict {
        guard let exists = localRecipientExists else { return .dunno }
        do {
            guard try resolver.addressClass(recipient) == .local else { return .dunno }
            if try exists(resolver.qualified(recipient)) { return .dunno }
        } catch {
            return refusal(451, "4.3.0", .recipient, ctx, "Temporary lookup failure")
        }
        let code = config.int("unknown_local_recipient_reject_code")
        let table = config.bool("show_user_unknown_table_name") ? " in local recipient table" : ""
        return refusal(code, "\(code / 100).1.1", .recipient, ctx, "User unknown" + table)
    }
}

/// Host-name syntax as Postfix checks HELO arguments.
enum HostnameSyntax {
    /// Letters, digits, `-`, `_` and dots in labels of at most 63 characters, or an
    /// address literal `[…]`.
    static func isValid(_ name: String) -> Bool {
        if name.hasPrefix("[") && name.hasSuffix("]") {
            return NetworkList.isNumeric(String(name.dropFirst().dropLast()).replacingIPv6Prefix)
        }
        guard !name.isEmpty, name.utf8.count <= 255 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for (i, label) in labels.enumerated() {
            if label.isEmpty { return i == labels.count - 1 && labels.count > 1 }
            guard label.count <= 63, label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                return false
            }
        }
        return true
    }

    /// At least two labels, not an unbracketed IP address.
    static func isFullyQualified(_ name: String) -> Bool {
        if name.hasPrefix("[") { return isValid(name) }
        guard isValid(name), name.contains(".") else { return false }
        return !NetworkList.isNumeric(name)
    }
}

extension String {
    /// `IPv6:::1` → `::1` inside address literals.
    var replacingIPv6Prefix: String { hasPrefixIgnoringCase("ipv6:") ? String(dropFirst(5)) : self }
}
