// Implementation of CBridgeShims.h; see there for why each function exists.
#define _GNU_SOURCE
#include "CBridgeShims.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>

const unsigned int bk_iff_tap = IFF_TAP;
const unsigned int bk_iff_no_pi = IFF_NO_PI;
const unsigned int bk_iff_vnet_hdr = IFF_VNET_HDR;
const unsigned int bk_iff_up = IFF_UP;
const int bk_pr_set_no_new_privs = PR_SET_NO_NEW_PRIVS;
const int bk_pr_get_no_new_privs = PR_GET_NO_NEW_PRIVS;
const int bk_pr_set_dumpable = PR_SET_DUMPABLE;

_Static_assert(IFNAMSIZ == bk_ifnamsiz, "IFNAMSIZ mirrored");

/// Fills ifr_name from (name, len) without truncation.
static int fill_name(struct ifreq *ifr, const void *name, size_t len) {
    memset(ifr, 0, sizeof *ifr);
    if (len == 0 || len >= IFNAMSIZ || memchr(name, 0, len) != NULL) {
        errno = EINVAL;
        return -1;
    }
    memcpy(ifr->ifr_name, name, len);
    return 0;
}

int bk_tun_get_features(int tunfd, unsigned int *features) {
    return ioctl(tunfd, TUNGETFEATURES, features);
}

int bk_tun_set_iff(int tunfd, const char *pattern, size_t pattern_len, unsigned int flags,
                   char *name_out) {
    struct ifreq ifr;
    if (fill_name(&ifr, pattern, pattern_len) < 0) return -1;
    ifr.ifr_flags = (short)flags;
    if (ioctl(tunfd, TUNSETIFF, &ifr) < 0) return -1;
    memcpy(name_out, ifr.ifr_name, IFNAMSIZ);
    name_out[IFNAMSIZ - 1] = 0;
    return 0;
}

int bk_tun_get_iff(int tunfd, char *name_out, unsigned int *flags_out) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (ioctl(tunfd, TUNGETIFF, &ifr) < 0) return -1;
    memcpy(name_out, ifr.ifr_name, IFNAMSIZ);
    name_out[IFNAMSIZ - 1] = 0;
    *flags_out = (unsigned short)ifr.ifr_flags;
    return 0;
}

int bk_tun_set_owner(int tunfd, uid_t owner) {
    return ioctl(tunfd, TUNSETOWNER, (unsigned long)owner);
}

int bk_tun_set_persist(int tunfd, int on) {
    return ioctl(tunfd, TUNSETPERSIST, (unsigned long)on);
}

int bk_if_index(int sock, const uint8_t *name, size_t len, int *index) {
    struct ifreq ifr;
    if (fill_name(&ifr, name, len) < 0) return -1;
    if (ioctl(sock, SIOCGIFINDEX, &ifr) < 0) return -1;
    *index = ifr.ifr_ifindex;
    return 0;
}

int bk_if_get_mtu(int sock, const uint8_t *name, size_t len, int *mtu) {
    struct ifreq ifr;
    if (fill_name(&ifr, name, len) < 0) return -1;
    if (ioctl(sock, SIOCGIFMTU, &ifr) < 0) return -1;
    *mtu = ifr.ifr_mtu;
    return 0;
}


int bk_if_get_hwaddr(int sock, const uint8_t *name, size_t len, uint8_t mac[6]) {
    struct ifreq ifr;
    if (fill_name(&ifr, name, len) < 0) return -1;
    if (ioctl(sock, SIOCGIFHWADDR, &ifr) < 0) return -1;
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}


int bk_if_get_flags(int sock, const uint8_t *name, size_t len, unsigned int *flags) {
    struct ifreq ifr;
    if (fill_name(&ifr, name, len) < 0) return -1;
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) return -1;
    *flags = (unsigned short)ifr.ifr_flags;
    return 0;
}


int bk_if_driver(int sock, const uint8_t *name, size_t len, char *driver_out) {
    struct ifreq ifr;
    struct ethtool_drvinfo info;
    if (fill_name(&ifr, name, len) < 0) return -1;
    memset(&info, 0, sizeof info);
    info.cmd = ETHTOOL_GDRVINFO;
    ifr.ifr_data = (void *)&info;
    if (ioctl(sock, SIOCETHTOOL, &ifr) < 0) return -1;
    _Static_assert(sizeof info.driver == 32, "ethtool driver name is 32 bytes");
    memcpy(driver_out, info.driver, sizeof info.driver);
    driver_out[sizeof info.driver - 1] = 0;
    return 0;
}


int bk_send_fd(int sock, int fd_to_send) {
    uint8_t byte = 0;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof control.buf,
    };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd_to_send, sizeof(int));
    ssize_t n;
    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    if (n != 1) { errno = EIO; return -1; }
    return 0;
}

ssize_t bk_recv_fd(int sock, uint8_t *byte_out, int *fd_out) {
    struct iovec iov = { .iov_base = byte_out, .iov_len = 1 };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * 4)];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof control.buf,
    };
    *fd_out = -1;
    ssize_t n;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*fd_out < 0) *fd_out = fd; else close(fd);
        }
    }
    return n;
}

