// One delivery request from qmgr, as local(8)'s local_deliver: read the message's
// Delivered-To: headers (the loop detector), then for each recipient expand aliases,
// .forward and :include: files into steps, carry the steps out, log one Postfix line
// per step (`to=<expanded>, orig_to=<recipient>, relay=local, … status=sent (delivered
// to maildir)`), and fold the steps into the recipient's result: deferred when any
// step deferred, else bounced when any bounced, else sent. A deferral found while
// expanding means nothing is written for that recipient: the next attempt starts over.
import Glibc
import Shared

/// Delivers the requests of one local(8) process, as qmgr sends them.
final class LocalAgent {
    let settings: LocalSettings
    let aliases: AliasMaps
    let users: UserDatabase
    let openMessage: MessageOpener
    let commands: CommandDelivery

    init(settings: LocalSettings, aliases: AliasMaps, users: UserDatabase, openMessage: @escaping MessageOpener) {
        self.settings = settings
        self.aliases = aliases
        self.users = users
        self.openMessage = openMessage
        commands = CommandDelivery(timeLimit: settings.commandTimeLimit, shell: settings.commandShell)
    }

    /// Seconds since the epoch, with microseconds.
    static func now() -> Double {
        let (seconds, micros) = Clock.now()
        return Double(seconds) + Double(micros) / 1_000_000
    }

    /// Delivers every recipient of REQUEST; the results and the forwarded recipients.
    func deliver(_ request: DeliveryRequest) -> (results: [DeliveryResult], forwards: [ForwardedRecipient]) {
        let started = LocalAgent.now()
        let message: MessageSource
        let loopAddresses: Set<String>
        do {
            message = try openMessage(request)
            loopAddresses = try LocalAgent.deliveredTo(message)
        } catch {
            Log.warning("\(request.queueID): cannot read message: \(error)")
            let outcome = StepOutcome.failed("4.3.0", "error reading message")
            for recipient in request.recipients { log(request, recipient.address, recipient, outcome, started: started) }
            return (request.recipients.map { result($0, outcome) }, [])
        }
        let expander = RecipientExpander(settings: settings, aliases: aliases, users: users, loopAddresses: loopAddresses)
        var results: [DeliveryResult] = []
        var forwards: [ForwardedRecipient] = []
        for recipient in request.recipients {
            let original = recipient.originalAddress.isEmpty ? recipient.address : recipient.originalAddress
            let steps = expander.expand(recipient.address, original: original, sender: request.sender)
            let outcome = carryOut(steps, request, recipient, message, started: started)
            results.append(outcome.result)
            forwards += outcome.forwards
        }
        return (results, forwards)
    }

    /// Executes STEPS for RECIPIENT, logging each; its result and forwards.
    func carryOut(
        _ steps: [DeliveryStep], _ request: DeliveryRequest, _ recipient: DeliveryRecipient, _ message: MessageSource,
        started: Double
    ) -> (result: DeliveryResult, forwards: [ForwardedRecipient]) {
        let expansionDeferred = steps.contains { if case .deferral = $0.action { return true } else { return false } }
        var outcomes: [StepOutcome] = []
        var forwardSteps: [DeliveryStep] = []
        for step in steps {
            switch step.action {
            case .forward:
                forwardSteps.append(step)
                continue
            case .deferral:
                break
            default:
                if expansionDeferred { continue }
            }
            let outcome = execute(step, message, recipient)
            outcomes.append(outcome)
            log(request, step.recipient, recipient, outcome, started: started)
        }
        var forwards: [ForwardedRecipient] = []
        if !expansionDeferred && !outcomes.contains(where: { $0.status == .deferred }) {
            for step in forwardSteps {
                let outcome = execute(step, message, recipient)
                outcomes.append(outcome)
                log(request, step.recipient, recipient, outcome, started: started)
                forwards.append(ForwardedRecipient(
                    index: recipient.index, address: step.recipient, sender: step.sender,
                    deliveredTo: settings.deliveredHeader.contains(.forward) ? step.deliveredTo.lowercased() : ""))
            }
        }
        let decisive = outcomes.first { $0.status == .deferred } ?? outcomes.first { $0.status == .bounced }
            ?? outcomes.first ?? StepOutcome.sent("expanded")
        return (result(recipient, decisive), forwards)
    }

