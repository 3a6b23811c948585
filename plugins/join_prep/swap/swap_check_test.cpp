#include "swap/swap_check.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <set>

#include "join_options.h"
#include "swap/fstab.h"
#include "swap/swap_units.h"
#include "swap/zram.h"
#include "testing/fake_action_context.h"

namespace nodeagent::join_prep {
namespace {

namespace fs = std::filesystem;

constexpr const char* kGeneratorPath = "/usr/lib/systemd/system-generators/zram-generator";
constexpr const char* kSwapsHeader = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";

CommandResult Exit(int code, std::string out = "", std::string err = "") {
  CommandResult r;
  r.exit_code = code;
  r.stdout_data = std::move(out);
  r.stderr_data = std::move(err);
  return r;
}

/// A node under a temp root: /proc/swaps, unit directories, and a fake
/// systemctl and swapoff that change the root the way the real ones would,
/// so that a fix applied and a second check show the end state.
struct Node {
  FakeActionContext ctx;
  JoinOptions options;
  KubeletConfigView kubelet;
  std::vector<std::string> swaps;             // /proc/swaps lines after the header
  std::map<std::string, std::string> active;  // unit -> active state (list-units)

  Node() {
    WriteSwaps();
    ctx.commands().AnswerWith({"systemctl", "list-unit-files"}, [this](const CommandSpec& s) {
      REQUIRE(s.read_only);
      return Result<CommandResult>(Exit(0, ListUnitFiles()));
    });
    ctx.commands().AnswerWith({"systemctl", "list-units"}, [this](const CommandSpec& s) {
      REQUIRE(s.read_only);
      std::string out;
      for (auto& [u, state] : active)
        out += u + " loaded " + state + " " + (state == "active" ? "active" : "dead") + " Swap\n";
      return Result<CommandResult>(Exit(0, out));
    });
    ctx.commands().AnswerWith({"swapoff"}, [this](const CommandSpec& s) {
      REQUIRE_FALSE(s.read_only);
      auto before = swaps.size();
      std::erase_if(swaps, [&](const std::string& l) { return l.substr(0, l.find(' ')) == Escape(s.argv[1]); });
      WriteSwaps();
      return Result<CommandResult>(before == swaps.size()
                                       ? Exit(255, "", "swapoff: " + s.argv[1] + ": swapoff failed: Invalid argument")
                                       : Exit(0));
    });
    ctx.commands().AnswerWith({"systemctl", "mask"}, [this](const CommandSpec& s) {
      REQUIRE_FALSE(s.read_only);
      const std::string& unit = s.argv.back();
      std::string path = "/etc/systemd/system/" + unit;
      if (fs::exists(fs::symlink_status(ctx.root().Real(path))))
        return Result<CommandResult>(Exit(1, "", "Failed to mask unit: File " + path + " already exists."));
      Link(path, "/dev/null");
      active.erase(unit);
      return Result<CommandResult>(Exit(0));
    });
    ctx.commands().AnswerWith({"systemctl", "disable"}, [this](const CommandSpec& s) {
      REQUIRE_FALSE(s.read_only);
      const std::string& unit = s.argv.back();
      for (auto& e : fs::recursive_directory_iterator(ctx.root().Real("/etc/systemd/system")))
        if (e.is_symlink() && e.path().filename() == unit) fs::remove(e.path());
      if (std::find(s.argv.begin(), s.argv.end(), "--now") != s.argv.end()) active.erase(unit);
      return Result<CommandResult>(Exit(0));
    });
  }

  static std::string Escape(const std::string& p) {
    std::string out;
    for (char c : p) out += c == ' ' ? std::string("\\040") : std::string(1, c);
    return out;
  }
  void WriteSwaps() {
    std::string text = kSwapsHeader;
    for (auto& l : swaps) text += l + "\n";
    ctx.root().Write("/proc/swaps", text);
  }
  void AddSwap(const std::string& path, const std::string& type = "partition") {
    swaps.push_back(Escape(path) + " " + type + "\t2097148\t0\t-2");
    WriteSwaps();
  }
  /// What `systemctl list-unit-files --type swap` would say, from the files.
  std::string ListUnitFiles() {
    std::string out;
    for (auto& [name, state] : unit_file_states) out += name + " " + state + " -\n";
    return out;
  }
  std::map<std::string, std::string> unit_file_states;

  void Write(const std::string& path, const std::string& content) { ctx.root().Write(path, content); }
  void Link(const std::string& path, const std::string& target) {
    fs::create_directories(fs::path(ctx.root().Real(path)).parent_path());
    fs::create_symlink(target, ctx.root().Real(path));
  }

