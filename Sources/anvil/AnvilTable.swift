// anvil's counters without I/O (reference §3.1, Postfix's anvil.c semantics): per ident
// `SERVICE:ADDRESS` a connection count and fixed-window event rates (connections,
// messages, recipients, new TLS sessions, AUTH commands) that all restart together once
// `start + anvil_rate_time_unit < now`; each local client (one smtpd connection) is linked
// to at most one ident, whose count it gives back when it disconnects or goes away; an
// ident whose count drops to zero is forgotten one time unit later. Peak values are kept
// for the statistics lines. Time is passed in, in seconds, so tests drive it.

import Shared

/// The rate-counted events besides connections.
enum AnvilEvent {
    case message, recipient, newTLS, auth
}

/// One peak value and when and for whom it happened.
struct AnvilPeak {
    var value = 0
    var ident = ""
    var when = 0

    mutating func update(_ candidate: Int, _ ident: String, _ now: Int) {
        guard candidate > value else { return }
        value = candidate
        self.ident = ident
        when = now
    }
}

final class AnvilTable {
    struct Remote {
        var count = 1
        var rate = 1
        var mail = 0
        var rcpt = 0
        var newTLS = 0
        var auth = 0
        var start: Int
        /// When an entry with no connections is forgotten.
        var expiresAt: Int?
    }

    let timeUnit: Int
    private(set) var remotes: [String: Remote] = [:]
    /// The ident each local client stream is linked to.
    private(set) var links: [Int32: String] = [:]
    var maxConnectionRate = AnvilPeak()
    var maxConnectionCount = AnvilPeak()
    var maxMessageRate = AnvilPeak()
    var maxRecipientRate = AnvilPeak()
    var maxNewTLSRate = AnvilPeak()
    var maxAuthRate = AnvilPeak()
    var maxCacheSize = 0
    var maxCacheTime = 0

    init(timeUnit: Int) {
        self.timeUnit = max(1, timeUnit)
    }

    // MARK: requests

    /// `connect`: counts a new connection from IDENT on CLIENT's stream.
    func connect(client: Int32, ident: String, now: Int) -> (count: Int, rate: Int) {
        let r = registerConnection(client: client, ident: ident, now: now)
        maxConnectionRate.update(r.rate, ident, now)
        maxConnectionCount.update(r.count, ident, now)
        return (r.count, r.rate)
    }

    /// `disconnect`: gives back the connection, if CLIENT's stream holds IDENT.
    func disconnect(client: Int32, ident: String, now: Int) {
        guard links[client] == ident else { return }
        links[client] = nil
        dropOne(ident, now: now)
    }

    /// The local client's stream closed: an implicit disconnect.
    func closed(client: Int32, now: Int) {
        if let ident = links[client] { disconnect(client: client, ident: ident, now: now) }
    }

    /// `message`, `recipient`, `newtls`, `auth`: counts one EVENT and returns its rate. An
    /// unknown ident (anvil restarted since smtpd's connect) is registered first.
    func count(_ event: AnvilEvent, client: Int32, ident: String, now: Int) -> Int {
        if remotes[ident] == nil { _ = registerConnection(client: client, ident: ident, now: now) }
        var r = remotes[ident]!
        r.restartWindowIfOver(now: now, unit: timeUnit)
        let value: Int
        switch event {
        case .message:
            r.mail = r.mail.incremented
            value = r.mail
            maxMessageRate.update(value, ident, now)
        case .recipient:
            r.rcpt = r.rcpt.incremented
            value = r.rcpt
            maxRecipientRate.update(value, ident, now)
        case .newTLS:
            r.newTLS = r.newTLS.incremented
            value = r.newTLS
            maxNewTLSRate.update(value, ident, now)
        case .auth:
            r.auth = r.auth.incremented
            value = r.auth
            maxAuthRate.update(value, ident, now)
        }
        remotes[ident] = r
        return value
    }

    /// `newtls_status`: the new-TLS rate, without counting.
    func newTLSStatus(ident: String, now: Int) -> Int { lookup(ident: ident, now: now).newTLS }

    /// `lookup`: everything about IDENT (zeros when unknown; no stale rates).
    func lookup(ident: String, now: Int) -> AnvilCounts {
        guard var r = remotes[ident] else { return AnvilCounts() }
        if r.start + timeUnit < now {
            r.resetRates(start: 0)
            remotes[ident] = r
        }
        return AnvilCounts(count: r.count, rate: r.rate, mail: r.mail, rcpt: r.rcpt, newTLS: r.newTLS, auth: r.auth)
    }

    /// Forgets idents whose count has been zero for a time unit.
    func expire(now: Int) {
        for (ident, r) in remotes {
            if let due = r.expiresAt, due <= now, r.count == 0 { remotes[ident] = nil }
        }
    }

    // MARK: statistics

    /// The `statistics:` lines for the peaks since the last report (FORMAT turns a time
    /// into `Mon DD HH:MM:SS`), and resets them.
    func statistics(format: (Int) -> String) -> [String] {
        var lines: [String] = []
        func rate(_ peak: inout AnvilPeak, _ name: String) {
            guard peak.value > 0 else { return }
            lines.append("statistics: max \(name) rate \(peak.value)/\(timeUnit)s for (\(peak.ident)) at \(format(peak.when))")
            peak.value = 0
        }
        rate(&maxConnectionRate, "connection")
        if maxConnectionCount.value > 0 {
            let p = maxConnectionCount
            lines.append("statistics: max connection count \(p.value) for (\(p.ident)) at \(format(p.when))")
            maxConnectionCount.value = 0
        }
        rate(&maxMessageRate, "message")
        rate(&maxRecipientRate, "recipient")
        rate(&maxNewTLSRate, "newtls")
        rate(&maxAuthRate, "auth")
        if maxCacheSize > 0 {
            lines.append("statistics: max cache size \(maxCacheSize) at \(format(maxCacheTime))")
            maxCacheSize = 0
        }
        return lines
    }

    // MARK: internals

    /// Counts a connection for IDENT and links it to CLIENT; a stream holds one ident, so
    /// whatever it held before is given back.
    func registerConnection(client: Int32, ident: String, now: Int) -> Remote {
        if var r = remotes[ident] {
            r.restartWindowIfOver(now: now, unit: timeUnit)
            r.rate = r.rate.incremented
            r.count += 1
            r.expiresAt = nil
            remotes[ident] = r
        } else {
            remotes[ident] = Remote(start: now)
            if remotes.count > maxCacheSize {
                maxCacheSize = remotes.count
                maxCacheTime = now
            }
        }
        if let previous = links[client] { dropOne(previous, now: now) }
        links[client] = ident
        return remotes[ident]!
    }

    func dropOne(_ ident: String, now: Int) {
        guard var r = remotes[ident], r.count > 0 else { return }
        r.count -= 1
        if r.count == 0 { r.expiresAt = now + timeUnit }
        remotes[ident] = r
    }
}

extension AnvilTable.Remote {
    mutating func resetRates(start: Int) {
        rate = 0
        mail = 0
        rcpt = 0
        newTLS = 0
        auth = 0
        self.start = start
    }

    /// The fixed window: everything restarts once the time unit is over.
    mutating func restartWindowIfOver(now: Int, unit: Int) {
        if start + unit < now { resetRates(start: now) }
    }
}

extension Int {
    /// One more, stopping at the largest value anvil reports.
    var incremented: Int { self < Int(Int32.max) ? self + 1 : self }
}
