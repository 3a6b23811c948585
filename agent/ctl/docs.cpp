#include "ctl/docs.h"

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "host/local_host.h"
#include "kube/curl_kube_client.h"
#include "kube/kubeconfig.h"
#include "loader/agent_setup.h"
#include "nodeagent/kube.h"
#include "permissions/rbac_manifest.h"
#include "permissions/required_permissions.h"
#include "runner/client_factories.h"

#ifndef NODEAGENT_VERSION
#define NODEAGENT_VERSION "0.0.0"
#endif

namespace nodeagent {

namespace {

/// Escapes text for roff.
std::string Roff(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

void RoffParams(std::ostringstream& os, std::span<const ParamSpec> params) {
  for (const ParamSpec& p : params) {
    os << ".TP\n.B " << Roff(p.name) << "\n(" << ParamTypeName(p.type);
    if (p.required) os << ", required";
    else if (!p.default_value.empty()) os << ", default " << Roff(p.default_value);
    if (p.range.declared) os << ", " << Roff(RangeText(p));
    if (p.secret)
      os << ", secret: shown as <redacted> in run history and config show; keep it in a file other users cannot "
            "read";
    os << ")";
    if (!p.allowed.empty()) {
      os << " one of:";
      for (auto v : p.allowed) os << " " << Roff(v);
    }
    os << "\n" << Roff(p.doc) << "\n";
  }
}

std::string Header(const char* name, int section, const char* title) {
  return std::string(".TH ") + name + " " + std::to_string(section) + " \"\" \"nodeagent " NODEAGENT_VERSION "\" \"" +
         title + "\"\n";
}

std::string ManToml(const std::string& config_path) {
  SetupOptions so;
  so.config_path = config_path;
  so.allow_missing_config = true;
  so.check_schedules = false;
  auto setup = LoadAgentSetup(so);
  std::ostringstream os;
  os << Header("NODEAGENT.TOML", 5, "File Formats")
     << ".SH NAME\nnodeagent.toml \\- configuration of the nodeagent daemon\n"
     << ".SH SYNOPSIS\n/etc/nodeagent/agent.toml, /etc/nodeagent/conf.d/*.toml\n"
     << ".SH DESCRIPTION\nTOML files read in order: agent.toml, then conf.d/*.toml in lexical order; a key set in a "
        "later file wins. Every key is checked: unknown keys, wrong types and bad values are errors naming "
        "file:line:col and the key. Check with \\fBagentctl config check\\fR; apply with \\fBagentctl reload\\fR.\n"
        "Durations are strings with units: ms, s, m, h, d, w (\"30s\", \"10d\", \"1h30m\"). Every number and "
        "duration has a range, both ends included (\"between 1m and 1w\"); a value outside it is an error naming "
        "file:line:col and the range. A list of integers takes a range for each item; a list of ports holds ports "
        "(1 to 65535) and ranges: [6443, \"2379\\-2380\"]; a map of strings is a TOML table, inline ({ "
        "\"net.ipv4.ip_forward\" = \"1\" }) or as a [tasks.NAME.KEY] section. A single value is a one\\-item list.\n"
     << ".SH [agent]\n";
  RoffParams(os, AgentKeys());
  os << ".SH [kubernetes]\n";
  RoffParams(os, KubernetesKeys());
  os << ".SH [history]\n";
  RoffParams(os, HistoryKeys());
  os << ".SH [audit]\n";
  RoffParams(os, AuditKeys());
  os << ".SH [metrics]\n";
  RoffParams(os, MetricsKeys());
  os << ".SH [[notify]]\nWebhook targets of notifications, one table each; files in conf.d add theirs. Every "
        "action's notifications (ActionContext::Notify; drain\\-and\\-reboot sends drain, reboot, uncordon and "
        "failure) and the core's own \"failure\" for any run that failed go to each target whose events take them. "
        "A dry run sends nothing. An action waits for the first attempt to each target, at most its timeout; "
        "retries go on in the background, and what is still unsent at the end of the run (after at most 20 s more) "
        "is counted in the run's record (notifications_failed) and in nodeagent_notifications_failed_total.\n";
  RoffParams(os, NotifyKeys());
  os << ".SH [tasks.NAME]\nA task runs one action on a schedule or on demand. Besides the keys below, a task takes "
        "the parameters of its action (see ACTIONS).\n";
  RoffParams(os, TaskCoreKeys());
  os << ".SH ACTIONS\n";
  if (setup) {
    for (const ActionInfo* a : (*setup)->catalog.All()) {
      os << ".SS " << Roff(a->name) << " (plugin " << Roff(a->plugin) << ", " << Roff(a->maturity)
         << (a->disruptive ? ", disruptive" : "") << ")\n"
         << Roff(a->description) << "\n";
      RoffParams(os, a->params);
    }
  }
  os << ".SH EXAMPLE\n.nf\n[tasks.log\\-cleanup]\naction = \"log\\-cleanup\"\nschedule = \"@daily\"\n"
        "window = \"Mon\\-Fri 22:00\\-04:00 Europe/Berlin\"\npaths = [\"/var/log/app\\-*\"]\nmax_age = \"10d\"\n.fi\n"
     << ".SH SEE ALSO\nnodeagent(8), agentctl(1)\n";
  return os.str();
}

const char* kManAgentctl = R"DOC(.TH AGENTCTL 1 "" "nodeagent @V@" "User Commands"
.SH NAME
agentctl \- drive nodeagent, the node chores agent
.SH SYNOPSIS
.B agentctl
[\fB\-\-config\fR FILE] [\fB\-\-socket\fR PATH] [\fB\-\-local\fR] [\fB\-o\fR text|json] COMMAND ...
.SH DESCRIPTION
agentctl talks to the nodeagent daemon over its control socket. With \fB\-\-local\fR it loads the configuration and plugins itself and runs actions in its own process, with the same state and history as the daemon.
.SH COMMANDS
.TP
.B status
Version, node, plugins, runs in progress, tasks with last and next run. With a kubeconfig (the one the daemon's runs use), also what the cluster knows of this node: schedulable or cordoned (by nodeagent, with drain\-and\-reboot's run and phase from its nodeagent.io/ annotations, or by someone else), the Node conditions whose type starts with NodeAgent, who holds the reboot lock's Lease slots, and the last Events nodeagent posted about the node (newest first). It reads only (nodes get, events list in default, leases get), 5 s per request and no retries; without a kubeconfig it says so in one line, and a cluster it cannot read is a line too: the exit code is the daemon part's. With \fB\-o json\fR the same is under \fBcluster\fR. \fB\-\-no\-cluster\fR shows the daemon's state only and makes no API request (for scripts that poll).
.TP
.B list
Actions from plugins and tasks from the configuration.
.TP
.BI describe " ACTION"
An action's description, every parameter (type, default, accepted values), the Kubernetes API permissions it needs, and the Node conditions it sets.
.TP
.BI run " ACTION|TASK" " [\-\-set KEY=VALUE]... [\-\-dry\-run] [\-\-confirm] [\-\-detach]"
Run now, with live progress and a final summary. \fB\-\-dry\-run\fR only plans: it shows what would change (with diffs for files) and changes nothing. \fB\-\-confirm\fR (like terraform apply) first plans as the real run will, shows that plan and asks on the terminal; only \fBy\fR or \fByes\fR applies it. The run then refuses, applying nothing, if the plan it makes again differs from the one shown ("the node changed since you confirmed"). Without a terminal on stdin \fB\-\-confirm\fR is a usage error. Whatever runs, an action applies only what its plan names; anything else is refused and fails the run. With \fB\-o json\fR the record has the outcome (status, summary, findings, changes) and, beside it, \fBplan\fR (summary, findings, changes, fingerprint).
.TP
.B history " [\-\-task T] [\-n N]"
Past runs, newest first.
.TP
.BI logs " RUN_ID"
One run's record and log lines.
.TP
.B audit " [\-\-since DURATION|TIME] [\-\-run ID] [\-n N]"
Every change the agent made to the node and the cluster, oldest first: each file written, removed or changed in mode (with the SHA\-256 of its content before and after), each command that may change something (argv and exit code), each Kubernetes API call but a read (verb, resource, namespace, name, and the HTTP status of a failure), and what an action reports it changed where the core could not see it (marked "reported by the action"). \fB\-\-since\fR takes a duration back from now (2h, 30m, 1d) or a time with its zone (2026\-12\-06T10:00:00Z). The trail is /var/lib/nodeagent/audit/audit.jsonl (one JSON line per change, root only, rotated as [audit] says); secrets appear as <redacted>, and dry runs add nothing. With \fB\-o json\fR, one JSON object per line. A line torn by a crash is skipped with a note on stderr.
.TP
.BI cancel " RUN_ID"
Stop a run in progress.
.TP
.B config check
Validate the configuration files (like nginx \-t).
.TP
.B config show
The effective configuration with defaults filled in.
.TP
.B reload
Make the daemon re-read its configuration; a bad one is refused and the running one stays.
.TP
.B kube check
Kubernetes server version, identity, and whether the API server grants every permission the loaded actions declare (with their defaults, and with the namespaces each task configures), asked with SelfSubjectAccessReviews. Each missing permission is listed with the actions that need it; exit 1 when one is missing.
.SH KUBERNETES PERMISSIONS
Each action declares the Kubernetes API permissions it uses (\fBagentctl describe\fR lists them). /usr/share/doc/nodeagent/examples/rbac.yaml (conf/rbac.yaml in the sources) is generated from the shipped plugins' declarations, not written by hand; \fBagentctl gen rbac\fR prints the manifest for this node's own configuration (exec plugins, task namespaces).
.SH EXIT STATUS
0 ok or changed; 1 the action failed or its checks found errors; 2 usage or configuration error, or refused; 3 the daemon is unreachable.
.SH PERMISSIONS
Root may do everything. Members of the \fBnodeagent\fR group may read status, lists, history and the audit trail. Nobody else may use the socket.
.SH SEE ALSO
nodeagent(8), nodeagent.toml(5)
)DOC";

const char* kManNodeagent = R"DOC(.TH NODEAGENT 8 "" "nodeagent @V@" "System Administration"
.SH NAME
nodeagent \- run node chores on Kubernetes nodes, safely, on a schedule
.SH SYNOPSIS
.B nodeagent
[\fB\-\-config\fR FILE] [\fB\-\-demo\fR] [\fB\-\-version\fR]
.SH DESCRIPTION
nodeagent is a daemon, normally started by systemd (nodeagent.service). It loads plugin modules from /usr/lib/nodeagent/plugins and exec plugins from /etc/nodeagent/exec\-plugins, runs their actions on a schedule (cron, intervals, jitter, maintenance windows) or on request from agentctl(1), and keeps a history of every run in /var/lib/nodeagent. Each run executes in its own worker process (/usr/libexec/nodeagent/nodeagent\-runner), so a crashing or hanging plugin cannot take the daemon down; a run's timeout kills its whole process group.
.PP
Every action plans before it applies; a dry run stops at the plan, and while it applies, an action may change only what its plan names (anything else is refused and fails the run). While an action plans, the agent itself refuses file writes, commands the plugin does not mark read\-only and changes to the cluster, so a dry run cannot change the node. Secret parameters, and what an action prints of them (also URL\- or base64\-encoded), appear as <redacted> in run history, logs and the journal. Runs interrupted by a crash or a reboot are resumed from their checkpoint when their action supports it (drain\-and\-reboot uncordons the node after the reboot), otherwise recorded as interrupted.
.SH OPTIONS
.TP
.B \-\-config FILE
Configuration (default /etc/nodeagent/agent.toml; conf.d/*.toml beside it is read too).
.TP
.B \-\-demo
Run on the embedded default configuration with every task enabled but forced to a dry run and run once at start, with state and socket in a temporary directory. Changes nothing on the machine.
.SH SIGNALS
SIGHUP reloads the configuration (a bad one is refused). SIGTERM stops: runs in progress get agent.shutdown_grace to finish, then are killed and left resumable or recorded as interrupted.
.SH RELOAD
\fBsystemctl reload nodeagent\fR runs \fBagentctl reload\fR, which asks the daemon over its socket to re\-read the configuration. A configuration with errors is refused and the running one stays; the reload then fails and \fBjournalctl \-u nodeagent\fR shows the errors.
.SH METRICS
Prometheus metrics of the runs are written for node\-exporter's textfile collector (\fB[metrics] textfile\fR). With \fB[metrics] listen\fR set ("9779" for 127.0.0.1:9779, "0.0.0.0:9779" or "[::]:9779" for every interface, only when written so) the daemon also answers \fBGET /metrics\fR (and HEAD) over plain HTTP on its event loop, with Content\-Type text/plain; version=0.0.4; other paths are 404, other methods 405. Each connection carries one request (Connection: close) whose head must fit in 8 KiB (else 431) and arrive within 5 s; at most 16 connections are open at once (one more is answered 503). The endpoint has no authentication: keep it on loopback or firewall it. The idle daemon arms no timer for it and wakes only when scraped. An address it cannot bind (in use, not on this host) stops the daemon at start with an error naming the address; a changed address takes effect at the next restart.
.SH SANDBOX
nodeagent.service grants what the shipped actions (log\-cleanup, drain\-and\-reboot, exec plugins) need and no more: the file system is read\-only except for /var/log, /var/lib/nodeagent and /run/nodeagent, and the capabilities are CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN and CAP_SYS_PTRACE. Exec plugins run inside the same sandbox. Grant more with a drop\-in (\fBsystemctl edit nodeagent.service\fR, e.g. ReadWritePaths=/srv/logs); examples, and the draft of the drop\-in a join\-prep plugin would ship, are in /usr/share/doc/nodeagent/examples/nodeagent.service.d/.
.SH FILES
/etc/nodeagent/agent.toml, /etc/nodeagent/conf.d/, /var/lib/nodeagent/ (run history, the audit trail, and in plugin\-probes/ each plugin module's tables as its probe last read them, used while the module and the runner are unchanged), /run/nodeagent/agent.sock, /usr/lib/nodeagent/plugins/, /usr/libexec/nodeagent/nodeagent\-runner (runs and agentctl's local commands; found beside the daemon in a build tree, or through $NODEAGENT_RUNNER)
.SH SEE ALSO
agentctl(1), nodeagent.toml(5), systemctl(1)
)DOC";

const char* kCompletion = R"DOC(# bash completion for agentctl (generated by agentctl gen completion-bash)
_agentctl() {
  local cur prev words cword
  _init_completion 2>/dev/null || { cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"; }
  local cmds="status list describe run history logs audit cancel config reload kube"
  local i cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      -c|--config|--socket|-o|--output) ((i++)) ;;
      -*) ;;
      *) cmd="${COMP_WORDS[i]}"; break ;;
    esac
  done
  case "$prev" in
    -c|--config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    -o|--output) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
  esac
  case "$cmd" in
    "") COMPREPLY=($(compgen -W "$cmds --config --socket --local --output --version --help" -- "$cur")) ;;
    run|describe)
      if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "--set --dry-run --confirm --detach --help" -- "$cur"))
      else
        local names
        names=$(agentctl --local -o json list 2>/dev/null | sed -n 's/^ *"name": "\([^"]*\)".*/\1/p' | sort -u)
        COMPREPLY=($(compgen -W "$names" -- "$cur"))
      fi ;;
    config) COMPREPLY=($(compgen -W "check show" -- "$cur")) ;;
    kube) COMPREPLY=($(compgen -W "check" -- "$cur")) ;;
    history) COMPREPLY=($(compgen -W "--task -n" -- "$cur")) ;;
    audit) COMPREPLY=($(compgen -W "--since --run -n" -- "$cur")) ;;
  esac
}
complete -F _agentctl agentctl
)DOC";

