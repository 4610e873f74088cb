// The access-control engine (Postfix's smtpd_check.c, SMTPD_ACCESS_README): the
// restriction lists of each protocol stage, evaluated in Postfix's order and with its
// replies. With smtpd_delay_reject (the default) the client, helo and sender lists run
// at RCPT time, then the relay and recipient lists (relay first at compatibility 3.6+),
// then the implicit reject_unlisted_recipient; without it each list runs at its own
// command. A permit ends one list; a reject ends the stage. Every refusal goes through
// one place (`reject`) that validates the code and DSN, truncates and sanitizes the
// text, applies warn_if_reject, a pending defer_if_reject and soft_bounce, and makes
// the DSN class follow the reply code (reference §4.1). defer_if_permit and DNS
// look-ups that failed temporarily turn a later permit into their 4xx.
// The individual restrictions are in RestrictionRules.swift, AccessRules.swift,
// DNSRules.swift and RBLRules.swift.
import Shared

/// What the session knows when a check runs.
struct CheckContext {
    var client: ClientIdentity
    var helo: String?
    var sender: String?
    var recipient: String?
    var saslUsername: String?
    var protocolName = "SMTP"
    var saslMethod: String?
    var saslSender: String?
    var tls = TLSSessionState()
    var queueID: String?
    /// SIZE= from MAIL, or the content size once it is known.
    var size = 0
    var recipientCount = 0
    var serverAddress = ""
    var serverPort: UInt16 = 0
    /// CONNECT, EHLO, HELO, MAIL, RCPT, DATA, END-OF-MESSAGE, VRFY or ETRN.
    var protocolState = "CONNECT"
    var etrnDomain: String?
    /// The MAIL transaction's instance id for policy servers ("" outside a transaction).
    var instance = ""
    /// The session's access-check bookkeeping (CheckState.swift).
    var checks = CheckState()
}

/// The outcome of one restriction or one list.
enum Verdict: Equatable {
    case permit
    case dunno
    case reject(SMTPReply)
}

/// The objects a reply can be about, with Postfix's wording (SMTPD_NAME_*).
enum CheckObject {
    case client, reverseClient, helo, sender, recipient, data, endOfData, etrn, clientCertificate, saslLogin

    var className: String {
        switch self {
        case .client: return "Client host"
        case .reverseClient: return "Unverified Client host"
        case .helo: return "Helo command"
        case .sender: return "Sender address"
        case .recipient: return "Recipient address"
        case .data: return "Data command"
        case .endOfData: return "End-of-data"
        case .etrn: return "Etrn command"
        case .clientCertificate: return "Client certificate"
        case .saslLogin: return "SASL login name"
        }
    }
}

/// What a list is about: the reply class, the name replies quote, and the access check a
/// bare `type:table` in the list stands for.
struct CheckTarget {
    let object: CheckObject
    let name: String
    let defaultAccess: String?
}

/// A problem that ends the whole stage at once (Postfix's long jump): a configuration
/// error or a failed table or address look-up.
struct StageAbort: Error {
    let code: Int
    let dsn: String
    let text: String
    let errorClass: ErrorClass

    static let serverError = StageAbort(code: 451, dsn: "4.3.5", text: "Server configuration error", errorClass: .software)

    static func lookupFailure(_ name: String) -> StageAbort {
        StageAbort(code: 451, dsn: "4.3.0", text: "<\(name)>: Temporary lookup failure", errorClass: .data)
    }
}

