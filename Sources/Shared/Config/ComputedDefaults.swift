// Defaults that depend on the machine or the running process: myhostname, mydomain,
// mynetworks (per mynetworks_style), process_id, process_name.
import Glibc

enum ComputedDefaults {
    static func value(_ name: String, config: MainConfig) -> String {
        switch name {
        case "myhostname":
            let host = ThisProcess.hostName
            return host.contains(".") ? host : host + ".localdomain"
        case "mydomain":
            let host = config.value("myhostname")
            guard let dot = host.firstIndex(of: ".") else { return "localdomain" }
            let rest = String(host[host.index(after: dot)...])
            return rest.isEmpty ? "localdomain" : rest
        case "mynetworks":
            return networks(style: config.value("mynetworks_style"))
        case "process_id":
            return String(getpid())
        case "process_name":
            return ThisProcess.name
        default:
            // A default that names a computed parameter (myorigin = $myhostname).
            return ParameterRegistry.all[name]?.defaultValue ?? ""
        }
    }

    /// The networks of this machine's interfaces: `host` gives each address alone,
    /// `subnet` its subnet, `class` its class A/B/C network.
    static func networks(style: String) -> String {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return "127.0.0.0/8 [::1]/128" }
        defer { freeifaddrs(list) }
        var v4: [String] = []
        var v6: [String] = []
        var p = list
        while let entry = p {
            defer { p = entry.pointee.ifa_next }
            guard let addr = entry.pointee.ifa_addr else { continue }
            let family = Int32(addr.pointee.sa_family)
            guard family == AF_INET || family == AF_INET6 else { continue }
            guard let ip = numericHost(addr), let mask = entry.pointee.ifa_netmask else { continue }
            let prefix = prefixLength(mask, family: family)
            let length: Int
            switch style {
            case "host": length = family == AF_INET ? 32 : 128
            case "class": length = family == AF_INET ? classLength(ip) : prefix
            default: length = prefix
            }
            let network = networkAddress(ip, family: family, length: length)
            if family == AF_INET {
                let item = "\(network)/\(length)"
                if !v4.contains(item) { v4.append(item) }
            } else {
                let item = "[\(network)]/\(length)"
                if !v6.contains(item) { v6.append(item) }
            }
        }
        return (v4 + v6).joined(separator: " ")
    }

    static func numericHost(_ addr: UnsafeMutablePointer<sockaddr>) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        let length = addr.pointee.sa_family == sa_family_t(AF_INET) ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size
        guard getnameinfo(addr, socklen_t(length), &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 else {
            return nil
        }
        let text = String(cString: buffer)
        return text.split(separator: "%").first.map(String.init)
    }

    static func prefixLength(_ mask: UnsafeMutablePointer<sockaddr>, family: Int32) -> Int {
        var bits = 0
        if family == AF_INET {
            mask.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                bits = UInt32(bigEndian: $0.pointee.sin_addr.s_addr).nonzeroBitCount
            }
        } else {
            mask.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                withUnsafeBytes(of: $0.pointee.sin6_addr) { raw in bits = raw.reduce(0) { $0 + $1.nonzeroBitCount } }
            }
        }
        return bits
    }

    static func classLength(_ ip: String) -> Int {
        let first = Int(ip.split(separator: ".").first ?? "0") ?? 0
        if first < 128 { return 8 }
        if first < 192 { return 16 }
        return 24
    }

    /// ADDRESS with all bits past LENGTH cleared, in text form.
    static func networkAddress(_ address: String, family: Int32, length: Int) -> String {
        var bytes = [UInt8](repeating: 0, count: family == AF_INET ? 4 : 16)
        guard inet_pton(family, address, &bytes) == 1 else { return address }
        for i in bytes.indices {
            let keep = max(0, min(8, length - i * 8))
            bytes[i] &= keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        }
        var out = [CChar](repeating: 0, count: 64)
        inet_ntop(family, bytes, &out, socklen_t(out.count))
        return String(cString: out)
    }
}