    func result(_ recipient: DeliveryRecipient, _ outcome: StepOutcome) -> DeliveryResult {
        DeliveryResult(index: recipient.index, status: outcome.status, dsn: outcome.dsn, reason: outcome.text)
    }

    /// Carries out one step that writes something (or reports what expansion found).
    func execute(_ step: DeliveryStep, _ message: MessageSource, _ recipient: DeliveryRecipient) -> StepOutcome {
        var copy = MessageCopy(
            source: message, sender: step.sender,
            originalRecipient: settings.enableOriginalRecipient
                ? (recipient.originalAddress.isEmpty ? recipient.address : recipient.originalAddress) : "",
            deliveredTo: step.deliveredTo, options: [.returnPath, .originalRecipient])
        let fileHeader: CopyOptions = settings.deliveredHeader.contains(.file) ? .deliveredTo : []
        switch step.action {
        case .maildir(let path, let user):
            copy.options.formUnion(fileHeader)
            return MaildirDelivery.deliver(copy, to: path, as: user, hostName: settings.hostName)
        case .mailbox(let path, let user, let inSpool):
            copy.options = CopyOptions.mailbox.subtracting(.deliveredTo).union(fileHeader)
            return MailboxDelivery.deliverMailbox(copy, path: path, user: user, inSpool: inSpool, settings: settings)
        case .file(let path, let user):
            copy.options = CopyOptions.mailbox.subtracting(.deliveredTo).union(fileHeader)
            return MailboxDelivery.deliverFile(copy, path: path, user: user, settings: settings)
        case .command(let command, let user, let environment):
            copy.options = [.fromLine, .returnPath, .originalRecipient]
            if settings.deliveredHeader.contains(.command) { copy.options.insert(.deliveredTo) }
            return commands.deliver(copy, command: command, user: user, environment: environment)
        case .forward:
            return .sent("forwarded as new message")
        case .sent(let dsn, let text):
            return StepOutcome(status: .sent, dsn: dsn, text: text)
        case .bounce(let dsn, let text):
            return StepOutcome(status: .bounced, dsn: dsn, text: text)
        case .deferral(let dsn, let text):
            return StepOutcome(status: .deferred, dsn: dsn, text: text)
        }
    }

    /// Logs the line of one step: to=<ADDRESS>, orig_to=<the request recipient>.
    func log(_ request: DeliveryRequest, _ address: String, _ recipient: DeliveryRecipient, _ outcome: StepOutcome, started: Double) {
        let now = LocalAgent.now()
        let shown = DeliveryRecipient(
            index: recipient.index, address: address,
            originalAddress: recipient.originalAddress.isEmpty ? recipient.address : recipient.originalAddress)
        Log.info(DeliveryLog.line(
            request, shown, relay: "local", connect: 0, transmit: now - started, now: now, result: result(recipient, outcome)))
    }

    /// The Delivered-To: addresses in the message's header, lower case.
    static func deliveredTo(_ message: MessageSource) throws -> Set<String> {
        var found: Set<String> = []
        let name = Array("delivered-to".utf8)
        try message.readLines { line in
            guard let first = line.first else { return false }
            if first == 32 || first == 9 { return true }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                !line[..<colon].contains(where: { $0 <= 32 || $0 >= 127 })
            else { return false }
            if line[..<colon].count == name.count && zip(line[..<colon], name).allSatisfy({ $0 | 0x20 == $1 | 0x20 }) {
                let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmed.lowercased()
                if !value.isEmpty { found.insert(value) }
            }
            return true
        }
        return found
    }
}
