#include "network_manager/nm_devices.h"

#include "network_manager/nm_config.h"

namespace nodeagent::calico {

namespace {

constexpr size_t kMaxQuotedBytes = 300;

std::string_view TrimBlank(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// The first non-blank line of a command's output, cut to kMaxQuotedBytes.
std::string FirstLine(std::string_view text) {
  text = TrimBlank(text);
  std::string_view line = text.substr(0, text.find('\n'));
  line = TrimBlank(line);
  if (line.size() > kMaxQuotedBytes) return std::string(line.substr(0, kMaxQuotedBytes)) + "...";
  return std::string(line);
}

CommandSpec Nmcli(std::vector<std::string> args, bool read_only) {
  CommandSpec spec;
  spec.argv = {"nmcli"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = kNmcliTimeout;
  spec.env["LC_ALL"] = "C";
  spec.read_only = read_only;
  return spec;
}

std::string Joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

// Why a finished nmcli call failed, for messages.
std::string FailureText(const CommandResult& r) {
  if (r.timed_out) return "timed out";
  if (r.cancelled) return "cancelled";
  std::string why = r.exit_code >= 0 ? "exit " + std::to_string(r.exit_code) : "killed by signal " + std::to_string(r.term_signal);
  std::string line = FirstLine(r.stderr_data.empty() ? r.stdout_data : r.stderr_data);
  return line.empty() ? why : why + ": " + line;
}

// One terse row split on unescaped ':' with `\x` unescaped to `x`.
std::vector<std::string> SplitTerse(std::string_view line) {
  std::vector<std::string> fields(1);
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\\' && i + 1 < line.size()) {
      fields.back() += line[++i];
    } else if (c == ':') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

}  // namespace

NmState ProbeNetworkManager(Host& host) {
  NmState state;
  auto spec = Nmcli({"-t", "-f", "RUNNING,VERSION", "general"}, /*read_only=*/true);
  auto result = host.commands().Run(spec);
  if (!result) {
    if (result.error().code() == ErrorCode::kNotFound) {
      state.why = "nmcli not found: NetworkManager is not installed";
    } else {
      state.installed = true;  // unknown; say what happened rather than guess "absent"
      state.why = "running nmcli: " + result.error().message();
    }
    return state;
  }
  state.installed = true;
  if (!result->succeeded()) {
    state.why = "nmcli " + Joined({spec.argv.begin() + 1, spec.argv.end()}) + ": " + FailureText(*result);
    return state;
  }
  std::string_view out = TrimBlank(result->stdout_data);
  auto fields = SplitTerse(out.substr(0, out.find('\n')));
  if (fields.empty() || fields[0] != "running") {
    state.why = "nmcli general says RUNNING=" + FirstLine(fields.empty() ? "" : fields[0]);
    return state;
  }
  state.running = true;
  if (fields.size() > 1) state.version = FirstLine(fields[1]);
  return state;
}

Result<std::vector<NmDevice>> ParseNmcliDevices(std::string_view terse) {
  std::vector<NmDevice> devices;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < terse.size()) {
    size_t nl = terse.find('\n', pos);
    size_t end = nl == std::string_view::npos ? terse.size() : nl;
    std::string_view line = terse.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (TrimBlank(line).empty()) continue;
    auto fields = SplitTerse(line);
    if (fields.size() != 3) {
      return InvalidArgument("nmcli -t -f DEVICE,TYPE,STATE device, line " + std::to_string(line_no) +
                             ": expected 3 fields separated by ':', got " + std::to_string(fields.size()) + ": " +
                             FirstLine(line));
    }
    if (devices.size() >= kMaxNmDevices) {
      return Error(ErrorCode::kTooLarge,
                   "nmcli lists more than " + std::to_string(kMaxNmDevices) + " devices; not reading them all");
    }
    devices.push_back({std::move(fields[0]), std::move(fields[1]), std::move(fields[2])});
  }
  return devices;
}

Result<std::vector<NmDevice>> ReadNmDevices(Host& host) {
  auto spec = Nmcli({"-t", "-f", "DEVICE,TYPE,STATE", "device"}, /*read_only=*/true);
  auto result = host.commands().Run(spec);
  if (!result) return result.error().Wrap("running " + Joined(spec.argv));
  if (!result->succeeded()) return Error(ErrorCode::kUnavailable, Joined(spec.argv) + ": " + FailureText(*result));
  if (result->output_truncated) {
    return Error(ErrorCode::kTooLarge, Joined(spec.argv) + ": output too long (truncated by the runner)");
  }
  return ParseNmcliDevices(result->stdout_data);
}

// NetworkManager 1.42 applies `[keyfile] unmanaged-devices` on a reload of
// its configuration, no restart needed: `nmcli general reload conf` is the
// D-Bus Reload with NM_MANAGER_RELOAD_FLAG_CONF (src/core/nm-manager.c,
// NM_CONFIG_CHANGE_CAUSE_CONF); the keyfile plugin's config_changed_cb
// (src/core/settings/plugins/keyfile/nms-keyfile-plugin.c, tag 1.42.8)
// compares the old and new unmanaged-devices and emits
// unmanaged-specs-changed, on which nm-manager.c's
// system_unmanaged_devices_changed_cb re-evaluates every device
// (nm_device_set_unmanaged_by_user_settings). nmcli(1) documents `reload
// conf` as "Reload the NetworkManager.conf configuration from disk";
// NetworkManager(8) warns that not every setting applies on reload, but this
// one does. Checked against the real 1.42 in tests/system/calico_nm.sh.
std::vector<std::string> ReloadCommand() { return {"nmcli", "general", "reload", "conf"}; }

Status ReloadNetworkManager(Host& host) {
  auto argv = ReloadCommand();
  auto spec = Nmcli({argv.begin() + 1, argv.end()}, /*read_only=*/false);
  auto result = host.commands().Run(spec);
  if (!result) return result.error().Wrap("running " + Joined(argv));
  if (!result->succeeded()) return Error(ErrorCode::kUnavailable, Joined(argv) + ": " + FailureText(*result));
  return Status::Ok();
}

std::vector<NmDevice> ManagedCalicoDevices(const std::vector<NmDevice>& devices,
                                           const std::vector<std::string>& specs) {
  std::vector<NmDevice> managed;
  for (const auto& d : devices) {
    if (MatchDeviceSpecs(specs, d.device) != SpecMatch::kMatch) continue;
    if (d.state == "unmanaged") continue;
    managed.push_back(d);
  }
  return managed;
}

std::vector<NmDevice> DevicesTakenDownByUnmanage(const std::vector<NmDevice>& devices,
                                                 const std::vector<std::string>& specs) {
  std::vector<NmDevice> owned;
  for (auto& d : ManagedCalicoDevices(devices, specs)) {
    if (d.state != "connected (externally)") owned.push_back(std::move(d));
  }
  return owned;
}

Result<NmWaitResult> WaitUnmanaged(Host& host, const std::vector<std::string>& specs,
                                   std::chrono::milliseconds timeout, std::chrono::milliseconds interval,
                                   const bool* cancelled) {
  auto& clock = host.clock();
  const auto start = clock.Monotonic();
  const auto deadline = start + timeout;
  if (interval <= std::chrono::milliseconds(0)) interval = std::chrono::milliseconds(1);
  NmWaitResult out;
  while (true) {
    auto devices = ReadNmDevices(host);
    if (!devices) return devices.error();
    out.devices = std::move(*devices);
    out.still_managed = ManagedCalicoDevices(out.devices, specs);
    auto now = clock.Monotonic();
    out.waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
    if (out.still_managed.empty() || now >= deadline) return out;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (!clock.SleepFor(std::min(interval, left), cancelled)) {
      out.waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock.Monotonic() - start);
      return out;
    }
  }
}

}  // namespace nodeagent::calico
