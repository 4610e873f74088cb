// The values of Postfix's TLS policy parameters, parsed without OpenSSL: protocol lists
// (`smtpd_tls_protocols = >=TLSv1.2` or `!SSLv2, !SSLv3, !TLSv1`, tls_proto_mask_lims in
// Postfix's tls_misc.c), cipher grades (`high`, `medium`, `null`; `low` and `export`
// mean medium) and security levels (`none`, `may`, `encrypt`, `verify`, …).

/// A protocol version name as Postfix writes it in protocol lists.
public enum TLSProtocolVersion: String, CaseIterable, Sendable {
    case sslv2 = "SSLv2"
    case sslv3 = "SSLv3"
    case tlsv1 = "TLSv1"
    case tlsv1_1 = "TLSv1.1"
    case tlsv1_2 = "TLSv1.2"
    case tlsv1_3 = "TLSv1.3"

    /// The on-the-wire version number (SSLv2 has none that OpenSSL 3 still knows).
    public var wireVersion: Int32 {
        switch self {
        case .sslv2: return 0x0002
        case .sslv3: return 0x0300
        case .tlsv1: return 0x0301
        case .tlsv1_1: return 0x0302
        case .tlsv1_2: return 0x0303
        case .tlsv1_3: return 0x0304
        }
    }
}

/// A parsed protocol list: the versions excluded one by one, and an optional floor and
/// ceiling (`>=TLSv1.2`, `<=TLSv1.2`, or a hex wire version).
public struct TLSProtocolPolicy: Equatable, Sendable {
    public var excluded: Set<TLSProtocolVersion> = []
    /// Lowest wire version allowed; 0 = no floor.
    public var floor: Int32 = 0
    /// Highest wire version allowed; 0 = no ceiling.
    public var ceiling: Int32 = 0

    public init(excluded: Set<TLSProtocolVersion> = [], floor: Int32 = 0, ceiling: Int32 = 0) {
        self.excluded = excluded
        self.floor = floor
        self.ceiling = ceiling
    }

    /// Parses Postfix's syntax: names, `!name` exclusions and `>=`/`<=` bounds, separated by
    /// commas, spaces or colons. Names are case-sensitive as in Postfix. A list of bare
    /// names excludes every known version it does not name. nil when a word is invalid.
    public static func parse(_ text: String) -> TLSProtocolPolicy? {
        var policy = TLSProtocolPolicy()
        var included: Set<TLSProtocolVersion> = []
        let words = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == ":" || $0 == "\n" })
        for word in words {
            if word.hasPrefix(">=") {
                guard let v = boundVersion(word.dropFirst(2)) else { return nil }
                policy.floor = v
            } else if word.hasPrefix("<=") {
                guard let v = boundVersion(word.dropFirst(2)) else { return nil }
                policy.ceiling = v
            } else if word.hasPrefix("!") {
                guard let v = TLSProtocolVersion(rawValue: String(word.dropFirst())) else { return nil }
                policy.excluded.insert(v)
            } else {
                guard let v = TLSProtocolVersion(rawValue: String(word)) else { return nil }
                included.insert(v)
            }
        }
        if !included.isEmpty {
            policy.excluded.formUnion(Set(TLSProtocolVersion.allCases).subtracting(included))
        }
        return policy
    }

    /// `None` (0), a version name, or a hexadecimal wire version.
    static func boundVersion(_ text: Substring) -> Int32? {
        if text == "None" { return 0 }
        if let v = TLSProtocolVersion(rawValue: String(text)), v != .sslv2 { return v.wireVersion }
        guard !text.isEmpty, let n = Int32(text.hasPrefix("0x") ? text.dropFirst(2) : text, radix: 16) else { return nil }
        return n
    }

    /// Whether VERSION may be negotiated under this policy.
    public func allows(_ version: TLSProtocolVersion) -> Bool {
        if excluded.contains(version) { return false }
        if floor > 0 && version.wireVersion < floor { return false }
        if ceiling > 0 && version.wireVersion > ceiling { return false }
        return true
    }
}

/// A cipher grade (`smtpd_tls_ciphers`, `smtp_tls_mandatory_ciphers`, …).
public enum TLSCipherGrade: String, Sendable {
    case high, medium, null

    /// Case-insensitive; `low` and `export` are treated as `medium`, as in Postfix 3.7.
    public init?(name: String) {
        switch name.lowercased() {
        case "high": self = .high
        case "medium", "low", "export": self = .medium
        case "null": self = .null
        default: return nil
        }
    }

    /// Postfix's default lists (tls_high_cipherlist, tls_medium_cipherlist, tls_null_cipherlist).
    public static let defaultLists = [
        "high": "aNULL:-aNULL:HIGH:@STRENGTH", "medium": "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH", "null": "eNULL:!aNULL",
    ]

    /// The parameter holding the OpenSSL cipher list of this grade.
    public var listParameter: String {
        switch self {
        case .high: return "tls_high_cipherlist"
        case .medium: return "tls_medium_cipherlist"
        case .null: return "tls_null_cipherlist"
        }
    }

    /// The grade's list with each exclusion appended as `:!NAME`; nil when an exclusion
    /// starts with one of OpenSSL's operators, which Postfix refuses.
    public func cipherList(base: String, exclusions: [String]) -> String? {
        var list = base
        for word in exclusions where !word.isEmpty {
            guard let first = word.first, !"!+-@".contains(first) else { return nil }
            list += ":!" + word
        }
        return list
    }
}

/// A TLS security level (`smtpd_tls_security_level`, `smtp_tls_security_level`).
public enum TLSSecurityLevel: String, CaseIterable, Sendable {
    case none, may, encrypt, dane
    case daneOnly = "dane-only"
    case fingerprint, verify, secure

    /// True when the peer must agree to TLS at all.
    public var requiresEncryption: Bool { self != .none && self != .may && self != .dane }
    /// True when the peer's certificate must be trusted (and its name checked).
    public var verifiesPeer: Bool { self == .verify || self == .secure || self == .daneOnly || self == .fingerprint }
}
