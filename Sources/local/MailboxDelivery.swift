// mbox delivery (Postfix's mailbox.c deliver_mailbox_file, file.c, mbox_open.c,
// mail_copy.c): lock the file (dotlock, then fcntl), append `From ` line, Return-Path:,
// X-Original-To:, Delivered-To:, the `>From `-quoted message and a blank line, fsync,
// and cut the file back to its old length if anything failed. A mailbox in
// mail_spool_directory is created and locked with the rights the spool directory
// calls for (world-writable: the recipient; group-writable: the recipient with the
// directory's group; otherwise root, then chowned to the recipient); the message is
// always written as the recipient. `/file/name` destinations work the same way with the
// rights their alias or .forward file gives.
import Glibc
import Shared

/// Delivery to mbox files: mailboxes and /file/name destinations.
enum MailboxDelivery {
    /// Why an append failed: the DSN and the text after the caller's prefix.
    struct Failure: Error, Equatable {
        var dsn: String
        var text: String
    }

    /// Where and as whom to append.
    struct Target {
        var path: String
        /// Creates, opens and locks the file.
        var opener: Identity
        /// Writes the message.
        var writer: Identity
        /// The owner a file gets when the opener (root) had to create it.
        var newOwner: (uid: uid_t, gid: gid_t)?
        /// Refuse symbolic links (mailboxes); /file/name destinations may be links.
        var noFollow: Bool
        /// A missing permission for `PATH.lock` is no reason to give up (/file/name).
        var dotLockMayFail: Bool
    }

    /// An opened, locked file.
    struct Opened {
        var fd: Int32
        var dotLocked: Bool
        var status: stat
    }

    /// Delivers COPY to the mbox PATH of USER.
    static func deliverMailbox(_ copy: MessageCopy, path: String, user: LocalUser, inSpool: Bool, settings: LocalSettings) -> StepOutcome {
        let recipient = Identity(user)
        var target = Target(
            path: path, opener: recipient, writer: recipient, newOwner: nil, noFollow: true, dotLockMayFail: false)
        var spool = stat()
        if inSpool && stat(settings.mailSpoolDirectory, &spool) == 0 && spool.st_mode & S_IWOTH == 0 {
            if spool.st_mode & S_IWGRP != 0 {
                target.opener = Identity(uid: user.uid, gid: spool.st_gid, groups: recipient.groups + [spool.st_gid])
            } else {
                target.opener = Identity(uid: 0, gid: 0, groups: [])
                target.newOwner = (user.uid, user.gid)
            }
        }
        let failure = append(copy, target, settings: settings) { opened in
            if opened.status.st_mode & S_IFMT != S_IFREG {
                return Failure(dsn: "5.2.0", text: "destination \(path) is not a regular file")
            }
            if settings.strictMailboxOwnership && opened.status.st_uid != user.uid {
                Log.warning("specify \"strict_mailbox_ownership = no\" to ignore mailbox ownership mismatch")
                return Failure(dsn: "4.2.0", text: "destination \(path) is not owned by recipient")
            }
            return nil
        }
        guard let failure else { return .sent("delivered to mailbox") }
        return .failed(failure.dsn, "cannot update mailbox \(path) for user \(user.name). \(failure.text)")
    }