final class Restrictions {
    let config: MainConfig
    let settings: SMTPDSettings
    let mynetworks: NetworkList
    let resolver: AddressResolver
    /// Answers whether a local recipient exists (local_recipient_maps); nil = no check.
    var localRecipientExists: ((String) throws -> Bool)?
    /// The stage lists by short name (client, helo, sender, relay, recipient, data,
    /// end_of_data, etrn).
    let lists: [String: [Restriction]]
    /// smtpd_restriction_classes by name.
    let classes: [String: [Restriction]]
    let relayBeforeRecipient: Bool
    let rejectUnlistedRecipient: Bool
    let rejectUnlistedSender: Bool
    let accessSearch: AccessSearch
    /// The tables the lists name, opened at start-up.
    var tables: [String: Table] = [:]
    /// unknown_helo_hostname_tempfail_action / unknown_address_tempfail_action are
    /// defer_if_permit (true) or defer (false).
    let unknownNameDefersIfPermit: Bool
    let unknownAddressDefersIfPermit: Bool
    /// smtpd_log_access_permit_actions.
    let permitLogActions: Set<String>
    /// The process's DNS resolver (its cache keeps answers for their TTL).
    lazy var dns: DNSResolver = DNSResolver.shared(config: config)

    init(config: MainConfig, settings: SMTPDSettings) throws {
        self.config = config
        self.settings = settings
        mynetworks = NetworkList(config.list("mynetworks"))
        for bad in mynetworks.invalid { Log.warning("mynetworks: ignoring bad entry: \(bad)") }
        resolver = try AddressResolver(config: config)
        var lists: [String: [Restriction]] = [:]
        for name in ["client", "helo", "sender", "relay", "recipient", "data", "end_of_data", "etrn"] {
            lists[name] = RestrictionList.parse(config.value("smtpd_\(name)_restrictions"))
        }
        var classes: [String: [Restriction]] = [:]
        for name in config.list("smtpd_restriction_classes") {
            let value = config.value(name)
            guard !value.trimmed.isEmpty else { throw ConfigError("restriction class `\(name)' needs a definition") }
            classes[name] = RestrictionList.parse(value)
        }
        self.lists = lists
        self.classes = classes
        relayBeforeRecipient = config.bool("smtpd_relay_before_recipient_restrictions")
        rejectUnlistedRecipient = config.bool("smtpd_reject_unlisted_recipient")
        rejectUnlistedSender = config.bool("smtpd_reject_unlisted_sender")
        accessSearch = AccessSearch(config: config)
        func tempfailAction(_ name: String) throws -> Bool {
            switch config.value(name).asciiLowercased {
            case "defer_if_permit": return true
            case "defer": return false
            default: throw ConfigError("bad configuration: \(name) = \(config.value(name))")
            }
        }
        unknownNameDefersIfPermit = try tempfailAction("unknown_helo_hostname_tempfail_action")
        unknownAddressDefersIfPermit = try tempfailAction("unknown_address_tempfail_action")
        permitLogActions = Set(config.list("smtpd_log_access_permit_actions").map { $0.asciiLowercased })
        for list in Array(lists.values) + Array(classes.values) {
            for r in list { try openTable(r) }
        }
    }

    /// Opens the table a restriction names, so that a bad table type stops start-up
    /// (a missing file is a run-time lookup failure instead, as in Postfix).
    func openTable(_ r: Restriction) throws {
        let spec: String
        if r.implicitTable {
            spec = r.word
        } else if RestrictionList.tableArgument.contains(r.name), let argument = r.argument, argument.contains(":") {
            spec = argument
        } else {
            return
        }
        guard tables[spec] == nil else { return }
        do {
            tables[spec] = try TableRegistry.open(spec)
        } catch {
            throw ConfigError("\(spec): \(error)")
        }
    }

    /// The start-up sanity check: the relay or recipient list must be able to refuse mail
    /// for other destinations.
    func sanityCheck() throws {
        if !RestrictionList.hasRequired(lists["recipient"] ?? [], classes: classes)
            && !RestrictionList.hasRequired(lists["relay"] ?? [], classes: classes)
        {
            throw ConfigError(
                "in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: "
                    + "reject_unauth_destination, defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains")
        }
    }

    // MARK: the stages

