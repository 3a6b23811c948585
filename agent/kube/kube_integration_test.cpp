// CurlKubeClient against the test API server (tests/apiserver/apiserver.py):
// every auth mode, the calls, pagination, watches, retries and the give-up
// error, and the lease create race. One server process is started (in a temp
// dir) for the whole binary and reset between test cases.
#include <curl/curl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "host/process_command_runner.h"
#include "host/system_clock.h"
#include "kube/curl_kube_client.h"

using namespace nodeagent;
using namespace nodeagent::kube;
using namespace std::chrono_literals;
using json = nlohmann::json;

#define REQUIRE_OK(expr)                                 \
  do {                                                   \
    auto _r = (expr);                                    \
    INFO((_r.ok() ? std::string() : _r.error().ToString())); \
    REQUIRE(_r.ok());                                    \
  } while (0)
#define CHECK_OK(expr)                                   \
  do {                                                   \
    auto _r = (expr);                                    \
    INFO((_r.ok() ? std::string() : _r.error().ToString())); \
    CHECK(_r.ok());                                      \
  } while (0)

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Spit(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

// The test API server process, started once.
class ApiServer {
 public:
  ApiServer() {
    char tmpl[] = "/tmp/kube-it-XXXXXX";
    dir_ = mkdtemp(tmpl);
    pid_ = fork();
    if (pid_ == 0) {
      std::string log = dir_ + "/server.log";
      FILE* f = freopen(log.c_str(), "w", stderr);
      (void)f;
      execl("/usr/bin/python3", "python3", NODEAGENT_APISERVER, "--dir", dir_.c_str(), "--port", "0",
            "--terminating-seconds", "0.2", static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 600 && !ready(); ++i) std::this_thread::sleep_for(50ms);
    if (!ready()) throw std::runtime_error("apiserver did not start; see " + dir_ + "/server.log");
    info_ = json::parse(Slurp(dir_ + "/ready.json"));
  }
  ~ApiServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st;
      waitpid(pid_, &st, 0);
    }
    std::string cmd = "rm -rf '" + dir_ + "'";
    if (system(cmd.c_str()) != 0) {
    }
  }
  bool ready() const { return access((dir_ + "/ready.json").c_str(), F_OK) == 0; }
  const std::string& dir() const { return dir_; }
  std::string url() const { return info_["url"]; }
  std::string token() const { return info_["token"]; }
  int port() const { return info_["port"]; }

  // A control request (/_test/...) with the server's token.
  json Control(const std::string& method, const std::string& path, const json& body = nullptr) {
    CURL* h = curl_easy_init();
    std::string url = this->url() + path, out, payload = body.is_null() ? "" : body.dump();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_CAINFO, (dir_ + "/ca.crt").c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method != "GET") {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
    }
    curl_slist* hdr = curl_slist_append(nullptr, ("Authorization: Bearer " + token()).c_str());
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
      static_cast<std::string*>(u)->append(d, s * n);
      return s * n;
    });
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    CURLcode c = curl_easy_perform(h);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    if (c != CURLE_OK) throw std::runtime_error("control " + path + ": " + curl_easy_strerror(c));
    return json::parse(out);
  }
  // A vector, not a json: a one-element brace list would copy instead of wrap.
  void Put(const std::vector<json>& items) { Control("POST", "/_test/objects", {{"items", items}}); }
  void Fault(const json& f) { Control("POST", "/_test/faults", f); }
  json Requests() { return Control("GET", "/_test/requests"); }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  json info_;
};

ApiServer& Server() {
  static ApiServer server;  // stopped (SIGTERM) at exit
  return server;
}

json Node(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}, {"labels", {{"role", "worker"}}}}}};
}

json Pod(const std::string& ns, const std::string& name, const std::string& node, const std::string& app = "web") {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app", app}}}}},
          {"spec", {{"nodeName", node}, {"containers", {{{"name", "c"}, {"image", "nginx"}}}}}}};
}

// Host parts for a client: real files ("/"), real processes, real time.
struct Env {
  LocalFileSystem files{"/"};
  ProcessCommandRunner runner;
  SystemClock clock;
  std::vector<std::string> logs;
  std::mutex mu;

  KubeLogger Logger() {
    return [this](LogLevel, std::string_view m) {
      std::lock_guard<std::mutex> lock(mu);
      logs.emplace_back(m);
    };
  }
  std::string AllLogs() {
    std::lock_guard<std::mutex> lock(mu);
    std::string s;
    for (auto& l : logs) s += l + "\n";
    return s;
  }
};

KubeOptions Options(const std::string& kubeconfig) {
  KubeOptions o;
  o.kubeconfig = kubeconfig;
  o.user_agent = std::string("nodeagent/") + NODEAGENT_VERSION;
  o.retry.initial_backoff = 50ms;
  o.retry.max_backoff = 400ms;
  o.retry.max_total = 10s;
  return o;
}

std::unique_ptr<KubeClient> Client(Env& env, const std::string& kubeconfig, KubeOptions o = {}) {
  if (o.kubeconfig.empty()) o = Options(kubeconfig);
  auto c = MakeKubeClient(o, env.runner, env.files, env.clock, env.Logger());
  if (!c) FAIL(c.error().ToString());
  return std::move(*c);
}

