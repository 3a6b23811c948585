// Exec plugin manifests: their [[permission]] and [[condition]] rows are
// loaded into the catalog, and a malformed row is refused naming its line.
// Native modules through a probe: what the probe answers is bounded and
// checked.
#include "loader/plugin_loader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace nodeagent;

namespace {

/// A temp folder with an executable `check.sh` and a manifest written per test.
class ExecPluginDir {
 public:
  ExecPluginDir() {
    char tmpl[] = "/tmp/nodeagent-loader-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::ofstream(dir_ + "/check.sh") << "#!/bin/sh\necho '{}'\n";
    ::chmod((dir_ + "/check.sh").c_str(), 0755);
  }
  ~ExecPluginDir() { std::filesystem::remove_all(dir_); }

  /// Writes `name` in the folder with `mode`; returns its path.
  std::string Write(const std::string& name, const std::string& text, mode_t mode) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }

  /// Loads a manifest with this body after the name/executable header
  /// (lines 1-2), so the body's first line is line 3.
  Status Load(const std::string& body, ActionCatalog& catalog) {
    std::string path = dir_ + "/check.toml";
    std::ofstream(path) << "name = \"check\"\nexecutable = \"check.sh\"\n" << body;
    return LoadExecPlugin(path, false, catalog);
  }

 private:
  std::string dir_;
};

}  // namespace

TEST_CASE("exec manifest: [[permission]] rows reach the catalog") {
  ExecPluginDir dir;
  ActionCatalog catalog;
  Status st = dir.Load(
      "[[param]]\nname = \"calico_namespace\"\ndefault = \"calico-system\"\n"
      "[[permission]]\nverbs = [\"get\", \"list\"]\ngroup = \"crd.projectcalico.org\"\nresource = \"ippools\"\n"
      "why = \"read the IP pools\"\n"
      "[[permission]]\nverbs = \"get\"\nresource = \"configmaps\"\nnamespace = \"kube-system\"\n"
      "[[permission]]\nverbs = [\"patch\"]\ngroup = \"apps\"\nresource = \"daemonsets\"\n"
      "namespace_param = \"calico_namespace\"\n",
      catalog);
  REQUIRE(st.ok());
  const ActionInfo* a = catalog.Find("check");
  REQUIRE(a);
  REQUIRE(a->permissions.size() == 3);
  CHECK(a->permissions[0].verbs == "get list");
  CHECK(a->permissions[0].group == "crd.projectcalico.org");
  CHECK(a->permissions[0].resource == "ippools");
  CHECK(a->permissions[0].scope == KubeScope::kCluster);
  CHECK(a->permissions[0].why == "read the IP pools");
  CHECK(a->permissions[1].scope == KubeScope::kNamespace);
  CHECK(a->permissions[1].ns == "kube-system");
  CHECK(a->permissions[2].scope == KubeScope::kNamespaceParam);
  CHECK(a->permissions[2].ns == "calico_namespace");
}

TEST_CASE("exec manifest: a malformed [[permission]] row is refused with its line") {
  struct Case {
    std::string body;
    std::string message;
  };
  const Case cases[] = {
      {"[[permission]]\nresource = \"pods\"\n", "[[permission]] (line 3): needs verbs, e.g. verbs = [\"get\", \"list\"]"},
      {"[[permission]]\nverbs = [\"get\"]\n", "[[permission]] (line 3): needs resource, e.g. resource = \"pods\""},
      {"[[permission]]\nverbs = [\"get\", \"steal\"]\nresource = \"pods\"\n",
       "[[permission]] (line 3): verbs must be one or more of get list watch create update patch delete "
       "deletecollection, each once, separated by spaces (got \"get steal\")"},
      {"[[permission]]\nverbs = [\"get\"]\nresource = \"Pods\"\n",
       "[[permission]] (line 3): resource and group take lowercase letters, digits, '-' and '.', and the resource "
       "at most one \"/subresource\" (got resource \"Pods\", group \"\")"},
      {"[[permission]]\nverbs = [\"get\"]\nresource = \"pods\"\nnamespace = \"a\"\nnamespace_param = \"b\"\n",
       "[[permission]] (line 3): give namespace or namespace_param, not both"},
      {"[[permission]]\nverbs = [\"get\"]\nresource = \"pods\"\nnamespace = \"Kube System\"\n",
       "[[permission]] (line 3): \"Kube System\" is not a namespace name (lowercase letters, digits and '-', at most "
       "63)"},
      {"[[permission]]\nverbs = [\"get\"]\nresource = \"pods\"\nnamespace_param = \"missing\"\n",
       "[[permission]] (line 3): its namespace comes from parameter 'missing', which the action does not have"},
      {"[[permission]]\nverbs = [\"get\"]\nresource = \"pods\"\nscope = \"cluster\"\n",
       "[[permission]] (line 6): unknown key 'scope' (accepted: verbs group resource namespace namespace_param why)"},
      {"[[permission]]\nverbs = [1]\nresource = \"pods\"\n", "[[permission]] (line 4): verbs must be strings"},
      {"[[permission]]\nverbs = [\"get\"]\nresource = 5\n", "[[permission]] (line 5): resource must be a string"},
      {"permission = \"get pods\"\n", "[[permission]] (line 3): must be an array of tables ([[permission]])"},
  };
  for (const Case& c : cases) {
    ExecPluginDir dir;
    ActionCatalog catalog;
    Status st = dir.Load(c.body, catalog);
    INFO(c.body);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message() == c.message);
    CHECK(catalog.Find("check") == nullptr);
  }
}

