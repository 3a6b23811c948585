#include "join_params.h"

#include <algorithm>

#include "check.h"
#include "nodeagent/host.h"
#include "nodeagent/param_binding.h"

namespace nodeagent::join_prep {

namespace {

using namespace std::chrono_literals;
using O = JoinParams;

constexpr std::string_view kRoles[] = {"worker", "control-plane"};
constexpr EnumChoice<Role> kRoleValues[] = {{"worker", Role::kWorker}, {"control-plane", Role::kControlPlane}};
constexpr std::string_view kCnis[] = {"calico", "none"};
constexpr EnumChoice<Cni> kCniValues[] = {{"calico", Cni::kCalico}, {"none", Cni::kNone}};
constexpr std::string_view kFirewallFixes[] = {"open-ports", "report"};
constexpr EnumChoice<FirewallFix> kFirewallFixValues[] = {{"open-ports", FirewallFix::kOpenPorts},
                                                          {"report", FirewallFix::kReport}};

#define JOIN_PREP_ROWS                                                                                               \
  BindEnum<kRoleValues, &O::checks, &JoinOptions::role>(                                                             \
      {"role", ParamType::kEnum, "\"worker\"",                                                                       \
       "What the node will be: worker, or control-plane (adds the API server, etcd, controller-manager and "        \
       "scheduler ports and kubeadm's CPU and memory minimums).",                                                    \
       kRoles}),                                                                                                      \
      Bind<&O::checks, &JoinOptions::endpoint>(                                                                      \
          {"endpoint", ParamType::kString, "\"\"",                                                                   \
           "host:port of the control plane's API server (\"10.0.0.10:6443\", \"[fd00::10]:6443\"). Checked for "     \
           "reachability, its CA and clock; the firewall verdicts are for packets from its address. Empty: those "  \
           "checks are skipped and firewall verdicts are for any source."}),                                         \
      Bind<&O::checks, &JoinOptions::ca_cert_hashes>(                                                                \
          {"ca_cert_hashes", ParamType::kStringList, "[]",                                                           \
           "sha256:<hex> hashes of the cluster CA's public key (kubeadm's --discovery-token-ca-cert-hash). "         \
           "join-prep says whether the API server's CA matches one; join requires at least one."}),                  \
      BindEnum<kCniValues, &O::checks, &JoinOptions::cni>(                                                           \
          {"cni", ParamType::kEnum, "\"calico\"",                                                                    \
           "The cluster's network plugin: calico adds its ports (TCP 179 BGP, UDP 4789 VXLAN, TCP 5473 Typha, IP "   \
           "protocol 4 IPIP); none adds nothing.",                                                                   \
           kCnis}),                                                                                                   \
      Bind<&O::checks, &JoinOptions::extra_ports>(                                                                   \
          {"extra_ports", ParamType::kPortList, "[]",                                                                \
           "More TCP ports (and ranges, \"8000-8080\") that must be open to the control plane."}),                   \
      Bind<&O::checks, &JoinOptions::ignore>(                                                                        \
          {"ignore", ParamType::kStringList, "[]",                                                                   \
           "Check ids whose failures are reported but do not count (like kubeadm's "                                 \
           "--ignore-preflight-errors; case-insensitive); \"all\" ignores every check."}),                           \
      Bind<&O::checks, &JoinOptions::fix>(                                                                           \
          {"fix", ParamType::kStringList,                                                                            \
           "[\"swapoff\", \"fstab-swap\", \"swap-units\", \"zram\", \"firewall\", \"kernel-modules\", \"sysctl\", "  \
           "\"containerd-cgroup\"]",                                                                                  \
           "The fixes allowed (default: all of them): swapoff, fstab-swap, swap-units, zram, firewall, "            \
           "kernel-modules, sysctl, containerd-cgroup. [] only reports."}),                                          \
      BindEnum<kFirewallFixValues, &O::checks, &JoinOptions::firewall_fix>(                                          \
          {"firewall_fix", ParamType::kEnum, "\"open-ports\"",                                                       \
           "open-ports: open each closed port through the firewall that closes it (firewalld, ufw, nftables or "    \
           "iptables; never disabling a firewall or flushing rules); report: only say which ports are closed.",     \
           kFirewallFixes}),                                                                                          \
      Bind<&O::checks, &JoinOptions::cri_socket>(                                                                    \
          {"cri_socket", ParamType::kString, "\"\"",                                                                 \
           "The container runtime's socket. Empty: containerd's or CRI-O's, whichever exists."}),                   \
      Bind<&O::checks, &JoinOptions::connect_timeout>(                                                               \
          {.name = "connect_timeout", .type = ParamType::kDuration, .default_value = "\"5s\"",                       \
           .doc = "How long to wait for the API server's TCP connect and TLS handshake.",                            \
           .range = DurationRange(100ms, 5min)}),                                                                     \
      Bind<&O::checks, &JoinOptions::node_name>(                                                                     \
          {"node", ParamType::kString, "\"\"", "This node's name in the cluster. Default: agent.node_name."})

constexpr ParamField<JoinParams> kPrepFields[] = {JOIN_PREP_ROWS};
constexpr ParamField<JoinParams> kJoinFields[] = {
    JOIN_PREP_ROWS,
    Bind<&O::token>({"token", ParamType::kString, "\"\"",
                     "The bootstrap token (abcdef.0123456789abcdef). A secret: never shown, logged or put on a "
                     "command line. Prefer token_file.",
                     {}, false, true}),
    Bind<&O::token_file>({"token_file", ParamType::kString, "\"\"",
                          "A file holding the bootstrap token on its first line (owned by root, mode 0600 or "
                          "stricter)."}),
    Bind<&O::checks, &JoinOptions::ready_timeout>(
        {.name = "ready_timeout", .type = ParamType::kDuration, .default_value = "\"10m\"",
         .doc = "After kubeadm join: how long to wait for the Node to exist and be Ready.",
         .range = DurationRange(10s, 24h)}),
};
#undef JOIN_PREP_ROWS

constexpr auto kPrepParams = SpecsOf(kPrepFields);
constexpr auto kJoinParams = SpecsOf(kJoinFields);
static_assert(HasValidRanges(kPrepParams), "every number in the table needs a range");
static_assert(HasValidRanges(kJoinParams), "every number in the table needs a range");

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); });
}