/// The permissions of every loaded action (defaults) and configured task.
Result<std::vector<RequiredPermission>> SetupPermissions(const AgentSetup& setup) {
  std::vector<ConfiguredAction> tasks;
  for (const auto& [name, task] : setup.tasks) {
    const ActionInfo* a = setup.catalog.Find(task.action);
    if (a) tasks.push_back({name, a, task.params});
  }
  return CollectPermissions(setup.catalog.All(), tasks);
}

Result<std::unique_ptr<AgentSetup>> LoadForPermissions(const std::string& config_path) {
  SetupOptions so;
  so.config_path = config_path;
  so.allow_missing_config = true;
  so.check_schedules = false;
  return LoadAgentSetup(so);
}

/// `agentctl gen rbac`: conf/rbac.yaml for the loaded actions and tasks.
int GenerateRbac(const std::string& config_path) {
  auto setup = LoadForPermissions(config_path);
  if (!setup) {
    std::cerr << "agentctl: " << setup.error().message() << "\n";
    return 2;
  }
  for (const auto& p : (*setup)->catalog.problems)
    std::cerr << "agentctl: warning: plugin " << p.file << " not loaded: " << p.reason << "\n";
  auto rows = SetupPermissions(**setup);
  if (!rows) {
    std::cerr << "agentctl: " << rows.error().message() << "\n";
    return 2;
  }
  std::cout << RbacManifest(*rows);
  return 0;
}

