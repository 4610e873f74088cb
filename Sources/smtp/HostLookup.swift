// Name lookups for the SMTP client, per smtp_host_lookup: `dns` asks the DNS resolver
// (libunbound, Shared/DNS) for MX and A/AAAA records; `native` asks the system resolver
// (getaddrinfo: /etc/hosts, then DNS) for addresses, and knows no MX records. With both,
// a name DNS does not know is tried natively. disable_dns_lookups = yes or
// smtp_dns_support_level = disabled leaves only native lookups.
import Glibc
import Shared

struct AgentHostLookup: SMTPHostLookup {
    let dns: DNSResolver?
    let native: Bool

    init(config: MainConfig) {
        let methods = Set(config.list("smtp_host_lookup").map { $0.asciiLowercased })
        let dnsDisabled = config.bool("disable_dns_lookups") || config.value("smtp_dns_support_level").asciiLowercased == "disabled"
        dns = methods.contains("dns") && !dnsDisabled ? DNSResolver.shared(config: config) : nil
        native = methods.contains("native") || dns == nil
    }

    func mx(_ domain: String) -> SMTPLookupResult<[(preference: Int, host: String)]> {
        guard let dns else { return .notFound(nxdomain: false) }
        switch dns.mx(domain) {
        case .found(let records): return .found(records.map { ($0.preference, $0.host) })
        case .notFound(let nxdomain): return .notFound(nxdomain: nxdomain)
        case .failed(let reason):
            Log.warning("MX lookup for \(domain): \(reason)")
            return .failed
        }
    }

    func addresses(_ host: String) -> SMTPLookupResult<[String]> {
        var result: SMTPLookupResult<[String]> = .notFound(nxdomain: true)
        if let dns {
            switch dns.addresses(host) {
            case .found(let list): return .found(list)
            case .notFound(let nxdomain): result = .notFound(nxdomain: nxdomain)
            case .failed(let reason):
                Log.warning("address lookup for \(host): \(reason)")
                return .failed
            }
        }
        return native ? AgentHostLookup.system(host) : result
    }

    /// getaddrinfo's answer for HOST.
    static func system(_ host: String) -> SMTPLookupResult<[String]> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &result)
        guard status == 0 else {
            switch status {
            case EAI_NONAME: return .notFound(nxdomain: true)
            case EAI_AGAIN, EAI_FAIL, EAI_MEMORY, EAI_SYSTEM: return .failed
            default: return .notFound(nxdomain: false)
            }
        }
        defer { freeaddrinfo(result) }
        var found: [String] = []
        var next = result
        while let ai = next {
            if let sa = ai.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: Int(ai.pointee.ai_addrlen)))
                }
                let text = InetAddress(storage: storage, length: ai.pointee.ai_addrlen).host
                if !found.contains(text) { found.append(text) }
            }
            next = ai.pointee.ai_next
        }
        return found.isEmpty ? .notFound(nxdomain: false) : .found(found)
    }
}
