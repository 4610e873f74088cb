// Maildir delivery (Postfix's maildir.c and the Maildir rules), done as the recipient
// so that files and folders are theirs: create the file in `tmp/` (unnamed with O_TMPFILE
// where the file system allows, else `tmp/<sec>.P<pid>.<host>` with O_EXCL; mode 0600;
// `tmp/` and missing parents created 0700), write Return-Path:, X-Original-To:,
// Delivered-To: and the message, link it to `new/<sec>.V<dev hex>I<inode hex>M<usec>.<host>`
// (creating `new/` and `cur/`), fsync the file (on journalling file systems that one
// fsync makes the data and the new name durable together; the parent of every folder just
// created is synced too), and unlink a tmp name. Only then is the delivery done.
import CSupport
import Glibc
import Shared

/// Delivery into a maildir.
enum MaildirDelivery {
    /// Writes COPY into the maildir PATH as USER; HOSTNAME ends the file names.
    static func deliver(_ copy: MessageCopy, to path: String, as user: LocalUser, hostName: String) -> StepOutcome {
        var start = timeval()
        gettimeofday(&start, nil)
        let maildir = path.hasSuffix("/") ? path : path + "/"
        let outcome: StepOutcome
        do {
            outcome = try Privileges.run(as: Identity(user)) {
                store(copy, maildir: maildir, start: start, hostName: hostName)
            }
        } catch {
            return .failed("4.3.0", "maildir delivery failed: \(error)")
        }
        if outcome.status != .sent && outcome.text.contains(errnoText(EACCES)) {
            Log.warning("maildir access problem for UID/GID=\(user.uid)/\(user.gid): \(outcome.text)")
            Log.warning("perhaps you need to create the maildirs in advance")
        }
        return outcome
    }

    /// The work done as the recipient.
    static func store(_ copy: MessageCopy, maildir: String, start: timeval, hostName: String) -> StepOutcome {
        var created: [String] = []
        let tmpName = maildir + "tmp/\(start.tv_sec).P\(getpid()).\(hostName)"
        // An unnamed file in tmp/ (O_TMPFILE) where the file system has them: a crash leaves
        // nothing behind, and the delivery changes one directory (new/) instead of three.
        var named = false
        var fd = unnamedFile(in: maildir + "tmp")
        if fd == -2 {
            let failed = makeDirectories(maildir + "tmp", created: &created)
            if failed != 0 { return failure("create maildir file \(tmpName)", failed, otherwise: "5.2.0") }
            fd = unnamedFile(in: maildir + "tmp")
        }
        if fd < 0 {
            named = true
            fd = open(tmpName, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        }
        guard fd >= 0 else { return failure("create maildir file \(tmpName)", errno, otherwise: "5.2.0") }
        defer {
            if named && unlink(tmpName) != 0 && errno != ENOENT { Log.warning("remove \(tmpName): \(errnoText())") }
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let code = errno
            close(fd)
            return failure("fstat \(tmpName)", code, otherwise: "4.3.0")
        }
        let device = String(UInt64(st.st_dev), radix: 16)
        let inode = String(UInt64(st.st_ino), radix: 16)
        let newName = maildir + "new/\(start.tv_sec).V\(device)I\(inode)M\(start.tv_usec).\(hostName)"
        if let failed = write(copy, fd: fd) { return failed }
        let linkNew = { named ? link(tmpName, newName) : postern_link_tmpfile(fd, AT_FDCWD, newName) }
        if linkNew() != 0 {
            guard errno == ENOENT else {
                let code = errno
                close(fd)
                return failure("create maildir file \(newName)", code, otherwise: "5.2.0")
            }
            _ = makeDirectories(maildir + "cur", created: &created)
            let failed = makeDirectories(maildir + "new", created: &created)
            if failed != 0 {
                close(fd)
                return failure("create maildir file \(newName)", failed, otherwise: "5.2.0")
            }
            guard linkNew() == 0 else {
                let code = errno
                close(fd)
                return failure("create maildir file \(newName)", code, otherwise: "5.2.0")
            }
        }
        // One fsync after the link: it writes the data and, with it, the journal that holds
        // the new directory entries (ext4, xfs), so no separate directory fsync is needed.
        guard fsync(fd) == 0 else {
            let code = errno
            close(fd)
            unlink(newName)
            return failure("error writing message", code, otherwise: "5.3.0")
        }
        guard close(fd) == 0 else { return failure("error writing message", errno, otherwise: "5.3.0") }
        for directory in created { FileIO.syncDirectory(parent(of: directory)) }
        return .sent("delivered to maildir")
    }

    /// An unnamed file (mode 0600) in DIRECTORY; -2 when DIRECTORY does not exist, -1
    /// when unnamed files cannot be made there (the caller then uses a named tmp file).
    static func unnamedFile(in directory: String) -> Int32 {
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { return errno == ENOENT ? -2 : -1 }
        defer { close(dirfd) }
        let fd = postern_open_tmpfile(dirfd, 0o600)
        return fd >= 0 ? fd : -1
    }

    /// Writes the message to FD; the outcome when that failed (FD then closed).
    static func write(_ copy: MessageCopy, fd: Int32) -> StepOutcome? {
        do {
            try copy.write { try FileIO.writeAll(fd, $0) }
        } catch CopyError.read(let error) {
            close(fd)
            return .failed("4.3.0", "maildir delivery failed: error reading message: \(errnoText(error.code))")
        } catch CopyError.write(let error) {
            close(fd)
            return failure("error writing message", error.code, otherwise: "5.3.0")
        } catch {
            close(fd)
            return .failed("4.3.0", "maildir delivery failed: \(error)")
        }
        return nil
    }

    static func failure(_ what: String, _ code: Int32, otherwise: String) -> StepOutcome {
        .failed(StepOutcome.mailboxDSN(code, otherwise: otherwise), "maildir delivery failed: \(what): \(errnoText(code))")
    }

    /// Creates PATH and its missing parents with mode 0700 (make_dirs), adding each
    /// folder it creates to CREATED, outermost first; 0, or the errno of the failure.
    static func makeDirectories(_ path: String, created: inout [String]) -> Int32 {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o700) == 0 {
                created.append(current)
            } else if errno != EEXIST {
                return errno
            }
        }
        return 0
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
