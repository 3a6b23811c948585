// RunKubeadmJoin against a fake kubeadm (FakeCommandRunner) that records its
// argv and the configuration file as it is while kubeadm runs: the file is
// there with mode 0600 in a 0700 directory, holds the token, and is gone
// afterwards whatever happened; the token is nowhere else (argv, log,
// progress, result, errors).
#include "join/kubeadm_join.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>

#include "testing/fake_action_context.h"

namespace nodeagent::join_prep {
namespace {

const std::string kToken = "abcdef.0123456789abcdef";
const std::string kSecretHalf = "0123456789abcdef";
const std::string kHash = "sha256:" + std::string(64, 'b');

JoinSettings Settings() {
  JoinSettings s;
  s.endpoint = "10.0.0.10:6443";
  s.token = kToken;
  s.ca_cert_hashes = {kHash};
  s.node_name = "n1";
  s.ignore_preflight_errors = {"Swap"};
  return s;
}

CommandResult Exit(int code, std::string out = "", std::string err = "") {
  CommandResult r;
  r.exit_code = code;
  r.stdout_data = std::move(out);
  r.stderr_data = std::move(err);
  r.duration = std::chrono::milliseconds(4200);
  return r;
}

/// What the fake kubeadm saw while it ran.
struct Seen {
  std::vector<std::string> argv;
  std::string config_path;  // host path from argv
  bool existed = false;
  std::string content;
  mode_t file_mode = 0;
  mode_t dir_mode = 0;
  std::map<std::string, std::string> env;
  std::chrono::milliseconds timeout{0};
  bool read_only = true;
};

/// Scripts `kubeadm version` and a `kubeadm join` answering `result` after
/// recording what it saw into `seen`.
void FakeKubeadm(FakeActionContext& ctx, Seen& seen, CommandResult result, std::string version = "v1.31.2\n") {
  ctx.commands().Answer({"kubeadm", "version", "-o", "short"}, Exit(0, version));
  ctx.commands().AnswerWith({"kubeadm", "join"}, [&ctx, &seen, result](const CommandSpec& spec) -> Result<CommandResult> {
    seen.argv = spec.argv;
    seen.env = spec.env;
    seen.timeout = spec.timeout;
    seen.read_only = spec.read_only;
    if (spec.argv.size() == 4 && spec.argv[2] == "--config") {
      seen.config_path = spec.argv[3];
      std::string real = ctx.root().Real(seen.config_path);
      struct stat st {};
      if (::stat(real.c_str(), &st) == 0) {
        seen.existed = true;
        seen.file_mode = st.st_mode & 07777;
        seen.content = ctx.root().Read(seen.config_path);
      }
      if (::stat(std::filesystem::path(real).parent_path().c_str(), &st) == 0) seen.dir_mode = st.st_mode & 07777;
    }
    return result;
  });
}

/// Everything the run said or returned, for "the token is nowhere" checks.
std::string AllText(FakeActionContext& ctx, const Result<JoinResult>& r) {
  std::string all;
  for (const auto& l : ctx.logs()) all += l + "\n";
  for (const auto& p : ctx.progress()) all += p + "\n";
  for (const auto& c : ctx.commands().call_lines()) all += c + "\n";
  if (r.ok()) all += r->ToJson().dump();
  else all += r.error().ToString();
  return all;
}

bool DirIsEmpty(FakeActionContext& ctx, const std::string& host_dir) {
  std::string real = ctx.root().Real(host_dir);
  return std::filesystem::is_directory(real) && std::filesystem::is_empty(real);
}

TEST_CASE("a successful join: private 0600 file while kubeadm runs, gone after, token nowhere else", "[join]") {
  FakeActionContext ctx;
  Seen seen;
  FakeKubeadm(ctx, seen,
              Exit(0,
                   "[preflight] Running pre-flight checks\n"
                   "[discovery] using token " + kToken + "\n"  // a kubeadm that would print it
                   "This node has joined the cluster:\n"));
  auto r = RunKubeadmJoin(ctx, Settings());
  REQUIRE(r.ok());
  CHECK(r->joined);
  CHECK(r->kubeadm_version == "v1.31.2");
  CHECK(r->api_version == "kubeadm.k8s.io/v1beta4");
  CHECK(r->summary.find("succeeded") != std::string::npos);
  CHECK(r->cleanup_problem.empty());

  // argv: the file only; no environment added; not read-only; a generous timeout.
  REQUIRE(seen.argv.size() == 4);
  CHECK(seen.argv[0] == "kubeadm");
  CHECK(seen.argv[1] == "join");
  CHECK(seen.config_path.rfind("/run/nodeagent/join/join-", 0) == 0);
  CHECK(seen.env.empty());
  CHECK_FALSE(seen.read_only);
  CHECK(seen.timeout >= std::chrono::minutes(10));

  // While it ran: the file, 0600, in a 0700 directory, with the token.
  CHECK(seen.existed);
  CHECK(seen.file_mode == 0600);
  CHECK(seen.dir_mode == 0700);
  CHECK(seen.content.find("apiVersion: kubeadm.k8s.io/v1beta4\n") != std::string::npos);
  CHECK(seen.content.find("    token: \"" + kToken + "\"\n") != std::string::npos);
  CHECK(seen.content.find("    apiServerEndpoint: \"10.0.0.10:6443\"\n") != std::string::npos);
  CHECK(seen.content.find("    - \"" + kHash + "\"\n") != std::string::npos);
  CHECK(seen.content.find("  name: \"n1\"\n") != std::string::npos);

  // Afterwards: the file and its directory are gone (the base stays, empty).
  CHECK_FALSE(std::filesystem::exists(ctx.root().Real(seen.config_path)));
  CHECK_FALSE(std::filesystem::exists(std::filesystem::path(ctx.root().Real(seen.config_path)).parent_path()));
  CHECK(DirIsEmpty(ctx, "/run/nodeagent/join"));

  // Output was streamed, redacted.
  std::string all = AllText(ctx, r);
  CHECK(all.find(kToken) == std::string::npos);
  CHECK(all.find(kSecretHalf) == std::string::npos);
  CHECK(all.find("[discovery] using token <redacted>") != std::string::npos);
  CHECK(all.find("kubeadm: This node has joined the cluster:") != std::string::npos);
  CHECK(ctx.commands().call_lines().front() == "kubeadm version -o short");
}

TEST_CASE("kubeadm older than 1.31 gets v1beta3", "[join]") {
  FakeActionContext ctx;
  Seen seen;
  FakeKubeadm(ctx, seen, Exit(0), "v1.30.4\n");
  auto r = RunKubeadmJoin(ctx, Settings());
  REQUIRE(r.ok());
  CHECK(r->api_version == "kubeadm.k8s.io/v1beta3");
  CHECK(seen.content.find("apiVersion: kubeadm.k8s.io/v1beta3\n") != std::string::npos);
}

TEST_CASE("a failed join shows kubeadm's error lines and the reset advice, never runs reset", "[join]") {
  FakeActionContext ctx;
  Seen seen;
  FakeKubeadm(ctx, seen,
              Exit(1, "[preflight] Running pre-flight checks\n",
                   "error execution phase preflight: [preflight] Some fatal errors occurred:\n"
                   "\t[ERROR Swap]: running with swap on is not supported. Please disable swap\n"
                   "\t[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: /proc/sys/net/ipv4/ip_forward contents are "
                   "not set to 1\n"
                   "[preflight] If you know what you are doing, you can make a check non-fatal with "
                   "`--ignore-preflight-errors=...`\n"
                   "To see the stack trace of this error execute with --v=5 or higher\n"));
  auto r = RunKubeadmJoin(ctx, Settings());
  REQUIRE(r.ok());
  CHECK_FALSE(r->joined);
  CHECK(r->exit_code == 1);
  REQUIRE(r->error_lines.size() == 3);
  CHECK(r->error_lines[0].rfind("error execution phase preflight", 0) == 0);
  CHECK(r->error_lines[1] == "[ERROR Swap]: running with swap on is not supported. Please disable swap");
  CHECK(r->error_lines[2].rfind("[ERROR FileContent--proc-sys-net-ipv4-ip_forward]", 0) == 0);
  CHECK(r->summary.find("kubeadm join failed (exit 1)") != std::string::npos);
  CHECK(r->summary.find("kubeadm reset -f") != std::string::npos);
  CHECK(r->summary.find("never runs") != std::string::npos);
  for (const auto& call : ctx.commands().call_lines()) CHECK(call.find("reset") == std::string::npos);
  CHECK(seen.existed);
  CHECK_FALSE(std::filesystem::exists(ctx.root().Real(seen.config_path)));
  CHECK(DirIsEmpty(ctx, "/run/nodeagent/join"));
  CHECK(AllText(ctx, r).find(kSecretHalf) == std::string::npos);
}

TEST_CASE("without error lines the last lines stand in; timeout and cancellation say so", "[join]") {
  FakeActionContext ctx;
  Seen seen;
  CommandResult timed_out = Exit(-1, "[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap\n");
  timed_out.timed_out = true;
  timed_out.term_signal = 15;
  FakeKubeadm(ctx, seen, timed_out);
  auto r = RunKubeadmJoin(ctx, Settings());
  REQUIRE(r.ok());
  CHECK_FALSE(r->joined);
  CHECK(r->timed_out);
  REQUIRE(r->error_lines.size() == 1);
  CHECK(r->error_lines[0] == "[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap");
  CHECK(r->summary.find("did not finish") != std::string::npos);
  CHECK(r->summary.find("kubeadm reset -f") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(ctx.root().Real(seen.config_path)));

  FakeActionContext ctx2;
  Seen seen2;
  CommandResult cancelled = Exit(-1);
  cancelled.cancelled = true;
  FakeKubeadm(ctx2, seen2, cancelled);
  r = RunKubeadmJoin(ctx2, Settings());
  REQUIRE(r.ok());
  CHECK(r->cancelled);
  CHECK(r->summary.find("cancelled") != std::string::npos);
  CHECK(seen2.existed);
  CHECK_FALSE(std::filesystem::exists(ctx2.root().Real(seen2.config_path)));
}

TEST_CASE("kubeadm that cannot start: an error, the file removed, the token not in it", "[join]") {
  FakeActionContext ctx;
  ctx.commands().Answer({"kubeadm", "version"}, Exit(0, "v1.32.0"));
  std::string path_seen;
  ctx.commands().AnswerWith({"kubeadm", "join"}, [&](const CommandSpec& spec) -> Result<CommandResult> {
    path_seen = spec.argv.back();
    return Error(ErrorCode::kIo, "exec kubeadm: Permission denied");
  });
  auto r = RunKubeadmJoin(ctx, Settings());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("Permission denied") != std::string::npos);
  CHECK(r.error().message().find("kubeadm join --config") != std::string::npos);
  CHECK_FALSE(path_seen.empty());
  CHECK_FALSE(std::filesystem::exists(ctx.root().Real(path_seen)));
  CHECK(DirIsEmpty(ctx, "/run/nodeagent/join"));
  CHECK(AllText(ctx, r).find(kSecretHalf) == std::string::npos);
}

TEST_CASE("no join without a usable kubeadm version, valid settings or a safe directory", "[join]") {
  SECTION("kubeadm missing") {
    FakeActionContext ctx;  // nothing scripted: NotFound
    auto r = RunKubeadmJoin(ctx, Settings());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("kubeadm version -o short") != std::string::npos);
    CHECK(ctx.commands().call_lines().size() == 1);
  }
  SECTION("kubeadm too old") {
    FakeActionContext ctx;
    ctx.commands().Answer({"kubeadm", "version"}, Exit(0, "v1.20.1\n"));
    auto r = RunKubeadmJoin(ctx, Settings());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("too old") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(ctx.root().Real("/run/nodeagent/join")));
  }
  SECTION("kubeadm version fails") {
    FakeActionContext ctx;
    ctx.commands().Answer({"kubeadm", "version"}, Exit(2, "", "unknown flag: -o\n"));
    auto r = RunKubeadmJoin(ctx, Settings());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("exited 2: unknown flag: -o") != std::string::npos);
  }
  SECTION("bad token: refused before anything runs, not echoed") {
    FakeActionContext ctx;
    JoinSettings s = Settings();
    s.token = "abcdef.0123456789ABCDEF";
    auto r = RunKubeadmJoin(ctx, s);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("0123456789ABCDEF") == std::string::npos);
    CHECK(ctx.commands().calls().empty());
  }
  SECTION("cancelled before the start") {
    FakeActionContext ctx;
    ctx.Cancel();
    auto r = RunKubeadmJoin(ctx, Settings());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::kCancelled);
    CHECK(ctx.commands().calls().empty());
  }
  SECTION("a base directory others may write is refused") {
    FakeActionContext ctx;
    Seen seen;
    FakeKubeadm(ctx, seen, Exit(0));
    std::filesystem::create_directories(ctx.root().Real("/run/nodeagent/join"));
    ::chmod(ctx.root().Real("/run/nodeagent/join").c_str(), 0777);
    auto r = RunKubeadmJoin(ctx, Settings());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::kPermissionDenied);
    CHECK(r.error().message().find("may be written by others") != std::string::npos);
    CHECK(seen.argv.empty());
  }
  SECTION("a symlink as the base is refused") {
    FakeActionContext ctx;
    Seen seen;
    FakeKubeadm(ctx, seen, Exit(0));
    std::filesystem::create_directories(ctx.root().Real("/tmp/elsewhere"));
    std::filesystem::create_directories(ctx.root().Real("/run/nodeagent"));
    std::filesystem::create_directory_symlink("/tmp/elsewhere", ctx.root().Real("/run/nodeagent/join"));
    auto r = RunKubeadmJoin(ctx, Settings());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("not a directory") != std::string::npos);
    CHECK(seen.argv.empty());
    CHECK(std::filesystem::is_empty(ctx.root().Real("/tmp/elsewhere")));
  }
}

