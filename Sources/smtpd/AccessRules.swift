// access(5) in the restriction lists (smtpd_check.c check_*_access, check_table_result):
// check_client_access, check_reverse_client_access, check_helo_access,
// check_sender_access, check_recipient_access, check_etrn_access, check_sasl_access
// and check_ccert_access look up their keys in Postfix's order (AccessMap.swift) and
// turn the first value found into a decision; check_policy_service answers go through
// the same translation. Address-class DSNs in table texts are fixed up per object
// (smtpd_dsn_fix.c, reference §4.1).
import Shared

extension Restrictions {
    /// The check_*_access restrictions with their TABLE; the MX/NS/A variants are in
    /// DNSRules.swift.
    func accessRestriction(_ name: String, _ table: String, _ target: CheckTarget, _ ctx: CheckContext) throws -> Verdict {
        let acl = target.defaultAccess
        switch name {
        case "check_client_access":
            let client = CheckTarget(object: .client, name: ctx.client.nameAddress, defaultAccess: acl)
            return try access(table, AccessMap.hostKeys(name: ctx.client.name, address: ctx.client.address, accessSearch), client, ctx)
        case "check_reverse_client_access":
            let reverse = ctx.client.reverseName
            let verdict = try access(table, AccessMap.hostKeys(name: reverse, address: ctx.client.address, accessSearch),
                                     CheckTarget(object: .reverseClient, name: reverse, defaultAccess: acl), ctx)
            return try forbidAllowlist(name, verdict, reverse, ctx)
        case "check_helo_access":
            guard let helo = ctx.helo else { return .dunno }
            return try access(table, AccessMap.domainKeys(helo, accessSearch), CheckTarget(object: .helo, name: helo, defaultAccess: acl), ctx)
        case "check_sender_access":
            guard let sender = ctx.sender else { return .dunno }
            let keys = sender.isEmpty ? [AccessKey(accessSearch.nullSenderKey, partial: false)]
                : AccessMap.addressKeys(resolver.qualified(sender), accessSearch)
            return try access(table, keys, CheckTarget(object: .sender, name: sender, defaultAccess: acl), ctx)
        case "check_recipient_access":
            guard let recipient = ctx.recipient else { return .dunno }
            return try access(table, AccessMap.addressKeys(resolver.qualified(recipient), accessSearch),
                              CheckTarget(object: .recipient, name: recipient, defaultAccess: acl), ctx)
        case "check_etrn_access":
            guard let domain = ctx.etrnDomain else { return .dunno }
            return try access(table, AccessMap.domainKeys(domain, accessSearch), CheckTarget(object: .etrn, name: domain, defaultAccess: acl), ctx)
        case "check_sasl_access":
            guard config.bool("smtpd_sasl_auth_enable") else {
                Log.warning("restriction `\(name)' ignored: no SASL support")
                return .dunno
            }
            guard let login = ctx.saslUsername, !login.isEmpty else { return .dunno }
            let shown = String(login.unicodeScalars.map { $0.value < 32 || $0.value == 127 ? "_" : Character($0) })
            return try access(table, [AccessKey(login, partial: false)], CheckTarget(object: .saslLogin, name: shown, defaultAccess: acl), ctx)
        case "check_ccert_access":
            return try clientCertificateAccess(table, acl, ctx)
        default:
            return try serverAccess(name, table, target, ctx)
        }
    }

    /// check_ccert_access: the certificate fingerprint, then the public-key fingerprint.
    func clientCertificateAccess(_ table: String, _ acl: String?, _ ctx: CheckContext) throws -> Verdict {
        guard ctx.tls.active, !ctx.tls.ccertFingerprint.isEmpty else {
            if !config.bool("smtpd_tls_ask_ccert") { Log.warning("check_ccert_access is requested, but \"smtpd_tls_ask_ccert = no\"") }
            return .dunno
        }
        let target = CheckTarget(object: .clientCertificate, name: ctx.tls.ccertSubject, defaultAccess: acl)
        for print in [ctx.tls.ccertFingerprint, ctx.tls.ccertPubkeyFingerprint] where !print.isEmpty {
            let verdict = try access(table, [AccessKey(print, partial: false)], target, ctx)
            if verdict != .dunno { return verdict }
        }
        return .dunno
    }

