// What every TLS user in Postern shares: the error type, OpenSSL's error queue turned into
// Postfix's `TLS library problem: …` lines, the tls_random_source seeding done before a
// daemon drops privileges, and the fingerprint format of Postfix's tls_fprint.
import COpenSSL
import Glibc

/// Why a TLS context could not be made or a TLS session could not start.
public enum TLSError: Error, Equatable, CustomStringConvertible {
    /// A configuration or file problem; the lines are warnings in Postfix's words
    /// (`cannot get RSA certificate from file "…": disabling TLS support`, then the
    /// `TLS library problem: …` lines), for the caller to log.
    case configuration([String])
    /// The handshake failed; the text is already logged (`SSL_accept error from …`).
    case handshake(String)
    /// The peer's certificate is not trusted or does not match (client side).
    case verification(String)

    public var description: String {
        switch self {
        case .configuration(let lines): return lines.joined(separator: "; ")
        case .handshake(let text), .verification(let text): return text
        }
    }
}

public enum TLSLibrary {
    /// Drains OpenSSL's error queue into `TLS library problem: ERROR:FILE:LINE:DATA:` texts.
    public static func problems() -> [String] {
        var lines: [String] = []
        while true {
            var file: UnsafePointer<CChar>?
            var line: Int32 = 0
            var data: UnsafePointer<CChar>?
            var flags: Int32 = 0
            let code = ERR_get_error_all(&file, &line, nil, &data, &flags)
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            var text = "TLS library problem: " + String(cString: buffer) + ":" + (file.map { String(cString: $0) } ?? "") + ":\(line):"
            if flags & ERR_TXT_STRING != 0, let data { text += String(cString: data) + ":" }
            lines.append(text)
        }
        return lines
    }

    /// Logs and clears OpenSSL's error queue as warnings.
    public static func logProblems() {
        for line in problems() { Log.warning(line) }
    }

    /// Mixes tls_daemon_random_bytes from tls_random_source (`dev:/dev/urandom`, or a file)
    /// into OpenSSL's generator, before a daemon enters its jail. OpenSSL seeds itself, so
    /// a source that cannot be read only costs a warning.
    public static func seedRandom(source: String, bytes: Int) {
        guard !source.isEmpty, bytes > 0 else { return }
        if source.hasPrefix("egd:") {
            Log.warning("tls_random_source: EGD sockets are not supported: \(source)")
            return
        }
        let path = source.hasPrefix("dev:") ? String(source.dropFirst(4)) : source
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            Log.warning("cannot open entropy source \(path): \(errnoText())")
            return
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: min(bytes, 255))
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else {
            Log.warning("cannot read entropy from \(path): \(n < 0 ? errnoText() : "end of file")")
            return
        }
        RAND_seed(buffer, Int32(n))
    }

    /// The digest named by a *_tls_fingerprint_digest parameter (md5, sha1, sha256, …).
    public static func digest(named name: String) -> OpaquePointer? {
        EVP_get_digestbyname(name.isEmpty ? "sha256" : name)
    }

    /// Upper-case hex bytes joined with colons, as Postfix prints fingerprints.
    public static func fingerprintText(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3)
        for (i, b) in bytes.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ":")) }
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The fingerprint of CERT's DER encoding and of its DER SubjectPublicKeyInfo.
    static func fingerprints(_ cert: OpaquePointer, digest: OpaquePointer) -> (certificate: String, publicKey: String) {
        var md = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        var certificate = ""
        if X509_digest(cert, digest, &md, &length) == 1 {
            certificate = fingerprintText(Array(md[0..<Int(length)]))
        }
        var publicKey = ""
        if let spki = X509_get_X509_PUBKEY(cert) {
            var der: UnsafeMutablePointer<UInt8>?
            let size = i2d_X509_PUBKEY(spki, &der)
            if size > 0, let der {
                if EVP_Digest(der, Int(size), &md, &length, digest, nil) == 1 {
                    publicKey = fingerprintText(Array(md[0..<Int(length)]))
                }
                postern_openssl_free(der)
            }
        }
        return (certificate, publicKey)
    }
}

