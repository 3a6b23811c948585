#include "network_manager/nm_config.h"

#include <filesystem>

#include <catch2/catch.hpp>

#include "host/fake_host.h"
#include "host/local_file_system.h"

namespace nodeagent::calico {
namespace {

constexpr const char* kEtc = "/etc/NetworkManager/conf.d/";
constexpr const char* kRun = "/run/NetworkManager/conf.d/";
constexpr const char* kLib = "/usr/lib/NetworkManager/conf.d/";
constexpr const char* kMain = "/etc/NetworkManager/NetworkManager.conf";

struct NmRoot {
  TempRoot root;
  LocalFileSystem files{root.path()};
  void Write(const std::string& path, const std::string& text) { root.Write(path, text); }
  NmConfig Read() { return ReadNmConfig(files); }
};

bool AllCalicoCovered(const NmConfig& c) {
  for (const auto& cov : CheckCoverage(c, DefaultCalicoSpecs()))
    if (!cov.covered) return false;
  return true;
}

TEST_CASE("nm: no configuration at all manages everything and plans calico.conf", "[nm]") {
  NmRoot r;
  auto c = r.Read();
  CHECK(c.ok());
  CHECK(c.files_read.empty());
  CHECK_FALSE(c.unmanaged_devices);
  CHECK_FALSE(IsUnmanaged(c, "cali1234abcd").unmanaged);
  auto plan = PlanNmFix(r.files);
  REQUIRE(plan);
  REQUIRE(plan->edit);
  CHECK(plan->path == std::string(kEtc) + "calico.conf");
  CHECK_FALSE(plan->edit->before);
  CHECK(plan->edit->after.find("unmanaged-devices+=interface-name:cali*,interface-name:tunl*") != std::string::npos);
}

TEST_CASE("nm: device specs match names the way NetworkManager.conf(5) says", "[nm]") {
  CHECK(MatchDeviceSpecs({"interface-name:cali*"}, "cali1234abcd") == SpecMatch::kMatch);
  CHECK(MatchDeviceSpecs({"interface-name:cali*"}, "eth0") == SpecMatch::kNoMatch);
  CHECK(MatchDeviceSpecs({"interface-name:~tunl?"}, "tunl0") == SpecMatch::kMatch);
  CHECK(MatchDeviceSpecs({"interface-name:=cali*"}, "cali1") == SpecMatch::kNoMatch);
  CHECK(MatchDeviceSpecs({"interface-name:=cali*"}, "cali*") == SpecMatch::kMatch);
  CHECK(MatchDeviceSpecs({"vxlan.calico"}, "vxlan.calico") == SpecMatch::kMatch);
  CHECK(MatchDeviceSpecs({"cali*"}, "cali1") == SpecMatch::kNoMatch);  // bare names are not globs
  CHECK(MatchDeviceSpecs({"*"}, "anything") == SpecMatch::kMatch);
  CHECK(MatchDeviceSpecs({"mac:00:11:22:33:44:55", "type:ethernet", "00:11:22:33:44:55"}, "eth0") ==
        SpecMatch::kNoMatch);
  CHECK(MatchDeviceSpecs({"*", "except:interface-name:eth0"}, "eth0") == SpecMatch::kExcluded);
  CHECK(MatchDeviceSpecs({"*", "except:interface-name:eth0"}, "cali1") == SpecMatch::kMatch);
  CHECK(MatchDeviceSpecs({"except:interface-name:eth*"}, "cali1") == SpecMatch::kMatch);
  CHECK(MatchDeviceSpecs({"except:interface-name:eth*"}, "eth1") == SpecMatch::kExcluded);
  CHECK(SplitDeviceSpecs(" a , b;c\\,d ,, e\\s") == std::vector<std::string>{"a", "b", "c,d", "e "});
  CHECK(SampleInterfaceName("interface-name:cali*") == "cali0123abcd");
  CHECK(SampleInterfaceName("interface-name:=tunl0") == "tunl0");
  CHECK(SampleInterfaceName("mac:00:11:22:33:44:55").empty());
}

TEST_CASE("nm: an earlier file with docker0 keeps it after the fix", "[nm]") {
  NmRoot r;
  r.Write(std::string(kEtc) + "10-docker.conf", "[keyfile]\nunmanaged-devices=interface-name:docker0\n");
  auto c = r.Read();
  CHECK(IsUnmanaged(c, "docker0").unmanaged);
  CHECK_FALSE(AllCalicoCovered(c));
  auto plan = PlanNmFix(r.files);
  REQUIRE(plan);
  REQUIRE(plan->edit);
  CHECK(plan->path == std::string(kEtc) + "calico.conf");
  REQUIRE(ApplyFileEdit(r.files, *plan->edit));
  auto after = r.Read();
  CHECK(IsUnmanaged(after, "docker0").unmanaged);
  CHECK(IsUnmanaged(after, "cali1234abcd").unmanaged);
  CHECK(IsUnmanaged(after, "tunl0").unmanaged);
  CHECK(IsUnmanaged(after, "vxlan.calico").unmanaged);
  CHECK(IsUnmanaged(after, "wg-v6.cali").unmanaged);
  CHECK_FALSE(IsUnmanaged(after, "eth0").unmanaged);
  CHECK(AllCalicoCovered(after));
  auto again = PlanNmFix(r.files);
  REQUIRE(again);
  CHECK_FALSE(again->edit);
}

TEST_CASE("nm: a later file replacing the list moves ours after it", "[nm]") {
  NmRoot r;
  r.Write(std::string(kEtc) + "docker.conf", "[keyfile]\nunmanaged-devices=interface-name:docker0\n");
  auto plan = PlanNmFix(r.files);
  REQUIRE(plan);
  REQUIRE(plan->edit);
  CHECK(plan->path == std::string(kEtc) + "zz-calico.conf");
  REQUIRE(plan->notes.size() == 1);
  CHECK(plan->notes[0].find("docker.conf") != std::string::npos);
  REQUIRE(ApplyFileEdit(r.files, *plan->edit));
  auto after = r.Read();
  CHECK(AllCalicoCovered(after));
  CHECK(IsUnmanaged(after, "docker0").unmanaged);
  auto again = PlanNmFix(r.files);
  REQUIRE(again);
  CHECK_FALSE(again->edit);

  SECTION("a later -= of a Calico spec is also outrun") {
    NmRoot s;
    s.Write(std::string(kEtc) + "shrink.conf", "[keyfile]\nunmanaged-devices-=interface-name:tunl*\n");
    s.Write(std::string(kEtc) + "calico.conf", "[keyfile]\nunmanaged-devices+=interface-name:tunl*\n");
    auto p = PlanNmFix(s.files);
    REQUIRE(p);
    CHECK(p->path == std::string(kEtc) + "zz-calico.conf");
  }
}

TEST_CASE("nm: += and -= edit the list across files; a plain = replaces it", "[nm]") {
  NmRoot r;
  r.Write(std::string(kLib) + "00-pkg.conf", "[keyfile]\nunmanaged-devices=interface-name:a,interface-name:b\n");
  r.Write(std::string(kRun) + "10-boot.conf", "[keyfile]\nunmanaged-devices+=interface-name:c;interface-name:a\n");
  r.Write(kMain, "[main]\nplugins=ifupdown,keyfile\n[keyfile]\nunmanaged-devices-=interface-name:b\n");
  r.Write(std::string(kEtc) + "20-more.conf", "[keyfile]\n  unmanaged-devices+=interface-name:d\n");
  // A blank before "+=" makes the key "unmanaged-devices ": NetworkManager 1.42 ignores it.
  r.Write(std::string(kEtc) + "25-blank.conf", "[keyfile]\nunmanaged-devices += interface-name:ignored\n");
  auto c = r.Read();
  REQUIRE(c.ok());
  REQUIRE(c.files_read.size() == 5);
  CHECK(c.files_read[0] == std::string(kLib) + "00-pkg.conf");
  CHECK(c.files_read[1] == std::string(kRun) + "10-boot.conf");
  CHECK(c.files_read[2] == kMain);
  REQUIRE(c.unmanaged_devices);
  CHECK(*c.unmanaged_devices == std::vector<std::string>{"interface-name:a", "interface-name:c", "interface-name:d"});
  CHECK(c.unmanaged_replaced_by == std::vector<std::string>{std::string(kLib) + "00-pkg.conf"});

  r.Write(std::string(kEtc) + "30-reset.conf", "[keyfile]\nunmanaged-devices=interface-name:z\n");
  CHECK(*r.Read().unmanaged_devices == std::vector<std::string>{"interface-name:z"});
}

TEST_CASE("nm: [device] sections with match-device and managed", "[nm]") {
  NmRoot r;
  r.Write(std::string(kEtc) + "calico-dev.conf",
          "[device-calico]\nmatch-device=interface-name:cali*;interface-name:tunl*\nmanaged=0\n"
          "[device]\nmanaged=true\n");
  auto c = r.Read();
  REQUIRE(c.device_sections.size() == 2);
  CHECK(c.device_sections[0].name == "device-calico");  // [device] is last in its file
  CHECK(IsUnmanaged(c, "cali1").unmanaged);
  CHECK(IsUnmanaged(c, "tunl0").unmanaged);
  CHECK_FALSE(IsUnmanaged(c, "eth0").unmanaged);
  CHECK_FALSE(IsUnmanaged(c, "vxlan.calico").unmanaged);

  SECTION("a later file's section is looked at first") {
    r.Write(std::string(kEtc) + "zz-manage.conf", "[device-x]\nmatch-device=interface-name:cali1\nmanaged=yes\n");
    auto c2 = r.Read();
    CHECK_FALSE(IsUnmanaged(c2, "cali1").unmanaged);
    CHECK(IsUnmanaged(c2, "cali2").unmanaged);
    // The keyfile list wins over a device section's managed=true.
    auto plan = PlanNmFix(r.files);
    REQUIRE(plan);
    REQUIRE(plan->edit);
    REQUIRE(ApplyFileEdit(r.files, *plan->edit));
    CHECK(IsUnmanaged(r.Read(), "cali1").unmanaged);
  }
  SECTION("stop-match ends the search without managed") {
    r.Write(std::string(kEtc) + "x.conf", "[device-stop]\nmatch-device=interface-name:cali9\nstop-match=yes\n");
    auto c3 = r.Read();
    CHECK_FALSE(IsUnmanaged(c3, "cali9").unmanaged);
    CHECK(IsUnmanaged(c3, "cali8").unmanaged);
  }
  SECTION("managed=false") {
    r.Write(std::string(kEtc) + "x.conf", "[device-vx]\nmatch-device=interface-name:vxlan.calico\nmanaged=false\n");
    CHECK(IsUnmanaged(r.Read(), "vxlan.calico").unmanaged);
  }
}

TEST_CASE("nm: comments, blanks and whitespace are read like GKeyFile", "[nm]") {
  NmRoot r;
  r.Write(std::string(kEtc) + "a.conf",
          "# comment\n\n   # indented comment\r\n[keyfile]\r\n\tunmanaged-devices =  interface-name:x ; interface-name:y  \r\n");
  auto c = r.Read();
  REQUIRE(c.ok());
  CHECK(*c.unmanaged_devices == std::vector<std::string>{"interface-name:x", "interface-name:y"});

  SECTION("a ';' line is not a comment to GKeyFile: an error") {
    r.Write(std::string(kEtc) + "b.conf", "[keyfile]\n; not a comment\n");
    auto c2 = r.Read();
    REQUIRE(c2.errors.size() == 1);
    CHECK(c2.errors[0].Text() == std::string(kEtc) + "b.conf:2: \"; not a comment\" is not a key=value pair, a [section] or a # comment");
  }
}

TEST_CASE("nm: masking, hidden files and the .conf suffix", "[nm]") {
  NmRoot r;
  r.Write(std::string(kLib) + "calico.conf", "[keyfile]\nunmanaged-devices=interface-name:lib\n");
  r.Write(std::string(kRun) + "calico.conf", "[keyfile]\nunmanaged-devices=interface-name:run\n");
  r.Write(std::string(kRun) + "other.conf", "[keyfile]\nunmanaged-devices+=interface-name:other\n");
  // NetworkManager 1.42 reads hidden *.conf files (checked with its --print-config).
  r.Write(std::string(kEtc) + ".hidden.conf", "[keyfile]\nunmanaged-devices+=interface-name:hidden\n");
  r.Write(std::string(kEtc) + "x.conf.bak", "[keyfile]\nunmanaged-devices+=interface-name:bak\n");
  auto c = r.Read();
  CHECK(*c.unmanaged_devices ==
        std::vector<std::string>{"interface-name:run", "interface-name:other", "interface-name:hidden"});  // /run before /etc
  CHECK(c.shadowed == std::vector<std::string>{std::string(kLib) + "calico.conf"});

  // An empty file of the same name masks; a link to /dev/null is an error to NetworkManager.
  r.Write(std::string(kEtc) + "other.conf", "");
  auto masked = r.Read();
  CHECK(*masked.unmanaged_devices == std::vector<std::string>{"interface-name:run", "interface-name:hidden"});
  CHECK(masked.shadowed.size() == 2);
  std::filesystem::remove(r.root.Real(std::string(kEtc) + "other.conf"));
  std::filesystem::create_symlink("/dev/null", r.root.Real(std::string(kEtc) + "other.conf"));
  auto linked = r.Read();
  REQUIRE(linked.errors.size() == 1);
  CHECK(linked.errors[0].Text().find("other.conf: a link to /dev/null") != std::string::npos);
  std::filesystem::remove(r.root.Real(std::string(kEtc) + "other.conf"));
  std::filesystem::remove(r.root.Real(std::string(kEtc) + ".hidden.conf"));

  SECTION("[.config] enable=false skips a drop-in") {
    r.Write(std::string(kEtc) + "zz.conf", "[.config]\nenable=false\n[keyfile]\nunmanaged-devices=interface-name:off\n");
    auto d = r.Read();
    CHECK(d.disabled == std::vector<std::string>{std::string(kEtc) + "zz.conf"});
    CHECK(*d.unmanaged_devices == std::vector<std::string>{"interface-name:run", "interface-name:other"});
  }
}

TEST_CASE("nm: parse errors name file:line and block the plan", "[nm]") {
  NmRoot r;
  std::string path = std::string(kEtc) + "calico.conf";
  SECTION("broken header") {
    r.Write(path, "# x\n[keyfile\nunmanaged-devices=interface-name:cali*\n");
    auto c = r.Read();
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].Text() == path + ":2: broken section header \"[keyfile\"");
  }
  SECTION("key outside a section") {
    r.Write(path, "unmanaged-devices=interface-name:cali*\n");
    auto c = r.Read();
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].Text() == path + ":1: key \"unmanaged-devices\" outside a [section]");
  }
  SECTION("invalid UTF-8") {
    r.Write(path, "[keyfile]\n# ok\nunmanaged-devices=interface-name:\xff\xfe\n");
    auto c = r.Read();
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].Text() == path + ":3: not valid UTF-8");
  }
  SECTION("too many lines") {
    std::string big = "[keyfile]\n";
    for (size_t i = 0; i < kMaxNmConfLines + 5; ++i) big += "#\n";
    r.Write(path, big);
    auto c = r.Read();
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].line == 0);
  }
  std::string written = r.root.Read(path);
  auto plan = PlanNmFix(r.files);
  REQUIRE_FALSE(plan);
  CHECK(plan.error().message().find(path) != std::string::npos);
  CHECK(r.root.Read(path) == written);  // untouched
}

