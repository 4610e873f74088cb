/* CSupport: the few C calls Swift's Glibc module lacks (GNU-only functions and macros).
 * Never define _GNU_SOURCE here: this header is imported by Swift. */
#ifndef POSTERN_CSUPPORT_H
#define POSTERN_CSUPPORT_H
#include <sys/types.h>
#include <sys/signalfd.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdint.h>

/* Spawns PATH with ARGV/ENVP. The child gets FDS[i] as descriptor FIRST_TARGET + i,
 * stdin/stdout/stderr as STDIO[0..2] (-1 = keep ours), and no other descriptor.
 * Signal mask emptied and dispositions reset. NEW_SESSION != 0 calls setsid().
 * Returns 0 and sets *PID, or an errno value. */
int postern_spawn(const char *path, char *const argv[], char *const envp[],
                  const int *fds, int nfds, int first_target, const int stdio[3],
                  int new_session, pid_t *pid);

int postern_accept4(int fd, int flags);
int postern_pipe2(int fds[2], int flags);
int postern_setresuid(uid_t r, uid_t e, uid_t s);
int postern_setresgid(gid_t r, gid_t e, gid_t s);
int postern_initgroups(const char *user, gid_t group);
int postern_set_nonblock(int fd, int on);
int postern_set_cloexec(int fd, int on);
int postern_fcntl_lock(int fd, int exclusive, int wait);
int postern_set_pdeathsig(int sig);
int postern_sigfillset_block(void);
int postern_signalfd_for(const int *sigs, int nsigs);
int postern_ignore_signal(int sig);
int postern_open(const char *path, int flags, int mode);
/* A directory opened with O_PATH: usable with openat/renameat in a directory the caller
   may write into but not read (postdrop in maildrop/), not for reading or fsync. */
int postern_open_directory_path(const char *path);
int postern_ioctl_fionread(int fd);
/* The uid of the process at the other end of a Unix socket. */
int postern_peer_uid(int fd, uid_t *uid);
/* An unnamed file in the directory DIRFD (O_TMPFILE): it vanishes if the process dies
 * before postern_link_tmpfile gives it NAME (through /proc/self/fd). */
int postern_open_tmpfile(int dirfd, int mode);
int postern_link_tmpfile(int fd, int dirfd, const char *name);
/* errno as a value, for Swift code that must save it before other calls. */
int postern_errno(void);
void postern_set_errno(int e);
#endif
