// postsuper(1): queue maintenance for the superuser, with Postfix's options, messages and
// summary lines: -d delete, -e/-f force expiry (-f also releases from hold), -h hold,
// -H release, -r requeue, each with a queue ID, `ALL`, or `-` (IDs on standard input),
// optionally limited to the queues named after the options; -s structure check and -p
// purge of temporary files come first. Root runs it as mail_owner, who owns the queue;
// in a development instance (no root) its owner may run it.
import Glibc
import Shared

Log.tag = "postfix/postsuper"
Log.toStderr = true

/// The per-message operations in the order postsuper applies them.
enum Operation: CaseIterable {
    case delete, expire, expireAndRelease, hold, release, requeue

    var defaultQueues: [String] {
        switch self {
        case .hold: return [QueueDirectory.incoming, QueueDirectory.active, QueueDirectory.deferred]
        case .release: return [QueueDirectory.hold]
        default: return QueueDirectory.operatorQueues
        }
    }
}

var configFlag: String?
var requested: [Operation: [String]] = [:]
var structureCheck = false
var purge = false
let getopt = Getopt(Array(CommandLine.arguments.dropFirst()), spec: "c:d:e:f:h:H:pr:sSv")
for item in getopt.items {
    switch item {
    case .flag("c", let dir?): configFlag = dir
    case .flag("d", let id?): requested[.delete, default: []].append(id)
    case .flag("e", let id?): requested[.expire, default: []].append(id)
    case .flag("f", let id?): requested[.expireAndRelease, default: []].append(id)
    case .flag("h", let id?): requested[.hold, default: []].append(id)
    case .flag("H", let id?): requested[.release, default: []].append(id)
    case .flag("r", let id?): requested[.requeue, default: []].append(id)
    case .flag("s", nil), .flag("S", nil): structureCheck = true
    case .flag("p", nil): purge = true
    case .flag("v", nil): break
    default:
        Log.fatal("usage: postsuper [-c config_dir] [-d queue_id] [-e queue_id] [-f queue_id] [-h queue_id] "
            + "[-H queue_id] [-p] [-r queue_id] [-s] [directory ...]")
    }
}
let config: MainConfig
do {
    config = try LoadedConfig.load(directory: MainConfig.locateDirectory(configFlag)).main
} catch {
    Log.fatal("\(error)")
}
Log.configure(syslogName: config.value("syslog_name"), program: "postsuper", hostname: config.value("myhostname"),
              maillog: config.value("maillog_file"))
for name in getopt.operands where !QueueLayout.messageQueues.contains(name) {
    Log.fatal("invalid directory name: \(name)")
}
let queue = QueueDirectory(config: config)
becomeQueueOwner()
if requested.isEmpty && !purge { structureCheck = true }

/// As root, become mail_owner (who owns the queue); otherwise the caller must own it.
func becomeQueueOwner() {
    var st = stat()
    guard stat(queue.path + "/" + QueueDirectory.active, &st) == 0 else {
        Log.fatal("\(queue.path)/\(QueueDirectory.active): \(errnoText())")
    }
    guard getuid() == 0 else {
        if getuid() != st.st_uid { Log.fatal("use of this command is reserved for the superuser") }
        return
    }
    guard let owner = Account.named(config.value("mail_owner")) else {
        Log.fatal("unknown mail_owner user: \(config.value("mail_owner"))")
    }
    var groups: [gid_t] = [owner.gid]
    guard setgroups(1, &groups) == 0, setgid(owner.gid) == 0, setuid(owner.uid) == 0 else {
        Log.fatal("set privileges of \(owner.name): \(errnoText())")
    }
}

let maintenance = QueueMaintenance(queue: queue)
if structureCheck {
    let renamed = maintenance.checkStructure()
    if renamed > 0 { Log.info("Renamed to match inode number: \(renamed) message\(renamed == 1 ? "" : "s")") }
}
if purge { _ = maintenance.purgeTemporaryFiles() }

/// The queue IDs an operation's arguments name: `ALL` (every file in QUEUES), `-`
/// (standard input), or IDs; invalid IDs are warned about and skipped.
func queueIDs(_ arguments: [String], queues: [String]) -> [String] {
    var ids: [String] = []
    for argument in arguments {
        switch argument {
        case "ALL":
            for name in queues { ids += queue.list(name) }
        case "-":
            let input = BufferedStream(descriptor: 0, timeoutMs: -1)
            while let (line, _) = (try? input.readLine()) ?? nil {
                let id = String(decoding: line, as: UTF8.self).trimmed
                if !id.isEmpty { ids.append(id) }
            }
        default:
            ids.append(argument)
        }
    }
    return ids.filter { id in
        if QueueID.isValid(id) { return true }
        Log.warning("invalid mail queue id: \(id)")
        return false
    }
}

var deleted = 0, expired = 0, held = 0, released = 0, requeued = 0
for operation in Operation.allCases {
    guard let arguments = requested[operation] else { continue }
    let queues = getopt.operands.isEmpty ? operation.defaultQueues : getopt.operands
    maintenance.logEach = !arguments.contains("ALL")
    for id in queueIDs(arguments, queues: queues) {
        for name in queue.queues(holding: id, among: queues) {
            switch operation {
            case .delete: if maintenance.delete(id, from: name) { deleted += 1 }
            case .expire: if maintenance.expire(id, in: name) { expired += 1 }
            case .expireAndRelease:
                if maintenance.expire(id, in: name) { expired += 1 }
                if maintenance.release(id, from: name) { released += 1 }
            case .hold: if maintenance.hold(id, from: name) { held += 1 }
            case .release: if maintenance.release(id, from: name) { released += 1 }
            case .requeue: if maintenance.requeue(id, from: name) { requeued += 1 }
            }
        }
    }
}

func summary(_ label: String, _ count: Int, when operations: [Operation]) {
    guard operations.contains(where: { requested[$0] != nil }) else { return }
    Log.info("\(label): \(count) message\(count == 1 ? "" : "s")")
}
summary("Deleted", deleted, when: [.delete])
summary("Force-expired", expired, when: [.expire, .expireAndRelease])
summary("Placed on hold", held, when: [.hold])
summary("Released from hold", released, when: [.release, .expireAndRelease])
summary("Requeued", requeued, when: [.requeue])
let socket = config.value("queue_directory") + "/public/"
if released > 0 { TriggerServer.send(socket + config.value("queue_service_name"), [UInt8(ascii: "W")]) }
if requeued > 0 { TriggerServer.send(socket + config.value("pickup_service_name"), [UInt8(ascii: "W")]) }
exit(0)
