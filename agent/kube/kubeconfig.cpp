#include "kube/kubeconfig.h"

#include <cstdlib>

#include <yaml-cpp/yaml.h>

namespace nodeagent::kube {
namespace {

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string RelativeTo(const std::string& dir, const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  return dir == "/" ? "/" + p : dir + "/" + p;
}

std::string Cause(const Error& e);

// Walks one kubeconfig document, producing errors that name file and field.
class Reader {
 public:
  Reader(const std::string& path, const FileSystem& files)
      : path_(path), dir_(DirOf(path)), files_(files) {}

  Error Fail(const std::string& field, const std::string& what) const {
    return InvalidArgument("kubeconfig " + path_ + ": " + field + ": " + what);
  }

  // A scalar string field; nullopt when absent, Error when not a scalar.
  Result<std::optional<std::string>> String(const YAML::Node& parent, const std::string& key,
                                            const std::string& field) const {
    YAML::Node n = parent[key];
    if (!n || n.IsNull()) return std::optional<std::string>();
    if (!n.IsScalar()) return Fail(field.empty() ? key : field + "." + key, "expected a string");
    return std::optional<std::string>(n.as<std::string>());
  }

  Result<bool> Bool(const YAML::Node& parent, const std::string& key, const std::string& field) const {
    YAML::Node n = parent[key];
    if (!n || n.IsNull()) return false;
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) return Fail(field + "." + key, "expected true or false");
    return v;
  }

  // PEM bytes from `key-data` (base64) or `key` (a file path).
  Result<std::string> Material(const YAML::Node& parent, const std::string& key,
                               const std::string& field) const {
    auto data = String(parent, key + "-data", field);
    if (!data) return data.error();
    if (*data && !(*data)->empty()) {
      auto decoded = DecodeBase64(**data);
      if (!decoded) return Fail(field + "." + key + "-data", "not valid base64");
      return *decoded;
    }
    auto file = String(parent, key, field);
    if (!file) return file.error();
    if (!*file || (*file)->empty()) return std::string();
    std::string p = RelativeTo(dir_, **file);
    auto content = files_.ReadFile(p);
    if (!content) return Fail(field + "." + key, "file " + p + " not readable: " + Cause(content.error()));
    return *content;
  }

  std::string Relative(const std::string& p) const { return RelativeTo(dir_, p); }

  // The entry of list `key` whose name is `name`; sets `index`.
  Result<YAML::Node> Named(const YAML::Node& root, const std::string& key, const std::string& name,
                           const std::string& referrer, size_t* index) const {
    YAML::Node list = root[key];
    if (list && !list.IsNull() && !list.IsSequence()) return Fail(key, "expected a list");
    if (list) {
      for (size_t i = 0; i < list.size(); ++i) {
        YAML::Node entry = list[i];
        if (entry.IsMap() && entry["name"] && entry["name"].IsScalar() &&
            entry["name"].as<std::string>() == name) {
          *index = i;
          return entry;
        }
      }
    }
    return Fail(referrer, "no entry named \"" + name + "\" in " + key);
  }

