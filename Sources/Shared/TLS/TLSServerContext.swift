// The server side of TLS (Postfix's tls_server.c): one OpenSSL context per process, made
// before the process drops privileges (keys are often readable by root only): RSA, DSA
// and ECDSA certificates at once (cert/key file pairs or smtpd_tls_chain_files), CA data
// for client certificates, protocols, cipher grade, key-exchange groups, the session
// time-out, and session tickets whose keys all processes of the service share. A problem
// is returned as Postfix's warnings; the caller logs them and answers STARTTLS with 454.
import COpenSSL
import Glibc

public final class TLSServerContext {
    let ctx: OpaquePointer
    public let settings: TLSServerSettings
    let digest: OpaquePointer?
    /// The OpenSSL cipher list in force (logged at loglevel 2).
    public let cipherList: String
    var ticketKeys: TLSTicketKeys?

    /// Makes the context; throws `.configuration` with the warnings to log.
    public init(_ settings: TLSServerSettings) throws(TLSError) {
        guard let digest = TLSLibrary.digest(named: settings.fingerprintDigest) else {
            throw .configuration(["Digest algorithm \"\(settings.fingerprintDigest)\" not found", "disabling TLS support"])
        }
        guard settings.hasCertificate else { throw .configuration(["No server certs available. TLS won't be enabled"]) }
        guard let ctx = SSL_CTX_new(TLS_server_method()) else {
            throw .configuration(["cannot allocate an SSL context: disabling TLS support"] + TLSLibrary.problems())
        }
        let configured = TLSLibrary.configure(
            ctx, protocols: settings.protocols, grade: settings.cipherGrade, exclusions: settings.excludedCiphers,
            cipherLists: settings.cipherLists, groups: settings.eecdhGroups, preferServerCiphers: settings.preferServerCiphers)
        var failure: TLSError?
        switch configured {
        case .failure(let e): failure = e
        case .success: failure = TLSLibrary.loadAuthorities(ctx, file: settings.caFile, path: settings.caPath, appendDefault: false)
        }
        if failure == nil {
            if settings.chainFiles.isEmpty {
                let pairs = [("RSA", settings.certFile, settings.keyFile), ("DSA", settings.dsaCertFile, settings.dsaKeyFile),
                             ("ECDSA", settings.ecCertFile, settings.ecKeyFile)]
                for (algorithm, cert, key) in pairs where !cert.isEmpty && failure == nil {
                    failure = TLSLibrary.loadCertificate(ctx, algorithm: algorithm, certFile: cert, keyFile: key)
                }
            } else {
                for file in settings.chainFiles where failure == nil {
                    if case .configuration(let lines)? = TLSLibrary.loadCertificate(ctx, algorithm: "", certFile: file, keyFile: file) {
                        failure = .configuration(["cannot load private keys and certificates from file \"\(file)\": disabling TLS support"]
                            + lines.filter { $0.hasPrefix("TLS library problem") })
                    }
                }
            }
        }
        if let failure {
            SSL_CTX_free(ctx)
            throw failure
        }
        self.ctx = ctx
        self.settings = settings
        self.digest = digest
        if case .success(let list) = configured { cipherList = list } else { cipherList = "" }
        if settings.askClientCertificate {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, TLSServerContext.acceptAnyChain)
            SSL_CTX_set_verify_depth(ctx, Int32(settings.verifyDepth + 1))
            if !settings.caFile.isEmpty, let names = SSL_load_client_CA_file(settings.caFile) { SSL_CTX_set_client_CA_list(ctx, names) }
        }
        let context = Array(settings.sessionContext.utf8.prefix(Int(SSL_MAX_SID_CTX_LENGTH)))
        SSL_CTX_set_session_id_context(ctx, context, UInt32(context.count))
        _ = postern_ssl_ctx_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_SERVER))
        SSL_CTX_set_timeout(ctx, settings.sessionTimeout)
        SSL_CTX_set_num_tickets(ctx, 1)
        SSL_CTX_set_ex_data(ctx, 0, Unmanaged.passUnretained(self).toOpaque())
        ERR_clear_error()
    }

    deinit { SSL_CTX_free(ctx) }

    /// The handshake goes on even when a client certificate is not trusted: trust is
    /// recorded and decided on later (permit_tls_clientcerts, smtpd_tls_req_ccert).
    static let acceptAnyChain: @convention(c) (Int32, OpaquePointer?) -> Int32 = { _, _ in 1 }

    /// Shares session-ticket keys with the other processes through FILENAME in DIRECTORY
    /// (opened now, before privileges are dropped). A directory that cannot be opened
    /// leaves this process with keys of its own.
    public func shareSessionTickets(directory: String, fileName: String) {
        guard let cipher = EVP_get_cipherbyname(settings.ticketCipher.isEmpty ? "aes-256-cbc" : settings.ticketCipher),
            EVP_CIPHER_get_key_length(cipher) <= 32, EVP_CIPHER_get_iv_length(cipher) <= EVP_MAX_IV_LENGTH
        else {
            Log.warning("invalid tls_session_ticket_cipher: \"\(settings.ticketCipher)\": TLS sessions resume only within this process")
            return
        }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { Log.warning("cannot open \(directory) for TLS session ticket keys: \(errnoText())") }
        ticketKeys = TLSTicketKeys(directory: fd, fileName: fileName, lifetime: settings.sessionTimeout, cipher: cipher)
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, TLSTicketKeys.callback)
    }

    /// Runs the server side of a handshake on DESCRIPTOR (the 220 to STARTTLS already sent,
    /// or at connect in wrapper mode) and logs it at the configured level. PEER is
    /// `name[addr]`; the limit applies to each wait.
    public func accept(descriptor: Int32, peer: String, timeoutMs: Int) throws(TLSError) -> TLSTransport {
        let log = settings.logLevel
        if log.verbose {
            Log.info("setting up TLS connection from \(peer.lowercased())")
            Log.info("\(peer.lowercased()): TLS cipher list \"\(cipherList)\"")
        }
        guard let ssl = SSL_new(ctx) else {
            Log.warning("Could not allocate 'TLScontext->con' with SSL_new()")
            TLSLibrary.logProblems()
            throw .handshake("SSL_new failed")
        }
        let transport = TLSTransport(ssl: ssl, descriptor: descriptor, isServer: true, peerName: peer, logLevel: log,
                                     digest: digest, timeoutMs: timeoutMs)
        try transport.handshake()
        if log.summary { Log.info(transport.details.summary(server: true, peer: transport.peerName)) }
        return transport
    }
}
