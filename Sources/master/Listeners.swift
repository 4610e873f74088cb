// Binding a service's listen sockets: inet services on the addresses `inet_interfaces`
// and `inet_protocols` name (or the host in the service name), Unix services under the
// queue directory's private/ or public/.
import CSupport
import Glibc
import Shared

enum Listeners {
    /// Binds ENTRY's sockets; BACKLOG is Postfix's max(maxproc, default_process_limit).
    static func bind(_ entry: ServiceEntry, config: MainConfig) throws -> [Int32] {
        let backlog = Int32(max(entry.maxproc, config.int("default_process_limit"), 16))
        switch entry.type {
        case .inet:
            var fds: [Int32] = []
            do {
                for host in try inetHosts(entry, config: config) {
                    guard let address = InetAddress(host: host, port: entry.inetPort) else {
                        throw ConfigError("bad address \(host) for service \(entry.name)")
                    }
                    fds.append(try Sockets.listenInet(address, backlog: backlog))
                }
            } catch {
                for fd in fds { close(fd) }
                throw error
            }
            return fds
        case .unix, .pass:
            return [try Sockets.listenUnix(entry.socketPath, backlog: backlog)]
        case .unixDgram:
            return [try Sockets.listenUnix(entry.socketPath, backlog: backlog, type: Int32(SOCK_DGRAM.rawValue))]
        case .fifo:
            unlink(entry.socketPath)
            guard mkfifo(entry.socketPath, 0o622) == 0 else { throw SystemError("mkfifo \(entry.socketPath)") }
            let fd = open(entry.socketPath, O_RDWR | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { throw SystemError("open \(entry.socketPath)") }
            return [fd]
        }
    }

    /// The numeric addresses an inet service listens on.
    static func inetHosts(_ entry: ServiceEntry, config: MainConfig) throws -> [String] {
        let protocols = protocolFamilies(config.value("inet_protocols"))
        if let host = entry.inetHost { return try resolve(host, families: protocols) }
        var hosts: [String] = []
        for interface in config.list("inet_interfaces") {
            switch interface.asciiLowercased {
            case "all":
                if protocols.contains(AF_INET) { hosts.append("0.0.0.0") }
                if protocols.contains(AF_INET6) { hosts.append("::") }
            case "loopback-only":
                if protocols.contains(AF_INET) { hosts.append("127.0.0.1") }
                if protocols.contains(AF_INET6) { hosts.append("::1") }
            default:
                let name = interface.hasPrefix("[") ? String(interface.dropFirst().dropLast()) : interface
                hosts += try resolve(name, families: protocols)
            }
        }
        var unique: [String] = []
        for h in hosts where !unique.contains(h) { unique.append(h) }
        return unique
    }

    /// `all`, `ipv4`, `ipv6` or a list of them → address families (IPv6 only if usable).
    static func protocolFamilies(_ value: String) -> [Int32] {
        var result: [Int32] = []
        for word in splitList(value.asciiLowercased) {
            if word == "all" || word == "ipv4" { result.append(AF_INET) }
            if word == "all" || word == "ipv6" {
                let probe = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
                if probe >= 0 {
                    close(probe)
                    result.append(AF_INET6)
                } else if word == "ipv6" {
                    Log.warning("inet_protocols: IPv6 support is disabled: \(errnoText())")
                }
            }
        }
        return result.isEmpty ? [AF_INET] : result
    }

    /// Numeric addresses of NAME (itself when numeric), limited to FAMILIES.
    static func resolve(_ name: String, families: [Int32]) throws -> [String] {
        if InetAddress(host: name, port: 0) != nil { return [name] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0 else {
            throw ConfigError("host not found: \(name)")
        }
        defer { freeaddrinfo(result) }
        var hosts: [String] = []
        var p = result
        while let ai = p {
            defer { p = ai.pointee.ai_next }
            guard families.contains(ai.pointee.ai_family), let addr = ai.pointee.ai_addr else { continue }
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: addr, count: Int(ai.pointee.ai_addrlen)))
            }
            let host = InetAddress(storage: storage, length: ai.pointee.ai_addrlen).host
            if !hosts.contains(host) { hosts.append(host) }
        }
        return hosts
    }
}
