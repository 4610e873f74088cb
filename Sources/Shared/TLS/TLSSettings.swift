// The TLS parameters of main.cf (with a service's -o overrides) gathered for the server
// side (smtpd_tls_*: certificates, protocols, ciphers, client certificates, session
// cache time-out) and the client side (smtp_tls_*: security level, CA file, SNI, name
// checks), and smtpd's TLS level as Postfix's smtpd.c derives it: the level, or the old
// smtpd_use_tls / smtpd_enforce_tls; wrapper mode implies encrypt; encrypt implies
// smtpd_tls_auth_only.
import Glibc

/// How smtpd offers TLS on one service.
public struct SMTPDTLSPolicy: Equatable, Sendable {
    /// STARTTLS is offered (level may or encrypt, or wrapper mode).
    public var offered = false
    /// TLS is required before mail (level encrypt, or wrapper mode).
    public var enforced = false
    /// The handshake happens before the greeting (smtps, port 465).
    public var wrapperMode = false
    /// AUTH only over TLS (smtpd_tls_auth_only, implied by enforcement).
    public var authOnly = false
    /// The warning for a level smtpd does not implement (verify, secure, …: encrypt is used).
    public var warning: String?

    public init() {}

    /// Reads the level; an unknown level name is a configuration error.
    public init(_ config: MainConfig) throws(ConfigError) {
        wrapperMode = config.bool("smtpd_tls_wrappermode")
        let levelText = config.value("smtpd_tls_security_level")
        if !wrapperMode && !levelText.isEmpty {
            guard let level = TLSSecurityLevel(rawValue: levelText.lowercased()) else {
                throw ConfigError("\(config.origin("smtpd_tls_security_level")): Invalid TLS level \"\(levelText)\"")
            }
            switch level {
            case .none: break
            case .may: offered = true
            case .encrypt: offered = true; enforced = true
            default:
                warning = "smtpd_tls_security_level: unsupported TLS level \"\(levelText)\", using \"encrypt\""
                offered = true
                enforced = true
            }
        } else if !wrapperMode {
            enforced = config.bool("smtpd_enforce_tls")
            offered = config.bool("smtpd_use_tls") || enforced
        }
        enforced = enforced || wrapperMode
        offered = offered || enforced
        authOnly = config.bool("smtpd_tls_auth_only") || enforced
    }
}

/// What a server context needs.
public struct TLSServerSettings: Sendable {
    public var certFile = ""
    public var keyFile = ""
    public var dsaCertFile = ""
    public var dsaKeyFile = ""
    public var ecCertFile = ""
    public var ecKeyFile = ""
    /// Files holding a private key and its certificate chain each (RSA and ECDSA at once).
    public var chainFiles: [String] = []
    public var caFile = ""
    public var caPath = ""
    /// The protocol list in force (the mandatory one when TLS is enforced).
    public var protocols = ">=TLSv1"
    public var cipherGrade = "medium"
    public var excludedCiphers: [String] = []
    /// tls_high_cipherlist and friends, by grade.
    public var cipherLists = TLSCipherGrade.defaultLists
    public var preferServerCiphers = false
    public var eecdhGroups: [String] = []
    public var askClientCertificate = false
    public var verifyDepth = 9
    public var fingerprintDigest = "sha256"
    public var sessionTimeout = 3600
    public var ticketCipher = "aes-256-cbc"
    public var logLevel = TLSLogLevel(0)
    /// Identifies the sessions of this service in tickets and the session cache.
    public var sessionContext = "Postern/TLS"

    public init() {}

