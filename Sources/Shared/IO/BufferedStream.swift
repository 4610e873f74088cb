// A buffered, time-limited byte stream over a socket (and, through Transport, over TLS):
// line reads with a length limit, exact-size reads, buffered writes. Every protocol
// Postern speaks (SMTP, the attribute protocol, control requests) reads through it.
import Glibc

/// Where a stream's bytes go: a plain descriptor, or a TLS session on top of one.
public protocol Transport: AnyObject {
    var descriptor: Int32 { get }
    /// Reads up to BUFFER's size; 0 = end of stream; -1 = error (errno set; EAGAIN = try later).
    func receive(_ buffer: UnsafeMutableRawBufferPointer) -> Int
    func send(_ buffer: UnsafeRawBufferPointer) -> Int
    /// Bytes already decoded and waiting (TLS), so a poll would not show them.
    var pending: Bool { get }
}

public final class PlainTransport: Transport {
    public let descriptor: Int32
    public init(_ fd: Int32) { descriptor = fd }
    public func receive(_ buffer: UnsafeMutableRawBufferPointer) -> Int { read(descriptor, buffer.baseAddress, buffer.count) }
    public func send(_ buffer: UnsafeRawBufferPointer) -> Int { Glibc.send(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    public var pending: Bool { false }
}

public enum StreamError: Error, Equatable {
    case timeout
    case closed
    case failed(Int32)
    case lineTooLong
}

public final class BufferedStream {
    public var transport: Transport
    /// Per-operation time limit in milliseconds (negative = none).
    public var timeoutMs: Int
    var input: [UInt8] = []
    var inputStart = 0
    var output: [UInt8] = []

    public init(_ transport: Transport, timeoutMs: Int = 300_000) {
        self.transport = transport
        self.timeoutMs = timeoutMs
        input.reserveCapacity(8192)
        output.reserveCapacity(8192)
    }

    public convenience init(descriptor: Int32, timeoutMs: Int = 300_000) {
        self.init(PlainTransport(descriptor), timeoutMs: timeoutMs)
    }

    public var descriptor: Int32 { transport.descriptor }

    /// Bytes received but not yet consumed (pipelined input).
    public var bufferedCount: Int { input.count - inputStart }

    /// Those bytes themselves.
    public var unreadInput: ArraySlice<UInt8> { input[inputStart...] }

    /// Throws away unread input (after STARTTLS, to defeat command injection).
    public func discardBufferedInput() {
        input.removeAll(keepingCapacity: true)
        inputStart = 0
    }

    /// Reads more bytes into the input buffer; false at end of stream.
    func fill() throws -> Bool {
        if inputStart > 0 && inputStart == input.count {
            input.removeAll(keepingCapacity: true)
            inputStart = 0
        } else if inputStart > 65536 {
            input.removeFirst(inputStart)
            inputStart = 0
        }
        if !transport.pending && timeoutMs >= 0 {
            guard Sockets.waitFor(transport.descriptor, events: Int16(POLLIN), timeoutMs: timeoutMs) else { throw StreamError.timeout }
        }
        let oldCount = input.count
        input.append(contentsOf: repeatElement(0, count: 16384))
        let n = input.withUnsafeMutableBytes { raw in
            transport.receive(UnsafeMutableRawBufferPointer(rebasing: raw[oldCount...]))
        }
        input.removeLast(16384 - max(n, 0))
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { return true }
            throw StreamError.failed(errno)
        }
        return n > 0
    }

    /// Reads one line without its CRLF or LF. At most LIMIT bytes are kept: a longer line
    /// is read to its end and returned cut, with `truncated` set. nil = end of stream.
    public func readLine(limit: Int = 65536) throws -> (line: [UInt8], truncated: Bool)? {
        var scanned = 0  // bytes after inputStart known to hold no newline
        var truncated = false
        var kept: [UInt8] = []
        while true {
            if let nl = input[(inputStart + scanned)...].firstIndex(of: 10) {
                var end = nl
                if end > inputStart && input[end - 1] == 13 { end -= 1 }
                let piece = input[inputStart..<end]
                if kept.count + piece.count > limit {
                    kept.append(contentsOf: piece.prefix(max(0, limit - kept.count)))
                    truncated = true
                } else {
                    kept.append(contentsOf: piece)
                }
                inputStart = nl + 1
                return (kept, truncated)
            }
            if input.count - inputStart > limit {
                // Keep the first LIMIT bytes; the rest of this line is dropped as it arrives.
                kept.append(contentsOf: input[inputStart...].prefix(max(0, limit - kept.count)))
                truncated = true
                inputStart = input.count
            }
            scanned = input.count - inputStart
            guard try fill() else {
                if input.count > inputStart || !kept.isEmpty {
                    kept.append(contentsOf: input[inputStart...].prefix(max(0, limit - kept.count)))
                    inputStart = input.count
                    return (kept, truncated)
                }
                return nil
            }
        }
    }

    /// Reads exactly COUNT bytes, handing them to SINK in pieces.
    public func read(exactly count: Int, into sink: (ArraySlice<UInt8>) throws -> Void) throws {
        var remaining = count
        while remaining > 0 {
            if inputStart == input.count {
                guard try fill() else { throw StreamError.closed }
                continue
            }
            let take = min(remaining, input.count - inputStart)
            try sink(input[inputStart..<(inputStart + take)])
            inputStart += take
            remaining -= take
        }
    }

    public func write(_ text: String) {
        output.append(contentsOf: text.utf8)
    }

    public func write(_ bytes: [UInt8]) {
        output.append(contentsOf: bytes)
    }

    public var hasPendingOutput: Bool { !output.isEmpty }

    /// Sends everything buffered.
    public func flush() throws {
        var offset = 0
        defer {
            if offset >= output.count { output.removeAll(keepingCapacity: true) } else { output.removeFirst(offset) }
        }
        while offset < output.count {
            let n = output.withUnsafeBytes { raw in
                transport.send(UnsafeRawBufferPointer(rebasing: raw[offset...]))
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    guard Sockets.waitFor(transport.descriptor, events: Int16(POLLOUT), timeoutMs: timeoutMs) else {
                        throw StreamError.timeout
                    }
                    continue
                }
                throw StreamError.failed(errno)
            }
            offset += n
        }
    }
}
