/* b-client: a QEMU-style client for the hardening tests (t-h-files, t-h-devices), with the
 * faults QEMU never makes on purpose. Built with `cc` at test time into the sandbox scratch
 * directory. The helper is always started the way QEMU starts it: socketpair(AF_UNIX,
 * SOCK_STREAM), fork + execve(HELPER, ARGS) with "{fd}" in ARGS replaced by the number of the
 * helper's end (the only descriptor the child inherits besides 0/1/2), an empty environment.
 *
 *   b-client run [--hold] [--persist] HELPER ARG...
 *       One round trip. The helper's stderr is ours; its stdout is counted. Prints the
 *       result line every client of the test tree prints (`bridgekeeper try` too):
 *       `result=attached helper_exit=E helper_stdout_bytes=N tap=T bridge=B` (B raw bytes, '-'
 *       if none; result=protocol-violation for a TAP with a non-zero exit) or
 *       `result=refused helper_exit=E helper_stdout_bytes=N` (E: 128 + signal if killed). --persist makes the TAP persistent through the
 *       received descriptor (TUNSETPERSIST); --hold keeps it until stdin reaches end of file.
 *       Exit 0 attached, 1 refused, 3 protocol violation.
 *   b-client noread [--fill] HELPER ARG...
 *       Never reads the socket. --fill first fills the helper's send buffer (so its sendmsg
 *       blocks). Waits for the helper, lists the TUN devices while the descriptor may sit in
 *       the queue, closes the socket, lists them again:
 *       `exit=E elapsed_ms=T helper_fd=N queued_taps=LIST after_close_taps=LIST` (LIST: names
 *       joined by ',' or '-'; N: the helper's --fd), plus ` filled=yes|no` with --fill.
 *   b-client early HELPER ARG...
 *       Closes its end of the socket right after starting the helper, then waits for it:
 *       `exit=E elapsed_ms=T helper_fd=N after_taps=LIST`.
 *   b-client repeat [--kill-max-us U] [--seed S] N HELPER ARG...
 *       N sequential round trips; each helper's stderr and stdout are captured. With
 *       --kill-max-us, each helper gets SIGKILL after a random delay of 0..U microseconds.
 *       After each run the received descriptor (if any) is closed and /sys/class/net is
 *       scanned for TUN devices (a leak). Prints one line per distinct outcome,
 *       `COUNT exit=E fd=0|1 stdout=N stderr=TEXT` (TEXT with \n and \\ escaped), then
 *       `runs=N leaks=L first_leak=LIST`.
 *   b-client many [--jobs J] [--hold] N HELPER ARG...
 *       N round trips with up to J (16) helpers in flight; every received TAP is kept open.
 *       The helpers share our stderr; their stdout goes to one counted memfd. Prints
 *       `attached=A refused=R bad=B stdout_bytes=S taps=T owners=O elapsed_ms=M` (O: the
 *       distinct sysfs owners of the TUN devices, ',' joined), then with --hold waits for end of
 *       file on stdin, closes every TAP and prints `taps_after_close=N close_ms=T`.
 *
 * Exit status 2 on a usage or system error (with a message on stderr).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "b-client: %s: %s\n", what, strerror(errno));
    exit(2);
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* argv for the child: "{fd}" replaced by the socket number (first occurrence per argument). */
static char **child_argv(char **args, int nargs, int fd) {
    char **argv = calloc((size_t)nargs + 1, sizeof *argv);
    char num[16];
    snprintf(num, sizeof num, "%d", fd);
    for (int i = 0; i < nargs; i++) {
        char *at = strstr(args[i], "{fd}");
        if (!at) { argv[i] = args[i]; continue; }
        size_t pre = (size_t)(at - args[i]);
        argv[i] = malloc(strlen(args[i]) + 16);
        memcpy(argv[i], args[i], pre);
        strcpy(argv[i] + pre, num);
        strcat(argv[i], at + 4);
    }
    return argv;
}

/* Starts HELPER (args[0]) with its socket end `sock` inherited; stdout/stderr redirected when
 * out_fd/err_fd >= 0. Every other descriptor of ours is close-on-exec. */
static pid_t spawn(char **args, int nargs, int sock, int out_fd, int err_fd) {
    char **argv = child_argv(args, nargs, sock);
    char *envp[] = { NULL };
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        if (out_fd >= 0 && dup2(out_fd, 1) < 0) _exit(126);
        if (err_fd >= 0 && dup2(err_fd, 2) < 0) _exit(126);
        if (fcntl(sock, F_SETFD, 0) < 0) _exit(126);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    for (int i = 0; i < nargs; i++) if (argv[i] != args[i]) free(argv[i]);
    free(argv);
    return pid;
}

static void socket_pair(int sv[2]) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) die("socketpair");
}

