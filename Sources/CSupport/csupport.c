/* CSupport: implementations of the GNU-only calls listed in CSupport.h. */
#define _GNU_SOURCE
#include "CSupport.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>

int postern_spawn(const char *path, char *const argv[], char *const envp[],
                  const int *fds, int nfds, int first_target, const int stdio[3],
                  int new_session, pid_t *pid) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int high[64], nhigh = 0, rc, i, top = first_target + nfds;
    if (nfds > 60) return EINVAL;
    if (top < 3) top = 3;
    /* Move every source out of the way first so that targets cannot collide with sources. */
    for (i = 0; i < nfds; i++) {
        high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 200);
        if (high[i] < 0) { rc = errno; goto undo; }
        nhigh++;
    }
    int hstd[3] = {-1, -1, -1};
    for (i = 0; i < 3; i++) {
        if (stdio && stdio[i] >= 0) {
            hstd[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 200);
            if (hstd[i] < 0) { rc = errno; goto undo_std; }
        }
    }
    posix_spawn_file_actions_init(&fa);
    for (i = 0; i < 3; i++)
        if (hstd[i] >= 0) posix_spawn_file_actions_adddup2(&fa, hstd[i], i);
    for (i = 0; i < nfds; i++) posix_spawn_file_actions_adddup2(&fa, high[i], first_target + i);
    posix_spawn_file_actions_addclosefrom_np(&fa, top);
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (new_session) flags |= POSIX_SPAWN_SETSID;
    posix_spawnattr_setflags(&attr, flags);
    rc = posix_spawn(pid, path, &fa, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
undo_std:
    for (i = 0; i < 3; i++) if (hstd[i] >= 0) close(hstd[i]);
undo:
    for (i = 0; i < nhigh; i++) close(high[i]);
    return rc;
}

int postern_accept4(int fd, int flags) { return accept4(fd, NULL, NULL, flags); }
int postern_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
int postern_setresuid(uid_t r, uid_t e, uid_t s) { return setresuid(r, e, s); }
int postern_setresgid(gid_t r, gid_t e, gid_t s) { return setresgid(r, e, s); }
int postern_initgroups(const char *user, gid_t group) { return initgroups(user, group); }

int postern_set_nonblock(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

int postern_set_cloexec(int fd, int on) {
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFD, on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC));
}

int postern_fcntl_lock(int fd, int exclusive, int wait) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
    fl.l_whence = SEEK_SET;
    return fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl);
}

int postern_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }

int postern_sigfillset_block(void) {
    sigset_t all;
    sigfillset(&all);
    return sigprocmask(SIG_BLOCK, &all, NULL);
}

int postern_signalfd_for(const int *sigs, int nsigs) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < nsigs; i++) sigaddset(&set, sigs[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int postern_ignore_signal(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    return sigaction(sig, &sa, NULL);
}

int postern_open(const char *path, int flags, int mode) { return open(path, flags, mode); }

int postern_open_directory_path(const char *path) { return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC); }

int postern_ioctl_fionread(int fd) {
    int n = 0;
    if (ioctl(fd, FIONREAD, &n) < 0) return -1;
    return n;
}

int postern_errno(void) { return errno; }
void postern_set_errno(int e) { errno = e; }

int postern_peer_uid(int fd, uid_t *uid) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return -1;
    *uid = cred.uid;
    return 0;
}

int postern_open_tmpfile(int dirfd, int mode) {
    return openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
}

int postern_link_tmpfile(int fd, int dirfd, const char *name) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW);
}
