#include "boot_identity.h"

#include <catch2/catch.hpp>

#include "testing/fake_action_context.h"

using namespace nodeagent;
using namespace nodeagent::drain;
using json = nlohmann::json;

namespace {

std::string Stat(const std::string& comm, const std::string& start) {
  // fields 3..21, then starttime (22), then a few more
  return "1 (" + comm + ") S 0 1 1 0 -1 4194560 52341 4569034 115 1833 113 290 30931 8770 20 0 1 0 " + start +
         " 171544576 3034 18446744073709551615 1 1 0 0 0 0 671173123 4096 1260 0 0 0 17 1 0 0 0 0 0\n";
}

json Node(const std::string& ready, const std::string& since, const std::string& boot_id) {
  json n = {{"metadata", {{"name", "n1"}}},
            {"status", {{"conditions", json::array({{{"type", "MemoryPressure"}, {"status", "False"}}})}}}};
  if (!ready.empty())
    n["status"]["conditions"].push_back({{"type", "Ready"}, {"status", ready}, {"lastTransitionTime", since}});
  if (!boot_id.empty()) n["status"]["nodeInfo"]["bootID"] = boot_id;
  return n;
}

}  // namespace

TEST_CASE("StartTimeFromStat reads field 22, whatever the command name holds", "[boot_identity]") {
  CHECK(StartTimeFromStat(Stat("systemd", "4711")) == "4711");
  CHECK(StartTimeFromStat(Stat("a b) c (d", "12")) == "12");
  CHECK(StartTimeFromStat("1 (init) S 0 1") == std::nullopt);
  CHECK(StartTimeFromStat("no parenthesis at all") == std::nullopt);
  CHECK(StartTimeFromStat(Stat("init", "12x")) == std::nullopt);
}

TEST_CASE("ReadBootIdentity: boot id required, PID 1 start time optional", "[boot_identity]") {
  FakeActionContext ctx;
  CHECK_FALSE(ReadBootIdentity(ctx.host()));
  ctx.root().Write("/proc/sys/kernel/random/boot_id", "boot-a\n");
  auto id = ReadBootIdentity(ctx.host());
  REQUIRE(id);
  CHECK(id->kernel_boot_id == "boot-a");
  CHECK(id->pid1_start.empty());
  ctx.root().Write("/proc/1/stat", Stat("systemd", "987"));
  id = ReadBootIdentity(ctx.host());
  REQUIRE(id);
  CHECK(id->pid1_start == "987");
}

TEST_CASE("BootChange: either the kernel boot id or PID 1's start time changing is a reboot", "[boot_identity]") {
  struct Case {
    BootIdentity before, now;
    std::string expect_prefix;  // "" = no reboot
  } cases[] = {
      {{"a", "100"}, {"a", "100"}, ""},
      {{"a", "100"}, {"b", "100"}, "kernel boot id a -> b"},  // a real node
      {{"a", "100"}, {"b", "5"}, "kernel boot id a -> b"},
      {{"host", "100"}, {"host", "9000"}, "PID 1 start time 100 -> 9000"},  // nspawn, boot_id overmount hidden
      {{"a", ""}, {"a", "9000"}, ""},   // unknown before: not compared
      {{"a", "100"}, {"a", ""}, ""},    // unreadable now: not compared
      {{"", ""}, {"b", "1"}, ""},       // no boot id recorded (a drain without reboot)
  };
  for (const auto& c : cases) {
    INFO(c.before.kernel_boot_id << "/" << c.before.pid1_start << " -> " << c.now.kernel_boot_id << "/"
                                 << c.now.pid1_start);
    std::string why = BootChange(c.before, c.now);
    if (c.expect_prefix.empty()) CHECK(why.empty());
    else CHECK(why.rfind(c.expect_prefix, 0) == 0);
  }
}

TEST_CASE("NodeBackReason: Ready plus a new bootID, this boot's id, or a Ready transition", "[boot_identity]") {
  NodeBootRecord before = RecordNodeBoot(Node("True", "t0", "k1"));
  REQUIRE(before.recorded);
  CHECK(before.boot_id == "k1");
  CHECK(before.ready_transition == "t0");
  NodeBootRecord no_boot_id = RecordNodeBoot(Node("True", "t0", ""));
  NodeBootRecord old_checkpoint;  // recorded = false

  struct Case {
    const char* what;
    json node;
    const NodeBootRecord* before;
    std::string local;
    bool back;
  } cases[] = {
      {"new bootID, Ready", Node("True", "t0", "k2"), &before, "host", true},
      {"new bootID, not Ready yet", Node("False", "t1", "k2"), &before, "host", false},
      {"new bootID, Ready Unknown", Node("Unknown", "t1", "k2"), &before, "host", false},
      {"no Ready condition", Node("", "", "k2"), &before, "host", false},
      {"old bootID, old Ready (the node controller has not noticed)", Node("True", "t0", "k1"), &before, "k1", false},
      {"old bootID, Ready again since the reboot (kubelet cannot see the container's boot)",
       Node("True", "t2", "k1"), &before, "host", true},
      {"kubelet reports no bootID, Ready again", Node("True", "t2", ""), &no_boot_id, "host", true},
      {"kubelet reports no bootID, old Ready", Node("True", "t0", ""), &no_boot_id, "host", false},
      {"kubelet starts reporting a bootID", Node("True", "t0", "k9"), &no_boot_id, "host", true},
      {"old checkpoint: bootID equals this boot's", Node("True", "t0", "local-2"), &old_checkpoint, "local-2", true},
      {"old checkpoint: bootID is another", Node("True", "t2", "k1"), &old_checkpoint, "local-2", false},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    CHECK(NodeBackReason(c.node, *c.before, c.local).empty() == !c.back);
  }
}
