// qmgr's scheduling decisions, apart from any file or socket: which recipients go out
// together, to which transport and next hop, and when, within each transport's process
// limit and each destination's concurrency limit (Postfix's qmgr, simplified: FIFO per
// transport, round-robin between transports, recipients grouped per destination up to
// the transport's destination recipient limit).
import Shared

/// Limits of one transport, from main.cf (`TRANSPORT_destination_…` or `default_…`)
/// and master.cf (maxproc).
struct TransportLimits: Equatable {
    var processLimit: Int
    var destinationConcurrency: Int
    var recipientLimit: Int
}

/// One delivery request waiting for, or holding, an agent.
struct PendingDelivery: Equatable {
    var queueID: String
    var transport: String
    var nexthop: String
    var recipients: [DeliveryRecipient]
    /// Set when queued: the concurrency key (see destinationKey).
    var key = ""

    /// The concurrency key: the next hop, or the recipient when the transport delivers one
    /// recipient per request (local's per-user concurrency).
    func destinationKey(_ limits: TransportLimits) -> String {
        let who = limits.recipientLimit == 1 ? (recipients.first?.address.asciiLowercased ?? "") : nexthop.asciiLowercased
        return transport + "|" + who
    }
}

final class Scheduler {
    let limits: (String) -> TransportLimits
    var waiting: [String: [PendingDelivery]] = [:]
    var transportOrder: [String] = []
    var busyTransports: [String: Int] = [:]
    var busyDestinations: [String: Int] = [:]
    var roundRobin = 0

    init(limits: @escaping (String) -> TransportLimits) {
        self.limits = limits
    }

    var isEmpty: Bool { waiting.values.allSatisfy(\.isEmpty) }
    var inFlight: Int { busyTransports.values.reduce(0, +) }

    /// Queues a message's recipients, grouped by (transport, next hop) in first-seen order
    /// and split at the transport's recipient limit.
    func enqueue(queueID: String, _ routed: [(route: Route, recipient: DeliveryRecipient)]) {
        var groups: [(key: String, transport: String, nexthop: String, recipients: [DeliveryRecipient])] = []
        for (route, recipient) in routed {
            let key = route.transport + "|" + route.nexthop.asciiLowercased
            if let i = groups.firstIndex(where: { $0.key == key }) {
                groups[i].recipients.append(recipient)
            } else {
                groups.append((key, route.transport, route.nexthop, [recipient]))
            }
        }
        for group in groups {
            let limit = max(1, limits(group.transport).recipientLimit)
            var start = 0
            while start < group.recipients.count {
                let slice = Array(group.recipients[start..<min(start + limit, group.recipients.count)])
                add(PendingDelivery(queueID: queueID, transport: group.transport, nexthop: group.nexthop, recipients: slice))
                start += limit
            }
        }
    }

    func add(_ delivery: PendingDelivery) {
        var delivery = delivery
        delivery.key = delivery.destinationKey(limits(delivery.transport))
        if waiting[delivery.transport] == nil { transportOrder.append(delivery.transport) }
        waiting[delivery.transport, default: []].append(delivery)
    }

    /// The next delivery that may start now, or nil when all that wait are blocked by a
    /// limit (or nothing waits). Marks it in flight.
    func next() -> PendingDelivery? {
        guard !transportOrder.isEmpty else { return nil }
        for step in 0..<transportOrder.count {
            let transport = transportOrder[(roundRobin + step) % transportOrder.count]
            let l = limits(transport)
            guard l.processLimit <= 0 || busyTransports[transport, default: 0] < l.processLimit else { continue }
            guard var queue = waiting[transport], !queue.isEmpty else { continue }
            // Destinations already found full in this pass are not asked again.
            var full: Set<String> = []
            let limit = max(1, l.destinationConcurrency)
            guard let i = queue.firstIndex(where: { d in
                if full.contains(d.key) { return false }
                if busyDestinations[d.key, default: 0] < limit { return true }
                full.insert(d.key)
                return false
            }) else {
                continue
            }
            let delivery = queue.remove(at: i)
            waiting[transport] = queue
            busyTransports[transport, default: 0] += 1
            busyDestinations[delivery.key, default: 0] += 1
            roundRobin = (roundRobin + step + 1) % transportOrder.count
            return delivery
        }
        return nil
    }

    /// A delivery's agent answered (or failed): its slots are free again.
    func finished(_ delivery: PendingDelivery) {
        busyTransports[delivery.transport, default: 1] -= 1
        let key = delivery.key.isEmpty ? delivery.destinationKey(limits(delivery.transport)) : delivery.key
        busyDestinations[key, default: 1] -= 1
        if busyDestinations[key] == 0 { busyDestinations[key] = nil }
    }

    /// True while deliveries of QUEUEID wait for an agent.
    func hasWaiting(_ queueID: String) -> Bool {
        waiting.values.contains { $0.contains { $0.queueID == queueID } }
    }

    /// Drops everything still waiting for QUEUEID (the message was deleted or held).
    func forget(_ queueID: String) {
        for t in waiting.keys { waiting[t]?.removeAll { $0.queueID == queueID } }
    }
}
