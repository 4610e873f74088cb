// The message a delivery request names, read from its queue file: the envelope for MAIL
// FROM (size, BODY=, SMTPUTF8, DSN) and the content, streamed to the server in DATA form
// chunk by chunk. A message needs SMTPUTF8 (Postfix's rule) when the sender asked for it
// and an envelope address or a header holds non-ASCII text.
import Glibc
import Shared

final class QueuedMessage {
    let descriptor: Int32
    let file: QueueFile

    /// Opens the queue file at PATH (relative to the queue directory).
    init(path: String) throws {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SystemError("open \(path)") }
        do {
            file = try QueueFile.read(descriptor: descriptor)
        } catch {
            close(descriptor)
            throw error
        }
    }

    deinit { close(descriptor) }

    /// The transaction for RECIPIENTS of REQUEST.
    func transaction(_ request: DeliveryRequest, _ recipients: [DeliveryRecipient]) -> SMTPTransaction {
        var t = SMTPTransaction(
            sender: request.sender,
            recipients: recipients.map {
                SMTPTransactionRecipient(address: $0.address, orcpt: $0.orcpt, originalAddress: $0.originalAddress, notify: $0.notify)
            },
            size: file.contentLength)
        t.encoding = file.envelope.encoding
        t.envid = request.dsnEnvid
        t.ret = request.dsnRet
        t.smtputf8Requested = file.envelope.smtputf8
        if t.smtputf8Requested {
            let addresses = [request.sender] + recipients.map(\.address)
            t.smtputf8Required = addresses.contains { !$0.utf8.allSatisfy { $0 < 128 } } || headersHaveNonASCII()
        }
        return t
    }

    struct EndOfHeaders: Error {}

    /// True when a header line holds a byte outside ASCII.
    func headersHaveNonASCII() -> Bool {
        var found = false
        var lineStart = true
        do {
            try file.readContent(descriptor: descriptor, chunkSize: 8192) { chunk in
                for b in chunk {
                    if b == 10 {
                        if lineStart { throw EndOfHeaders() }
                        lineStart = true
                        continue
                    }
                    lineStart = false
                    if b >= 128 {
                        found = true
                        throw EndOfHeaders()
                    }
                }
            }
        } catch {
            return found
        }
        return found
    }

    /// Writes the content in DATA form, `.` CRLF included, in writes of about 64 KiB (a
    /// small message and its final dot go in one write, so no segment waits for a
    /// delayed ACK); true when a line longer than LINELIMIT had to be broken. Throws
    /// StreamError when the connection fails, SystemError/QueueFileError when the queue
    /// file cannot be read.
    func send(to stream: BufferedStream, lineLimit: Int) throws -> Bool {
        var encoder = SMTPDataEncoder(lineLimit: lineLimit)
        var out: [UInt8] = []
        out.reserveCapacity(140_000)
        try file.readContent(descriptor: descriptor) { chunk in
            encoder.encode(chunk, into: &out)
            if out.count >= 65536 {
                stream.write(out)
                out.removeAll(keepingCapacity: true)
                try stream.flush()
            }
        }
        encoder.finish(into: &out)
        stream.write(out)
        try stream.flush()
        return encoder.brokeLongLine
    }
}