    /// From smtpd_tls_* as the service sees them; ENFORCED picks the mandatory protocols,
    /// cipher grade and exclusions (Postfix's smtpd does the same).
    public init(smtpd config: MainConfig, enforced: Bool, serviceName: String) {
        let certFile = config.value("smtpd_tls_cert_file")
        self.certFile = certFile.lowercased() == "none" ? "" : certFile
        keyFile = config.value("smtpd_tls_key_file")
        dsaCertFile = config.value("smtpd_tls_dcert_file")
        dsaKeyFile = config.value("smtpd_tls_dkey_file")
        ecCertFile = config.value("smtpd_tls_eccert_file")
        ecKeyFile = config.value("smtpd_tls_eckey_file")
        chainFiles = config.list("smtpd_tls_chain_files")
        caFile = config.value("smtpd_tls_CAfile")
        caPath = config.value("smtpd_tls_CApath")
        protocols = config.value(enforced ? "smtpd_tls_mandatory_protocols" : "smtpd_tls_protocols")
        cipherGrade = config.value(enforced ? "smtpd_tls_mandatory_ciphers" : "smtpd_tls_ciphers")
        excludedCiphers = splitList(config.value("smtpd_tls_exclude_ciphers"), separators: ", \t\r\n:")
        if enforced { excludedCiphers += splitList(config.value("smtpd_tls_mandatory_exclude_ciphers"), separators: ", \t\r\n:") }
        askClientCertificate = config.bool("smtpd_tls_ask_ccert") || (enforced && config.bool("smtpd_tls_req_ccert"))
        if askClientCertificate { excludedCiphers.append("aNULL") }
        verifyDepth = config.int("smtpd_tls_ccert_verifydepth")
        fingerprintDigest = config.value("smtpd_tls_fingerprint_digest")
        sessionTimeout = config.seconds("smtpd_tls_session_cache_timeout")
        logLevel = TLSLogLevel(config.int("smtpd_tls_loglevel"))
        sessionContext = "Postern/" + serviceName
        readCommon(config, eecdhGrade: config.value("smtpd_tls_eecdh_grade"))
    }

    mutating func readCommon(_ config: MainConfig, eecdhGrade: String) {
        for grade in [TLSCipherGrade.high, .medium, .null] { cipherLists[grade.rawValue] = config.value(grade.listParameter) }
        preferServerCiphers = config.bool("tls_preempt_cipherlist")
        ticketCipher = config.value("tls_session_ticket_cipher")
        switch eecdhGrade.lowercased() {
        case "none": eecdhGroups = []
        case "strong": eecdhGroups = [config.value("tls_eecdh_strong_curve")]
        case "ultra": eecdhGroups = [config.value("tls_eecdh_ultra_curve")]
        default: eecdhGroups = config.list("tls_eecdh_auto_curves")
        }
    }

    /// Whether any server certificate is configured.
    public var hasCertificate: Bool { !certFile.isEmpty || !dsaCertFile.isEmpty || !ecCertFile.isEmpty || !chainFiles.isEmpty }
}

/// What a client context needs (the smtp client's smtp_tls_* parameters).
public struct TLSClientSettings: Sendable {
    public var level = TLSSecurityLevel.none
    public var caFile = ""
    public var caPath = ""
    public var appendDefaultCA = false
    /// An optional client certificate and key.
    public var certFile = ""
    public var keyFile = ""
    /// Opportunistic (level may) and mandatory (encrypt and above) protocol lists.
    public var protocols = ">=TLSv1"
    public var mandatoryProtocols = ">=TLSv1"
    public var cipherGrade = "medium"
    public var mandatoryCipherGrade = "medium"
    public var excludedCiphers: [String] = []
    public var mandatoryExcludedCiphers: [String] = []
    public var cipherLists = TLSCipherGrade.defaultLists
    public var eecdhGroups: [String] = []
    public var preferServerCiphers = false
    public var ticketCipher = "aes-256-cbc"
    public var verifyDepth = 9
    public var fingerprintDigest = "sha256"
    public var logLevel = TLSLogLevel(0)
    /// smtp_starttls_timeout.
    public var handshakeTimeout = 300
    /// smtp_tls_verify_cert_match / smtp_tls_secure_cert_match: `hostname`, `nexthop`,
    /// `dot-nexthop` or literal names.
    public var verifyCertMatch = ["hostname"]
    public var secureCertMatch = ["nexthop", "dot-nexthop"]
    /// smtp_tls_servername: empty (no SNI), `hostname`, `nexthop` or a literal name.
    public var serverName = ""

    public init() {}