    /// Looks KEYS up in TABLE in order; the first entry found (DUNNO included) decides.
    func access(_ table: String, _ keys: [AccessKey], _ target: CheckTarget, _ ctx: CheckContext) throws -> Verdict {
        try accessLookup(table, keys, target, ctx) ?? .dunno
    }

    /// Like `access`, but nil when no key is in the table.
    func accessLookup(_ spec: String, _ keys: [AccessKey], _ target: CheckTarget, _ ctx: CheckContext) throws -> Verdict? {
        let failure = "451 4.3.5 Server configuration error"
        do {
            let table = try tables[spec] ?? TableRegistry.open(spec)
            guard let match = try table.accessLookup(keys) else { return nil }
            return try tableResult(match.value, table: spec, datum: match.key.key, target, ctx)
        } catch let error as TableError {
            if case .configuration = error { Log.warning("\(spec): \(error)") }
            return try tableResult(failure, table: spec, datum: target.name, target, ctx)
        }
    }

    /// The MX/NS/A and reverse-client checks may not permit (they are too easy to forge).
    func forbidAllowlist(_ name: String, _ verdict: Verdict, _ what: String, _ ctx: CheckContext) throws -> Verdict {
        guard verdict == .permit, !ctx.checks.discard else { return verdict }
        Log.warning("restriction \(name) returns OK for \(what)")
        Log.warning("this is not allowed for security reasons")
        Log.warning("use DUNNO instead of OK if you want to make an exception")
        throw StageAbort.serverError
    }

    /// What an access-table (or policy server) VALUE means for TARGET (check_table_result).
    func tableResult(_ value: String, table: String, datum: String, _ target: CheckTarget, _ ctx: CheckContext) throws -> Verdict {
        let name = target.name
        let what = target.object.className
        switch AccessAction(value) {
        case .dunno:
            return .dunno
        case .ok, .relay:
            return permit(String(value.prefix { $0 != " " && $0 != "\t" }), target.object, name, ctx, from: table)
        case .reject(let dsn, let text):
            return reject(ctx, config.int("access_map_reject_code"), Restrictions.dsnFix(dsn ?? "5.7.1", target.object), target,
                          text ?? "Access denied")
        case .defer(let dsn, let text):
            return reject(ctx, config.int("access_map_defer_code"), Restrictions.dsnFix(dsn ?? "4.7.1", target.object), target,
                          text ?? "Access denied")
        case .reply(let code, let dsn, let text):
            return reject(ctx, code, Restrictions.dsnFix(dsn ?? "\(code / 100).7.1", target.object), target, text)
        case .deferIfPermit(let dsn, let text):
            return deferIfPermit(ctx, config.int("access_map_defer_code"), Restrictions.dsnFix(dsn ?? "4.7.1", target.object),
                                 "<\(name)>: \(what) rejected: \(text ?? "Service unavailable")")
        case .deferIfReject(let dsn, let text):
            return deferIfReject(ctx, config.int("access_map_defer_code"), Restrictions.dsnFix(dsn ?? "4.7.1", target.object),
                                 "<\(name)>: \(what) rejected: \(text ?? "Service unavailable")")
        case .info(let text):
            logWhatsup("info", text ?? "", ctx)
            return .dunno
        case .warn(let text):
            logWhatsup("warn", text ?? "", ctx)
            return .dunno
        case .hold(let text):
            guard canDelegate(table, "HOLD", ctx), !ctx.checks.actions.contains("HOLD") else { return .dunno }
            logWhatsup("hold", "<\(name)>: \(what) \(text ?? "triggers HOLD action")", ctx)
            unsupportedAction("HOLD", ctx)
            return .dunno
        case .discard(let text):
            guard canDelegate(table, "DISCARD", ctx) else { return .dunno }
            logWhatsup("discard", "<\(name)>: \(what) \(text ?? "triggers DISCARD action")", ctx)
            ctx.checks.discard = true
            return permit("DISCARD", target.object, name, ctx, from: table)
        case .filter(let destination):
            guard canDelegate(table, "FILTER", ctx) else { return .dunno }
            logWhatsup("filter", "<\(name)>: \(what) triggers FILTER \(destination)", ctx)
            unsupportedAction("FILTER", ctx)
            return .dunno
        case .redirect(let address):
            guard canDelegate(table, "REDIRECT", ctx) else { return .dunno }
            logWhatsup("redirect", "<\(name)>: \(what) triggers REDIRECT \(address)", ctx)
            unsupportedAction("REDIRECT", ctx)
            return .dunno
        case .bcc(let address):
            guard canDelegate(table, "BCC", ctx) else { return .dunno }
            logWhatsup("bcc", "<\(name)>: \(what) triggers BCC \(address)", ctx)
            unsupportedAction("BCC", ctx)
            return .dunno
        case .prepend:
            guard ctx.sender != nil || warnSkipped(table, "PREPEND") else { return .dunno }
            if ctx.protocolState == "END-OF-MESSAGE" {
                Log.warning("access table \(table): action PREPEND must be used before smtpd_end_of_data_restrictions")
                return .dunno
            }
            unsupportedAction("PREPEND", ctx)
            return .dunno
        case .malformed(let reason):
            Log.warning("access table \(table) entry \"\(datum)\" \(reason)")
            return .dunno
        case .tableReference:
            Log.warning("access table \(table) has entry with lookup table: \(value)")
            Log.warning("do not specify lookup tables inside SMTPD access maps")
            Log.warning("define a restriction class and specify its name instead.")
            throw StageAbort.serverError
        case .restrictions:
            if ctx.checks.recursion > 100 {
                Log.warning("access table \(table) entry \(value) causes unreasonable recursion")
                throw StageAbort.serverError
            }
            let list = RestrictionList.parse(value)
            if list.isEmpty {
                Log.warning("access table \(table) entry \(value) has empty value")
                return .permit
            }
            return try evaluate(list, target, ctx)
        }
    }

