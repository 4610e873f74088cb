// STARTTLS (RFC 3207) and what TLS negotiated, for Received: headers, logs, restrictions
// and policy requests, as Postfix's smtpd does it: the replies of reference §4.2, the
// reset after STARTTLS (the client must send EHLO again; pipelined plaintext is dropped
// by the connection before the handshake), `530 5.7.0 Must issue a STARTTLS command
// first` at level encrypt, wrapper mode (smtps), client certificates
// (smtpd_tls_ask_ccert, smtpd_tls_req_ccert, permit_tls_clientcerts and
// permit_tls_all_clientcerts with relay_clientcerts), the RFC 3848 transmission type
// (ESMTPS, ESMTPSA) and the smtpd_tls_received_header lines. The handshake itself is
// the connection's (Connection.swift); this file never does I/O.
import Shared

/// The TLS state of one connection; inactive until a handshake completes.
struct TLSSessionState {
    var active = false
    var protocolName = ""
    var cipher = ""
    var keySize = 0
    var ccertSubject = ""
    var ccertIssuer = ""
    var ccertFingerprint = ""
    var ccertPubkeyFingerprint = ""
    /// The client presented a certificate.
    var ccertPresent = false
    /// Its chain is trusted (smtpd_tls_CAfile / smtpd_tls_CApath).
    var ccertTrusted = false
    /// Everything the handshake negotiated.
    var details = TLSConnectionDetails()
    /// Set when smtpd_tls_req_ccert refuses the certificate: the next command gets 421.
    var abortReason: String?

    init() {}

    init(_ details: TLSConnectionDetails) {
        active = true
        protocolName = details.protocolName
        cipher = details.cipherName
        keySize = details.cipherBits
        if let cert = details.peerCertificate {
            ccertPresent = true
            ccertTrusted = details.peerTrusted
            ccertSubject = cert.subjectCN
            ccertIssuer = cert.issuerCN
            ccertFingerprint = cert.fingerprint
            ccertPubkeyFingerprint = cert.publicKeyFingerprint
        }
        self.details = details
    }
}

/// smtpd's TLS set-up for this process, made before privileges are dropped: the service's
/// level, the server context (nil after a configuration problem, which was logged once
/// here: STARTTLS then gets 454, a wrapper-mode client is dropped), and smtpd's own
/// TLS settings.
final class SMTPDTLS {
    let policy: SMTPDTLSPolicy
    let context: TLSServerContext?
    let handshakeTimeoutMs: Int
    let receivedHeader: Bool
    let askClientCertificate: Bool
    /// smtpd_tls_req_ccert, which only counts when TLS is enforced.
    let requireClientCertificate: Bool

    /// No TLS at all (tests, and sendmail -bs style use).
    static let disabled = SMTPDTLS()

    private init() {
        policy = SMTPDTLSPolicy()
        context = nil
        handshakeTimeoutMs = 300_000
        receivedHeader = false
        askClientCertificate = false
        requireClientCertificate = false
    }

    /// Reads the service's TLS parameters and loads its certificates. An unknown level is
    /// fatal, as in Postfix; certificate and key problems are warnings.
    init(config: MainConfig, serviceName: String) {
        do {
            policy = try SMTPDTLSPolicy(config)
        } catch {
            Log.fatal("\(error)")
        }
        if let warning = policy.warning { Log.warning(warning) }
        handshakeTimeoutMs = config.seconds("smtpd_starttls_timeout") * 1000
        receivedHeader = config.bool("smtpd_tls_received_header")
        askClientCertificate = config.bool("smtpd_tls_ask_ccert") || (policy.enforced && config.bool("smtpd_tls_req_ccert"))
        requireClientCertificate = policy.enforced && config.bool("smtpd_tls_req_ccert")
        if !policy.enforced && config.bool("smtpd_tls_req_ccert") { Log.warning("Can't require client certs unless TLS is required") }
        do {
            _ = try TableRegistry.openList(config.value("relay_clientcerts"))
        } catch {
            Log.fatal("relay_clientcerts: \(error)")
        }
        guard policy.offered else {
            context = nil
            return
        }
        TLSLibrary.seedRandom(source: config.value("tls_random_source"), bytes: config.int("tls_daemon_random_bytes"))
        let settings = TLSServerSettings(smtpd: config, enforced: policy.enforced, serviceName: serviceName)
        do {
            let server = try TLSServerContext(settings)
            server.shareSessionTickets(directory: config.value("data_directory"), fileName: SMTPDTLS.ticketKeyFile)
            context = server
        } catch {
            if case .configuration(let lines) = error { lines.forEach { Log.warning($0) } }
            context = nil
        }
    }

    /// The session-ticket key file in $data_directory that every smtpd process shares.
    static let ticketKeyFile = "smtpd_tls_ticket_keys"
}

extension SMTPSession {
    func starttlsCommand(_ argument: String) -> SessionOutcome {
        guard argument.isEmpty else { return SessionOutcome(replies: [SMTPReply(501, "5.5.4", "Syntax: STARTTLS")]) }
        if tls.active { return SessionOutcome(replies: [SMTPReply(554, "5.5.1", "Error: TLS already active")]) }
        guard tlsServer.policy.offered, !settings.discardEHLOKeywords.contains("STARTTLS") else {
            return SessionOutcome(replies: [SMTPReply(502, "5.5.1", "Error: command not implemented")])
        }
        guard tlsServer.context != nil else {
            return SessionOutcome(replies: [SMTPReply(454, "4.7.0", "TLS not available due to local problem")])
        }
        if let refusal = newTLSSessionLimit() { return SessionOutcome(replies: [refusal]) }
        // RFC 3207 §4.2: forget what the client said before; it must EHLO again.
        helo = nil
        protocolName = "SMTP"
        resetTransaction()
        authReset()
        return SessionOutcome(replies: [SMTPReply(220, "2.0.0", "Ready to start TLS")], next: .startTLS)
    }

