// smtp: Postfix's smtp(8) delivery agent. The master starts it as mail_owner
// (`smtp unix - - n - - smtp`, also as `relay`); it takes delivery requests from qmgr,
// finds the next hop's servers (relayhost, transport_maps, MX records), delivers over
// ESMTP with pipelining, STARTTLS and AUTH as configured, and logs Postfix's
// `to=<…>, relay=host[addr]:port, … status=…` lines. qmgr turns the results into
// deferrals and bounces.
import Shared

var opened: SMTPAgentResources?
let runtime = ServiceRuntime(program: "smtp", beforePrivilegeDrop: { service in
    do {
        opened = try SMTPAgentResources(config: service.config)
    } catch {
        Log.fatal("\(error)")
    }
})
let settings: SMTPAgentSettings
do {
    settings = try SMTPAgentSettings(runtime.config, resources: opened!)
} catch {
    Log.fatal("\(error)")
}
let router = SMTPRouter(
    lookup: AgentHostLookup(config: runtime.config), ownAddresses: settings.ownAddresses, ipv4: settings.ipv4, ipv6: settings.ipv6,
    randomize: settings.randomizeAddresses)
let agent = SMTPAgent(settings: settings, router: router)
let requestTimeout = runtime.config.seconds("ipc_timeout") * 1000
SingleServer.run(runtime) { fd in RequestLoop.serve(fd, agent: agent, timeoutMs: requestTimeout) }