  std::vector<CheckResult> Check() {
    CheckInputs in{ctx.host(), options, nullptr, kubelet};
    return CheckSwap(in);
  }
  /// Carries out every planned fix, in the order of the results.
  void ApplyAll(const std::vector<CheckResult>& results) {
    for (const auto& r : results) {
      if (!r.fix) continue;
      for (const auto& step : r.fix->steps) {
        auto st = ApplyStep(ctx.host(), step);
        INFO(r.id << ": " << step.description);
        REQUIRE(st.ok());
      }
    }
  }
};

std::vector<const CheckResult*> WithId(const std::vector<CheckResult>& rs, std::string_view id) {
  std::vector<const CheckResult*> out;
  for (const auto& r : rs)
    if (r.id == id) out.push_back(&r);
  return out;
}

const CheckResult& First(const std::vector<CheckResult>& rs, std::string_view id) {
  auto all = WithId(rs, id);
  REQUIRE_FALSE(all.empty());
  return *all.front();
}

std::vector<std::string> Commands(const CheckResult& r) {
  std::vector<std::string> out;
  if (!r.fix) return out;
  for (const auto& s : r.fix->steps)
    if (s.kind == FixStep::Kind::kCommand) out.push_back(CommandLine(s.argv));
  return out;
}

bool Contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

void RequireAllPassWithoutFix(const std::vector<CheckResult>& rs) {
  for (const auto& r : rs) {
    INFO(r.id << ": " << r.message);
    CHECK(r.status == CheckStatus::kPass);
    CHECK_FALSE(r.fix);
  }
}

TEST_CASE("CheckSwap on a node without swap: four passes, no fix", "[swap]") {
  Node node;
  auto rs = node.Check();
  REQUIRE(rs.size() == 4);
  CHECK(rs[0].id == "Swap");
  CHECK(rs[1].id == "SwapFstab");
  CHECK(rs[2].id == "SwapUnits");
  CHECK(rs[3].id == "SwapZram");
  RequireAllPassWithoutFix(rs);
  for (const auto& line : node.ctx.commands().call_lines()) CHECK(Contains(line, "systemctl list-"));
}

TEST_CASE("Swap: active areas get one swapoff each; a deleted file gets none", "[swap]") {
  Node node;
  node.AddSwap("/dev/sda2");
  node.AddSwap("/swap file", "file");
  node.swaps.push_back("/gone\\040(deleted) file\t4096\t0\t-4");
  node.WriteSwaps();
  auto rs = node.Check();
  const auto& r = First(rs, "Swap");
  CHECK(r.status == CheckStatus::kFail);
  CHECK(r.severity == CheckSeverity::kError);
  CHECK(Contains(r.message, "/dev/sda2 (partition, 2097148 KiB)"));
  CHECK(Contains(r.message, "failSwapOn defaults to true, no kubelet configuration found"));
  REQUIRE(r.fix);
  CHECK(r.fix->id == "swapoff");
  CHECK(Commands(r) == std::vector<std::string>{"swapoff /dev/sda2", "swapoff '/swap file'"});
  CHECK(Contains(r.hint, "/gone"));
  CHECK(r.detail["active"].size() == 3);
  CHECK(r.detail["active"][2]["deleted"] == true);
}

TEST_CASE("Swap: swapoff applied, the second check passes", "[swap]") {
  Node node;
  node.AddSwap("/dev/sda2");
  node.AddSwap("/dev/zram0");
  auto rs = node.Check();
  node.ApplyAll(rs);
  auto again = node.Check();
  RequireAllPassWithoutFix(again);
}

TEST_CASE("Swap: failSwapOn false makes every swap finding a warning naming the config", "[swap]") {
  Node node;
  node.kubelet.known = true;
  node.kubelet.source = "/var/lib/kubelet/config.yaml";
  node.kubelet.fail_swap_on = false;
  node.AddSwap("/dev/sda2");
  node.Write("/etc/fstab", "/dev/sda2 none swap sw 0 0\n");
  auto rs = node.Check();
  SECTION("failSwapOn true in a known config") {
    node.kubelet.fail_swap_on = true;
    auto strict = node.Check();
    CHECK(First(strict, "Swap").severity == CheckSeverity::kError);
    CHECK(Contains(First(strict, "Swap").message, "failSwapOn is true in /var/lib/kubelet/config.yaml"));
    return;
  }
  for (auto id : {"Swap", "SwapFstab"}) {
    const auto& r = First(rs, id);
    INFO(id);
    CHECK(r.status == CheckStatus::kFail);
    CHECK(r.severity == CheckSeverity::kWarning);
    CHECK(Contains(r.message, "failSwapOn is false in /var/lib/kubelet/config.yaml"));
    CHECK(r.fix);  // still offered; the operator's fix list decides
  }
}

TEST_CASE("Swap: no /proc/swaps is a kernel without swap, as the kubelet takes it", "[swap]") {
  Node node;
  fs::remove(node.ctx.root().Real("/proc/swaps"));
  auto rs = node.Check();
  CHECK(First(rs, "Swap").status == CheckStatus::kPass);
  CHECK(First(rs, "Swap").message == "no /proc/swaps: the kernel has no swap support");
}

TEST_CASE("Swap: an unreadable or odd /proc/swaps is a warning naming it, no fix", "[swap]") {
  Node node;
  SECTION("a directory") {
    fs::remove(node.ctx.root().Real("/proc/swaps"));
    fs::create_directories(node.ctx.root().Real("/proc/swaps"));
  }
  SECTION("no header") { node.Write("/proc/swaps", "/dev/sda2 partition 1 0 -2\n"); }
  auto rs = node.Check();
  const auto& r = First(rs, "Swap");
  CHECK(r.status == CheckStatus::kFail);
  CHECK(r.severity == CheckSeverity::kWarning);
  CHECK(Contains(r.message, "/proc/swaps"));
  CHECK_FALSE(r.fix);
  CHECK(rs.size() == 4);  // the other checks still ran
}

// A real-world fstab with every shape, CRLF line endings and no final newline.
const std::string kFstab =
    "# /etc/fstab: static file system information.\r\n"
    "#\r\n"
    "# <file system> <mount point>   <type>  <options>       <dump>  <pass>\r\n"
    "UUID=3b1f0c5e-aaaa / ext4 errors=remount-ro 0 1\r\n"
    "UUID=0a3407de-bbbb none swap sw 0 0\r\n"            // 5
    "LABEL=SWAP none swap defaults 0 0\r\n"              // 6
    "PARTUUID=6d4a3c2b-02 none swap sw 0 0\r\n"          // 7
    "PARTLABEL=linux-swap\tnone\tswap\tsw\t0\t0\r\n"     // 8 tabs
    "/dev/sda2 none swap sw,pri=5 0 0   \r\n"            // 9 trailing blanks
    "/dev/mapper/vg0-swap_1 swap swap defaults 0 0\r\n"  // 10 mount point "swap"
    "/swapfile none swap sw 0 0\r\n"                     // 11
    "/dev/disk/by-uuid/1c2d none swap sw 0 0\r\n"        // 12
    "/dev/sdb1 none swap noauto 0 0\r\n"                 // 13 noauto: left on
    "# /dev/sdc1 none swap sw 0 0\r\n"                   // 14 already off
    "\r\n"                                               // 15
    "/dev/sdd1 swap\r\n"                                 // 16 malformed
    "/srv/my\\040swap none swap sw 0 0\r\n"              // 17 octal escape
    "tmpfs /tmp tmpfs defaults,noauto 0 0\r\n"           // 18
    "/dev/sde1 none swap";                               // 19 three fields, no newline
const std::vector<size_t> kFstabSwapLines = {5, 6, 7, 8, 9, 10, 11, 12, 17, 19};

std::string ExpectedFixedFstab() {
  std::string out;
  size_t pos = 0, number = 0;
  while (pos < kFstab.size()) {
    size_t nl = kFstab.find('\n', pos);
    size_t end = nl == std::string::npos ? kFstab.size() : nl + 1;
    ++number;
    if (std::find(kFstabSwapLines.begin(), kFstabSwapLines.end(), number) != kFstabSwapLines.end())
      out += kFstabSwapOffMarker;
    out += kFstab.substr(pos, end - pos);
    pos = end;
  }
  return out;
}

TEST_CASE("SwapFstab: a real fstab, fixed byte for byte, then nothing more to do", "[swap]") {
  Node node;
  node.Write("/etc/fstab", kFstab);
  auto rs = node.Check();
  auto results = WithId(rs, "SwapFstab");
  REQUIRE(results.size() == 2);
  const auto& r = *results[0];
  CHECK(r.status == CheckStatus::kFail);
  CHECK(r.severity == CheckSeverity::kError);
  CHECK(Contains(r.message, "/etc/fstab:5 (UUID=0a3407de-bbbb)"));
  CHECK(Contains(r.message, "/etc/fstab:17 (/srv/my swap)"));
  CHECK_FALSE(Contains(r.message, "/etc/fstab:13"));
  CHECK(r.detail["swap_lines"].size() == kFstabSwapLines.size());
  REQUIRE(r.detail["noauto"].size() == 1);
  CHECK(r.detail["noauto"][0]["line"] == 13);
  REQUIRE(r.fix);
  CHECK(r.fix->id == "fstab-swap");
  REQUIRE(r.fix->steps.size() == 1);
  const auto& step = r.fix->steps[0];
  REQUIRE(step.kind == FixStep::Kind::kEditFile);
  CHECK(step.edit.path == "/etc/fstab");
  CHECK(step.edit.after == ExpectedFixedFstab());

  // The plan's diff: one removed and one added line per swap area.
  auto change = StepChange(step);
  CHECK(change.kind == "edit");
  size_t minus = 0, plus = 0;
  for (size_t p = 0; (p = change.diff.find('\n', p)) != std::string::npos; ++p) {
    if (change.diff.compare(p + 1, 4, "--- ") == 0 || change.diff.compare(p + 1, 4, "+++ ") == 0) continue;
    if (change.diff.compare(p + 1, 1, "-") == 0) ++minus;
    if (change.diff.compare(p + 1, 1, "+") == 0) ++plus;
  }
  CHECK(minus == kFstabSwapLines.size());
  CHECK(plus == kFstabSwapLines.size());

  // The malformed line: its own finding, never touched.
  const auto& bad = *results[1];
  CHECK(bad.status == CheckStatus::kFail);
  CHECK(bad.severity == CheckSeverity::kWarning);
  CHECK(Contains(bad.message, "/etc/fstab:16: 2 fields"));
  CHECK_FALSE(bad.fix);

  REQUIRE(ApplyStep(node.ctx.host(), step).ok());
  CHECK(node.ctx.root().Read("/etc/fstab") == ExpectedFixedFstab());
  CHECK(node.ctx.root().Read("/etc/fstab.nodeagent.bak") == kFstab);

  auto again = node.Check();
  auto after = WithId(again, "SwapFstab");
  REQUIRE(after.size() == 2);
  CHECK(after[0]->status == CheckStatus::kPass);
  CHECK_FALSE(after[0]->fix);
  CHECK(after[1]->message == bad.message);  // still reported, still untouched
  CHECK_FALSE(after[1]->fix);
}

TEST_CASE("SwapFstab: LF file with a final newline keeps it", "[swap]") {
  Node node;
  node.Write("/etc/fstab", "UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n");
  auto rs = node.Check();
  const auto& r = First(rs, "SwapFstab");
  REQUIRE(r.fix);
  REQUIRE(ApplyStep(node.ctx.host(), r.fix->steps[0]).ok());
  CHECK(node.ctx.root().Read("/etc/fstab") ==
        "UUID=1 / ext4 defaults 0 1\n" + std::string(kFstabSwapOffMarker) + "/swapfile none swap sw 0 0\n");
}

TEST_CASE("SwapFstab: only noauto and commented swap lines pass, reported in detail", "[swap]") {
  Node node;
  node.Write("/etc/fstab", "/dev/sdb1 none swap noauto 0 0\n#/dev/sdc1 none swap sw 0 0\n");
  auto rs = node.Check();
  const auto& r = First(rs, "SwapFstab");
  CHECK(r.status == CheckStatus::kPass);
  CHECK(Contains(r.message, "noauto"));
  CHECK(r.detail["noauto"].size() == 1);
}

TEST_CASE("SwapFstab: a malformed line saying swap is as severe as swap, still untouched", "[swap]") {
  Node node;
  node.Write("/etc/fstab", "/dev/sdd1 none swap sw 0 zero\n");
  auto rs = node.Check();
  auto results = WithId(rs, "SwapFstab");
  REQUIRE(results.size() == 2);
  CHECK(results[0]->status == CheckStatus::kPass);
  CHECK(results[1]->severity == CheckSeverity::kError);
  CHECK(Contains(results[1]->message, "/etc/fstab:1: pass field \"zero\" is not a number"));
  CHECK_FALSE(results[1]->fix);
}

TEST_CASE("SwapFstab: an unreadable fstab is a finding, never rewritten", "[swap]") {
  Node node;
  fs::create_directories(node.ctx.root().Real("/etc/fstab"));  // a directory: read fails
  auto rs = node.Check();
  const auto& r = First(rs, "SwapFstab");
  CHECK(r.status == CheckStatus::kFail);
  CHECK(Contains(r.message, "cannot read /etc/fstab"));
  CHECK_FALSE(r.fix);
}

TEST_CASE("SwapUnits: installed, enabled, generated, masked and runtime units", "[swap]") {
  Node node;
  // Installed in /etc and enabled: mask would refuse, disable it.
  node.Write("/etc/systemd/system/swapfile.swap", "[Swap]\nWhat=/swapfile\n[Install]\nWantedBy=swap.target\n");
  node.Link("/etc/systemd/system/swap.target.wants/swapfile.swap", "/etc/systemd/system/swapfile.swap");
  // Vendor unit enabled by a link in /etc: mask.
  node.Write("/usr/lib/systemd/system/dev-vdb.swap", "[Swap]\nWhat=/dev/vdb\n");
  node.Link("/etc/systemd/system/swap.target.wants/dev-vdb.swap", "/usr/lib/systemd/system/dev-vdb.swap");
  // Generated from fstab, required by swap.target, active now.
  node.Write("/run/systemd/generator/dev-sda2.swap", "[Swap]\nWhat=/dev/sda2\n");
  node.Link("/run/systemd/generator/swap.target.requires/dev-sda2.swap", "../dev-sda2.swap");
  node.unit_file_states["dev-sda2.swap"] = "generated";
  node.active["dev-sda2.swap"] = "active";
  // Masked: off even though a link wants it.
  node.Write("/usr/lib/systemd/system/old.swap", "[Swap]\nWhat=/dev/old\n");
  node.Link("/usr/lib/systemd/system/swap.target.wants/old.swap", "../old.swap");
  node.Link("/etc/systemd/system/old.swap", "/dev/null");
  // Installed but not enabled, not active: fine.
  node.Write("/usr/lib/systemd/system/spare.swap", "[Swap]\nWhat=/dev/spare\n");
  // Runtime alias of an active device: no file, the swapoff fix's job.
  node.active["dev-disk-by\\x2duuid-1c2d.swap"] = "active";
  // Enabled according to systemctl only.
  node.unit_file_states["other.swap"] = "enabled";

  auto rs = node.Check();
  auto results = WithId(rs, "SwapUnits");
  REQUIRE(results.size() == 1);
  const auto& r = *results[0];
  CHECK(r.status == CheckStatus::kFail);
  CHECK(r.severity == CheckSeverity::kError);
  REQUIRE(r.fix);
  CHECK(r.fix->id == "swap-units");
  CHECK(Commands(r) == std::vector<std::string>{"systemctl mask --now dev-sda2.swap",
                                                "systemctl mask --now dev-vdb.swap", "systemctl mask --now other.swap",
                                                "systemctl disable --now swapfile.swap"});
  CHECK(Contains(r.message,
                 "dev-sda2.swap (wanted by /run/systemd/generator/swap.target.requires/dev-sda2.swap, active)"));
  CHECK_FALSE(Contains(r.message, "old.swap"));
  CHECK_FALSE(Contains(r.message, "spare.swap"));
  REQUIRE(r.detail["without_unit_file"].size() == 1);
  CHECK(r.detail["without_unit_file"][0]["unit"] == "dev-disk-by\\x2duuid-1c2d.swap");

  node.ApplyAll(rs);
  node.active.erase("dev-disk-by\\x2duuid-1c2d.swap");  // its device went with swapoff
  node.unit_file_states["other.swap"] = "masked";
  auto again = node.Check();
  RequireAllPassWithoutFix(again);
  CHECK(fs::read_symlink(node.ctx.root().Real("/etc/systemd/system/dev-vdb.swap")) == "/dev/null");
  CHECK_FALSE(
      fs::exists(fs::symlink_status(node.ctx.root().Real("/etc/systemd/system/swap.target.wants/swapfile.swap"))));
}

TEST_CASE("SwapUnits: systemctl missing or failing is a finding; the files are still read", "[swap]") {
  Node node;
  node.Write("/usr/lib/systemd/system/dev-vdb.swap", "[Swap]\nWhat=/dev/vdb\n");
  node.Link("/etc/systemd/system/swap.target.wants/dev-vdb.swap", "/usr/lib/systemd/system/dev-vdb.swap");
  SECTION("not found") {
    node.ctx.commands().AnswerWith({"systemctl", "list-unit-files"}, [](const CommandSpec&) -> Result<CommandResult> {
      return NotFound("systemctl: no such file");
    });
    node.ctx.commands().AnswerWith({"systemctl", "list-units"}, [](const CommandSpec&) -> Result<CommandResult> {
      return NotFound("systemctl: no such file");
    });
    auto rs = node.Check();
    auto results = WithId(rs, "SwapUnits");
    REQUIRE(results.size() == 2);
    CHECK(Commands(*results[0]) == std::vector<std::string>{"systemctl mask --now dev-vdb.swap"});
    CHECK(results[1]->severity == CheckSeverity::kWarning);
    CHECK(Contains(results[1]->message,
                   "systemctl list-unit-files --type swap --no-legend --no-pager: systemctl: no such file"));
    CHECK_FALSE(results[1]->fix);
  }
  SECTION("not booted with systemd") {
    node.ctx.commands().Answer({"systemctl", "list-units"},
                               Exit(1, "",
                                    "System has not been booted with systemd as init system (PID 1). Can't operate.\n"
                                    "Failed to connect to bus: Host is down\n"));
    auto rs = node.Check();
    auto results = WithId(rs, "SwapUnits");
    REQUIRE(results.size() == 2);
    CHECK(results[0]->fix);
    CHECK(Contains(results[1]->message,
                   "systemctl list-units --type swap --all --no-legend --no-pager --plain exited 1: "
                   "Failed to connect to bus: Host is down"));
  }
}

TEST_CASE("SwapUnits: list-unit-files exiting 1 silently (nothing matched, systemd 252) is an empty list", "[swap]") {
  Node node;
  node.ctx.commands().Answer({"systemctl", "list-unit-files"}, Exit(1));
  auto rs = node.Check();
  auto results = WithId(rs, "SwapUnits");
  REQUIRE(results.size() == 1);
  CHECK(results[0]->status == CheckStatus::kPass);
  SECTION("exit 1 with a message is a problem") {
    node.ctx.commands().Answer({"systemctl", "list-unit-files"},
                               Exit(1, "", "Failed to list unit files: Access denied\n"));
    auto again = node.Check();
    auto r2 = WithId(again, "SwapUnits");
    REQUIRE(r2.size() == 2);
    CHECK(Contains(r2[1]->message, "exited 1: Failed to list unit files: Access denied"));
  }
}

TEST_CASE("SwapUnits and SwapZram: unreadable directories and files are findings naming them", "[swap]") {
  Node node;
  node.Write("/etc/systemd/system", "not a directory\n");  // ListDir fails
  node.Write(kGeneratorPath, "#!binary\n");
  fs::create_directories(node.ctx.root().Real("/etc/systemd/zram-generator.conf"));  // read fails
  auto rs = node.Check();
  auto units = WithId(rs, "SwapUnits");
  REQUIRE(units.size() == 2);
  CHECK(units[0]->status == CheckStatus::kPass);
  CHECK(Contains(units[1]->message, "cannot list /etc/systemd/system"));
  auto zram = WithId(rs, "SwapZram");
  REQUIRE(zram.size() == 2);
  CHECK(Contains(zram[1]->message, "cannot read /etc/systemd/zram-generator.conf"));
  CHECK_FALSE(zram[1]->fix);
  CHECK(WithId(rs, "Swap").size() == 1);  // the other checks ran
}

TEST_CASE("list-units text: failed units with a dot, and descriptions with spaces", "[swap]") {
  auto units = ParseListUnits(
      "\xe2\x97\x8f broken.swap not-found inactive dead broken.swap\n"
      "dev-sda2.swap loaded active active /dev/sda2 swap space\n");
  REQUIRE(units.size() == 2);
  CHECK(units[0].name == "broken.swap");
  CHECK(units[0].load == "not-found");
  CHECK(units[1].active == "active");
  auto files = ParseListUnitFiles("dev-sda2.swap generated -\nswapfile.swap enabled enabled\n");
  REQUIRE(files.size() == 2);
  CHECK(files[1] == std::pair<std::string, std::string>{"swapfile.swap", "enabled"});
}

TEST_CASE("SwapZram: zram-generator's vendor [zram0] turned off by our drop-in", "[swap]") {
  Node node;
  node.Write(kGeneratorPath, "#!binary\n");
  node.Write("/usr/lib/systemd/zram-generator.conf", "# Fedora default\n[zram0]\nzram-size = min(ram, 8192)\n");
  node.Write("/usr/lib/systemd/zram-generator.conf.d/10-extra.conf",
             "[zram1]\nzram-size = ram / 4\n[zram2]\nmount-point = /var/compressed\n");
  auto rs = node.Check();
  const auto& r = First(rs, "SwapZram");
  CHECK(r.status == CheckStatus::kFail);
  CHECK(r.severity == CheckSeverity::kError);
  CHECK(Contains(r.message, "zram0 (zram-generator, from /usr/lib/systemd/zram-generator.conf)"));
  CHECK(Contains(r.message, "zram1"));
  CHECK_FALSE(Contains(r.message, "zram2"));  // a file system, not swap
  REQUIRE(r.fix);
  CHECK(r.fix->id == "zram");
  REQUIRE(r.fix->steps.size() == 1);
  CHECK(r.fix->steps[0].edit.path == kZramNoSwapDropIn);
  CHECK_FALSE(r.fix->steps[0].edit.before);
  CHECK(Contains(r.fix->steps[0].edit.after, "[zram0]\nhost-memory-limit = 0\n"));
  CHECK(Contains(r.fix->steps[0].edit.after, "[zram1]\nhost-memory-limit = 0\n"));
  CHECK_FALSE(Contains(r.fix->steps[0].edit.after, "zram2"));
  node.ApplyAll(rs);
  RequireAllPassWithoutFix(node.Check());
  // The vendor files are untouched.
  CHECK(node.ctx.root().Read("/usr/lib/systemd/zram-generator.conf") ==
        "# Fedora default\n[zram0]\nzram-size = min(ram, 8192)\n");

  SECTION("a later drop-in turns it on again: reported, no fix on a guess") {
    node.Write("/etc/systemd/zram-generator.conf.d/zzz-late.conf", "[zram0]\nhost-memory-limit = none\n");
    auto again = node.Check();
    auto results = WithId(again, "SwapZram");
    REQUIRE(results.size() == 2);
    CHECK(results[0]->status == CheckStatus::kFail);
    CHECK_FALSE(results[0]->fix);
    CHECK(Contains(results[1]->message, "a later configuration file turns it on again"));
  }
  SECTION("a new device later: the drop-in keeps the old one off too") {
    node.Write("/etc/systemd/zram-generator.conf.d/20-more.conf", "[zram3]\n");
    auto again = node.Check();
    const auto& r2 = First(again, "SwapZram");
    REQUIRE(r2.fix);
    const auto& after = r2.fix->steps[0].edit.after;
    CHECK(Contains(after, "[zram0]"));
    CHECK(Contains(after, "[zram1]"));
    CHECK(Contains(after, "[zram3]"));
  }
}

TEST_CASE("SwapZram: configurations that create no zram swap", "[swap]") {
  Node node;
  node.Write(kGeneratorPath, "#!binary\n");
  node.Write("/usr/lib/systemd/zram-generator.conf", "[zram0]\n");
  SECTION("an empty /etc file replaces the vendor one") { node.Write("/etc/systemd/zram-generator.conf", ""); }
  SECTION("a /dev/null link in /etc replaces it") { node.Link("/etc/systemd/zram-generator.conf", "/dev/null"); }
  SECTION("size 0") { node.Write("/etc/systemd/zram-generator.conf.d/50-off.conf", "[zram0]\nzram-size = 0\n"); }
  SECTION("host-memory-limit below MemTotal") {
    node.Write("/proc/meminfo", "MemTotal:        8126464 kB\nMemFree: 1 kB\n");
    node.Write("/etc/systemd/zram-generator.conf.d/50-limit.conf", "[zram0]\nhost-memory-limit = 2048\n");
  }
  SECTION("kernel command line systemd.zram=0") {
    node.Write("/proc/cmdline", "BOOT_IMAGE=/vmlinuz ro systemd.zram=0\n");
  }
  SECTION("generator not installed") { fs::remove(node.ctx.root().Real(kGeneratorPath)); }
  SECTION("generator masked") { node.Link("/etc/systemd/system-generators/zram-generator", "/dev/null"); }
  SECTION("mount point only") { node.Write("/etc/systemd/zram-generator.conf", "[zram0]\nmount-point = /tmp\n"); }
  SECTION("section that is not a device") {
    node.Write("/etc/systemd/zram-generator.conf", "[swap]\nzram-size = ram\n");
  }
  auto rs = node.Check();
  auto results = WithId(rs, "SwapZram");
  REQUIRE(results.size() == 1);  // no problem reading either
  INFO(results[0]->message);
  CHECK(results[0]->status == CheckStatus::kPass);
  CHECK_FALSE(results[0]->fix);
}

TEST_CASE("SwapZram: a vendor drop-in masked by /etc, a host-memory-limit above MemTotal", "[swap]") {
  Node node;
  node.Write(kGeneratorPath, "#!binary\n");
  node.Write("/usr/lib/systemd/zram-generator.conf.d/00-default.conf", "[zram0]\nzram-size = ram / 2\n");
  node.Link("/etc/systemd/zram-generator.conf.d/00-default.conf", "/dev/null");
  node.Write("/proc/meminfo", "MemTotal:        1000000 kB\n");
  node.Write("/run/systemd/zram-generator.conf", "[zram4]\nhost-memory-limit = 4096\n; comment\nbogus line\n");
  auto rs = node.Check();
  auto results = WithId(rs, "SwapZram");
  REQUIRE(results.size() == 2);
  CHECK(Contains(results[0]->message, "zram4"));
  CHECK_FALSE(Contains(results[0]->message, "zram0"));
  CHECK(results[1]->severity == CheckSeverity::kWarning);
  CHECK(Contains(results[1]->message, "/run/systemd/zram-generator.conf:4: expected key = value"));
}

TEST_CASE("SwapZram: kernel systemd.zram turns zram0 on with defaults", "[swap]") {
  Node node;
  node.Write(kGeneratorPath, "#!binary\n");
  node.Write("/proc/cmdline", "ro quiet systemd.zram\n");
  auto rs = node.Check();
  const auto& r = First(rs, "SwapZram");
  CHECK(Contains(r.message, "zram0 (zram-generator, from /proc/cmdline)"));
  node.ApplyAll(rs);
  RequireAllPassWithoutFix(node.Check());
}

TEST_CASE("SwapZram: zram-tools enabled is disabled; masked or not enabled passes", "[swap]") {
  Node node;
  node.Write("/etc/default/zramswap", "ALGO=zstd\nPERCENT=50\n");
  node.Write("/lib/systemd/system/zramswap.service", "[Service]\nExecStart=/usr/sbin/zramswap start\n");
  node.Link("/etc/systemd/system/multi-user.target.wants/zramswap.service", "/lib/systemd/system/zramswap.service");
  auto rs = node.Check();
  const auto& r = First(rs, "SwapZram");
  CHECK(r.status == CheckStatus::kFail);
  CHECK(Contains(
      r.message,
      "zramswap.service (zram-tools, wanted by /etc/systemd/system/multi-user.target.wants/zramswap.service)"));
  CHECK(Commands(r) == std::vector<std::string>{"systemctl disable zramswap.service"});
  CHECK(r.detail["zram_tools"]["config"] == true);
  node.ApplyAll(rs);
  RequireAllPassWithoutFix(node.Check());
}

TEST_CASE("CheckSwap: every source at once, all fixes applied in order, then a clean second plan", "[swap]") {
  Node node;
  node.AddSwap("/dev/sda2");
  node.AddSwap("/dev/zram0");
  node.AddSwap("/swapfile", "file");
  node.Write("/etc/fstab", kFstab);
  node.Write("/run/systemd/generator/dev-sda2.swap", "[Swap]\nWhat=/dev/sda2\n");
  node.Link("/run/systemd/generator/swap.target.requires/dev-sda2.swap", "../dev-sda2.swap");
  node.unit_file_states["dev-sda2.swap"] = "generated";
  node.active["dev-sda2.swap"] = "active";
  node.active["dev-zram0.swap"] = "active";
  node.Write("/run/systemd/generator/dev-zram0.swap", "[Swap]\nWhat=/dev/zram0\n");
  node.Link("/run/systemd/generator/swap.target.wants/dev-zram0.swap", "../dev-zram0.swap");
  node.Write(kGeneratorPath, "#!binary\n");
  node.Write("/usr/lib/systemd/zram-generator.conf", "[zram0]\n");

  auto rs = node.Check();
  std::set<std::string> fixes;
  for (const auto& r : rs)
    if (r.fix) fixes.insert(r.fix->id);
  CHECK(fixes == std::set<std::string>{"swapoff", "fstab-swap", "swap-units", "zram"});
  node.ApplyAll(rs);

  auto again = node.Check();
  for (const auto& r : again) {
    INFO(r.id << ": " << r.message);
    CHECK_FALSE(r.fix);
    if (r.status != CheckStatus::kPass) CHECK(Contains(r.message, "/etc/fstab:16"));  // the malformed line only
  }
  // Every command that changed something, in order.
  std::vector<std::string> changes;
  for (const auto& l : node.ctx.commands().call_lines())
    if (!Contains(l, "systemctl list-")) changes.push_back(l);
  CHECK(changes == std::vector<std::string>{"swapoff /dev/sda2", "swapoff /dev/zram0", "swapoff /swapfile",
                                            "systemctl mask --now dev-sda2.swap",
                                            "systemctl mask --now dev-zram0.swap"});
}

}  // namespace
}  // namespace nodeagent::join_prep
