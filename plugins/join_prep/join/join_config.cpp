#include "join/join_config.h"

#include <algorithm>
#include <charconv>

namespace nodeagent::join_prep {

namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllOf(std::string_view s, bool (*pred)(char)) {
  for (char c : s)
    if (!pred(c)) return false;
  return true;
}

/// kubeadm's bootstrap token form: [a-z0-9]{6}.[a-z0-9]{16}.
bool IsBootstrapToken(std::string_view t) {
  return t.size() == 23 && t[6] == '.' && AllOf(t.substr(0, 6), IsLowerAlnum) && AllOf(t.substr(7), IsLowerAlnum);
}

bool IsCaCertHash(std::string_view h) {
  constexpr std::string_view kPrefix = "sha256:";
  return h.size() == kPrefix.size() + 64 && h.substr(0, kPrefix.size()) == kPrefix &&
         AllOf(h.substr(kPrefix.size()), IsHex);
}

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!IsLowerAlnum(c) && c != '-') return false;
  return true;
}

/// A lowercase RFC 1123 subdomain, what the API server accepts as a Node name.
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    if (!IsDnsLabel(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

/// A host name or IPv4 address: letters, digits, '-', '.' (either case).
bool IsHostName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s)
    if (!IsLowerAlnum(c) && !(c >= 'A' && c <= 'Z') && c != '-' && c != '.') return false;
  return s.front() != '-' && s.front() != '.';
}

bool IsPort(std::string_view s) {
  if (s.empty() || s.size() > 5 || !AllOf(s, IsDigit)) return false;
  int port = 0;
  std::from_chars(s.data(), s.data() + s.size(), port);
  return port >= 1 && port <= 65535;
}

/// "host:port" or "[ipv6]:port".
bool IsEndpoint(std::string_view e) {
  if (!e.empty() && e.front() == '[') {
    size_t close = e.find(']');
    if (close == std::string_view::npos || close + 1 >= e.size() || e[close + 1] != ':') return false;
    std::string_view addr = e.substr(1, close - 1);
    if (addr.empty() || addr.find(':') == std::string_view::npos) return false;
    for (char c : addr)
      if (!IsHex(c) && c != ':' && c != '.') return false;
    return IsPort(e.substr(close + 2));
  }
  size_t colon = e.rfind(':');
  if (colon == std::string_view::npos) return false;
  return IsHostName(e.substr(0, colon)) && IsPort(e.substr(colon + 1));
}

/// A kubeadm preflight check name ("Swap", "FileContent--proc-sys-net-ipv4-ip_forward") or "all".
bool IsCheckName(std::string_view s) {
  if (s.empty() || s.size() > 200) return false;
  for (char c : s)
    if (!IsLowerAlnum(c) && !(c >= 'A' && c <= 'Z') && c != '-' && c != '_' && c != '.') return false;
  return true;
}

