#include "host/netlink_network_info.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace nodeagent {

namespace {

/// A dump interrupted by a change of the table (NLM_F_DUMP_INTR) is read
/// again, this many times in all.
constexpr int kDumpAttempts = 3;

struct SocketCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using Socket = std::unique_ptr<mnl_socket, SocketCloser>;

int FamilyNumber(AddressFamily f) { return f == AddressFamily::kIpv4 ? AF_INET : AF_INET6; }

std::optional<IpAddress> AddressFrom(int family, const void* data, size_t len) {
  IpAddress a;
  if (family == AF_INET && len == 4) {
    a.family = AddressFamily::kIpv4;
  } else if (family == AF_INET6 && len == 16) {
    a.family = AddressFamily::kIpv6;
  } else {
    return std::nullopt;
  }
  std::memcpy(a.bytes.data(), data, len);
  return a;
}

std::optional<IpAddress> AddressAttr(int family, const nlattr* attr) {
  return AddressFrom(family, mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr));
}

uint32_t U32Attr(const nlattr* attr) {
  return mnl_attr_get_payload_len(attr) >= sizeof(uint32_t) ? mnl_attr_get_u32(attr) : 0;
}

std::string ScopeName(unsigned scope) {
  switch (scope) {
    case RT_SCOPE_UNIVERSE: return "global";
    case RT_SCOPE_SITE: return "site";
    case RT_SCOPE_LINK: return "link";
    case RT_SCOPE_HOST: return "host";
    case RT_SCOPE_NOWHERE: return "nowhere";
    default: return std::to_string(scope);
  }
}

/// The names of /etc/iproute2/rt_protos, which `ip route` prints.
std::string ProtocolName(unsigned proto) {
  static const std::map<unsigned, const char*> kNames = {
      {0, "unspec"}, {1, "redirect"}, {2, "kernel"}, {3, "boot"},   {4, "static"},     {8, "gated"},
      {9, "ra"},     {10, "mrt"},     {11, "zebra"}, {12, "bird"},  {13, "dnrouted"},  {14, "xorp"},
      {15, "ntk"},   {16, "dhcp"},    {18, "keepalived"}, {42, "babel"}, {99, "openr"}, {186, "bgp"},
      {187, "isis"}, {188, "ospf"},   {189, "rip"},  {192, "eigrp"}};
  auto it = kNames.find(proto);
  return it == kNames.end() ? std::to_string(proto) : it->second;
}

std::string RouteTypeName(unsigned type) {
  static const char* const kNames[] = {"unspec",    "unicast",     "local",    "broadcast", "anycast", "multicast",
                                       "blackhole", "unreachable", "prohibit", "throw",     "nat",     "xresolve"};
  return type < sizeof kNames / sizeof kNames[0] ? kNames[type] : std::to_string(type);
}

std::string OperstateName(unsigned state) {
  static const char* const kNames[] = {"UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"};
  return state < sizeof kNames / sizeof kNames[0] ? kNames[state] : std::to_string(state);
}

std::string MacText(const uint8_t* b) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return buf;
}

/// Calls `f` with each attribute in [first, end): libmnl's iteration macros
/// assign a void*, which C++ does not convert implicitly.
template <typename F>
void ForEachAttr(const void* first, const void* end, F f) {
  const auto* attr = static_cast<const nlattr*>(first);
  while (mnl_attr_ok(attr, static_cast<int>(static_cast<const char*>(end) - reinterpret_cast<const char*>(attr)))) {
    f(attr);
    attr = mnl_attr_next(attr);
  }
}

/// The attributes of a message after its family header of `header_size` bytes.
template <typename F>
void ForEachAttr(const nlmsghdr* nlh, size_t header_size, F f) {
  ForEachAttr(mnl_nlmsg_get_payload_offset(nlh, header_size), mnl_nlmsg_get_payload_tail(nlh), f);
}

/// The attributes nested in `attr`.
template <typename F>
void ForEachNested(const nlattr* attr, F f) {
  const char* payload = static_cast<const char*>(mnl_attr_get_payload(attr));
  ForEachAttr(payload, payload + mnl_attr_get_payload_len(attr), f);
}

