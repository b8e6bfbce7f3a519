/*
 * bkrun: runs a bridge helper the way QEMU does (a socketpair, the helper execve'd with --fd=N,
 * one byte plus one SCM_RIGHTS descriptor read back, the helper reaped), with exact control over
 * the child's process state at execve: argv (including argc == 0), environment, which fds are
 * open and what --fd names, rlimits, signal dispositions/mask/pending signals, ITIMER_REAL, cwd
 * and umask. Used by Tests/Integration/t-h-process.sh; compiled there with `cc`.
 *
 *   bkrun [options] HELPER [ARG...]      "{fd}" in an ARG becomes the --fd number in the child
 *
 *   -0          argc == 0: execve(HELPER, {NULL}, envp)
 *   -a ARGV0    argv[0] (default: HELPER)
 *   -e K=V      add K=V to the environment (repeatable; the environment is otherwise empty)
 *   -t TYPE     what the child's --fd names: stream (default: a connected AF_UNIX stream
 *               socketpair), seqpacket, closed, file, pipe, devnull, udp, unixdgram,
 *               unixlisten, unixunconnected
 *   -F N        put that descriptor at number N in the child (else it keeps its number; for
 *               "closed" the default is 200)
 *   -n COUNT    open COUNT extra descriptors (/dev/null, no FD_CLOEXEC) in the child
 *   -c FD       close FD in the child just before execve (repeatable; after -F and -n)
 *   -N LIMIT    RLIMIT_NOFILE soft = hard = LIMIT in the child
 *   -M BYTES    RLIMIT_AS soft = hard = BYTES in the child
 *   -i SIG      SIG_IGN for signal number SIG (repeatable)
 *   -b          block every signal (sigprocmask) before execve
 *   -k SIG      send SIG to the child itself after blocking (pending at execve; needs -b)
 *   -T USEC     arm ITIMER_REAL to fire after USEC microseconds (SIGALRM at its default action
 *               unless -i 14 or -b), as the last thing before execve
 *   -d DIR      chdir(DIR) before execve
 *   -u MASK     umask(MASK, octal) before execve
 *
 * Prints one line on stdout:
 *   result=attached|refused|protocol-violation helper_exit=N helper_stdout_bytes=N tap=NAME|-
 *   bridge=NAME|- byte=N|- extra_bytes=N tap_rx_packets=N|- tap_rx_dropped=N|-
 * (the result line every client of the test tree prints, `bridgekeeper try` too: helper_exit
 * is the exit status, or 128 + the signal number if a signal killed the helper; "extra_bytes":
 * bytes on the socket after the first; "attached" = exit 0, one byte 0x00 with one descriptor,
 * nothing else). The helper's stderr is copied verbatim to bkrun's stderr.
 * Exit status: 0 if attached, 1 if refused, 2 on a protocol violation, 3 on a usage or setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_LIST 256

static void die(const char *what) {
    fprintf(stderr, "bkrun: %s: %s\n", what, strerror(errno));
    exit(3);
}

static void child_fail(int report, int step) {
    int e[2] = {step, errno};
    if (write(report, e, sizeof e) < 0) { /* nothing to do */ }
    _exit(127);
}

static char *replace_fd(const char *arg, int fd) {
    const char *at = strstr(arg, "{fd}");
    if (!at) return strdup(arg);
    size_t n = strlen(arg) + 16;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%d%s", (int)(at - arg), arg, fd, at + 4);
    return out;
}

