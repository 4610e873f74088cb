// Recipient expansion as Postfix's local(8) does it (recipient.c, alias.c, token.c,
// resolve.c, indirect.c, mailbox.c, unknown.c; .forward and :include: files are in
// ExpansionFiles.swift): the local part folded to lower case and split at
// recipient_delimiter; aliases first (`user+ext`, then `user`), with owner- aliases,
// `|command`, `/file`, `:include:` and addresses; then the passwd user's .forward; then
// the mailbox (mailbox_command_maps, mailbox_command, home_mailbox, mail_spool_directory);
// then luser_relay or `unknown user`. Addresses in other domains, addresses listed in
// :include: files and local addresses under an owner- alias or a .forward file are
// handed back to qmgr. A Delivered-To: header naming a recipient is a mail loop; nesting
// deeper than 100 levels bounces. Expansion only reads (tables, passwd, files as the
// user whose rights apply); it writes nothing.
import Glibc
import Shared

/// The attributes of one level of expansion, passed by value so that a deeper level
/// never changes a shallower one (Postfix's LOCAL_STATE and DELIVER_ATTR).
struct ExpansionState {
    var level = 0
    /// The recipient as expanded so far.
    var address: String
    var sender: String
    var deliveredTo = ""
    /// Set by an owner- alias, a .forward file or an :include: file: local addresses
    /// found below it are forwarded rather than delivered directly.
    var owner: String?
    var kind: ExpansionKind?
    /// The alias or user whose expansion produced this address (an alias naming itself
    /// means the user).
    var expandedFrom: String?
    var local = ""
    var user = ""
    var addressExtension: String?
    var delimiter: String?
    var domain: String?

    init(address: String, sender: String) {
        self.address = address
        self.sender = sender
    }
}

/// Turns each recipient of a request into delivery steps, as local(8) expands it.
final class RecipientExpander {
    /// Whose rights commands and files get: a user, or nil for the mail system (root),
    /// which commands and files replace with default_privs.
    typealias Rights = LocalUser?

    let settings: LocalSettings
    let aliases: AliasMaps
    let users: UserDatabase
    /// Delivered-To: addresses of the message, lower case: the loop detector.
    let loopAddresses: Set<String>
    /// The recipient as qmgr named it first (ORIGINAL_RECIPIENT).
    var originalRecipient = ""
    /// Postfix's duplicate filter for one top-level recipient (keys folded).
    var seen: Set<String> = []
    var steps: [DeliveryStep] = []

    init(settings: LocalSettings, aliases: AliasMaps, users: UserDatabase, loopAddresses: Set<String>) {
        self.settings = settings
        self.aliases = aliases
        self.users = users
        self.loopAddresses = loopAddresses
    }

    /// The steps for the request recipient ADDRESS of a message from SENDER.
    func expand(_ address: String, original: String, sender: String) -> [DeliveryStep] {
        seen = []
        steps = []
        originalRecipient = original
        deliverRecipient(ExpansionState(address: address, sender: sender), rights: nil)
        return steps
    }

    /// Records ACTION for the recipient STATE names.
    func add(_ state: ExpansionState, _ action: DeliveryAction) {
        steps.append(DeliveryStep(recipient: state.address, sender: state.sender, deliveredTo: state.deliveredTo, action: action))
    }

    /// True the first time KEY is seen for this recipient.
    func firstVisit(_ key: String) -> Bool {
        seen.insert(key.lowercased()).inserted
    }

    /// What `$user`, `$home`… stand for at this point of the expansion.
    func attributes(_ state: ExpansionState, _ rights: Rights) -> RecipientAttributes {
        RecipientAttributes(
            user: state.user, home: rights?.home, shell: rights?.shell, domain: state.domain ?? "", local: state.local,
            recipient: state.address, addressExtension: state.addressExtension, delimiter: state.delimiter)
    }

    // MARK: recipient.c

