// The SMTP server's side of SASL (RFC 4422) behind one protocol, whichever implementation
// answers: Cyrus libsasl2 in-process (CyrusSASL.swift) or a Dovecot auth server over its
// socket (DovecotAuth.swift), chosen by smtpd_sasl_type as Postfix's xsasl layer does.
// Challenges and responses travel base64-encoded, as they do on the wire (RFC 4954 §4):
// each implementation decodes them the way its Postfix counterpart does, so the failure
// texts match. Nothing here speaks SMTP; smtpd turns the steps into replies.

/// Where an authentication step stands.
public enum SASLStep: Equatable {
    /// Send this base64 challenge (`334 CHALLENGE`) and wait for the client's response.
    case challenge(String)
    /// The client is authenticated (`235`).
    case success
    /// Refused for REASON (`535 5.7.8 Error: authentication failed: REASON`).
    case failure(String)
    /// Could not decide now (`454 4.7.0 Temporary authentication failure: REASON`).
    case temporaryFailure(String)
}

/// One client's SASL conversation partner, made per SMTP session.
public protocol SASLServer: AnyObject {
    /// The mechanisms to offer, in the implementation's order; empty when none can be used.
    var mechanisms: [String] { get }
    /// Starts MECHANISM with an optional base64 INITIALRESPONSE ("" for RFC 4954's `=`).
    func start(mechanism: String, initialResponse: String?) -> SASLStep
    /// The client's next base64 response.
    func step(_ response: String) -> SASLStep
    /// The login name: the authenticated one after success, the attempted one (when the
    /// implementation knows it) after a failure.
    var username: String? { get }
}

/// The two ends of the client's connection, as the SASL layer is told about them.
public struct SASLPeer: Equatable {
    public var clientAddress: String
    public var clientPort: UInt16
    public var serverAddress: String
    public var serverPort: UInt16
    /// True once TLS protects the connection (smtpd_sasl_tls_security_options apply).
    public var tlsActive: Bool

    public init(clientAddress: String, clientPort: UInt16, serverAddress: String, serverPort: UInt16, tlsActive: Bool) {
        self.clientAddress = clientAddress
        self.clientPort = clientPort
        self.serverAddress = serverAddress
        self.serverPort = serverPort
        self.tlsActive = tlsActive
    }
}

/// smtpd_sasl_security_options: the mechanism properties a site refuses or requires.
public struct SASLSecurityOptions: OptionSet, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let noPlaintext = SASLSecurityOptions(rawValue: 1)
    public static let noActive = SASLSecurityOptions(rawValue: 2)
    public static let noDictionary = SASLSecurityOptions(rawValue: 4)
    public static let noAnonymous = SASLSecurityOptions(rawValue: 8)
    public static let mutualAuth = SASLSecurityOptions(rawValue: 16)
    public static let forwardSecrecy = SASLSecurityOptions(rawValue: 32)

    static let names: [(String, SASLSecurityOptions)] = [
        ("noplaintext", .noPlaintext), ("noactive", .noActive), ("nodictionary", .noDictionary),
        ("noanonymous", .noAnonymous), ("mutual_auth", .mutualAuth), ("forward_secrecy", .forwardSecrecy),
    ]

    /// Parses a list such as `noanonymous, noplaintext` (any case); an unknown word is a
    /// configuration error worded as Postfix words it.
    public init(parsing value: String) throws {
        var options: SASLSecurityOptions = []
        for word in splitList(value) {
            guard let (_, option) = SASLSecurityOptions.names.first(where: { $0.0 == word.asciiLowercased }) else {
                throw ConfigError("unknown SASL security options value \"\(word)\" in \"\(value)\"")
            }
            options.insert(option)
        }
        self = options
    }
}

/// What the SMTP server's SASL layer is configured with (the smtpd_sasl_* parameters).
public struct SASLServerSettings {
    /// smtpd_sasl_type: `cyrus` or `dovecot`.
    public var type = "cyrus"
    /// smtpd_sasl_path: Cyrus's application name (`smtpd` → smtpd.conf), or Dovecot's
    /// auth socket (relative to the queue directory, absolute, or `inet:host:port`).
    public var path = "smtpd"
    /// cyrus_sasl_config_path: where Cyrus looks for the application's .conf file.
    public var cyrusConfigPath = ""
    /// smtpd_sasl_service.
    public var service = "smtp"
    /// smtpd_sasl_local_domain (the Cyrus user realm); empty for none.
    public var realm = ""
    public var myhostname = "localhost"
    public var security: SASLSecurityOptions = [.noAnonymous]
    public var tlsSecurity: SASLSecurityOptions = [.noAnonymous]
    /// smtpd_sasl_mechanism_filter.
    public var mechanismFilter = SASLMechanismFilter("!external, static:rest")