Error TooMany(const std::string& what, size_t cap) {
  return Error(ErrorCode::kTooLarge, "reading " + what + " from the kernel: more than " + std::to_string(cap) +
                                         " (the reader's cap); nothing returned");
}

/// One netlink conversation: opens a route socket, sends `request`, and hands
/// each answer message to `on_message` until the end of the dump (or the
/// ACK of a plain request), within `limits`. `what` names the read in errors.
class Conversation {
 public:
  using Handler = std::function<Status(const nlmsghdr*)>;

  Conversation(const NetlinkNetworkInfo::Limits& limits, std::string what) : limits_(limits), what_(std::move(what)) {}

  /// The error the kernel answered the request with; 0 when none.
  int kernel_errno() const { return kernel_errno_; }

  /// Sends the request built in `request` (its seq and port filled here) and
  /// reads the answer. `interrupted` is set when the kernel flagged the dump
  /// as inconsistent (the table changed while it was read).
  Status Run(nlmsghdr* request, const Handler& on_message, bool* interrupted) {
    Socket sock(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC));
    if (!sock) return ErrnoError("opening a netlink socket for " + what_, errno);
    if (mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0)
      return ErrnoError("binding a netlink socket for " + what_, errno);
    const auto ms = limits_.receive_timeout.count();
    struct timeval tv {};
    tv.tv_sec = static_cast<time_t>(ms / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
    ::setsockopt(mnl_socket_get_fd(sock.get()), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    // Strict checking: the kernel refuses a malformed request instead of guessing.
    int one = 1;
    ::setsockopt(mnl_socket_get_fd(sock.get()), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
    const unsigned portid = mnl_socket_get_portid(sock.get());
    const unsigned seq = static_cast<unsigned>(::time(nullptr));
    request->nlmsg_seq = seq;
    if (mnl_socket_sendto(sock.get(), request, request->nlmsg_len) < 0)
      return ErrnoError("asking the kernel for " + what_, errno);

    std::vector<char> buf(limits_.max_message_bytes);
    size_t total = 0;
    State state{this, &on_message, Status::Ok(), interrupted};
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(sock.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == ENOSPC)
        return Error(ErrorCode::kTooLarge, "reading " + what_ + " from the kernel: a message larger than the " +
                                               std::to_string(limits_.max_message_bytes) + "-byte buffer");
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return Error(ErrorCode::kTimeout, "reading " + what_ + " from the kernel: no answer within " +
                                              std::to_string(ms) + " ms");
      if (n < 0) return ErrnoError("reading " + what_ + " from the kernel", errno);
      total += static_cast<size_t>(n);
      if (total > limits_.max_dump_bytes)
        return Error(ErrorCode::kTooLarge, "reading " + what_ + " from the kernel: over " +
                                               std::to_string(limits_.max_dump_bytes) + " bytes in all");
      int r = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, &Conversation::OnMessage, &state);
      if (!state.status.ok()) return state.status;
      if (r < 0) {  // the kernel answered with an error (errno is its code)
        kernel_errno_ = errno;
        return ErrnoError("reading " + what_ + " from the kernel", errno);
      }
      if (r == MNL_CB_STOP) return Status::Ok();
    }
  }

 private:
  struct State {
    Conversation* self;
    const Handler* handler;
    Status status;
    bool* interrupted;
  };
  static int OnMessage(const nlmsghdr* nlh, void* data) {
    auto* state = static_cast<State*>(data);
    if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) *state->interrupted = true;
    state->status = (*state->handler)(nlh);
    return state->status.ok() ? MNL_CB_OK : MNL_CB_ERROR;
  }

  const NetlinkNetworkInfo::Limits& limits_;
  std::string what_;
  int kernel_errno_ = 0;
};

/// A request header with its family header in one buffer.
struct Request {
  alignas(nlmsghdr) char buf[512] = {};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  template <typename T>
  T* Start(uint16_t type, uint16_t flags) {
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    return static_cast<T*>(mnl_nlmsg_put_extra_header(nlh, sizeof(T)));
  }
};