    /// One recipient address, at any level of expansion.
    func deliverRecipient(_ input: ExpansionState, rights: Rights) {
        var state = input
        state.level += 1
        if state.level > 100 {
            Log.warning("recipient nesting limit exceeded for \(state.address)")
            return add(state, .bounce(dsn: "5.4.6", text: "recipient nesting limit exceeded"))
        }
        guard firstVisit("recipient \(state.level) \(state.address)") else { return }
        if loopAddresses.contains(AddressText.quotedLocal(state.address).lowercased()) {
            return add(state, .bounce(dsn: "5.4.6", text: "mail forwarding loop for \(state.address)"))
        }
        if state.deliveredTo.isEmpty { state.deliveredTo = state.address }
        let folded = state.address.lowercased()
        let (local, domain) = AddressText.split(folded)
        if folded.contains("@") {
            state.domain = String(domain)
        } else {
            Log.warning("no @ in recipient address: \(folded)")
            state.domain = nil
        }
        let split = AddressText.splitExtension(String(local), delimiters: settings.recipientDelimiter)
        state.local = String(local)
        state.user = split.user
        state.addressExtension = split.addressExtension
        state.delimiter = split.delimiter
        if let ext = split.addressExtension, ext.contains("/") {
            Log.warning("address with illegal extension: \(state.local)")
            state.addressExtension = nil
            state.delimiter = nil
            state.local = split.user
        }
        if state.user.isEmpty {
            return add(state, .bounce(dsn: "5.1.3", text: "null username in \"\(state.address)\""))
        }
        deliverSwitch(state, rights: rights)
    }

    /// Alias, then forwarding, then .forward, mailbox, unknown user.
    func deliverSwitch(_ input: ExpansionState, rights: Rights) {
        var state = input
        state.level += 1
        if state.user.hasPrefix("\\") {
            state.address.removeFirst()
            state.local.removeFirst()
            state.user.removeFirst()
            if !deliverMailbox(state, rights: rights) { deliverUnknown(state, rights: rights) }
            return
        }
        if deliverAlias(state, rights: rights, name: state.local) { return }
        if state.addressExtension != nil && deliverAlias(state, rights: rights, name: state.user) { return }
        if let owner = state.owner, owner.lowercased() != state.user { return deliverIndirect(state) }
        if state.kind == .include { return deliverIndirect(state) }
        if !deliverDotForward(state, rights: rights) && !deliverMailbox(state, rights: rights) {
            deliverUnknown(state, rights: rights)
        }
    }

    // MARK: alias.c

    /// Expands NAME when it is an alias; false when it is not (or names itself).
    func deliverAlias(_ input: ExpansionState, rights: Rights, name: String) -> Bool {
        var state = input
        state.level += 1
        if let from = state.expandedFrom, from.lowercased() == name { return false }
        if state.level > 100 {
            Log.warning("alias database loop for \(name)")
            add(state, .bounce(dsn: "5.4.6", text: "alias database loop for \(name)"))
            return true
        }
        state.expandedFrom = name
        let found: AliasEntryFound
        do {
            guard let entry = try aliases.lookup(name) else { return false }
            found = entry
        } catch {
            Log.warning("\(name): alias lookup failed: \(error)")
            add(state, .deferral(dsn: "4.3.0", text: "alias database unavailable"))
            return true
        }
        state.kind = .alias
        var aliasRights: Rights = nil
        if found.owner != 0 {
            do {
                aliasRights = try users.user(uid: found.owner)
            } catch {
                Log.warning("cannot find alias database owner for \(found.table): \(error)")
            }
            if aliasRights == nil {
                Log.warning("cannot find alias database owner for \(found.table)")
                add(state, .deferral(dsn: "4.3.0", text: "cannot find alias database owner"))
                return true
            }
        }
        do {
            if settings.ownerRequestSpecial, let ownerEntry = try aliases.lookup("owner-" + name) {
                let owner = AddressText.canonical(
                    settings.expandOwnerAlias ? ownerEntry.value : "owner-" + name, origin: settings.myOrigin)
                state.owner = owner
                state.sender = owner
            } else if settings.resetOwnerAlias {
                state.owner = nil
            }
        } catch {
            Log.warning("owner-\(name): alias lookup failed: \(error)")
            add(state, .deferral(dsn: "4.3.0", text: "alias database unavailable"))
            return true
        }
        if !settings.frozenDeliveredTo { state.deliveredTo = state.address }
        if deliverTokens(found.value, state, rights: aliasRights) < 1 {
            Log.warning("no recipient in alias lookup result for \(name)")
            add(state, .deferral(dsn: "4.3.0", text: "alias database unavailable"))
        }
        return true
    }

    // MARK: token.c and resolve.c