/* Receives one byte and at most one descriptor. Returns the byte count (or -1), *fd the fd. */
static ssize_t recv_fd(int sock, int flags, int *fd) {
    char byte;
    struct iovec iov = { &byte, 1 };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int) * 4)]; } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                          .msg_controllen = sizeof control.buf };
    *fd = -1;
    ssize_t n;
    do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags); while (n < 0 && errno == EINTR);
    if (n <= 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
            if (*fd < 0) *fd = got; else close(got);
        }
    }
    return n;
}

static int wait_status(pid_t pid) {
    int status;
    while (waitpid(pid, &status, 0) < 0) if (errno != EINTR) die("waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The TUN/TAP devices in this network namespace (sysfs, remounted by the sandbox). */
static int list_tuns(char *out, size_t cap) {
    DIR *d = opendir("/sys/class/net");
    if (!d) die("opendir /sys/class/net");
    int count = 0;
    size_t used = 0;
    out[0] = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[300];
        snprintf(path, sizeof path, "/sys/class/net/%s/tun_flags", e->d_name);
        if (access(path, F_OK) != 0) continue;
        count++;
        int n = snprintf(out + used, cap - used, "%s%s", used ? "," : "", e->d_name);
        if (n > 0 && (size_t)n < cap - used) used += (size_t)n;
    }
    closedir(d);
    if (!count) snprintf(out, cap, "-");
    return count;
}

static void read_text(const char *path, char *out, size_t cap) {
    out[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    if (n < 0) n = 0;
    out[n] = 0;
    char *nl = strchr(out, '\n');
    if (nl) *nl = 0;
}

static void describe_tap(int tap, char *name, size_t namecap, char *bridge, size_t brcap) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(name, namecap, "?");
    snprintf(bridge, brcap, "-");
    if (ioctl(tap, TUNGETIFF, &ifr) < 0) return;
    snprintf(name, namecap, "%s", ifr.ifr_name);
    char path[300], link[300];
    snprintf(path, sizeof path, "/sys/class/net/%s/master", ifr.ifr_name);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n <= 0) return;
    link[n] = 0;
    char *slash = strrchr(link, '/');
    snprintf(bridge, brcap, "%s", slash ? slash + 1 : link);
}

static void raise_nofile(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

static void wait_stdin_eof(void) {
    char buf[256];
    while (read(0, buf, sizeof buf) > 0) {}
}

/* ------------------------------------------------------------------------------------------ */

static int mode_run(int argc, char **argv) {
    int hold = 0, persist = 0, i = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--hold")) hold = 1;
        else if (!strcmp(argv[i], "--persist")) persist = 1;
        else break;
    }
    if (i >= argc) { fprintf(stderr, "b-client run: no helper\n"); return 2; }
    int sv[2], out[2];
    socket_pair(sv);
    if (pipe2(out, O_CLOEXEC) < 0) die("pipe");
    pid_t pid = spawn(argv + i, argc - i, sv[1], out[1], -1);
    close(sv[1]);
    close(out[1]);
    int tap;
    ssize_t n = recv_fd(sv[0], 0, &tap);
    (void)n;
    size_t outbytes = 0;
    char buf[4096];
    ssize_t r;
    while ((r = read(out[0], buf, sizeof buf)) > 0) outbytes += (size_t)r;
    int status = wait_status(pid);
    if (tap < 0) {
        printf("result=refused helper_exit=%d helper_stdout_bytes=%zu\n", status, outbytes);
        fflush(stdout);
        return status == 0 ? 3 : 1;
    }
    if (persist && ioctl(tap, TUNSETPERSIST, 1) < 0) die("TUNSETPERSIST");
    char name[IFNAMSIZ + 8], bridge[300];
    describe_tap(tap, name, sizeof name, bridge, sizeof bridge);
    printf("result=%s helper_exit=%d helper_stdout_bytes=%zu tap=%s bridge=%s\n",
           status == 0 ? "attached" : "protocol-violation", status, outbytes, name, bridge);
    fflush(stdout);
    if (hold) wait_stdin_eof();
    close(tap);
    return status == 0 ? 0 : 3;
}

