// nm_config.h says what NetworkManager's files ask for; this unit asks the
// running NetworkManager what it does. Through nmcli (the host seam's command
// runner, LC_ALL=C, bounded): is NetworkManager installed and running, which
// devices does it know and in which state, the reload that makes it take a
// changed `[keyfile] unmanaged-devices`, and the wait until every present
// Calico interface is `unmanaged` after that reload. A node without
// NetworkManager is fine: the probe says so and nothing else runs.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "nodeagent/host.h"
#include "nodeagent/result.h"

namespace nodeagent::calico {

/// Bounds on nmcli: how long one call may take, how many devices are parsed.
inline constexpr std::chrono::milliseconds kNmcliTimeout{std::chrono::seconds(15)};
inline constexpr size_t kMaxNmDevices = 4096;

/// Whether NetworkManager is there to be configured.
struct NmState {
  bool installed = false;  ///< nmcli found
  bool running = false;    ///< the daemon answers on D-Bus
  std::string version;     ///< of the daemon ("1.42.4"), when running
  std::string why;         ///< when not running: what nmcli (or the runner) said
};

/// Runs `nmcli -t -f RUNNING,VERSION general` (read-only). nmcli missing:
/// not installed. A non-zero exit (nmcli's "Error: NetworkManager is not
/// running.", exit 8) or a RUNNING other than "running": installed, not
/// running, `why` quoting nmcli. Never an error: a node without
/// NetworkManager has nothing to fix.
NmState ProbeNetworkManager(Host& host);

/// One row of `nmcli -t -f DEVICE,TYPE,STATE device`.
struct NmDevice {
  std::string device;  ///< the interface name
  std::string type;    ///< "ethernet" (a veth too, without udev), "tun", "bridge", "loopback", ...
  std::string state;   ///< "unmanaged", "connected (externally)", ... (LC_ALL=C)

  bool operator==(const NmDevice&) const = default;
};

/// Parses nmcli's terse rows: three fields split on ':' not escaped, `\:`
/// and `\\` unescaped (nmcli --escape yes, its default). Blank lines are
/// skipped. InvalidArgument naming the line for a row without three
/// fields; TooLarge over kMaxNmDevices rows.
Result<std::vector<NmDevice>> ParseNmcliDevices(std::string_view terse);

/// Runs `nmcli -t -f DEVICE,TYPE,STATE device` (read-only) and parses it.
/// Unavailable when nmcli fails (its stderr quoted), or the runner's error.
Result<std::vector<NmDevice>> ReadNmDevices(Host& host);

/// The argv that makes NetworkManager take a changed `[keyfile]
/// unmanaged-devices`: `nmcli general reload conf`, no restart.
std::vector<std::string> ReloadCommand();

/// Runs ReloadCommand() (not read-only: it changes NetworkManager's state).
/// Unavailable with nmcli's stderr when it fails.
Status ReloadNetworkManager(Host& host);

/// The devices present that match `specs` (MatchDeviceSpecs of nm_config.h)
/// but whose state is not "unmanaged", in nmcli's order.
std::vector<NmDevice> ManagedCalicoDevices(const std::vector<NmDevice>& devices,
                                           const std::vector<std::string>& specs);

/// The devices of ManagedCalicoDevices that NetworkManager itself brought
/// up or is configuring (any state but "unmanaged" and "connected
/// (externally)": NetworkManager's sys-iface-state "managed"). When such a
/// device becomes unmanaged, NetworkManager 1.42 deconfigures it and sets its
/// link down (nm-device.c, _set_state_full, case NM_DEVICE_STATE_UNMANAGED:
/// nm_device_cleanup(CLEANUP_TYPE_DECONFIGURE) and nm_device_take_down);
/// seen in tests/system/calico_nm.sh: a cali veth NetworkManager was running
/// DHCP on lost its address and went down, while an externally connected
/// tunl0 kept both. Calico must bring such a device up again (or the pod
/// behind it be recreated): the plan should name them.
std::vector<NmDevice> DevicesTakenDownByUnmanage(const std::vector<NmDevice>& devices,
                                                 const std::vector<std::string>& specs);

/// What WaitUnmanaged saw last.
struct NmWaitResult {
  std::vector<NmDevice> devices;        ///< the last `nmcli device` read
  std::vector<NmDevice> still_managed;  ///< ManagedCalicoDevices of it; empty: all unmanaged
  std::chrono::milliseconds waited{0};
};

/// Reads the devices until no present device matching `specs` is managed
/// or `timeout` has passed (polling every `interval` through the host's
/// Clock; NetworkManager applies a reload's unmanaged-devices change to
/// each device as its own state change, not always before nmcli returns).
/// The result lists what is still managed at the end; an Error only when
/// nmcli cannot be read at all. `cancelled` (may be null) ends the wait early.
Result<NmWaitResult> WaitUnmanaged(Host& host, const std::vector<std::string>& specs,
                                   std::chrono::milliseconds timeout,
                                   std::chrono::milliseconds interval = std::chrono::milliseconds(200),
                                   const bool* cancelled = nullptr);

}  // namespace nodeagent::calico