    /// Reads the parameters; a bad security option list is a configuration error naming
    /// where it was set.
    public init(config: MainConfig) throws {
        func options(_ name: String) throws -> SASLSecurityOptions {
            do {
                return try SASLSecurityOptions(parsing: config.value(name))
            } catch {
                throw ConfigError("\(config.origin(name)): \(name): \(error)")
            }
        }
        type = config.value("smtpd_sasl_type")
        path = config.value("smtpd_sasl_path")
        cyrusConfigPath = config.value("cyrus_sasl_config_path")
        service = config.value("smtpd_sasl_service")
        realm = config.value("smtpd_sasl_local_domain")
        myhostname = config.value("myhostname")
        security = try options("smtpd_sasl_security_options")
        tlsSecurity = try options("smtpd_sasl_tls_security_options")
        mechanismFilter = SASLMechanismFilter(config.value("smtpd_sasl_mechanism_filter"))
    }
}

/// Makes the per-session servers of the configured implementation; set up once per
/// process (Cyrus loads its plug-ins and reads its .conf file here).
public final class SASLServerFactory {
    /// The server implementations built in (`postconf -a`).
    public static let serverTypes = ["cyrus", "dovecot"]
    /// The client implementations built in (`postconf -A`).
    public static let clientTypes = ["cyrus"]

    public let settings: SASLServerSettings
    let dovecot: DovecotAuthConnection?

    /// Initializes the implementation SETTINGS.type; an unknown type or a Cyrus library
    /// that will not start is a configuration error.
    public init(_ settings: SASLServerSettings) throws {
        self.settings = settings
        switch settings.type {
        case "cyrus":
            try CyrusLibrary.initialize(appName: settings.path, configPath: settings.cyrusConfigPath)
            dovecot = nil
        case "dovecot":
            dovecot = DovecotAuthConnection(path: settings.path)
        default:
            throw ConfigError("unsupported SASL server implementation: \(settings.type)")
        }
    }

    /// A server for one session; nil (with a warning logged) when the implementation
    /// cannot serve it.
    public func makeServer(_ peer: SASLPeer) -> SASLServer? {
        let security = peer.tlsActive ? settings.tlsSecurity : settings.security
        if let dovecot {
            return DovecotSASLServer(connection: dovecot, peer: peer, service: settings.service, security: security,
                                     filter: settings.mechanismFilter)
        }
        return CyrusSASLServer(settings: settings, peer: peer, security: security)
    }
}

/// smtpd_sasl_mechanism_filter: which of the implementation's mechanisms are offered.
/// Each mechanism is matched against the list in order: a name (any case), or a
/// `type:table` that has the mechanism as a key; `!` in front excludes. The first match
/// decides; a mechanism nothing matches is not offered.
public struct SASLMechanismFilter {
    let patterns: [String]

    public init(_ value: String) { patterns = splitList(value) }

    public func allows(_ mechanism: String) -> Bool {
        for pattern in patterns {
            let negated = pattern.hasPrefix("!")
            let body = negated ? String(pattern.dropFirst()) : pattern
            if matches(body, mechanism) { return !negated }
        }
        return false
    }

    func matches(_ pattern: String, _ mechanism: String) -> Bool {
        guard pattern.contains(":") else { return pattern.asciiLowercased == mechanism.asciiLowercased }
        do {
            return try TableRegistry.open(pattern).lookup(mechanism.asciiLowercased) != nil
        } catch {
            Log.warning("smtpd_sasl_mechanism_filter: \(pattern): \(error)")
            return false
        }
    }

    /// MECHANISMS less those the filter drops, in their order.
    public func apply(_ mechanisms: [String]) -> [String] { mechanisms.filter(allows) }
}

/// Base64 as SASL carries it (RFC 4648 §4, padded): Dovecot's exchange is checked with
/// it before anything is sent, as Postfix checks it.
public enum SASLBase64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// True when TEXT is complete, padded base64 (the empty string included).
    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count % 4 == 0 else { return false }
        let padding = bytes.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        guard padding <= 2 else { return false }
        return bytes.dropLast(padding).allSatisfy { alphabet.contains($0) }
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var v: UInt32 = 0
            for k in 0..<3 { v = v << 8 | UInt32(k < n ? bytes[i + k] : 0) }
            for k in 0..<4 {
                out.append(k <= n ? alphabet[Int((v >> (18 - 6 * UInt32(k))) & 63)] : UInt8(ascii: "="))
            }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    /// The text with control characters replaced by `?`, as Postfix's printable() cleans
    /// names before they are logged or put in headers.
    public var saslPrintable: String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0.value < 32 || $0.value == 127 ? "?" : $0 }))
    }
}
