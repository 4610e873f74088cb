// The smtp_* parameters the delivery agent reads once at start-up (with the service's
// `-o` overrides already applied by ServiceRuntime): names, time limits, MX limits,
// connection caching, TLS level and SASL client settings. The TLS context, the password
// tables and the DNS resolver are set up while the process still has root's rights and
// sees the whole file system (keys and tables are often readable by root only). A value that cannot work (an unknown TLS level, a password
// table that cannot be opened) stops start-up; TLS that cannot be set up is a warning,
// and mail that requires it is deferred.
import Shared

/// What must be opened before privileges are dropped.
struct SMTPAgentResources {
    var tls: TLSClientContext?
    var saslPasswords: TableList?

    init(config: MainConfig) throws {
        let level = try SMTPAgentSettings.tlsLevel(config)
        if level != .none {
            var tlsSettings = TLSClientSettings(smtp: config)
            tlsSettings.level = level
            do {
                tls = try TLSClientContext(tlsSettings)
            } catch {
                if case .configuration(let lines) = error { lines.forEach { Log.warning($0) } } else { Log.warning("\(error)") }
            }
        }
        let maps = config.value("smtp_sasl_password_maps")
        if config.bool("smtp_sasl_auth_enable") && !maps.trimmed.isEmpty { saslPasswords = try TableRegistry.openList(maps) }
        // The resolver reads /etc/resolv.conf now, before a chroot could hide it.
        if config.list("smtp_host_lookup").contains(where: { $0.asciiLowercased == "dns" }) { _ = DNSResolver.shared(config: config) }
    }
}

struct SMTPAgentSettings {
    let heloName: String
    let myHostname: String
    let relayhost: String
    let fallbackRelays: [String]
    let defaultPort: UInt16
    /// Seconds per dialog stage (SMTPClientStage.timeoutParameter) and for connecting.
    let timeouts: [SMTPClientStage: Int]
    let connectTimeout: Int
    let mxAddressLimit: Int
    let mxSessionLimit: Int
    let lineLimit: Int
    let alwaysSendEHLO: Bool
    let neverSendEHLO: Bool
    let skip5xxGreeting: Bool
    let skipQuitResponse: Bool
    let randomizeAddresses: Bool
    let ipv4: Bool
    let ipv6: Bool
    /// Addresses this host receives mail on (the MX loop check).
    let ownAddresses: Set<String>
    let cacheOnDemand: Bool
    let cacheDestinations: [String]
    let cacheTimeLimit: Int
    let reuseTimeLimit: Int
    let reuseCountLimit: Int
    let tlsLevel: TLSSecurityLevel
    let tls: TLSClientContext?
    let saslEnabled: Bool
    let saslPasswords: TableList?
    let saslMechanismFilter: [String]
    let saslSecurityOptions: Set<String>
    let saslTLSSecurityOptions: Set<String>
    let saslSoftBounce: Bool