    /// Delivers to every destination TEXT lists (alias value, .forward or :include:
    /// line); returns how many it listed.
    @discardableResult
    func deliverTokens(_ text: String, _ state: ExpansionState, rights: Rights) -> Int {
        let destinations = AliasFile.destinations(text)
        for destination in destinations { deliverToken(destination, state, rights: rights) }
        return destinations.count
    }

    /// One destination of an alias value or of a .forward or :include: line.
    func deliverToken(_ destination: AliasDestination, _ state: ExpansionState, rights: Rights) {
        switch destination {
        case .file(let path):
            deliverFile(path, state, rights: rights)
        case .command(let command):
            guard let kind = state.kind, settings.commandsFrom.contains(kind) else {
                return add(state, .bounce(dsn: "5.7.1", text: "mail to command is restricted"))
            }
            deliverCommand(command, state, rights: rights)
        case .include(let path):
            deliverInclude(path, state, rights: rights)
        case .address(let address):
            if address.hasPrefix("~") { return deliverHome(address, state, rights: rights) }
            resolve(address, state, rights: rights)
        }
    }

    /// `~/path`: a file in the home directory of the user whose rights apply.
    func deliverHome(_ token: String, _ state: ExpansionState, rights: Rights) {
        guard token.hasPrefix("~/") else {
            return add(state, .bounce(dsn: "5.3.5", text: "bad home directory syntax for: \(token)"))
        }
        guard let home = rights?.home else {
            return add(state, .bounce(dsn: "5.3.5", text: "unknown home directory for: \(token)"))
        }
        let rest = token.dropFirst()
        deliverFile(home == "/" ? String(rest) : home + rest, state, rights: rights)
    }

    /// An address found while expanding: delivered here when its domain is local,
    /// otherwise handed back to qmgr.
    func resolve(_ address: String, _ input: ExpansionState, rights: Rights) {
        var state = input
        state.level += 1
        state.address = AddressText.canonical(address, origin: settings.myOrigin)
        let domain = AddressText.split(state.address).domain.lowercased()
        let isLocal: Bool
        do {
            isLocal = try settings.isLocal(domain: domain)
        } catch {
            Log.warning("mydestination lookup for \(domain) failed: \(error)")
            return add(state, .deferral(dsn: "4.3.0", text: "address resolver failure"))
        }
        if isLocal {
            deliverRecipient(state, rights: rights)
        } else {
            deliverIndirect(state)
        }
    }

    /// Hands the recipient back to qmgr, once.
    func deliverIndirect(_ state: ExpansionState) {
        guard firstVisit("indirect \(state.address)") else { return }
        add(state, .forward)
    }

    // MARK: mailbox.c

    /// Delivers to the user's mailbox; false when there is no such user.
    func deliverMailbox(_ input: ExpansionState, rights: Rights) -> Bool {
        var state = input
        state.level += 1
        guard firstVisit("mailbox \(state.local)") else { return true }
        let found: LocalUser?
        do {
            found = try users.user(named: state.user)
        } catch {
            Log.warning("error looking up passwd info for \(state.user): \(error)")
            add(state, .deferral(dsn: "4.0.0", text: "user lookup error"))
            return true
        }
        guard let user = found else { return false }
        if !settings.frozenDeliveredTo { state.deliveredTo = state.address }
        if !settings.mailboxCommandMaps.isEmpty {
            var flags = TableFlags.standard
            flags.regexSubstitution = false
            do {
                if let command = try TableRegistry.openList(settings.mailboxCommandMaps, flags: flags).lookup(state.user) {
                    deliverCommand(command, state, rights: user)
                    return true
                }
            } catch {
                Log.warning("mailbox_command_maps lookup for \(state.user) failed: \(error)")
                add(state, .deferral(dsn: "4.3.0", text: "table lookup failure"))
                return true
            }
        }
        if !settings.mailboxCommand.isEmpty {
            let command = LocalExpansion.expand(settings.mailboxCommand, attributes(state, user), filter: settings.commandFilter)
            deliverCommand(command.text, state, rights: user)
        } else if settings.homeMailbox.hasSuffix("/") {
            add(state, .maildir(path: user.home + "/" + settings.homeMailbox, user: user))
        } else if settings.mailSpoolDirectory.hasSuffix("/") {
            add(state, .maildir(path: settings.mailSpoolDirectory + state.user + "/", user: user))
        } else if !settings.homeMailbox.isEmpty {
            add(state, .mailbox(path: user.home + "/" + settings.homeMailbox, user: user, inSpool: false))
        } else {
            add(state, .mailbox(path: settings.mailSpoolDirectory + "/" + state.user, user: user, inSpool: true))
        }
        return true
    }

