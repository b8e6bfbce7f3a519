// Constants for the rtnetlink layer (Sources/BridgeSystem/Netlink.swift) and the TUN address
// ioctls. They are enum members or macros in <linux/netlink.h>, <linux/rtnetlink.h> and
// <linux/if_link.h>; mirroring them here as `extern const` lets Swift use the kernel headers'
// own values instead of hand-copied numbers (the unit tests also pin them to the bytes that
// iproute2 sends, see Tests/BridgeSystemTests).
#ifndef CBRIDGENETLINK_H
#define CBRIDGENETLINK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Socket family and protocol: AF_NETLINK, NETLINK_ROUTE; socket options NETLINK_EXT_ACK,
/// NETLINK_CAP_ACK (do not echo the request inside an error), SOL_NETLINK.
extern const int bk_af_netlink;
extern const int bk_netlink_route;
extern const int bk_sol_netlink;
extern const int bk_netlink_ext_ack;
extern const int bk_netlink_cap_ack;
/// recv flag MSG_TRUNC: a datagram's whole length is returned even when the buffer is shorter.
extern const int bk_msg_trunc;

/// Message types and flags (<linux/netlink.h>, <linux/rtnetlink.h>).
extern const uint16_t bk_nlmsg_error;
extern const uint16_t bk_nlmsg_done;
extern const uint16_t bk_rtm_newlink;
extern const uint16_t bk_rtm_getlink;
extern const uint16_t bk_rtm_setlink;
extern const uint16_t bk_rtm_dellink;
extern const uint16_t bk_nlm_f_dump;
extern const uint16_t bk_nlm_f_multi;
/// Set on dump messages when the table changed during the dump (the dump is then retried).
extern const uint16_t bk_nlm_f_dump_intr;
extern const uint16_t bk_nlm_f_request;
extern const uint16_t bk_nlm_f_ack;
extern const uint16_t bk_nla_f_nested;
extern const uint16_t bk_nla_type_mask;

/// Link attributes (<linux/if_link.h>).
extern const uint16_t bk_ifla_address;
extern const uint16_t bk_ifla_ifname;
extern const uint16_t bk_ifla_mtu;
extern const uint16_t bk_ifla_master;
extern const uint16_t bk_ifla_linkinfo;
extern const uint16_t bk_ifla_info_kind;
/// IFLA_INFO_DATA, and inside it for kind "tun" (drivers/net/tun.c, tun_fill_info): the owner
/// (u32, only when one is set), the type (u8: IFF_TUN or IFF_TAP), persistence (u8).
extern const uint16_t bk_ifla_info_data;
extern const uint16_t bk_ifla_tun_owner;
extern const uint16_t bk_ifla_tun_type;
extern const uint16_t bk_ifla_tun_persist;
/// Attached and disabled queues (u32 each), sent for multiqueue devices only.
extern const uint16_t bk_ifla_tun_num_queues;
extern const uint16_t bk_ifla_tun_num_disabled_queues;
extern const uint16_t bk_ifla_ifalias;
/// IFLA_CARRIER (u8): for a TAP, on while some descriptor is attached to it.
extern const uint16_t bk_ifla_carrier;
extern const uint16_t bk_ifla_ext_mask;
extern const uint16_t bk_ifla_prop_list;
extern const uint16_t bk_ifla_alt_ifname;
extern const uint32_t bk_rtext_filter_skip_stats;

/// Bridge ports and VLANs (<linux/if_bridge.h>, <linux/if_link.h>): AF_BRIDGE requests carry
/// IFLA_AF_SPEC { IFLA_BRIDGE_VLAN_INFO {u16 flags, u16 vid} } and IFLA_PROTINFO { IFLA_BRPORT_* }.
extern const uint8_t bk_af_bridge;
extern const uint16_t bk_ifla_protinfo;
extern const uint16_t bk_ifla_af_spec;
extern const uint16_t bk_ifla_bridge_vlan_info;
extern const uint16_t bk_bridge_vlan_info_pvid;
extern const uint16_t bk_bridge_vlan_info_untagged;
extern const uint16_t bk_bridge_vlan_info_range_begin;
extern const uint16_t bk_bridge_vlan_info_range_end;
/// IFLA_BRPORT_ISOLATED (u8, Linux 4.18): the port reaches non-isolated ports only.
extern const uint16_t bk_ifla_brport_isolated;
/// In a bridge's IFLA_INFO_DATA: IFLA_BR_VLAN_FILTERING (u8), IFLA_BR_VLAN_DEFAULT_PVID (u16).
extern const uint16_t bk_ifla_br_vlan_filtering;
extern const uint16_t bk_ifla_br_vlan_default_pvid;
/// IFLA_EXT_MASK bit asking a bridge dump for each port's VLAN list.
extern const uint32_t bk_rtext_filter_brvlan;

/// Struct sizes the Swift encoder relies on (checked with _Static_assert in netlink.c).
enum { bk_nlmsghdr_size = 16, bk_ifinfomsg_size = 16, bk_nlattr_size = 4, bk_nlmsgerr_size = 20,
       bk_bridge_vlan_info_size = 4 };

/// SIOCGIFHWADDR / SIOCSIFHWADDR on the TUN descriptor itself: the tun driver answers them for
/// its own device, so the TAP's MAC is read and set without looking its name up.
int bk_tun_get_hwaddr(int tunfd, uint8_t mac[6]);
int bk_tun_set_hwaddr(int tunfd, const uint8_t mac[6]);

/// The inode number of the user namespace that owns the network namespace of `sock`, through
/// SIOCGSKNS (socket -> its network namespace) and NS_GET_USERNS (-> the owning user namespace).
/// Nothing here goes through a path, so no mount or chroot can change the answer. SIOCGSKNS
/// needs CAP_NET_ADMIN over that network namespace (EPERM otherwise). On the way, the network
/// namespace's own inode goes to `*netns` (when not NULL) as soon as SIOCGSKNS succeeded, even
/// if NS_GET_USERNS then fails: the audit record names the namespace the helper acted in.
int bk_netns_owner_inode(int sock, uint64_t *inode, uint64_t *netns);
/// The initial user namespace's fixed nsfs inode number (PROC_USER_INIT_INO, 0xEFFFFFFD), stable
/// kernel ABI since Linux 3.8.
extern const uint64_t bk_initial_user_namespace_inode;

#ifdef __cplusplus
}
#endif
#endif
