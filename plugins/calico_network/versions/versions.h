// Whether this cluster's Calico and Kubernetes versions are a pair Calico
// tests. A calico-node image older than the API server (Kubernetes upgraded,
// Calico left behind) is a common cause of odd failures after an upgrade, and
// the kubelet on this node can lag the API server too. The Kubernetes minors
// each Calico minor is tested against come from Calico's published "System
// requirements" pages; they live in a TOML data file
// (calico-versions.toml, installed as /usr/share/nodeagent/calico-network/versions.toml)
// so a new Calico release needs an edit, not a rebuild, and the same file is
// compiled in as the fallback when the installed one is missing. A pair that
// is not listed, or a version that cannot be read, is a warning, never an
// error: Calico itself says other versions may work.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/host.h"
#include "nodeagent/result.h"

namespace nodeagent::calico {

/// Where the package installs the table (a host path, read through FileSystem).
inline constexpr std::string_view kInstalledVersionTablePath = "/usr/share/nodeagent/calico-network/versions.toml";
/// What VersionTable::origin says for the compiled-in table.
inline constexpr std::string_view kBuiltinVersionTableName = "built-in";

/// One Calico minor and the Kubernetes minors it is tested against.
struct CalicoSupport {
  std::string calico;                   ///< "3.27"
  std::vector<std::string> kubernetes;  ///< {"1.27", "1.28", "1.29"}
  std::string source;                   ///< where the list comes from (a URL)
};

/// The whole table, sorted by Calico minor (numerically: 3.9 before 3.10).
struct VersionTable {
  std::string origin;  ///< the file it was read from, or "built-in"
  std::vector<CalicoSupport> entries;

  /// The entry of `calico_minor` ("3.27"); nullptr when not listed.
  const CalicoSupport* Find(std::string_view calico_minor) const;
};

/// Parses the table. `source_name` is used in messages ("versions.toml:4:12:
/// ..."). Errors (InvalidArgument, with file:line:col): TOML syntax; a key
/// under [calico] that is not MAJOR.MINOR; a missing or non-array
/// `kubernetes`; an entry that is not a "MAJOR.MINOR" string; an unknown key
/// (a typo would otherwise drop data silently); more than 200 Calico entries
/// or 100 Kubernetes minors per entry; text over 256 KiB.
Result<VersionTable> ParseVersionTable(std::string_view toml_text, std::string_view source_name);

/// The text of calico-versions.toml as it was at build time.
std::string_view BuiltinVersionTable();

/// The table the action uses, and what it should say about where it came from.
struct LoadedVersionTable {
  VersionTable table;
  /// "" when the file was read; otherwise one sentence ending in "using the
  /// built-in table" (the file is missing, unreadable or malformed, with why).
  std::string note;
  /// The file exists but could not be read or parsed (worth a warning; a
  /// missing file is only worth the note).
  bool file_broken = false;
};

/// Reads `path` through `fs` and parses it; falls back to the built-in table
/// when it is missing, unreadable or malformed. Fails only if the built-in
/// table itself does not parse (a build defect: Internal).
Result<LoadedVersionTable> LoadVersionTable(const FileSystem& fs, std::string_view path = kInstalledVersionTablePath);

/// The Calico version of a calico-node image reference, from its tag:
/// "docker.io/calico/node:v3.27.2" -> "3.27.2"; also
/// "quay.io/calico/node:v3.27.2@sha256:..." (the digest is ignored),
/// "calico/node:v3.27.2", "registry:5000/calico/node:v3.26.1" (a registry port
/// is not a tag), "v3.28.0-0.dev-12" keeps its suffix. InvalidArgument saying
/// why for a digest-only reference, no tag, "latest", or a tag that is not
/// vMAJOR.MINOR[.PATCH][-suffix]; the repository name is not checked.
Result<std::string> CalicoVersionFromImage(std::string_view image);

/// A Kubernetes version as the API server's /version gitVersion or a Node's
/// status.nodeInfo.kubeletVersion gives it.
struct KubeVersion {
  int major = 0, minor = 0, patch = 0;
  std::string text;  ///< as given
  std::string Minor() const { return std::to_string(major) + "." + std::to_string(minor); }
};

/// "v1.29.3", "1.29.3", "v1.29", "v1.29.3+k3s1", "v1.30.0-rc.1",
/// "v1.28.5-eks-5e0fdde"; the suffix is kept only in `text`. nullopt for
/// anything else ("", "1", "v1.x").
std::optional<KubeVersion> ParseKubeVersion(std::string_view text);

/// The versions CheckVersions compares. Empty strings mean "not known" (the
/// DaemonSet, the API server or the Node could not be read).
struct VersionInputs {
  std::string calico_image;  ///< calico-node's image reference
  std::string kubernetes;    ///< the API server's gitVersion
  std::string kubelet;       ///< this node's kubeletVersion
};

enum class Support { kYes, kNo, kUnknown };
/// "yes", "no", "unknown".
std::string_view SupportName(Support s);

/// The verdict: kYes when Calico's minor is in the table and both the API
/// server's and the kubelet's minors are listed for it; kNo when Calico's
/// minor is listed but either Kubernetes minor is not; kUnknown when a
/// version cannot be read or Calico's minor is not in the table. kNo and
/// kUnknown are warnings for the action, never errors.
struct VersionVerdict {
  Support supported = Support::kUnknown;
  /// One or more sentences joined by "; ": what was compared and what to do,
  /// e.g. "Calico 3.26 is not tested with Kubernetes 1.30 (API server
  /// v1.30.2); it is tested with 1.24, 1.25, 1.26, 1.27, 1.28 (source: URL):
  /// move Calico to a release tested with 1.30".
  std::string message;
  /// data.versions: {calico, calico_image, kubernetes, kubelet, supported,
  /// table, message}; calico is "3.27.2" or null, kubernetes/kubelet the
  /// versions as given or null, supported "yes"/"no"/"unknown", table the
  /// table's origin.
  nlohmann::json json;
};

VersionVerdict CheckVersions(const VersionTable& table, const VersionInputs& in);

}  // namespace nodeagent::calico
