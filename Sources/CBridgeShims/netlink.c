// Implementation of CBridgeNetlink.h; see there for why it exists.
#define _GNU_SOURCE
#include "CBridgeNetlink.h"

#include <errno.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/nsfs.h>
#include <linux/sockios.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(struct nlmsghdr) == bk_nlmsghdr_size, "nlmsghdr mirrored");
_Static_assert(sizeof(struct ifinfomsg) == bk_ifinfomsg_size, "ifinfomsg mirrored");
_Static_assert(sizeof(struct nlattr) == bk_nlattr_size, "nlattr mirrored");
_Static_assert(sizeof(struct nlmsgerr) == bk_nlmsgerr_size, "nlmsgerr mirrored");
_Static_assert(sizeof(struct bridge_vlan_info) == bk_bridge_vlan_info_size, "bridge_vlan_info mirrored");

const int bk_af_netlink = AF_NETLINK;
const int bk_netlink_route = NETLINK_ROUTE;
const int bk_sol_netlink = SOL_NETLINK;
const int bk_netlink_ext_ack = NETLINK_EXT_ACK;
const int bk_netlink_cap_ack = NETLINK_CAP_ACK;
const int bk_msg_trunc = MSG_TRUNC;

const uint16_t bk_nlmsg_error = NLMSG_ERROR;
const uint16_t bk_nlmsg_done = NLMSG_DONE;
const uint16_t bk_rtm_newlink = RTM_NEWLINK;
const uint16_t bk_rtm_getlink = RTM_GETLINK;
const uint16_t bk_rtm_setlink = RTM_SETLINK;
const uint16_t bk_rtm_dellink = RTM_DELLINK;
const uint16_t bk_nlm_f_dump = NLM_F_DUMP;
const uint16_t bk_nlm_f_multi = NLM_F_MULTI;
const uint16_t bk_nlm_f_dump_intr = NLM_F_DUMP_INTR;
const uint16_t bk_nlm_f_request = NLM_F_REQUEST;
const uint16_t bk_nlm_f_ack = NLM_F_ACK;
const uint16_t bk_nla_f_nested = NLA_F_NESTED;
const uint16_t bk_nla_type_mask = NLA_TYPE_MASK;

const uint16_t bk_ifla_address = IFLA_ADDRESS;
const uint16_t bk_ifla_ifname = IFLA_IFNAME;
const uint16_t bk_ifla_mtu = IFLA_MTU;
const uint16_t bk_ifla_master = IFLA_MASTER;
const uint16_t bk_ifla_linkinfo = IFLA_LINKINFO;
const uint16_t bk_ifla_info_kind = IFLA_INFO_KIND;
const uint16_t bk_ifla_info_data = IFLA_INFO_DATA;
const uint16_t bk_ifla_tun_owner = IFLA_TUN_OWNER;
const uint16_t bk_ifla_tun_type = IFLA_TUN_TYPE;
const uint16_t bk_ifla_tun_persist = IFLA_TUN_PERSIST;
const uint16_t bk_ifla_tun_num_queues = IFLA_TUN_NUM_QUEUES;
const uint16_t bk_ifla_tun_num_disabled_queues = IFLA_TUN_NUM_DISABLED_QUEUES;
const uint16_t bk_ifla_ifalias = IFLA_IFALIAS;
const uint16_t bk_ifla_carrier = IFLA_CARRIER;
const uint16_t bk_ifla_ext_mask = IFLA_EXT_MASK;
const uint16_t bk_ifla_prop_list = IFLA_PROP_LIST;
const uint16_t bk_ifla_alt_ifname = IFLA_ALT_IFNAME;
const uint32_t bk_rtext_filter_skip_stats = RTEXT_FILTER_SKIP_STATS;

const uint8_t bk_af_bridge = AF_BRIDGE;
const uint16_t bk_ifla_protinfo = IFLA_PROTINFO;
const uint16_t bk_ifla_af_spec = IFLA_AF_SPEC;
const uint16_t bk_ifla_bridge_vlan_info = IFLA_BRIDGE_VLAN_INFO;
const uint16_t bk_bridge_vlan_info_pvid = BRIDGE_VLAN_INFO_PVID;
const uint16_t bk_bridge_vlan_info_untagged = BRIDGE_VLAN_INFO_UNTAGGED;
const uint16_t bk_bridge_vlan_info_range_begin = BRIDGE_VLAN_INFO_RANGE_BEGIN;
const uint16_t bk_bridge_vlan_info_range_end = BRIDGE_VLAN_INFO_RANGE_END;
const uint16_t bk_ifla_brport_isolated = IFLA_BRPORT_ISOLATED;
const uint16_t bk_ifla_br_vlan_filtering = IFLA_BR_VLAN_FILTERING;
const uint16_t bk_ifla_br_vlan_default_pvid = IFLA_BR_VLAN_DEFAULT_PVID;
const uint32_t bk_rtext_filter_brvlan = RTEXT_FILTER_BRVLAN;

int bk_tun_get_hwaddr(int tunfd, uint8_t mac[6]) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (ioctl(tunfd, SIOCGIFHWADDR, &ifr) < 0) return -1;
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}

int bk_tun_set_hwaddr(int tunfd, const uint8_t mac[6]) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
    return ioctl(tunfd, SIOCSIFHWADDR, &ifr);
}

const uint64_t bk_initial_user_namespace_inode = 0xEFFFFFFDU;

int bk_netns_owner_inode(int sock, uint64_t *inode, uint64_t *netns_inode) {
    // Both ioctls take no argument; an explicit 0 keeps the variadic slot defined.
    int netns = ioctl(sock, SIOCGSKNS, 0);
    if (netns < 0) return -1;
    struct stat info;
    if (netns_inode != NULL && fstat(netns, &info) == 0) *netns_inode = (uint64_t)info.st_ino;
    int userns = ioctl(netns, NS_GET_USERNS, 0);
    int saved = errno;
    close(netns);
    if (userns < 0) { errno = saved; return -1; }
    int status = fstat(userns, &info);
    saved = errno;
    close(userns);
    if (status < 0) { errno = saved; return -1; }
    *inode = (uint64_t)info.st_ino;
    return 0;
}
