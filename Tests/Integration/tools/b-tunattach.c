/* b-tunattach: what any local user can try with a TAP name: open /dev/net/tun and TUNSETIFF
 * NAME with IFF_TAP|IFF_NO_PI (attach to an existing persistent TAP, or create one).
 *   b-tunattach NAME [--setowner UID]
 * Prints `attached NAME` and exits 0, or `TUNSETIFF: ERRNAME` / `open: ERRNAME` and exits 1.
 * --setowner: after attaching, try TUNSETOWNER UID through the descriptor and print
 * `setowner UID: ok` or `setowner UID: ERRNAME` (informational).
 * Built with `cc` at test time (t-h-devices). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2 && !(argc == 4 && !strcmp(argv[2], "--setowner"))) {
        fprintf(stderr, "usage: b-tunattach NAME [--setowner UID]\n");
        return 2;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) { printf("open: %s\n", strerrorname_np(errno)); return 1; }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { printf("TUNSETIFF: %s\n", strerrorname_np(errno)); return 1; }
    printf("attached %s\n", ifr.ifr_name);
    if (argc == 4) {
        unsigned long uid = strtoul(argv[3], NULL, 10);
        if (ioctl(fd, TUNSETOWNER, uid) < 0) printf("setowner %lu: %s\n", uid, strerrorname_np(errno));
        else printf("setowner %lu: ok\n", uid);
    }
    close(fd);
    return 0;
}