/// Runs a dump again while the kernel says it was interrupted.
template <typename MakeRequest>
Status Dump(const NetlinkNetworkInfo::Limits& limits, const std::string& what, MakeRequest make,
            const std::function<void()>& reset, const Conversation::Handler& on_message) {
  for (int attempt = 1;; ++attempt) {
    Request req;
    make(req);
    bool interrupted = false;
    reset();
    Status st = Conversation(limits, what).Run(req.nlh, on_message, &interrupted);
    if (!st.ok() || !interrupted) return st;
    if (attempt == kDumpAttempts)
      return Error(ErrorCode::kConflict, "reading " + what + " from the kernel: the table kept changing while it was "
                                         "read (" + std::to_string(kDumpAttempts) + " tries)");
  }
}

Result<NetworkInterface> ParseLink(const nlmsghdr* nlh) {
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  NetworkInterface link;
  link.index = ifi->ifi_index;
  link.up = ifi->ifi_flags & IFF_UP;
  link.running = ifi->ifi_flags & IFF_RUNNING;
  link.lower_up = ifi->ifi_flags & IFF_LOWER_UP;
  link.loopback = ifi->ifi_flags & IFF_LOOPBACK;
  ForEachAttr(nlh, sizeof(*ifi), [&](const nlattr* attr) {
    const auto len = mnl_attr_get_payload_len(attr);
    switch (mnl_attr_get_type(attr)) {
      case IFLA_IFNAME:
        if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) link.name = mnl_attr_get_str(attr);
        break;
      case IFLA_MTU: link.mtu = U32Attr(attr); break;
      case IFLA_MASTER: link.master_index = static_cast<int>(U32Attr(attr)); break;
      case IFLA_LINK: link.link_index = static_cast<int>(U32Attr(attr)); break;
      case IFLA_OPERSTATE:
        if (len >= 1) link.operstate = OperstateName(mnl_attr_get_u8(attr));
        break;
      case IFLA_ADDRESS:
        if (len == 6 && ifi->ifi_type != ARPHRD_LOOPBACK)
          link.mac = MacText(static_cast<const uint8_t*>(mnl_attr_get_payload(attr)));
        break;
      case IFLA_STATS64:
        if (len >= sizeof(rtnl_link_stats64)) {
          rtnl_link_stats64 s;
          std::memcpy(&s, mnl_attr_get_payload(attr), sizeof s);
          link.stats = LinkStats{s.rx_bytes,  s.tx_bytes,  s.rx_packets,  s.tx_packets,
                                 s.rx_errors, s.tx_errors, s.rx_dropped, s.tx_dropped};
        }
        break;
      case IFLA_LINKINFO: {
        ForEachNested(attr, [&](const nlattr* info) {
          if (mnl_attr_get_type(info) == IFLA_INFO_KIND && mnl_attr_validate(info, MNL_TYPE_NUL_STRING) == 0)
            link.kind = mnl_attr_get_str(info);
        });
        break;
      }
      default: break;
    }
  });
  return link;
}

Result<std::vector<NetworkInterface>> DumpLinks(const NetlinkNetworkInfo::Limits& limits) {
  std::vector<NetworkInterface> links;
  Status st = Dump(
      limits, "the interfaces",
      [](Request& r) { r.Start<ifinfomsg>(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP)->ifi_family = AF_UNSPEC; },
      [&] { links.clear(); },
      [&](const nlmsghdr* nlh) -> Status {
        if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(ifinfomsg)) return Status::Ok();
        if (links.size() == limits.max_interfaces) return TooMany("the interfaces", limits.max_interfaces);
        auto link = ParseLink(nlh);
        if (!link) return link.error();
        links.push_back(std::move(*link));
        return Status::Ok();
      });
  if (!st.ok()) return st.error();
  return links;
}

std::map<int, std::string> NamesByIndex(const std::vector<NetworkInterface>& links) {
  std::map<int, std::string> names;
  for (const auto& l : links) names[l.index] = l.name;
  return names;
}

std::string NameOf(const std::map<int, std::string>& names, int index) {
  auto it = names.find(index);
  return it == names.end() ? std::string() : it->second;
}

