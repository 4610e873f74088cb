// Session-ticket keys shared by every process of a service (RFC 5077 tickets, TLS 1.2 and
// 1.3), so that a client resumes its session whichever smtpd process it reaches next, as
// Postfix's tlsmgr makes possible. The keys live in one file in $data_directory (mode 0600,
// created with O_EXCL, read and rewritten under an exclusive lock): a new key encrypts
// tickets for one session timeout (smtpd_tls_session_cache_timeout) and still decrypts
// them for one more. The directory is opened before the process drops privileges and
// enters its jail; the file is only touched through that descriptor. When the file
// cannot be used, the process keeps a private key and resumption works within it only.
import COpenSSL
import CSupport
import Glibc

final class TLSTicketKeys {
    struct Key {
        var name: [UInt8]
        var hmacKey: [UInt8]
        var cipherKey: [UInt8]
        var created: Int
    }

    static let recordSize = 8 + 16 + 32 + 32
    let directory: Int32
    let fileName: String
    let lifetime: Int
    let cipher: OpaquePointer
    /// Newest first.
    var keys: [Key] = []
    var warned = false

    /// DIRECTORY is a descriptor of $data_directory (or -1: private keys only).
    init(directory: Int32, fileName: String, lifetime: Int, cipher: OpaquePointer) {
        self.directory = directory
        self.fileName = fileName
        self.lifetime = max(lifetime, 1)
        self.cipher = cipher
    }

    /// The key that encrypts new tickets.
    func current(now: Int) -> Key {
        if let k = keys.first, k.created + lifetime > now { return k }
        refresh(now: now, needFresh: true)
        return keys[0]
    }

    /// The key named NAME, if it still decrypts (and whether it is the current one).
    func find(_ name: [UInt8], now: Int) -> (key: Key, current: Bool)? {
        func lookup() -> (Key, Bool)? {
            for (i, k) in keys.enumerated() where k.name == name && k.created + 2 * lifetime > now {
                return (k, i == 0 && k.created + lifetime > now)
            }
            return nil
        }
        if let hit = lookup() { return hit }
        refresh(now: now, needFresh: false)
        return lookup()
    }