// A kubeconfig in the server dir with the given user and cluster extras.
std::string WriteKubeconfig(const std::string& name, const std::string& cluster, const std::string& user) {
  std::string path = Server().dir() + "/" + name;
  Spit(path, "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
             "contexts: [{name: t, context: {cluster: c, user: u}}]\n"
             "clusters:\n- name: c\n  cluster:\n" + cluster +
             "users:\n- name: u\n  user:\n" + user);
  return path;
}

std::string CaCluster() { return "    server: " + Server().url() + "\n    certificate-authority: ca.crt\n"; }

struct Reset {
  Reset() {
    Server().Control("POST", "/_test/reset", json::object());
    Server().Control("POST", "/_test/requests/clear", json::object());
  }
};

}  // namespace

TEST_CASE_METHOD(Reset, "auth: client certificate kubeconfig, User-Agent") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-cert");
  auto v = c->GetVersion();
  REQUIRE(v.ok());
  CHECK((*v)["major"] == "1");
  Server().Put({Node("n1")});
  REQUIRE_OK(c->GetNode("n1"));
  auto reqs = Server().Requests();
  REQUIRE(reqs.size() >= 2);
  for (auto& r : reqs) CHECK(r["user_agent"] == std::string("nodeagent/") + NODEAGENT_VERSION);
}

TEST_CASE_METHOD(Reset, "auth: bearer token with embedded CA") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-token");
  REQUIRE_OK(c->GetVersion());
}

TEST_CASE_METHOD(Reset, "auth: tokenFile is re-read when it changes; tokens stay out of errors and logs") {
  Env env;
  std::string tok = Server().dir() + "/tokfile";
  Spit(tok, "wrong-secret-token\n");
  auto c = Client(env, WriteKubeconfig("kc-tokenfile", CaCluster(), "    tokenFile: tokfile\n"));
  auto bad = c->GetVersion();
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::kPermissionDenied);
  CHECK(bad.http_status() == 401);
  CHECK(bad.detail().attempts == 1);  // 401 is not retried
  CHECK(bad.error().message().find("wrong-secret-token") == std::string::npos);
  Spit(tok, Server().token() + "\n");
  auto good = c->GetVersion();
  CHECK(good.ok());
  CHECK(env.AllLogs().find(Server().token()) == std::string::npos);
  CHECK(env.AllLogs().find("wrong-secret-token") == std::string::npos);
}

TEST_CASE_METHOD(Reset, "auth: exec credential plugin, cached until expiry") {
  Env env;
  std::string script = Server().dir() + "/cred.sh";
  std::string count = Server().dir() + "/cred.count";
  std::remove(count.c_str());
  Spit(script, "#!/bin/sh\n"
               "echo run >> \"$COUNT_FILE\"\n"
               "case \"$KUBERNETES_EXEC_INFO\" in *ExecCredential*) ;; *) echo 'no exec info' >&2; exit 2;; esac\n"
               "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
               "\"status\":{\"token\":\"%s\",\"expirationTimestamp\":\"2099-01-01T00:00:00Z\"}}' \"$(cat " +
                   Server().dir() + "/token)\"\n");
  chmod(script.c_str(), 0755);
  auto c = Client(env, WriteKubeconfig("kc-exec", CaCluster(),
                                       "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                                       "      command: ./cred.sh\n      env: [{name: COUNT_FILE, value: " + count + "}]\n"));
  REQUIRE_OK(c->GetVersion());
  REQUIRE_OK(c->GetVersion());
  REQUIRE_OK(c->ListNodes({}));
  CHECK(Slurp(count) == "run\n");  // ran once, cached after

  // A plugin that answers with a client certificate instead of a token.
  std::string cert_script = Server().dir() + "/cred-cert.py";
  Spit(cert_script, "#!/usr/bin/python3\nimport json\nd = '" + Server().dir() + "/'\n"
                    "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
                    " 'status': {'clientCertificateData': open(d + 'client.crt').read(),"
                    " 'clientKeyData': open(d + 'client.key').read()}}))\n");
  chmod(cert_script.c_str(), 0755);
  auto cc = Client(env, WriteKubeconfig("kc-exec-cert", CaCluster(),
                                        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                                        "      command: " + cert_script + "\n"));
  Server().Control("POST", "/_test/rbac", {{"deny", {{{"verb", "get"}, {"resource", "nodes"}}}}});
  Server().Put({Node("n1")});
  auto as_cert_user = cc->GetNode("n1");  // the denial names the user: the certificate's CN
  REQUIRE_FALSE(as_cert_user.ok());
  CHECK(as_cert_user.error().message().find("User \"nodeagent-test\"") != std::string::npos);
  Server().Control("POST", "/_test/rbac", {{"deny", json::array()}});
  CHECK_OK(cc->GetNode("n1"));

  // A failing plugin: error names the plugin and its stderr.
  Spit(script, "#!/bin/sh\necho 'please log in' >&2\nexit 3\n");
  Env env2;
  auto c2 = Client(env2, Server().dir() + "/kc-exec");
  auto r = c2->GetVersion();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("cred.sh: exited with status 3: please log in") != std::string::npos);
}

TEST_CASE_METHOD(Reset, "TLS: verification on by default; tls-server-name; insecure-skip-tls-verify warns") {
  Env env;
  // No CA: the system trust store does not know the test CA.
  auto untrusted = Client(env, WriteKubeconfig("kc-noca", "    server: " + Server().url() + "\n",
                                               "    token: " + Server().token() + "\n"));
  auto r = untrusted->GetVersion();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::kUnavailable);
  CHECK(r.detail().attempts == 1);  // certificate problems are not retried
  CHECK(r.error().message().find("GET " + Server().url() + "/version: ") == 0);

  // tls-server-name: connect to 127.0.0.1, verify the certificate as "localhost".
  std::string ip_url = "https://127.0.0.1:" + std::to_string(Server().port());
  auto sni = Client(env, WriteKubeconfig("kc-sni", "    server: " + ip_url + "\n    certificate-authority: ca.crt\n"
                                                   "    tls-server-name: localhost\n",
                                         "    token: " + Server().token() + "\n"));
  CHECK_OK(sni->GetVersion());
  auto wrong = Client(env, WriteKubeconfig("kc-sni-bad", "    server: " + ip_url + "\n    certificate-authority: ca.crt\n"
                                                         "    tls-server-name: other.example\n",
                                           "    token: " + Server().token() + "\n"));
  auto w = wrong->GetVersion();
  REQUIRE_FALSE(w.ok());
  CHECK(w.detail().attempts == 1);

  auto insecure = Client(env, WriteKubeconfig("kc-insecure", "    server: " + Server().url() + "\n"
                                                             "    insecure-skip-tls-verify: true\n",
                                              "    token: " + Server().token() + "\n"));
  CHECK_OK(insecure->GetVersion());
  CHECK(env.AllLogs().find("insecure-skip-tls-verify: the API server's certificate is NOT verified") != std::string::npos);
}

