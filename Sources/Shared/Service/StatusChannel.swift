// The status channel between the master and a service's children (fd 5), with
// Postfix's message: a native-endian {pid, generation, availability} triple, 12 bytes.
import Glibc

public enum ServiceFD {
    /// The per-service status channel in every child.
    public static let status: Int32 = 5
    /// The first listen socket in a child; more follow (6, 7, …).
    public static let firstListen: Int32 = 6
}

public struct StatusMessage: Equatable {
    public static let taken: Int32 = 0
    public static let available: Int32 = 1
    public static let size = 12

    public var pid: Int32
    public var generation: UInt32
    public var availability: Int32

    public init(pid: Int32, generation: UInt32, availability: Int32) {
        self.pid = pid
        self.generation = generation
        self.availability = availability
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: pid) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: generation) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: availability) { out.append(contentsOf: $0) }
        return out
    }

    public init?(bytes: ArraySlice<UInt8>) {
        guard bytes.count == StatusMessage.size else { return nil }
        let a = Array(bytes)
        pid = a.withUnsafeBytes { $0.load(fromByteOffset: 0, as: Int32.self) }
        generation = a.withUnsafeBytes { $0.load(fromByteOffset: 4, as: UInt32.self) }
        availability = a.withUnsafeBytes { $0.load(fromByteOffset: 8, as: Int32.self) }
    }
}

/// The child's end of the status channel.
public enum StatusChannel {
    nonisolated(unsafe) static var generation: UInt32 = 0

    /// Tells the master this process is busy (TAKEN) or idle (AVAIL). False if the master
    /// can no longer be told (it went away or reloaded): the caller should exit.
    @discardableResult
    public static func report(_ availability: Int32) -> Bool {
        let message = StatusMessage(pid: getpid(), generation: generation, availability: availability).bytes
        let n = message.withUnsafeBytes { write(ServiceFD.status, $0.baseAddress, $0.count) }
        return n == StatusMessage.size
    }

    /// True when the master closed its end (EOF or error on fd 5).
    public static func masterGone() -> Bool {
        var p = pollfd(fd: ServiceFD.status, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 0) > 0 else { return false }
        var byte: UInt8 = 0
        return read(ServiceFD.status, &byte, 1) <= 0
    }
}