static int mode_noread(int argc, char **argv) {
    int fill = 0, i = 0;
    if (i < argc && !strcmp(argv[i], "--fill")) { fill = 1; i++; }
    if (i >= argc) { fprintf(stderr, "b-client noread: no helper\n"); return 2; }
    int sv[2];
    socket_pair(sv);
    long filled = 0;
    if (fill) {
        /* Queue data from the helper's end towards ours until its send buffer is full; the
         * helper's own sendmsg on that end then blocks (the buffer is charged to the sender). */
        int flags = fcntl(sv[1], F_GETFL);
        fcntl(sv[1], F_SETFL, flags | O_NONBLOCK);
        static char junk[65536];
        for (;;) {
            ssize_t w = send(sv[1], junk, sizeof junk, MSG_NOSIGNAL);
            if (w > 0) { filled += w; continue; }
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                /* Top up with small writes so not even a one-byte skb fits. */
                w = send(sv[1], junk, 1, MSG_NOSIGNAL);
                if (w > 0) { filled += w; continue; }
                break;
            }
            die("filling the socket");
        }
        fcntl(sv[1], F_SETFL, flags);
    }
    long start = now_ms();
    pid_t pid = spawn(argv + i, argc - i, sv[1], -1, -1);
    close(sv[1]);
    int status = wait_status(pid);
    long elapsed = now_ms() - start;
    char queued[4096], after[4096];
    list_tuns(queued, sizeof queued);
    close(sv[0]);
    list_tuns(after, sizeof after);
    printf("exit=%d elapsed_ms=%ld helper_fd=%d queued_taps=%s after_close_taps=%s", status, elapsed, sv[1], queued, after);
    if (fill) printf(" filled=%s", filled > 0 ? "yes" : "no");
    printf("\n");
    return 0;
}

static int mode_early(int argc, char **argv) {
    if (argc < 1) { fprintf(stderr, "b-client early: no helper\n"); return 2; }
    int sv[2];
    socket_pair(sv);
    long start = now_ms();
    /* The peer end is closed before the helper starts, so its send always meets a closed peer
     * (closing after spawning raced with a fast helper on a loaded machine). */
    close(sv[0]);
    pid_t pid = spawn(argv, argc, sv[1], -1, -1);
    close(sv[1]);
    int status = wait_status(pid);
    long elapsed = now_ms() - start;
    char after[4096];
    list_tuns(after, sizeof after);
    printf("exit=%d elapsed_ms=%ld helper_fd=%d after_taps=%s\n", status, elapsed, sv[1], after);
    return 0;
}

struct outcome { char *key; long count; };

static void escape_into(const char *in, size_t len, char *out, size_t cap) {
    size_t o = 0;
    for (size_t k = 0; k < len && o + 5 < cap; k++) {
        unsigned char c = (unsigned char)in[k];
        if (c == '\n') { out[o++] = '\\'; out[o++] = 'n'; }
        else if (c == '\\') { out[o++] = '\\'; out[o++] = '\\'; }
        else if (c < 0x20 || c >= 0x7f) o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else out[o++] = (char)c;
    }
    out[o] = 0;
}

static int mode_repeat(int argc, char **argv) {
    long kill_max = -1;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    int i = 0;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--kill-max-us") && i + 1 < argc) kill_max = atol(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = (unsigned)strtoul(argv[++i], NULL, 10);
        else break;
    }
    if (i + 1 >= argc) { fprintf(stderr, "b-client repeat: N HELPER ARG...\n"); return 2; }
    long runs = atol(argv[i++]);
    char **args = argv + i;
    int nargs = argc - i;
    srandom(seed);
    struct outcome table[64];
    int kinds = 0;
    long leaks = 0;
    char first_leak[8192] = "-";
    for (long run = 0; run < runs; run++) {
        int sv[2], out[2], err[2];
        socket_pair(sv);
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) die("pipe");
        pid_t pid = spawn(args, nargs, sv[1], out[1], err[1]);
        close(sv[1]);
        close(out[1]);
        close(err[1]);
        int tap = -1, status;
        if (kill_max >= 0) {
            long delay = kill_max ? random() % (kill_max + 1) : 0;
            if (delay) usleep((useconds_t)delay);
            kill(pid, SIGKILL);
            status = wait_status(pid);
            recv_fd(sv[0], MSG_DONTWAIT, &tap);
        } else {
            recv_fd(sv[0], 0, &tap);
            status = wait_status(pid);
        }
        char errbuf[8192], outbuf[4096];
        size_t errlen = 0, outlen = 0;
        ssize_t r;
        while (errlen < sizeof errbuf && (r = read(err[0], errbuf + errlen, sizeof errbuf - errlen)) > 0) errlen += (size_t)r;
        while ((r = read(out[0], outbuf, sizeof outbuf)) > 0) outlen += (size_t)r;
        close(out[0]);
        close(err[0]);
        int got_fd = tap >= 0;
        if (tap >= 0) close(tap);
        close(sv[0]);
        char tuns[4096];
        if (list_tuns(tuns, sizeof tuns) > 0) {
            if (!leaks) snprintf(first_leak, sizeof first_leak, "%s(run %ld)", tuns, run);
            leaks++;
        }
        char text[16384], key[17000];
        escape_into(errbuf, errlen, text, sizeof text);
        const char *how = status >= 128 ? "signal" : "exit";
        snprintf(key, sizeof key, "%s=%d fd=%d stdout=%zu stderr=%s", how,
                 status >= 128 ? status - 128 : status, got_fd, outlen, text);
        int k = 0;
        for (; k < kinds; k++) if (!strcmp(table[k].key, key)) break;
        if (k == kinds) {
            if (kinds == 64) k = 63;  /* table full: count under the last kind */
            else { table[k].key = strdup(key); table[k].count = 0; kinds++; }
        }
        table[k].count++;
    }
    for (int k = 0; k < kinds; k++) printf("%ld %s\n", table[k].count, table[k].key);
    printf("runs=%ld leaks=%ld first_leak=%s seed=%u\n", runs, leaks, first_leak, seed);
    return 0;
}

