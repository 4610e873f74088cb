// /etc/hosts (hosts(5)), which the system resolver consults before DNS for peer names
// ("files dns" in nsswitch.conf): Postfix finds its clients' names through
// getnameinfo/getaddrinfo, so a name listed there (localhost for 127.0.0.1) wins over
// DNS. smtpd reads it only when Postern uses the system's resolver configuration.

/// The address ↔ name pairs of a hosts file.
public struct HostsFile {
    /// Address (textual, as inet_ntop writes it) → the names on its first line.
    var namesByAddress: [String: [String]] = [:]
    /// Lower-cased name → its addresses, in file order.
    var addressesByName: [String: [String]] = [:]

    /// Reads PATH; a missing file is an empty table.
    public static func read(_ path: String = "/etc/hosts") -> HostsFile {
        HostsFile(text: (try? FileIO.readText(path)) ?? "")
    }

    public init(text: String) {
        for raw in text.split(separator: "\n") {
            let line = raw.prefix { $0 != "#" }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard words.count >= 2, let address = HostsFile.canonical(words[0]) else { continue }
            if namesByAddress[address] == nil { namesByAddress[address] = Array(words.dropFirst()) }
            for name in words.dropFirst() {
                let key = name.asciiLowercased
                if !(addressesByName[key] ?? []).contains(address) { addressesByName[key, default: []].append(address) }
            }
        }
    }

    /// The official name of ADDRESS (the first name on its line).
    public func name(for address: String) -> String? {
        HostsFile.canonical(address).flatMap { namesByAddress[$0]?.first }
    }

    /// The addresses listed for NAME (case-insensitive).
    public func addresses(_ name: String) -> [String]? {
        addressesByName[name.asciiLowercased]
    }

    /// ADDRESS in inet_ntop's form, so `::0001` and `::1` compare equal; nil if not an address.
    public static func canonical(_ address: String) -> String? {
        guard let (_, bytes) = CIDRTable.address(address) else { return nil }
        return DNSRecords.address(bytes)
    }
}
