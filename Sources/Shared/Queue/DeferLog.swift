// The per-message `defer/` and `bounce/` logs in Postfix's format (bounce_append_service.c,
// observed `defer/6/6737EF7C71D`): one record per recipient and attempt, each a blank
// line, the legacy `<rcpt>: reason` line (backwards_bounce_logfile_compatibility), then
// `name=value` lines (recipient, orig_rcpt, offset, dsn_orig_rcpt, dsn_notify, status,
// action, diag_type/diag_text, mta_type/mta_name, reason) and a blank line. Appends are
// locked, written in one write, fsync'ed, and cut back on failure; qmgr and postqueue
// read the reasons back.
import CSupport
import Glibc

/// One recipient's delivery status, as a defer or bounce log record holds it.
public struct DeliveryStatus: Equatable {
    /// The recipient address (internal form; `<>` is written for "").
    public var recipient: String
    /// The address before rewriting (`orig_rcpt`), written when it differs.
    public var originalRecipient: String?
    /// The recipient's status byte offset in the queue file (0 = unknown, not written).
    public var offset: Int
    /// DSN ORCPT, `rfc822;address`.
    public var dsnOriginalRecipient: String?
    /// DSN NOTIFY flags (written as Postfix's number when not empty).
    public var dsnNotify: DSNNotify
    /// The enhanced status code, `4.4.1`.
    public var status: String
    /// The DSN action: `delayed`, `failed`, `delivered`, `relayed`, `expanded`.
    public var action: String
    /// The diagnostic's type (`smtp`); written only together with diagnosticText.
    public var diagnosticType: String?
    /// The diagnostic text (`550 5.1.1 … user unknown`).
    public var diagnosticText: String?
    /// The remote MTA's name type (`dns`); written only together with mtaName.
    public var mtaType: String?
    /// The remote MTA's name (`mx.example.com`).
    public var mtaName: String?
    /// The human-readable reason (`connect to …: Connection refused`).
    public var reason: String

    /// A record for RECIPIENT with STATUS, ACTION and REASON.
    public init(recipient: String, originalRecipient: String? = nil, offset: Int = 0, dsnOriginalRecipient: String? = nil,
                dsnNotify: DSNNotify = [], status: String, action: String, diagnosticType: String? = nil,
                diagnosticText: String? = nil, mtaType: String? = nil, mtaName: String? = nil, reason: String) {
        self.recipient = recipient
        self.originalRecipient = originalRecipient
        self.offset = offset
        self.dsnOriginalRecipient = dsnOriginalRecipient
        self.dsnNotify = dsnNotify
        self.status = status
        self.action = action
        self.diagnosticType = diagnosticType
        self.diagnosticText = diagnosticText
        self.mtaType = mtaType
        self.mtaName = mtaName
        self.reason = reason
    }
}

/// Formats, appends and reads defer/bounce log files.
public enum DeferLog {
    /// RECORDS in the log file format. LEGACYLINE adds the `<rcpt>: reason` line before each
    /// record (backwards_bounce_logfile_compatibility = yes, the default). Control
    /// characters in values become `?` so a value cannot break the format.
    public static func format(_ records: [DeliveryStatus], legacyLine: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        for r in records {
            out.append(10)
            if legacyLine {
                let quoted = r.recipient.isEmpty ? "" : RFC822Quoting.quoteLocalPart(r.recipient)
                appendLine("<" + quoted + ">: " + r.reason, to: &out)
            }
            append("recipient", r.recipient.isEmpty ? "<>" : RFC822Quoting.quoteLocalPart(r.recipient), to: &out)
            if let original = r.originalRecipient, !original.isEmpty,
               original.asciiLowercased != r.recipient.asciiLowercased {
                append("orig_rcpt", RFC822Quoting.quoteLocalPart(original), to: &out)
            }
            if r.offset > 0 { append("offset", String(r.offset), to: &out) }
            if let orcpt = r.dsnOriginalRecipient, !orcpt.isEmpty { append("dsn_orig_rcpt", orcpt, to: &out) }
            if r.dsnNotify.rawValue != 0 { append("dsn_notify", String(r.dsnNotify.rawValue), to: &out) }
            if !r.status.isEmpty { append("status", r.status, to: &out) }
            if !r.action.isEmpty { append("action", r.action, to: &out) }
            if let type = r.diagnosticType, let text = r.diagnosticText, !type.isEmpty, !text.isEmpty {
                append("diag_type", type, to: &out)
                append("diag_text", text, to: &out)
            }
            if let type = r.mtaType, let name = r.mtaName, !type.isEmpty, !name.isEmpty {
                append("mta_type", type, to: &out)
                append("mta_name", name, to: &out)
            }
            if !r.reason.isEmpty { append("reason", r.reason, to: &out) }
            out.append(10)
        }
        return out
    }

