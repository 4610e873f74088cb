// SMTP connections kept open between delivery requests of this process, one per next
// hop (Postfix keeps them in scache(8); here they stay in the agent that opened them, and
// qmgr hands the next request for the same next hop to the agent that just finished).
// An idle connection is closed with QUIT after smtp_connection_cache_time_limit.

final class ConnectionCache {
    let settings: SMTPAgentSettings
    var idle: [String: ServerConnection] = [:]

    init(settings: SMTPAgentSettings) {
        self.settings = settings
    }

    var isEmpty: Bool { idle.isEmpty }

    /// Keeps CONNECTION for its next hop (an older one there is closed).
    func store(_ connection: ServerConnection) {
        if let old = idle[connection.nexthop], old !== connection { old.quit() }
        idle[connection.nexthop] = connection
    }

    /// The connection kept for NEXTHOP, if it is still fresh; it leaves the cache.
    func take(_ nexthop: String) -> ServerConnection? {
        expire()
        return idle.removeValue(forKey: nexthop)
    }

    /// Monotonic seconds at which the oldest idle connection expires.
    var nextExpiry: Double? {
        idle.values.map { $0.idleSince + Double(settings.cacheTimeLimit) }.min()
    }

    /// Closes connections idle for longer than the time limit.
    func expire(now: Double = ServerConnection.clock()) {
        for (key, c) in idle where now - c.idleSince >= Double(settings.cacheTimeLimit) {
            idle[key] = nil
            c.quit()
        }
    }

    /// Closes every kept connection (the agent is leaving).
    func closeAll() {
        for c in idle.values { c.quit() }
        idle = [:]
    }
}
