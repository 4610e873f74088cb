// anvil: connection counts and event rates for smtpd (Postfix's anvil(8)). A resident
// multi-client service (master.cf maxproc 1): every smtpd keeps a connection open, is
// greeted with `protocol=anvil_protocol`, and asks one request at a time; a connection
// that closes gives back what it counted. Peak values are logged every
// anvil_status_update_time and when the process exits. Everything is kept in memory.
import CSupport
import Glibc
import Shared

let runtime = ServiceRuntime(program: "anvil")
if let extra = runtime.arguments.first { Log.fatal("unexpected command-line argument: \(extra)") }
let timeUnit = max(1, runtime.config.seconds("anvil_rate_time_unit"))
let statusInterval = max(1, runtime.config.seconds("anvil_status_update_time"))
let table = AnvilTable(timeUnit: timeUnit)
let service = AnvilService(table: table)
let server = MultiServer(runtime)

func now() -> Int { Int(time(nil)) }

/// `Mon DD HH:MM:SS` in local time, as the statistics lines show it.
func statisticsTime(_ seconds: Int) -> String {
    var when = time_t(seconds)
    var parts = tm()
    localtime_r(&when, &parts)
    var buffer = [CChar](repeating: 0, count: 32)
    let n = strftime(&buffer, buffer.count, "%b %e %H:%M:%S", &parts)
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func logStatistics() {
    for line in table.statistics(format: statisticsTime) { Log.info(line) }
}

func reportPeriodically() {
    server.loop.after(Double(statusInterval)) {
        logStatistics()
        reportPeriodically()
    }
}

func expirePeriodically() {
    server.loop.after(Double(timeUnit)) {
        table.expire(now: now())
        expirePeriodically()
    }
}

server.onConnect = { stream in
    stream.writeAttributes(AnvilProtocol.greeting, xtext: false)
    return (try? stream.flush()) != nil
}
server.onReadable = { stream in
    do {
        guard let request = try stream.readAttributes(xtext: false, lineLimit: 4096) else { return false }
        guard let reply = service.reply(to: request, client: stream.descriptor, now: now()) else { return false }
        stream.writeAttributes(reply, xtext: false)
        try stream.flush()
        return true
    } catch {
        return false
    }
}
server.onDisconnect = { stream in table.closed(client: stream.descriptor, now: now()) }
server.onExit = logStatistics

// `postern stop` sends SIGTERM: report before going, as on any other exit.
let signals = [SIGTERM]
let signalDescriptor = signals.withUnsafeBufferPointer { postern_signalfd_for($0.baseAddress, Int32($0.count)) }
if signalDescriptor >= 0 {
    server.loop.watch(signalDescriptor) { _, _ in
        logStatistics()
        exit(0)
    }
}
reportPeriodically()
expirePeriodically()
server.run()