TEST_CASE_METHOD(Reset, "nodes: get, list, merge and strategic-merge patches, typed NotFound") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-token");
  Server().Put({Node("n1"), Node("n2")});
  auto list = c->ListNodes({});
  REQUIRE(list.ok());
  CHECK((*list)["items"].size() == 2);

  auto cordon = c->PatchNode("n1", {{"spec", {{"unschedulable", true}}}}, PatchType::kMerge);
  REQUIRE(cordon.ok());
  CHECK((*cordon)["spec"]["unschedulable"] == true);
  auto labels = c->PatchNode("n1",
                             {{"metadata", {{"labels", {{"nodeagent/state", "draining"}}},
                                            {"annotations", {{"nodeagent/run", "r1"}}}}},
                              {"spec", {{"taints", {{{"key", "nodeagent/reboot"}, {"effect", "NoSchedule"}}}}}}},
                             PatchType::kStrategicMerge);
  REQUIRE(labels.ok());
  auto n1 = c->GetNode("n1");
  REQUIRE(n1.ok());
  CHECK((*n1)["metadata"]["labels"]["nodeagent/state"] == "draining");
  CHECK((*n1)["metadata"]["labels"]["role"] == "worker");
  CHECK((*n1)["metadata"]["annotations"]["nodeagent/run"] == "r1");
  CHECK((*n1)["spec"]["unschedulable"] == true);
  CHECK((*n1)["spec"]["taints"][0]["key"] == "nodeagent/reboot");
  auto selected = c->ListNodes({.label_selector = "nodeagent/state=draining"});
  REQUIRE(selected.ok());
  CHECK((*selected)["items"].size() == 1);

  auto missing = c->GetNode("nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == ErrorCode::kNotFound);
  CHECK(missing.http_status() == 404);
  CHECK(missing.detail().reason == "NotFound");
  CHECK(missing.error().message() == "GET " + Server().url() + "/api/v1/nodes/nope: 404 Not Found: nodes \"nope\" not found");
}

TEST_CASE_METHOD(Reset, "pods: field/label selectors, limit/continue pagination") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-token");
  std::vector<json> items;
  for (int i = 0; i < 25; ++i) items.push_back(Pod(i % 2 ? "default" : "apps", "p" + std::to_string(i), "n1"));
  for (int i = 0; i < 5; ++i) items.push_back(Pod("default", "q" + std::to_string(i), "n2", "db"));
  Server().Put(items);
  Server().Control("POST", "/_test/requests/clear", json::object());

  auto all = ListAllPods(*c, "", {.field_selector = OnNodeSelector("n1"), .limit = 10});
  REQUIRE(all.ok());
  CHECK((*all)["items"].size() == 25);
  std::set<std::string> names;
  for (auto& p : (*all)["items"]) names.insert(p["metadata"]["name"].get<std::string>());
  CHECK(names.size() == 25);
  auto reqs = Server().Requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0]["query"].get<std::string>().find("fieldSelector=spec.nodeName%3Dn1") != std::string::npos);
  CHECK(reqs[1]["query"].get<std::string>().find("continue=") != std::string::npos);

  auto one_ns = ListAllPods(*c, "default", {.label_selector = "app=db"});
  REQUIRE(one_ns.ok());
  CHECK((*one_ns)["items"].size() == 5);
}

TEST_CASE_METHOD(Reset, "pods: get, delete with UID precondition, eviction, PDB blocks with kTooManyRequests") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-token");
  Server().Put({Pod("default", "a", "n1"), Pod("default", "b", "n1"), Pod("default", "solo", "n1", "solo")});
  auto a = c->GetPod("default", "a");
  REQUIRE(a.ok());
  std::string uid = (*a)["metadata"]["uid"];

  auto stale = c->DeletePod("default", "a", {.grace_period_seconds = 0, .precondition_uid = "not-" + uid});
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code() == ErrorCode::kConflict);
  REQUIRE_OK(c->DeletePod("default", "a", {.grace_period_seconds = 0, .precondition_uid = uid}));

  REQUIRE_OK(c->EvictPod("default", "b", {}));
  auto gone = c->EvictPod("default", "nope", {});
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code() == ErrorCode::kNotFound);

  Server().Put({{{"apiVersion", "policy/v1"},
                 {"kind", "PodDisruptionBudget"},
                 {"metadata", {{"name", "solo"}, {"namespace", "default"}}},
                 {"spec", {{"minAvailable", 1}, {"selector", {{"matchLabels", {{"app", "solo"}}}}}}}}});
  auto pdbs = c->ListPodDisruptionBudgets("");
  REQUIRE(pdbs.ok());
  CHECK((*pdbs)["items"].size() == 1);
  auto blocked = c->EvictPod("default", "solo", {});
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.error().code() == ErrorCode::kTooManyRequests);
  CHECK(blocked.detail().attempts == 1);  // the caller decides when to ask again
  CHECK(blocked.detail().reason == "TooManyRequests");
}

