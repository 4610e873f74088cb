// A TLS session over a connected socket, as a Transport for BufferedStream: the socket is
// made non-blocking and every OpenSSL call that wants more input or output waits with
// poll, so time limits hold (smtpd_starttls_timeout for the handshake, the stream's own
// limit afterwards). Decrypted bytes OpenSSL still holds are reported as `pending`, so
// the stream reads them before it waits on the socket. Renegotiation is refused.
import COpenSSL
import CSupport
import Glibc

public final class TLSTransport: Transport {
    public let descriptor: Int32
    let ssl: OpaquePointer
    let isServer: Bool
    /// `name[addr]` (lower case) for log lines.
    public let peerName: String
    let logLevel: TLSLogLevel
    let digest: OpaquePointer?
    /// Time limit for waits inside receive and send (milliseconds, negative = none).
    public var timeoutMs: Int
    /// What the handshake negotiated, once it is done.
    public private(set) var details = TLSConnectionDetails()
    /// Client side: the server's certificate is trusted and names the server.
    public internal(set) var peerNameMatched = false

    init(ssl: OpaquePointer, descriptor: Int32, isServer: Bool, peerName: String, logLevel: TLSLogLevel,
         digest: OpaquePointer?, timeoutMs: Int) {
        self.ssl = ssl
        self.descriptor = descriptor
        self.isServer = isServer
        self.peerName = peerName.lowercased()
        self.logLevel = logLevel
        self.digest = digest
        self.timeoutMs = timeoutMs
        postern_set_nonblock(descriptor, 1)
        SSL_set_fd(ssl, descriptor)
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
        if logLevel.verbose { SSL_set_info_callback(ssl, TLSDebugLog.infoCallback) }
        if logLevel.handshakePackets { BIO_set_callback_ex(SSL_get_rbio(ssl), TLSDebugLog.dumpCallback) }
    }

    deinit { SSL_free(ssl) }

    /// The transport whose SSL is SSL (for OpenSSL callbacks).
    static func of(_ ssl: OpaquePointer?) -> TLSTransport? {
        guard let ssl, let raw = SSL_get_ex_data(ssl, 0) else { return nil }
        return Unmanaged<TLSTransport>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Runs the handshake within the time limit (per wait). A failure is logged as
    /// Postfix does (`SSL_accept error from NAME[ADDR]: …` and the library's problems).
    func handshake() throws(TLSError) {
        let side = isServer ? "SSL_accept error from" : "SSL_connect error to"
        ERR_clear_error()
        while true {
            errno = 0
            let r = isServer ? SSL_accept(ssl) : SSL_connect(ssl)
            if r == 1 { break }
            let e = SSL_get_error(ssl, r)
            let saved = errno
            if e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE {
                let events = Int16(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)
                if Sockets.waitFor(descriptor, events: events, timeoutMs: timeoutMs) { continue }
                let text = "\(side) \(peerName): \(String(cString: strerror(ETIMEDOUT)))"
                Log.info(text)
                throw .handshake(text)
            }
            let problems = TLSLibrary.problems()
            let text: String
            if !problems.isEmpty {
                text = "\(side) \(peerName): \(r)"
            } else if e == SSL_ERROR_SYSCALL && saved != 0 {
                text = "\(side) \(peerName): \(String(cString: strerror(saved)))"
            } else {
                text = "\(side) \(peerName): lost connection"
            }
            Log.info(text)
            for line in problems { Log.warning(line) }
            throw .handshake(text)
        }
        if logLevel.handshakePackets && !logLevel.allPackets { BIO_set_callback_ex(SSL_get_rbio(ssl), nil) }
        details = TLSConnectionDetails(ssl: ssl, digest: digest)
        if logLevel.verbose && details.reused { Log.info("\(peerName): Reusing old session") }
        if logLevel.verbose, let cert = details.peerCertificate {
            Log.info("\(peerName): subject_CN=\(cert.subjectCN), issuer=\(cert.issuerCN), fingerprint=\(cert.fingerprint), pkey_fingerprint=\(cert.publicKeyFingerprint)")
        }
    }

    public func receive(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            ERR_clear_error()
            let n = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
            if n > 0 { return Int(n) }
            let saved = errno
            switch SSL_get_error(ssl, n) {
            case SSL_ERROR_ZERO_RETURN:
                return 0
            case SSL_ERROR_WANT_READ:
                errno = EAGAIN
                return -1
            case SSL_ERROR_WANT_WRITE:
                guard Sockets.waitFor(descriptor, events: Int16(POLLOUT), timeoutMs: timeoutMs) else {
                    errno = ETIMEDOUT
                    return -1
                }
            case SSL_ERROR_SYSCALL:
                // An end of stream without close_notify is an end of stream to SMTP.
                if saved == 0 || saved == ECONNRESET { return 0 }
                errno = saved
                return -1
            default:
                TLSLibrary.logProblems()
                errno = EPROTO
                return -1
            }
        }
    }

    public func send(_ buffer: UnsafeRawBufferPointer) -> Int {
        while true {
            ERR_clear_error()
            let n = SSL_write(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
            if n > 0 { return Int(n) }
            let saved = errno
            switch SSL_get_error(ssl, n) {
            case SSL_ERROR_WANT_WRITE:
                errno = EAGAIN
                return -1
            case SSL_ERROR_WANT_READ:
                guard Sockets.waitFor(descriptor, events: Int16(POLLIN), timeoutMs: timeoutMs) else {
                    errno = ETIMEDOUT
                    return -1
                }
            case SSL_ERROR_SYSCALL:
                errno = saved == 0 ? EPIPE : saved
                return -1
            default:
                TLSLibrary.logProblems()
                errno = EPROTO
                return -1
            }
        }
    }

    public var pending: Bool { SSL_pending(ssl) > 0 }

    /// Sends close_notify without waiting for the peer's (Postfix's fast shutdown).
    public func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }
}
