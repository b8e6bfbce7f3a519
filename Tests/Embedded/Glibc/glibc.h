// The C headers the helper's modules use through `import Glibc`, for the Embedded Swift build
// only (scripts/embedded-helper.sh). The regular Glibc module also has a Swift overlay; the parts
// of it the helper uses are below (mode constants typed as mode_t) and in ../GlibcOverlay.swift
// (errno, the 2- and 3-argument fcntl).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static inline int *bk_embedded_errno_location(void) { return &errno; }
static inline int bk_embedded_fcntl2(int fd, int cmd) { return fcntl(fd, cmd); }
static inline int bk_embedded_fcntl3(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }

// The C macros would import as Int32; the overlay has them as mode_t, which the sources compare
// st_mode with.
#undef S_IFMT
#undef S_IFDIR
#undef S_IFCHR
#undef S_IFBLK
#undef S_IFREG
#undef S_IFIFO
#undef S_IFLNK
#undef S_IFSOCK
static const __mode_t S_IFMT = __S_IFMT, S_IFDIR = __S_IFDIR, S_IFCHR = __S_IFCHR, S_IFBLK = __S_IFBLK,
    S_IFREG = __S_IFREG, S_IFIFO = __S_IFIFO, S_IFLNK = __S_IFLNK, S_IFSOCK = __S_IFSOCK;
