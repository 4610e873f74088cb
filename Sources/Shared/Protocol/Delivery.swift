// The request qmgr sends a delivery agent (local, smtp) over the agent's Unix socket, and
// the agent's per-recipient answer, in the one attribute framing (xtext values). The agent
// reads the message from the queue file named in the request, delivers, logs its
// `to=<…>, relay=…, status=…` line, and answers; qmgr then marks recipients done in place
// and writes defer/bounce logs. Repeated recipient attributes are grouped by position.

public struct DeliveryRecipient: Equatable {
    /// Position of the recipient record in the queue file (qmgr's handle for it).
    public var index: Int
    public var address: String
    /// The address as first received (for `orig_to=`), before alias/virtual expansion.
    public var originalAddress: String
    /// DSN ORCPT (`rfc822;addr`), NOTIFY (`SUCCESS,FAILURE`…), both optional.
    public var orcpt: String
    public var notify: String

    public init(index: Int, address: String, originalAddress: String = "", orcpt: String = "", notify: String = "") {
        self.index = index
        self.address = address
        self.originalAddress = originalAddress
        self.orcpt = orcpt
        self.notify = notify
    }
}

public struct DeliveryRequest: Equatable {
    public var queueID: String
    /// The queue file, relative to the queue directory (`active/ID`).
    public var queueFile: String
    public var sender: String
    /// The transport's next hop: a domain, `[host]:port`, or the local recipient's domain.
    public var nexthop: String
    /// Seconds since the epoch (fractional) when the message arrived, and when qmgr
    /// started on it: for the `delays=a/b/c/d` log field.
    public var arrivalTime: Double
    public var activeTime: Double
    public var dsnEnvid: String
    public var dsnRet: String
    public var recipients: [DeliveryRecipient]
    /// More mail for this transport and next hop waits in qmgr: an agent that can keep
    /// its connection open for it should (smtp_connection_cache_on_demand).
    public var moreMailWaiting = false

    public init(queueID: String, queueFile: String, sender: String, nexthop: String, arrivalTime: Double, activeTime: Double,
                dsnEnvid: String = "", dsnRet: String = "", recipients: [DeliveryRecipient]) {
        self.queueID = queueID
        self.queueFile = queueFile
        self.sender = sender
        self.nexthop = nexthop
        self.arrivalTime = arrivalTime
        self.activeTime = activeTime
        self.dsnEnvid = dsnEnvid
        self.dsnRet = dsnRet
        self.recipients = recipients
    }

    public var attributes: AttributeList {
        var list = AttributeList([
            ("request", "deliver"), ("queue_id", queueID), ("queue_file", queueFile), ("sender", sender),
            ("nexthop", nexthop), ("arrival_time", String(arrivalTime)), ("active_time", String(activeTime)),
            ("dsn_envid", dsnEnvid), ("dsn_ret", dsnRet),
        ])
        if moreMailWaiting { list.append("more_mail", "yes") }
        for r in recipients {
            list.append("rcpt_index", String(r.index))
            list.append("rcpt", r.address)
            list.append("rcpt_original", r.originalAddress)
            list.append("rcpt_orcpt", r.orcpt)
            list.append("rcpt_notify", r.notify)
        }
        return list
    }

    public init?(_ list: AttributeList) {
        guard list["request"] == "deliver", let id = list["queue_id"], let file = list["queue_file"], let sender = list["sender"]
        else { return nil }
        let indexes = list.all("rcpt_index").compactMap(Int.init)
        let addresses = list.all("rcpt")
        let originals = list.all("rcpt_original")
        let orcpts = list.all("rcpt_orcpt")
        let notifies = list.all("rcpt_notify")
        guard !addresses.isEmpty, [indexes.count, originals.count, orcpts.count, notifies.count].allSatisfy({ $0 == addresses.count })
        else { return nil }
        self.init(
            queueID: id, queueFile: file, sender: sender, nexthop: list["nexthop"] ?? "",
            arrivalTime: Double(list["arrival_time"] ?? "") ?? 0, activeTime: Double(list["active_time"] ?? "") ?? 0,
            dsnEnvid: list["dsn_envid"] ?? "", dsnRet: list["dsn_ret"] ?? "",
            recipients: addresses.indices.map {
                DeliveryRecipient(index: indexes[$0], address: addresses[$0], originalAddress: originals[$0], orcpt: orcpts[$0], notify: notifies[$0])
            })
        moreMailWaiting = list["more_mail"] == "yes"
    }
}

/// What happened to one recipient.
public struct DeliveryResult: Equatable {
    public enum Status: String {
        case sent, deferred, bounced
    }

