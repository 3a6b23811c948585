// nodeagent: the daemon's command line. `nodeagent` runs the daemon,
// `nodeagent --demo` runs it on the embedded default config in a safe demo
// mode. Runs execute in `nodeagent-runner worker` (config/runner_path.h).
#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "config/agent_config.h"
#include "config/runner_path.h"
#include "daemon/daemon.h"
#include "daemon/default_config.h"
#include "daemon/logging.h"

#ifndef NODEAGENT_VERSION
#define NODEAGENT_VERSION "0.0.0"
#endif

namespace {

std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

/// The demo config: the embedded default with every task enabled as a dry
/// run, state and socket in a temp dir, plugins from the build tree if we run
/// from one.
std::string DemoConfig(const std::string& state_dir, const std::string& plugin_dir) {
  std::string text = nodeagent::kDefaultConfigText;
  // Later keys win within one document only through tables, so prepend the
  // overrides as a separate [agent] table merge: emit the demo [agent] table
  // and strip the default's [agent] keys we replace by renaming them.
  std::string overrides = "# --- demo overrides ---\n";
  overrides += "[agent]\ndemo = true\nstate_dir = " + TomlString(state_dir) + "\nsocket = " +
               TomlString(state_dir + "/agent.sock") + "\nplugin_dir = " + TomlString(plugin_dir) +
               "\nexec_plugin_dir = " + TomlString(state_dir + "/exec-plugins") +
               "\nallow_unsafe_plugin_owner = true\nlog_level = \"info\"\n";
  // Drop the default's own [agent] table; keep everything else.
  std::string out;
  bool in_agent = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (!line.empty() && line[0] == '[') in_agent = line.rfind("[agent]", 0) == 0;
    if (!in_agent) out += line + "\n";
  }
  // A task that shows a real plan on any machine: what log-cleanup would
  // delete under /var/log (a dry run: nothing is deleted).
  out += "\n# --- demo task ---\n[tasks.demo-var-log]\naction = \"log-cleanup\"\nschedule = \"every 10m\"\n"
         "paths = [\"/var/log\"]\nmax_age = \"10d\"\n";
  return overrides + out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nodeagent: runs node chores (log cleanup, drain-and-reboot, join prep...) on a schedule.\n"
               "Drive it with agentctl."};
  std::string config = nodeagent::kDefaultConfigPath;
  bool demo = false;
  bool version = false;
  bool check = false;
  std::string plugin_dir;
  app.add_option("-c,--config", config, "Config file (conf.d/*.toml beside it is read too)");
  app.add_flag("--demo", demo,
               "Safe demo: the embedded default config, every task enabled but forced to a dry run and run once at "
               "start, state and socket in a temp dir. Changes nothing on this machine.");
  app.add_option("--plugin-dir", plugin_dir, "With --demo: where the plugins are (default: next to this binary)");
  app.add_flag("--check-config", check, "Validate the config and exit (like nginx -t)");
  app.add_flag("-V,--version", version, "Print the version");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::cout << "nodeagent " << NODEAGENT_VERSION << "\n";
    return 0;
  }
  nodeagent::DaemonOptions options;
  auto runner = nodeagent::FindRunner();
  if (!runner) {
    std::cerr << "nodeagent: " << runner.error().message() << "\n";
    return 1;
  }
  options.worker_exe = *runner;
  options.config_path = config;
  if (demo) {
    char tmpl[] = "/tmp/nodeagent-demo-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      std::cerr << "nodeagent: cannot create a temp dir for the demo\n";
      return 1;
    }
    if (plugin_dir.empty()) {
      std::string self = nodeagent::SelfExe();
      auto exe_dir = std::filesystem::path(self.empty() ? "/usr/sbin/nodeagent" : self).parent_path();
      for (auto candidate : {exe_dir / "../plugins", exe_dir / "../lib/nodeagent/plugins",
                             std::filesystem::path("/usr/lib/nodeagent/plugins")}) {
        std::error_code ec;
        if (std::filesystem::is_directory(candidate, ec)) {
          plugin_dir = std::filesystem::weakly_canonical(candidate, ec).string();
          break;
        }
      }
    }
    options.config_text = DemoConfig(tmpl, plugin_dir);
    options.demo_showcase = true;
    options.config_path = "<embedded default config, demo mode>";
    std::cerr << "nodeagent demo: state and socket in " << tmpl << " (agentctl --socket " << tmpl
              << "/agent.sock status); Ctrl-C stops.\n";
  }
  nodeagent::SetupLogging("info", demo);
  if (check) {
    std::cerr << "use: agentctl config check --config " << config << "\n";
    return 2;
  }
  nodeagent::Daemon daemon(options);
  return daemon.Run();
}
