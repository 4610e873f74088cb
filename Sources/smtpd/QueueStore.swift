// The session's queue: each transaction is a queue file written through the in-process
// cleanup (Received: first, header checks, missing headers), committed durably before
// the 250, after which qmgr is nudged through its public socket.
import Glibc
import Shared

final class QueueStore: MessageStore {
    let queue: QueueDirectory
    let cleanupSettings: CleanupSettings
    let settings: SMTPDSettings
    let qmgrSocket: String
    /// canonical, masquerading and virtual alias rewriting of the envelope.
    let rewriter: AddressRewriter
    /// Whether the current client may have missing headers added
    /// (local_header_rewrite_clients); set per connection.
    var addMissingHeaders = false
    /// smtpd_sasl_authenticated_header: `(Authenticated sender: USER)` in Received:.
    let authenticatedHeader: Bool

    /// Made once per process: the queue directory stays open and settings stay expanded.
    init(config: MainConfig, settings: SMTPDSettings, rewriter: AddressRewriter) {
        self.rewriter = rewriter
        queue = QueueDirectory(config: config)
        cleanupSettings = CleanupSettings(config: config)
        self.settings = settings
        qmgrSocket = config.value("queue_directory") + "/public/" + config.value("queue_service_name")
        authenticatedHeader = config.bool("smtpd_sasl_auth_enable") && config.bool("smtpd_sasl_authenticated_header")
    }

    func begin(_ envelope: EnvelopeInfo) throws -> MessageTransaction {
        try QueueTransaction(store: self, envelope: envelope)
    }
}

final class QueueTransaction: MessageTransaction {
    let store: QueueStore
    let writer: QueueFileWriter
    let info: EnvelopeInfo
    var cleanup: Cleanup?
    var finished = false

    init(store: QueueStore, envelope: EnvelopeInfo) throws {
        self.store = store
        info = envelope
        writer = try QueueFileWriter(directory: store.queue)
        var attributes: [QueueEnvelope.Attribute] = [
            .init(name: QueueEnvelope.clientNameKey, value: envelope.client.name),
            .init(name: QueueEnvelope.clientAddressKey, value: envelope.client.address),
            .init(name: QueueEnvelope.clientPortKey, value: String(envelope.client.port)),
            .init(name: QueueEnvelope.protocolNameKey, value: envelope.protocolName),
        ]
        if let h = envelope.helo { attributes.append(.init(name: QueueEnvelope.heloNameKey, value: h)) }
        if let b = envelope.bodyType { attributes.append(.init(name: QueueEnvelope.encodingKey, value: b)) }
        if envelope.smtputf8 { attributes.append(.init(name: QueueEnvelope.smtputf8Key, value: "yes")) }
        if let e = envelope.dsnEnvid { attributes.append(.init(name: QueueEnvelope.dsnEnvelopeIDKey, value: e)) }
        if let r = envelope.dsnRet { attributes.append(.init(name: QueueEnvelope.dsnReturnKey, value: r)) }
        if let m = envelope.saslMethod { attributes.append(.init(name: QueueEnvelope.saslMethodKey, value: m)) }
        if let u = envelope.saslUsername { attributes.append(.init(name: QueueEnvelope.saslUsernameKey, value: u)) }
        if let s = envelope.saslSender { attributes.append(.init(name: QueueEnvelope.saslSenderKey, value: s)) }
        writer.envelope = QueueEnvelope(
            arrivalSeconds: envelope.arrivalSeconds, arrivalMicros: envelope.arrivalMicros,
            sender: try store.rewriter.sender(envelope.sender),
            attributes: attributes)
        writer.envelope.warningTime = store.cleanupSettings.warningTime(arrival: envelope.arrivalSeconds)
    }

    var queueID: String { writer.queueID }

    func addRecipient(_ address: String, originalRecipient: String?, notify: String?) throws {
        for rewritten in try store.rewriter.recipients(address) {
            writer.addRecipient(QueueRecipient(
                address: rewritten, originalRecipient: address, dsnOriginalRecipient: originalRecipient,
                dsnNotify: notify.flatMap(DSNNotify.init(esmtpValue:)) ?? []))
        }
    }

    func beginContent(recipients: [String]) throws {
        var protocolName = info.receivedProtocol ?? info.protocolName
        if info.smtputf8 { protocolName = "UTF8SMTP" + protocolName.dropFirst(protocolName.hasPrefix("ESMTP") ? 5 : 4) }
        let received = ReceivedHeader.smtp(
            heloName: info.helo, clientName: info.client.name, clientAddress: info.client.address, protocolName: protocolName,
            myhostname: store.settings.myhostname, mailName: store.settings.mailName, queueID: writer.queueID,
            recipient: recipients.count == 1 ? recipients[0] : nil, time: Clock.now().seconds,
            commentLines: info.receivedComments, authenticatedSender: store.authenticatedHeader ? info.saslUsername : nil)
        let message = CleanupMessage(
            queueID: writer.queueID, queueFileTime: writer.creationTime.seconds, arrivalTime: info.arrivalSeconds,
            sender: info.sender, addMissingHeaders: store.addMissingHeaders, receivedHeader: received)
        cleanup = Cleanup(settings: store.cleanupSettings, message: message, output: writer)
    }

    func contentLine(_ line: ArraySlice<UInt8>) throws {
        guard cleanup != nil else { return }
        try cleanup!.feed(line)
        if let r = cleanup!.rejection { throw ContentRefusal(r) }
    }

    func commit() throws -> String {
        guard cleanup != nil else { throw ContentRefusal.writeError }
        try cleanup!.finish()
        guard let cleanup else { throw ContentRefusal.writeError }
        if let r = cleanup.rejection { throw ContentRefusal(r) }
        try writer.commit()
        finished = true
        TriggerServer.send(store.qmgrSocket, [UInt8(ascii: "A")])
        return cleanup.messageID ?? ""
    }

    func abort() {
        if !finished { writer.abort() }
        finished = true
    }
}

extension ContentRefusal {
    init(_ rejection: CleanupRejection) {
        switch rejection {
        case .tooManyHops: self = .tooManyHops
        case .messageTooBig: self = .tooBig
        }
    }
}