 private:
  std::string path_;
  std::string dir_;
  const FileSystem& files_;
};

#define NA_TRY_ASSIGN(var, expr)       \
  auto var##_r = (expr);               \
  if (!var##_r) return var##_r.error(); \
  auto var = std::move(*var##_r)

Status ReadCluster(const Reader& r, const YAML::Node& cluster, const std::string& f, KubeConfig& c) {
  if (!cluster.IsMap()) return r.Fail(f, "expected a map");
  NA_TRY_ASSIGN(server, r.String(cluster, "server", f));
  if (!server || server->empty()) return r.Fail(f + ".server", "missing");
  if (server->rfind("https://", 0) != 0 && server->rfind("http://", 0) != 0)
    return r.Fail(f + ".server", "\"" + *server + "\" is not an http(s) URL");
  while (!server->empty() && server->back() == '/') server->pop_back();
  c.server = *server;
  NA_TRY_ASSIGN(ca, r.Material(cluster, "certificate-authority", f));
  c.ca_pem = ca;
  NA_TRY_ASSIGN(sni, r.String(cluster, "tls-server-name", f));
  c.tls_server_name = sni.value_or("");
  NA_TRY_ASSIGN(insecure, r.Bool(cluster, "insecure-skip-tls-verify", f));
  c.insecure_skip_tls_verify = insecure;
  if (insecure && !c.ca_pem.empty())
    return r.Fail(f, "certificate-authority and insecure-skip-tls-verify are mutually exclusive");
  return Status::Ok();
}

Result<ExecConfig> ReadExec(const Reader& r, const YAML::Node& exec, const std::string& f) {
  if (!exec.IsMap()) return r.Fail(f, "expected a map");
  ExecConfig e;
  NA_TRY_ASSIGN(api, r.String(exec, "apiVersion", f));
  if (!api) return r.Fail(f + ".apiVersion", "missing");
  if (*api != "client.authentication.k8s.io/v1" && *api != "client.authentication.k8s.io/v1beta1")
    return r.Fail(f + ".apiVersion", "\"" + *api + "\" not supported (use client.authentication.k8s.io/v1)");
  e.api_version = *api;
  NA_TRY_ASSIGN(command, r.String(exec, "command", f));
  if (!command || command->empty()) return r.Fail(f + ".command", "missing");
  // Like kubectl: a relative command with a '/' is relative to the kubeconfig.
  e.command = command->find('/') != std::string::npos ? r.Relative(*command) : *command;
  if (YAML::Node args = exec["args"]; args && !args.IsNull()) {
    if (!args.IsSequence()) return r.Fail(f + ".args", "expected a list of strings");
    for (size_t i = 0; i < args.size(); ++i) {
      if (!args[i].IsScalar()) return r.Fail(f + ".args[" + std::to_string(i) + "]", "expected a string");
      e.args.push_back(args[i].as<std::string>());
    }
  }
  if (YAML::Node env = exec["env"]; env && !env.IsNull()) {
    if (!env.IsSequence()) return r.Fail(f + ".env", "expected a list of {name, value}");
    for (size_t i = 0; i < env.size(); ++i) {
      std::string ef = f + ".env[" + std::to_string(i) + "]";
      if (!env[i].IsMap()) return r.Fail(ef, "expected {name, value}");
      NA_TRY_ASSIGN(name, r.String(env[i], "name", ef));
      NA_TRY_ASSIGN(value, r.String(env[i], "value", ef));
      if (!name || name->empty()) return r.Fail(ef + ".name", "missing");
      e.env[*name] = value.value_or("");
    }
  }
  NA_TRY_ASSIGN(info, r.Bool(exec, "provideClusterInfo", f));
  e.provide_cluster_info = info;
  return e;
}

Status ReadUser(const Reader& r, const YAML::Node& user, const std::string& f, KubeConfig& c) {
  if (!user.IsMap()) return r.Fail(f, "expected a map");
  NA_TRY_ASSIGN(cert, r.Material(user, "client-certificate", f));
  NA_TRY_ASSIGN(key, r.Material(user, "client-key", f));
  if (!cert.empty() && key.empty()) return r.Fail(f, "client-certificate given without client-key");
  if (cert.empty() && !key.empty()) return r.Fail(f, "client-key given without client-certificate");
  c.client_cert_pem = cert;
  c.client_key_pem = key;
  NA_TRY_ASSIGN(token, r.String(user, "token", f));
  c.token = token.value_or("");
  NA_TRY_ASSIGN(token_file, r.String(user, "tokenFile", f));
  // token wins over tokenFile, as in kubectl; the file is checked after parsing.
  if (token_file && !token_file->empty() && c.token.empty()) c.token_file = r.Relative(*token_file);
  if (YAML::Node exec = user["exec"]; exec && !exec.IsNull()) {
    NA_TRY_ASSIGN(e, ReadExec(r, exec, f + ".exec"));
    c.exec = std::move(e);
  }
  for (const char* unsupported : {"auth-provider", "username", "password"}) {
    if (user[unsupported] && !user[unsupported].IsNull())
      return r.Fail(f + "." + unsupported, "not supported (use a client certificate, token or exec plugin)");
  }
  if (c.client_cert_pem.empty() && c.token.empty() && c.token_file.empty() && !c.exec)
    return r.Fail(f, "no credentials (need client-certificate/client-key, token, tokenFile or exec)");
  return Status::Ok();
}

// "reading /x/k.pem: No such file or directory" -> "No such file or directory".
std::string Cause(const Error& e) {
  size_t colon = e.message().rfind(": ");
  return colon == std::string::npos ? e.message() : e.message().substr(colon + 2);
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
  return s.substr(i);
}

}  // namespace

std::optional<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char ch : text) {
    if (ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t') continue;
    if (ch == '=') {
      padding = true;
      continue;
    }
    if (padding) return std::nullopt;  // data after padding
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '+') v = 62;
    else if (ch == '/') v = 63;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) return std::nullopt;  // a dangling single character
  return out;
}