    /// Whether an action that changes the queued message can apply here (not at ETRN,
    /// not in the client or helo lists when they run outside a mail transaction).
    func canDelegate(_ table: String, _ action: String, _ ctx: CheckContext) -> Bool {
        if ctx.protocolState == "ETRN" {
            Log.warning("access table \(table): action \(action) is unavailable in smtpd_etrn_restrictions")
            return false
        }
        return ctx.sender != nil || warnSkipped(table, action)
    }

    func warnSkipped(_ table: String, _ action: String) -> Bool {
        Log.warning("access table \(table): with smtpd_delay_reject=no, action \(action) is always skipped in Client host or Helo command restrictions")
        return false
    }

    /// Actions that would change the queued message, which Postern's queue files do not
    /// carry: logged as Postfix logs them, with a warning that they had no effect.
    func unsupportedAction(_ action: String, _ ctx: CheckContext) {
        ctx.checks.actions.append(action)
        Log.warning("access action \(action) is not supported; the message is queued unchanged")
    }

    /// smtpd_dsn_fix: an address-status DSN (x.1.y) made to fit what is rejected.
    static func dsnFix(_ dsn: String, _ object: CheckObject) -> String {
        let parts = dsn.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1] == "1" else { return dsn }
        let detail = Int(parts[2]) ?? -1
        let fixed: String
        switch object {
        case .sender:
            switch detail {
            case 1, 3, 4, 6, 7: fixed = "1.7"
            case 2, 8: fixed = "1.8"
            default: fixed = "1.0"
            }
        case .recipient:
            switch detail {
            case 1...6: fixed = "1.\(detail)"
            case 7: fixed = "1.3"
            case 8: fixed = "1.2"
            default: fixed = "1.0"
            }
        default:
            fixed = "0.0"
        }
        let result = "\(parts[0]).\(fixed)"
        if result != dsn { Log.info("mapping DSN status \(dsn) into \(object.className) status \(result)") }
        return result
    }
}
