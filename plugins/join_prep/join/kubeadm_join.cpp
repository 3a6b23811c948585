#include "join/kubeadm_join.h"

#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <random>

#include "check.h"
#include "nodeagent/plan_objects.h"
#include "text.h"

namespace nodeagent::join_prep {

namespace {

constexpr std::string_view kConfigName = "join-configuration.yaml";
constexpr size_t kMaxErrorLines = 40;
constexpr size_t kTailLines = 15;
constexpr size_t kMaxShownLine = 2000;

std::string Seconds(std::chrono::milliseconds d) { return std::to_string((d.count() + 500) / 1000) + " s"; }

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s.substr(0, kMaxShownLine));
}

std::string RandomSuffix() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 4; ++i) {
    uint32_t r = rd();
    for (int j = 0; j < 4; ++j, r >>= 4) s += kHex[r & 15];
  }
  return s;
}

/// A directory only the agent may enter, made fresh for one join and
/// removed with everything in it when this object goes (or by Remove()).
class PrivateWorkDir {
 public:
  static Result<std::unique_ptr<PrivateWorkDir>> Create(FileSystem& fs, const std::string& base) {
    if (Status st = fs.MakeDirs(base, 0700); !st.ok()) return st.error().Wrap("making " + base);
    auto info = fs.Lstat(base);
    if (!info) return info.error().Wrap("checking " + base);
    if (info->type != FileType::kDirectory)
      return Error(ErrorCode::kPermissionDenied, base + " is not a directory (a symlink?): refusing to put the "
                                                        "join's token there");
    if ((info->mode & 022) != 0)
      return Error(ErrorCode::kPermissionDenied, base + " may be written by others (mode " + Octal(info->mode) +
                                                     "): refusing to put the join's token there");
    // A name nobody else made: the base is ours alone to write, and the
    // name is random; one that exists already is skipped, never reused.
    for (int attempt = 0; attempt < 8; ++attempt) {
      std::string dir = base + "/join-" + RandomSuffix();
      if (fs.Exists(dir)) continue;
      if (Status st = fs.MakeDirs(dir, 0700); !st.ok()) return st.error().Wrap("making " + dir);
      auto owned = std::unique_ptr<PrivateWorkDir>(new PrivateWorkDir(fs, dir));
      if (Status st = fs.Chmod(dir, 0700); !st.ok()) return st.error().Wrap("chmod 0700 " + dir);
      auto made = fs.Lstat(dir);
      if (!made) return made.error().Wrap("checking " + dir);
      if (made->type != FileType::kDirectory || (made->mode & 07777) != 0700)
        return Error(ErrorCode::kPermissionDenied, dir + " is not a 0700 directory after making it");
      return owned;
    }
    return Error(ErrorCode::kAlreadyExists, "no free name for the join's directory under " + base);
  }

  ~PrivateWorkDir() { (void)Remove(); }
  PrivateWorkDir(const PrivateWorkDir&) = delete;
  PrivateWorkDir& operator=(const PrivateWorkDir&) = delete;

  const std::string& path() const { return path_; }

  /// Removes every file in the directory, then the directory. Idempotent.
  Status Remove() {
    if (removed_) return Status::Ok();
    Status first;
    if (auto names = fs_.ListDir(path_); names.ok()) {
      for (const std::string& name : *names)
        if (Status st = fs_.Remove(path_ + "/" + name); !st.ok() && first.ok()) first = st;
    } else if (names.error().code() != ErrorCode::kNotFound) {
      first = names.error();
    }
    if (Status st = fs_.Remove(path_); !st.ok() && first.ok()) first = st;
    if (first.ok()) removed_ = true;
    return first;
  }

 private:
  PrivateWorkDir(FileSystem& fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  static std::string Octal(mode_t m) {
    char buf[8];
    snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
    return buf;
  }

  FileSystem& fs_;
  std::string path_;
  bool removed_ = false;
};

std::vector<std::string> SecretsOf(const JoinSettings& s) {
  std::vector<std::string> secrets = {s.token, s.certificate_key};
  // The secret half of a token on its own ("abcdef.<this>"); the id is public.
  if (size_t dot = s.token.find('.'); dot != std::string::npos) secrets.push_back(s.token.substr(dot + 1));
  return secrets;
}

constexpr std::string_view kResetAdvice =
    "nodeagent never runs `kubeadm reset` itself: read kubeadm's messages, fix the cause, and if the node was "
    "left half-joined run `kubeadm reset -f` yourself before trying again";

std::string FailureSummary(const JoinResult& r) {
  std::string what;
  if (r.cancelled) {
    what = "kubeadm join was stopped after " + Seconds(r.duration) + " (the run was cancelled)";
  } else if (r.timed_out) {
    what = "kubeadm join did not finish within " + Seconds(r.duration) + " and was stopped";
  } else {
    what = "kubeadm join failed (exit " + std::to_string(r.exit_code) + ") after " + Seconds(r.duration);
  }
  if (!r.error_lines.empty()) what += ": " + r.error_lines.front();
  return what + ". " + std::string(kResetAdvice) + ".";
}

}  // namespace

nlohmann::json JoinResult::ToJson() const {
  return {{"joined", joined},
          {"kubeadm_version", kubeadm_version},
          {"api_version", api_version},
          {"exit_code", exit_code},
          {"timed_out", timed_out},
          {"cancelled", cancelled},
          {"duration_ms", duration.count()},
          {"error_lines", error_lines},
          {"summary", summary},
          {"cleanup_problem", cleanup_problem}};
}