TEST_CASE_METHOD(Reset, "watch: relist at start, events, stop flag, resume from resourceVersion, relist on 410") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-token");
  Server().Put({Pod("default", "w1", "n1"), Pod("default", "other", "n2")});

  std::mutex mu;
  std::vector<WatchEvent> events;
  std::atomic<bool> stop{false};
  auto record = [&](const WatchEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(e);
    return true;
  };
  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 100; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (pred()) return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  };
  auto has = [&](WatchEventType t, const std::string& name) {
    for (auto& e : events)
      if (e.type == t && e.object.value("/metadata/name"_json_pointer, "") == name) return true;
    return false;
  };
  WatchRequest req;
  req.resource = WatchResource::kPods;
  req.field_selector = OnNodeSelector("n1");
  KubeStatus result;
  std::thread t([&] { result = c->Watch(req, record, &stop); });
  REQUIRE(wait_for([&] { return !events.empty(); }));
  {
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(events[0].type == WatchEventType::kRelisted);
    CHECK(events[0].object["items"].size() == 1);
    CHECK(events[0].object["items"][0]["metadata"]["name"] == "w1");
  }
  Server().Put({Pod("default", "w2", "n1"), Pod("default", "x", "n2")});
  CHECK(wait_for([&] { return has(WatchEventType::kAdded, "w2"); }));
  REQUIRE_OK(c->DeletePod("default", "w1", {.grace_period_seconds = 0}));
  CHECK(wait_for([&] { return has(WatchEventType::kDeleted, "w1"); }));
  auto stop_at = std::chrono::steady_clock::now();
  stop = true;
  t.join();
  CHECK(result.ok());
  CHECK(std::chrono::steady_clock::now() - stop_at < 2s);
  std::string last_rv;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& e : events) CHECK(e.object.value("/metadata/name"_json_pointer, "") != "x");
    last_rv = events.back().object["metadata"]["resourceVersion"];
    events.clear();
  }

  // Resume: only what happened since, across a dropped connection and a 503.
  Server().Put({Pod("default", "w3", "n1")});
  Server().Fault({{"path_regex", "^/api/v1/pods$"}, {"method", "GET"}, {"count", 1}, {"drop", true}});
  Server().Fault({{"path_regex", "^/api/v1/pods$"}, {"method", "GET"}, {"count", 1}, {"status", 503}});
  req.resource_version = last_rv;
  req.duration = 1500ms;
  auto resumed = c->Watch(req, record, nullptr);
  CHECK(resumed.ok());
  CHECK(env.AllLogs().find("503 Service Unavailable; reconnecting") != std::string::npos);
  CHECK(has(WatchEventType::kAdded, "w3"));
  CHECK_FALSE(has(WatchEventType::kRelisted, ""));
  for (auto& e : events) CHECK(e.type != WatchEventType::kRelisted);
  events.clear();

  // 410: history is gone after a reset; the watch relists and goes on.
  Server().Control("POST", "/_test/reset", json::object());
  Server().Put({Pod("default", "w4", "n1")});
  auto relisted = c->Watch(req, record, nullptr);
  CHECK(relisted.ok());
  REQUIRE_FALSE(events.empty());
  CHECK(events[0].type == WatchEventType::kRelisted);
  CHECK(events[0].object["items"].size() == 1);
  CHECK(events[0].object["items"][0]["metadata"]["name"] == "w4");
  CHECK(env.AllLogs().find("410 Gone") != std::string::npos);
}

TEST_CASE_METHOD(Reset, "watch: nodes, callback returning false stops it") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-token");
  Server().Put({Node("n1")});
  int calls = 0;
  WatchRequest req;
  req.resource = WatchResource::kNodes;
  auto s = c->Watch(req, [&](const WatchEvent& e) { ++calls; return e.type != WatchEventType::kRelisted; }, nullptr);
  CHECK(s.ok());
  CHECK(calls == 1);
}

TEST_CASE_METHOD(Reset, "retries: injected 503s and a 429 with Retry-After, then success") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-token");
  Server().Put({Node("n1")});
  Server().Fault({{"path_regex", "^/api/v1/nodes/n1$"}, {"method", "GET"}, {"count", 2}, {"status", 503}});
  Server().Control("POST", "/_test/requests/clear", json::object());
  REQUIRE_OK(c->GetNode("n1"));
  auto reqs = Server().Requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0]["status"] == 503);
  CHECK(reqs[2]["status"] == 200);

  Server().Fault({{"path_regex", "^/api/v1/nodes/n1$"}, {"count", 1}, {"status", 429}, {"retry_after", 1}});
  auto start = std::chrono::steady_clock::now();
  REQUIRE_OK(c->GetNode("n1"));
  CHECK(std::chrono::steady_clock::now() - start >= 1s);
  CHECK(env.AllLogs().find("429 Too Many Requests; retry 1/4 in 1000ms") != std::string::npos);

  // Dropped connections are retried too.
  Server().Fault({{"path_regex", "^/api/v1/nodes/n1$"}, {"count", 1}, {"drop", true}});
  CHECK_OK(c->GetNode("n1"));
}