static long read_long(const char *path) {
    FILE *f = fopen(path, "re");
    long v = -1;
    if (!f) return -1;
    if (fscanf(f, "%ld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

static size_t drain(int fd, int copy_to) {
    char buf[65536];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return total;
        total += (size_t)n;
        if (copy_to >= 0) {
            ssize_t off = 0;
            while (off < n) {
                ssize_t w = write(copy_to, buf + off, (size_t)(n - off));
                if (w <= 0) break;
                off += w;
            }
        }
    }
}

int main(int argc, char **argv) {
    int argc0 = 0, extra = 0, block = 0, target = -1;
    const char *argv0 = NULL, *type = "stream", *dir = NULL;
    char *envs[MAX_LIST + 1];
    int nenv = 0, closes[MAX_LIST], nclose = 0, ignores[MAX_LIST], nignore = 0, pend[MAX_LIST], npend = 0;
    long nofile = -1, umask_value = -1, itimer_us = -1;
    long long as_limit = -1;
    int opt;
    while ((opt = getopt(argc, argv, "+0a:e:t:F:n:c:N:M:i:bk:T:d:u:")) != -1) {
        switch (opt) {
        case '0': argc0 = 1; break;
        case 'a': argv0 = optarg; break;
        case 'e': if (nenv < MAX_LIST) envs[nenv++] = optarg; break;
        case 't': type = optarg; break;
        case 'F': target = atoi(optarg); break;
        case 'n': extra = atoi(optarg); break;
        case 'c': if (nclose < MAX_LIST) closes[nclose++] = atoi(optarg); break;
        case 'N': nofile = atol(optarg); break;
        case 'M': as_limit = atoll(optarg); break;
        case 'i': if (nignore < MAX_LIST) ignores[nignore++] = atoi(optarg); break;
        case 'b': block = 1; break;
        case 'k': if (npend < MAX_LIST) pend[npend++] = atoi(optarg); break;
        case 'T': itimer_us = atol(optarg); break;
        case 'd': dir = optarg; break;
        case 'u': umask_value = strtol(optarg, NULL, 8); break;
        default: fprintf(stderr, "bkrun: bad option\n"); return 3;
        }
    }
    envs[nenv] = NULL;
    if (optind >= argc) { fprintf(stderr, "bkrun: no helper given\n"); return 3; }
    const char *helper = argv[optind];
    int nargs = argc - optind - 1;
    char **args = argv + optind + 1;

    int pair_type = strcmp(type, "stream") == 0 ? SOCK_STREAM : strcmp(type, "seqpacket") == 0 ? SOCK_SEQPACKET : 0;
    int pair[2] = {-1, -1};
    if (pair_type && socketpair(AF_UNIX, pair_type, 0, pair) != 0) die("socketpair");
    if (pair_type) fcntl(pair[0], F_SETFD, FD_CLOEXEC);
    int out[2], err[2], report[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(report, O_CLOEXEC)) die("pipe");

    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        int r = report[1];
        if (dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) child_fail(r, 1);
        int h = -1;
        if (pair_type) {
            h = pair[1];
        } else if (strcmp(type, "closed") == 0) {
            h = target >= 0 ? target : 200;
            close(h);
        } else if (strcmp(type, "file") == 0) {
            h = open(helper, O_RDONLY);
        } else if (strcmp(type, "pipe") == 0) {
            int p[2];
            if (pipe(p) == 0) h = p[0];
        } else if (strcmp(type, "devnull") == 0) {
            h = open("/dev/null", O_RDWR);
        } else if (strcmp(type, "udp") == 0) {
            h = socket(AF_INET, SOCK_DGRAM, 0);
        } else if (strcmp(type, "unixdgram") == 0) {
            h = socket(AF_UNIX, SOCK_DGRAM, 0);
        } else if (strcmp(type, "unixunconnected") == 0) {
            h = socket(AF_UNIX, SOCK_STREAM, 0);
        } else if (strcmp(type, "unixlisten") == 0) {
            h = socket(AF_UNIX, SOCK_STREAM, 0);
            struct sockaddr_un a = {.sun_family = AF_UNIX};
            /* abstract address, unique per process */
            int len = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "bkrun-%d", (int)getpid());
            if (h < 0 || bind(h, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) ||
                listen(h, 1))
                child_fail(r, 2);
        } else {
            child_fail(r, 3);
        }
        if (h < 0 && strcmp(type, "closed") != 0) child_fail(r, 4);
        if (strcmp(type, "closed") != 0) {
            if (target >= 0 && target != h) {
                if (dup2(h, target) < 0) child_fail(r, 5);
                close(h);
                h = target;
            }
            fcntl(h, F_SETFD, 0);
        }
        for (int i = 0; i < extra; i++) {
            if (open("/dev/null", O_RDONLY) < 0) child_fail(r, 6);
        }
        char **cargv = calloc((size_t)nargs + 2, sizeof *cargv);
        cargv[0] = (char *)(argv0 ? argv0 : helper);
        for (int i = 0; i < nargs; i++) cargv[i + 1] = replace_fd(args[i], h);
        char *empty[] = {NULL};
        /* Raw rt_sigaction: glibc's signal() refuses its internal signals 32 and 33, which a
         * caller can still leave ignored (a CI runner did), so the tests must be able to. */
        for (int i = 0; i < nignore; i++) {
            struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } ign = { (void *)SIG_IGN, 0, 0, 0 };
            syscall(SYS_rt_sigaction, ignores[i], &ign, NULL, sizeof ign.mask);
        }
        if (block) {
            sigset_t all;
            sigfillset(&all);
            sigprocmask(SIG_SETMASK, &all, NULL);
        }
        for (int i = 0; i < npend; i++) kill(getpid(), pend[i]);
        if (dir && chdir(dir) != 0) child_fail(r, 7);
        if (umask_value >= 0) umask((mode_t)umask_value);
        if (as_limit >= 0) {
            struct rlimit l = {(rlim_t)as_limit, (rlim_t)as_limit};
            if (setrlimit(RLIMIT_AS, &l)) child_fail(r, 8);
        }
        for (int i = 0; i < nclose; i++) close(closes[i]);
        if (nofile >= 0) {
            struct rlimit l = {(rlim_t)nofile, (rlim_t)nofile};
            if (setrlimit(RLIMIT_NOFILE, &l)) child_fail(r, 9);
        }
        if (itimer_us >= 0) {
            struct itimerval t = {{0, 0}, {itimer_us / 1000000, itimer_us % 1000000}};
            setitimer(ITIMER_REAL, &t, NULL);
        }
        execve(helper, argc0 ? empty : cargv, envs);
        child_fail(r, 10);
    }
    close(out[1]);
    close(err[1]);
    close(report[1]);
    if (pair_type) close(pair[1]);
    int e[2];
    ssize_t got = read(report[0], e, sizeof e);
    if (got == (ssize_t)sizeof e) {
        int status;
        waitpid(pid, &status, 0);
        errno = e[1];
        fprintf(stderr, "bkrun: child setup step %d failed: %s\n", e[0], strerror(errno));
        return 3;
    }

    int byte = -1, tap = -1;
    size_t extra_bytes = 0;
    int fds_received = 0;
    if (pair_type) {
        unsigned char b;
        struct iovec iov = {.iov_base = &b, .iov_len = 1};
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * 8)];
        } control;
        memset(&control, 0, sizeof control);
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                             .msg_controllen = sizeof control.buf};
        ssize_t n;
        do n = recvmsg(pair[0], &msg, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
        if (n == 1) byte = b;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                fds_received++;
                if (tap < 0) tap = fd; else close(fd);
            }
        }
        if (n > 0) extra_bytes = drain(pair[0], -1);
    }
    size_t stdout_bytes = drain(out[0], -1);
    drain(err[0], 2);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}

    char name[IFNAMSIZ + 1] = "-", bridge[IFNAMSIZ + 1] = "-";
    long rx_packets = -1, rx_dropped = -1;
    if (tap >= 0) {
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        if (ioctl(tap, TUNGETIFF, &ifr) == 0) {
            snprintf(name, sizeof name, "%s", ifr.ifr_name);
            char path[256], link[512];
            snprintf(path, sizeof path, "/sys/class/net/%s/master", name);
            ssize_t l = readlink(path, link, sizeof link - 1);
            if (l > 0) {
                link[l] = 0;
                char *slash = strrchr(link, '/');
                snprintf(bridge, sizeof bridge, "%.16s", slash ? slash + 1 : link);
            }
            snprintf(path, sizeof path, "/sys/class/net/%s/statistics/rx_packets", name);
            rx_packets = read_long(path);
            snprintf(path, sizeof path, "/sys/class/net/%s/statistics/rx_dropped", name);
            rx_dropped = read_long(path);
        }
    }
    const char *result;
    int code;
    int exited0 = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (exited0 && tap >= 0 && fds_received == 1 && byte == 0 && extra_bytes == 0) {
        result = "attached";
        code = 0;
    } else if (!exited0 && tap < 0) {
        result = "refused";
        code = 1;
    } else {
        result = "protocol-violation";
        code = 2;
    }
    char bytetext[16], rxp[24] = "-", rxd[24] = "-";
    int helper_exit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (byte >= 0) snprintf(bytetext, sizeof bytetext, "%d", byte); else strcpy(bytetext, "-");
    if (rx_packets >= 0) snprintf(rxp, sizeof rxp, "%ld", rx_packets);
    if (rx_dropped >= 0) snprintf(rxd, sizeof rxd, "%ld", rx_dropped);
    printf("result=%s helper_exit=%d helper_stdout_bytes=%zu tap=%s bridge=%s byte=%s extra_bytes=%zu tap_rx_packets=%s tap_rx_dropped=%s\n",
           result, helper_exit, stdout_bytes, name, bridge, bytetext, extra_bytes, rxp, rxd);
    fflush(stdout);
    if (tap >= 0) close(tap);
    return code;
}
