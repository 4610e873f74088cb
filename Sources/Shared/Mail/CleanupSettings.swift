// What in-process cleanup needs to know: the main.cf settings it honours (read once per
// process) and the facts of one message (queue ID, times, sender, whether the client may
// get missing headers added, its Received: header). Also cleanup's refusals with the
// replies Postfix's smtpd gives for them.

/// Cleanup's configuration, from main.cf.
public struct CleanupSettings {
    /// myhostname: the domain of generated Message-Ids and the `by` of Received:.
    public let myhostname: String
    /// mail_name: the parenthesised word in Received:.
    public let mailName: String
    /// header_size_limit: continuation lines of a header that has reached this many bytes
    /// are discarded.
    public let headerSizeLimit: Int
    /// hopcount_limit: this many Received: headers (ours included) refuse the message.
    public let hopcountLimit: Int
    /// message_size_limit (0 = none): content bytes beyond it refuse the message. pickup
    /// turns it off: postdrop already held the user's content to it.
    public var messageSizeLimit: Int
    /// always_add_missing_headers.
    public let alwaysAddMissingHeaders: Bool
    /// undisclosed_recipients_header: added when there is no To:/Cc: (if set).
    public let undisclosedRecipientsHeader: String
    /// header_from_format = obsolete: `From: address (Full Name)` instead of
    /// `From: Full Name <address>`.
    public let obsoleteFromFormat: Bool
    /// The charset named in RFC 2047 encoded full names.
    public let fullNameCharset: String
    /// enable_long_queue_ids: generated Message-Ids are then `<QUEUEID@myhostname>`.
    public let longQueueIDs: Bool
    let headers: HeaderTable
    /// delay_warning_time in seconds (0 = no delay warnings): the sender is told once
    /// when a message is still queued this long after its arrival.
    public var delayWarningTime = 0

    /// When the delay warning of a message that arrived at ARRIVAL is due (0 = never).
    public func warningTime(arrival: Int) -> Int { delayWarningTime > 0 ? arrival + delayWarningTime : 0 }

    /// Settings with Postfix's defaults where not given.
    public init(myhostname: String, mailName: String = "Postern", headerSizeLimit: Int = 102_400,
                hopcountLimit: Int = 50, messageSizeLimit: Int = 10_240_000,
                dropHeaders: [String] = ["bcc", "content-length", "resent-bcc", "return-path"],
                alwaysAddMissingHeaders: Bool = false, undisclosedRecipientsHeader: String = "",
                obsoleteFromFormat: Bool = false, fullNameCharset: String = "utf-8", longQueueIDs: Bool = false) {
        self.myhostname = myhostname
        self.mailName = mailName
        self.headerSizeLimit = headerSizeLimit
        self.hopcountLimit = hopcountLimit
        self.messageSizeLimit = messageSizeLimit
        self.alwaysAddMissingHeaders = alwaysAddMissingHeaders
        self.undisclosedRecipientsHeader = undisclosedRecipientsHeader
        self.obsoleteFromFormat = obsoleteFromFormat
        self.fullNameCharset = fullNameCharset
        self.longQueueIDs = longQueueIDs
        headers = HeaderTable(dropHeaders: dropHeaders)
    }

    /// The settings of CONFIG.
    public init(config: MainConfig) {
        self.init(myhostname: config.value("myhostname"), mailName: config.value("mail_name"),
                  headerSizeLimit: config.int("header_size_limit"), hopcountLimit: config.int("hopcount_limit"),
                  messageSizeLimit: config.int("message_size_limit"), dropHeaders: config.list("message_drop_headers"),
                  alwaysAddMissingHeaders: config.bool("always_add_missing_headers"),
                  undisclosedRecipientsHeader: config.value("undisclosed_recipients_header"),
                  obsoleteFromFormat: config.value("header_from_format").asciiLowercased == "obsolete",
                  fullNameCharset: config.value("full_name_encoding_charset").isEmpty
                      ? "utf-8" : config.value("full_name_encoding_charset"),
                  longQueueIDs: config.bool("enable_long_queue_ids"))
        delayWarningTime = config.seconds("delay_warning_time")
    }
}

/// The facts of one message that cleanup writes into its headers.
public struct CleanupMessage {
    /// The queue ID (in the Received: header and a generated Message-Id).
    public var queueID: String
    /// When the queue file was created, seconds since the epoch (a generated Message-Id's
    /// UTC time stamp).
    public var queueFileTime: Int
    /// When the message arrived, seconds since the epoch (a generated Date:).
    public var arrivalTime: Int
    /// The envelope sender, fully qualified; "" for `<>` (From: then says MAILER-DAEMON).
    public var sender: String
    /// The sender's full name (sendmail -F, GECOS) for a generated From:.
    public var fullName: String?
    /// Whether missing Message-Id:, Date:, From: (and To:) may be added: the client
    /// matches local_header_rewrite_clients (always_add_missing_headers adds them anyway).
    public var addMissingHeaders: Bool
    /// The Received: header to put first (see ReceivedHeader), lines joined with LF.
    public var receivedHeader: String

    /// The facts of one message.
    public init(queueID: String, queueFileTime: Int, arrivalTime: Int, sender: String, fullName: String? = nil,
                addMissingHeaders: Bool, receivedHeader: String) {
        self.queueID = queueID
        self.queueFileTime = queueFileTime
        self.arrivalTime = arrivalTime
        self.sender = sender
        self.fullName = fullName
        self.addMissingHeaders = addMissingHeaders
        self.receivedHeader = receivedHeader
    }
}

/// Why cleanup refused a message. The queue file must then be aborted and the client
/// given the reply below (at the end of DATA).
public enum CleanupRejection: Equatable {
    /// hopcount_limit reached: a mail loop.
    case tooManyHops
    /// message_size_limit exceeded.
    case messageTooBig

    /// The SMTP reply code Postfix's smtpd gives.
    public var smtpCode: Int {
        switch self {
        case .tooManyHops: return 554
        case .messageTooBig: return 552
        }
    }

    /// The enhanced status code.
    public var dsn: String {
        switch self {
        case .tooManyHops: return "5.4.0"
        case .messageTooBig: return "5.3.4"
        }
    }

    /// The reply text after the enhanced status code.
    public var text: String {
        switch self {
        case .tooManyHops: return "Error: too many hops"
        case .messageTooBig: return "Error: message file too big"
        }
    }
}
