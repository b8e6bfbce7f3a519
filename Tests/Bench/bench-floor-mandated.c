// bench-floor-mandated: the second floor of `make bench`. bench-floor.c does only the kernel
// calls of a round trip; this one adds only what every helper meeting bridgekeeper's
// requirements must also do, each done the cheapest way we know, in C, with no Swift, no
// libcap and no checks beyond the return codes:
//
//   - linked against the shared glibc (PIE, full RELRO): user= and group= names resolve
//     through NSS modules (sssd, LDAP, systemd), which only a dynamic glibc can load (issue 10);
//   - the process hygiene of contract section 4: the environment cleared, every signal
//     disposition back to its default and the mask emptied, descriptors 0-2 checked;
//   - the privilege drop of contract section 4: every bounding-set capability dropped, ambient
//     cleared, real/effective/saved gid and uid set to the caller's with only CAP_NET_ADMIN
//     kept (permitted), no_new_privs, not dumpable, then CAP_NET_ADMIN made effective for the
//     TAP work and every capability dropped before the descriptor leaves;
//   - reading the ACL, /etc/qemu/bridge.conf, after the drop (contract section 5; no parsing);
//   - deciding on the device, not the spelling (issue 7, item 1): one RTM_GETLINK resolves the
//     bridge by any of its names, the TAP is attached by index (IFLA_MASTER) and its master is
//     read back (RTM_GETLINK) before it comes up;
//   - the stock helper's TAP set-up that a drop-in keeps: the bridge's MTU and a MAC address
//     with the first byte 0xfe (both in the attaching request);
//   - the descriptor sent with a send timeout and MSG_NOSIGNAL (contract section 3), and one
//     audit record to the system log (/dev/log) per request.
//
// Left out, though bridgekeeper-helper does them: the rlimit, socket and user-namespace checks,
// ACL parsing and the decision, the TAP mark, every message but the audit record. So its round trip is a lower bound for any helper with
// bridgekeeper's requirements, and `make bench` reports ours against it next to the plain
// floor. Written for the bench only (scripts/bench.sh builds it with gcc as a dynamic PIE and
// installs it setuid root in its sandbox); never installed anywhere else.
//
// Command line as QEMU calls a helper: [--use-vnet] --fd=N --br=BRIDGE (in any order). With
// anything missing it prints one usage line and exits 1 (the bench's start-up probe).
#define _GNU_SOURCE
#include "bench-floor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/un.h>
#include <linux/capability.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

// capset with the three sets given as bit masks of the first 32 capabilities (all we need).
static int set_caps(unsigned effective, unsigned permitted) {
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    data[0].effective = effective;
    data[0].permitted = permitted;
    return (int)syscall(SYS_capset, &header, data);
}

#define NET_ADMIN (1u << CAP_NET_ADMIN)

// One rtnetlink request and its one answer (an ack or a link); returns the answer's length.
static long ask(int sock, void *request, size_t length, char *answer, size_t room) {
    if (send(sock, request, length, 0) != (ssize_t)length) return -1;
    long got = recv(sock, answer, room, 0);
    if (got < (long)sizeof(struct nlmsghdr)) return -1;
    struct nlmsghdr *header = (struct nlmsghdr *)answer;
    if (header->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *error = NLMSG_DATA(header);
        return error->error == 0 ? got : -1;
    }
    return got;
}

// An rtnetlink link request with no attributes yet.
struct link_request { struct nlmsghdr header; struct ifinfomsg info; char attributes[256]; };

static void start_request(struct link_request *request, unsigned short type, unsigned short flags, unsigned sequence, int index) {
    memset(request, 0, sizeof *request);
    request->header.nlmsg_len = NLMSG_LENGTH(sizeof request->info);
    request->header.nlmsg_type = type;
    request->header.nlmsg_flags = flags;
    request->header.nlmsg_seq = sequence;
    request->info.ifi_family = AF_UNSPEC;
    request->info.ifi_index = index;
}