    /// Reads the shared file under its lock; when NEEDFRESH and it holds no key younger
    /// than the lifetime, adds one and writes the file back. Without the file, the
    /// process's own keys take its place.
    func refresh(now: Int, needFresh: Bool) {
        var fd: Int32 = -1
        if directory >= 0 {
            fd = openat(directory, fileName, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            if fd < 0 && errno == EEXIST { fd = openat(directory, fileName, O_RDWR | O_CLOEXEC | O_NOFOLLOW) }
            if fd < 0 || postern_fcntl_lock(fd, 1, 1) != 0 {
                warnOnce("cannot use TLS session ticket key file \(fileName): \(errnoText())")
                if fd >= 0 { close(fd) }
                fd = -1
            }
        }
        defer { if fd >= 0 { close(fd) } }
        var list = (fd >= 0 ? read(fd) : keys).filter { $0.created + 2 * lifetime > now }
        if needFresh && (list.first.map { $0.created + lifetime <= now } ?? true) {
            list = [Key(name: random(16), hmacKey: random(32), cipherKey: random(32), created: now)] + list.prefix(1)
            if fd >= 0 { write(fd, list) }
        }
        keys = list
    }

    func read(_ fd: Int32) -> [Key] {
        var data = [UInt8](repeating: 0, count: TLSTicketKeys.recordSize * 4)
        let n = pread(fd, &data, data.count, 0)
        guard n > 0 else { return [] }
        var result: [Key] = []
        var offset = 0
        while offset + TLSTicketKeys.recordSize <= n {
            var created = 0
            for i in 0..<8 { created = created << 8 | Int(data[offset + i]) }
            let base = offset + 8
            result.append(Key(name: Array(data[base..<base + 16]), hmacKey: Array(data[base + 16..<base + 48]),
                              cipherKey: Array(data[base + 48..<base + 80]), created: created))
            offset += TLSTicketKeys.recordSize
        }
        return result.sorted { $0.created > $1.created }
    }

    func write(_ fd: Int32, _ list: [Key]) {
        var data: [UInt8] = []
        for k in list {
            for i in (0..<8).reversed() { data.append(UInt8(truncatingIfNeeded: k.created >> (i * 8))) }
            data += k.name + k.hmacKey + k.cipherKey
        }
        if ftruncate(fd, 0) != 0 || pwrite(fd, data, data.count, 0) != data.count {
            warnOnce("cannot write TLS session ticket key file \(fileName): \(errnoText())")
        }
    }

    func random(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        if RAND_bytes(&bytes, Int32(count)) != 1 { Log.fatal("cannot generate TLS session ticket key: no entropy") }
        return bytes
    }

    func warnOnce(_ text: String) {
        guard !warned else { return }
        warned = true
        Log.warning(text + "; TLS sessions resume only within this process")
    }

    /// SSL_CTX_set_tlsext_ticket_key_evp_cb target: 1 = done, 2 = accepted but renew the
    /// ticket, 0 = unknown key (full handshake), -1 = failure.
    static let callback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt8>?, OpaquePointer?, OpaquePointer?, Int32) -> Int32 = {
        ssl, keyName, iv, cipherContext, macContext, encrypt in
        guard let ssl, let keyName, let iv, let ctx = SSL_get_SSL_CTX(ssl), let raw = SSL_CTX_get_ex_data(ctx, 0) else { return -1 }
        let server = Unmanaged<TLSServerContext>.fromOpaque(raw).takeUnretainedValue()
        guard let keys = server.ticketKeys else { return -1 }
        let now = Int(time(nil))
        let transport = TLSTransport.of(ssl)
        let ivLength = Int(EVP_CIPHER_get_iv_length(keys.cipher))
        if encrypt == 1 {
            let key = keys.current(now: now)
            guard RAND_bytes(iv, Int32(ivLength)) == 1 else { return -1 }
            for i in 0..<16 { keyName[i] = key.name[i] }
            guard EVP_EncryptInit_ex(cipherContext, keys.cipher, nil, key.cipherKey, iv) == 1,
                keys.setMAC(macContext, key)
            else { return -1 }
            if let t = transport, t.logLevel.verbose {
                Log.info("\(t.peerName): Issuing session ticket, key expiration: \(key.created + keys.lifetime)")
            }
            return 1
        }
        let name = Array(UnsafeBufferPointer(start: keyName, count: 16))
        guard let (key, isCurrent) = keys.find(name, now: now) else { return 0 }
        guard keys.setMAC(macContext, key), EVP_DecryptInit_ex(cipherContext, keys.cipher, nil, key.cipherKey, iv) == 1 else { return -1 }
        if let t = transport, t.logLevel.verbose {
            Log.info("\(t.peerName): Decrypting session ticket, key expiration: \(key.created + 2 * keys.lifetime)")
        }
        return isCurrent ? 1 : 2
    }

    /// Parameter names must outlive the OSSL_PARAM array that points at them.
    static let keyParameter: StaticString = "key"
    static let digestParameter: StaticString = "digest"

    static func cName(_ s: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    /// HMAC-SHA256 keyed with KEY's MAC key, for the ticket's integrity.
    func setMAC(_ mac: OpaquePointer?, _ key: Key) -> Bool {
        var hmacKey = key.hmacKey
        var digestName = Array("SHA256".utf8CString)
        return hmacKey.withUnsafeMutableBytes { keyBytes in
            digestName.withUnsafeMutableBufferPointer { name in
                var params = [
                    OSSL_PARAM_construct_octet_string(TLSTicketKeys.cName(TLSTicketKeys.keyParameter), keyBytes.baseAddress, keyBytes.count),
                    OSSL_PARAM_construct_utf8_string(TLSTicketKeys.cName(TLSTicketKeys.digestParameter), name.baseAddress, 0),
                    OSSL_PARAM_construct_end(),
                ]
                return EVP_MAC_CTX_set_params(mac, &params) == 1
            }
        }
    }
}