    static func append(_ name: String, _ value: String, to out: inout [UInt8]) {
        appendLine(name + "=" + value, to: &out)
    }

    static func appendLine(_ text: String, to out: inout [UInt8]) {
        for c in text.utf8 { out.append(c < 32 && c != 9 || c == 127 ? UInt8(ascii: "?") : c) }
        out.append(10)
    }

    /// Appends RECORDS to the log at PATH (created mode 0600): locked against other
    /// writers, one write, one fsync. On failure the file is cut back to its old length
    /// and the error thrown (SystemError).
    public static func append(_ records: [DeliveryStatus], to path: String, legacyLine: Bool = true) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError("open \(path)") }
        defer { close(fd) }
        guard postern_fcntl_lock(fd, 1, 1) == 0 else { throw SystemError("lock \(path)") }
        let originalLength = lseek(fd, 0, SEEK_END)
        guard originalLength >= 0 else { throw SystemError("seek \(path)") }
        do {
            try FileIO.writeAll(fd, format(records, legacyLine: legacyLine))
            guard fsync(fd) == 0 else { throw SystemError("fsync \(path)") }
        } catch let error as SystemError {
            _ = ftruncate(fd, originalLength)
            throw SystemError("append \(path)", code: error.code)
        }
    }

    /// Appends RECORDS to QUEUEID's log in LOGQUEUE (`defer` or `bounce`) of DIRECTORY,
    /// creating the hashed subdirectory when it is missing.
    public static func append(_ records: [DeliveryStatus], queueID: String, logQueue: String,
                              directory: QueueDirectory, legacyLine: Bool = true) throws {
        let path = directory.path(queue: logQueue, queueID: queueID)
        do {
            try append(records, to: path, legacyLine: legacyLine)
        } catch let error as SystemError where error.code == ENOENT && directory.hashedQueues.contains(logQueue) {
            try directory.makeHashDirectories(queue: logQueue, queueID: queueID)
            try append(records, to: path, legacyLine: legacyLine)
        }
    }

    /// The records of the log at PATH (see parse). Throws SystemError when it cannot be
    /// read (ENOENT: no log).
    public static func read(_ path: String) throws -> [DeliveryStatus] {
        parse(try FileIO.readBytes(path))
    }

    /// The records of log text BYTES, in file order. Legacy `<rcpt>: reason` lines and
    /// unknown names are skipped; a record without `recipient=` is dropped; a garbled file
    /// yields what can be recovered.
    public static func parse(_ bytes: [UInt8]) -> [DeliveryStatus] {
        var records: [DeliveryStatus] = []
        var current: DeliveryStatus?
        var hasRecipient = false
        func close() {
            if let record = current, hasRecipient { records.append(record) }
            current = nil
            hasRecipient = false
        }
        for line in bytes.split(separator: 10, omittingEmptySubsequences: false) {
            if line.isEmpty {
                close()
                continue
            }
            guard line.first != UInt8(ascii: "<"), let eq = line.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: line[..<eq], as: UTF8.self)
            let value = String(decoding: line[(eq + 1)...], as: UTF8.self)
            var record = current ?? DeliveryStatus(recipient: "", status: "", action: "", reason: "")
            switch name {
            case "recipient":
                record.recipient = value == "<>" ? "" : value
                hasRecipient = true
            case "orig_rcpt": record.originalRecipient = value
            case "offset": record.offset = Int(value) ?? 0
            case "dsn_orig_rcpt": record.dsnOriginalRecipient = value
            case "dsn_notify": record.dsnNotify = DSNNotify(rawValue: Int(value) ?? 0)
            case "status": record.status = value
            case "action": record.action = value
            case "diag_type": record.diagnosticType = value
            case "diag_text": record.diagnosticText = value
            case "mta_type": record.mtaType = value
            case "mta_name": record.mtaName = value
            case "reason": record.reason = value
            default: break
            }
            current = record
        }
        close()
        return records
    }
}
