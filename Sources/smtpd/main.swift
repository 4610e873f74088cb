// smtpd: the SMTP server. A single-client service: the master hands each process its
// listen socket, the skeleton accepts, and each connection is one SMTP session.
import Glibc
import Shared

// Certificates and keys are read, the SASL library loads its plug-ins, and the DNS
// resolver reads resolv.conf and /etc/hosts, while the process still has its privileges
// and sees the whole file system.
var tlsSetup = SMTPDTLS.disabled
var saslSetup: SMTPDSASL?
let runtime = ServiceRuntime(program: "smtpd") { runtime in
    tlsSetup = SMTPDTLS(config: runtime.config, serviceName: runtime.serviceName)
    ClientIdentity.prepare(runtime.config)
    do {
        saslSetup = try SMTPDSASL.load(runtime.config)
    } catch {
        Log.fatal("\(error)")
    }
}
let settings = SMTPDSettings(runtime.config)
let restrictions: Restrictions
do {
    restrictions = try Restrictions(config: runtime.config, settings: settings)
    try restrictions.sanityCheck()
    restrictions.localRecipientExists = try LocalRecipients.lookup(runtime.config)
} catch {
    Log.fatal("\(error)")
}
let clientLimits = ClientLimits(config: runtime.config)
let rewriteClients = runtime.config.list("local_header_rewrite_clients")
let flushSocket = runtime.config.value("queue_directory") + "/public/" + runtime.config.value("queue_service_name")
let store: QueueStore
do {
    store = QueueStore(config: runtime.config, settings: settings,
                       rewriter: try AddressRewriter(config: runtime.config, resolver: restrictions.resolver))
} catch {
    Log.fatal("\(error)")
}

SingleServer.run(runtime) { fd in
    let client = ClientIdentity.of(fd, config: runtime.config)
    let localEnd = Sockets.localAddress(fd)
    let local = localEnd?.host
    let addHeaders = rewriteClients.contains { rule in
        switch rule {
        case "static:all": return true
        case "permit_inet_interfaces": return local == client.address
        case "permit_mynetworks": return restrictions.mynetworks.matches(address: client.address, name: client.name)
        default: return false
        }
    }
    store.addMissingHeaders = addHeaders
    let session = SMTPSession(settings: settings, restrictions: restrictions, store: store, client: client)
    session.flushSite = { _ in TriggerServer.send(flushSocket, [UInt8(ascii: "F")]) }
    session.serviceName = runtime.serviceName
    session.limits = clientLimits
    session.tlsServer = tlsSetup
    session.serverAddress = local ?? ""
    session.serverPort = localEnd?.port ?? 0
    session.sasl = saslSetup.map(SessionSASL.init)
    Connection(descriptor: fd, session: session, settings: settings).run()
}