    /// Delivers COPY to the file PATH (not a maildir) as USER.
    static func deliverFile(_ copy: MessageCopy, path: String, user: LocalUser, settings: LocalSettings) -> StepOutcome {
        let identity = Identity(user)
        let target = Target(
            path: path, opener: identity, writer: identity, newOwner: nil, noFollow: false, dotLockMayFail: true)
        let failure = append(copy, target, settings: settings) { opened in
            opened.status.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH) != 0
                ? Failure(dsn: "5.2.0", text: "destination file is executable") : nil
        }
        guard let failure else { return .sent("delivered to file: \(path)") }
        return .failed(failure.dsn, "cannot append message to destination file \(path): \(failure.text)")
    }

    /// Opens and locks TARGET, lets CHECK refuse it, appends COPY and unlocks; nil when
    /// the message is safely in the file.
    static func append(
        _ copy: MessageCopy, _ target: Target, settings: LocalSettings, check: (Opened) -> Failure?
    ) -> Failure? {
        let lock = MailboxLock(settings: settings)
        let opened: Opened
        do {
            opened = try Privileges.run(as: target.opener) { try open(target, lock: lock, settings: settings) }
        } catch let failure as Failure {
            return failure
        } catch {
            return Failure(dsn: "4.3.0", text: "\(error)")
        }
        var failure = check(opened)
        if failure == nil {
            do {
                failure = try Privileges.run(as: target.writer) { write(copy, to: opened) }
            } catch {
                failure = Failure(dsn: "4.3.0", text: "\(error)")
            }
        }
        close(opened.fd)
        if opened.dotLocked {
            _ = try? Privileges.run(as: target.opener) { lock.dotUnlock(target.path) }
        }
        return failure
    }

    /// Done as the opener: dotlock, open (creating the file if needed), fcntl lock.
    static func open(_ target: Target, lock: MailboxLock, settings: LocalSettings) throws -> Opened {
        var dotLocked = false
        if settings.dotLock {
            if let error = lock.dotLock(target.path) {
                if error.code == EEXIST {
                    throw Failure(dsn: StepOutcome.mailboxDSN(EAGAIN, otherwise: "5.2.0"), text: "\(error)")
                }
                if !target.dotLockMayFail {
                    throw Failure(dsn: StepOutcome.mailboxDSN(error.code, otherwise: "5.2.0"), text: "\(error)")
                }
            } else {
                dotLocked = true
            }
        }
        let follow = target.noFollow ? O_NOFOLLOW : 0
        var created = true
        var fd = Glibc.open(target.path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | follow, 0o600)
        if fd < 0 && errno == EEXIST {
            created = false
            fd = Glibc.open(target.path, O_WRONLY | O_APPEND | O_CLOEXEC | follow)
        }
        var failure: Failure?
        var st = stat()
        if fd < 0 {
            failure = Failure(dsn: StepOutcome.mailboxDSN(errno, otherwise: "5.2.0"), text: "cannot open file: \(errnoText())")
        } else if created, let owner = target.newOwner, fchown(fd, owner.uid, owner.gid) != 0 {
            failure = Failure(dsn: "4.3.0", text: "cannot change ownership of \(target.path): \(errnoText())")
        } else if settings.fcntlLock, let error = lock.fcntlLock(fd) {
            failure = Failure(dsn: StepOutcome.mailboxDSN(error.code, otherwise: "5.2.0"), text: "\(error)")
        } else if fstat(fd, &st) != 0 {
            failure = Failure(dsn: "4.3.0", text: "cannot fstat \(target.path): \(errnoText())")
        }
        guard let failure else { return Opened(fd: fd, dotLocked: dotLocked, status: st) }
        if fd >= 0 { close(fd) }
        if dotLocked { lock.dotUnlock(target.path) }
        throw failure
    }

    /// Done as the writer: append, fsync a regular file, or cut it back on failure.
    static func write(_ copy: MessageCopy, to opened: Opened) -> Failure? {
        let regular = opened.status.st_mode & S_IFMT == S_IFREG
        let originalLength = regular ? lseek(opened.fd, 0, SEEK_END) : 0
        var failure: Failure?
        do {
            try copy.write { try FileIO.writeAll(opened.fd, $0) }
            if regular && fsync(opened.fd) != 0 { throw CopyError.write(SystemError("fsync")) }
        } catch CopyError.read(let error) {
            failure = Failure(dsn: "4.3.0", text: "error reading message: \(errnoText(error.code))")
        } catch CopyError.write(let error) {
            failure = Failure(
                dsn: StepOutcome.mailboxDSN(error.code, otherwise: "5.3.0"), text: "error writing message: \(errnoText(error.code))")
        } catch {
            failure = Failure(dsn: "4.3.0", text: "\(error)")
        }
        if failure != nil && regular && ftruncate(opened.fd, originalLength) != 0 {
            Log.warning("cannot truncate mailbox after a failed delivery: \(errnoText())")
        }
        return failure
    }
}