std::string RedactSecrets(std::string_view text, const std::vector<std::string>& secrets) {
  std::string out(text);
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t pos = out.find(secret); pos != std::string::npos; pos = out.find(secret, pos + 10))
      out.replace(pos, secret.size(), "<redacted>");
  }
  return out;
}

bool IsKubeadmErrorLine(std::string_view line) {
  std::string t = Trim(line);
  return t.find("[ERROR ") != std::string::npos || t.rfind("error execution phase", 0) == 0 ||
         t.rfind("error: ", 0) == 0;
}

Change KubeadmJoinChange(const JoinSettings& s) {
  Change c;
  c.kind = "run";
  c.target = CommandLine({s.kubeadm, "join", "--config", s.work_dir_base + "/join-XXXX/" + std::string(kConfigName)});
  std::string role = s.role == Role::kControlPlane ? "a control-plane node" : "a worker";
  c.description = "join the cluster at " + s.endpoint + " as " + role +
                  (s.node_name.empty() ? "" : " named " + s.node_name) +
                  "; the token goes to kubeadm in a 0600 file under " + s.work_dir_base +
                  ", removed when kubeadm ends";
  c.objects = {CommandObject(s.kubeadm), FileObject(s.work_dir_base) + "/**"};
  return c;
}

Result<std::pair<KubeadmVersion, KubeadmApi>> DetectKubeadmApi(ActionContext& ctx, const JoinSettings& s) {
  CommandSpec spec;
  spec.argv = {s.kubeadm, "version", "-o", "short"};
  spec.timeout = std::chrono::seconds(30);
  spec.read_only = true;
  const std::string shown = CommandLine(spec.argv);
  auto run = ctx.host().commands().Run(spec);
  if (!run) return run.error().Wrap(shown + " (is kubeadm installed?)");
  if (!run->succeeded())
    return Error(ErrorCode::kUnavailable, shown + " " +
                                              (run->timed_out ? std::string("timed out")
                                                              : "exited " + std::to_string(run->exit_code)) +
                                              ": " + LastLine(run->stderr_data));
  auto version = ParseKubeadmVersion(run->stdout_data);
  if (!version) return version.error().Wrap(shown);
  auto api = KubeadmApiFor(*version);
  if (!api) return api.error();
  return std::pair{*version, *api};
}

Result<JoinResult> RunKubeadmJoin(ActionContext& ctx, const JoinSettings& s) {
  if (Status st = ValidateJoinSettings(s); !st.ok()) return st.error();
  if (ctx.cancelled()) return Error(ErrorCode::kCancelled, "cancelled before kubeadm join started");
  auto detected = DetectKubeadmApi(ctx, s);
  if (!detected) return detected.error();
  const auto& [version, api] = *detected;
  JoinResult result;
  result.kubeadm_version = "v" + std::to_string(version.major) + "." + std::to_string(version.minor) + "." +
                           std::to_string(version.patch);
  result.api_version = KubeadmApiVersion(api);
  auto yaml = JoinConfigurationYaml(s, api);
  if (!yaml) return yaml.error();

  FileSystem& fs = ctx.host().files();
  auto dir = PrivateWorkDir::Create(fs, s.work_dir_base);
  if (!dir) return dir.error();
  const std::string config = (*dir)->path() + "/" + std::string(kConfigName);
  if (Status st = fs.WriteFileAtomic(config, *yaml, 0600); !st.ok()) return st.error().Wrap("writing " + config);
  ctx.Info("kubeadm " + result.kubeadm_version + ": JoinConfiguration " + result.api_version + " in " + config +
           " (mode 0600)");

  const std::vector<std::string> secrets = SecretsOf(s);
  std::deque<std::string> tail;
  CommandSpec spec;
  spec.argv = {s.kubeadm, "join", "--config", config};
  spec.timeout = s.join_timeout;
  spec.on_line = [&](std::string_view raw, bool is_stderr) {
    std::string line = Trim(RedactSecrets(raw, secrets));
    if (line.empty()) return;
    ctx.Log(is_stderr ? LogLevel::kWarning : LogLevel::kInfo, "kubeadm: " + line);
    ctx.Progress("kubeadm join: " + line);
    if (IsKubeadmErrorLine(line) && result.error_lines.size() < kMaxErrorLines) result.error_lines.push_back(line);
    tail.push_back(line);
    if (tail.size() > kTailLines) tail.pop_front();
  };
  ctx.Progress("kubeadm join: starting (" + s.endpoint + ")");
  auto run = ctx.host().commands().Run(spec);
  Status cleanup = (*dir)->Remove();
  if (!cleanup.ok()) {
    result.cleanup_problem = RedactSecrets(cleanup.error().message(), secrets) +
                             ": remove it by hand, it holds the bootstrap token";
    ctx.Log(LogLevel::kError, "could not remove the join configuration: " + result.cleanup_problem);
  }
  if (!run) return Error(run.error().code(), RedactSecrets(run.error().message(), secrets))
                 .Wrap(CommandLine(spec.argv));

  result.exit_code = run->exit_code;
  result.timed_out = run->timed_out;
  result.cancelled = run->cancelled;
  result.duration = run->duration;
  result.joined = run->succeeded();
  if (result.joined) {
    result.summary = "kubeadm join succeeded in " + Seconds(result.duration) + " (kubeadm " + result.kubeadm_version +
                     ", " + result.api_version + ")";
  } else {
    if (result.error_lines.empty()) result.error_lines.assign(tail.begin(), tail.end());
    result.summary = FailureSummary(result);
  }
  return result;
}

}  // namespace nodeagent::join_prep
