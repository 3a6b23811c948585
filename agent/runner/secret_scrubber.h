// Keeping secret parameter values out of everything the core writes. A
// secret (a join token, a webhook URL with its token) reaches its action as
// usual, but an action, or an exec plugin's stderr, may print it: into the
// run's log (readable by the `nodeagent` group), the journal, `-o json` or an
// error. The core therefore replaces every secret value, and the forms it
// commonly travels in (percent-encoded, form-encoded, base64 and base64url at
// any alignment), with "<redacted>" in every line and record it writes.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeagent/params.h"
#include "state/run_record.h"

namespace nodeagent {

class SecretScrubber {
 public:
  SecretScrubber() = default;
  /// Knows the value of every parameter of `specs` marked secret and set in
  /// `params` (strings, and each item of a list).
  SecretScrubber(std::span<const ParamSpec> specs, const Params& params);

  /// Adds a secret value and its encoded forms. Empty values are ignored.
  void Add(std::string_view secret);
  bool empty() const { return needles_.empty(); }

  /// `text` with every known form of every secret replaced by kRedacted.
  std::string Scrub(std::string_view text) const;
  /// Scrubs every string (and object key) in `j`, in place.
  void Scrub(nlohmann::json& j) const;
  /// Scrubs what a run record shows: summary, findings, changes, data, logs.
  void Scrub(RunRecord& record) const;

 private:
  std::vector<std::string> needles_;  // longest first, so no form is left half-replaced
};

}  // namespace nodeagent
