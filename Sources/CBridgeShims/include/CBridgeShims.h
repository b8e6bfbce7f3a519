// CBridgeShims: the few pieces of the Linux API that Swift cannot import directly.
//
// - `struct ifreq` is a union of unions; Swift imports it, but filling the right member through
//   nested anonymous unions is unreadable and easy to get wrong. Each helper below fills one
//   member for one ioctl and nothing else.
// - Request codes built with _IOW/_IOR (TUNSETIFF, TUNSETOWNER, ...) are function-like macros,
//   which Swift does not import.
// - CMSG_* (for SCM_RIGHTS) are macros too.
//
// Conventions: every function returns 0 on success and -1 with errno set on failure. Interface
// names are passed as (bytes, length) and are never truncated: a length of IFNAMSIZ or more is
// EINVAL, so a name the caller validated is exactly the name the kernel sees.
#ifndef CBRIDGESHIMS_H
#define CBRIDGESHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "CBridgeNetlink.h"
// lgetxattr (POSIX ACLs, for `bridgekeeper lint`): Swift's Glibc module leaves sys/xattr.h out.
#include <sys/xattr.h>
#include "CBridgeAudit.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Claims the next `amount` items of work shared by threads (SafeFileReader's include probe):
/// an atomic fetch-and-add, which Swift has only through the Synchronization module. Relaxed:
/// it only divides the work; the results reach the joining thread through pthread_join.
static inline long bk_claim(long *counter, long amount) {
    return __atomic_fetch_add(counter, amount, __ATOMIC_RELAXED);
}

/// A thread's CPU affinity mask, saved whole (the size of glibc's cpu_set_t: 1024 CPUs).
typedef struct { unsigned long long words[16]; } bk_cpu_mask;

/// The CPUs the calling thread may run on (its affinity mask, which taskset and cpusets narrow)
/// other than the one it runs on now, in increasing order: at most `capacity` of them are
/// written to `cpus`, and the count written is returned (0 when the mask cannot be read). The
/// whole mask is saved in `saved`.
int bk_other_allowed_cpus(int *cpus, int capacity, bk_cpu_mask *saved);

/// Restricts the threads created with `attributes` (a `pthread_attr_t *`) to the one CPU `cpu`:
/// 0, or an errno value.
int bk_thread_attributes_pin(void *attributes, int cpu);

/// Moves `thread` (a `pthread_t`) to the CPU the calling thread runs on now, and keeps it
/// there: 0, or an errno value. If `thread` has already exited, glibc applies the mask to the
/// calling thread instead (its kernel id is 0 by then): put the caller's own mask back after.
int bk_thread_move_here(unsigned long thread);

/// Sets the calling thread's affinity mask to `mask`: 0, or an errno value.
int bk_affinity_restore(const bk_cpu_mask *mask);

/// IFNAMSIZ (16): interface names are at most 15 bytes plus the terminating NUL.
enum { bk_ifnamsiz = 16 };

/// TUN flags from <linux/if_tun.h>.
extern const unsigned int bk_iff_tap;
extern const unsigned int bk_iff_no_pi;
extern const unsigned int bk_iff_vnet_hdr;

/// TUNGETFEATURES: the IFF_* flags this kernel's tun driver supports.
int bk_tun_get_features(int tunfd, unsigned int *features);
/// TUNSETIFF: create (or attach to) the device named by `pattern` ("tap%d" lets the kernel pick).
/// On success `name_out` (bk_ifnamsiz bytes) holds the NUL-terminated name the kernel chose.
int bk_tun_set_iff(int tunfd, const char *pattern, size_t pattern_len, unsigned int flags,
                   char *name_out);
/// TUNGETIFF: the name and IFF_* flags of the device behind a tun fd.
int bk_tun_get_iff(int tunfd, char *name_out, unsigned int *flags_out);
/// TUNSETOWNER: only this uid (or CAP_NET_ADMIN) may attach to the device later.
int bk_tun_set_owner(int tunfd, uid_t owner);
/// TUNSETPERSIST: used by tests only, to show what a fd holder can do after the hand-off.
int bk_tun_set_persist(int tunfd, int on);

/// SIOCGIFINDEX.
int bk_if_index(int sock, const uint8_t *name, size_t len, int *index);
/// SIOCGIFMTU (the client reads what the helper set).
int bk_if_get_mtu(int sock, const uint8_t *name, size_t len, int *mtu);
/// SIOCGIFHWADDR for Ethernet (6-byte) addresses.
int bk_if_get_hwaddr(int sock, const uint8_t *name, size_t len, uint8_t mac[6]);
/// SIOCGIFFLAGS (only the low 16 bits exist in struct ifreq).
int bk_if_get_flags(int sock, const uint8_t *name, size_t len, unsigned int *flags);
/// IFF_UP from <net/if.h> (an enum constant in glibc, mirrored so tests can check it).
extern const unsigned int bk_iff_up;
/// SIOCETHTOOL ETHTOOL_GDRVINFO: the driver name ("bridge", "tun", "veth", ...), NUL-terminated
/// into `driver_out` (32 bytes). This is how we tell a Linux bridge from any other device
/// without sysfs, which may show a different network namespace than the caller's.
int bk_if_driver(int sock, const uint8_t *name, size_t len, char *driver_out);