/// The fields of a route message that Routes() and LookupRoute() share.
Route ParseRoute(const nlmsghdr* nlh, const std::map<int, std::string>& names) {
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  Route route;
  route.family = rtm->rtm_family == AF_INET6 ? AddressFamily::kIpv6 : AddressFamily::kIpv4;
  route.table = rtm->rtm_table;
  route.destination.address.family = route.family;
  route.destination.length = rtm->rtm_dst_len;
  route.protocol = ProtocolName(rtm->rtm_protocol);
  route.type = RouteTypeName(rtm->rtm_type);
  route.scope = ScopeName(rtm->rtm_scope);
  ForEachAttr(nlh, sizeof(*rtm), [&](const nlattr* attr) {
    switch (mnl_attr_get_type(attr)) {
      case RTA_DST:
        if (auto a = AddressAttr(rtm->rtm_family, attr)) route.destination.address = *a;
        break;
      case RTA_GATEWAY: route.gateway = AddressAttr(rtm->rtm_family, attr); break;
      case RTA_VIA:  // an IPv4 route through an IPv6 next hop
        if (mnl_attr_get_payload_len(attr) >= sizeof(rtvia)) {
          const auto* via = static_cast<const rtvia*>(mnl_attr_get_payload(attr));
          route.gateway = AddressFrom(via->rtvia_family, via->rtvia_addr,
                                      mnl_attr_get_payload_len(attr) - sizeof(rtvia));
        }
        break;
      case RTA_PREFSRC: route.source = AddressAttr(rtm->rtm_family, attr); break;
      case RTA_OIF:
        route.device_index = static_cast<int>(U32Attr(attr));
        route.device = NameOf(names, route.device_index);
        break;
      case RTA_PRIORITY: route.metric = U32Attr(attr); break;
      case RTA_TABLE: route.table = U32Attr(attr); break;
      case RTA_MULTIPATH: {
        const auto* payload = static_cast<const char*>(mnl_attr_get_payload(attr));
        size_t left = mnl_attr_get_payload_len(attr);
        while (left >= sizeof(rtnexthop)) {
          const auto* nh = reinterpret_cast<const rtnexthop*>(payload);
          if (nh->rtnh_len < sizeof(rtnexthop) || nh->rtnh_len > left) break;
          NextHop hop;
          hop.device_index = nh->rtnh_ifindex;
          hop.device = NameOf(names, hop.device_index);
          hop.weight = nh->rtnh_hops + 1;
          // The next hop's own attributes follow it.
          const char* a = payload + RTNH_LENGTH(0);
          size_t alen = nh->rtnh_len - RTNH_LENGTH(0);
          while (alen >= sizeof(nlattr)) {
            const auto* na = reinterpret_cast<const nlattr*>(a);
            if (na->nla_len < sizeof(nlattr) || na->nla_len > alen) break;
            if ((na->nla_type & NLA_TYPE_MASK) == RTA_GATEWAY) hop.gateway = AddressAttr(rtm->rtm_family, na);
            const size_t step = NLA_ALIGN(na->nla_len);
            if (step >= alen) break;
            a += step;
            alen -= step;
          }
          route.nexthops.push_back(std::move(hop));
          const size_t step = RTNH_ALIGN(nh->rtnh_len);
          if (step >= left) break;
          payload += step;
          left -= step;
        }
        break;
      }
      default: break;
    }
  });
  return route;
}

}  // namespace

Result<std::vector<NetworkInterface>> NetlinkNetworkInfo::Interfaces() { return DumpLinks(limits_); }

Result<std::vector<InterfaceAddress>> NetlinkNetworkInfo::Addresses() {
  auto links = DumpLinks(limits_);
  if (!links) return links.error();
  const auto names = NamesByIndex(*links);
  std::vector<InterfaceAddress> out;
  Status st = Dump(
      limits_, "the addresses",
      [](Request& r) { r.Start<ifaddrmsg>(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP)->ifa_family = AF_UNSPEC; },
      [&] { out.clear(); },
      [&](const nlmsghdr* nlh) -> Status {
        if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(ifaddrmsg)) return Status::Ok();
        const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
        if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return Status::Ok();
        if (out.size() == limits_.max_addresses) return TooMany("the addresses", limits_.max_addresses);
        InterfaceAddress a;
        a.interface_index = static_cast<int>(ifa->ifa_index);
        a.interface = NameOf(names, a.interface_index);
        a.prefix.length = ifa->ifa_prefixlen;
        a.scope = ScopeName(ifa->ifa_scope);
        uint32_t flags = ifa->ifa_flags;
        std::optional<IpAddress> local, address;
        ForEachAttr(nlh, sizeof(*ifa), [&](const nlattr* attr) {
          switch (mnl_attr_get_type(attr)) {
            // IFA_LOCAL is this end; IFA_ADDRESS the peer on a point-to-point link.
            case IFA_LOCAL: local = AddressAttr(ifa->ifa_family, attr); break;
            case IFA_ADDRESS: address = AddressAttr(ifa->ifa_family, attr); break;
            case IFA_FLAGS: flags = U32Attr(attr); break;
            default: break;
          }
        });
        if (!local && !address) return Status::Ok();
        a.prefix.address = local ? *local : *address;
        a.secondary = flags & IFA_F_SECONDARY;
        out.push_back(std::move(a));
        return Status::Ok();
      });
  if (!st.ok()) return st.error();
  return out;
}