TEST_CASE_METHOD(Reset, "retries: give up after the budget with a clear error") {
  Env env;
  KubeOptions o = Options(Server().dir() + "/kubeconfig-token");
  o.retry.max_attempts = 3;
  auto c = Client(env, "", o);
  Server().Fault({{"path_regex", "^/api/v1/nodes/n1$"}, {"count", -1}, {"status", 503}});
  auto r = c->GetNode("n1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::kUnavailable);
  CHECK(r.detail().attempts == 3);
  CHECK(r.http_status() == 503);
  INFO(r.error().message());
  CHECK(std::regex_match(r.error().message(),
                         std::regex("GET " + Server().url() + "/api/v1/nodes/n1: giving up after 3 attempts over "
                                    "[0-9]+\\.[0-9]s: last error 503 Service Unavailable.*")));

  // Time budget: a Retry-After beyond it gives up at once.
  KubeOptions t = Options(Server().dir() + "/kubeconfig-token");
  t.retry.max_total = 2s;
  auto c2 = Client(env, "", t);
  Server().Control("POST", "/_test/faults/clear", json::object());
  Server().Fault({{"path_regex", "^/version$"}, {"count", -1}, {"status", 429}, {"retry_after", 5}});
  auto start = std::chrono::steady_clock::now();
  auto v = c2->GetVersion();
  REQUIRE_FALSE(v.ok());
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(v.error().code() == ErrorCode::kTooManyRequests);
  CHECK(v.error().message().find("giving up after 1 attempt over") != std::string::npos);
  Server().Control("POST", "/_test/faults/clear", json::object());

  // Nothing listening.
  auto closed = Client(env, WriteKubeconfig("kc-closed", "    server: https://127.0.0.1:1\n    certificate-authority: ca.crt\n",
                                            "    token: x\n"), [] {
    KubeOptions k = Options(Server().dir() + "/kc-closed");
    k.retry.max_attempts = 2;
    return k;
  }());
  auto down = closed->GetVersion();
  REQUIRE_FALSE(down.ok());
  CHECK(down.error().code() == ErrorCode::kUnavailable);
  CHECK(down.error().message().find("GET https://127.0.0.1:1/version: giving up after 2 attempts") == 0);
}

namespace {

// Real time, but the run is cancelled the moment the client starts a wait.
class CancelOnSleepClock : public SystemClock {
 public:
  explicit CancelOnSleepClock(bool* flag) : flag_(flag) {}
  bool SleepFor(std::chrono::milliseconds d, const bool* cancelled) override {
    ++sleeps;
    *flag_ = true;
    return SystemClock::SleepFor(d, cancelled);
  }
  int sleeps = 0;

 private:
  bool* flag_;
};

}  // namespace

// Issue 10, defect 8: the retry loop and its backoff ignored the run's cancel flag.
TEST_CASE_METHOD(Reset, "kube_retries_stop_when_the_run_is_cancelled") {
  Env env;
  Server().Put({Node("n1")});
  Server().Fault({{"path_regex", "^/api/v1/nodes/n1$"}, {"count", -1}, {"status", 503}, {"retry_after", 3}});
  KubeOptions o = Options(Server().dir() + "/kubeconfig-token");

  SECTION("cancelled during the backoff wait: the wait ends and nothing is retried") {
    bool cancelled = false;
    CancelOnSleepClock clock(&cancelled);
    o.cancelled = &cancelled;
    auto c = MakeKubeClient(o, env.runner, env.files, clock, env.Logger());
    REQUIRE(c);
    Server().Control("POST", "/_test/requests/clear", json::object());
    auto r = (*c)->GetNode("n1");
    REQUIRE_FALSE(r.ok());
    INFO(r.error().message());
    CHECK(r.error().code() == ErrorCode::kCancelled);
    CHECK(r.error().message().find("503 Service Unavailable; not retried: the run was cancelled") != std::string::npos);
    CHECK(r.detail().attempts == 1);
    CHECK(Server().Requests().size() == 1);
    CHECK(clock.sleeps == 1);
  }
  SECTION("already cancelled: the call is tried once (a rollback can still talk), never retried") {
    bool cancelled = true;
    o.cancelled = &cancelled;
    auto c = Client(env, "", o);
    Server().Control("POST", "/_test/requests/clear", json::object());
    auto r = c->GetNode("n1");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::kCancelled);
    CHECK(Server().Requests().size() == 1);
    Server().Control("POST", "/_test/faults/clear", json::object());
    CHECK_OK(c->GetNode("n1"));  // a call that succeeds is unaffected
  }
}