/// sendmsg() of exactly one data byte 0x00 with one SCM_RIGHTS descriptor, MSG_NOSIGNAL
/// (so a closed peer is EPIPE, not SIGPIPE). Retries EINTR.
int bk_send_fd(int sock, int fd_to_send);
/// recvmsg() of one byte plus at most one SCM_RIGHTS descriptor, received with MSG_CMSG_CLOEXEC.
/// `*fd_out` is -1 when no descriptor came. Returns the number of data bytes (0 = peer closed)
/// or -1 with errno. Extra descriptors, if any, are closed.
ssize_t bk_recv_fd(int sock, uint8_t *byte_out, int *fd_out);

/// close_range(2) through syscall(), since glibc 2.36 declares it but older headers do not.
int bk_close_range(unsigned int first, unsigned int last);

/// prctl() is variadic in C, so Swift cannot call it.
int bk_prctl(int option, unsigned long arg2);
/// PR_* values used by the helper (Tests/BridgeSystemTests/ConstantTests.swift pins them).
extern const int bk_pr_set_no_new_privs;
extern const int bk_pr_get_no_new_privs;
extern const int bk_pr_set_dumpable;

/// open() / openat() are variadic in C (the mode argument); these pass no mode.
int bk_open(const char *path, int flags);
int bk_openat(int dirfd, const char *path, int flags);

/// getresuid/getresgid/setresuid/setresgid need _GNU_SOURCE, which Swift's Glibc module lacks.
int bk_getresuid(uid_t *r, uid_t *e, uid_t *s);
int bk_getresgid(gid_t *r, gid_t *e, gid_t *s);
int bk_setresuid(uid_t r, uid_t e, uid_t s);
int bk_setresgid(gid_t r, gid_t e, gid_t s);
/// O_PATH is _GNU_SOURCE-only in glibc's headers.
extern const int bk_o_path;
/// major()/minor() are macros in <sys/sysmacros.h>.
unsigned int bk_major(dev_t dev);
unsigned int bk_minor(dev_t dev);
/// Sets the disposition of `signal` to SIG_DFL (ignore == 0) or SIG_IGN through the raw
/// rt_sigaction system call: glibc's sigaction() refuses its internal signals 32 and 33
/// (EINVAL), so a caller that left them ignored would otherwise pass that on to the helper.
int bk_set_signal_disposition(int signal, int ignore);
/// SIGRTMAX is a function-like macro.
int bk_sigrtmax(void);
/// The blocked-signal mask as the kernel holds it (bit n-1 = signal n), through the raw
/// rt_sigprocmask call, which unlike glibc's does not hide signals 32 and 33. All ones if the
/// call fails, so that a caller treats every signal as possibly pending.
unsigned long long bk_blocked_signals(void);
/// PR_CAP_AMBIENT_CLEAR_ALL in one call (libcap's cap_reset_ambient first reads every capability
/// with PR_CAP_AMBIENT_IS_SET, 42 calls, and clears nothing when none is set). 0 on success,
/// also on a kernel without ambient capabilities; -1 with errno otherwise.
int bk_clear_ambient_capabilities(void);

/// A compile-time switch for the test build only: a pause point where an outside observer can
/// read /proc/PID/status. Release builds are made without BRIDGEKEEPER_TEST_HOOKS and this
/// returns 0 (see Makefile); nothing at run time (no environment variable) can enable it.
int bk_test_hooks_enabled(void);

/// A static glibc cannot load NSS modules (dlopen of libnss_systemd from a static program
/// crashes): in a LINK=static build (BRIDGEKEEPER_STATIC_NSS) user and group names come from
/// the built-in "files" service only, /etc/passwd and /etc/group; elsewhere it does nothing.
/// Returns 1 when lookups are restricted to files.
int bk_nss_files_only(void);

/// Sends `length` bytes as one datagram to the AF_UNIX socket bound at `path` (the system log):
/// a fresh SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK socket, sendto with MSG_DONTWAIT|MSG_NOSIGNAL,
/// closed again. Never blocks: a full receive queue is EAGAIN, a missing path ENOENT, a path
/// that is not a datagram socket ECONNREFUSED or EPROTOTYPE. See systemlog.c.
int bk_send_datagram(const char *path, const void *data, size_t length);

#ifdef __cplusplus
}
#endif
#endif