    /// The client list: at connect with smtpd_delay_reject = no, else before each RCPT
    /// and ETRN.
    func checkClient(_ ctx: CheckContext) -> SMTPReply? {
        let state = ctx.checks
        state.deferIfPermit.active = false
        let verdict = runList("client", CheckTarget(object: .client, name: ctx.client.nameAddress, defaultAccess: "check_client_access"), ctx)
        state.deferIfPermitAfterClient = state.deferIfPermit.active
        return verdict.refusal
    }

    /// The helo list, for the HELO/EHLO name in CTX.
    func checkHelo(_ ctx: CheckContext) -> SMTPReply? {
        guard let helo = ctx.helo else { return nil }
        let state = ctx.checks
        state.deferIfPermit.active = state.deferIfPermitAfterClient
        let verdict = runList("helo", CheckTarget(object: .helo, name: helo, defaultAccess: "check_helo_access"), ctx)
        state.deferIfPermitAfterHelo = state.deferIfPermit.active
        return verdict.refusal
    }

    /// The sender list (and smtpd_reject_unlisted_sender), for the sender in CTX.
    func checkSender(_ ctx: CheckContext) -> SMTPReply? {
        guard let sender = ctx.sender else { return nil }
        let state = ctx.checks
        state.deferIfPermit.active = state.deferIfPermitAfterClient || state.deferIfPermitAfterHelo
        state.senderListChecked = false
        var verdict = runList("sender", CheckTarget(object: .sender, name: sender, defaultAccess: "check_sender_access"), ctx)
        state.deferIfPermitAfterSender = state.deferIfPermit.active
        if rejectUnlistedSender && verdict.refusal == nil && !state.senderListChecked && !state.discard && !sender.isEmpty {
            verdict = stage(ctx) { try self.unlistedSender(ctx, sender) }
        }
        return verdict.refusal
    }

    /// Everything that runs at RCPT TO (and VRFY); nil when the recipient is accepted.
    func checkRecipient(_ ctx: CheckContext) -> SMTPReply? {
        guard let recipient = ctx.recipient else { return nil }
        if recipient.asciiLowercased == "postmaster" { return nil }
        let state = ctx.checks
        state.recipientListChecked = false
        if settings.delayReject, let refusal = checkClient(ctx) ?? checkHelo(ctx) ?? checkSender(ctx) { return refusal }
        state.deferIfPermit.active = state.deferIfPermitAfterSender
        state.resetStage()
        let target = CheckTarget(object: .recipient, name: recipient, defaultAccess: "check_recipient_access")
        var verdict = Verdict.dunno
        for list in relayBeforeRecipient ? ["relay", "recipient"] : ["recipient", "relay"] {
            verdict = stage(ctx) { try self.evaluate(self.lists[list] ?? [], target, ctx) }
            if verdict.refusal != nil { break }
        }
        verdict = deferredPermit(verdict, ctx)
        if rejectUnlistedRecipient && verdict.refusal == nil && !state.recipientListChecked && !state.discard {
            verdict = stage(ctx) { try self.unlistedRecipient(ctx, recipient) }
        }
        return verdict.refusal
    }

    /// ETRN: the client and helo lists (smtpd_delay_reject), then the etrn list.
    func checkETRN(_ ctx: CheckContext, domain: String) -> SMTPReply? {
        var ctx = ctx
        ctx.etrnDomain = domain
        if settings.delayReject, let refusal = checkClient(ctx) ?? checkHelo(ctx) { return refusal }
        let state = ctx.checks
        state.deferIfPermit.active = state.deferIfPermitAfterClient || state.deferIfPermitAfterHelo
        let verdict = runList("etrn", CheckTarget(object: .etrn, name: domain, defaultAccess: "check_etrn_access"), ctx)
        return deferredPermit(verdict, ctx).refusal
    }