bool IsLowerAlnum(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); });
}

}  // namespace

std::span<const ParamSpec> JoinPrepParams() { return kPrepParams; }
std::span<const ParamSpec> JoinParamsTable() { return kJoinParams; }

bool IsCaCertHash(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  return text.size() == kPrefix.size() + 64 && text.substr(0, kPrefix.size()) == kPrefix &&
         IsHex(text.substr(kPrefix.size()));
}

bool IsBootstrapToken(std::string_view text) {
  return text.size() == 23 && text[6] == '.' && IsLowerAlnum(text.substr(0, 6)) && IsLowerAlnum(text.substr(7));
}

Result<JoinParams> ParamsFromValues(const Params& params, const std::string& default_node) {
  auto o = BindOptions<JoinParams>(kJoinFields, params);
  if (!o) return o.error();
  if (o->checks.node_name.empty()) o->checks.node_name = default_node;
  return o;
}

Status ValidateJoinPrep(const Params& params) {
  if (params.Has("fix")) {
    for (const auto& id : params.GetList("fix")) {
      if (std::find(std::begin(kFixIds), std::end(kFixIds), id) == std::end(kFixIds)) {
        std::string known;
        for (auto k : kFixIds) known += (known.empty() ? "" : ", ") + std::string(k);
        return Error(ErrorCode::kInvalidArgument, "fix: unknown fix id \"" + id + "\" (known: " + known + ")");
      }
    }
  }
  if (params.Has("ca_cert_hashes")) {
    for (const auto& h : params.GetList("ca_cert_hashes"))
      if (!IsCaCertHash(h))
        return Error(ErrorCode::kInvalidArgument,
                     "ca_cert_hashes: \"" + h + "\" is not sha256:<64 hex digits> (kubeadm's format)");
  }
  if (params.Has("endpoint")) {
    const std::string& e = params.GetString("endpoint");
    if (!e.empty() && (e.find(':') == std::string::npos || e.find_first_of(" /\t") != std::string::npos))
      return Error(ErrorCode::kInvalidArgument, "endpoint: \"" + e + "\" is not host:port");
  }
  return Status::Ok();
}

Status ValidateJoin(const Params& params) {
  if (Status st = ValidateJoinPrep(params); !st.ok()) return st;
  if (!params.Has("endpoint") || params.GetString("endpoint").empty())
    return Error(ErrorCode::kInvalidArgument, "endpoint: join needs the API server's host:port");
  bool token = params.Has("token") && !params.GetString("token").empty();
  bool file = params.Has("token_file") && !params.GetString("token_file").empty();
  if (token == file)
    return Error(ErrorCode::kInvalidArgument, "token, token_file: join needs exactly one of them");
  if (token && !IsBootstrapToken(params.GetString("token")))
    return Error(ErrorCode::kInvalidArgument, "token: not a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}); value not shown");
  if (!params.Has("ca_cert_hashes") || params.GetList("ca_cert_hashes").empty())
    return Error(ErrorCode::kInvalidArgument,
                 "ca_cert_hashes: join pins the cluster CA; give its sha256:<hex> hash (kubeadm token create "
                 "--print-join-command prints it)");
  return Status::Ok();
}

Result<std::string> ReadToken(const FileSystem& files, const JoinParams& params) {
  std::string token = params.token;
  if (token.empty()) {
    if (params.token_file.empty()) return Error(ErrorCode::kInvalidArgument, "token, token_file: neither is set");
    auto info = files.Stat(params.token_file);
    if (!info) return info.error().Wrap("token_file");
    if (info->type != FileType::kRegular)
      return Error(ErrorCode::kInvalidArgument, "token_file " + params.token_file + " is not a regular file");
    if (info->uid != 0 || (info->mode & 077) != 0)
      return Error(ErrorCode::kPermissionDenied,
                   "token_file " + params.token_file + " must belong to root and be readable by it alone (chmod 600)");
    auto text = files.ReadFile(params.token_file);
    if (!text) return text.error().Wrap("token_file");
    auto nl = text->find('\n');
    token = text->substr(0, nl);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) token.pop_back();
  }
  if (!IsBootstrapToken(token))
    return Error(ErrorCode::kInvalidArgument,
                 (params.token.empty() ? "token_file " + params.token_file + ": its first line" : std::string("token")) +
                     " is not a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}); value not shown");
  return token;
}

}  // namespace nodeagent::join_prep
