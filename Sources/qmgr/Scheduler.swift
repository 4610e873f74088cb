// qmgr's scheduling decisions, apart from any file or socket: which recipients go out
// together, to which transport and next hop, and when, within each transport's process
// limit and each destination's concurrency limit (Postfix's qmgr, simplified: FIFO per
// transport, round-robin between transports, recipients grouped per destination up to
// the transport's destination recipient limit). A destination with a rate delay
// (`TRANSPORT_destination_rate_delay`) gets one delivery at a time and waits that long
// after each before the next, as Postfix suspends its queue.
import Shared

/// Limits of one transport, from main.cf (`TRANSPORT_destination_…` or `default_…`)
/// and master.cf (maxproc).
struct TransportLimits: Equatable {
    var processLimit: Int
    var destinationConcurrency: Int
    var recipientLimit: Int
    /// Seconds between deliveries to one destination (0 = none).
    var rateDelay: Double = 0
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

/// The deliveries waiting for one destination, oldest first; popping is O(1).
struct DestinationQueue {
    var items: [PendingDelivery] = []
    var head = 0
    /// Arrival numbers parallel to items: the oldest eligible delivery of a transport
    /// is the smallest head number among its destinations that have room.
    var sequence: [Int] = []

    var isEmpty: Bool { head == items.count }
    var first: (delivery: PendingDelivery, sequence: Int)? { isEmpty ? nil : (items[head], sequence[head]) }

    mutating func append(_ delivery: PendingDelivery, sequence number: Int) {
        items.append(delivery)
        sequence.append(number)
    }

    mutating func popFirst() -> PendingDelivery {
        let delivery = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            sequence.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= items.count {
            items.removeFirst(head)
            sequence.removeFirst(head)
            head = 0
        }
        return delivery
    }

    mutating func removeAll(where drop: (PendingDelivery) -> Bool) {
        var kept: [PendingDelivery] = []
        var keptSequence: [Int] = []
        for i in head..<items.count where !drop(items[i]) {
            kept.append(items[i])
            keptSequence.append(sequence[i])
        }
        items = kept
        sequence = keptSequence
        head = 0
    }
}

final class Scheduler {
    let limits: (String) -> TransportLimits
    /// Per transport, the waiting deliveries per destination key.
    var waiting: [String: [String: DestinationQueue]] = [:]
    var transportOrder: [String] = []
    var busyTransports: [String: Int] = [:]
    var busyDestinations: [String: Int] = [:]
    /// How many deliveries of each message still wait.
    var waitingPerMessage: [String: Int] = [:]
    /// Rate-limited destinations and the monotonic time (seconds) they may go again.
    var suspendedUntil: [String: Double] = [:]
    var roundRobin = 0
    var arrivals = 0

    init(limits: @escaping (String) -> TransportLimits) {
        self.limits = limits
    }

    /// Monotonic seconds, the scheduler's clock.
    static func clock() -> Double { Double(Clock.monotonicMs()) / 1000 }

    var isEmpty: Bool { waitingPerMessage.isEmpty }
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
        arrivals += 1
        waiting[delivery.transport, default: [:]][delivery.key, default: DestinationQueue()].append(delivery, sequence: arrivals)
        waitingPerMessage[delivery.queueID, default: 0] += 1
    }

    /// The next delivery that may start at NOW, or nil when all that wait are blocked by
    /// a limit (or nothing waits). Marks it in flight. Within a transport the oldest
    /// delivery whose destination has room goes first.
    func next(now: Double = Scheduler.clock()) -> PendingDelivery? {
        guard !transportOrder.isEmpty else { return nil }
        for step in 0..<transportOrder.count {
            let transport = transportOrder[(roundRobin + step) % transportOrder.count]
            let l = limits(transport)
            guard l.processLimit <= 0 || busyTransports[transport, default: 0] < l.processLimit else { continue }
            guard let destinations = waiting[transport] else { continue }
            let limit = l.rateDelay > 0 ? 1 : max(1, l.destinationConcurrency)
            var best: (key: String, sequence: Int)?
            for (key, queue) in destinations {
                guard let head = queue.first, busyDestinations[key, default: 0] < limit else { continue }
                if let until = suspendedUntil[key], until > now { continue }
                if best == nil || head.sequence < best!.sequence { best = (key, head.sequence) }
            }
            guard let chosen = best else { continue }
            let delivery = waiting[transport]![chosen.key]!.popFirst()
            if waiting[transport]![chosen.key]!.isEmpty { waiting[transport]![chosen.key] = nil }
            let left = waitingPerMessage[delivery.queueID, default: 1] - 1
            waitingPerMessage[delivery.queueID] = left > 0 ? left : nil
            busyTransports[transport, default: 0] += 1
            busyDestinations[delivery.key, default: 0] += 1
            roundRobin = (roundRobin + step + 1) % transportOrder.count
            return delivery
        }
        return nil
    }

    /// A delivery's agent answered (or failed) at NOW: its slots are free again, after the
    /// rate delay for a rate-limited destination.
    func finished(_ delivery: PendingDelivery, now: Double = Scheduler.clock()) {
        busyTransports[delivery.transport, default: 1] -= 1
        let l = limits(delivery.transport)
        let key = delivery.key.isEmpty ? delivery.destinationKey(l) : delivery.key
        busyDestinations[key, default: 1] -= 1
        if busyDestinations[key] == 0 { busyDestinations[key] = nil }
        if !suspendedUntil.isEmpty { suspendedUntil = suspendedUntil.filter { $0.value > now } }
        if l.rateDelay > 0 { suspendedUntil[key] = now + l.rateDelay }
    }

    /// When the earliest rate-delayed destination with mail waiting may go again (nil:
    /// none waits for that).
    func nextResume() -> Double? {
        var earliest: Double?
        for (key, until) in suspendedUntil where waiting.values.contains(where: { $0[key] != nil }) {
            earliest = min(earliest ?? until, until)
        }
        return earliest
    }

    /// True while another delivery for DELIVERY's transport and destination waits.
    func hasWaiting(like delivery: PendingDelivery) -> Bool {
        waiting[delivery.transport]?[delivery.key].map { !$0.isEmpty } ?? false
    }

    /// True while deliveries of QUEUEID wait for an agent.
    func hasWaiting(_ queueID: String) -> Bool { waitingPerMessage[queueID] != nil }

    /// Drops everything still waiting for QUEUEID (the message was deleted or held).
    func forget(_ queueID: String) {
        guard waitingPerMessage.removeValue(forKey: queueID) != nil else { return }
        for transport in waiting.keys {
            for key in waiting[transport]!.keys {
                waiting[transport]![key]!.removeAll { $0.queueID == queueID }
                if waiting[transport]![key]!.isEmpty { waiting[transport]![key] = nil }
            }
        }
    }
}
