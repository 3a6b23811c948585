#include "runner/secret_scrubber.h"

#include "api/base64.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace nodeagent {

namespace {

std::string PercentEncode(std::string_view s, bool form, bool upper) {
  static const char* kUpper = "0123456789ABCDEF";
  static const char* kLower = "0123456789abcdef";
  const char* hex = upper ? kUpper : kLower;
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (form && c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

/// Unpadded: a padded encoding contains it.
std::string Base64(std::string_view s, bool url) {
  return EncodeBase64(s, url ? Base64Alphabet::kUrl : Base64Alphabet::kStandard, /*pad=*/false);
}

/// The base64 characters that depend on the secret alone when it starts
/// `offset` (0..2) bytes into a 3-byte group of a longer encoded text
/// ("user:" + secret, "Bearer " + secret...).
std::string Base64Stable(std::string_view secret, size_t offset, bool url) {
  std::string padded(offset, '\0');
  padded += secret;
  std::string enc = Base64(padded, url);
  size_t first = (8 * offset + 5) / 6;                // first char made of secret bits only
  size_t last = (8 * (offset + secret.size())) / 6;   // one past the last such char
  if (last <= first || last > enc.size()) return "";
  return enc.substr(first, last - first);
}

}  // namespace

SecretScrubber::SecretScrubber(std::span<const ParamSpec> specs, const Params& params) {
  for (const ParamSpec& spec : specs) {
    if (!spec.secret || !params.Has(spec.name)) continue;
    const ParamValue& v = params.values().find(spec.name)->second;
    if (const auto* s = std::get_if<std::string>(&v)) Add(*s);
    if (const auto* list = std::get_if<std::vector<std::string>>(&v))
      for (const std::string& item : *list) Add(item);
    if (const auto* map = std::get_if<StringMap>(&v))  // the values: keys name things ("Authorization")
      for (const auto& [key, value] : *map) Add(value);
  }
}

void SecretScrubber::Add(std::string_view secret) {
  if (secret.empty()) return;
  std::vector<std::string> forms = {std::string(secret)};
  for (bool form : {false, true})
    for (bool upper : {true, false}) forms.push_back(PercentEncode(secret, form, upper));
  for (bool url : {false, true}) {
    forms.push_back(Base64(secret, url));
    // Unaligned forms are parts of a longer encoding; short ones would
    // redact unrelated text, so only distinctive ones are kept.
    for (size_t offset = 1; offset < 3; ++offset) {
      std::string stable = Base64Stable(secret, offset, url);
      if (stable.size() >= 12) forms.push_back(stable);
    }
  }
  for (std::string& f : forms)
    if (!f.empty() && std::find(needles_.begin(), needles_.end(), f) == needles_.end()) needles_.push_back(std::move(f));
  std::stable_sort(needles_.begin(), needles_.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string SecretScrubber::Scrub(std::string_view text) const {
  std::string out(text);
  for (const std::string& needle : needles_) {
    size_t pos = 0;
    while ((pos = out.find(needle, pos)) != std::string::npos) {
      out.replace(pos, needle.size(), kRedacted);
      pos += std::char_traits<char>::length(kRedacted);
    }
  }
  return out;
}

void SecretScrubber::Scrub(nlohmann::json& j) const {
  if (needles_.empty()) return;
  if (j.is_string()) {
    j = Scrub(j.get_ref<const std::string&>());
  } else if (j.is_array()) {
    for (auto& item : j) Scrub(item);
  } else if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto& [key, value] : j.items()) {
      nlohmann::json v = value;
      Scrub(v);
      out[Scrub(key)] = std::move(v);
    }
    j = std::move(out);
  }
}

void SecretScrubber::Scrub(RunRecord& r) const {
  if (needles_.empty()) return;
  auto scrub_findings = [this](std::vector<Finding>& findings) {
    for (Finding& f : findings) {
      f.subject = Scrub(f.subject);
      f.message = Scrub(f.message);
    }
  };
  auto scrub_changes = [this](std::vector<Change>& changes) {
    for (Change& c : changes) {
      c.target = Scrub(c.target);
      c.description = Scrub(c.description);
      c.diff = Scrub(c.diff);
      for (std::string& o : c.objects) o = Scrub(o);
    }
  };
  r.summary = Scrub(r.summary);
  scrub_findings(r.findings);
  scrub_changes(r.changes);
  if (r.plan) {
    r.plan->summary = Scrub(r.plan->summary);
    scrub_findings(r.plan->findings);
    scrub_changes(r.plan->changes);
  }
  Scrub(r.data);
  for (LogLine& l : r.logs) l.message = Scrub(l.message);
}

}  // namespace nodeagent