Result<std::vector<Route>> NetlinkNetworkInfo::Routes() {
  auto links = DumpLinks(limits_);
  if (!links) return links.error();
  const auto names = NamesByIndex(*links);
  std::vector<Route> out;
  for (int family : {AF_INET, AF_INET6}) {
    std::vector<Route> routes;
    Status st = Dump(
        limits_, "the routes",
        [family](Request& r) {
          auto* rtm = r.Start<rtmsg>(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP);
          rtm->rtm_family = static_cast<unsigned char>(family);
        },
        [&] { routes.clear(); },
        [&](const nlmsghdr* nlh) -> Status {
          if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(rtmsg)) return Status::Ok();
          const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
          if (rtm->rtm_family != family || (rtm->rtm_flags & RTM_F_CLONED)) return Status::Ok();  // no cache entries
          if (out.size() + routes.size() == limits_.max_routes) return TooMany("the routes", limits_.max_routes);
          routes.push_back(ParseRoute(nlh, names));
          return Status::Ok();
        });
    if (!st.ok()) return st.error();
    out.insert(out.end(), std::make_move_iterator(routes.begin()), std::make_move_iterator(routes.end()));
  }
  return out;
}

Result<RouteLookup> NetlinkNetworkInfo::LookupRoute(const IpAddress& destination) {
  auto links = DumpLinks(limits_);
  if (!links) return links.error();
  const auto names = NamesByIndex(*links);
  const std::string what = "the route to " + destination.ToString();
  Request req;
  auto* rtm = req.Start<rtmsg>(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK);
  rtm->rtm_family = static_cast<unsigned char>(FamilyNumber(destination.family));
  rtm->rtm_dst_len = static_cast<unsigned char>(destination.bits());
  // IPv4: answer with the table the route came from (IPv6 always does, and
  // refuses the flag under strict checking).
  if (destination.family == AddressFamily::kIpv4) rtm->rtm_flags = RTM_F_LOOKUP_TABLE;
  mnl_attr_put(req.nlh, RTA_DST, destination.family == AddressFamily::kIpv4 ? 4 : 16, destination.bytes.data());
  std::optional<Route> found;
  bool interrupted = false;
  Conversation talk(limits_, what);
  Status st = talk.Run(
      req.nlh,
      [&](const nlmsghdr* nlh) -> Status {
        if (nlh->nlmsg_type == RTM_NEWROUTE && mnl_nlmsg_get_payload_len(nlh) >= sizeof(rtmsg))
          found = ParseRoute(nlh, names);
        return Status::Ok();
      },
      &interrupted);
  if (!st.ok()) {
    // How the kernel says "no route": unreachable (EHOSTUNREACH, ENETUNREACH) or prohibit (EACCES).
    const int err = talk.kernel_errno();
    if (err == ENETUNREACH || err == EHOSTUNREACH || err == EACCES)
      return Error(ErrorCode::kNotFound, "no route to " + destination.ToString() + ": " + std::strerror(err));
    return st.error();
  }
  if (!found) return Error(ErrorCode::kIo, "reading " + what + " from the kernel: it sent no route");
  RouteLookup out;
  out.destination = destination;
  out.source = found->source;
  out.gateway = found->gateway;
  out.device_index = found->device_index;
  out.device = found->device;
  out.table = found->table;
  out.type = found->type;
  return out;
}

}  // namespace nodeagent
