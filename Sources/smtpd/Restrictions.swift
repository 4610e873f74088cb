// The access-control engine (smtpd_check.c): restriction lists evaluated per stage, in
// Postfix's order and with its replies. With smtpd_delay_reject (the default) the
// client, helo and sender lists run at RCPT time, then the relay and recipient lists,
// then the implicit reject_unlisted_recipient. A permit ends one list; a reject ends all.
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
    /// The MAIL transaction's instance id for policy servers ("" before the first MAIL).
    var instance = ""
}

/// The outcome of one restriction or one list.
enum Verdict: Equatable {
    case permit
    case dunno
    case reject(SMTPReply)
}

/// The objects a reply can be about, with Postfix's wording.
enum CheckObject {
    case client, helo, sender, recipient, data, etrn

    var className: String {
        switch self {
        case .client: return "Client host"
        case .helo: return "Helo command"
        case .sender: return "Sender address"
        case .recipient: return "Recipient address"
        case .data: return "Data command"
        case .etrn: return "Etrn command"
        }
    }
}

final class Restrictions {
    let config: MainConfig
    let settings: SMTPDSettings
    let mynetworks: NetworkList
    let resolver: AddressResolver
    /// Answers whether a local recipient exists (local_recipient_maps); nil = no check.
    var localRecipientExists: ((String) throws -> Bool)?
    let lists: [String: [String]]
    let relayBeforeRecipient: Bool
    let rejectUnlistedRecipient: Bool

    init(config: MainConfig, settings: SMTPDSettings) throws {
        self.config = config
        self.settings = settings
        mynetworks = NetworkList(config.list("mynetworks"))
        for bad in mynetworks.invalid { Log.warning("mynetworks: ignoring bad entry: \(bad)") }
        resolver = try AddressResolver(config: config)
        var lists: [String: [String]] = [:]
        for name in ["client", "helo", "sender", "relay", "recipient", "data", "end_of_data", "etrn"] {
            lists[name] = config.list("smtpd_\(name)_restrictions")
        }
        self.lists = lists
        relayBeforeRecipient = config.bool("smtpd_relay_before_recipient_restrictions")
        rejectUnlistedRecipient = config.bool("smtpd_reject_unlisted_recipient")
    }

    /// The start-up sanity check: the relay or recipient list must be able to refuse mail
    /// for other destinations.
    func sanityCheck() throws {
        let guards: Set<String> = [
            "reject_unauth_destination", "defer_unauth_destination", "reject", "defer", "defer_if_permit",
            "check_relay_domains",
        ]
        let all = (lists["relay"] ?? []) + (lists["recipient"] ?? [])
        if !all.contains(where: { guards.contains($0.asciiLowercased) }) {
            throw ConfigError(
                "in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: "
                    + "reject_unauth_destination, defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains")
        }
    }

    // MARK: the stages

    /// Everything that runs at RCPT TO; nil when the recipient is accepted.
    func checkRecipient(_ ctx: CheckContext) -> SMTPReply? {
        guard let recipient = ctx.recipient else { return nil }
        if recipient.asciiLowercased == "postmaster" { return nil }
        var stages: [(String, CheckObject)] = []
        if settings.delayReject {
            stages += [("client", .client), ("helo", .helo), ("sender", .sender)]
        }
        stages += relayBeforeRecipient ? [("relay", .recipient), ("recipient", .recipient)] : [("recipient", .recipient), ("relay", .recipient)]
        for (list, object) in stages where ctx.helo != nil || list != "helo" {
            if list == "sender" && ctx.sender == nil { continue }
            if case .reject(let reply) = evaluate(list, object: object, ctx) { return reply }
        }
        if rejectUnlistedRecipient, case .reject(let reply) = rejectUnlisted(ctx, recipient) { return softened(reply) }
        return nil
    }

    /// The client list at connect time (smtpd_delay_reject = no).
    func checkClient(_ ctx: CheckContext) -> SMTPReply? {
        if case .reject(let r) = evaluate("client", object: .client, ctx) { return r }
        return nil
    }

    func checkHelo(_ ctx: CheckContext) -> SMTPReply? {
        if case .reject(let r) = evaluate("helo", object: .helo, ctx) { return r }
        return nil
    }

    func checkSender(_ ctx: CheckContext) -> SMTPReply? {
        if case .reject(let r) = evaluate("sender", object: .sender, ctx) { return r }
        return nil
    }

    func checkData(_ ctx: CheckContext, endOfData: Bool) -> SMTPReply? {
        if case .reject(let r) = evaluate(endOfData ? "end_of_data" : "data", object: .data, ctx) { return r }
        return nil
    }

    /// Evaluates one named list: the first permit or reject decides.
    func evaluate(_ list: String, object: CheckObject, _ ctx: CheckContext) -> Verdict {
        var warnOnly = false
        for name in lists[list] ?? [] {
            let verdict = apply(name.asciiLowercased, object: object, ctx)
            if name.asciiLowercased == "warn_if_reject" {
                warnOnly = true
                continue
            }
            switch verdict {
            case .dunno: break
            case .permit: return .permit
            case .reject(let reply):
                if warnOnly {
                    Log.info("reject_warning: \(object.className.lowercased()) \(ctx.client.nameAddress): \(reply)")
                    warnOnly = false
                    continue
                }
                return .reject(softened(reply))
            }
            warnOnly = false
        }
        return .dunno
    }

    /// soft_bounce turns permanent refusals into temporary ones.
    func softened(_ reply: SMTPReply) -> SMTPReply {
        guard settings.softBounce, reply.code >= 500 else { return reply }
        var r = reply
        r.code -= 100
        if let e = r.enhanced, e.hasPrefix("5") { r.enhanced = "4" + e.dropFirst() }
        return r
    }
}
