// What the bench's two floors (bench-floor.c, bench-floor-mandated.c) share: QEMU's command line
// for a helper, the one-line failure, and the hand-off of the TAP's descriptor. Bench only.
#ifndef BENCH_FLOOR_H
#define BENCH_FLOOR_H

#include <fcntl.h>
#include <linux/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// Set by each floor to its own name, for floor_fail.
static const char *floor_program;

static int floor_fail(const char *what) {
    (void)!write(2, floor_program, strlen(floor_program));
    (void)!write(2, ": ", 2);
    (void)!write(2, what, strlen(what));
    (void)!write(2, "\n", 1);
    return 1;
}

struct floor_arguments {
    int socket_fd;
    int vnet;
    const char *bridge;
    int tun;  // /dev/net/tun, opened by floor_start
};

// Names the program, reads [--use-vnet] --fd=N --br=BRIDGE (in any order) and opens
// /dev/net/tun; 0 if done, else 1 after the usage line or the failure.
static int floor_start(const char *program, int argc, char **argv, struct floor_arguments *out) {
    floor_program = program;
    out->tun = -1;
    out->socket_fd = -1;
    out->vnet = 0;
    out->bridge = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--fd=", 5) == 0) out->socket_fd = atoi(argv[i] + 5);
        else if (strncmp(argv[i], "--br=", 5) == 0) out->bridge = argv[i] + 5;
        else if (strcmp(argv[i], "--use-vnet") == 0) out->vnet = 1;
    }
    if (out->socket_fd < 0 || out->bridge == NULL || strlen(out->bridge) >= IFNAMSIZ)
        return floor_fail("usage: [--use-vnet] --fd=N --br=BRIDGE");
    out->tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (out->tun < 0) return floor_fail("open /dev/net/tun");
    return 0;
}

// One byte with the descriptor as SCM_RIGHTS, never SIGPIPE; 0 if sent, else 1 after a line.
static int floor_send(int socket_fd, int tun) {
    char byte = 0;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int))]; } control_data;
    memset(&control_data, 0, sizeof control_data);
    struct msghdr message = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = control_data.space, .msg_controllen = sizeof control_data.space };
    struct cmsghdr *rights = CMSG_FIRSTHDR(&message);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(rights), &tun, sizeof(int));
    if (sendmsg(socket_fd, &message, MSG_NOSIGNAL) != 1) return floor_fail("sendmsg");
    return 0;
}

#endif
