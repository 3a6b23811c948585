#include "versions/versions.h"

#include <algorithm>
#include <charconv>
#include <toml++/toml.h>

#include "calico_network/builtin_versions.h"  // generated from calico-versions.toml

namespace nodeagent::calico {

namespace {

constexpr size_t kMaxTableBytes = 256 * 1024;
constexpr size_t kMaxCalicoEntries = 200;
constexpr size_t kMaxKubernetesPerEntry = 100;

// A non-negative decimal without sign or leading '+'; nullopt otherwise.
std::optional<int> Number(std::string_view s) {
  if (s.empty() || s.size() > 6) return std::nullopt;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "3.27" -> {3, 27}; nullopt unless exactly MAJOR.MINOR.
std::optional<std::pair<int, int>> MajorMinor(std::string_view s) {
  auto dot = s.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto a = Number(s.substr(0, dot)), b = Number(s.substr(dot + 1));
  if (!a || !b) return std::nullopt;
  return std::pair{*a, *b};
}

std::string At(std::string_view name, const toml::source_region& src) {
  return std::string(name) + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
}

Error Bad(std::string_view name, const toml::source_region& src, const std::string& what) {
  return InvalidArgument(At(name, src) + ": " + what);
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Result<VersionTable> Parse(std::string_view text, std::string_view name) {
  if (text.size() > kMaxTableBytes)
    return Error(ErrorCode::kTooLarge, std::string(name) + ": over " + std::to_string(kMaxTableBytes) + " bytes");
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return Bad(name, e.source(), std::string(e.description()));
  }
  VersionTable table;
  table.origin = std::string(name);
  for (auto&& [key, node] : root) {
    if (key.str() != "calico") return Bad(name, key.source(), "unknown key \"" + std::string(key.str()) + "\" (only [calico.\"MAJOR.MINOR\"] tables)");
  }
  const toml::node* calico = root.get("calico");
  if (!calico) return InvalidArgument(std::string(name) + ": no [calico.\"MAJOR.MINOR\"] table");
  const toml::table* releases = calico->as_table();
  if (!releases) return Bad(name, calico->source(), "calico must be a table of [calico.\"MAJOR.MINOR\"] tables");
  if (releases->size() > kMaxCalicoEntries)
    return Bad(name, calico->source(), "more than " + std::to_string(kMaxCalicoEntries) + " Calico releases");
  for (auto&& [key, node] : *releases) {
    std::string release(key.str());
    if (!MajorMinor(release)) return Bad(name, key.source(), "calico.\"" + release + "\": the key must be MAJOR.MINOR like \"3.27\"");
    const toml::table* entry = node.as_table();
    if (!entry) return Bad(name, node.source(), "calico.\"" + release + "\" must be a table");
    CalicoSupport support;
    support.calico = release;
    for (auto&& [field, value] : *entry) {
      std::string f(field.str());
      if (f == "kubernetes") {
        const toml::array* list = value.as_array();
        if (!list) return Bad(name, value.source(), "calico.\"" + release + "\".kubernetes must be an array of \"MAJOR.MINOR\" strings");
        if (list->size() > kMaxKubernetesPerEntry)
          return Bad(name, value.source(), "calico.\"" + release + "\".kubernetes has more than " + std::to_string(kMaxKubernetesPerEntry) + " entries");
        for (const toml::node& k : *list) {
          auto s = k.value<std::string>();
          if (!s || !MajorMinor(*s))
            return Bad(name, k.source(), "calico.\"" + release + "\".kubernetes: each entry must be a \"MAJOR.MINOR\" string like \"1.29\"");
          support.kubernetes.push_back(*s);
        }
      } else if (f == "source") {
        auto s = value.value<std::string>();
        if (!s) return Bad(name, value.source(), "calico.\"" + release + "\".source must be a string");
        support.source = *s;
      } else {
        return Bad(name, field.source(), "calico.\"" + release + "\": unknown key \"" + f + "\" (kubernetes, source)");
      }
    }
    if (!entry->contains("kubernetes"))
      return Bad(name, node.source(), "calico.\"" + release + "\" has no kubernetes list");
    table.entries.push_back(std::move(support));
  }
  std::sort(table.entries.begin(), table.entries.end(),
            [](const CalicoSupport& a, const CalicoSupport& b) { return MajorMinor(a.calico) < MajorMinor(b.calico); });
  return table;
}

}  // namespace

const CalicoSupport* VersionTable::Find(std::string_view calico_minor) const {
  auto want = MajorMinor(calico_minor);
  if (!want) return nullptr;
  for (const auto& e : entries)
    if (MajorMinor(e.calico) == want) return &e;
  return nullptr;
}

Result<VersionTable> ParseVersionTable(std::string_view toml_text, std::string_view source_name) {
  return Parse(toml_text, source_name);
}

std::string_view BuiltinVersionTable() { return kBuiltinCalicoVersionsText; }

Result<LoadedVersionTable> LoadVersionTable(const FileSystem& fs, std::string_view path) {
  LoadedVersionTable out;
  auto text = fs.ReadFile(path);
  if (text) {
    auto parsed = ParseVersionTable(*text, path);
    if (parsed) {
      out.table = std::move(*parsed);
      return out;
    }
    out.note = parsed.error().message() + "; using the built-in table";
    out.file_broken = true;
  } else if (text.error().code() == ErrorCode::kNotFound) {
    out.note = std::string(path) + " is missing; using the built-in table";
  } else {
    out.note = "reading " + std::string(path) + ": " + text.error().message() + "; using the built-in table";
    out.file_broken = true;
  }
  auto builtin = ParseVersionTable(BuiltinVersionTable(), kBuiltinVersionTableName);
  if (!builtin) return Internal("the built-in Calico version table does not parse: " + builtin.error().message());
  out.table = std::move(*builtin);
  return out;
}

Result<std::string> CalicoVersionFromImage(std::string_view image) {
  std::string_view ref = image;
  if (ref.empty()) return InvalidArgument("no calico-node image");
  if (ref.size() > 1024) return InvalidArgument("calico-node image reference over 1024 bytes");
  auto at = ref.find('@');
  bool has_digest = at != std::string_view::npos;
  if (has_digest) ref = ref.substr(0, at);
  auto slash = ref.rfind('/');
  auto colon = ref.rfind(':');
  std::string quoted = "\"" + std::string(image) + "\"";
  if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash)) {
    return InvalidArgument(quoted + (has_digest ? " is pinned by digest only: the tag that would name the Calico version is missing"
                                                : " has no tag (it means :latest): the Calico version cannot be told"));
  }
  std::string_view tag = ref.substr(colon + 1);
  if (tag == "latest") return InvalidArgument(quoted + " uses the tag latest: the Calico version cannot be told");
  std::string_view v = tag;
  if (!v.empty() && v[0] == 'v') v.remove_prefix(1);
  std::string_view core = v.substr(0, v.find_first_of("-+"));
  int parts = 0;
  bool ok = true;
  for (size_t start = 0; ok && start <= core.size();) {
    size_t dot = core.find('.', start);
    std::string_view part = core.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    ok = Number(part).has_value();
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (!ok || parts < 2 || parts > 3)
    return InvalidArgument(quoted + ": the tag \"" + std::string(tag) + "\" is not a Calico version like v3.27.2");
  return std::string(v);
}

std::optional<KubeVersion> ParseKubeVersion(std::string_view text) {
  std::string_view v = text;
  if (!v.empty() && v[0] == 'v') v.remove_prefix(1);
  std::string_view core = v.substr(0, v.find_first_of("-+"));
  KubeVersion out;
  out.text = std::string(text);
  auto d1 = core.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  auto d2 = core.find('.', d1 + 1);
  auto major = Number(core.substr(0, d1));
  auto minor = Number(core.substr(d1 + 1, d2 == std::string_view::npos ? std::string_view::npos : d2 - d1 - 1));
  std::optional<int> patch = 0;
  if (d2 != std::string_view::npos) patch = Number(core.substr(d2 + 1));
  if (!major || !minor || !patch) return std::nullopt;
  out.major = *major;
  out.minor = *minor;
  out.patch = *patch;
  return out;
}

std::string_view SupportName(Support s) {
  switch (s) {
    case Support::kYes: return "yes";
    case Support::kNo: return "no";
    case Support::kUnknown: return "unknown";
  }
  return "unknown";
}

VersionVerdict CheckVersions(const VersionTable& table, const VersionInputs& in) {
  VersionVerdict verdict;
  nlohmann::json j = {{"calico", nullptr},
                      {"calico_image", in.calico_image.empty() ? nlohmann::json(nullptr) : nlohmann::json(in.calico_image)},
                      {"kubernetes", in.kubernetes.empty() ? nlohmann::json(nullptr) : nlohmann::json(in.kubernetes)},
                      {"kubelet", in.kubelet.empty() ? nlohmann::json(nullptr) : nlohmann::json(in.kubelet)},
                      {"table", table.origin}};
  std::vector<std::string> sentences;
  bool any_no = false, any_unknown = false;

  const CalicoSupport* entry = nullptr;
  std::string calico_minor;
  auto calico = CalicoVersionFromImage(in.calico_image);
  if (!calico) {
    any_unknown = true;
    sentences.push_back(in.calico_image.empty() ? "the calico-node image is not known"
                                                : calico.error().message());
  } else {
    j["calico"] = *calico;
    auto first = calico->find('.');
    auto second = calico->find_first_of(".-+", first + 1);
    calico_minor = calico->substr(0, second);
    entry = table.Find(calico_minor);
    if (!entry) {
      any_unknown = true;
      std::string known = table.entries.empty() ? "it is empty"
                                                : "it lists " + table.entries.front().calico + " to " + table.entries.back().calico;
      sentences.push_back("Calico " + calico_minor + " is not in the version table (" + table.origin + "; " + known +
                          "): add [calico.\"" + calico_minor + "\"] from Calico's system requirements page");
    }
  }

  struct Side {
    const char* what;
    const std::string& text;
  };
  std::vector<std::string> listed_yes;
  for (const Side& side : {Side{"API server", in.kubernetes}, Side{"kubelet", in.kubelet}}) {
    if (side.text.empty()) {
      any_unknown = true;
      sentences.push_back(std::string("the ") + side.what + " version is not known");
      continue;
    }
    auto k = ParseKubeVersion(side.text);
    if (!k) {
      any_unknown = true;
      sentences.push_back(std::string("the ") + side.what + " version \"" + side.text + "\" is not a Kubernetes version");
      continue;
    }
    if (!entry) continue;
    std::string minor = k->Minor();
    if (std::find(entry->kubernetes.begin(), entry->kubernetes.end(), minor) == entry->kubernetes.end()) {
      any_no = true;
      sentences.push_back("Calico " + entry->calico + " is not tested with Kubernetes " + minor + " (" + side.what + " " +
                          side.text + "); it is tested with " + Join(entry->kubernetes) +
                          (entry->source.empty() ? "" : " (source: " + entry->source + ")") +
                          ": move Calico to a release tested with " + minor);
    } else {
      listed_yes.push_back(std::string(side.what) + " " + side.text);
    }
  }
  verdict.supported = any_no ? Support::kNo : any_unknown ? Support::kUnknown : Support::kYes;
  if (verdict.supported == Support::kYes) {
    verdict.message = "Calico " + *calico + " is tested with Kubernetes " + Join(entry->kubernetes) + " (" +
                      Join(listed_yes) + ")";
  } else {
    std::string m;
    for (const auto& s : sentences) m += (m.empty() ? "" : "; ") + s;
    verdict.message = m;
  }
  j["supported"] = std::string(SupportName(verdict.supported));
  j["message"] = verdict.message;
  verdict.json = std::move(j);
  return verdict;
}

}  // namespace nodeagent::calico
