// A single-threaded event loop over poll(2): descriptors with callbacks and one-shot
// timers. The master, the multi-client and the trigger servers all run on it.
import Glibc

public final class EventLoop {
    public typealias Callback = (Int32, Int16) -> Void

    struct Watch {
        var events: Int16
        var callback: Callback
    }

    struct Timer {
        let id: Int
        let due: Int64
        let callback: () -> Void
    }

    var watches: [Int32: Watch] = [:]
    var timers: [Timer] = []
    var nextTimerID = 1
    var stopped = false

    public init() {}

    /// Calls CALLBACK(fd, revents) whenever FD is ready for EVENTS (POLLIN by default).
    public func watch(_ fd: Int32, events: Int16 = Int16(POLLIN), _ callback: @escaping Callback) {
        watches[fd] = Watch(events: events, callback: callback)
    }

    public func unwatch(_ fd: Int32) { watches[fd] = nil }

    public func isWatching(_ fd: Int32) -> Bool { watches[fd] != nil }

    /// Runs CALLBACK once after SECONDS (fractions allowed); returns an id for cancel().
    @discardableResult
    public func after(_ seconds: Double, _ callback: @escaping () -> Void) -> Int {
        let id = nextTimerID
        nextTimerID += 1
        timers.append(Timer(id: id, due: Clock.monotonicMs() + Int64(seconds * 1000), callback: callback))
        return id
    }

    public func cancel(_ id: Int) { timers.removeAll { $0.id == id } }

    public func stop() { stopped = true }

    /// Runs until stop() is called.
    public func run() {
        stopped = false
        while !stopped { runOnce(maxWaitMs: -1) }
    }

    /// Waits for one round of events (or MAXWAITMS), dispatches them and due timers.
    public func runOnce(maxWaitMs: Int) {
        var wait = maxWaitMs
        let now = Clock.monotonicMs()
        if let soonest = timers.map(\.due).min() {
            let untilTimer = Int(max(0, soonest - now))
            wait = wait < 0 ? untilTimer : min(wait, untilTimer)
        }
        var fds = watches.map { pollfd(fd: $0.key, events: $0.value.events, revents: 0) }
        let n = poll(&fds, nfds_t(fds.count), Int32(clamping: wait))
        if n > 0 {
            for p in fds where p.revents != 0 {
                // A callback may have removed or replaced this watch already.
                if let w = watches[p.fd] { w.callback(p.fd, p.revents) }
            }
        }
        let after = Clock.monotonicMs()
        let due = timers.filter { $0.due <= after }
        if !due.isEmpty {
            let ids = Set(due.map(\.id))
            timers.removeAll { ids.contains($0.id) }
            for t in due { t.callback() }
        }
    }
}

/// Time as Postfix needs it: monotonic milliseconds for timers, wall-clock for logs.
public enum Clock {
    public static func monotonicMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Seconds and microseconds since the epoch.
    public static func now() -> (seconds: Int, micros: Int) {
        var tv = timeval()
        gettimeofday(&tv, nil)
        return (Int(tv.tv_sec), Int(tv.tv_usec))
    }
}