    /// STARTTLS in the EHLO reply, when offered.
    func tlsEHLOKeywords() -> [String] {
        tlsServer.policy.offered && !tls.active ? ["STARTTLS"] : []
    }

    /// Before a known command runs: at level encrypt only HELO, EHLO, STARTTLS, NOOP and
    /// QUIT are allowed before TLS; after a refused client certificate every command ends
    /// the session. nil = go ahead.
    func tlsGate(_ verb: String) -> SessionOutcome? {
        if let reason = tls.abortReason {
            return SessionOutcome(replies: [SMTPReply(421, "4.7.1", "\(settings.myhostname) Error: \(reason)")], next: .disconnect)
        }
        guard tlsServer.policy.enforced, !tls.active else { return nil }
        guard ["MAIL", "RCPT", "DATA", "BDAT", "RSET", "VRFY", "ETRN", "AUTH"].contains(verb) else { return nil }
        return tarpit(SessionOutcome(replies: [SMTPReply(530, "5.7.0", "Must issue a STARTTLS command first")]))
    }

    /// Wrapper mode: whether the handshake may start before the greeting. When not, the
    /// client is dropped (the reason was logged).
    func tlsWrapperModeAllowed() -> Bool {
        guard tlsServer.context != nil else {
            Log.warning("Wrapper-mode request dropped from \(client.nameAddress) for service \(serviceName)."
                + " TLS context initialization failed. For details see earlier warnings in your logs.")
            return false
        }
        return newTLSSessionLimit() == nil
    }

    /// The handshake succeeded: record what it negotiated.
    func tlsStarted(_ details: TLSConnectionDetails) {
        tls = TLSSessionState(details)
        guard tlsServer.requireClientCertificate, !tls.ccertTrusted else { return }
        let reason = tls.ccertPresent ? "Client certificate not trusted" : "No client certificate presented"
        Log.info("NOQUEUE: abort: TLS from \(client.nameAddress): \(reason)")
        tls.abortReason = reason
    }

    /// The RFC 3848 transmission type for Received: `ESMTP` with `S` after TLS and `A`
    /// after AUTH (ESMTPS, ESMTPA, ESMTPSA); after HELO plain `SMTP` (observed: Postfix 3.7
    /// adds no suffix there). Log lines and policy requests keep the plain protocol name,
    /// as Postfix's do.
    var receivedProtocolName: String {
        guard protocolName != "SMTP" else { return protocolName }
        return protocolName + (tls.active ? "S" : "") + (saslUsername != nil ? "A" : "")
    }

    /// The Received: header's TLS lines with smtpd_tls_received_header = yes:
    /// `(using TLSv1.3 with cipher … (256/256 bits)`, ` key-exchange … server-digest SHA256)`
    /// and the client-certificate line.
    var receivedTLSComments: [String] {
        guard tlsServer.receivedHeader, tls.active else { return [] }
        let d = tls.details
        let first = "(using \(d.protocolName) with cipher \(d.cipherName) (\(d.cipherBits)/\(d.cipherAlgorithmBits) bits)"
        let parameters = d.handshakeParameters
        var lines = parameters.isEmpty ? [first + ")"] : [first, parameters + ")"]
        if tls.ccertPresent {
            let subject = RFC822Quoting.commentText(tls.ccertSubject)
            let issuer = RFC822Quoting.commentText(tls.ccertIssuer)
            lines.append("(Client CN \"\(subject)\", Issuer \"\(issuer)\" (\(tls.ccertTrusted ? "verified OK" : "not verified")))")
        } else if tlsServer.askClientCertificate {
            lines.append("(Client did not present a certificate)")
        } else {
            lines.append("(No client certificate requested)")
        }
        return lines
    }
}

extension Restrictions {
    /// The TLS rules (permit_tls_clientcerts, permit_tls_all_clientcerts); nil for other names.
    func tlsRestriction(_ name: String, object: CheckObject, _ ctx: CheckContext) -> Verdict? {
        let all: Bool
        switch name {
        case "permit_tls_all_clientcerts": all = true
        case "permit_tls_clientcerts": all = false
        default: return nil
        }
        guard ctx.tls.active else { return .dunno }
        if all && ctx.tls.ccertTrusted { return .permit }
        guard ctx.tls.ccertPresent else {
            if !config.bool("smtpd_tls_ask_ccert") { Log.warning("\(name) is requested, but \"smtpd_tls_ask_ccert = no\"") }
            return .dunno
        }
        // A listed fingerprint counts even when the issuing CA is not trusted.
        do {
            let tables = try TableRegistry.openList(config.value("relay_clientcerts"))
            for key in [ctx.tls.ccertFingerprint, ctx.tls.ccertPubkeyFingerprint] where !key.isEmpty {
                if try tables.lookup(key) != nil { return .permit }
            }
        } catch {
            Log.warning("relay_clientcerts: lookup error for fingerprint '\(ctx.tls.ccertFingerprint)', pkey fingerprint \(ctx.tls.ccertPubkeyFingerprint)")
            return .reject(SMTPReply(451, "4.3.0", "<\(objectText(object, ctx))>: Temporary lookup failure"))
        }
        return .dunno
    }
}
