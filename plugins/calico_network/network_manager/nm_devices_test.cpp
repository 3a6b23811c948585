#include "network_manager/nm_devices.h"

#include <catch2/catch.hpp>

#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "host/local_host.h"
#include "network_manager/nm_config.h"

namespace nodeagent::calico {
namespace {

using std::chrono::milliseconds;

CommandResult Output(std::string out, int exit_code = 0, std::string err = "") {
  CommandResult r;
  r.exit_code = exit_code;
  r.stdout_data = std::move(out);
  r.stderr_data = std::move(err);
  return r;
}

const std::vector<std::string> kDeviceArgv = {"nmcli", "-t", "-f", "DEVICE,TYPE,STATE", "device"};
const std::vector<std::string> kGeneralArgv = {"nmcli", "-t", "-f", "RUNNING,VERSION", "general"};

// `LC_ALL=C nmcli -t -f DEVICE,TYPE,STATE device` of NetworkManager 1.42.4
// in the booted container of tests/system/calico_nm.sh, before the fix
// (docker0 made unmanaged by an earlier conf.d file). Without udev,
// NetworkManager calls veths "ethernet" and runs DHCP on them; tunl0 has an
// address and is taken as it is (externally).
constexpr const char* kBefore =
    "lo:loopback:connected (externally)\n"
    "tunl0:tun:connected (externally)\n"
    "cali1234abcd:ethernet:connecting (getting IP configuration)\n"
    "peer-c0:ethernet:connecting (getting IP configuration)\n"
    "vxlan.calico:ethernet:connecting (getting IP configuration)\n"
    "docker0:bridge:unmanaged\n";

struct FakeNode {
  TempRoot root;
  LocalFileSystem files{root.path()};
  FakeCommandRunner commands;
  FakeClock clock;
  LocalHost host{files, commands, clock};
  std::vector<CommandSpec> specs;  // every nmcli call, with its env and flags

