/* A minimal QEMU-style client for the kernel-devices guest (static, no libc beyond glibc):
 *   guest-client [-u UID] HELPER ARG...     ("{fd}" in an ARG becomes the socket number)
 * Makes a socketpair, optionally drops to UID (so a setuid HELPER runs as that user), execs
 * HELPER, receives one byte + one SCM_RIGHTS descriptor, reaps it, and prints the result line
 * every client of the test tree prints (bridgekeeper try's):
 *   result=attached|refused|protocol-violation helper_exit=N helper_stdout_bytes=N tap=NAME|-
 * (helper_exit is the exit status, or 128 + the signal number; "attached" = exit 0 with one byte
 * 0x00 and one descriptor). The helper's stderr is passed through unchanged.
 *
 * Session form, for frame-level checks on several TAPs held at once (VLANs, port isolation):
 *   guest-client -s HELPER STEP...
 *     attach:NAME:UID:BRIDGE  runs HELPER --br=BRIDGE --fd=N as UID (no --use-vnet: frames are
 *                             raw Ethernet) and keeps the descriptor as NAME; prints
 *                             "attach NAME " + the result line above
 *     run:COMMAND             sh -c COMMAND while every descriptor is held
 *     send:NAME               drains every descriptor, writes one broadcast frame (EtherType
 *                             0x88b5, a token in the payload) into NAME's, then for 1.5 s reads
 *                             the others and prints "frame NAME->OTHER seen|unseen" for each
 *     inject:NAME:MAC         writes one broadcast frame with source MAC (aa:bb:cc:dd:ee:ff) into
 *                             NAME's descriptor and waits for nothing: the bridge learns MAC on
 *                             NAME's TAP in its VLAN (tun hands the frame to the bridge within the
 *                             write); prints "inject NAME MAC ok|failed"
 * Descriptors close (and the TAPs disappear) when the session ends. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Runs the helper (args[0]) as uid (-1: unchanged) and prints the result line; returns the
 * descriptor it handed over (or -1), its TAP name in name. */
static int attach(long uid, char **argv, int argc, char name[IFNAMSIZ]) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) { perror("socketpair"); exit(2); }
    fcntl(sv[0], F_SETFD, FD_CLOEXEC);
    char number[16];
    snprintf(number, sizeof number, "%d", sv[1]);
    char **args = calloc((size_t)argc + 1, sizeof *args);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *m = strstr(a, "{fd}");
        if (m) {
            size_t n = strlen(a) + 16;
            args[i] = malloc(n);
            snprintf(args[i], n, "%.*s%s%s", (int)(m - a), a, number, m + 4);
        } else {
            args[i] = argv[i];
        }
    }
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) { perror("pipe"); exit(2); }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(out[1], 1) != 1) _exit(125);
        if (uid >= 0 && (setresgid((gid_t)uid, (gid_t)uid, (gid_t)uid) != 0 ||
                         setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0)) _exit(126);
        char *env[] = { NULL };
        execve(args[0], args, env);
        _exit(127);
    }
    close(sv[1]);
    close(out[1]);
    char byte = 1;
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    int fd = -1;
    ssize_t got = recvmsg(sv[0], &msg, 0);
    if (got == 1) {
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (c && c->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(c), sizeof fd);
    }
    close(sv[0]);
    size_t stdout_bytes = 0;
    char sink[4096];
    ssize_t n;
    while ((n = read(out[0], sink, sizeof sink)) > 0) stdout_bytes += (size_t)n;
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    strcpy(name, "-");
    if (fd >= 0) {
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        if (ioctl(fd, TUNGETIFF, &ifr) == 0) memcpy(name, ifr.ifr_name, IFNAMSIZ);
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const char *result = "protocol-violation";
    if (code == 0 && fd >= 0 && got == 1 && byte == 0) result = "attached";
    else if (code != 0 && fd < 0) result = "refused";
    printf("result=%s helper_exit=%d helper_stdout_bytes=%zu tap=%s\n", result, code, stdout_bytes, name);
    fflush(stdout);
    free(args);
    return fd;
}

#define MAX_TAPS 16
struct held { char label[32]; int fd; };

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void drain(int fd) {
    char buf[2048];
    while (read(fd, buf, sizeof buf) > 0) {}
}