    /// From smtp_tls_* (an unknown level reads as `none` here; the smtp client reports it).
    public init(smtp config: MainConfig) {
        level = TLSSecurityLevel(rawValue: config.value("smtp_tls_security_level").lowercased()) ?? .none
        caFile = config.value("smtp_tls_CAfile")
        caPath = config.value("smtp_tls_CApath")
        appendDefaultCA = config.bool("tls_append_default_CA")
        certFile = config.value("smtp_tls_cert_file")
        keyFile = config.value("smtp_tls_key_file")
        protocols = config.value("smtp_tls_protocols")
        mandatoryProtocols = config.value("smtp_tls_mandatory_protocols")
        cipherGrade = config.value("smtp_tls_ciphers")
        mandatoryCipherGrade = config.value("smtp_tls_mandatory_ciphers")
        excludedCiphers = splitList(config.value("smtp_tls_exclude_ciphers"), separators: ", \t\r\n:")
        mandatoryExcludedCiphers = excludedCiphers + splitList(config.value("smtp_tls_mandatory_exclude_ciphers"), separators: ", \t\r\n:")
        for grade in [TLSCipherGrade.high, .medium, .null] { cipherLists[grade.rawValue] = config.value(grade.listParameter) }
        eecdhGroups = config.list("tls_eecdh_auto_curves")
        verifyDepth = config.int("smtp_tls_scert_verifydepth")
        fingerprintDigest = config.value("smtp_tls_fingerprint_digest")
        logLevel = TLSLogLevel(config.int("smtp_tls_loglevel"))
        handshakeTimeout = config.seconds("smtp_starttls_timeout")
        verifyCertMatch = config.list("smtp_tls_verify_cert_match")
        secureCertMatch = config.list("smtp_tls_secure_cert_match")
        serverName = config.value("smtp_tls_servername")
    }
}

/// What `postern check` verifies about TLS before anything starts.
public enum TLSConfigurationCheck {
    /// For each smtpd service of MASTER (main.cf in DIRECTORY with the service's -o
    /// overrides) that offers TLS: loads its certificates and keys as smtpd will. An
    /// unknown TLS level is thrown (it stops start-up); certificate, key, protocol and
    /// cipher problems come back as warnings (smtpd then answers STARTTLS with 454).
    public static func smtpdWarnings(directory: String, master: MasterConfig) throws -> [String] {
        var warnings: [String] = []
        for entry in master.entries where entry.command == "smtpd" || entry.command.hasSuffix("/smtpd") {
            let place = "\(directory)/master.cf: line \(entry.line): service \(entry.name)"
            let config = try MainConfig.load(directory: directory)
            config.serviceNames = Set(master.entries.map(\.name))
            for o in entry.overrides { try config.override(o) }
            let policy: SMTPDTLSPolicy
            do {
                policy = try SMTPDTLSPolicy(config)
            } catch {
                throw ConfigError("\(place): \(error)")
            }
            if let w = policy.warning { warnings.append("\(place): \(w)") }
            guard policy.offered else { continue }
            let unreadable = unreadableFiles(config)
            warnings += unreadable.map { "\(place): \($0)" }
            guard unreadable.isEmpty else { continue }
            do {
                _ = try TLSServerContext(TLSServerSettings(smtpd: config, enforced: policy.enforced, serviceName: entry.name))
            } catch {
                if case .configuration(let lines) = error { warnings += lines.map { "\(place): \($0)" } }
            }
        }
        return warnings
    }

    /// `PARAMETER = PATH: REASON` for each certificate, key or CA file that cannot be read.
    static func unreadableFiles(_ config: MainConfig) -> [String] {
        var files: [(String, String)] = []
        for name in ["smtpd_tls_cert_file", "smtpd_tls_key_file", "smtpd_tls_dcert_file", "smtpd_tls_dkey_file",
                     "smtpd_tls_eccert_file", "smtpd_tls_eckey_file", "smtpd_tls_CAfile"] {
            let path = config.value(name)
            if !path.isEmpty && !(name == "smtpd_tls_cert_file" && path.lowercased() == "none") { files.append((name, path)) }
        }
        for path in config.list("smtpd_tls_chain_files") { files.append(("smtpd_tls_chain_files", path)) }
        var problems: [String] = []
        for (name, path) in files {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 {
                problems.append("\(config.origin(name)): \(name) = \(path): \(errnoText()): TLS will not be available")
            } else {
                close(fd)
            }
        }
        return problems
    }
}
