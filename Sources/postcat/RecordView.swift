// The text postcat prints for one queue file, in Postfix's style: the envelope records
// under Postfix's names (`message_size:`, `message_arrival_time:`, `sender:`,
// `sender_fullname:`, `named_attribute:`, `original_recipient:`, `dsn_orig_rcpt:`,
// `dsn_notify_flags:`, `recipient:` / `done_recipient:`), the message content, and the
// recipients written after the content under `HEADER EXTRACTED`. The content streams
// from the file; only the envelope is parsed.
import Glibc
import Shared

/// Standard output, written in large pieces.
struct OutputBuffer {
    var bytes: [UInt8] = []

    /// Adds TEXT, writing out once 64 KiB are buffered.
    mutating func append(_ text: String) {
        bytes += Array(text.utf8)
        if bytes.count >= 65536 { flush() }
    }

    /// Adds RAW, writing out once 64 KiB are buffered.
    mutating func append(_ raw: UnsafeRawBufferPointer) {
        bytes += raw
        if bytes.count >= 65536 { flush() }
    }

    /// Writes everything buffered to standard output.
    mutating func flush() {
        try? FileIO.writeAll(1, bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}

/// How one queue file is shown.
struct RecordView {
    /// Which parts to print.
    struct Sections {
        var envelope = false
        var header = false
        var body = false

        /// Everything, as postcat shows a file by default.
        static let all = Sections(envelope: true, header: true, body: true)
    }

    let sections: Sections
    /// The name in the markers: the path as given, or relative to the queue directory.
    let label: String

    /// Prints the file open on FD to OUTPUT. Throws QueueFileError for a damaged file.
    func show(descriptor fd: Int32, to output: inout OutputBuffer) throws {
        let file = try QueueFile.read(descriptor: fd)
        if sections.envelope {
            output.append("*** ENVELOPE RECORDS \(label) ***\n")
            output.append(envelopeText(file))
            for r in file.recipients where r.statusOffset < file.contentOffset { output.append(recipientText(r)) }
            output.append("*** MESSAGE CONTENTS \(label) ***\n")
        }
        if sections.header || sections.body { try content(file, fd, to: &output) }
        if sections.envelope {
            output.append("*** HEADER EXTRACTED \(label) ***\n")
            for r in file.recipients where r.statusOffset > file.contentOffset { output.append(recipientText(r)) }
            output.append("*** MESSAGE FILE END \(label) ***\n")
        }
    }

    func envelopeText(_ file: QueueFile) -> String {
        let e = file.envelope
        let sizes = [file.contentLength, file.contentOffset, file.recipients.count, 0, file.contentLength, e.smtputf8 ? 1 : 0]
        let fields = sizes.map { value -> String in
            let digits = String(value)
            return String(repeating: " ", count: max(0, 15 - digits.count)) + digits
        }
        var text = "message_size: " + fields.joined(separator: " ") + "\n"
        text += "message_arrival_time: \(MailDate.asctime(e.arrivalSeconds))\n"
        text += "sender: \(e.sender)\n"
        for attribute in e.attributes {
            if attribute.name == QueueEnvelope.fullNameKey {
                text += "sender_fullname: \(attribute.value)\n"
            } else {
                text += "named_attribute: \(attribute.name)=\(attribute.value)\n"
            }
        }
        return text
    }

    func recipientText(_ r: QueueRecipient) -> String {
        var text = ""
        if let original = r.originalRecipient { text += "original_recipient: \(original)\n" }
        if let orcpt = r.dsnOriginalRecipient { text += "dsn_orig_rcpt: \(orcpt)\n" }
        if !r.dsnNotify.isEmpty { text += "dsn_notify_flags: \(r.dsnNotify.rawValue)\n" }
        return text + (r.isDone ? "done_recipient: " : "recipient: ") + r.address + "\n"
    }

    /// Streams the content, or only its header block (-h) or body (-b): the header block
    /// ends at the first empty line, which starts the body.
    func content(_ file: QueueFile, _ fd: Int32, to output: inout OutputBuffer) throws {
        var inHeader = true
        var atLineStart = true
        var lastPrinted: UInt8 = 10
        try file.readContent(descriptor: fd) { chunk in
            var start = 0
            if inHeader {
                var split = chunk.count
                for i in 0..<chunk.count {
                    if chunk[i] == 10 && atLineStart {
                        split = i
                        inHeader = false
                        break
                    }
                    atLineStart = chunk[i] == 10
                }
                if sections.header && split > 0 {
                    output.append(UnsafeRawBufferPointer(rebasing: chunk[0..<split]))
                    lastPrinted = chunk[split - 1]
                }
                start = split
            }
            if sections.body && start < chunk.count {
                output.append(UnsafeRawBufferPointer(rebasing: chunk[start...]))
                lastPrinted = chunk[chunk.count - 1]
            }
        }
        // A last line without its line feed still ends before the next marker.
        if lastPrinted != 10 { output.append("\n") }
    }
}
