// /etc/resolv.conf as glibc's resolver reads it (resolv.conf(5)): `nameserver` lines
// (up to three), and `options timeout:N attempts:N`, which bound how long a lookup may
// take. No nameserver means the local one, 127.0.0.1, as in glibc.

struct ResolvConf {
    var servers: [String] = []
    var timeoutSeconds = 5
    var attempts = 2

    static func read(_ path: String) -> ResolvConf {
        var conf = ResolvConf()
        let text = (try? FileIO.readText(path)) ?? ""
        for raw in text.split(separator: "\n") {
            let words = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let keyword = words.first, !keyword.hasPrefix("#"), !keyword.hasPrefix(";") else { continue }
            if keyword == "nameserver", words.count > 1, conf.servers.count < 3,
                let server = DNSResolver.serverAddress(words[1].split(separator: "%").first.map(String.init) ?? "")
            {
                conf.servers.append(server)
            } else if keyword == "options" {
                for option in words.dropFirst() {
                    if option.hasPrefix("timeout:"), let n = Int(option.dropFirst(8)) { conf.timeoutSeconds = min(max(n, 1), 30) }
                    if option.hasPrefix("attempts:"), let n = Int(option.dropFirst(9)) { conf.attempts = min(max(n, 1), 5) }
                }
            }
        }
        if conf.servers.isEmpty { conf.servers = ["127.0.0.1@53"] }
        return conf
    }
}
