// What a finished TLS handshake negotiated, in the terms Postfix logs and puts in Received:
// headers: protocol, cipher and its bits, and for TLS 1.3 the key exchange and the
// signature algorithms (tls_get_signature_params); the peer's certificate (CN, issuer CN,
// fingerprints per *_tls_fingerprint_digest) and whether its chain is trusted. The summary
// line is tls_log_summary's: `Anonymous TLS connection established from NAME[ADDR]: …`.
import COpenSSL

/// The peer's certificate, as restrictions and policy services see it (ccert_*).
public struct TLSPeerCertificate: Equatable, Sendable {
    /// The subject's CommonName.
    public var subjectCN = ""
    /// The issuer's CommonName (its Organization when it has no CN).
    public var issuerCN = ""
    /// Digest of the DER certificate, `AB:CD:…`.
    public var fingerprint = ""
    /// Digest of the DER SubjectPublicKeyInfo, `AB:CD:…`.
    public var publicKeyFingerprint = ""

    public init() {}
}

/// A signature algorithm of one end of a TLS 1.3 handshake: `RSA-PSS (2048 bits)`, `ECDSA (prime256v1)`.
public struct TLSSignature: Equatable, Sendable {
    public var name = ""
    public var curve = ""
    public var bits = 0
    public var digest = ""
}

public struct TLSConnectionDetails: Equatable, Sendable {
    /// `TLSv1.3`, `TLSv1.2`…
    public var protocolName = ""
    public var cipherName = ""
    public var cipherBits = 0
    public var cipherAlgorithmBits = 0
    /// TLS 1.3 only: `X25519`, `ECDHE` (with a curve) or `DHE` (with bits).
    public var keyExchange = ""
    public var keyExchangeCurve = ""
    public var keyExchangeBits = 0
    public var serverSignature = TLSSignature()
    public var clientSignature = TLSSignature()
    public var peerCertificate: TLSPeerCertificate?
    /// The peer's chain verified against the trusted CAs.
    public var peerTrusted = false
    /// The X509 verification result code and text, when not trusted.
    public var verifyError: Int = 0
    public var verifyErrorText = ""
    /// A session resumed from a ticket or the session cache.
    public var reused = false

    public init() {}

    /// ` key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256`:
    /// the TLS 1.3 details Postfix appends to its summary line and Received: header
    /// (empty for TLS 1.2 and older).
    public var handshakeParameters: String {
        var text = ""
        if !keyExchange.isEmpty {
            text += " key-exchange " + keyExchange
            if !keyExchangeCurve.isEmpty { text += " (\(keyExchangeCurve))" } else if keyExchangeBits > 0 { text += " (\(keyExchangeBits) bits)" }
        }
        for (role, sig) in [("server", serverSignature), ("client", clientSignature)] where !sig.name.isEmpty {
            text += " \(role)-signature " + sig.name
            if !sig.curve.isEmpty { text += " (\(sig.curve))" } else if sig.bits > 0 { text += " (\(sig.bits) bits)" }
            if !sig.digest.isEmpty { text += " \(role)-digest " + sig.digest }
        }
        return text
    }

    /// Postfix's one-line summary at loglevel 1. SERVER: `from`, else `to`; VERIFIED:
    /// the client side also matched the name (`Verified`).
    public func summary(server: Bool, peer: String, nameMatched: Bool = false) -> String {
        let trust = peerCertificate == nil ? "Anonymous" : !peerTrusted ? "Untrusted" : nameMatched ? "Verified" : "Trusted"
        var line = "\(trust) TLS connection established \(server ? "from" : "to") \(peer)"
        line += ": \(protocolName) with cipher \(cipherName) (\(cipherBits)/\(cipherAlgorithmBits) bits)"
        return line + handshakeParameters
    }

