// bench-floor: the floor of `make bench`. A helper that does only the kernel calls of one
// QEMU-style round trip and nothing else: no ACL, no privilege drop, no process hygiene, no
// checks beyond the return codes. Written for the bench only (scripts/bench.sh builds it with
// gcc as a static PIE, like bridgekeeper-helper's default build, and installs it setuid root in
// its sandbox); never installed anywhere else. It answers the question "how fast could any
// helper be on this machine", so bridgekeeper-helper's round trip is reported against it.
//
// Command line as QEMU calls a helper: [--use-vnet] --fd=N --br=BRIDGE (in any order). With
// anything missing it prints one usage line and exits 1 (the bench's start-up probe).
// Kernel calls: open /dev/net/tun, TUNSETIFF, TUNSETOWNER (the caller's uid), an AF_INET
// socket, SIOCGIFINDEX (the TAP), SIOCBRADDIF (attach), SIOCGIFFLAGS + SIOCSIFFLAGS (up), then
// sendmsg with the descriptor as SCM_RIGHTS. The TAP goes away when QEMU (the bench) closes it.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what) {
    static const char prefix[] = "bench-floor: ";
    (void)!write(2, prefix, sizeof prefix - 1);
    (void)!write(2, what, strlen(what));
    (void)!write(2, "\n", 1);
    return 1;
}

int main(int argc, char **argv) {
    int socket_fd = -1, vnet = 0;
    const char *bridge = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--fd=", 5) == 0) socket_fd = atoi(argv[i] + 5);
        else if (strncmp(argv[i], "--br=", 5) == 0) bridge = argv[i] + 5;
        else if (strcmp(argv[i], "--use-vnet") == 0) vnet = 1;
    }
    if (socket_fd < 0 || bridge == NULL || strlen(bridge) >= IFNAMSIZ)
        return fail("usage: bench-floor [--use-vnet] --fd=N --br=BRIDGE");

    int tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (tun < 0) return fail("open /dev/net/tun");
    struct ifreq tap;
    memset(&tap, 0, sizeof tap);
    tap.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
    strcpy(tap.ifr_name, "tap%d");
    if (ioctl(tun, TUNSETIFF, &tap) < 0) return fail("TUNSETIFF");
    if (ioctl(tun, TUNSETOWNER, (unsigned long)getuid()) < 0) return fail("TUNSETOWNER");

    int control = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (control < 0) return fail("socket");
    if (ioctl(control, SIOCGIFINDEX, &tap) < 0) return fail("SIOCGIFINDEX");
    struct ifreq port;
    memset(&port, 0, sizeof port);
    strcpy(port.ifr_name, bridge);
    port.ifr_ifindex = tap.ifr_ifindex;
    if (ioctl(control, SIOCBRADDIF, &port) < 0) return fail("SIOCBRADDIF");
    if (ioctl(control, SIOCGIFFLAGS, &tap) < 0) return fail("SIOCGIFFLAGS");
    tap.ifr_flags |= IFF_UP;
    if (ioctl(control, SIOCSIFFLAGS, &tap) < 0) return fail("SIOCSIFFLAGS");

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
    if (sendmsg(socket_fd, &message, MSG_NOSIGNAL) != 1) return fail("sendmsg");
    return 0;
}
