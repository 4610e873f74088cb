// Who the client is: its address and port, and its name as Postfix finds it (reverse
// lookup, confirmed by a forward lookup; `unknown` otherwise), shown as `name[addr]`.
import Glibc
import Shared

struct ClientIdentity {
    var address: String
    var port: UInt16
    /// The verified name, or `unknown`.
    var name: String
    /// The reverse name even when the forward lookup did not confirm it.
    var reverseName: String

    /// `name[addr]` as Postfix logs clients.
    var nameAddress: String { "\(name)[\(address)]" }

    /// Looks up the peer of a connected socket; a Unix-socket peer is `localhost[127.0.0.1]`
    /// unless the caller passes another identity.
    static func of(_ fd: Int32) -> ClientIdentity {
        guard let peer = Sockets.peerAddress(fd) else {
            return ClientIdentity(address: "127.0.0.1", port: 0, name: "localhost", reverseName: "localhost")
        }
        let address = peer.host
        let reverse = reverseLookup(peer) ?? "unknown"
        let confirmed = reverse != "unknown" && forwardConfirms(reverse, address) ? reverse : "unknown"
        return ClientIdentity(address: address, port: peer.port, name: confirmed, reverseName: reverse)
    }

    static func reverseLookup(_ peer: InetAddress) -> String? {
        var peer = peer
        var host = [CChar](repeating: 0, count: 1025)
        let rc = peer.withSockaddr { getnameinfo($0, $1, &host, socklen_t(host.count), nil, 0, NI_NAMEREQD) }
        guard rc == 0 else { return nil }
        let name = String(cString: host)
        return name.isEmpty ? nil : name
    }

    /// True when NAME resolves back to ADDRESS.
    static func forwardConfirms(_ name: String, _ address: String) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0 else { return false }
        defer { freeaddrinfo(result) }
        var p = result
        while let ai = p {
            defer { p = ai.pointee.ai_next }
            guard let addr = ai.pointee.ai_addr else { continue }
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: addr, count: Int(ai.pointee.ai_addrlen)))
            }
            if InetAddress(storage: storage, length: ai.pointee.ai_addrlen).host == address { return true }
        }
        return false
    }
}