    /// Reads what SSL negotiated; DIGEST computes the peer certificate's fingerprints.
    init(ssl: OpaquePointer, digest: OpaquePointer?) {
        protocolName = String(cString: SSL_get_version(ssl))
        if let cipher = SSL_get_current_cipher(ssl) {
            cipherName = String(cString: SSL_CIPHER_get_name(cipher))
            var algBits: Int32 = 0
            cipherBits = Int(SSL_CIPHER_get_bits(cipher, &algBits))
            cipherAlgorithmBits = Int(algBits)
        }
        reused = SSL_session_reused(ssl) == 1
        let isServer = SSL_is_server(ssl) == 1
        if let peer = SSL_get1_peer_certificate(ssl) {
            defer { X509_free(peer) }
            var cert = TLSPeerCertificate()
            cert.subjectCN = TLSConnectionDetails.nameEntry(X509_get_subject_name(peer), NID_commonName)
            let issuerName = X509_get_issuer_name(peer)
            cert.issuerCN = TLSConnectionDetails.nameEntry(issuerName, NID_commonName)
            if cert.issuerCN.isEmpty { cert.issuerCN = TLSConnectionDetails.nameEntry(issuerName, NID_organizationName) }
            if let digest {
                (cert.fingerprint, cert.publicKeyFingerprint) = TLSLibrary.fingerprints(peer, digest: digest)
            }
            peerCertificate = cert
            let result = SSL_get_verify_result(ssl)
            peerTrusted = result == Int(X509_V_OK)
            if !peerTrusted {
                verifyError = Int(result)
                verifyErrorText = String(cString: X509_verify_cert_error_string(result))
            }
        }
        guard SSL_version(ssl) >= TLS1_3_VERSION else { return }
        var key: OpaquePointer?
        if postern_ssl_get_peer_tmp_key(ssl, &key) == 1, let key {
            let id = EVP_PKEY_get_id(key)
            switch id {
            case EVP_PKEY_DH:
                keyExchange = "DHE"
                keyExchangeBits = Int(EVP_PKEY_get_bits(key))
            case EVP_PKEY_EC:
                keyExchange = "ECDHE"
                keyExchangeCurve = TLSConnectionDetails.curveName(key)
            default:
                keyExchange = String(cString: OBJ_nid2sn(EVP_PKEY_type(id)))
            }
            EVP_PKEY_free(key)
        }
        var nid: Int32 = 0
        if let local = SSL_get_certificate(ssl), isServer || postern_ssl_get_signature_nid(ssl, &nid) == 1 {
            var sig = TLSConnectionDetails.signature(X509_get0_pubkey(local))
            if postern_ssl_get_signature_nid(ssl, &nid) == 1, nid != NID_undef { sig.digest = String(cString: OBJ_nid2sn(nid)) }
            if isServer { serverSignature = sig } else { clientSignature = sig }
        }
        if let peer = SSL_get1_peer_certificate(ssl) {
            var sig = TLSConnectionDetails.signature(X509_get0_pubkey(peer))
            if postern_ssl_get_peer_signature_nid(ssl, &nid) == 1, nid != NID_undef { sig.digest = String(cString: OBJ_nid2sn(nid)) }
            if isServer { clientSignature = sig } else { serverSignature = sig }
            X509_free(peer)
        }
    }

    /// `RSA-PSS` with its bits (TLS 1.3 signs with PSS), `ECDSA` with its curve, else the
    /// algorithm's short name.
    static func signature(_ key: OpaquePointer?) -> TLSSignature {
        var sig = TLSSignature()
        guard let key else { return sig }
        let type = EVP_PKEY_type(EVP_PKEY_get_id(key))
        switch type {
        case EVP_PKEY_RSA:
            sig.name = "RSA-PSS"
            sig.bits = Int(EVP_PKEY_get_bits(key))
        case EVP_PKEY_EC:
            sig.name = "ECDSA"
            sig.curve = curveName(key)
        case NID_undef:
            break
        default:
            sig.name = String(cString: OBJ_nid2sn(type))
        }
        return sig
    }

    static func curveName(_ key: OpaquePointer) -> String {
        var buffer = [CChar](repeating: 0, count: 80)
        var length = 0
        guard EVP_PKEY_get_group_name(key, &buffer, buffer.count, &length) == 1 else { return "" }
        return String(cString: buffer)
    }

    /// The first NID entry of NAME as text, or "" (also for a value with an embedded NUL).
    static func nameEntry(_ name: OpaquePointer?, _ nid: Int32) -> String {
        guard let name else { return "" }
        let index = X509_NAME_get_index_by_NID(name, nid, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) else { return "" }
        var utf8: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else { return "" }
        defer { postern_openssl_free(utf8) }
        let bytes = UnsafeBufferPointer(start: utf8, count: Int(length))
        guard !bytes.contains(0) else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }
}
