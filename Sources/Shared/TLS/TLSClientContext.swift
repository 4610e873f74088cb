// The client side of TLS for the smtp client (Postfix's tls_client.c): one context per
// process (CA data and an optional client certificate are read before privileges are
// dropped), holding an opportunistic configuration (level may: smtp_tls_protocols and
// smtp_tls_ciphers) and a mandatory one (encrypt and above). `start` runs the handshake
// on a connected socket with SNI, then checks the server's chain and names: at verify and
// secure levels a failure is an error (`server certificate verification failed for …`),
// below them it is only recorded. The session is logged as Postfix does
// (`Verified TLS connection established to mx.example.com[192.0.2.1]:25: …`).
import COpenSSL
import Glibc

public final class TLSClientContext {
    let opportunistic: OpaquePointer
    let mandatory: OpaquePointer
    public let settings: TLSClientSettings
    let digest: OpaquePointer?
    let opportunisticCiphers: String
    let mandatoryCiphers: String

    /// Makes both configurations; throws `.configuration` with the warnings to log.
    public init(_ settings: TLSClientSettings) throws(TLSError) {
        guard let digest = TLSLibrary.digest(named: settings.fingerprintDigest) else {
            throw .configuration(["Digest algorithm \"\(settings.fingerprintDigest)\" not found", "disabling TLS support"])
        }
        var made: [(OpaquePointer, String)] = []
        let variants = [
            (settings.protocols, settings.cipherGrade, settings.excludedCiphers),
            (settings.mandatoryProtocols, settings.mandatoryCipherGrade, settings.mandatoryExcludedCiphers),
        ]
        for (protocols, grade, exclusions) in variants {
            guard let ctx = SSL_CTX_new(TLS_client_method()) else {
                made.forEach { SSL_CTX_free($0.0) }
                throw .configuration(["cannot allocate an SSL context: disabling TLS support"] + TLSLibrary.problems())
            }
            var failure: TLSError?
            var list = ""
            switch TLSLibrary.configure(ctx, protocols: protocols, grade: grade, exclusions: exclusions, cipherLists: settings.cipherLists,
                                        groups: settings.eecdhGroups, preferServerCiphers: false) {
            case .failure(let e): failure = e
            case .success(let l): list = l
            }
            if failure == nil {
                failure = TLSLibrary.loadAuthorities(ctx, file: settings.caFile, path: settings.caPath, appendDefault: settings.appendDefaultCA)
            }
            if failure == nil && !settings.certFile.isEmpty {
                failure = TLSLibrary.loadCertificate(ctx, algorithm: "client", certFile: settings.certFile, keyFile: settings.keyFile)
            }
            if let failure {
                SSL_CTX_free(ctx)
                made.forEach { SSL_CTX_free($0.0) }
                throw failure
            }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
            SSL_CTX_set_verify_depth(ctx, Int32(settings.verifyDepth + 1))
            made.append((ctx, list))
        }
        opportunistic = made[0].0
        opportunisticCiphers = made[0].1
        mandatory = made[1].0
        mandatoryCiphers = made[1].1
        self.settings = settings
        self.digest = digest
    }

    deinit {
        SSL_CTX_free(opportunistic)
        SSL_CTX_free(mandatory)
    }

    /// Runs a client handshake on DESCRIPTOR (after the server's 220 to STARTTLS).
    /// LEVEL picks the configuration (may: opportunistic, else mandatory) and whether the
    /// server's certificate must be trusted and match one of MATCHNAMES (`example.com`, or
    /// `.example.com` for any name below it). SERVERNAME is sent as SNI unless empty or an
    /// address. PEER (`name[addr]:port`) is for log lines. The returned transport goes into
    /// the stream; its `details` say what was negotiated and verified.
    public func start(descriptor: Int32, level: TLSSecurityLevel, peer: String, serverName: String, matchNames: [String],
                      timeoutMs: Int) throws(TLSError) -> TLSTransport {
        let log = settings.logLevel
        let ctx = level == .may ? opportunistic : mandatory
        if log.verbose {
            Log.info("setting up TLS connection to \(peer.lowercased())")
            Log.info("\(peer.lowercased()): TLS cipher list \"\(level == .may ? opportunisticCiphers : mandatoryCiphers)\"")
        }
        guard let ssl = SSL_new(ctx) else {
            Log.warning("Could not allocate 'TLScontext->con' with SSL_new()")
            TLSLibrary.logProblems()
            throw .handshake("SSL_new failed")
        }
        if !serverName.isEmpty && !TLSClientContext.isAddress(serverName) { _ = postern_ssl_set_host_name(ssl, serverName) }
        let transport = TLSTransport(ssl: ssl, descriptor: descriptor, isServer: false, peerName: peer, logLevel: log,
                                     digest: digest, timeoutMs: timeoutMs)
        try transport.handshake()
        let matched = transport.details.peerTrusted && transport.matches(matchNames)
        transport.peerNameMatched = matched
        if level.verifiesPeer && !matched {
            let reason = transport.details.peerTrusted
                ? "num=\(X509_V_ERR_HOSTNAME_MISMATCH):\(String(cString: X509_verify_cert_error_string(Int(X509_V_ERR_HOSTNAME_MISMATCH))))"
                : "num=\(transport.details.verifyError):\(transport.details.verifyErrorText)"
            let text = "server certificate verification failed for \(transport.peerName): \(reason)"
            Log.info(text)
            transport.shutdown()
            throw .verification(text)
        }
        if log.summary { Log.info(transport.details.summary(server: false, peer: transport.peerName, nameMatched: matched)) }
        return transport
    }

    static func isAddress(_ name: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1 || name.hasPrefix("[")
    }
}

extension TLSTransport {
    /// Whether the peer's certificate names (subjectAltName DNS names, else the CN) match
    /// one of NAMES; a name starting with `.` matches any name below it.
    func matches(_ names: [String]) -> Bool {
        guard let cert = SSL_get1_peer_certificate(ssl) else { return false }
        defer { X509_free(cert) }
        for name in names where !name.isEmpty {
            if X509_check_host(cert, name, name.utf8.count, 0, nil) == 1 {
                if logLevel.verbose { Log.info("\(peerName): Matched \(name)") }
                return true
            }
        }
        return false
    }
}
