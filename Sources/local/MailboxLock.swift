// Exclusive access to an mbox file while a message is appended (Postfix's dot_lockfile.c
// and myflock.c, as mbox_open uses them): a `PATH.lock` file created with O_EXCL and
// removed afterwards, and an fcntl write lock on the open file. Both are tried
// deliver_lock_attempts times, deliver_lock_delay seconds apart; a `.lock` file older
// than stale_lock_time is removed as stale. Failing to get a lock is a temporary failure.
import Glibc
import Shared

/// The locking settings for mbox files, and the two locks.
struct MailboxLock {
    var attempts: Int
    var delay: Int
    var staleTime: Int

    /// deliver_lock_attempts, deliver_lock_delay and stale_lock_time from SETTINGS.
    init(settings: LocalSettings) {
        attempts = settings.lockAttempts
        delay = settings.lockDelay
        staleTime = settings.staleLockTime
    }

    /// Creates `PATH.lock`; the error when it could not (EEXIST: someone holds it).
    func dotLock(_ path: String) -> SystemError? {
        let lockName = path + ".lock"
        var count = 1
        while true {
            let fd = open(lockName, O_WRONLY | O_EXCL | O_CREAT | O_CLOEXEC, 0)
            if fd >= 0 {
                close(fd)
                return nil
            }
            let code = errno
            if code != EEXIST || count >= attempts {
                return SystemError("unable to create lock file \(lockName)", code: code)
            }
            count += 1
            var st = stat()
            if stat(lockName, &st) == 0 && time(nil) > Int(st.st_ctim.tv_sec) + staleTime {
                if unlink(lockName) != 0 && errno != ENOENT {
                    return SystemError("remove stale lock file \(lockName)", code: errno)
                }
                continue
            }
            sleep(UInt32(max(0, delay)))
        }
    }

    /// Removes `PATH.lock`.
    func dotUnlock(_ path: String) {
        if unlink(path + ".lock") != 0 { Log.warning("remove \(path).lock: \(errnoText())") }
    }

    /// Takes an fcntl write lock on all of FD.
    func fcntlLock(_ fd: Int32) -> SystemError? {
        var count = 1
        while true {
            var request = flock()
            request.l_type = Int16(F_WRLCK)
            request.l_whence = Int16(SEEK_SET)
            if fcntl(fd, F_SETLK, &request) == 0 { return nil }
            let code = errno
            if (code != EAGAIN && code != EACCES) || count >= attempts {
                return SystemError("unable to lock for exclusive access", code: code == EACCES ? EAGAIN : code)
            }
            count += 1
            sleep(UInt32(max(0, delay)))
        }
    }
}