TEST_CASE_METHOD(Reset, "leases: create race, update with resourceVersion, conflicts, delete") {
  Env env;
  auto a = Client(env, Server().dir() + "/kubeconfig-token");
  auto b = Client(env, Server().dir() + "/kubeconfig-cert");
  auto lease = [](const std::string& holder) {
    return json{{"metadata", {{"name", "nodeagent-reboot"}}},
                {"spec", {{"holderIdentity", holder}, {"leaseDurationSeconds", 60}}}};
  };
  std::optional<KubeResult<json>> ra, rb;
  std::thread ta([&] { ra.emplace(a->CreateLease("kube-system", lease("node-a"))); });
  std::thread tb([&] { rb.emplace(b->CreateLease("kube-system", lease("node-b"))); });
  ta.join();
  tb.join();
  REQUIRE(ra->ok() != rb->ok());  // exactly one wins
  auto& loser = ra->ok() ? *rb : *ra;
  std::string winner = ra->ok() ? "node-a" : "node-b";
  CHECK(loser.error().code() == ErrorCode::kConflict);
  CHECK(loser.detail().reason == "AlreadyExists");
  CHECK(loser.http_status() == 409);

  auto current = b->GetLease("kube-system", "nodeagent-reboot");
  REQUIRE(current.ok());
  CHECK((*current)["spec"]["holderIdentity"] == winner);

  // A third holder, so the update changes the object whichever node won: an
  // update that changes nothing keeps the resourceVersion, as on a real server.
  json mine = *current;
  mine["spec"]["holderIdentity"] = "node-c";
  REQUIRE_OK(b->UpdateLease("kube-system", mine));
  json stale = *current;  // old resourceVersion
  stale["spec"]["holderIdentity"] = "node-a";
  auto conflict = a->UpdateLease("kube-system", stale);
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().code() == ErrorCode::kConflict);
  CHECK(conflict.detail().reason == "Conflict");

  auto fresh = a->GetLease("kube-system", "nodeagent-reboot");
  REQUIRE(fresh.ok());
  CHECK((*fresh)["spec"]["holderIdentity"] == "node-c");
  auto same = a->UpdateLease("kube-system", *fresh);  // changes nothing
  REQUIRE(same.ok());
  CHECK((*same)["metadata"]["resourceVersion"] == (*fresh)["metadata"]["resourceVersion"]);
  std::string old_rv = (*current)["metadata"]["resourceVersion"];
  auto stale_delete = a->DeleteLease("kube-system", "nodeagent-reboot", old_rv);
  REQUIRE_FALSE(stale_delete.ok());
  CHECK(stale_delete.error().code() == ErrorCode::kConflict);
  REQUIRE_OK(a->DeleteLease("kube-system", "nodeagent-reboot", (*fresh)["metadata"]["resourceVersion"]));
  auto absent = a->GetLease("kube-system", "nodeagent-reboot");
  REQUIRE_FALSE(absent.ok());
  CHECK(absent.error().code() == ErrorCode::kNotFound);

  auto no_rv = a->UpdateLease("kube-system", lease("x"));
  REQUIRE_FALSE(no_rv.ok());
  CHECK(no_rv.error().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE_METHOD(Reset, "events, DaemonSets, version") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-token");
  Server().Put({Node("n1")});
  EventSpec e;
  e.involved_object = {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", "n1"}, {"uid", "n1"}};
  e.reason = "NodeRebootScheduled";
  e.message = "rebooting n1 for kernel update";
  e.host = "n1";
  auto ev = c->CreateEvent(e);
  REQUIRE(ev.ok());
  CHECK((*ev)["reason"] == "NodeRebootScheduled");
  CHECK((*ev)["involvedObject"]["name"] == "n1");
  CHECK((*ev)["metadata"]["name"].get<std::string>().rfind("n1.", 0) == 0);

  Server().Put({{{"apiVersion", "apps/v1"},
                 {"kind", "DaemonSet"},
                 {"metadata", {{"name", "agent"}, {"namespace", "kube-system"}}},
                 {"spec", {{"selector", {{"matchLabels", {{"app", "agent"}}}}},
                           {"template", {{"metadata", {{"labels", {{"app", "agent"}}}}},
                                         {"spec", {{"containers", {{{"name", "c"}, {"image", "i"}}}}}}}}}}}});
  REQUIRE_OK(c->GetDaemonSet("kube-system", "agent"));
  auto patched = c->PatchDaemonSet("kube-system", "agent", {{"metadata", {{"annotations", {{"a", "b"}}}}}},
                                   PatchType::kMerge);
  REQUIRE(patched.ok());
  CHECK((*patched)["metadata"]["annotations"]["a"] == "b");
  auto missing = c->GetDaemonSet("kube-system", "nope");
  CHECK(missing.error().code() == ErrorCode::kNotFound);
}

TEST_CASE_METHOD(Reset, "permissions: SelfSubjectAccessReviews find what RBAC denies; 403 carries the RBAC text") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-cert");
  std::vector<ResourceAttributes> wanted(3);
  wanted[0].verb = "create", wanted[0].resource = "pods", wanted[0].subresource = "eviction";
  wanted[1].verb = "get", wanted[1].resource = "nodes";
  wanted[2].verb = "update", wanted[2].group = "coordination.k8s.io", wanted[2].resource = "leases",
  wanted[2].ns = "kube-system";
  auto all = CheckPermissions(*c, wanted);
  REQUIRE(all.ok());
  CHECK(all->empty());
  Server().Control("POST", "/_test/rbac",
                   {{"deny", {{{"verb", "create"}, {"resource", "pods"}, {"group", ""}, {"subresource", "eviction"}},
                              {{"verb", "get"}, {"resource", "nodes"}}}}});
  auto missing = CheckPermissions(*c, wanted);
  REQUIRE(missing.ok());
  std::set<std::string> got;
  for (auto& p : *missing) got.insert(DescribePermission(p));
  CHECK(got == std::set<std::string>{"create pods/eviction", "get nodes"});

  Server().Put({Node("n1")});
  auto denied = c->GetNode("n1");
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code() == ErrorCode::kPermissionDenied);
  CHECK(denied.http_status() == 403);
  CHECK(denied.detail().status_message.find("cannot get resource \"nodes\"") != std::string::npos);
  CHECK(denied.error().message().find("is forbidden: User \"nodeagent-test\"") != std::string::npos);
}

