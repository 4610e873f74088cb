// The files recipient expansion reads (dotforward.c, include.c): a user's .forward file
// found along forward_path, and `:include:` files named by aliases or .forward files.
// Each is looked at and opened with the rights of the user it belongs to, checked (a
// regular file, not world-writable, a .forward owned by its user or root), and expanded
// line by line like an alias value (`#` lines are comments).
import Glibc
import Shared

extension RecipientExpander {
    /// Runs BODY with RIGHTS (as root when there are none, or they are root's).
    func asUser<T>(_ rights: Rights, _ body: () throws -> T) throws -> T {
        guard let user = rights, user.uid != 0 else { return try body() }
        return try Privileges.run(as: Identity(user), body)
    }

    /// stat(2) (or lstat(2)) of PATH as RIGHTS.
    func status(_ path: String, as rights: Rights, followLinks: Bool) -> Result<stat, SystemError> {
        do {
            return try asUser(rights) {
                var st = stat()
                let rc = followLinks ? stat(path, &st) : lstat(path, &st)
                return rc == 0 ? .success(st) : .failure(SystemError("stat \(path)"))
            }
        } catch let error as SystemError {
            return .failure(error)
        } catch {
            return .failure(SystemError("stat \(path)", code: EPERM))
        }
    }

    /// The lines of PATH, read as RIGHTS, without comment lines.
    func destinationLines(_ path: String, as rights: Rights) throws -> [String] {
        let bytes = try asUser(rights) { try FileIO.readBytes(path) }
        return bytes.split(separator: 10, omittingEmptySubsequences: true)
            .filter { $0.first != UInt8(ascii: "#") }
            .map { String(decoding: $0.last == 13 ? $0.dropLast() : $0, as: UTF8.self) }
    }

    // MARK: include.c

    /// Delivers to the destinations an `:include:` file lists.
    func deliverInclude(_ path: String, _ input: ExpansionState, rights: Rights) {
        var state = input
        state.level += 1
        if state.level > 100 {
            Log.warning(":include: nesting limit exceeded for \(path)")
            return add(state, .bounce(dsn: "5.4.6", text: ":include: nesting limit exceeded"))
        }
        guard firstVisit("include \(rights?.uid ?? 0) \(path)") else { return }
        state.expandedFrom = state.local
        let configurationError = DeliveryAction.bounce(dsn: "5.3.5", text: "mail system configuration error")
        guard path.hasPrefix("/") else {
            Log.warning(":include:\(path) uses a relative path")
            return add(state, configurationError)
        }
        let st: stat
        switch status(path, as: rights, followLinks: true) {
        case .failure(let error):
            Log.warning("unable to lookup :include: file \(path): \(errnoText(error.code))")
            return add(state, configurationError)
        case .success(let found):
            st = found
        }
        if st.st_mode & S_IFMT != S_IFREG {
            Log.warning(":include: file \(path) is not a regular file")
            return add(state, configurationError)
        }
        if st.st_mode & S_IWOTH != 0 {
            Log.warning(":include: file \(path) is world writable")
            return add(state, configurationError)
        }
        state.kind = .include
        var includeRights = rights
        if (rights?.uid ?? 0) == 0 {
            let owner: LocalUser?
            do {
                owner = try users.user(uid: st.st_uid)
            } catch {
                Log.warning("cannot find username for uid \(st.st_uid): \(error)")
                owner = nil
            }
            guard let owner else {
                Log.warning("\(path): cannot find :include: file owner username")
                return add(state, .deferral(dsn: "4.3.5", text: "mail system configuration error"))
            }
            if owner.uid != 0 { includeRights = owner }
        }
        if state.owner == nil { state.owner = state.address }
        let lines: [String]
        do {
            lines = try destinationLines(path, as: includeRights)
        } catch {
            Log.warning("cannot open include file \(path): \(errorText(error))")
            return add(state, configurationError)
        }
        for line in lines { deliverTokens(line, state, rights: includeRights) }
    }

    // MARK: dotforward.c

    /// Expands the user's .forward file; false when there is none to use (or the user
    /// is listed in it), so that mailbox delivery follows.
    func deliverDotForward(_ input: ExpansionState, rights: Rights) -> Bool {
        var state = input
        state.level += 1
        guard !settings.forwardPath.isEmpty else { return false }
        guard let user = try? users.user(named: state.user) else { return false }
        if !settings.frozenDeliveredTo { state.deliveredTo = state.address }
        state.kind = .forward
        state.owner = state.user
        var chosen: (path: String, status: stat)?
        for element in settings.forwardPath {
            let path = LocalExpansion.expand(element, attributes(state, user), filter: settings.forwardFilter)
            if path.undefined { continue }
            if case .success(let st) = status(path.text, as: user, followLinks: false) {
                chosen = (path.text, st)
                break
            }
        }
        guard let (path, st) = chosen else { return false }
        guard firstVisit("forward \(path)") else { return seen.contains("forward-done \(path)".lowercased()) }
        state.expandedFrom = state.local
        if st.st_mode & S_IFMT != S_IFREG {
            Log.warning("file \(path) is not a regular file")
            return false
        }
        if st.st_uid != 0 && st.st_uid != user.uid {
            Log.warning("file \(path) has bad owner uid \(st.st_uid)")
            return false
        }
        if st.st_mode & S_IWOTH != 0 {
            Log.warning("file \(path) is world writable")
            return false
        }
        let lines: [String]
        do {
            lines = try destinationLines(path, as: user)
        } catch {
            Log.warning("cannot open file \(path): \(errorText(error))")
            return false
        }
        var count = 0
        for line in lines { count += deliverTokens(line, state, rights: user) }
        guard count > 0 else { return false }
        _ = firstVisit("forward-done \(path)")
        return true
    }

    func errorText(_ error: Error) -> String {
        (error as? SystemError).map { errnoText($0.code) } ?? "\(error)"
    }
}
