// anvil's protocol (reference §3.1): each request `request=NAME ident=IDENT` gets the
// reply Postfix's anvil sends, in the same attribute order; an unknown request is
// logged and answered `status=4294967295`; a request that is not exactly those two
// attributes ends the connection. No I/O here: the daemon's loop reads and writes.
import Shared

struct AnvilService {
    let table: AnvilTable

    /// The reply to REQUEST from the local client CLIENT at NOW, or nil when the request
    /// is malformed and the connection must be closed.
    func reply(to request: AttributeList, client: Int32, now: Int) -> AttributeList? {
        guard request.items.count == 2, let name = request["request"], let ident = request["ident"] else {
            let missing = request["request"] == nil ? "request" : request["ident"] == nil ? "ident" : nil
            if let missing {
                Log.warning("missing attribute \(missing) in input from private/anvil")
            } else {
                Log.warning("unexpected attribute in input from private/anvil: \(request)")
            }
            return nil
        }
        table.expire(now: now)
        let ok = ("status", AnvilProtocol.statusOK)
        switch name {
        case AnvilProtocol.connect:
            let (count, rate) = table.connect(client: client, ident: ident, now: now)
            return AttributeList([ok, ("count", String(count)), ("rate", String(rate))])
        case AnvilProtocol.disconnect:
            table.disconnect(client: client, ident: ident, now: now)
            return AttributeList([ok])
        case AnvilProtocol.message, AnvilProtocol.recipient, AnvilProtocol.newTLS, AnvilProtocol.auth:
            let event: AnvilEvent =
                name == AnvilProtocol.message ? .message : name == AnvilProtocol.recipient ? .recipient : name == AnvilProtocol.newTLS ? .newTLS : .auth
            return AttributeList([ok, ("rate", String(table.count(event, client: client, ident: ident, now: now)))])
        case AnvilProtocol.newTLSStatus:
            return AttributeList([ok, ("rate", String(table.newTLSStatus(ident: ident, now: now)))])
        case AnvilProtocol.lookup:
            let c = table.lookup(ident: ident, now: now)
            let values: [(String, Int)] = [
                ("count", c.count), ("rate", c.rate), ("mail", c.mail), ("rcpt", c.rcpt), ("newtls", c.newTLS), ("auth", c.auth),
            ]
            return AttributeList([ok] + values.map { ($0.0, String($0.1)) })
        default:
            Log.warning("unrecognized request: \"\(name)\", ignored")
            return AttributeList([("status", AnvilProtocol.statusFail)])
        }
    }
}