struct flight { pid_t pid; int sock; };

static int mode_many(int argc, char **argv) {
    int jobs = 16, hold = 0, i = 0;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--jobs") && i + 1 < argc) jobs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--hold")) hold = 1;
        else break;
    }
    if (i + 1 >= argc || jobs < 1 || jobs > 256) { fprintf(stderr, "b-client many: [--jobs J] [--hold] N HELPER ARG...\n"); return 2; }
    long total = atol(argv[i++]);
    char **args = argv + i;
    int nargs = argc - i;
    raise_nofile();
    int out = memfd_create("helper-stdout", MFD_CLOEXEC);
    if (out < 0) die("memfd_create");
    int *taps = calloc((size_t)total, sizeof *taps);
    struct flight *fl = calloc((size_t)jobs, sizeof *fl);
    struct pollfd *pf = calloc((size_t)jobs, sizeof *pf);
    long started = 0, done = 0, attached = 0, refused = 0, bad = 0;
    int inflight = 0;
    long start = now_ms();
    while (done < total) {
        while (inflight < jobs && started < total) {
            int sv[2];
            socket_pair(sv);
            fl[inflight].pid = spawn(args, nargs, sv[1], out, -1);
            fl[inflight].sock = sv[0];
            close(sv[1]);
            inflight++;
            started++;
        }
        for (int k = 0; k < inflight; k++) { pf[k].fd = fl[k].sock; pf[k].events = POLLIN; pf[k].revents = 0; }
        int ready = poll(pf, (nfds_t)inflight, 30000);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) { fprintf(stderr, "b-client many: no helper answered within 30 s\n"); return 2; }
        for (int k = inflight - 1; k >= 0; k--) {
            if (!pf[k].revents) continue;
            int tap;
            recv_fd(fl[k].sock, 0, &tap);
            int status = wait_status(fl[k].pid);
            close(fl[k].sock);
            if (tap >= 0 && status == 0) { taps[attached++] = tap; }
            else {
                if (tap >= 0) close(tap);
                if (tap < 0 && status == 1) refused++; else bad++;
            }
            done++;
            fl[k] = fl[--inflight];
        }
    }
    long elapsed = now_ms() - start;
    struct stat st;
    fstat(out, &st);
    static char tuns[1 << 16];
    int count = list_tuns(tuns, sizeof tuns);
    /* The distinct owners of the TUN devices. */
    char owners[256] = "";
    DIR *d = opendir("/sys/class/net");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], value[64];
        snprintf(path, sizeof path, "/sys/class/net/%s/owner", e->d_name);
        if (access(path, F_OK) != 0) continue;
        read_text(path, value, sizeof value);
        char probe[80];
        snprintf(probe, sizeof probe, ",%s,", value);
        char padded[300];
        snprintf(padded, sizeof padded, ",%s,", owners);
        if (!strstr(padded, probe) && strlen(owners) + strlen(value) + 2 < sizeof owners) {
            if (owners[0]) strcat(owners, ",");
            strcat(owners, value);
        }
    }
    if (d) closedir(d);
    printf("attached=%ld refused=%ld bad=%ld stdout_bytes=%lld taps=%d owners=%s elapsed_ms=%ld\n",
           attached, refused, bad, (long long)st.st_size, count, owners[0] ? owners : "-", elapsed);
    fflush(stdout);
    if (hold) wait_stdin_eof();
    long t0 = now_ms();
    for (long k = 0; k < attached; k++) close(taps[k]);
    int left = list_tuns(tuns, sizeof tuns);
    printf("taps_after_close=%d close_ms=%ld\n", left, now_ms() - t0);
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) { fprintf(stderr, "usage: b-client run|noread|early|repeat|many ...\n"); return 2; }
    const char *mode = argv[1];
    if (!strcmp(mode, "run")) return mode_run(argc - 2, argv + 2);
    if (!strcmp(mode, "noread")) return mode_noread(argc - 2, argv + 2);
    if (!strcmp(mode, "early")) return mode_early(argc - 2, argv + 2);
    if (!strcmp(mode, "repeat")) return mode_repeat(argc - 2, argv + 2);
    if (!strcmp(mode, "many")) return mode_many(argc - 2, argv + 2);
    fprintf(stderr, "b-client: unknown mode %s\n", mode);
    return 2;
}