    // MARK: unknown.c

    /// No alias, no user: luser_relay, a discarded postmaster, or a bounce.
    func deliverUnknown(_ input: ExpansionState, rights: Rights) {
        var state = input
        state.level += 1
        guard firstVisit("deliver_unknown \(state.local)") else { return }
        if !settings.luserRelay.isEmpty {
            let relay = LocalExpansion.expand(settings.luserRelay, attributes(state, rights), filter: nil)
            return resolve(relay.text, state, rights: rights)
        }
        if state.user == "mailer-daemon" || state.user == "postmaster" {
            Log.warning("required alias not found: \(state.user)")
            return add(state, .sent(dsn: "2.0.0", text: "discarded"))
        }
        add(state, .bounce(dsn: "5.1.1", text: "unknown user: \"\(state.user)\""))
    }

    // MARK: file.c and command.c

    /// The rights files and commands get when the expansion's are root's.
    func unprivileged(_ rights: Rights, _ state: ExpansionState) -> LocalUser? {
        if let user = rights, user.uid != 0 { return user }
        do {
            if let user = try users.user(named: settings.defaultPrivs), user.uid != 0 { return user }
            Log.warning("default_privs user \(settings.defaultPrivs) is unknown or privileged")
        } catch {
            Log.warning("cannot look up default_privs user \(settings.defaultPrivs): \(error)")
        }
        add(state, .deferral(dsn: "4.3.5", text: "mail system configuration error"))
        return nil
    }

    /// `/file/name` (or `/maildir/`), when the expansion kind allows files.
    func deliverFile(_ path: String, _ input: ExpansionState, rights: Rights) {
        var state = input
        state.level += 1
        guard firstVisit("file \(rights?.uid ?? 0) \(path)") else { return }
        guard let kind = state.kind, settings.filesFrom.contains(kind) else {
            return add(state, .bounce(dsn: "5.7.1", text: "mail to file is restricted"))
        }
        guard let user = unprivileged(rights, state) else { return }
        add(state, path.hasSuffix("/") ? .maildir(path: path, user: user) : .file(path: path, user: user))
    }

    /// `|command`, once per user, uid and command.
    func deliverCommand(_ command: String, _ input: ExpansionState, rights: Rights) {
        var state = input
        state.level += 1
        guard firstVisit("command \(state.user):\(rights?.uid ?? 0) \(command)") else { return }
        guard let user = unprivileged(rights, state) else { return }
        add(state, .command(command, user: user, environment: commandEnvironment(state, rights)))
    }

    /// What a command finds in its environment (command.c): the exported variables,
    /// PATH, and the recipient's attributes with disallowed characters replaced by `_`.
    func commandEnvironment(_ state: ExpansionState, _ rights: Rights) -> [String] {
        var pairs: [(String, String)] = []
        if let home = rights?.home { pairs.append(("HOME", home)) }
        pairs += [("LOGNAME", state.user), ("USER", state.user), ("SENDER", state.sender), ("RECIPIENT", state.address),
                  ("LOCAL", state.local)]
        if let shell = rights?.shell { pairs.append(("SHELL", shell)) }
        if let domain = state.domain { pairs.append(("DOMAIN", domain)) }
        if let ext = state.addressExtension { pairs.append(("EXTENSION", ext)) }
        if !originalRecipient.isEmpty { pairs.append(("ORIGINAL_RECIPIENT", originalRecipient)) }
        var environment: [String] = []
        for name in settings.exportEnvironment {
            if let value = ThisProcess.environment(name) { environment.append(name + "=" + value) }
        }
        environment.append("PATH=/usr/bin:/bin")
        for (name, value) in pairs {
            let censored = value.utf8.map { settings.commandFilter.contains($0) ? $0 : UInt8(ascii: "_") }
            environment.append(name + "=" + String(decoding: censored, as: UTF8.self))
        }
        return environment
    }
}