static void put_attribute(struct nlmsghdr *message, unsigned short type, const void *data, size_t length) {
    struct rtattr *attribute = (struct rtattr *)((char *)message + NLMSG_ALIGN(message->nlmsg_len));
    attribute->rta_type = type;
    attribute->rta_len = RTA_LENGTH(length);
    memcpy(RTA_DATA(attribute), data, length);
    message->nlmsg_len = NLMSG_ALIGN(message->nlmsg_len) + RTA_ALIGN(attribute->rta_len);
}

// The attribute `type` of a link answer, or NULL.
static struct rtattr *find_attribute(char *answer, long length, unsigned short type) {
    struct nlmsghdr *header = (struct nlmsghdr *)answer;
    if (header->nlmsg_type != RTM_NEWLINK || header->nlmsg_len > length) return NULL;
    struct ifinfomsg *info = NLMSG_DATA(header);
    int left = (int)(header->nlmsg_len - NLMSG_LENGTH(sizeof *info));
    for (struct rtattr *a = IFLA_RTA(info); RTA_OK(a, left); a = RTA_NEXT(a, left))
        if (a->rta_type == type) return a;
    return NULL;
}

int main(int argc, char **argv) {
    // Contract section 4: nothing from the caller's environment, signal state or descriptors.
    clearenv();
    struct sigaction default_action;
    memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    for (int signal = 1; signal < NSIG; signal++)
        if (signal != SIGKILL && signal != SIGSTOP) (void)sigaction(signal, &default_action, NULL);
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd) return 1;

    struct floor_arguments arguments;
    if (floor_start("bench-floor-mandated", argc, argv, &arguments) != 0) return 1;
    int socket_fd = arguments.socket_fd, tun = arguments.tun;
    // One rtnetlink socket for the whole run, opened while privileged: the kernel checks
    // CAP_NET_ADMIN against the socket's opener as well as the caller at each change.
    int route = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (route < 0) return floor_fail("socket(NETLINK_ROUTE)");

    // Contract section 4.
    uid_t uid = getuid();
    gid_t gid = getgid();
    int cap = 0;
    while (prctl(PR_CAPBSET_DROP, cap) == 0) cap++;  // until EINVAL: past the kernel's last capability
    if (cap < CAP_NET_ADMIN) return floor_fail("PR_CAPBSET_DROP");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return floor_fail("PR_CAP_AMBIENT_CLEAR_ALL");
    if (setresgid(gid, gid, gid) != 0) return floor_fail("setresgid");
    if (prctl(PR_SET_KEEPCAPS, 1) != 0) return floor_fail("PR_SET_KEEPCAPS");
    if (setresuid(uid, uid, uid) != 0) return floor_fail("setresuid");
    if (set_caps(0, NET_ADMIN) != 0) return floor_fail("capset");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return floor_fail("PR_SET_NO_NEW_PRIVS");
    if (prctl(PR_SET_DUMPABLE, 0) != 0) return floor_fail("PR_SET_DUMPABLE");
    if (uid != 0 && setuid(0) == 0) return floor_fail("setuid(0) succeeded after the drop");

    // Contract section 5: the ACL, read as the caller.
    int acl = open("/etc/qemu/bridge.conf", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (acl < 0) return floor_fail("open /etc/qemu/bridge.conf");
    char text[4096];
    if (read(acl, text, sizeof text) < 0) return floor_fail("read /etc/qemu/bridge.conf");
    close(acl);

    // Issue 7, item 1: the bridge as the kernel resolves the name (canonical or alternative).
    char answer[8192];
    struct link_request request;
    start_request(&request, RTM_GETLINK, NLM_F_REQUEST, 1, 0);
    put_attribute(&request.header, IFLA_IFNAME, arguments.bridge, strlen(arguments.bridge) + 1);
    long got = ask(route, &request, request.header.nlmsg_len, answer, sizeof answer);
    if (got < 0) return floor_fail("RTM_GETLINK (bridge)");
    int bridge_index = ((struct ifinfomsg *)NLMSG_DATA((struct nlmsghdr *)answer))->ifi_index;
    struct rtattr *mtu_attribute = find_attribute(answer, got, IFLA_MTU);
    if (mtu_attribute == NULL) return floor_fail("RTM_GETLINK (bridge): no IFLA_MTU");
    unsigned mtu;
    memcpy(&mtu, RTA_DATA(mtu_attribute), sizeof mtu);

    // The TAP, with CAP_NET_ADMIN effective only for this part.
    if (set_caps(NET_ADMIN, NET_ADMIN) != 0) return floor_fail("capset (raise)");
    struct ifreq tap;
    memset(&tap, 0, sizeof tap);
    tap.ifr_flags = IFF_TAP | IFF_NO_PI | (arguments.vnet ? IFF_VNET_HDR : 0);
    strcpy(tap.ifr_name, "tap%d");
    if (ioctl(tun, TUNSETIFF, &tap) < 0) return floor_fail("TUNSETIFF");
    if (ioctl(tun, TUNSETOWNER, (unsigned long)uid) < 0) return floor_fail("TUNSETOWNER");
    int control = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (control < 0) return floor_fail("socket");
    if (ioctl(control, SIOCGIFINDEX, &tap) < 0) return floor_fail("SIOCGIFINDEX");
    int tap_index = tap.ifr_ifindex;
    struct ifreq address = tap;
    if (ioctl(control, SIOCGIFHWADDR, &address) < 0) return floor_fail("SIOCGIFHWADDR");
    address.ifr_hwaddr.sa_data[0] = (char)0xfe;

    // MTU, MAC and master (by index) in one request, then the master read back.
    start_request(&request, RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, 2, tap_index);
    put_attribute(&request.header, IFLA_ADDRESS, address.ifr_hwaddr.sa_data, 6);
    put_attribute(&request.header, IFLA_MTU, &mtu, sizeof mtu);
    put_attribute(&request.header, IFLA_MASTER, &bridge_index, sizeof bridge_index);
    if (ask(route, &request, request.header.nlmsg_len, answer, sizeof answer) < 0) return floor_fail("RTM_SETLINK (attach)");
    start_request(&request, RTM_GETLINK, NLM_F_REQUEST, 3, tap_index);
    got = ask(route, &request, request.header.nlmsg_len, answer, sizeof answer);
    if (got < 0) return floor_fail("RTM_GETLINK (TAP)");
    struct rtattr *master = find_attribute(answer, got, IFLA_MASTER);
    int master_index = 0;
    if (master != NULL) memcpy(&master_index, RTA_DATA(master), sizeof master_index);
    if (master_index != bridge_index) return floor_fail("the TAP's master is not the bridge");

    if (ioctl(control, SIOCGIFFLAGS, &tap) < 0) return floor_fail("SIOCGIFFLAGS");
    tap.ifr_flags |= IFF_UP;
    if (ioctl(control, SIOCSIFFLAGS, &tap) < 0) return floor_fail("SIOCSIFFLAGS");
    if (set_caps(0, 0) != 0) return floor_fail("capset (drop)");

    struct timeval timeout = { .tv_sec = 5, .tv_usec = 0 };
    if (setsockopt(socket_fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0) return floor_fail("SO_SNDTIMEO");
    if (floor_send(socket_fd, tun) != 0) return 1;

    // The audit record (its delivery is not checked: the bench's sandbox has no system log).
    int log = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (log >= 0) {
        struct sockaddr_un address = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
        static const char record[] = "<85>bench-floor-mandated: result=allow";
        (void)sendto(log, record, sizeof record - 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&address, sizeof address);
        close(log);
    }
    return 0;
}