/// An absolute socket path or a unix:// URL to one; printable ASCII, no spaces.
bool IsCriSocket(std::string_view s) {
  constexpr std::string_view kUnix = "unix://";
  std::string_view path = s.substr(0, kUnix.size()) == kUnix ? s.substr(kUnix.size()) : s;
  if (path.empty() || path.front() != '/' || s.size() > 1024) return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace

const char* KubeadmApiVersion(KubeadmApi api) {
  return api == KubeadmApi::kV1Beta4 ? "kubeadm.k8s.io/v1beta4" : "kubeadm.k8s.io/v1beta3";
}

Result<KubeadmVersion> ParseKubeadmVersion(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  auto bad = [&text] {
    std::string shown(text.substr(0, 80));
    for (char& c : shown)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return InvalidArgument("kubeadm version: expected a version like v1.31.2, got \"" + shown + "\"");
  };
  if (!s.empty() && s.front() == 'v') s.remove_prefix(1);
  KubeadmVersion v;
  int* parts[] = {&v.major, &v.minor, &v.patch};
  const char* p = s.data();
  const char* end = s.data() + s.size();
  for (int i = 0; i < 3; ++i) {
    auto [next, ec] = std::from_chars(p, end, *parts[i]);
    if (ec != std::errc() || next == p) return bad();
    p = next;
    if (i < 2) {
      if (p == end || *p != '.') return bad();
      ++p;
    }
  }
  // What may follow: a pre-release ("-rc.1") or build ("+k3s1") suffix.
  if (p != end && *p != '-' && *p != '+') return bad();
  return v;
}

Result<KubeadmApi> KubeadmApiFor(const KubeadmVersion& v) {
  auto at_least = [&v](int major, int minor) { return v.major > major || (v.major == major && v.minor >= minor); };
  if (at_least(1, 31)) return KubeadmApi::kV1Beta4;
  if (at_least(1, 22)) return KubeadmApi::kV1Beta3;
  return InvalidArgument("kubeadm v" + std::to_string(v.major) + "." + std::to_string(v.minor) + "." +
                         std::to_string(v.patch) +
                         " is too old: the join needs kubeadm 1.22 or newer (JoinConfiguration v1beta3)");
}

Status ValidateJoinSettings(const JoinSettings& s) {
  if (!IsEndpoint(s.endpoint))
    return InvalidArgument("endpoint \"" + std::string(s.endpoint.substr(0, 300)) +
                           "\": expected host:port of the API server, like 10.0.0.10:6443 or [fd00::10]:6443");
  // The token is never quoted: it is a secret, even when malformed.
  if (!IsBootstrapToken(s.token))
    return InvalidArgument("token: not a bootstrap token (expected 6 and 16 lowercase letters or digits joined by "
                           "a dot, like abcdef.0123456789abcdef; the value is not shown)");
  for (const std::string& h : s.ca_cert_hashes)
    if (!IsCaCertHash(h))
      return InvalidArgument("ca_cert_hashes: \"" + std::string(h.substr(0, 100)) +
                             "\" is not sha256:<64 hex digits> (as printed by kubeadm token create --print-join-command)");
  if (s.ca_cert_hashes.empty() && !s.unsafe_skip_ca_verification)
    return InvalidArgument("ca_cert_hashes: empty; kubeadm refuses token discovery without a CA pin "
                           "(see kubeadm token create --print-join-command for the hash)");
  if (!s.certificate_key.empty()) {
    if (s.role != Role::kControlPlane)
      return InvalidArgument("certificate_key: only a control-plane join uses a certificate key");
    if (s.certificate_key.size() != 64 || !AllOf(s.certificate_key, IsHex))
      return InvalidArgument("certificate_key: expected 64 hex digits (the value is not shown)");
  }
  if (!s.node_name.empty() && !IsDnsSubdomain(s.node_name))
    return InvalidArgument("node_name \"" + std::string(s.node_name.substr(0, 300)) +
                           "\": a Node name is lowercase letters, digits, '-' and '.' (RFC 1123 subdomain)");
  if (!s.cri_socket.empty() && !IsCriSocket(s.cri_socket))
    return InvalidArgument("cri_socket: expected an absolute path or unix:///path without spaces");
  for (const std::string& id : s.ignore_preflight_errors)
    if (!IsCheckName(id))
      return InvalidArgument("ignore: \"" + std::string(id.substr(0, 100)) +
                             "\" is not a check name (letters, digits, '-', '_', '.')");
  return Status::Ok();
}

std::string YamlQuote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

std::string CriSocketUrl(std::string_view socket) {
  constexpr std::string_view kUnix = "unix://";
  if (socket.substr(0, kUnix.size()) == kUnix) return std::string(socket);
  return std::string(kUnix) + std::string(socket);
}

std::vector<std::string> KubeadmIgnoreList(const std::vector<std::string>& ids) {
  auto lower = [](std::string s) {
    for (char& c : s)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
  };
  std::vector<std::string> out;
  std::vector<std::string> seen;
  for (const std::string& id : ids) {
    std::string key = lower(id);
    if (key == "all") return {"all"};
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(key);
    out.push_back(id);
  }
  return out;
}

Result<std::string> JoinConfigurationYaml(const JoinSettings& s, KubeadmApi api) {
  if (Status st = ValidateJoinSettings(s); !st.ok()) return st.error();
  std::string y;
  y += "# Written by nodeagent for one `kubeadm join`; removed when it ends.\n";
  y += std::string("apiVersion: ") + KubeadmApiVersion(api) + "\n";
  y += "kind: JoinConfiguration\n";
  y += "discovery:\n";
  y += "  bootstrapToken:\n";
  y += "    apiServerEndpoint: " + YamlQuote(s.endpoint) + "\n";
  y += "    token: " + YamlQuote(s.token) + "\n";
  if (!s.ca_cert_hashes.empty()) {
    y += "    caCertHashes:\n";
    for (const std::string& h : s.ca_cert_hashes) y += "    - " + YamlQuote(h) + "\n";
  } else {
    y += "    unsafeSkipCAVerification: true\n";
  }
  y += "nodeRegistration:\n";
  if (!s.node_name.empty()) y += "  name: " + YamlQuote(s.node_name) + "\n";
  if (!s.cri_socket.empty()) y += "  criSocket: " + YamlQuote(CriSocketUrl(s.cri_socket)) + "\n";
  std::vector<std::string> ignore = KubeadmIgnoreList(s.ignore_preflight_errors);
  if (ignore.empty()) {
    y += "  ignorePreflightErrors: []\n";
  } else {
    y += "  ignorePreflightErrors:\n";
    for (const std::string& id : ignore) y += "  - " + YamlQuote(id) + "\n";
  }
  if (s.role == Role::kControlPlane) {
    if (s.certificate_key.empty()) {
      y += "controlPlane: {}\n";
    } else {
      y += "controlPlane:\n";
      y += "  certificateKey: " + YamlQuote(s.certificate_key) + "\n";
    }
  }
  return y;
}

}  // namespace nodeagent::join_prep
