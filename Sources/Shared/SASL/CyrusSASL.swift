// Cyrus libsasl2 as the SMTP server's SASL implementation (smtpd_sasl_type = cyrus), as
// Postfix's xsasl_cyrus_server.c drives it: sasl_server_init once per process with the
// application name from smtpd_sasl_path (so Cyrus reads `smtpd.conf`, found under
// cyrus_sasl_config_path through the SASL_CB_GETCONFPATH callback), one sasl_conn_t per
// AUTH attempt with the service, realm and `addr;port` strings, security flags from the
// smtpd_sasl_*security_options and no security layer (max_ssf 0); base64 decoded and
// encoded with Cyrus's own routines; errors reported with sasl_errstring's text.
// Cyrus's own log messages become Postfix's `SASL authentication problem:` /
// `SASL authentication failure:` warnings.
import CSASL
import Glibc

/// The process-wide Cyrus library state.
enum CyrusLibrary {
    nonisolated(unsafe) static var initializedFor: String?

    /// sasl_server_init with APPNAME; CONFIGPATH (when not empty) is where Cyrus looks for
    /// APPNAME.conf. Repeated calls with the same name do nothing.
    static func initialize(appName: String, configPath: String) throws {
        if let done = initializedFor {
            guard done == appName else { throw ConfigError("SASL per-process initialization failed: already initialized for \(done)") }
            return
        }
        // Cyrus keeps the callback array and what it points to for the life of the process.
        let callbacks = UnsafeMutablePointer<sasl_callback_t>.allocate(capacity: 3)
        var count = 0
        callbacks[count] = sasl_callback_t(id: UInt(SASL_CB_LOG), proc: unsafeBitCast(cyrusLog, to: (@convention(c) () -> Int32).self), context: nil)
        count += 1
        if !configPath.isEmpty {
            callbacks[count] = sasl_callback_t(
                id: UInt(SASL_CB_GETCONFPATH), proc: unsafeBitCast(cyrusConfigPath, to: (@convention(c) () -> Int32).self),
                context: UnsafeMutableRawPointer(strdup(configPath)))
            count += 1
        }
        callbacks[count] = sasl_callback_t(id: UInt(SASL_CB_LIST_END), proc: nil, context: nil)
        let status = sasl_server_init(callbacks, appName)
        guard status == SASL_OK else {
            throw ConfigError("SASL per-process initialization failed: \(CyrusLibrary.text(status))")
        }
        initializedFor = appName
    }

    /// Cyrus's English text for STATUS (`authentication failure`, `no mechanism available`).
    static func text(_ status: Int32) -> String {
        guard let text = sasl_errstring(status, nil, nil) else { return "(unknown error \(status))" }
        return String(cString: text)
    }
}

/// SASL_CB_LOG: Cyrus's messages in Postfix's words.
private let cyrusLog: @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?) -> Int32 = { _, level, message in
    let text = message.map { String(cString: $0) } ?? ""
    switch level {
    case SASL_LOG_ERR, SASL_LOG_WARN: Log.warning("SASL authentication problem: \(text)")
    case SASL_LOG_FAIL: Log.warning("SASL authentication failure: \(text)")
    default: break
    }
    return SASL_OK
}

/// SASL_CB_GETCONFPATH: the directory list given as the callback's context.
private let cyrusConfigPath: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 = {
    context, path in
    path?.pointee = UnsafePointer(context?.assumingMemoryBound(to: CChar.self))
    return SASL_OK
}

/// One session's Cyrus server. Each AUTH attempt gets a fresh sasl_conn_t (Postfix does
/// not reuse a handle after a failed attempt).
final class CyrusSASLServer: SASLServer {
    let settings: SASLServerSettings
    let peer: SASLPeer
    let security: SASLSecurityOptions
    var connection: OpaquePointer?
    /// Whether the current handle has started an exchange.
    var used = false
    let mechanisms: [String]

    /// Nil, with a warning, when Cyrus will not make a handle.
    init?(settings: SASLServerSettings, peer: SASLPeer, security: SASLSecurityOptions) {
        self.settings = settings
        self.peer = peer
        self.security = security
        guard let handle = CyrusSASLServer.newHandle(settings, peer, security) else { return nil }
        connection = handle
        var list: UnsafePointer<CChar>?
        var count: Int32 = 0
        let status = sasl_listmech(handle, nil, "", " ", "", &list, nil, &count)
        if status != SASL_OK {
            Log.warning("xsasl_cyrus_server_get_mechanism_list: \(CyrusLibrary.text(status))")
            mechanisms = []
        } else {
            let all = list.map { splitFields(String(cString: $0)) } ?? []
            if all.isEmpty { Log.warning("xsasl_cyrus_server_get_mechanism_list: no applicable SASL mechanisms") }
            mechanisms = settings.mechanismFilter.apply(all)
        }
    }

    deinit {
        if connection != nil { sasl_dispose(&connection) }
    }