std::string ResolveKubeconfigPath(const std::string& configured, const EnvLookup& env) {
  if (!configured.empty()) return configured;
  if (auto k = env("KUBECONFIG"); k && !k->empty()) {
    size_t colon = k->find(':');
    std::string first = k->substr(0, colon);
    if (!first.empty()) return first;
  }
  return kDefaultKubeconfig;
}

bool InClusterAvailable(const EnvLookup& env, const FileSystem& files) {
  auto host = env("KUBERNETES_SERVICE_HOST");
  return host && !host->empty() && files.Exists(std::string(kServiceAccountDir) + "/token");
}

Result<KubeConfig> ParseKubeconfig(std::string_view text, const std::string& path,
                                   const std::string& context, const FileSystem& files) {
  Reader r(path, files);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument("kubeconfig " + path + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  try {
    if (!root.IsMap()) return r.Fail("(top level)", "expected a kubeconfig map (apiVersion, clusters, users, contexts)");
    KubeConfig c;
    c.source = path;
    std::string ctx_name = context;
    std::string ctx_field = "context \"" + context + "\"";
    if (ctx_name.empty()) {
      NA_TRY_ASSIGN(current, r.String(root, "current-context", ""));
      if (!current || current->empty()) return r.Fail("current-context", "not set (or pass a context name)");
      ctx_name = *current;
      ctx_field = "current-context";
    }
    size_t ci = 0, ui = 0, ki = 0;
    NA_TRY_ASSIGN(ctx_entry, r.Named(root, "contexts", ctx_name, ctx_field, &ki));
    c.context = ctx_name;
    std::string kf = "contexts[" + std::to_string(ki) + "].context";
    YAML::Node ctx = ctx_entry["context"];
    if (!ctx || !ctx.IsMap()) return r.Fail(kf, "missing");
    NA_TRY_ASSIGN(cluster_name, r.String(ctx, "cluster", kf));
    if (!cluster_name || cluster_name->empty()) return r.Fail(kf + ".cluster", "missing");
    NA_TRY_ASSIGN(user_name, r.String(ctx, "user", kf));
    if (!user_name || user_name->empty()) return r.Fail(kf + ".user", "missing");
    NA_TRY_ASSIGN(cluster_entry, r.Named(root, "clusters", *cluster_name, kf + ".cluster", &ci));
    std::string cf = "clusters[" + std::to_string(ci) + "].cluster";
    if (!cluster_entry["cluster"]) return r.Fail(cf, "missing");
    if (Status s = ReadCluster(r, cluster_entry["cluster"], cf, c); !s) return s.error();
    NA_TRY_ASSIGN(user_entry, r.Named(root, "users", *user_name, kf + ".user", &ui));
    std::string uf = "users[" + std::to_string(ui) + "].user";
    if (!user_entry["user"]) return r.Fail(uf, "missing");
    if (Status s = ReadUser(r, user_entry["user"], uf, c); !s) return s.error();
    if (!c.token_file.empty()) {
      auto t = files.ReadFile(c.token_file);
      if (!t) return r.Fail(uf + ".tokenFile", "file " + c.token_file + " not readable: " + Cause(t.error()));
    }
    return c;
  } catch (const YAML::Exception& e) {
    return r.Fail("(structure)", e.what());
  }
}

Result<KubeConfig> LoadKubeconfig(const std::string& path, const std::string& context,
                                  const FileSystem& files) {
  auto text = files.ReadFile(path);
  if (!text) return Error(text.error().code(), "kubeconfig " + path + ": " + text.error().message());
  return ParseKubeconfig(*text, path, context, files);
}

Result<KubeConfig> LoadInClusterConfig(const EnvLookup& env, const FileSystem& files) {
  auto host = env("KUBERNETES_SERVICE_HOST");
  auto port = env("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty())
    return NotFound("in-cluster config: KUBERNETES_SERVICE_HOST is not set (not running in a pod?)");
  KubeConfig c;
  c.source = "in-cluster config";
  c.context = "in-cluster";
  std::string h = *host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6
  c.server = "https://" + h + ":" + (port && !port->empty() ? *port : std::string("443"));
  std::string dir = kServiceAccountDir;
  c.token_file = dir + "/token";
  auto token = files.ReadFile(c.token_file);
  if (!token) return Error(token.error().code(), "in-cluster config: token " + c.token_file + " not readable: " + token.error().message());
  if (Trim(*token).empty()) return InvalidArgument("in-cluster config: token " + c.token_file + " is empty");
  auto ca = files.ReadFile(dir + "/ca.crt");
  if (!ca) return Error(ca.error().code(), "in-cluster config: CA " + dir + "/ca.crt not readable: " + ca.error().message());
  c.ca_pem = *ca;
  return c;
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

}  // namespace nodeagent::kube