TEST_CASE("a probe's answer is bounded and checked before the daemon trusts it") {
  // A stand-in for `nodeagent-runner probe-plugin FILE` that answers `body`.
  struct Case {
    std::string script;
    std::string reason;
  };
  const Case cases[] = {
      {"head -c 1100000 /dev/zero | tr '\\0' ' '; echo '{\"ok\": true}'", "its tables are larger than 1024 KiB; not loaded"},
      {"echo 'not json'; echo 'said something' >&2; exit 3", "said something"},
      {"echo '{\"ok\": false, \"code\": 3, \"message\": \"missing symbol\"}'; exit 1", "missing symbol"},
      {"echo '{\"ok\": true}'", "the probe's answer has no plugin tables"},
      {"echo '{\"ok\": true, \"plugin\": {\"abi_version\": 5}}'", "malformed plugin tables from the probe: plugin: missing name"},
      {"kill -SEGV $$", "crashed while loading (SIGSEGV) in a probe process; not loaded"},
  };
  for (const Case& c : cases) {
    ExecPluginDir dir;
    std::string probe = dir.Write("probe.sh", "#!/bin/sh\n" + c.script + "\n", 0755);
    std::string module = dir.Write("module.so", "not looked at\n", 0644);
    ActionCatalog catalog;
    Status st = LoadNativePlugin(module, false, catalog, probe);
    INFO(c.script);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message().find(c.reason) != std::string::npos);
    CHECK(catalog.plugins.empty());
  }
}

TEST_CASE("exec manifest: [[condition]] rows reach the catalog, a malformed one is refused with its line") {
  {
    ExecPluginDir dir;
    ActionCatalog catalog;
    Status st = dir.Load(
        "[[condition]]\ntype = \"NodeAgentMyCheck\"\ntrue_reason = \"MyCheckFailed\"\n"
        "false_reason = \"MyCheckPassed\"\ndescription = \"what it watches\"\n",
        catalog);
    REQUIRE(st.ok());
    const ActionInfo* a = catalog.Find("check");
    REQUIRE(a);
    REQUIRE(a->conditions.size() == 1);
    CHECK(a->conditions[0].type == "NodeAgentMyCheck");
    CHECK(a->conditions[0].true_reason == "MyCheckFailed");
    CHECK(a->conditions[0].false_reason == "MyCheckPassed");
    CHECK(a->conditions[0].description == "what it watches");
  }
  struct Case {
    std::string body;
    std::string message;
  };
  const std::string ok_row = "[[condition]]\ntype = \"NodeAgentA\"\ntrue_reason = \"Bad\"\nfalse_reason = \"Good\"\n";
  const Case cases[] = {
      {"[[condition]]\ntype = \"MyCheck\"\ntrue_reason = \"Bad\"\nfalse_reason = \"Good\"\n",
       "[[condition]] (line 3): type must be CamelCase (letters and digits, at most 63) and start with \"NodeAgent\", "
       "e.g. NodeAgentCalicoNetwork"},
      {"[[condition]]\ntype = \"NodeAgentA\"\ntrue_reason = \"bad reason\"\nfalse_reason = \"Good\"\n",
       "[[condition]] (line 3): true_reason and false_reason must be CamelCase words, e.g. SwapEnabled"},
      {ok_row + ok_row, "[[condition]] (line 7): declared twice"},
      {"[[condition]]\ntype = \"NodeAgentA\"\nseverity = \"high\"\n",
       "[[condition]] (line 5): unknown key 'severity' (accepted: type true_reason false_reason description)"},
      {"condition = \"NodeAgentA\"\n", "[[condition]] (line 3): must be an array of tables ([[condition]])"},
  };
  for (const Case& c : cases) {
    ExecPluginDir dir;
    ActionCatalog catalog;
    Status st = dir.Load(c.body, catalog);
    INFO(c.body);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message() == c.message);
  }
  std::string many;
  for (int i = 0; i < 9; ++i)
    many += "[[condition]]\ntype = \"NodeAgent" + std::string(1, static_cast<char>('A' + i)) +
            "\"\ntrue_reason = \"Bad\"\nfalse_reason = \"Good\"\n";
  ExecPluginDir dir;
  ActionCatalog catalog;
  Status st = dir.Load(many, catalog);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message().find("at most 8") != std::string::npos);
}
