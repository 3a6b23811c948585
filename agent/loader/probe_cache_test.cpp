// The probe cache: a module's tables are read from its probe once and then
// from the cache, for as long as the module file and the runner are the very
// same files; anything else (a changed file, a changed runner, a damaged or
// foreign entry, a refused module, a module changed in the last 2 s, a folder
// others can write) means the probe runs again.
#include "loader/probe_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "loader/plugin_loader.h"

using namespace nodeagent;

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A temp folder with a copy of the test module, a probe that counts its calls
/// and hands them to the real runner, and a cache folder.
class ProbeFixture {
 public:
  ProbeFixture() {
    char tmpl[] = "/tmp/nodeagent-probe-cache-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    module = dir_ + "/testing.so";
    CopyModule();
    probe = dir_ + "/probe.sh";
    WriteProbe("exec " + std::string(RUNNER_EXE) + " \"$@\"");
    cache_dir = dir_ + "/cache";
  }
  ~ProbeFixture() { std::filesystem::remove_all(dir_); }

  /// Copies the test module over `module` (same bytes, a new file).
  void CopyModule() {
    std::filesystem::copy_file(std::string(TEST_PLUGIN_DIR) + "/testing.so", module,
                               std::filesystem::copy_options::overwrite_existing);
    ::chmod(module.c_str(), 0644);
  }
  /// The probe: counts its call, then runs `then`.
  void WriteProbe(const std::string& then) {
    std::ofstream(probe) << "#!/bin/sh\necho x >> " << dir_ << "/probes\n" << then << "\n";
    ::chmod(probe.c_str(), 0755);
  }
  int Probes() const {
    std::string text = Slurp(dir_ + "/probes");
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }
  /// Loads the module through `cache` into a fresh catalog.
  Status Load(const ProbeCache& cache, ActionCatalog& catalog) const {
    return LoadNativePlugin(module, false, catalog, probe, &cache);
  }

  std::string module, probe, cache_dir;

 private:
  std::string dir_;
};

}  // namespace

TEST_CASE("a probe's answer is kept for the very same module file and runner, and taken instead of probing") {
  ProbeFixture f;
  ProbeCache cache(f.cache_dir, f.probe, false, 0);
  ActionCatalog probed;
  REQUIRE(f.Load(cache, probed).ok());
  CHECK(f.Probes() == 1);
  CHECK(std::filesystem::exists(cache.EntryPath(f.module)));

  ActionCatalog kept;
  REQUIRE(f.Load(cache, kept).ok());
  CHECK(f.Probes() == 1);  // not probed again
  REQUIRE(kept.Names() == probed.Names());
  CHECK(kept.plugins == probed.plugins);
  for (const ActionInfo* a : probed.All()) {
    const ActionInfo* k = kept.Find(a->name);
    REQUIRE(k);
    CHECK(k->description == a->description);
    CHECK(k->source == a->source);
    REQUIRE(k->params.size() == a->params.size());
    for (size_t i = 0; i < a->params.size(); ++i) CHECK(k->params[i].name == a->params[i].name);
    CHECK(static_cast<bool>(k->validate) == static_cast<bool>(a->validate));
    CHECK_FALSE(k->create);
  }

  SECTION("a module file written again is probed again") {
    f.CopyModule();
    ActionCatalog again;
    REQUIRE(f.Load(cache, again).ok());
    CHECK(f.Probes() == 2);
    ActionCatalog then;
    REQUIRE(f.Load(cache, then).ok());
    CHECK(f.Probes() == 2);
  }
  SECTION("a new runner probes again") {
    f.WriteProbe("exec " + std::string(RUNNER_EXE) + " \"$@\"  # a new runner");
    ProbeCache with_new_runner(f.cache_dir, f.probe, false, 0);
    ActionCatalog again;
    REQUIRE(f.Load(with_new_runner, again).ok());
    CHECK(f.Probes() == 2);
  }
  SECTION("a damaged entry, or one kept for another file, is probed again and replaced") {
    const std::string key = cache.Key(f.module);
    const std::string bad_entries[] = {
        "{\"key\": \"" + key.substr(0, 20),
        nlohmann::json{{"key", "abi 1 module /elsewhere 1:2:3:4:5 probe 6:7:8:9:10"},
                       {"plugin", nlohmann::json::parse(Slurp(cache.EntryPath(f.module)))["plugin"]}}
            .dump(),
        nlohmann::json{{"key", key}, {"plugin", {{"abi_version", 5}}}}.dump(),
        "",
    };
    int probes = 1;
    for (const std::string& bad : bad_entries) {
      INFO(bad.substr(0, 80));
      std::ofstream(cache.EntryPath(f.module), std::ios::trunc) << bad;
      ActionCatalog again;
      REQUIRE(f.Load(cache, again).ok());
      CHECK(f.Probes() == ++probes);
      CHECK(again.Find("test-touch"));
      ActionCatalog then;
      REQUIRE(f.Load(cache, then).ok());
      CHECK(f.Probes() == probes);  // the probe's answer replaced it
    }
  }
  SECTION("an entry is not taken from a folder others can write, nor through a symlink") {
    ::chmod(f.cache_dir.c_str(), 0777);
    ActionCatalog again;
    REQUIRE(f.Load(cache, again).ok());
    CHECK(f.Probes() == 2);
    ::chmod(f.cache_dir.c_str(), 0700);
    const std::string entry = cache.EntryPath(f.module);
    std::filesystem::rename(entry, entry + ".real");
    std::filesystem::create_symlink(entry + ".real", entry);
    CHECK_FALSE(cache.Find(f.module, cache.Key(f.module)));
  }
}

