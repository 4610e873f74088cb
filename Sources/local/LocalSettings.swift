// The main.cf parameters local(8) works with, read once at start-up (local.c main and
// local_mask_init): where mailboxes live, how recipients are expanded, which expansions
// may deliver to commands and files, and how mailboxes are locked. forward_path,
// mailbox_command and luser_relay stay raw: their `$name`s are the recipient's
// attributes, expanded per delivery (LocalExpansion).
import Shared

/// Where a recipient came from while aliases, .forward files and :include: files are
/// expanded (Postfix's EXPAND_TYPE_*): it decides whether commands and files are allowed.
enum ExpansionKind: String {
    case alias
    case forward
    case include
}

/// The deliveries that prepend a Delivered-To: header (`prepend_delivered_header`).
enum DeliveredHeaderUse: String {
    case command
    case file
    case forward
}

/// The parameters local(8) uses, each field named after its main.cf parameter
/// (alias_maps → aliasMaps, allow_mail_to_commands → commandsFrom,
/// prepend_delivered_header → deliveredHeader, mailbox_delivery_lock → dotLock/fcntlLock,
/// deliver_lock_attempts/delay → lockAttempts/lockDelay).
struct LocalSettings {
    var aliasMaps: String
    var homeMailbox: String
    var mailSpoolDirectory: String
    var recipientDelimiter: String
    /// The forward_path elements, unexpanded.
    var forwardPath: [String]
    var commandsFrom: Set<ExpansionKind>
    var filesFrom: Set<ExpansionKind>
    var deliveredHeader: Set<DeliveredHeaderUse>
    var defaultPrivs: String
    var commandTimeLimit: Int
    var mailboxCommand: String
    var mailboxCommandMaps: String
    var luserRelay: String
    var ownerRequestSpecial: Bool
    var expandOwnerAlias: Bool
    var resetOwnerAlias: Bool
    var frozenDeliveredTo: Bool
    var enableOriginalRecipient: Bool
    var myOrigin: String
    var localDomains: DomainList
    var exportEnvironment: [String]
    var commandShell: String
    var commandFilter: Set<UInt8>
    var forwardFilter: Set<UInt8>
    var dotLock: Bool
    var fcntlLock: Bool
    var lockAttempts: Int
    var lockDelay: Int
    var staleLockTime: Int
    var strictMailboxOwnership: Bool
    /// gethostname(2), the right-hand part of maildir file names.
    var hostName: String

    /// Reads CONFIG; a value local cannot use is a `ConfigError` naming the parameter.
    init(_ config: MainConfig) throws {
        aliasMaps = config.value("alias_maps")
        homeMailbox = config.value("home_mailbox")
        mailSpoolDirectory = config.value("mail_spool_directory")
        recipientDelimiter = config.value("recipient_delimiter")
        forwardPath = splitList(config.raw("forward_path") ?? "")
        commandsFrom = try LocalSettings.mask("allow_mail_to_commands", config)
        filesFrom = try LocalSettings.mask("allow_mail_to_files", config)
        deliveredHeader = try LocalSettings.mask("prepend_delivered_header", config)
        defaultPrivs = config.value("default_privs")
        commandTimeLimit = config.seconds("command_time_limit")
        mailboxCommand = config.raw("mailbox_command") ?? ""
        mailboxCommandMaps = config.value("mailbox_command_maps")
        luserRelay = config.raw("luser_relay") ?? ""
        ownerRequestSpecial = config.bool("owner_request_special")
        expandOwnerAlias = config.bool("expand_owner_alias")
        resetOwnerAlias = config.bool("reset_owner_alias")
        frozenDeliveredTo = config.bool("frozen_delivered_to")
        enableOriginalRecipient = config.bool("enable_original_recipient")
        myOrigin = config.value("myorigin").asciiLowercased
        localDomains = DomainList(parameter: "mydestination", config: config)
        localDomains.tableLookup = { spec, domain in try TableRegistry.open(spec).lookup(domain) != nil }
        exportEnvironment = config.list("export_environment")
        commandShell = config.value("local_command_shell")
        commandFilter = Set(config.value("command_expansion_filter").utf8)
        forwardFilter = Set(config.value("forward_expansion_filter").utf8)
        let locks = config.list("mailbox_delivery_lock")
        for method in locks where method != "fcntl" && method != "dotlock" {
            throw ConfigError("\(config.origin("mailbox_delivery_lock")): unsupported mailbox_delivery_lock value \"\(method)\"")
        }
        dotLock = locks.contains("dotlock")
        fcntlLock = locks.contains("fcntl")
        if !dotLock && !fcntlLock {
            throw ConfigError("parameter mailbox_delivery_lock specifies no applicable mailbox locking method")
        }
        lockAttempts = max(1, config.int("deliver_lock_attempts"))
        lockDelay = config.seconds("deliver_lock_delay")
        staleLockTime = config.seconds("stale_lock_time")
        strictMailboxOwnership = config.bool("strict_mailbox_ownership")
        hostName = ThisProcess.hostName
    }

    /// The names listed in parameter NAME, each one of T's cases.
    static func mask<T: RawRepresentable & Hashable>(_ name: String, _ config: MainConfig) throws -> Set<T> where T.RawValue == String {
        var result: Set<T> = []
        for word in config.list(name) {
            guard let value = T(rawValue: word.asciiLowercased) else {
                throw ConfigError("\(config.origin(name)): unknown \(name) value \"\(word)\" in \"\(config.value(name))\"")
            }
            result.insert(value)
        }
        return result
    }

    /// Whether DOMAIN (lower case) is one of mydestination's; a table failure throws.
    func isLocal(domain: String) throws -> Bool {
        try localDomains.contains(domain)
    }
}