    /// The data list at DATA, or the end_of_data list after the final dot.
    func checkData(_ ctx: CheckContext, endOfData: Bool) -> SMTPReply? {
        ctx.checks.deferIfPermit.active = false
        let target = endOfData
            ? CheckTarget(object: .endOfData, name: "END-OF-MESSAGE", defaultAccess: nil)
            : CheckTarget(object: .data, name: "DATA", defaultAccess: nil)
        let verdict = runList(endOfData ? "end_of_data" : "data", target, ctx)
        return deferredPermit(verdict, ctx).refusal
    }

    // MARK: the engine

    /// One stage list, from a clean slate.
    func runList(_ name: String, _ target: CheckTarget, _ ctx: CheckContext) -> Verdict {
        ctx.checks.resetStage()
        guard let list = lists[name], !list.isEmpty else { return .dunno }
        return stage(ctx) { try self.evaluate(list, target, ctx) }
    }

    /// Runs BODY; a stage-ending problem becomes its refusal.
    func stage(_ ctx: CheckContext, _ body: () throws -> Verdict) -> Verdict {
        do {
            return try body()
        } catch let abort as StageAbort {
            return reject(ctx, abort.code, abort.dsn, abort.text, abort.errorClass)
        } catch {
            Log.warning("restriction evaluation: \(error)")
            return reject(ctx, 451, "4.3.5", "Server configuration error", .software)
        }
    }

    /// A permit (or no decision) becomes the pending defer_if_permit refusal.
    func deferredPermit(_ verdict: Verdict, _ ctx: CheckContext) -> Verdict {
        let d = ctx.checks.deferIfPermit
        guard verdict.refusal == nil, d.active else { return verdict }
        return reject(ctx, d.code, d.dsn, d.text, d.errorClass)
    }

    /// Evaluates LIST in order (generic_checks): warn_if_reject applies to the next
    /// restriction; the first permit or reject decides; DISCARD and a pair of pending
    /// deferrals end the list early.
    func evaluate(_ list: [Restriction], _ target: CheckTarget, _ ctx: CheckContext) throws -> Verdict {
        let state = ctx.checks
        let saved = state.recursion
        state.recursion += 1
        defer {
            state.recursion = saved
            if state.warnIfReject >= state.recursion { state.warnIfReject = 0 }
        }
        var verdict = Verdict.dunno
        for (i, r) in list.enumerated() {
            if state.discard { break }
            if r.name == "warn_if_reject" {
                if state.warnIfReject == 0 { state.warnIfReject = state.recursion }
                continue
            }
            verdict = try apply(r, target, ctx)
            if state.warnIfReject >= state.recursion { state.warnIfReject = 0 }
            if verdict != .dunno {
                if i + 1 < list.count && ["permit", "reject", "defer"].contains(r.name) && (r.name == "permit" || state.warnIfReject == 0) {
                    Log.warning("restriction `\(list[i + 1].word)' after `\(r.name)' is ignored")
                }
                break
            }
            if state.deferIfPermit.active && state.deferIfReject.active { break }
        }
        return verdict
    }

    // MARK: replies

    /// A refusal as Postfix gives it (smtpd_check_reject): bad codes become `450 4.7.1
    /// Service unavailable`, the text is cut to 510 characters with control characters
    /// blanked, warn_if_reject only logs it, a pending defer_if_reject replaces a 5xx,
    /// soft_bounce turns 5xx into 4xx, and the DSN class follows the code.
    func reject(_ ctx: CheckContext, _ code: Int, _ dsn: String, _ text: String, _ errorClass: ErrorClass = .policy) -> Verdict {
        let state = ctx.checks
        let warnOnly = state.warnIfReject > 0 && errorClass != .software && errorClass != .resource && errorClass != .data
        var code = code
        var dsn = dsn
        var text = text
        if !(400...599).contains(code) {
            Log.warning("SMTP reply code configuration error: \(code) \(dsn) \(text)")
            (code, dsn, text) = (450, "4.7.1", "Service unavailable")
        }
        if !SMTPReply.isEnhancedCode(dsn) {
            Log.warning("DSN detail code configuration error: \(code) \(dsn) \(text)")
            (code, dsn, text) = (450, "4.7.1", "Service unavailable")
        }
        text = Restrictions.printable(text, limit: 510 - 5 - dsn.utf8.count)
        if !warnOnly && state.deferIfReject.active && code >= 500 {
            state.warnIfReject = 0
            state.deferIfReject.active = false
            let d = state.deferIfReject
            return reject(ctx, d.code, d.dsn, d.text, d.errorClass)
        }
        if settings.softBounce && code >= 500 { code -= 100 }
        dsn = String(code / 100) + dsn.dropFirst()
        if warnOnly {
            logWhatsup("reject_warning", "\(code) \(dsn) \(text)", ctx)
            return .dunno
        }
        return .reject(SMTPReply(code, dsn, text))
    }

