// The message as a delivery writes it (Postfix's mail_copy.c): optional prepended lines
// (`From sender  Wed Nov 25 12:00:00 2026`, Return-Path:, X-Original-To:,
// Delivered-To:), then the content with LF line ends, `>From ` quoting for mbox files
// and a blank line after the message for mbox files. The bytes go to a sink in pieces
// of about 64 KiB, from one reused buffer.
import Glibc
import Shared

/// What a delivery prepends and how it treats the content.
struct CopyOptions: OptionSet {
    let rawValue: Int
    /// The mbox `From sender  date` line.
    static let fromLine = CopyOptions(rawValue: 1)
    /// `>` before content lines that start with `From `.
    static let quoteFrom = CopyOptions(rawValue: 2)
    static let returnPath = CopyOptions(rawValue: 4)
    static let originalRecipient = CopyOptions(rawValue: 8)
    static let deliveredTo = CopyOptions(rawValue: 16)
    /// An empty line after the message (mbox).
    static let blankLine = CopyOptions(rawValue: 32)

    /// Everything an mbox file (mailbox or /file/name) gets.
    static let mailbox: CopyOptions = [.fromLine, .quoteFrom, .returnPath, .originalRecipient, .deliveredTo, .blankLine]
}

/// Why a copy failed: the message could not be read, or the destination not written.
enum CopyError: Error {
    case read(SystemError)
    case write(SystemError)
}

/// One message about to be written, with what a delivery prepends to it.
struct MessageCopy {
    static let pieceSize = 65536

    var source: MessageSource
    var sender: String
    /// The X-Original-To: address ("" for none).
    var originalRecipient: String
    var deliveredTo: String
    var options: CopyOptions

    /// The lines written before the content.
    func prefix(now: time_t) -> String {
        var text = ""
        let quotedSender = AddressText.quotedLocal(sender)
        if options.contains(.fromLine) {
            text += "From \(sender.isEmpty ? "MAILER-DAEMON" : quotedSender)  \(MessageCopy.asctime(now))\n"
        }
        if options.contains(.returnPath) { text += "Return-Path: <\(sender.isEmpty ? "" : quotedSender)>\n" }
        if options.contains(.originalRecipient) && !originalRecipient.isEmpty {
            text += "X-Original-To: \(AddressText.quotedLocal(originalRecipient))\n"
        }
        if options.contains(.deliveredTo) { text += "Delivered-To: \(AddressText.quotedLocal(deliveredTo))\n" }
        return text
    }

    /// Writes the whole message to SINK. A failure to read the message is thrown as
    /// `CopyError.read`; whatever SINK throws comes back as `CopyError.write`.
    func write(to sink: ([UInt8]) throws -> Void) throws {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(MessageCopy.pieceSize + 4096)
        buffer.append(contentsOf: prefix(now: time(nil)).utf8)
        var sinkError: Error?
        /// Hands full pieces to SINK; false once it failed.
        func flushFull() -> Bool {
            guard buffer.count >= MessageCopy.pieceSize else { return true }
            do {
                try sink(buffer)
            } catch {
                sinkError = error
                return false
            }
            buffer.removeAll(keepingCapacity: true)
            return true
        }
        do {
            if options.contains(.quoteFrom) {
                try source.readLines { line in
                    if line.count >= 5 && line.starts(with: "From ".utf8) { buffer.append(UInt8(ascii: ">")) }
                    buffer.append(contentsOf: line)
                    buffer.append(10)
                    return flushFull()
                }
            } else {
                // Nothing to quote (Maildir, commands): the content in large pieces, as stored.
                try source.readContent { piece in
                    guard sinkError == nil else { return }
                    buffer.append(contentsOf: piece)
                    _ = flushFull()
                }
            }
        } catch {
            throw CopyError.read(MessageCopy.systemError(error))
        }
        if let sinkError { throw CopyError.write(MessageCopy.systemError(sinkError)) }
        if options.contains(.blankLine) { buffer.append(10) }
        do {
            if !buffer.isEmpty { try sink(buffer) }
        } catch {
            throw CopyError.write(MessageCopy.systemError(error))
        }
    }

    static func systemError(_ error: Error) -> SystemError {
        error as? SystemError ?? SystemError("\(error)", code: EIO)
    }

    /// asctime(3)'s 24 characters in local time: `Wed Nov 25 12:00:00 2026`.
    static func asctime(_ time: time_t) -> String {
        var clock = time
        var parts = tm()
        localtime_r(&clock, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%a %b %e %H:%M:%S %Y", &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
