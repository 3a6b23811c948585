// A stand-alone runner of the log-cleanup action through a real host, for the
// benchmark (bench/log_cleanup.sh) and the privilege-drop test, usable before
// and without agentctl:
//   log_cleanup_bench_driver [--root DIR] [--threads N] [--dry-run] [-o json] --set KEY=VALUE...
// VALUE is read per the parameter table: lists as ["a","b"] (or one string),
// durations as 10d, booleans as true/false.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "host/local_host.h"
#include "log_cleanup_action.h"

namespace nodeagent::logc {
namespace {

class DriverContext : public ActionContext {
 public:
  DriverContext(Host& host, Params params, bool dry_run) : host_(host), params_(std::move(params)), dry_run_(dry_run) {}
  Host& host() override { return host_; }
  const Params& params() const override { return params_; }
  const std::string& node_name() const override { return node_; }
  const std::string& run_id() const override { return run_; }
  bool dry_run() const override { return dry_run_; }
  void Log(LogLevel, std::string_view m) override { std::fprintf(stderr, "%.*s\n", (int)m.size(), m.data()); }
  void Progress(std::string_view m, double) override { std::fprintf(stderr, "progress: %.*s\n", (int)m.size(), m.data()); }
  bool cancelled() const override { return false; }
  const bool* cancel_flag() const override { return &cancelled_; }
  Status SaveCheckpoint(const nlohmann::json&) override { return Status::Ok(); }
  Result<KubeClient*> Kube() override { return Error(ErrorCode::kUnavailable, "no cluster in the driver"); }
  Result<HttpClient*> Http() override { return Error(ErrorCode::kUnavailable, "no network in the driver"); }
  void Event(EventType, std::string_view, std::string_view) override {}  // no cluster: nothing to post
  void Notify(std::string_view, std::string_view) override {}             // no targets in the driver

 private:
  Host& host_;
  Params params_;
  bool dry_run_;
  bool cancelled_ = false;
  std::string node_ = "local", run_ = "bench";
};

Result<ParamValue> ParseValue(const ParamSpec& spec, const std::string& text) {
  switch (spec.type) {
    case ParamType::kBool:
      if (text == "true") return ParamValue(true);
      if (text == "false") return ParamValue(false);
      return InvalidArgument(std::string(spec.name) + ": expected true or false");
    case ParamType::kInt:
      return ParamValue(static_cast<int64_t>(std::stoll(text)));
    case ParamType::kDuration: {
      std::string t = text;
      if (t.size() >= 2 && t.front() == '"') t = t.substr(1, t.size() - 2);
      Result<Duration> d = ParseDuration(t);
      if (!d.ok()) return d.error();
      return ParamValue(*d);
    }
    case ParamType::kStringList: {
      if (!text.empty() && text[0] == '[') {
        nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_array()) return InvalidArgument(std::string(spec.name) + ": bad list");
        return ParamValue(j.get<std::vector<std::string>>());
      }
      return ParamValue(std::vector<std::string>{text});
    }
    default:
      return ParamValue(text);
  }
}

int Main(int argc, char** argv) {
  std::string root = "/";
  bool dry_run = false, json = false;
  int threads = 0;
  Params params;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--root") root = next();
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--dry-run") dry_run = true;
    else if (a == "-o") json = next() == "json";
    else if (a == "--set") {
      std::string kv = next();
      size_t eq = kv.find('=');
      const ParamSpec* spec = nullptr;
      for (const ParamSpec& s : LogCleanupParams()) {
        if (eq != std::string::npos && s.name == kv.substr(0, eq)) spec = &s;
      }
      if (!spec) { std::fprintf(stderr, "unknown parameter in --set %s\n", kv.c_str()); return 2; }
      Result<ParamValue> v = ParseValue(*spec, kv.substr(eq + 1));
      if (!v.ok()) { std::fprintf(stderr, "%s\n", v.error().message().c_str()); return 2; }
      params.Set(std::string(spec->name), *v);
    } else {
      std::fprintf(stderr, "usage: %s [--root DIR] [--threads N] [--dry-run] [-o json] --set KEY=VALUE...\n", argv[0]);
      return 2;
    }
  }
  if (Status st = ValidateParams(params); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.error().ToString().c_str());
    return 2;
  }
  RealHost host(root);
  DriverContext ctx(host, std::move(params), dry_run);
  LogCleanupAction action(nullptr, threads);
  Result<Plan> plan = action.MakePlan(ctx);
  if (!plan.ok()) { std::fprintf(stderr, "%s\n", plan.error().ToString().c_str()); return 1; }
  nlohmann::json out;
  if (dry_run) {
    out = {{"status", "ok"}, {"summary", plan->summary}, {"data", plan->data}};
    if (!json) {
      for (const Change& c : plan->changes) std::printf("%s %s (%lld bytes)\n", c.kind.c_str(), c.target.c_str(), (long long)c.bytes);
    }
  } else {
    Result<Outcome> o = action.Apply(ctx, *plan);
    if (!o.ok()) { std::fprintf(stderr, "%s\n", o.error().ToString().c_str()); return 1; }
    out = {{"status", RunStatusName(o->status)}, {"summary", o->summary}, {"data", o->data}};
    if (o->status == RunStatus::kFailed && !json) { std::printf("%s\n", o->summary.c_str()); return 1; }
  }
  for (const Finding& f : plan->findings) std::fprintf(stderr, "%s: %s: %s\n", SeverityName(f.severity), f.subject.c_str(), f.message.c_str());
  if (json) std::printf("%s\n", out.dump(2).c_str());
  else std::printf("%s\n", out["summary"].get<std::string>().c_str());
  return 0;
}

}  // namespace
}  // namespace nodeagent::logc

int main(int argc, char** argv) { return nodeagent::logc::Main(argc, argv); }
