#include "nodeagent/plan_objects.h"

#include <algorithm>

namespace nodeagent {

namespace {

constexpr std::string_view kFile = "file:";
constexpr std::string_view kKube = "kube:";

std::string NormalisePath(std::string_view p) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view part = p.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (std::string_view part : parts) {
    out += '/';
    out.append(part);
  }
  return out.empty() ? "/" : out;
}

std::vector<std::string> Segments(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  for (;;) {
    size_t j = s.find('/', i);
    out.emplace_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) return out;
    i = j + 1;
  }
}

}  // namespace

std::string FileObject(std::string_view host_path) { return std::string(kFile) + NormalisePath(host_path); }

std::string CommandObject(std::string_view program) { return "command:" + std::string(program); }

std::string KubeObject(std::string_view resource, std::string_view ns, std::string_view name) {
  std::string s = std::string(kKube) + std::string(resource) + "/";
  if (!ns.empty()) s += std::string(ns) + "/";
  return s + std::string(name);
}

PlanObjects::PlanObjects(const std::vector<Change>& changes) {
  for (const Change& c : changes) {
    for (const std::string& o : c.objects) Add(o);
  }
}

void PlanObjects::Add(std::string_view object) {
  if (object.starts_with(kFile)) {
    std::string_view path = object.substr(kFile.size());
    if (path == "**" || path.ends_with("/**")) {
      subtrees_.insert(FileObject(path.substr(0, path.size() - 2)));
    } else {
      exact_.insert(FileObject(path));
    }
    return;
  }
  if (object.starts_with(kKube)) {
    std::vector<std::string> segs = Segments(object.substr(kKube.size()));
    if (std::find(segs.begin(), segs.end(), "*") != segs.end()) {
      kube_patterns_.push_back(std::move(segs));
      return;
    }
  }
  exact_.insert(std::string(object));
}

bool PlanObjects::Covers(std::string_view object) const {
  if (object.starts_with(kFile)) {
    std::string path = FileObject(object.substr(kFile.size()));
    if (exact_.count(path) || subtrees_.count(path)) return true;
    // Each ancestor, up to "file:/" (kept as "file:" + "/").
    while (path.size() > kFile.size() + 1) {
      size_t slash = path.rfind('/');
      path.resize(slash == kFile.size() ? slash + 1 : slash);
      if (subtrees_.count(path)) return true;
    }
    return false;
  }
  if (exact_.count(std::string(object))) return true;
  if (object.starts_with(kKube) && !kube_patterns_.empty()) {
    std::vector<std::string> segs = Segments(object.substr(kKube.size()));
    for (const auto& pattern : kube_patterns_) {
      if (pattern.size() != segs.size()) continue;
      bool match = true;
      for (size_t i = 0; i < segs.size() && match; ++i) match = pattern[i] == "*" || pattern[i] == segs[i];
      if (match) return true;
    }
  }
  return false;
}

std::vector<std::string> UnplannedObjects(const PlanObjects& plan, const std::vector<Change>& done) {
  std::vector<std::string> out;
  for (const Change& c : done) {
    for (const std::string& o : c.objects) {
      if (!plan.Covers(o) && std::find(out.begin(), out.end(), o) == out.end()) out.push_back(o);
    }
  }
  return out;
}

std::string KubeObjectForRequest(std::string_view path, const nlohmann::json& body) {
  std::vector<std::string> seg;
  for (const std::string& s : Segments(path))
    if (!s.empty()) seg.push_back(s);
  size_t skip = !seg.empty() && seg[0] == "api" ? 2 : !seg.empty() && seg[0] == "apis" ? 3 : 0;
  if (skip == 0 || seg.size() <= skip) return std::string(kKube) + std::string(path);
  std::vector<std::string> rest(seg.begin() + static_cast<std::ptrdiff_t>(skip), seg.end());
  std::string ns, resource, name;
  if (rest[0] == "namespaces" && rest.size() >= 3) {
    ns = rest[1];
    resource = rest[2];
    if (rest.size() >= 4) name = rest[3];
  } else {
    resource = rest[0];
    if (rest.size() >= 2) name = rest[1];
  }
  if (name.empty()) {
    const nlohmann::json* meta = body.is_object() && body.contains("metadata") ? &body["metadata"] : nullptr;
    if (meta && meta->is_object() && meta->contains("name") && (*meta)["name"].is_string())
      name = (*meta)["name"].get<std::string>();
    if (name.empty()) name = "*";
  }
  return KubeObject(resource, ns, name);
}

}  // namespace nodeagent