    public var index: Int
    public var status: Status
    /// Enhanced status code (`2.0.0`, `4.4.1`, `5.1.1`).
    public var dsn: String
    /// The text in parentheses of the log line (`delivered to maildir`, the remote reply…).
    public var reason: String
    /// The server that answered, for a DSN's `Remote-MTA: dns; NAME` ("" = none).
    public var remoteMTA: String
    /// That server's reply, for a DSN's `Diagnostic-Code: smtp; REPLY` ("" = none: the
    /// reason is the diagnostic, `X-Postfix; REASON`).
    public var smtpReply: String
    /// A sent recipient's DSN action when it is not `delivered`: `relayed` for mail handed
    /// to another MTA.
    public var action = ""
    /// True when the next MTA took over a NOTIFY=SUCCESS request (it announced DSN): no
    /// success notice is due from here.
    public var notifyPassedOn = false

    public init(index: Int, status: Status, dsn: String, reason: String, remoteMTA: String = "", smtpReply: String = "") {
        self.index = index
        self.status = status
        self.dsn = dsn
        self.reason = reason
        self.remoteMTA = remoteMTA
        self.smtpReply = smtpReply
    }
}

public enum DeliveryReply {
    public static func attributes(_ results: [DeliveryResult]) -> AttributeList {
        var list = AttributeList([("status", "done")])
        for r in results {
            list.append("rcpt_index", String(r.index))
            list.append("rcpt_status", r.status.rawValue)
            list.append("rcpt_dsn", r.dsn)
            list.append("rcpt_reason", r.reason)
            list.append("rcpt_mta", r.remoteMTA)
            list.append("rcpt_reply", r.smtpReply)
            list.append("rcpt_action", r.action)
            list.append("rcpt_notify_passed", r.notifyPassedOn ? "yes" : "no")
        }
        return list
    }

    public static func results(_ list: AttributeList) -> [DeliveryResult]? {
        guard list["status"] == "done" else { return nil }
        let indexes = list.all("rcpt_index").compactMap(Int.init)
        let statuses = list.all("rcpt_status").compactMap(DeliveryResult.Status.init(rawValue:))
        let dsns = list.all("rcpt_dsn")
        let reasons = list.all("rcpt_reason")
        guard [statuses.count, dsns.count, reasons.count].allSatisfy({ $0 == indexes.count }) else { return nil }
        /// The optional attributes NAME, or "" each when an agent sends none.
        func optional(_ name: String) -> [String] {
            let values = list.all(name)
            return values.count == indexes.count ? values : Array(repeating: "", count: indexes.count)
        }
        let mtas = optional("rcpt_mta")
        let replies = optional("rcpt_reply")
        let actions = optional("rcpt_action")
        let passed = optional("rcpt_notify_passed")
        return indexes.indices.map {
            var r = DeliveryResult(index: indexes[$0], status: statuses[$0], dsn: dsns[$0], reason: reasons[$0], remoteMTA: mtas[$0], smtpReply: replies[$0])
            r.action = actions[$0]
            r.notifyPassedOn = passed[$0] == "yes"
            return r
        }
    }
}

/// The delivery agents' log line (reference §8):
/// `QID: to=<rcpt>, orig_to=<o>, relay=R, delay=T, delays=a/b/c/d, dsn=X.Y.Z, status=S (text)`.
public enum DeliveryLog {
    /// Formats a delay the way Postfix does: integral seconds when large, two significant
    /// digits below 10, `0` below 0.01.
    public static func seconds(_ value: Double) -> String {
        if value < 0.01 { return "0" }
        if value >= 10 { return String(Int(value.rounded())) }
        return trimmed(value, decimals: value >= 1 ? 1 : 2)
    }

    static func trimmed(_ value: Double, decimals: Int) -> String {
        let scale = decimals == 1 ? 10.0 : 100.0
        let rounded = (value * scale).rounded() / scale
        var text = String(rounded)
        while text.contains(".") && (text.hasSuffix("0") || text.hasSuffix(".")) { text.removeLast() }
        return text
    }

    /// The whole line. CONNECT and TRANSMIT are the agent's own phases (c and d);
    /// CONNECTIONUSE > 1 adds `conn_use=N` (a reused SMTP connection's transaction count).
    public static func line(_ request: DeliveryRequest, _ recipient: DeliveryRecipient, relay: String, connectionUse: Int = 0,
                            connect: Double, transmit: Double, now: Double, result: DeliveryResult) -> String {
        let a = max(0, request.activeTime - request.arrivalTime)
        let b = max(0, now - request.activeTime - connect - transmit)
        var line = "\(request.queueID): to=<\(recipient.address)>"
        if !recipient.originalAddress.isEmpty && recipient.originalAddress.asciiLowercased != recipient.address.asciiLowercased {
            line += ", orig_to=<\(recipient.originalAddress)>"
        }
        line += ", relay=\(relay)"
        if connectionUse > 1 { line += ", conn_use=\(connectionUse)" }
        line += ", delay=\(seconds(now - request.arrivalTime)), delays=\(seconds(a))/\(seconds(b))/\(seconds(connect))/\(seconds(transmit))"
        line += ", dsn=\(result.dsn), status=\(result.status.rawValue) (\(result.reason))"
        return line
    }
}
