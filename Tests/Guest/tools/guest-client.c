/* A minimal QEMU-style client for the kernel-devices guest (static, no libc beyond glibc):
 *   guest-client [-u UID] HELPER ARG...     ("{fd}" in an ARG becomes the socket number)
 * Makes a socketpair, optionally drops to UID (so a setuid HELPER runs as that user), execs
 * HELPER, receives one byte + one SCM_RIGHTS descriptor, reaps it, and prints the result line
 * every client of the test tree prints (bridgekeeper try's):
 *   result=attached|refused|protocol-violation helper_exit=N helper_stdout_bytes=N tap=NAME|-
 * (helper_exit is the exit status, or 128 + the signal number; "attached" = exit 0 with one byte
 * 0x00 and one descriptor). The helper's stderr is passed through unchanged. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int first = 1;
    long uid = -1;
    if (argc > 2 && strcmp(argv[1], "-u") == 0) { uid = strtol(argv[2], NULL, 10); first = 3; }
    if (first >= argc) { fprintf(stderr, "usage: guest-client [-u UID] HELPER ARG...\n"); return 2; }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) { perror("socketpair"); return 2; }
    fcntl(sv[0], F_SETFD, FD_CLOEXEC);
    char number[16];
    snprintf(number, sizeof number, "%d", sv[1]);
    char **args = calloc((size_t)(argc - first + 1), sizeof *args);
    for (int i = first; i < argc; i++) {
        const char *a = argv[i], *m = strstr(a, "{fd}");
        if (m) {
            size_t n = strlen(a) + 16;
            args[i - first] = malloc(n);
            snprintf(args[i - first], n, "%.*s%s%s", (int)(m - a), a, number, m + 4);
        } else {
            args[i - first] = argv[i];
        }
    }
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) { perror("pipe"); return 2; }
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
    size_t stdout_bytes = 0;
    char sink[4096];
    ssize_t n;
    while ((n = read(out[0], sink, sizeof sink)) > 0) stdout_bytes += (size_t)n;
    int status = 0;
    waitpid(pid, &status, 0);
    char name[IFNAMSIZ] = "-";
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
    return 0;
}