/* One broadcast frame from `from` (index i), then which other descriptors it reached. */
static void send_frame(struct held *taps, int count, int i, unsigned serial) {
    for (int k = 0; k < count; k++) drain(taps[k].fd);
    unsigned char frame[96];
    memset(frame, 0, sizeof frame);
    memset(frame, 0xff, 6);                                   /* broadcast */
    unsigned char src[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, (unsigned char)(i + 1) };
    memcpy(frame + 6, src, 6);
    frame[12] = 0x88; frame[13] = 0xb5;                       /* local experimental EtherType */
    char token[64];
    snprintf(token, sizeof token, "bk-frame %s %u", taps[i].label, serial);
    memcpy(frame + 14, token, strlen(token));
    if (write(taps[i].fd, frame, sizeof frame) != (ssize_t)sizeof frame) {
        printf("frame %s write-failed errno=%d\n", taps[i].label, errno);
        return;
    }
    int seen[MAX_TAPS] = { 0 };
    long long deadline = now_ms() + 1500;
    for (long long left; (left = deadline - now_ms()) > 0;) {
        struct pollfd p[MAX_TAPS];
        for (int k = 0; k < count; k++) { p[k].fd = taps[k].fd; p[k].events = POLLIN; p[k].revents = 0; }
        if (poll(p, (nfds_t)count, (int)left) <= 0) continue;
        for (int k = 0; k < count; k++) {
            if (k == i || !(p[k].revents & POLLIN)) continue;
            unsigned char buf[2048];
            ssize_t n;
            while ((n = read(taps[k].fd, buf, sizeof buf)) > 0) {
                if (n >= 14 + (ssize_t)strlen(token) && buf[12] == 0x88 && buf[13] == 0xb5 &&
                    memcmp(buf + 14, token, strlen(token)) == 0) seen[k] = 1;
            }
        }
    }
    for (int k = 0; k < count; k++) {
        if (k != i) printf("frame %s->%s %s\n", taps[i].label, taps[k].label, seen[k] ? "seen" : "unseen");
    }
    fflush(stdout);
}

/* One broadcast frame with source MAC `mac` into `fd`, for the bridge to learn that MAC there. */
static int inject_frame(int fd, const unsigned char mac[6]) {
    unsigned char frame[64];
    memset(frame, 0, sizeof frame);
    memset(frame, 0xff, 6);
    memcpy(frame + 6, mac, 6);
    frame[12] = 0x88; frame[13] = 0xb5;
    return write(fd, frame, sizeof frame) == (ssize_t)sizeof frame ? 0 : -1;
}

static int session(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: guest-client -s HELPER STEP...\n"); return 2; }
    char *helper = argv[2];
    struct held taps[MAX_TAPS];
    int count = 0;
    unsigned serial = 0;
    for (int a = 3; a < argc; a++) {
        char *step = argv[a];
        if (strncmp(step, "attach:", 7) == 0) {
            char label[32], bridge[32];
            long uid;
            if (sscanf(step + 7, "%31[^:]:%ld:%31s", label, &uid, bridge) != 3 || count == MAX_TAPS) {
                fprintf(stderr, "guest-client: bad step '%s'\n", step);
                return 2;
            }
            char br[48];
            snprintf(br, sizeof br, "--br=%s", bridge);
            char *args[] = { helper, br, "--fd={fd}" };
            char name[IFNAMSIZ];
            printf("attach %s ", label);
            int fd = attach(uid, args, 3, name);
            if (fd >= 0) {
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
                snprintf(taps[count].label, sizeof taps[count].label, "%s", label);
                taps[count].fd = fd;
                count++;
            }
        } else if (strncmp(step, "run:", 4) == 0) {
            fflush(stdout);
            if (system(step + 4) != 0) printf("run-failed %s\n", step + 4);
            fflush(stdout);
        } else if (strncmp(step, "send:", 5) == 0) {
            int i = -1;
            for (int k = 0; k < count; k++) if (strcmp(taps[k].label, step + 5) == 0) i = k;
            if (i < 0) printf("frame %s not-attached\n", step + 5);
            else send_frame(taps, count, i, ++serial);
        } else if (strncmp(step, "inject:", 7) == 0) {
            char label[32];
            unsigned char mac[6];
            char end;
            if (sscanf(step + 7, "%31[^:]:%hhx:%hhx:%hhx:%hhx:%hhx:%hhx%c", label, &mac[0], &mac[1], &mac[2],
                       &mac[3], &mac[4], &mac[5], &end) != 7) {
                fprintf(stderr, "guest-client: bad step '%s'\n", step);
                return 2;
            }
            int i = -1;
            for (int k = 0; k < count; k++) if (strcmp(taps[k].label, label) == 0) i = k;
            printf("inject %s %s %s\n", label, strchr(step + 7, ':') + 1,
                   i >= 0 && inject_frame(taps[i].fd, mac) == 0 ? "ok" : "failed");
            fflush(stdout);
        } else {
            fprintf(stderr, "guest-client: bad step '%s'\n", step);
            return 2;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "-s") == 0) return session(argc, argv);
    int first = 1;
    long uid = -1;
    if (argc > 2 && strcmp(argv[1], "-u") == 0) { uid = strtol(argv[2], NULL, 10); first = 3; }
    if (first >= argc) { fprintf(stderr, "usage: guest-client [-u UID] HELPER ARG...\n"); return 2; }
    char name[IFNAMSIZ];
    int fd = attach(uid, argv + first, argc - first, name);
    (void)fd;
    return 0;
}
