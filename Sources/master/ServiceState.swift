// One master.cf service as the master runs it: its listen sockets, its status channel,
// its children, its throttle and wake-up state, and the rule for when to start another
// child (Postfix's master_avail: only while no child is idle and below maxproc).
import Glibc
import Shared

final class ChildProcess {
    let pid: Int32
    let serviceKey: String
    let generation: UInt32
    var available = true
    var useCount = 0
    var everTaken = false

    init(pid: Int32, serviceKey: String, generation: UInt32) {
        self.pid = pid
        self.serviceKey = serviceKey
        self.generation = generation
    }
}

final class ServiceState {
    var entry: ServiceEntry
    var listenDescriptors: [Int32] = []
    /// Our end and the children's end of the status channel.
    var statusMaster: Int32 = -1
    var statusChild: Int32 = -1
    var generation: UInt32 = 0
    var children: [Int32: ChildProcess] = [:]
    var throttledUntil: Int64 = 0
    var wakeupTimer: Int?
    var usedOnce = false
    var prestart = 0
    /// Set by the master when listen sockets are polled for new clients.
    var polling = false

    init(entry: ServiceEntry) {
        self.entry = entry
        prestart = Int(entry.override("prestart_process_count") ?? "") ?? 0
    }

    var key: String { entry.key }

    /// Children of the current generation (older ones are draining after a reload).
    var current: [ChildProcess] { children.values.filter { $0.generation == generation } }
    var idleCount: Int { current.filter(\.available).count }
    var total: Int { current.count }

    var isThrottled: Bool { throttledUntil > Clock.monotonicMs() }

    var belowLimit: Bool { entry.maxproc == 0 || total < entry.maxproc }

    /// True when a waiting client should make the master start a child.
    var wantsListenEvents: Bool { !isThrottled && idleCount == 0 && belowLimit && !listenDescriptors.isEmpty }

    /// True when a child should be started now to keep PRESTART idle ones ready.
    var wantsPrestart: Bool { !isThrottled && idleCount < prestart && belowLimit && !listenDescriptors.isEmpty }

    /// A fresh status channel for a new generation of children: the old children see EOF
    /// on fd 5 and leave once their current client is done.
    func renewStatusChannel(generation newGeneration: UInt32) throws {
        closeStatusChannel()
        let (a, b) = try Sockets.pair()
        statusMaster = a
        statusChild = b
        _ = fcntl(a, F_SETFL, fcntl(a, F_GETFL) | O_NONBLOCK)
        generation = newGeneration
    }

    func closeStatusChannel() {
        if statusMaster >= 0 { close(statusMaster) }
        if statusChild >= 0 { close(statusChild) }
        statusMaster = -1
        statusChild = -1
    }

    func closeListeners() {
        for fd in listenDescriptors { close(fd) }
        listenDescriptors = []
    }
}
