// Who the client is (Postfix's smtpd_peer.c): its address and port, and its name as
// Postfix finds it: the reverse (PTR) name, valid and not numeric, then confirmed by a
// forward lookup that must give the client address back; `unknown` otherwise, shown as
// `name[addr]`. The lookups go through Shared's DNS resolver; with the system's
// resolver configuration /etc/hosts answers first, as nsswitch's "files dns" does for
// Postfix. Whether a failure was temporary or permanent is kept for
// reject_unknown_client_hostname (450 on a temporary failure) and
// reject_unknown_reverse_client_hostname.
import Glibc
import Shared

/// How a client name lookup ended (SMTPD_PEER_CODE_*).
enum PeerNameStatus: Equatable {
    case ok
    case temporary
    case permanent
    /// The forward lookup did not give the client address back.
    case forged
}

struct ClientIdentity {
    var address: String
    var port: UInt16
    /// The verified name, or `unknown`.
    var name: String
    /// The reverse name even when the forward lookup did not confirm it.
    var reverseName: String
    var nameStatus: PeerNameStatus
    var reverseNameStatus: PeerNameStatus

    init(address: String, port: UInt16, name: String, reverseName: String,
         nameStatus: PeerNameStatus? = nil, reverseNameStatus: PeerNameStatus? = nil) {
        self.address = address
        self.port = port
        self.name = name
        self.reverseName = reverseName
        self.nameStatus = nameStatus ?? (name == "unknown" ? .permanent : .ok)
        self.reverseNameStatus = reverseNameStatus ?? (reverseName == "unknown" ? .permanent : .ok)
    }

    /// `name[addr]` as Postfix logs clients.
    var nameAddress: String { "\(name)[\(address)]" }

    /// The peer of a connected socket; a Unix-socket peer is `localhost[127.0.0.1]`.
    /// With smtpd_peername_lookup = no the name is not looked up.
    static func of(_ fd: Int32, config: MainConfig) -> ClientIdentity {
        guard let peer = Sockets.peerAddress(fd) else {
            return ClientIdentity(address: "127.0.0.1", port: 0, name: "localhost", reverseName: "localhost")
        }
        guard config.bool("smtpd_peername_lookup") else {
            return ClientIdentity(address: peer.host, port: peer.port, name: "unknown", reverseName: "unknown")
        }
        let resolver = DNSResolver.shared(config: config)
        return lookup(address: peer.host, port: peer.port, resolver: resolver,
                      hosts: resolver.usesSystemConfiguration ? systemHosts : nil)
    }

    /// /etc/hosts, read once per process.
    static let systemHosts = HostsFile.read()

    /// Reads what the lookups need (resolv.conf, /etc/hosts) before a chroot hides it.
    static func prepare(_ config: MainConfig) {
        let resolver = DNSResolver.shared(config: config)
        if resolver.usesSystemConfiguration { _ = systemHosts.name(for: "127.0.0.1") }
    }

    /// The name of ADDRESS: reverse lookup, then forward confirmation (HOSTS first).
    static func lookup(address: String, port: UInt16, resolver: DNSResolver, hosts: HostsFile?) -> ClientIdentity {
        func unknown(_ status: PeerNameStatus, reverse: String = "unknown", reverseStatus: PeerNameStatus? = nil) -> ClientIdentity {
            ClientIdentity(address: address, port: port, name: "unknown", reverseName: reverse,
                           nameStatus: status, reverseNameStatus: reverseStatus ?? status)
        }
        var reverse: String
        if let listed = hosts?.name(for: address) {
            reverse = listed
        } else {
            switch resolver.ptr(address) {
            case .failed: return unknown(.temporary)
            case .notFound: return unknown(.permanent)
            case .found(let names):
                guard let first = names.first else { return unknown(.permanent) }
                reverse = first
            }
        }
        if HostnameSyntax.isHostAddress(reverse) {
            Log.warning("numeric hostname: \(reverse)")
            return unknown(.permanent)
        }
        guard HostnameSyntax.isValidHostname(reverse) else {
            Log.warning("malformed hostname: \(reverse)")
            return unknown(.permanent)
        }
        let forward: DNSResult<[String]>
        if let listed = hosts?.addresses(reverse) {
            forward = .found(listed)
        } else {
            forward = resolver.addresses(reverse)
        }
        switch forward {
        case .failed:
            Log.warning("hostname \(reverse) does not resolve to address \(address): Temporary failure in name resolution")
            return unknown(.temporary, reverse: reverse, reverseStatus: .ok)
        case .notFound:
            Log.warning("hostname \(reverse) does not resolve to address \(address): Name or service not known")
            return unknown(.permanent, reverse: reverse, reverseStatus: .ok)
        case .found(let addresses):
            let mine = HostsFile.canonical(address) ?? address
            guard addresses.contains(where: { (HostsFile.canonical($0) ?? $0) == mine }) else {
                Log.warning("hostname \(reverse) does not resolve to address \(address)")
                return unknown(.forged, reverse: reverse, reverseStatus: .ok)
            }
            return ClientIdentity(address: address, port: port, name: reverse, reverseName: reverse, nameStatus: .ok, reverseNameStatus: .ok)
        }
    }
}