TEST_CASE_METHOD(Reset, "rate limit: qps and burst bound the request rate") {
  Env env;
  KubeOptions o = Options(Server().dir() + "/kubeconfig-token");
  o.qps = 10;
  o.burst = 2;
  auto c = Client(env, "", o);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 12; ++i) REQUIRE_OK(c->GetVersion());
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 950ms);  // 2 at once, 10 more at 10/s: it cannot be faster
}

TEST_CASE_METHOD(Reset, "connection reuse: 200 sequential GETs on one client use one connection") {
  // Counted by the server (the client's port of each request), not timed:
  // timings are for bench/, and a loaded machine makes them lie.
  Env env;
  KubeOptions o = Options(Server().dir() + "/kubeconfig-cert");
  o.qps = 0;  // the transport, not the limiter
  auto c = Client(env, "", o);
  Server().Put({Node("n1")});
  Server().Control("POST", "/_test/requests/clear");
  for (int i = 0; i < 200; ++i) REQUIRE_OK(c->GetNode("n1"));
  std::set<std::string> peers;
  for (const auto& r : Server().Requests()) peers.insert(r.value("peer", ""));
  CHECK(peers.size() == 1);
  CHECK(peers.count("") == 0);
  // A new client each time opens a new connection each time.
  Server().Control("POST", "/_test/requests/clear");
  for (int i = 0; i < 5; ++i) REQUIRE_OK(Client(env, "", o)->GetNode("n1"));
  peers.clear();
  for (const auto& r : Server().Requests()) peers.insert(r.value("peer", ""));
  CHECK(peers.size() == 5);
}

namespace {

json IpPool(const std::string& name, const std::string& cidr) {
  return {{"apiVersion", "crd.projectcalico.org/v1"},
          {"kind", "IPPool"},
          {"metadata", {{"name", name}}},
          {"spec", {{"cidr", cidr}, {"ipipMode", "Always"}, {"natOutgoing", true}}}};
}

std::string PathOf(const KubeResourceRef& ref) {
  auto p = ResourcePath(ref);
  if (!p) FAIL(p.error().ToString());
  return *p;
}

KubeResourceRef Ref(std::string group, std::string resource, std::string ns = "", std::string name = "") {
  KubeResourceRef r;
  r.group = std::move(group);
  r.resource = std::move(resource);
  r.ns = std::move(ns);
  r.name = std::move(name);
  return r;
}

}  // namespace

TEST_CASE_METHOD(Reset, "generic request: Calico custom resources (cluster-scoped) and ConfigMaps (namespaced)") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-token");
  Server().Put({IpPool("default-ipv4-ippool", "192.168.0.0/16"), IpPool("extra", "10.10.0.0/16"),
                {{"apiVersion", "operator.tigera.io/v1"},
                 {"kind", "Installation"},
                 {"metadata", {{"name", "default"}}},
                 {"spec", {{"calicoNetwork", {{"nodeAddressAutodetectionV4", {{"interface", "eth1"}}}}}}}}});

  auto pools = c->Request(KubeRequest::Get(PathOf(Ref("crd.projectcalico.org", "ippools"))));
  REQUIRE_OK(pools);
  REQUIRE((*pools)["items"].size() == 2);
  CHECK((*pools)["items"][0]["metadata"]["name"] == "default-ipv4-ippool");
  CHECK((*pools)["items"][0]["spec"]["cidr"] == "192.168.0.0/16");
  auto inst = c->Request(KubeRequest::Get(PathOf(Ref("operator.tigera.io", "installations", "", "default"))));
  REQUIRE_OK(inst);
  CHECK((*inst)["spec"]["calicoNetwork"]["nodeAddressAutodetectionV4"]["interface"] == "eth1");

  // A ConfigMap: create, AlreadyExists, list by label (the query is encoded), merge patch, delete.
  const std::string cms = PathOf(Ref("", "configmaps", "kube-system"));
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "kubeadm-config"}, {"labels", {{"app", "kubeadm"}}}}},
             {"data", {{"ClusterConfiguration", "networking:\n  podSubnet: 192.168.0.0/16\n"}}}};
  REQUIRE_OK(c->Request(KubeRequest::Post(cms, cm)));
  auto again = c->Request(KubeRequest::Post(cms, cm));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code() == ErrorCode::kConflict);
  CHECK(again.detail().reason == "AlreadyExists");
  Server().Control("POST", "/_test/requests/clear", json::object());
  KubeRequest list = KubeRequest::Get(cms);
  list.query = {{"labelSelector", "app in (kubeadm,other)"}, {"limit", "10"}, {"continue", ""}};
  auto listed = c->Request(list);
  REQUIRE_OK(listed);
  REQUIRE((*listed)["items"].size() == 1);
  auto logged = Server().Requests();
  REQUIRE(logged.size() == 1);
  CHECK(logged[0]["query"] == "labelSelector=app%20in%20%28kubeadm%2Cother%29&limit=10");
  auto patched = c->Request(KubeRequest::Patch(cms + "/kubeadm-config", {{"data", {{"extra", "1"}}}}, PatchType::kMerge));
  REQUIRE_OK(patched);
  CHECK((*patched)["data"]["extra"] == "1");
  CHECK((*patched)["data"].contains("ClusterConfiguration"));
  REQUIRE_OK(c->Request(KubeRequest::Delete(cms + "/kubeadm-config")));
  auto gone = c->Request(KubeRequest::Get(cms + "/kubeadm-config"));
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code() == ErrorCode::kNotFound);
  CHECK(gone.http_status() == 404);
  CHECK(gone.error().message().find("GET " + Server().url() + "/api/v1/namespaces/kube-system/configmaps/kubeadm-config: 404") == 0);

  // A failing JSON patch test is 422: kInvalidArgument, not retried.
  json ops = json::array({{{"op", "test"}, {"path", "/spec/cidr"}, {"value", "10.0.0.0/8"}},
                          {{"op", "replace"}, {"path", "/spec/cidr"}, {"value", "10.1.0.0/16"}}});
  auto refused = c->Request(KubeRequest::Patch(PathOf(Ref("crd.projectcalico.org", "ippools", "", "extra")), ops,
                                               PatchType::kJson));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == ErrorCode::kInvalidArgument);
  CHECK(refused.detail().attempts == 1);
}