    static func newHandle(_ settings: SASLServerSettings, _ peer: SASLPeer, _ security: SASLSecurityOptions) -> OpaquePointer? {
        func endpoint(_ address: String, _ port: UInt16) -> String? {
            address.isEmpty || port == 0 ? nil : "\(address);\(port)"
        }
        var handle: OpaquePointer?
        let status = sasl_server_new(
            settings.service, settings.myhostname, settings.realm.isEmpty ? nil : settings.realm,
            endpoint(peer.serverAddress, peer.serverPort), endpoint(peer.clientAddress, peer.clientPort), nil, 0, &handle)
        guard status == SASL_OK, let handle else {
            Log.warning("SASL per-connection server initialization: \(CyrusLibrary.text(status))")
            return nil
        }
        var properties = sasl_security_properties_t()
        properties.min_ssf = 0
        properties.max_ssf = 0
        properties.maxbufsize = 0
        properties.security_flags = cyrusFlags(security)
        let set = sasl_setprop(handle, SASL_SEC_PROPS, &properties)
        guard set == SASL_OK else {
            Log.warning("SASL per-connection security setup; \(CyrusLibrary.text(set))")
            var doomed: OpaquePointer? = handle
            sasl_dispose(&doomed)
            return nil
        }
        return handle
    }

    static func cyrusFlags(_ options: SASLSecurityOptions) -> UInt32 {
        var flags: Int32 = 0
        if options.contains(.noPlaintext) { flags |= SASL_SEC_NOPLAINTEXT }
        if options.contains(.noActive) { flags |= SASL_SEC_NOACTIVE }
        if options.contains(.noDictionary) { flags |= SASL_SEC_NODICTIONARY }
        if options.contains(.noAnonymous) { flags |= SASL_SEC_NOANONYMOUS }
        if options.contains(.mutualAuth) { flags |= SASL_SEC_MUTUAL_AUTH }
        if options.contains(.forwardSecrecy) { flags |= SASL_SEC_FORWARD_SECRECY }
        return UInt32(flags)
    }

    func start(mechanism: String, initialResponse: String?) -> SASLStep {
        if used || connection == nil {
            if connection != nil { sasl_dispose(&connection) }
            connection = CyrusSASLServer.newHandle(settings, peer, security)
        }
        guard let connection else { return .temporaryFailure(CyrusLibrary.text(SASL_FAIL)) }
        used = true
        var decoded: [CChar] = []
        if let initialResponse {
            switch decode(initialResponse) {
            case .success(let bytes): decoded = bytes
            case .failure(let status): return .failure(CyrusLibrary.text(status.rawValue))
            }
        }
        var output: UnsafePointer<CChar>?
        var outputLength: UInt32 = 0
        let status = withInput(initialResponse == nil ? nil : decoded) { input, length in
            sasl_server_start(connection, mechanism, input, length, &output, &outputLength)
        }
        return step(for: status, output, outputLength)
    }

    func step(_ response: String) -> SASLStep {
        guard let connection else { return .temporaryFailure(CyrusLibrary.text(SASL_FAIL)) }
        let decoded: [CChar]
        switch decode(response) {
        case .success(let bytes): decoded = bytes
        case .failure(let status): return .failure(CyrusLibrary.text(status.rawValue))
        }
        var output: UnsafePointer<CChar>?
        var outputLength: UInt32 = 0
        let status = withInput(decoded) { input, length in
            sasl_server_step(connection, input, length, &output, &outputLength)
        }
        return step(for: status, output, outputLength)
    }

    var username: String? {
        guard let connection else { return nil }
        var value: UnsafeRawPointer?
        guard sasl_getprop(connection, SASL_USERNAME, &value) == SASL_OK, let value else { return nil }
        return String(cString: value.assumingMemoryBound(to: CChar.self)).saslPrintable
    }

    struct CyrusStatus: Error { let rawValue: Int32 }

    /// TEXT decoded by sasl_decode64, with its verdict on malformed input.
    func decode(_ text: String) -> Result<[CChar], CyrusStatus> {
        let input = Array(text.utf8CString)
        var output = [CChar](repeating: 0, count: input.count + 4)
        var length: UInt32 = 0
        let status = input.withUnsafeBufferPointer { inp in
            output.withUnsafeMutableBufferPointer { out in
                sasl_decode64(inp.baseAddress, UInt32(inp.count - 1), out.baseAddress, UInt32(out.count), &length)
            }
        }
        guard status == SASL_OK else { return .failure(CyrusStatus(rawValue: status)) }
        return .success(Array(output.prefix(Int(length))))
    }

    /// Calls BODY with BYTES as Cyrus wants client input: a null pointer for "no initial
    /// response", a valid pointer (even for zero bytes) otherwise.
    func withInput(_ bytes: [CChar]?, _ body: (UnsafePointer<CChar>?, UInt32) -> Int32) -> Int32 {
        guard let bytes else { return body(nil, 0) }
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        defer { buffer.deallocate() }
        buffer.initialize(from: bytes, count: bytes.count)
        buffer[bytes.count] = 0
        return body(buffer, UInt32(bytes.count))
    }

    /// Cyrus's status as a step: CONTINUE carries a challenge; no-such-user reads as a
    /// plain authentication failure (privacy); library, memory and back-end trouble is
    /// temporary.
    func step(for status: Int32, _ output: UnsafePointer<CChar>?, _ length: UInt32) -> SASLStep {
        switch status {
        case SASL_OK:
            return .success
        case SASL_CONTINUE:
            let bytes = output.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(length))) } ?? []
            return .challenge(SASLBase64.encode(bytes))
        case SASL_FAIL, SASL_NOMEM, SASL_TRYAGAIN, SASL_UNAVAIL:
            return .temporaryFailure(CyrusLibrary.text(status))
        case SASL_NOUSER:
            return .failure(CyrusLibrary.text(SASL_BADAUTH))
        default:
            return .failure(CyrusLibrary.text(status))
        }
    }
}