TEST_CASE("nm: already right means no change; an except: read later is refused", "[nm]") {
  NmRoot r;
  r.Write(kMain, "[keyfile]\nunmanaged-devices=interface-name:cali*,interface-name:tunl*,interface-name:vxlan*,"
                 "interface-name:wireguard.cali,interface-name:wg-v6.cali\n");
  auto plan = PlanNmFix(r.files);
  REQUIRE(plan);
  CHECK_FALSE(plan->edit);

  r.Write(std::string(kEtc) + "zzzzzzzzzzzzzzzzzzzz.conf", "[keyfile]\nunmanaged-devices+=except:interface-name:tunl*\n");
  auto refused = PlanNmFix(r.files);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message().find("interface-name:tunl*") != std::string::npos);
}

TEST_CASE("nm: an existing calico.conf of the operator", "[nm]") {
  NmRoot r;
  std::string path = std::string(kEtc) + "calico.conf";
  SECTION("with only the list (Calico's documented file) is replaced, keeping a backup") {
    r.Write(std::string(kEtc) + "10-docker.conf", "[keyfile]\nunmanaged-devices=interface-name:docker0\n");
    r.Write(path, "[keyfile]\nunmanaged-devices=interface-name:cali*;interface-name:tunl*\n");
    CHECK_FALSE(IsUnmanaged(r.Read(), "docker0").unmanaged);  // replaced by calico.conf
    auto plan = PlanNmFix(r.files);
    REQUIRE(plan);
    REQUIRE(plan->edit);
    REQUIRE(plan->edit->before);
    REQUIRE(plan->notes.size() == 1);
    REQUIRE(ApplyFileEdit(r.files, *plan->edit));
    CHECK(r.root.Read(path + kBackupSuffix).find("interface-name:cali*;") != std::string::npos);
    auto after = r.Read();
    CHECK(AllCalicoCovered(after));
    CHECK(IsUnmanaged(after, "docker0").unmanaged);  // the += keeps the earlier file's entry
    auto again = PlanNmFix(r.files);
    REQUIRE(again);
    CHECK_FALSE(again->edit);
  }
  SECTION("with other settings is refused") {
    r.Write(path, "[keyfile]\nunmanaged-devices=interface-name:cali*\n[main]\ndns=none\n");
    auto plan = PlanNmFix(r.files);
    REQUIRE_FALSE(plan);
    CHECK(plan.error().message().find("[main] dns") != std::string::npos);
  }
  SECTION("masked by a link to /dev/null is refused") {
    std::filesystem::create_directories(r.root.Real(kEtc));
    std::filesystem::create_symlink("/dev/null", r.root.Real(path));
    auto plan = PlanNmFix(r.files);
    REQUIRE_FALSE(plan);
    CHECK(plan.error().message().find("/dev/null") != std::string::npos);
  }
}

TEST_CASE("nm: the drop-in name is a parameter", "[nm]") {
  NmRoot r;
  NmFixOptions o;
  o.file_name = "90-k8s-calico.conf";
  auto plan = PlanNmFix(r.files, o);
  REQUIRE(plan);
  CHECK(plan->path == std::string(kEtc) + "90-k8s-calico.conf");
  o.file_name = "../x.conf";
  CHECK_FALSE(PlanNmFix(r.files, o));
}

}  // namespace
}  // namespace nodeagent::calico