TEST_CASE_METHOD(Reset, "generic request: a strategic merge patch of a DaemonSet's env keeps the other variables") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-token");
  Server().Put({json::parse(R"({"apiVersion": "apps/v1", "kind": "DaemonSet",
    "metadata": {"name": "calico-node", "namespace": "kube-system"},
    "spec": {"selector": {"matchLabels": {"k8s-app": "calico-node"}},
      "template": {"metadata": {"labels": {"k8s-app": "calico-node"}},
        "spec": {"containers": [{"name": "calico-node", "image": "calico/node",
          "env": [{"name": "CALICO_NETWORKING_BACKEND", "value": "bird"},
                  {"name": "IP_AUTODETECTION_METHOD", "value": "first-found"}]}]}}}})")});
  json patch = json::parse(R"({"spec": {"template": {"spec": {"containers": [{"name": "calico-node",
    "env": [{"name": "IP_AUTODETECTION_METHOD", "value": "interface=eth1"}]}]}}}})");
  auto ds = c->Request(KubeRequest::Patch(PathOf(Ref("apps", "daemonsets", "kube-system", "calico-node")), patch,
                                          PatchType::kStrategicMerge));
  REQUIRE_OK(ds);
  json got = (*ds)["spec"]["template"]["spec"]["containers"][0]["env"];
  CHECK(got == json::array({{{"name", "CALICO_NETWORKING_BACKEND"}, {"value", "bird"}},
                            {{"name", "IP_AUTODETECTION_METHOD"}, {"value", "interface=eth1"}}}));
  auto logged = Server().Requests();
  CHECK(logged.back()["content_type"] == "application/strategic-merge-patch+json");
}

TEST_CASE_METHOD(Reset, "generic request: bad paths and methods are refused before anything is sent; retries apply") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-token");
  Server().Control("POST", "/_test/requests/clear", json::object());
  for (const char* path : {"/api/v1/namespaces/default/configmaps/x?watch=1", "/api/v1/../../etc/passwd",
                           "/api/v1/nodes/a%2F..%2Fb", "api/v1/nodes", "/api/v1/nodes/a#frag"}) {
    INFO(path);
    auto r = c->Request(KubeRequest::Get(path));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::kInvalidArgument);
  }
  KubeRequest trace = KubeRequest::Get("/version");
  trace.method = "TRACE";
  CHECK(c->Request(trace).error().code() == ErrorCode::kInvalidArgument);
  CHECK(Server().Requests().empty());

  Server().Put({IpPool("p", "10.0.0.0/16")});
  Server().Fault({{"path_regex", "/ippools/p$"}, {"method", "GET"}, {"count", 2}, {"status", 503}});
  Server().Control("POST", "/_test/requests/clear", json::object());
  REQUIRE_OK(c->Request(KubeRequest::Get(PathOf(Ref("crd.projectcalico.org", "ippools", "", "p")))));
  CHECK(Server().Requests().size() == 3);
}

TEST_CASE_METHOD(Reset, "watch: any collection by path (Calico IPPools)") {
  Env env;
  auto c = Client(env, Server().dir() + "/kubeconfig-token");
  Server().Put({IpPool("a", "10.0.0.0/16")});
  WatchRequest req;
  req.path = PathOf(Ref("crd.projectcalico.org", "ippools"));
  std::vector<std::string> seen;
  auto s = c->Watch(req, [&](const WatchEvent& e) {
    if (e.type == WatchEventType::kRelisted) {
      seen.push_back("relisted " + std::to_string(e.object["items"].size()));
      Server().Put({IpPool("b", "10.1.0.0/16")});
      return true;
    }
    seen.push_back(std::string(e.type == WatchEventType::kAdded ? "added " : "other ") +
                   e.object["metadata"]["name"].get<std::string>());
    return e.type != WatchEventType::kAdded;
  }, nullptr);
  REQUIRE_OK(s);
  CHECK(seen == std::vector<std::string>{"relisted 1", "added b"});

  req.path = "/apis/crd.projectcalico.org/v1/ippools?watch=1";
  auto bad = c->Watch(req, [](const WatchEvent&) { return false; }, nullptr);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::kInvalidArgument);
}
