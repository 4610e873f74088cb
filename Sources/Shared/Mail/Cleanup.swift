// In-process cleanup (Postfix's cleanup(8) header and body pass, cleanup_message.c and
// mime_state.c) as a streaming state machine: smtpd and pickup feed it the message one
// line at a time (dot-unstuffed, without line end; long lines may come in pieces) and it
// writes the content to the queue file as it goes. It puts the Received: header first
// (under the headers smtpd's PREPEND actions asked for, as smtpd.c writes them),
// normalises `Name :` to `Name:`, drops message_drop_headers, discards continuation
// lines of a header past header_size_limit, counts Received: headers against
// hopcount_limit, adds missing Message-Id:/Date:/From: (and their Resent- forms) at the
// end of the headers for clients that may have them, turns a first line that is not a
// header into the body (after a forced blank line) and enforces message_size_limit.
// Only the value of a Message-Id: header is ever kept; the message never is.

/// One message's cleanup pass (see the file comment): a value-type state machine; keep it
/// in a `var` and feed it.
public struct Cleanup {
    /// What happens to the bytes of the line being fed.
    enum LineRoute {
        /// A header's first line or continuation, written unless the header is dropped.
        case header
        /// A continuation line past header_size_limit: thrown away with its line end.
        case discarded
        /// Body text.
        case body
    }

    let settings: CleanupSettings
    let message: CleanupMessage
    let output: MessageContentSink

    /// Message bytes written so far, line feeds included: the message size.
    public private(set) var messageSize = 0
    /// Received: headers seen, ours included.
    public private(set) var hopCount = 0
    /// Set once the message is refused; from then on input is ignored.
    public private(set) var rejection: CleanupRejection?
    /// The Message-Id to log (`QUEUEID: message-id=…`): the message's own, or the one
    /// cleanup added; nil when there is none (log `message-id=<>`). Known once the
    /// headers have ended.
    public private(set) var messageID: String?
    /// The Resent-Message-Id cleanup added to a resent message (log `resent-message-id=…`).
    public private(set) var resentMessageID: String?

    var started = false
    var inHeaders = true
    /// The next bytes fed begin a new line.
    var atLineStart = true
    var route = LineRoute.header
    var headerInProgress = false
    var headerDropped = false
    /// Bytes of the current header so far (name, colon, value, LFs between its lines).
    var headerLength = 0
    /// Kinds of headers seen, as HeaderKind bits.
    var seen: UInt32 = 0
    var resent = false
    var collectingMessageID = false
    var messageIDValue: [UInt8] = []
    var nameBuffer: [UInt8] = []

    /// A cleanup pass for MESSAGE that writes to OUTPUT (the queue file writer).
    public init(settings: CleanupSettings, message: CleanupMessage, output: MessageContentSink) {
        self.settings = settings
        self.message = message
        self.output = output
        nameBuffer.reserveCapacity(HeaderTable.maxNameLength)
    }

    /// Feeds one line of content without its line end. PARTIAL says that the line goes on
    /// in the next call (a long line read in pieces). Throws what the output throws (disk
    /// errors); a refusal is reported in `rejection` instead.
    public mutating func feed(_ line: UnsafeRawBufferPointer, partial: Bool = false) throws {
        if !started { try start() }
        guard rejection == nil, !(partial && line.isEmpty) else { return }
        if atLineStart {
            try beginLine(line, partial: partial)
        } else {
            try continueLine(line, partial: partial)
        }
        atLineStart = !partial
    }

    /// Feeds one line of content (see feed(_: UnsafeRawBufferPointer, partial:)).
    public mutating func feed(_ line: ArraySlice<UInt8>, partial: Bool = false) throws {
        try line.withUnsafeBytes { try feed($0, partial: partial) }
    }

    /// Feeds one line of content (see feed(_: UnsafeRawBufferPointer, partial:)).
    public mutating func feed(_ line: [UInt8], partial: Bool = false) throws {
        try line.withUnsafeBytes { try feed($0, partial: partial) }
    }

    /// Ends the content: ends a line left open, and adds the missing headers of a message
    /// that never left its header block. Check `rejection` afterwards.
    public mutating func finish() throws {
        if !started { try start() }
        guard rejection == nil else { return }
        if !atLineStart {
            if route == .body || (route == .header && !headerDropped) { try writeLineEnd() }
            atLineStart = true
        }
        if inHeaders {
            try endHeaders()
            inHeaders = false
        }
    }

    /// Puts the prepended headers and then the Received: header first, through the same
    /// path as the client's headers.
    mutating func start() throws {
        started = true
        for header in message.prependedHeaders { try feedLines(header) }
        try feedLines(message.receivedHeader)
    }

