// postcat(1): shows queue files in Postfix's style. `-q ID` finds a message in the queues
// (maildrop, incoming, active, deferred, hold, saved, corrupt); operands are queue IDs
// with -q and file names without. With none of -e/-h/-b it prints everything between
// `*** ENVELOPE RECORDS … ***`, `*** MESSAGE CONTENTS … ***`, `*** HEADER EXTRACTED … ***`
// and `*** MESSAGE FILE END … ***` markers; -e prints the envelope parts with the
// markers, -h the header block, -b the body (from the blank line on). Files are read
// with the fuzz-robust reader: a damaged file is reported, never trusted.
import Glibc
import Shared

Log.tag = "postfix/postcat"
Log.toStderr = true
signal(SIGPIPE, SIG_IGN)

let usage = "usage: postcat [-bhe] [-c config_dir] [-q] [files or queue ids...]"
var configFlag: String?
var byQueueID = false
var sections = RecordView.Sections()
let getopt = Getopt(Array(CommandLine.arguments.dropFirst()), spec: "bc:ehqv")
for item in getopt.items {
    switch item {
    case .flag("b", nil): sections.body = true
    case .flag("c", let dir?): configFlag = dir
    case .flag("e", nil): sections.envelope = true
    case .flag("h", nil): sections.header = true
    case .flag("q", nil): byQueueID = true
    case .flag("v", nil): break
    default: Log.fatal(usage)
    }
}
if !sections.envelope && !sections.header && !sections.body { sections = .all }
guard !getopt.operands.isEmpty else { Log.fatal(usage) }

let queue: QueueDirectory?
if byQueueID {
    do {
        let config = try MainConfig.load(directory: MainConfig.locateDirectory(configFlag))
        queue = QueueDirectory(config: config)
    } catch {
        Log.fatal("\(error)")
    }
} else {
    queue = nil
}

/// Opens ID in the first queue that has it: (descriptor, label relative to the queue
/// directory); fatal with the first error other than "not there".
func openQueueFile(_ id: String, in directory: QueueDirectory) -> (Int32, String) {
    var failure = ENOENT
    if QueueID.isValid(id) {
        for name in [QueueDirectory.maildrop, QueueDirectory.incoming, QueueDirectory.active, QueueDirectory.deferred,
                     QueueDirectory.hold, "saved", QueueDirectory.corrupt] {
            let path = directory.path(queue: name, queueID: id)
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { return (fd, String(path.dropFirst(directory.path.utf8.count + 1))) }
            if errno != ENOENT && failure == ENOENT { failure = errno }
        }
    }
    Log.fatal("open queue file \(id): \(errnoText(failure))")
}

var output = OutputBuffer()
for operand in getopt.operands {
    let (fd, label): (Int32, String)
    if let queue {
        (fd, label) = openQueueFile(operand, in: queue)
    } else {
        let descriptor = open(operand, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { Log.fatal("open \(operand): \(errnoText())") }
        (fd, label) = (descriptor, operand)
    }
    do {
        try RecordView(sections: sections, label: label).show(descriptor: fd, to: &output)
    } catch {
        output.flush()
        Log.fatal("\(label): \(error)")
    }
    close(fd)
}
output.flush()
exit(0)
