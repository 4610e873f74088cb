// `sendmail -t`: the recipients in the message's primary header block, taken from To:,
// Cc: and Bcc: (or from Resent-To:, Resent-Cc: and Resent-Bcc: when the message has
// any Resent- header, as Postfix's cleanup does), header continuation lines included.
// Bcc: itself is removed later by cleanup (message_drop_headers). The collector sees
// the header lines sendmail buffers before it starts postdrop; it never sees the body.
import Shared

/// Collects recipient addresses from header lines fed one piece at a time.
struct HeaderRecipients {
    /// Header values longer than this are not read further (Postfix's header_size_limit).
    static let valueLimit = 102_400

    var plain: [String] = []
    var resent: [String] = []
    var sawResent = false
    /// The lower-case name of the header being read, when it names recipients.
    var currentName: String?
    var currentValue: [UInt8] = []
    /// Whether a header has started, so that a line starting with white space continues it.
    var headerStarted = false
    /// Whether the primary header block is still going on.
    private(set) var inHeaders = true

    /// The recipients found so far.
    var recipients: [String] { sawResent ? resent : plain }

    /// Feeds one piece of input. Returns false once the header block has ended (at the
    /// empty line or the first line that is neither a header nor a continuation).
    mutating func feed(_ piece: LinePiece) -> Bool {
        guard inHeaders else { return false }
        if !piece.startsLine {
            appendValue(piece.bytes)
            return true
        }
        if let first = piece.bytes.first, first == 32 || first == 9, headerStarted {
            appendValue([32] + piece.bytes)
            return true
        }
        finishHeader()
        guard let name = piece.bytes.withUnsafeBytes({ MessageHeader.name(in: $0) }) else {
            inHeaders = false
            return false
        }
        headerStarted = true
        let lowered = String(decoding: piece.bytes.prefix(name.length), as: UTF8.self).asciiLowercased
        if lowered.hasPrefix("resent-") { sawResent = true }
        if HeaderAddresses.recipientHeaders.contains(lowered) || HeaderAddresses.resentRecipientHeaders.contains(lowered) {
            currentName = lowered
            appendValue(piece.bytes.dropFirst(name.colon + 1))
        }
        return true
    }

    /// Ends the header block (end of input).
    mutating func finish() {
        finishHeader()
        inHeaders = false
    }

    mutating func appendValue<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard currentName != nil, currentValue.count < Self.valueLimit else { return }
        currentValue.append(contentsOf: bytes.prefix(Self.valueLimit - currentValue.count))
    }

    mutating func finishHeader() {
        guard let name = currentName else { return }
        let addresses = HeaderAddresses.parse(String(decoding: currentValue, as: UTF8.self))
        if HeaderAddresses.resentRecipientHeaders.contains(name) { resent += addresses } else { plain += addresses }
        currentName = nil
        currentValue = []
    }
}