TEST_CASE("a refused module and a module changed in the last 2 seconds are probed every time") {
  ProbeFixture f;
  {
    f.WriteProbe("echo '{\"ok\": false, \"code\": 3, \"message\": \"missing symbol\"}'; exit 1");
    ProbeCache cache(f.cache_dir, f.probe, false, 0);
    for (int i = 1; i <= 2; ++i) {
      ActionCatalog catalog;
      Status st = f.Load(cache, catalog);
      REQUIRE_FALSE(st.ok());
      CHECK(st.error().message().find("missing symbol") != std::string::npos);
      CHECK(f.Probes() == i);
    }
    CHECK_FALSE(std::filesystem::exists(cache.EntryPath(f.module)));
  }
  f.WriteProbe("exec " + std::string(RUNNER_EXE) + " \"$@\"");
  f.CopyModule();  // just written: within the 2 s
  const int before = f.Probes();
  ProbeCache cache(f.cache_dir, f.probe, false);
  for (int i = 1; i <= 2; ++i) {
    ActionCatalog catalog;
    REQUIRE(f.Load(cache, catalog).ok());
    CHECK(f.Probes() == before + i);
  }
  CHECK_FALSE(std::filesystem::exists(cache.EntryPath(f.module)));
}

TEST_CASE("LoadPlugins keeps probes in probe_cache_dir and loads the same catalog from it") {
  ProbeFixture f;
  // A module changed in the last 2 s is not kept: wait until the shipped
  // ones (just built, perhaps) are older than that.
  namespace fs = std::filesystem;
  for (const auto& e : fs::directory_iterator(SHIPPED_PLUGIN_DIR)) {
    if (e.path().extension() != ".so") continue;
    struct stat st;
    REQUIRE(::lstat(e.path().c_str(), &st) == 0);
    auto changed = std::chrono::system_clock::time_point(std::chrono::seconds(std::max(st.st_mtim.tv_sec, st.st_ctim.tv_sec)) +
                                                         std::chrono::seconds(1));
    auto old_enough = changed + std::chrono::seconds(2);
    if (old_enough > std::chrono::system_clock::now()) std::this_thread::sleep_until(old_enough);
  }
  PluginLoaderOptions options{SHIPPED_PLUGIN_DIR, "", false, f.probe, f.cache_dir};
  ActionCatalog first;
  LoadPlugins(options, first);
  REQUIRE(first.problems.empty());
  REQUIRE(first.plugins.size() >= 4);
  CHECK(f.Probes() == static_cast<int>(first.plugins.size()));
  ActionCatalog second;
  LoadPlugins(options, second);
  CHECK(f.Probes() == static_cast<int>(first.plugins.size()));  // every module's tables came from the cache
  CHECK(second.problems.empty());
  CHECK(second.Names() == first.Names());
  CHECK(second.plugins == first.plugins);
}
