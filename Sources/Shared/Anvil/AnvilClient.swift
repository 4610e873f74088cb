// The anvil(8) client (Postfix's anvil_clnt): requests `connect`, `disconnect`,
// `message`, `recipient`, `newtls`, `newtls_status`, `auth` and `lookup` for an ident
// `SERVICE:ADDRESS`, over one kept-open connection to `private/anvil` that starts with
// the server's `protocol=anvil_protocol` greeting (reference §3.1). A failed request is
// logged and answered with nil so that the caller can go on without limits.

/// The request and attribute names of the anvil protocol, shared by server and client.
public enum AnvilProtocol {
    public static let greeting = AttributeList([("protocol", "anvil_protocol")])
    public static let connect = "connect"
    public static let disconnect = "disconnect"
    public static let message = "message"
    public static let recipient = "recipient"
    public static let newTLS = "newtls"
    public static let newTLSStatus = "newtls_status"
    public static let auth = "auth"
    public static let lookup = "lookup"
    /// `status=` of a good reply; a failure is -1, printed unsigned.
    public static let statusOK = "0"
    public static let statusFail = "4294967295"

    /// The ident anvil counts under: the master.cf service name and the client address.
    public static func ident(service: String, address: String) -> String { service + ":" + address }
}

/// What `lookup` reports for one ident.
public struct AnvilCounts: Equatable {
    public var count = 0
    public var rate = 0
    public var mail = 0
    public var rcpt = 0
    public var newTLS = 0
    public var auth = 0

    public init(count: Int = 0, rate: Int = 0, mail: Int = 0, rcpt: Int = 0, newTLS: Int = 0, auth: Int = 0) {
        self.count = count
        self.rate = rate
        self.mail = mail
        self.rcpt = rcpt
        self.newTLS = newTLS
        self.auth = auth
    }
}

public final class AnvilClient {
    let client: AttributeClient

    /// A client of the anvil service at PATH (`private/anvil` under the queue directory).
    /// TIMEOUT bounds connecting and each reply; one attempt per request, so a missing
    /// anvil costs one refused connect, not a wait.
    public init(path: String, timeout: Int) {
        var settings = AttributeClient.Settings()
        settings.timeout = timeout
        settings.maxIdle = 0
        settings.maxTTL = 0
        settings.tryLimit = 1
        settings.retryDelay = 0
        client = AttributeClient(endpoint: ServiceEndpoint(.unix(path)), settings: settings, greeting: AnvilProtocol.greeting)
    }

    /// Registers a new connection; the current (count, rate).
    public func connect(_ ident: String) -> (count: Int, rate: Int)? {
        guard let r = send(AnvilProtocol.connect, ident), let count = r.int("count"), let rate = r.int("rate") else { return nil }
        return (count, rate)
    }

    /// Ends a connection registered with connect().
    @discardableResult
    public func disconnect(_ ident: String) -> Bool { send(AnvilProtocol.disconnect, ident) != nil }

    /// Counts one event of KIND (`message`, `recipient`, `newtls`, `auth`) and returns its
    /// rate, or reads the new-TLS rate without counting (`newtls_status`).
    public func rate(_ kind: String, _ ident: String) -> Int? { send(kind, ident)?.int("rate") }

    /// Everything anvil knows about IDENT.
    public func lookup(_ ident: String) -> AnvilCounts? {
        guard let r = send(AnvilProtocol.lookup, ident), let count = r.int("count"), let rate = r.int("rate"),
            let mail = r.int("mail"), let rcpt = r.int("rcpt"), let newTLS = r.int("newtls"), let auth = r.int("auth")
        else { return nil }
        return AnvilCounts(count: count, rate: rate, mail: mail, rcpt: rcpt, newTLS: newTLS, auth: auth)
    }

    /// Drops the connection to anvil (anvil then ends what it counted for us).
    public func close() { client.disconnect() }

    func send(_ request: String, _ ident: String) -> AttributeList? {
        guard let reply = client.request(AttributeList([("request", request), ("ident", ident)]), expecting: "status") else { return nil }
        guard reply["status"] == AnvilProtocol.statusOK else {
            Log.warning("anvil request \(request) for \(ident) failed: status=\(reply["status"] ?? "")")
            return nil
        }
        return reply
    }
}

extension AttributeList {
    /// The value of NAME as a number.
    func int(_ name: String) -> Int? { self[name].flatMap { Int($0) } }
}