TEST_CASE("each join gets a fresh directory", "[join]") {
  FakeActionContext ctx;
  Seen seen;
  FakeKubeadm(ctx, seen, Exit(0));
  REQUIRE(RunKubeadmJoin(ctx, Settings()).ok());
  std::string first = seen.config_path;
  REQUIRE(RunKubeadmJoin(ctx, Settings()).ok());
  CHECK(seen.config_path != first);
}

TEST_CASE("the plan's change names the command and the directory, no secret", "[join]") {
  JoinSettings s = Settings();
  s.kubeadm = "/usr/bin/kubeadm";
  Change c = KubeadmJoinChange(s);
  CHECK(c.kind == "run");
  CHECK(c.target == "/usr/bin/kubeadm join --config /run/nodeagent/join/join-XXXX/join-configuration.yaml");
  CHECK(c.objects == std::vector<std::string>{"command:/usr/bin/kubeadm", "file:/run/nodeagent/join/**"});
  CHECK(c.description.find("10.0.0.10:6443") != std::string::npos);
  CHECK(c.description.find(kSecretHalf) == std::string::npos);
}

TEST_CASE("RedactSecrets and kubeadm error lines", "[join]") {
  CHECK(RedactSecrets("a " + kToken + " b " + kToken, {kToken}) == "a <redacted> b <redacted>");
  CHECK(RedactSecrets("nothing", {"", kToken}) == "nothing");
  CHECK(IsKubeadmErrorLine("\t[ERROR Port-10250]: Port 10250 is in use"));
  CHECK(IsKubeadmErrorLine("error execution phase kubelet-start: timed out"));
  CHECK(IsKubeadmErrorLine("error: unable to read config"));
  CHECK_FALSE(IsKubeadmErrorLine("[WARNING Hostname]: hostname could not be reached"));
  CHECK_FALSE(IsKubeadmErrorLine("[preflight] Running pre-flight checks"));
}

}  // namespace
}  // namespace nodeagent::join_prep