    /// A hook's or helper's plain refusal, made Postfix's way (see `reject`).
    func finish(_ verdict: Verdict, _ ctx: CheckContext) -> Verdict {
        guard case .reject(let reply) = verdict else { return verdict }
        return reject(ctx, reply.code, reply.enhanced ?? "\(reply.code / 100).7.1", reply.lines.first ?? "")
    }

    /// Remembers a refusal for when the list permits (DEFER_IF_PERMIT); a `defer`
    /// tempfail action, or warn_if_reject, refuses at once instead.
    func deferIfPermit(_ ctx: CheckContext, _ code: Int, _ dsn: String, _ text: String, defers: Bool = true) -> Verdict {
        guard ctx.checks.warnIfReject == 0 && defers else { return reject(ctx, code, dsn, text) }
        Restrictions.remember(&ctx.checks.deferIfPermit, code, dsn, text)
        return .dunno
    }

    /// Remembers a refusal that replaces a later 5xx (DEFER_IF_REJECT).
    func deferIfReject(_ ctx: CheckContext, _ code: Int, _ dsn: String, _ text: String) -> Verdict {
        Restrictions.remember(&ctx.checks.deferIfReject, code, dsn, text)
        return .dunno
    }

    /// Keeps the first reason of each kind.
    static func remember(_ deferral: inout Deferral, _ code: Int, _ dsn: String, _ text: String) {
        guard !deferral.active else { return }
        deferral = Deferral(active: true, errorClass: .policy, code: code, dsn: dsn, text: text)
    }

    /// TEXT with control characters blanked, cut to LIMIT bytes (on a character boundary).
    static func printable(_ text: String, limit: Int) -> String {
        var out = ""
        var bytes = 0
        for scalar in text.unicodeScalars {
            let s: Unicode.Scalar = scalar.value < 32 || scalar.value == 127 ? " " : scalar
            bytes += String(s).utf8.count
            if bytes > limit { break }
            out.unicodeScalars.append(s)
        }
        return out
    }

    /// A `QID: ACTION: CMD from name[addr]: TEXT; from=<…> to=<…> proto=… helo=<…>` line.
    func logWhatsup(_ action: String, _ text: String, _ ctx: CheckContext) {
        Log.info(SessionLog.whatsup(action, ctx.protocolState, ctx.client, text, ctx, queueID: ctx.queueID, recipient: nil))
    }

    /// A permit, logged when smtpd_log_access_permit_actions names ACTION.
    func permit(_ action: String, _ object: CheckObject, _ name: String, _ ctx: CheckContext, from table: String? = nil) -> Verdict {
        if !ctx.checks.deferIfPermit.active && (permitLogActions.contains(action.asciiLowercased) || permitLogActions.contains("static:all")) {
            logWhatsup("permit", "action=\(action) for \(object.className)=\(name)" + (table.map { " from \($0)" } ?? ""), ctx)
        }
        return .permit
    }
}

extension Verdict {
    /// The reply of a reject.
    var refusal: SMTPReply? {
        if case .reject(let reply) = self { return reply }
        return nil
    }
}