extension TLSLibrary {
    /// Applies what servers and clients configure alike to a new SSL_CTX: bug work-arounds,
    /// no compression, no renegotiation, the protocol list, the cipher grade with its
    /// exclusions, the key-exchange groups and partial writes. Returns the cipher list in
    /// use, or the warnings that disable TLS.
    static func configure(_ ctx: OpaquePointer, protocols: String, grade gradeName: String, exclusions: [String],
                          cipherLists: [String: String], groups: [String], preferServerCiphers: Bool) -> Result<String, TLSError> {
        guard let policy = TLSProtocolPolicy.parse(protocols) else {
            return .failure(.configuration(["Invalid TLS protocol list \"\(protocols)\": disabling TLS support"]))
        }
        guard let grade = TLSCipherGrade(name: gradeName) else {
            return .failure(.configuration(["invalid cipher grade: \"\(gradeName)\": disabling TLS support"]))
        }
        guard let list = grade.cipherList(base: cipherLists[grade.rawValue] ?? "", exclusions: exclusions) else {
            return .failure(.configuration(["invalid unary '!+-@' in cipher exclusion: \(exclusions.joined(separator: " ")): disabling TLS support"]))
        }
        // A peer that closes without close_notify has simply gone away, as far as SMTP cares.
        var options = postern_ssl_op_all() | postern_ssl_op_no_compression() | postern_ssl_op_no_renegotiation()
            | postern_ssl_op_ignore_unexpected_eof()
        if preferServerCiphers { options |= postern_ssl_op_cipher_server_preference() }
        let bits: [(TLSProtocolVersion, UInt64)] = [
            (.sslv3, postern_ssl_op_no_sslv3()), (.tlsv1, postern_ssl_op_no_tlsv1()), (.tlsv1_1, postern_ssl_op_no_tlsv1_1()),
            (.tlsv1_2, postern_ssl_op_no_tlsv1_2()), (.tlsv1_3, postern_ssl_op_no_tlsv1_3()),
        ]
        for (version, bit) in bits where policy.excluded.contains(version) { options |= bit }
        SSL_CTX_set_options(ctx, options)
        if policy.floor > 0 { _ = postern_ssl_ctx_set_min_proto(ctx, policy.floor) }
        if policy.ceiling > 0 { _ = postern_ssl_ctx_set_max_proto(ctx, policy.ceiling) }
        _ = postern_ssl_ctx_set_mode(ctx, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        ERR_clear_error()
        guard SSL_CTX_set_cipher_list(ctx, list) == 1 else {
            return .failure(.configuration(["error setting cipher grade: \"\(gradeName)\": disabling TLS support"] + problems()))
        }
        // Keep the groups this OpenSSL knows, in the order given.
        let usable = groups.filter { postern_ssl_ctx_set_groups_list(ctx, $0) == 1 }
        ERR_clear_error()
        if !usable.isEmpty { _ = postern_ssl_ctx_set_groups_list(ctx, usable.joined(separator: ":")) }
        _ = postern_ssl_ctx_set_dh_auto(ctx, 1)
        return .success(list)
    }

    /// Loads CA certificates for verifying peers; nil when fine.
    static func loadAuthorities(_ ctx: OpaquePointer, file: String, path: String, appendDefault: Bool) -> TLSError? {
        guard !file.isEmpty || !path.isEmpty else { return nil }
        ERR_clear_error()
        if SSL_CTX_load_verify_locations(ctx, file.isEmpty ? nil : file, path.isEmpty ? nil : path) != 1 {
            return .configuration(["cannot load Certificate Authority data: disabling TLS support"] + problems())
        }
        if appendDefault && SSL_CTX_set_default_verify_paths(ctx) != 1 {
            return .configuration(["cannot set certificate verification paths: disabling TLS support"] + problems())
        }
        return nil
    }

    /// Loads a certificate (with its chain) and its private key of one algorithm; nil when fine.
    static func loadCertificate(_ ctx: OpaquePointer, algorithm: String, certFile: String, keyFile: String) -> TLSError? {
        let keyFile = keyFile.isEmpty ? certFile : keyFile
        ERR_clear_error()
        if SSL_CTX_use_certificate_chain_file(ctx, certFile) != 1 {
            return .configuration(["cannot get \(algorithm) certificate from file \"\(certFile)\": disabling TLS support"] + problems())
        }
        if SSL_CTX_use_PrivateKey_file(ctx, keyFile, postern_ssl_filetype_pem()) != 1 {
            return .configuration(["cannot get \(algorithm) private key from file \"\(keyFile)\": disabling TLS support"] + problems())
        }
        if SSL_CTX_check_private_key(ctx) != 1 {
            return .configuration(["\(algorithm) private key in \(keyFile) does not match public key in certificate"] + problems())
        }
        return nil
    }
}