    init(_ config: MainConfig, resources: SMTPAgentResources) throws {
        myHostname = config.value("myhostname")
        heloName = config.value("smtp_helo_name")
        relayhost = config.value("relayhost")
        fallbackRelays = config.list("smtp_fallback_relay")
        let port = config.value("smtp_tcp_port")
        guard let p = resolvePort(port) else { throw ConfigError("\(config.path): parameter smtp_tcp_port: unknown service: \(port)") }
        defaultPort = p
        var timeouts: [SMTPClientStage: Int] = [:]
        for stage in SMTPClientStage.allCases { timeouts[stage] = max(1, config.seconds(stage.timeoutParameter)) }
        self.timeouts = timeouts
        connectTimeout = config.seconds("smtp_connect_timeout")
        mxAddressLimit = config.int("smtp_mx_address_limit")
        mxSessionLimit = config.int("smtp_mx_session_limit")
        lineLimit = config.int("smtp_line_length_limit")
        alwaysSendEHLO = config.bool("smtp_always_send_ehlo")
        neverSendEHLO = config.bool("smtp_never_send_ehlo")
        skip5xxGreeting = config.bool("smtp_skip_5xx_greeting")
        skipQuitResponse = config.bool("smtp_skip_quit_response")
        randomizeAddresses = config.bool("smtp_randomize_addresses")
        let protocols = config.list("inet_protocols").map { $0.lowercased() }
        ipv4 = protocols.contains("all") || protocols.contains("ipv4")
        ipv6 = protocols.contains("all") || protocols.contains("ipv6")
        var own: Set<String> = []
        for a in config.list("inet_interfaces") + config.list("proxy_interfaces") {
            switch a.lowercased() {
            case "all", "loopback-only", "localhost": own.formUnion(["127.0.0.1", "::1"])
            default: own.insert(a.hasPrefix("[") && a.hasSuffix("]") ? String(a.dropFirst().dropLast()) : a)
            }
        }
        ownAddresses = own
        cacheOnDemand = config.bool("smtp_connection_cache_on_demand")
        cacheDestinations = config.list("smtp_connection_cache_destinations").map { $0.asciiLowercased }
        cacheTimeLimit = max(1, config.seconds("smtp_connection_cache_time_limit"))
        reuseTimeLimit = config.seconds("smtp_connection_reuse_time_limit")
        reuseCountLimit = config.int("smtp_connection_reuse_count_limit")
        tlsLevel = try SMTPAgentSettings.tlsLevel(config)
        tls = resources.tls
        saslEnabled = config.bool("smtp_sasl_auth_enable")
        saslPasswords = resources.saslPasswords
        saslMechanismFilter = config.list("smtp_sasl_mechanism_filter").map { $0.uppercased() }
        saslSecurityOptions = Set(config.list("smtp_sasl_security_options").map { $0.lowercased() })
        saslTLSSecurityOptions = Set(config.list("smtp_sasl_tls_security_options").map { $0.lowercased() })
        saslSoftBounce = config.bool("smtp_sasl_auth_soft_bounce")
    }

    /// smtp_tls_security_level, or the older smtp_use_tls / smtp_enforce_tls. Without
    /// DANE support, `dane` works as `may` and `dane-only` as `secure`.
    static func tlsLevel(_ config: MainConfig) throws -> TLSSecurityLevel {
        let text = config.value("smtp_tls_security_level").lowercased()
        if text.isEmpty {
            if config.bool("smtp_enforce_tls") { return .encrypt }
            return config.bool("smtp_use_tls") ? .may : .none
        }
        guard let level = TLSSecurityLevel(rawValue: text) else {
            throw ConfigError("\(config.path): parameter smtp_tls_security_level: invalid TLS level: \"\(text)\"")
        }
        switch level {
        case .dane: return .may
        case .daneOnly: return .secure
        default: return level
        }
    }

    /// The dialog settings for one connection.
    func clientSettings(nexthop: String, port: UInt16, bestMX: Bool) -> SMTPClientSettings {
        var s = SMTPClientSettings(heloName: heloName, myHostname: myHostname)
        s.alwaysSendEHLO = alwaysSendEHLO
        s.neverSendEHLO = neverSendEHLO
        s.skip5xxGreeting = skip5xxGreeting
        s.skipQuitResponse = skipQuitResponse
        s.loopCheck = port == 25
        s.nexthop = nexthop
        s.bestMX = bestMX
        s.tlsLevel = tlsLevel
        s.tlsAvailable = tls != nil
        return s
    }

    /// smtp_sasl_password_maps' `user:password` for SERVER (looked up by host name, then
    /// by the destination as written); nil without SASL or without an entry.
    func credentials(host: String, destination: String) -> SMTPClientAuth? {
        guard saslEnabled, let maps = saslPasswords else { return nil }
        for key in [host.asciiLowercased, destination.asciiLowercased] {
            let value: String?
            do {
                value = try maps.lookup(key)
            } catch {
                Log.warning("smtp_sasl_password_maps lookup error for \(key): \(error)")
                return nil
            }
            guard let value else { continue }
            let parts = value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            return SMTPClientAuth(
                username: String(parts[0]), password: parts.count > 1 ? String(parts[1]) : "", mechanismFilter: saslMechanismFilter,
                securityOptions: saslSecurityOptions, tlsSecurityOptions: saslTLSSecurityOptions, softBounce: saslSoftBounce)
        }
        return nil
    }
}
