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
#include "bench-floor.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    struct floor_arguments arguments;
    if (floor_start("bench-floor", argc, argv, &arguments) != 0) return 1;
    int socket_fd = arguments.socket_fd, tun = arguments.tun;
    struct ifreq tap;
    memset(&tap, 0, sizeof tap);
    tap.ifr_flags = IFF_TAP | IFF_NO_PI | (arguments.vnet ? IFF_VNET_HDR : 0);
    strcpy(tap.ifr_name, "tap%d");
    if (ioctl(tun, TUNSETIFF, &tap) < 0) return floor_fail("TUNSETIFF");
    if (ioctl(tun, TUNSETOWNER, (unsigned long)getuid()) < 0) return floor_fail("TUNSETOWNER");

    int control = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (control < 0) return floor_fail("socket");
    if (ioctl(control, SIOCGIFINDEX, &tap) < 0) return floor_fail("SIOCGIFINDEX");
    struct ifreq port;
    memset(&port, 0, sizeof port);
    strcpy(port.ifr_name, arguments.bridge);
    port.ifr_ifindex = tap.ifr_ifindex;
    if (ioctl(control, SIOCBRADDIF, &port) < 0) return floor_fail("SIOCBRADDIF");
    if (ioctl(control, SIOCGIFFLAGS, &tap) < 0) return floor_fail("SIOCGIFFLAGS");
    tap.ifr_flags |= IFF_UP;
    if (ioctl(control, SIOCSIFFLAGS, &tap) < 0) return floor_fail("SIOCSIFFLAGS");

    if (floor_send(socket_fd, tun) != 0) return 1;
    return 0;
}