  void Devices(std::string terse) {
    commands.AnswerWith(kDeviceArgv, [this, terse](const CommandSpec& s) -> Result<CommandResult> {
      specs.push_back(s);
      return Output(terse);
    });
  }
};

TEST_CASE("nm devices: parses nmcli's terse rows, escaped ':' and '\\' included", "[nm][devices]") {
  auto d = ParseNmcliDevices(kBefore);
  REQUIRE(d);
  REQUIRE(d->size() == 6);
  CHECK((*d)[1] == NmDevice{"tunl0", "tun", "connected (externally)"});
  CHECK((*d)[4] == NmDevice{"vxlan.calico", "ethernet", "connecting (getting IP configuration)"});
  CHECK((*d)[5] == NmDevice{"docker0", "bridge", "unmanaged"});

  auto esc = ParseNmcliDevices("eth0\\:1:ethernet:unmanaged\nback\\\\slash:veth:connected\r\n\n");
  REQUIRE(esc);
  REQUIRE(esc->size() == 2);
  CHECK((*esc)[0] == NmDevice{"eth0:1", "ethernet", "unmanaged"});
  CHECK((*esc)[1] == NmDevice{"back\\slash", "veth", "connected"});

  CHECK(ParseNmcliDevices("")->empty());
  CHECK(ParseNmcliDevices("\n\n")->empty());
}

TEST_CASE("nm devices: a row without three fields is refused, naming the line", "[nm][devices]") {
  auto two = ParseNmcliDevices("lo:loopback:unmanaged\neth0:ethernet\n");
  REQUIRE_FALSE(two);
  CHECK(two.error().code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(two.error().message(), Catch::Contains("line 2") && Catch::Contains("got 2"));
  // An unescaped colon in a name (nmcli --escape no) is four fields, not a guess.
  auto four = ParseNmcliDevices("eth0:1:ethernet:unmanaged\n");
  REQUIRE_FALSE(four);
  CHECK_THAT(four.error().message(), Catch::Contains("got 4"));
}

TEST_CASE("nm devices: more rows than kMaxNmDevices is TooLarge", "[nm][devices]") {
  std::string many;
  for (size_t i = 0; i <= kMaxNmDevices; ++i) many += "cali" + std::to_string(i) + ":veth:unmanaged\n";
  auto d = ParseNmcliDevices(many);
  REQUIRE_FALSE(d);
  CHECK(d.error().code() == ErrorCode::kTooLarge);
}

TEST_CASE("nm devices: probe says running with the version, read-only, LC_ALL=C", "[nm][devices]") {
  FakeNode n;
  CommandSpec seen;
  n.commands.AnswerWith(kGeneralArgv, [&](const CommandSpec& s) -> Result<CommandResult> {
    seen = s;
    return Output("running:1.42.4\n");
  });
  auto st = ProbeNetworkManager(n.host);
  CHECK(st.installed);
  CHECK(st.running);
  CHECK(st.version == "1.42.4");
  CHECK(st.why.empty());
  CHECK(seen.read_only);
  CHECK(seen.env.at("LC_ALL") == "C");
  CHECK(seen.timeout == kNmcliTimeout);
}

TEST_CASE("nm devices: probe without nmcli says not installed", "[nm][devices]") {
  FakeNode n;  // nothing scripted: the fake runner answers NotFound, as the real one does
  auto st = ProbeNetworkManager(n.host);
  CHECK_FALSE(st.installed);
  CHECK_FALSE(st.running);
  CHECK_THAT(st.why, Catch::Contains("not installed"));
}

TEST_CASE("nm devices: probe with the daemon stopped says not running, quoting nmcli", "[nm][devices]") {
  FakeNode n;
  n.commands.Answer(kGeneralArgv, Output("", 8, "Error: NetworkManager is not running.\n"));
  auto st = ProbeNetworkManager(n.host);
  CHECK(st.installed);
  CHECK_FALSE(st.running);
  CHECK_THAT(st.why, Catch::Contains("exit 8") && Catch::Contains("NetworkManager is not running"));

  FakeNode starting;
  starting.commands.Answer(kGeneralArgv, Output("starting:1.42.4\n"));
  auto s2 = ProbeNetworkManager(starting.host);
  CHECK(s2.installed);
  CHECK_FALSE(s2.running);
  CHECK_THAT(s2.why, Catch::Contains("RUNNING=starting"));

  FakeNode timed_out;
  CommandResult r = Output("");
  r.timed_out = true;
  timed_out.commands.Answer(kGeneralArgv, r);
  auto s3 = ProbeNetworkManager(timed_out.host);
  CHECK(s3.installed);
  CHECK_FALSE(s3.running);
  CHECK_THAT(s3.why, Catch::Contains("timed out"));
}

TEST_CASE("nm devices: ReadNmDevices runs nmcli read-only and reports its failure", "[nm][devices]") {
  FakeNode n;
  n.Devices(kBefore);
  auto d = ReadNmDevices(n.host);
  REQUIRE(d);
  CHECK(d->size() == 6);
  REQUIRE(n.specs.size() == 1);
  CHECK(n.specs[0].read_only);
  CHECK(n.specs[0].env.at("LC_ALL") == "C");

  FakeNode down;
  down.commands.Answer(kDeviceArgv, Output("", 8, "Error: NetworkManager is not running.\n"));
  auto e = ReadNmDevices(down.host);
  REQUIRE_FALSE(e);
  CHECK(e.error().code() == ErrorCode::kUnavailable);
  CHECK_THAT(e.error().message(), Catch::Contains("not running"));

  FakeNode cut;
  CommandResult big = Output(kBefore);
  big.output_truncated = true;
  cut.commands.Answer(kDeviceArgv, big);
  CHECK(ReadNmDevices(cut.host).error().code() == ErrorCode::kTooLarge);
}

TEST_CASE("nm devices: the reload is nmcli general reload conf, not read-only", "[nm][devices]") {
  CHECK(ReloadCommand() == std::vector<std::string>{"nmcli", "general", "reload", "conf"});
  FakeNode n;
  CommandSpec seen;
  n.commands.AnswerWith({"nmcli", "general", "reload"}, [&](const CommandSpec& s) -> Result<CommandResult> {
    seen = s;
    return Output("");
  });
  REQUIRE(ReloadNetworkManager(n.host));
  CHECK(seen.argv == ReloadCommand());
  CHECK_FALSE(seen.read_only);

  FakeNode denied;
  denied.commands.Answer({"nmcli", "general", "reload"},
                         Output("", 1, "Error: failed to reload: Not authorized to reload configuration\n"));
  auto st = ReloadNetworkManager(denied.host);
  REQUIRE_FALSE(st);
  CHECK_THAT(st.error().message(), Catch::Contains("Not authorized"));
}

TEST_CASE("nm devices: ManagedCalicoDevices lists present Calico devices NetworkManager still manages",
          "[nm][devices]") {
  auto before = ParseNmcliDevices(kBefore);
  REQUIRE(before);
  auto managed = ManagedCalicoDevices(*before, DefaultCalicoSpecs());
  REQUIRE(managed.size() == 3);
  CHECK(managed[0].device == "tunl0");
  CHECK(managed[1].device == "cali1234abcd");
  CHECK(managed[2].device == "vxlan.calico");
  // docker0 is not Calico's; lo and peer-c0 are managed but not Calico's.
  CHECK(ManagedCalicoDevices(*before, {"interface-name:docker0"}).empty());
  // A spec that is `except:`-ed does not count.
  CHECK(ManagedCalicoDevices(*before, {"interface-name:cali*", "except:interface-name:cali1234abcd"}).empty());
}

TEST_CASE("nm devices: devices NetworkManager configures itself are the ones it takes down", "[nm][devices]") {
  auto before = ParseNmcliDevices(kBefore);
  REQUIRE(before);
  auto down = DevicesTakenDownByUnmanage(*before, DefaultCalicoSpecs());
  REQUIRE(down.size() == 2);  // not tunl0: connected (externally) is left as it is
  CHECK(down[0].device == "cali1234abcd");
  CHECK(down[1].device == "vxlan.calico");
  CHECK(DevicesTakenDownByUnmanage({{"cali0", "ethernet", "disconnected"}}, DefaultCalicoSpecs()).size() == 1);
  CHECK(DevicesTakenDownByUnmanage({{"cali0", "ethernet", "unmanaged"}}, DefaultCalicoSpecs()).empty());
}

TEST_CASE("nm devices: WaitUnmanaged polls until every Calico device is unmanaged", "[nm][devices]") {
  FakeNode n;
  int calls = 0;
  n.commands.AnswerWith(kDeviceArgv, [&](const CommandSpec&) -> Result<CommandResult> {
    ++calls;
    // NetworkManager takes the devices one by one after the reload.
    if (calls == 1) return Output(kBefore);
    if (calls == 2) return Output("cali1234abcd:veth:unmanaged\ntunl0:tun:connected (externally)\n");
    return Output("cali1234abcd:veth:unmanaged\ntunl0:tun:unmanaged\ndocker0:bridge:unmanaged\n");
  });
  auto w = WaitUnmanaged(n.host, DefaultCalicoSpecs(), milliseconds(5000), milliseconds(200));
  REQUIRE(w);
  CHECK(w->still_managed.empty());
  CHECK(calls == 3);
  CHECK(w->waited == milliseconds(400));
  CHECK(w->devices.size() == 3);
}

TEST_CASE("nm devices: WaitUnmanaged gives up at the timeout and names what is still managed", "[nm][devices]") {
  FakeNode n;
  n.Devices(kBefore);
  auto w = WaitUnmanaged(n.host, DefaultCalicoSpecs(), milliseconds(1000), milliseconds(300));
  REQUIRE(w);
  REQUIRE(w->still_managed.size() == 3);
  CHECK(w->still_managed[0].device == "tunl0");
  CHECK(w->waited == milliseconds(1000));  // 300, 600, 900, then the last 100
  CHECK(n.specs.size() == 5);

  FakeNode none;
  none.Devices("lo:loopback:unmanaged\n");
  auto w2 = WaitUnmanaged(none.host, DefaultCalicoSpecs(), milliseconds(1000));
  REQUIRE(w2);
  CHECK(w2->still_managed.empty());
  CHECK(none.specs.size() == 1);  // nothing to wait for: one look
}

TEST_CASE("nm devices: WaitUnmanaged passes on an nmcli that cannot be read", "[nm][devices]") {
  FakeNode n;
  n.commands.Answer(kDeviceArgv, Output("", 8, "Error: NetworkManager is not running.\n"));
  auto w = WaitUnmanaged(n.host, DefaultCalicoSpecs(), milliseconds(1000));
  REQUIRE_FALSE(w);
  CHECK(w.error().code() == ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace nodeagent::calico
