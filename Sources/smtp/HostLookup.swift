// Name lookups for the SMTP client through the system resolver (getaddrinfo: DNS,
// /etc/hosts), as Postfix's smtp_host_lookup = native does. It knows no MX records, so
// every domain is delivered to its own addresses.
import Glibc
import Shared

struct SystemHostLookup: SMTPHostLookup {
    func mx(_ domain: String) -> SMTPLookupResult<[(preference: Int, host: String)]> {
        .notFound(nxdomain: false)
    }

    func addresses(_ host: String) -> SMTPLookupResult<[String]> {
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