int bk_close_range(unsigned int first, unsigned int last) {
    return (int)syscall(SYS_close_range, first, last, 0);
}

int bk_prctl(int option, unsigned long arg2) {
    return prctl(option, arg2, 0UL, 0UL, 0UL);
}

int bk_open(const char *path, int flags) {
    return open(path, flags);
}

int bk_openat(int dirfd, const char *path, int flags) {
    return openat(dirfd, path, flags);
}


int bk_getresuid(uid_t *r, uid_t *e, uid_t *s) { return getresuid(r, e, s); }
int bk_getresgid(gid_t *r, gid_t *e, gid_t *s) { return getresgid(r, e, s); }
int bk_setresuid(uid_t r, uid_t e, uid_t s) { return setresuid(r, e, s); }
int bk_setresgid(gid_t r, gid_t e, gid_t s) { return setresgid(r, e, s); }
const int bk_o_path = O_PATH;
unsigned int bk_major(dev_t dev) { return major(dev); }
unsigned int bk_minor(dev_t dev) { return minor(dev); }
/// The kernel's own struct sigaction (include/linux/signal_types.h), which rt_sigaction reads, not
/// glibc's (whose mask is 1024 bits). Its layout depends on the architecture: x86-64 and arm64
/// both define __ARCH_HAS_SA_RESTORER (handler, flags, restorer, mask) and have a 64-bit sigset_t;
/// other architectures differ (riscv64 has no restorer field, 32-bit ones other sizes), so they
/// must add their layout here rather than pass the kernel a misread structure. The restorer stays
/// NULL: no handler is installed, only SIG_IGN/SIG_DFL.
#if defined(__x86_64__) || defined(__aarch64__)
struct bk_kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    unsigned long mask;
};
_Static_assert(sizeof(struct bk_kernel_sigaction) == 32, "kernel struct sigaction is 32 bytes on x86-64 and arm64");
_Static_assert(offsetof(struct bk_kernel_sigaction, mask) == 24, "the mask follows handler, flags and restorer");
_Static_assert(sizeof(unsigned long) * CHAR_BIT == _NSIG - 1, "the kernel sigset_t holds signals 1..64 in one word");
#else
#error "bk_kernel_sigaction: add this architecture's kernel struct sigaction layout (see the comment above)"
#endif

int bk_set_signal_disposition(int signal, int ignore) {
    struct bk_kernel_sigaction action = { ignore ? (void *)SIG_IGN : (void *)SIG_DFL, 0, NULL, 0 };
    return (int)syscall(SYS_rt_sigaction, signal, &action, NULL, sizeof action.mask);
}

int bk_sigrtmax(void) { return SIGRTMAX; }

unsigned long long bk_blocked_signals(void) {
    unsigned long mask = 0;
    // A NULL new set only reads the mask (how is ignored); the raw call sees signals 32 and 33 too.
    if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &mask, sizeof mask) != 0) return ~0ULL;
    return mask;
}

int bk_clear_ambient_capabilities(void) {
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0UL, 0UL, 0UL) == 0) return 0;
    // EINVAL: a kernel without ambient capabilities (before 4.3) has none to clear.
    return errno == EINVAL ? 0 : -1;
}

#ifdef BRIDGEKEEPER_TEST_HOOKS
/// Marks a test build, so the release gate can prove the shipped binary has no pause points.
__attribute__((used)) const char bk_test_build_marker[] = "bridgekeeper-test-hooks-build";
#endif

#ifdef BRIDGEKEEPER_STATIC_NSS
#include <nss.h>
int bk_nss_files_only(void) {
    __nss_configure_lookup("passwd", "files");
    __nss_configure_lookup("group", "files");
    return 1;
}
#else
int bk_nss_files_only(void) { return 0; }
#endif

int bk_test_hooks_enabled(void) {
#ifdef BRIDGEKEEPER_TEST_HOOKS
    return 1;
#else
    return 0;
#endif
}

_Static_assert(sizeof(bk_cpu_mask) == sizeof(cpu_set_t), "bk_cpu_mask is a cpu_set_t");

int bk_other_allowed_cpus(int *cpus, int capacity, bk_cpu_mask *saved) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 0;
    memcpy(saved, &allowed, sizeof allowed);
    int here = sched_getcpu();
    int count = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && count < capacity; cpu++) {
        if (cpu != here && CPU_ISSET(cpu, &allowed)) cpus[count++] = cpu;
    }
    return count;
}

int bk_thread_attributes_pin(void *attributes, int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return EINVAL;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_attr_setaffinity_np((pthread_attr_t *)attributes, sizeof one, &one);
}

int bk_thread_move_here(unsigned long thread) {
    int here = sched_getcpu();
    if (here < 0 || here >= CPU_SETSIZE) return errno;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(here, &one);
    return pthread_setaffinity_np((pthread_t)thread, sizeof one, &one);
}

int bk_affinity_restore(const bk_cpu_mask *mask) {
    cpu_set_t allowed;
    memcpy(&allowed, mask, sizeof allowed);
    return sched_setaffinity(0, sizeof allowed, &allowed) == 0 ? 0 : errno;
}
