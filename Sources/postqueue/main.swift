// postqueue(1): the mail queue for users. `-p` lists it in Postfix's `mailq` layout, `-j`
// as JSON lines, `-f` asks qmgr to deliver all deferred mail now, `-s site` does the same
// (Postern has no per-site flush service: qmgr retries everything), `-i ID` moves one
// deferred message back to incoming/. Installed set-group-ID postdrop, it never reads
// the queue for an ordinary user: the listing and `-i` go through the showq service and
// the flushes through qmgr's public socket. Run by root it reads and moves queue files
// itself, so that it works while the mail system is down.
import Glibc
import Shared

Log.tag = "postfix/postqueue"
Log.toStderr = true
signal(SIGPIPE, SIG_IGN)

let usage = "usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site"
enum Request: Equatable {
    case list(json: Bool)
    case flush
    case flushSite(String)
    case sendFile(String)
}
var configFlag: String?
var request: Request?
for item in Getopt(Array(CommandLine.arguments.dropFirst()), spec: "c:fi:jps:v").items {
    let next: Request?
    switch item {
    case .flag("c", let dir?): configFlag = dir; next = nil
    case .flag("f", nil): next = .flush
    case .flag("i", let id?): next = .sendFile(id)
    case .flag("j", nil): next = .list(json: true)
    case .flag("p", nil): next = .list(json: false)
    case .flag("s", let site?): next = .flushSite(site)
    case .flag("v", nil): next = nil
    default: Log.fatal(usage)
    }
    if let next {
        guard request == nil else { Log.fatal("specify only one of -f, -i, -j, -p or -s") }
        request = next
    }
}
guard let request else { Log.fatal(usage) }

/// Exits with EX_UNAVAILABLE after a fatal message, as Postfix's postqueue does when the
/// mail system is down.
func unavailable(_ text: String) -> Never {
    Log.emit(.fatal, text)
    exit(69)
}

let config: MainConfig
do {
    config = try MainConfig.load(directory: MainConfig.locatePrivilegedDirectory(configFlag))
    try config.validate()
} catch {
    unavailable("\(error)")
}
Log.configure(syslogName: config.value("syslog_name"), program: "postqueue", hostname: config.value("myhostname"),
              maillog: config.value("maillog_file"))
let publicDirectory = config.value("queue_directory") + "/public/"
let queue = QueueDirectory(config: config)
let direct = geteuid() == 0

/// A connection to the showq service with REQUEST sent.
func showq(_ request: AttributeList) -> BufferedStream {
    guard let fd = try? Sockets.connectUnix(publicDirectory + config.value("showq_service_name"), timeout: 10) else {
        unavailable("Queue report unavailable - mail system is down")
    }
    let stream = BufferedStream(descriptor: fd, timeoutMs: 300_000)
    stream.writeAttributes(request, xtext: true)
    guard (try? stream.flush()) != nil else { unavailable("Queue report unavailable - mail system is down") }
    return stream
}

/// Prints the queue, read directly or from showq, as a table or JSON lines.
func list(json: Bool) {
    var table = QueueListingTable(longQueueIDs: config.bool("enable_long_queue_ids"),
                                  nullSender: config.value("empty_address_recipient"))
    var output: [UInt8] = []
    func show(_ entry: QueueListingEntry) {
        output += Array((json ? QueueListingJSON.line(entry) : table.format(entry)).utf8)
        if output.count >= 65536 {
            try? FileIO.writeAll(1, output)
            output.removeAll(keepingCapacity: true)
        }
    }
    if direct {
        QueueListing.scan(queue, show)
    } else {
        let stream = showq(AttributeList([("request", "list")]))
        do {
            while let list = try stream.readAttributes(xtext: true) {
                if let entry = QueueListing.entry(list) { show(entry) }
            }
        } catch {
            unavailable("Queue report unavailable: \(error)")
        }
        close(stream.descriptor)
    }
    if !json { output += Array(table.trailer.utf8) }
    try? FileIO.writeAll(1, output)
}

/// Wakes qmgr with `F`: deliver the deferred queue now.
func flush() {
    guard TriggerServer.send(publicDirectory + config.value("queue_service_name"), [UInt8(ascii: "F")]) else {
        unavailable("Cannot flush mail queue - mail system is down")
    }
}

/// Moves ID from deferred/ to incoming/ (directly, or through showq) and wakes qmgr.
func sendFile(_ id: String) {
    guard QueueID.isValid(id) else { Log.fatal("invalid queue id: \(id)") }
    if direct {
        guard !queue.queues(holding: id, among: [QueueDirectory.deferred]).isEmpty else { return }
        do {
            try queue.move(id, from: QueueDirectory.deferred, to: QueueDirectory.incoming)
        } catch {
            Log.fatal("\(id): \(error)")
        }
        TriggerServer.send(publicDirectory + config.value("queue_service_name"), [UInt8(ascii: "A")])
        return
    }
    let stream = showq(AttributeList([("request", "send_file"), ("queue_id", id)]))
    let status = (try? stream.readAttributes(xtext: true))??["status"]
    close(stream.descriptor)
    if status == nil || status == "2" { unavailable("Cannot flush mail queue - mail system is down") }
}

switch request {
case .list(let json): list(json: json)
case .flush: flush()
case .flushSite(let site):
    guard !site.isEmpty else { Log.fatal(usage) }
    flush()
case .sendFile(let id): sendFile(id)
}
exit(0)
