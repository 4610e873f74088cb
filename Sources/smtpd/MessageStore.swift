// What the session needs from the queue: a transaction opened at the first accepted
// recipient (it has a queue ID from then on), recipients, the message content as lines,
// and a commit that returns only once the queue file is safe on disk.
import Shared

/// Facts about the session that go into the queue file and the Received: header.
struct EnvelopeInfo {
    var sender: String
    var client: ClientIdentity
    var helo: String?
    var protocolName: String
    var bodyType: String?
    var smtputf8 = false
    var dsnEnvid: String?
    var dsnRet: String?
    var saslMethod: String?
    var saslUsername: String?
    /// MAIL FROM's AUTH= address, for an authenticated client.
    var saslSender: String?
    /// The Received: header's `with` word (ESMTPS, ESMTPSA; protocolName when nil) and its
    /// TLS comment lines (SessionTLS.swift).
    var receivedProtocol: String?
    var receivedComments: [String] = []
    var arrivalSeconds = 0
    var arrivalMicros = 0
}

/// Why content was refused (cleanup's status), with the reply smtpd gives.
enum ContentRefusal: Error, Equatable {
    case tooBig
    case tooManyHops
    case writeError

    var reply: SMTPReply {
        switch self {
        case .tooBig: return SMTPReply(552, "5.3.4", "Error: message file too big")
        case .tooManyHops: return SMTPReply(554, "5.4.0", "Error: too many hops")
        case .writeError: return SMTPReply(451, "4.3.0", "Error: queue file write error")
        }
    }
}

protocol MessageTransaction: AnyObject {
    var queueID: String { get }
    func addRecipient(_ address: String, originalRecipient: String?, notify: String?) throws
    /// Called once before the first content line; RECIPIENTS is the final list.
    func beginContent(recipients: [String]) throws
    /// One line of content without its line end, dot-unstuffed.
    func contentLine(_ line: ArraySlice<UInt8>) throws
    /// Makes the message durable; returns the Message-ID cleanup logged (or "").
    func commit() throws -> String
    /// Throws the queue file away.
    func abort()
}

protocol MessageStore: AnyObject {
    func begin(_ envelope: EnvelopeInfo) throws -> MessageTransaction
}