std::string WithVersion(std::string s) {
  auto pos = s.find("@V@");
  if (pos != std::string::npos) s.replace(pos, 3, NODEAGENT_VERSION);
  return s;
}

}  // namespace

int GenerateDoc(const std::string& what, const std::string& config_path) {
  if (what == "man-agentctl") std::cout << WithVersion(kManAgentctl);
  else if (what == "man-nodeagent") std::cout << WithVersion(kManNodeagent);
  else if (what == "man-nodeagent.toml") std::cout << ManToml(config_path);
  else if (what == "completion-bash") std::cout << kCompletion;
  else if (what == "rbac") return GenerateRbac(config_path);
  else {
    std::cerr << "agentctl gen: unknown document '" << what
              << "' (man-agentctl, man-nodeagent, man-nodeagent.toml, completion-bash, rbac)\n";
    return 2;
  }
  return 0;
}

int KubeCheck(const std::string& config_path, bool json_output) {
  auto setup = LoadForPermissions(config_path);
  if (!setup) {
    std::cerr << "agentctl: " << setup.error().message() << "\n";
    return 2;
  }
  auto required = SetupPermissions(**setup);
  if (!required) {
    std::cerr << "agentctl: " << required.error().message() << "\n";
    return 2;
  }
  const AgentSettings& s = (*setup)->settings;
  RealHost host(s.root);
  auto config = kube::LoadAgentKubeconfig(s.kube.kubeconfig, s.kube.context, kube::ProcessEnv(), host.files());
  if (!config) {
    std::cerr << "agentctl: " << config.error().message() << "\n";
    return 2;
  }
  std::string identity = config->exec ? "exec credential plugin"
                         : !config->client_cert_pem.empty() ? "client certificate"
                         : !config->token.empty() || !config->token_file.empty() ? "bearer token"
                                                                                    : "anonymous";
  auto client = MakeClientFactories(s, host, nullptr).kube(nullptr);
  if (!client) {
    std::cerr << "agentctl: " << client.error().message() << "\n";
    return 2;
  }
  nlohmann::json out = {{"kubeconfig", config->source}, {"context", config->context}, {"server", config->server},
                        {"auth", identity}};
  auto version = (*client)->GetVersion();
  if (!version) {
    std::cerr << "agentctl: cannot reach the API server " << config->server << ": " << version.error().message() << "\n";
    return 3;
  }
  out["server_version"] = version->value("gitVersion", "?");
  std::vector<ResourceAttributes> wanted;
  for (const RequiredPermission& r : *required) wanted.push_back(r.what);
  auto denied = CheckPermissions(**client, wanted);
  if (!denied) {
    std::cerr << "agentctl: " << denied.error().message() << "\n";
    return 1;
  }
  // Each required row with its answer, and who needs it.
  std::vector<const RequiredPermission*> missing;
  out["permissions"] = nlohmann::json::array();
  for (const RequiredPermission& r : *required) {
    bool allowed = true;
    for (const ResourceAttributes& d : *denied)
      if (DescribePermission(d) == DescribePermission(r.what)) allowed = false;
    if (!allowed) missing.push_back(&r);
    out["permissions"].push_back(
        {{"permission", DescribePermission(r.what)}, {"allowed", allowed}, {"needed_by", r.needed_by}});
  }
  out["missing_permissions"] = nlohmann::json::array();
  for (const RequiredPermission* m : missing) out["missing_permissions"].push_back(DescribePermission(m->what));
  out["permissions_checked"] = required->size();
  auto needed_by = [](const RequiredPermission& r) {
    std::string s;
    for (const auto& who : r.needed_by) s += (s.empty() ? "" : ", ") + who;
    return s;
  };
  if (json_output) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "server:   " << config->server << " (" << out["server_version"].get<std::string>() << ")\n"
              << "config:   " << config->source << ", context " << (config->context.empty() ? "-" : config->context)
              << "\nidentity: " << identity << "\n";
    if (missing.empty()) {
      std::cout << "permissions: all " << required->size() << " granted\n";
    } else {
      std::cout << "permissions: " << missing.size() << " of " << required->size()
                << " MISSING (grant them with conf/rbac.yaml, or `agentctl gen rbac` for this configuration):\n";
      for (const RequiredPermission* m : missing)
        std::cout << "  " << DescribePermission(m->what) << "  (needed by " << needed_by(*m) << ")\n";
    }
  }
  return missing.empty() ? 0 : 1;
}

}  // namespace nodeagent