    /// Feeds each LF-separated line of TEXT.
    mutating func feedLines(_ text: String) throws {
        var text = text
        try text.withUTF8 { bytes in
            var lineStart = 0
            for end in 0...bytes.count where end == bytes.count || bytes[end] == 10 {
                if end > lineStart { try feed(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[lineStart..<end]))) }
                lineStart = end + 1
            }
        }
    }

    mutating func beginLine(_ line: UnsafeRawBufferPointer, partial: Bool) throws {
        guard inHeaders else {
            route = .body
            return try write(line, newline: !partial)
        }
        if headerInProgress, let first = line.first, first == 32 || first == 9 {
            try continueHeader(line, partial: partial, lineBreak: true)
            return
        }
        finishHeader()
        if let name = MessageHeader.name(in: line) {
            try startHeader(line, name: name, partial: partial)
            return
        }
        try endHeaders()
        inHeaders = false
        route = .body
        if !line.isEmpty { try writeLineEnd() }
        try write(line, newline: !partial)
    }

    mutating func continueLine(_ line: UnsafeRawBufferPointer, partial: Bool) throws {
        switch route {
        case .body:
            try write(line, newline: !partial)
        case .header:
            try continueHeader(line, partial: partial, lineBreak: false)
        case .discarded:
            break
        }
    }

    /// A continuation line (LINEBREAK) or the next piece of a long header line: kept while
    /// the header is below header_size_limit, discarded after that (mime_state.c).
    mutating func continueHeader(_ line: UnsafeRawBufferPointer, partial: Bool, lineBreak: Bool) throws {
        guard headerLength < settings.headerSizeLimit else {
            if lineBreak {
                route = .discarded
            } else if !partial && !headerDropped {
                try writeLineEnd()
            }
            return
        }
        route = .header
        headerLength += line.count + (lineBreak ? 1 : 0)
        if collectingMessageID { messageIDValue.append(contentsOf: line) }
        if !headerDropped { try write(line, newline: !partial) }
    }

    /// The first line of a header: classified, counted, written as `Name:` + the rest.
    mutating func startHeader(_ line: UnsafeRawBufferPointer, name: (length: Int, colon: Int), partial: Bool) throws {
        let entry = classify(UnsafeRawBufferPointer(rebasing: line[0..<name.length]))
        headerInProgress = true
        headerDropped = entry.drop
        route = .header
        seen |= entry.kind.bit
        if entry.kind.isResent { resent = true }
        if entry.kind == .received {
            hopCount += 1
            if hopCount >= settings.hopcountLimit {
                rejection = .tooManyHops
                return
            }
        }
        let rest = UnsafeRawBufferPointer(rebasing: line[name.colon...])
        headerLength = name.length + rest.count
        collectingMessageID = entry.kind == .messageID && messageID == nil
        if collectingMessageID {
            messageIDValue.removeAll(keepingCapacity: true)
            messageIDValue.append(contentsOf: rest.dropFirst())
        }
        guard !headerDropped else { return }
        if name.length == name.colon {
            try write(line, newline: !partial)
        } else {
            try write(UnsafeRawBufferPointer(rebasing: line[0..<name.length]), newline: false)
            try write(rest, newline: !partial)
        }
    }

    /// Looks NAME up in lower case.
    mutating func classify(_ name: UnsafeRawBufferPointer) -> HeaderTable.Entry {
        guard name.count <= HeaderTable.maxNameLength else { return HeaderTable.Entry(kind: .other, drop: false) }
        nameBuffer.removeAll(keepingCapacity: true)
        for c in name { nameBuffer.append(c >= 65 && c <= 90 ? c + 32 : c) }
        return settings.headers.lookup(nameBuffer)
    }

    /// The header in progress is complete: keeps its Message-Id value, if collected.
    mutating func finishHeader() {
        guard headerInProgress else { return }
        headerInProgress = false
        if collectingMessageID {
            collectingMessageID = false
            let value = messageIDValue.drop { $0 == 32 || $0 == 9 }
            messageID = String(decoding: value, as: UTF8.self)
        }
    }

    /// The end of the primary headers: adds the missing ones (cleanup's
    /// header_done_callback), Resent- forms when the message has Resent- headers.
    mutating func endHeaders() throws {
        finishHeader()
        guard message.addMissingHeaders || settings.alwaysAddMissingHeaders else { return }
        let prefix = resent ? "Resent-" : ""
        if seen & (resent ? HeaderKind.resentMessageID : .messageID).bit == 0 {
            let stamp = settings.longQueueIDs ? "" : MailDate.compactUTC(message.queueFileTime) + "."
            let id = "<" + stamp + message.queueID + "@" + settings.myhostname + ">"
            if resent { resentMessageID = id } else { messageID = id }
            try writeHeader(prefix + "Message-Id: " + id)
        }
        if seen & (resent ? HeaderKind.resentDate : .date).bit == 0 {
            try writeHeader(prefix + "Date: " + MailDate.rfc2822(message.arrivalTime))
        }
        if seen & (resent ? HeaderKind.resentFrom : .from).bit == 0 {
            try writeHeader(prefix + "From: " + fromValue())
        }
        let visible = HeaderKind.to.bit | HeaderKind.cc.bit | HeaderKind.resentTo.bit | HeaderKind.resentCc.bit
        let undisclosed = settings.undisclosedRecipientsHeader
        if seen & visible == 0 && !undisclosed.isEmpty && MessageHeader.isHeader(undisclosed) {
            try writeHeader(undisclosed)
        }
    }

    /// A generated From: value: `Full Name <address>` (or `address (Full Name)` with
    /// header_from_format = obsolete), the bare address without a full name, MAILER-DAEMON
    /// for the null sender.
    func fromValue() -> String {
        guard !message.sender.isEmpty else { return "MAILER-DAEMON" }
        let address = RFC822Quoting.quoteLocalPart(message.sender)
        guard let name = message.fullName, !name.isEmpty else { return address }
        if settings.obsoleteFromFormat { return address + " (" + RFC822Quoting.commentText(name) + ")" }
        return RFC822Quoting.phrase(name, charset: settings.fullNameCharset) + " <" + address + ">"
    }

    mutating func writeHeader(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0), newline: true) }
    }

    mutating func writeLineEnd() throws {
        try write(UnsafeRawBufferPointer(start: nil, count: 0), newline: true)
    }

    /// Writes BYTES (and a LF) to the output and enforces message_size_limit.
    mutating func write(_ bytes: UnsafeRawBufferPointer, newline: Bool) throws {
        guard rejection == nil else { return }
        messageSize += bytes.count + (newline ? 1 : 0)
        if settings.messageSizeLimit > 0 && messageSize > settings.messageSizeLimit {
            rejection = .messageTooBig
            return
        }
        try output.appendContent(bytes, newline: newline)
    }
}
