#!/usr/bin/env python3
"""join-prep --dry-run on a realistic node, beside the shell runbook it replaces.

The node: a temp root with what a kubeadm node has before a join (an fstab
with a swap partition and a swap file, /proc/swaps with both active, sysctl.d
files from the distribution and a later one that resets ip_forward,
modules-load.d, containerd 1.x's default config (SystemdCgroup = false), 600
sockets in /proc/net/tcp, a swap unit), and a network namespace of its own
with a realistic nftables rule set (a filter table with policy drop, named
sets and 300 rules, plus 1500 kube-proxy-like NAT rules nobody filters on).
The agent's root prefix is the temp root; its commands run for real inside
the namespace (nft, iptables-legacy-save, systemctl, ...); one more run
under `strace -f -e trace=execve` (when strace is installed) counts them.

Compared with: the runbook an operator types (`swapon --show`, `grep swap
/etc/fstab`, `nft list ruleset`, `iptables-legacy-save`, `sysctl ...`,
`lsmod`, `grep SystemdCgroup`, `ss -ltn`), run by bash in the same
namespace: faster, but it only prints; reading it is the operator's job.
kubeadm is not packaged for Debian 12, so `kubeadm join phase preflight`
is not measured here.

Needs root, ip, nft. Usage: bench/join_prep.sh [--runs N]. Prints JSON.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(os.environ.get("NODEAGENT_BUILD", os.path.join(os.path.dirname(__file__), "../build")))
AGENTCTL = os.path.join(BUILD, "bin/agentctl")
PLUGINS = os.path.join(BUILD, "plugins")


def write(root, path, text, mode=0o644):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)
    os.chmod(full, mode)


def containerd_default_config():
    # The shape of `containerd config default` (1.6/1.7): about 250 lines.
    lines = ["disabled_plugins = []", "imports = []", "oom_score = 0", "plugin_dir = \"\"",
             "required_plugins = []", "root = \"/var/lib/containerd\"", "state = \"/run/containerd\"",
             "temp = \"\"", "version = 2", "", "[cgroup]", "  path = \"\"", "", "[debug]", "  address = \"\"",
             "  format = \"\"", "  gid = 0", "  level = \"\"", "  uid = 0", "", "[grpc]",
             "  address = \"/run/containerd/containerd.sock\"", "  gid = 0", "  max_recv_message_size = 16777216",
             "  max_send_message_size = 16777216", "  tcp_address = \"\"", "  uid = 0", "", "[plugins]", ""]
    lines += ["  [plugins.\"io.containerd.gc.v1.scheduler\"]", "    deletion_threshold = 0", "    mutation_threshold = 100",
              "    pause_threshold = 0.02", "    schedule_delay = \"0s\"", "    startup_delay = \"100ms\"", ""]
    lines += ["  [plugins.\"io.containerd.grpc.v1.cri\"]", "    device_ownership_from_security_context = false",
              "    disable_apparmor = false", "    enable_selinux = false", "    max_concurrent_downloads = 3",
              "    sandbox_image = \"registry.k8s.io/pause:3.8\"", "",
              "    [plugins.\"io.containerd.grpc.v1.cri\".cni]", "      bin_dir = \"/opt/cni/bin\"",
              "      conf_dir = \"/etc/cni/net.d\"", "",
              "    [plugins.\"io.containerd.grpc.v1.cri\".containerd]", "      default_runtime_name = \"runc\"",
              "      snapshotter = \"overlayfs\"", "",
              "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes]", "",
              "        [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]",
              "          runtime_type = \"io.containerd.runc.v2\"", "",
              "          [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]",
              "            BinaryName = \"\"", "            CriuImagePath = \"\"", "            NoNewKeyring = false",
              "            Root = \"\"", "            ShimCgroup = \"\"", "            SystemdCgroup = false", ""]
    for i in range(40):
        lines += [f"  [plugins.\"io.containerd.example.v1.p{i}\"]", f"    setting_a = \"{i}\"", "    setting_b = false", ""]
    return "\n".join(lines) + "\n"


def make_root(root):
    write(root, "/etc/fstab", "# /etc/fstab: static file system information.\n"
          "UUID=0a1b2c3d-1111-2222-3333-444455556666 /               ext4    errors=remount-ro 0       1\n"
          "UUID=0a1b2c3d-aaaa-bbbb-cccc-ddddeeeeffff /boot           ext4    defaults        0       2\n"
          "UUID=9f8e7d6c-5555-6666-7777-888899990000 none            swap    sw              0       0\n"
          "/swapfile none swap sw 0 0\n"
          "/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       0\n")
    write(root, "/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
          "/dev/sda3                               partition\t2097148\t\t0\t\t-2\n"
          "/swapfile                               file\t\t1048572\t\t0\t\t-3\n")
    write(root, "/proc/sys/net/ipv4/ip_forward", "0\n")
    write(root, "/proc/sys/kernel/hostname", "worker-17\n")
    write(root, "/proc/sys/kernel/random/boot_id", "4f7d0e8c-0000-4000-8000-000000000017\n")
    write(root, "/proc/sys/kernel/osrelease", os.uname().release + "\n")
    write(root, "/proc/modules", "".join(f"mod{i} 16384 0 - Live 0x0000000000000000\n" for i in range(80)) +
          "overlay 151552 0 - Live 0x0000000000000000\n")
    write(root, "/etc/modules-load.d/modules.conf", "# /etc/modules\n")
    write(root, "/usr/lib/sysctl.d/50-default.conf", "".join(f"kernel.example_{i} = {i}\n" for i in range(60)))
    write(root, "/usr/lib/sysctl.d/50-pid-max.conf", "kernel.pid_max = 4194304\n")
    write(root, "/etc/sysctl.d/99-sysctl.conf", "#net.ipv4.ip_forward=1\n")
    write(root, "/etc/sysctl.conf", "#net.ipv4.ip_forward=1\n")
    write(root, "/etc/sysctl.d/10-k8s.conf", "net.ipv4.ip_forward = 1\n")
    write(root, "/etc/sysctl.d/60-hardening.conf", "net.ipv4.ip_forward = 0\nkernel.kptr_restrict = 2\n")
    write(root, "/etc/containerd/config.toml", containerd_default_config())
    tcp = ["  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"]
    for i in range(600):
        tcp.append(f"{i:4}: 0100007F:{20000 + i:04X} 0100007F:{30000 + i:04X} 01 00000000:00000000 00:00000000 00000000     0        0 {1000 + i} 1 0000000000000000 20 4 30 10 -1")
    tcp.append(f"{600:4}: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99999 1 0000000000000000 100 0 0 10 0")
    write(root, "/proc/net/tcp", "\n".join(tcp) + "\n")
    write(root, "/proc/net/tcp6", tcp[0] + "\n")
    write(root, "/proc/cpuinfo", "".join(f"processor\t: {i}\nmodel name\t: bench\n\n" for i in range(4)))
    write(root, "/proc/meminfo", "MemTotal:        8000000 kB\nMemFree:         4000000 kB\n")
    write(root, "/sys/class/dmi/id/product_uuid", "4C4C4544-0031-3410-8058-B7C04F4A4A32\n")
    write(root, "/etc/systemd/system/swapfile.swap", "[Swap]\nWhat=/swapfile\n\n[Install]\nWantedBy=swap.target\n")
    os.makedirs(os.path.join(root, "etc/systemd/system/swap.target.wants"), exist_ok=True)
    os.symlink("../swapfile.swap", os.path.join(root, "etc/systemd/system/swap.target.wants/swapfile.swap"))


def nft_ruleset():
    lines = ["table inet filter {",
             "  set admin_v4 { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 192.168.0.0/16 }; }",
             "  set web_ports { type inet_service; elements = { 80, 443, 8080, 8443 }; }",
             "  chain input {", "    type filter hook input priority filter; policy drop;",
             "    ct state established,related accept", "    ct state invalid drop", "    iifname \"lo\" accept",
             "    ip saddr @admin_v4 tcp dport 22 accept", "    tcp dport @web_ports accept"]
    for i in range(300):
        lines.append(f"    ip saddr 172.16.{i // 250}.{i % 250 + 1} tcp dport {40000 + i} counter accept comment \"app {i}\"")
    lines += ["    counter drop", "  }", "  chain forward { type filter hook forward priority filter; policy drop; }", "}",
              "table ip nat {", "  chain KUBE-SERVICES {"]
    for i in range(1500):
        lines.append(f"    ip daddr 10.96.{i // 250}.{i % 250 + 1} tcp dport 80 counter jump KUBE-SVC-{i}")
    lines.append("  }")
    for i in range(1500):
        lines.append(f"  chain KUBE-SVC-{i} {{ meta l4proto tcp counter dnat to 10.244.{i // 250}.{i % 250 + 1}:8080; }}")
    lines += ["  chain prerouting { type nat hook prerouting priority dstnat; policy accept; jump KUBE-SERVICES; }", "}"]
    return "\n".join(lines) + "\n"


RUNBOOK = r"""
swapon --show; cat /proc/swaps; grep -E '\sswap\s' /etc/fstab; systemctl list-units --type swap --all --no-pager
nft list ruleset >/dev/null; iptables-legacy-save >/dev/null; ip6tables-legacy-save >/dev/null
sysctl net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
grep -rh ip_forward /etc/sysctl.d /usr/lib/sysctl.d /etc/sysctl.conf
lsmod | grep -E 'br_netfilter|overlay'; cat /etc/modules-load.d/*.conf
grep -n SystemdCgroup /etc/containerd/config.toml; ls -l /run/containerd/containerd.sock
ss -ltn; hostname; nproc; free -m; timedatectl show -p NTPSynchronized --value
command -v crictl conntrack socat ethtool ebtables kubelet kubeadm; systemctl is-enabled kubelet
cat /sys/class/dmi/id/product_uuid; ls /etc/kubernetes/kubelet.conf
""".strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="jp-bench-")
    ns = f"jpbench{os.getpid()}"
    try:
        root = os.path.join(base, "root")
        make_root(root)
        rules = os.path.join(base, "rules.nft")
        with open(rules, "w") as f:
            f.write(nft_ruleset())
        subprocess.run(["ip", "netns", "add", ns], check=True)
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", rules], check=True)
        config = os.path.join(base, "agent.toml")
        with open(config, "w") as f:
            f.write(f'[agent]\nroot = "{root}"\nstate_dir = "{base}/state"\nsocket = "{base}/agent.sock"\n'
                    f'plugin_dir = "{PLUGINS}"\nnode_name = "worker-17"\n')
        agent_ms, runbook_ms, checks = [], [], None
        cmd = ["ip", "netns", "exec", ns, AGENTCTL, "--local", "--config", config, "-o", "json", "run", "join-prep",
               "--dry-run", "--set", "endpoint=\"10.0.0.10:6443\"", "--set", "connect_timeout=\"200ms\""]
        for _ in range(args.runs):
            t = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True)
            agent_ms.append((time.perf_counter() - t) * 1000)
            out = json.loads(p.stdout)
            rec = out.get("record", out)
            checks = rec.get("data", {}).get("checks", [])
            t = time.perf_counter()
            subprocess.run(["ip", "netns", "exec", ns, "bash", "-c", RUNBOOK], capture_output=True)
            runbook_ms.append((time.perf_counter() - t) * 1000)
        commands = None
        if shutil.which("strace"):
            # One more run under strace: which programs ran and how long each took.
            trace = os.path.join(base, "trace")
            subprocess.run(["strace", "-f", "-qq", "-tt", "-e", "trace=execve,exit_group", "-e", "signal=none",
                            "-o", trace] + cmd, capture_output=True)
            started, ms = {}, {}
            for line in open(trace):
                parts = line.split(None, 2)
                if len(parts) < 3:
                    continue
                pid, clock, call = parts
                h, m, sec = clock.split(":")
                t = (int(h) * 3600 + int(m) * 60 + float(sec)) * 1000
                if call.startswith("execve(") and call.rstrip().endswith("= 0"):
                    prog = os.path.basename(call.split('"', 2)[1])
                    if prog not in ("agentctl", "nodeagent-runner", "ip"):
                        started[pid] = (prog, t)
                elif call.startswith("exit_group(") and pid in started:
                    prog, t0 = started.pop(pid)
                    ms.setdefault(prog, []).append(round(t - t0, 1))
            commands = {"count": sum(len(v) for v in ms.values()), "ms_by_program": ms}
        runbook_commands = sum(line.count(";") + line.count("|") + 1 for line in RUNBOOK.splitlines())
        print(json.dumps({
            "runs": args.runs,
            "join_prep_dry_run_ms": {"p50": round(statistics.median(agent_ms), 1), "min": round(min(agent_ms), 1),
                                     "max": round(max(agent_ms), 1)},
            "join_prep_commands_run": commands,
            "join_prep_checks": len(checks or []),
            "join_prep_failing_checks": sorted({c["id"] for c in (checks or []) if c["status"] != "pass"}),
            "runbook_ms": {"p50": round(statistics.median(runbook_ms), 1), "min": round(min(runbook_ms), 1),
                           "max": round(max(runbook_ms), 1)},
            "runbook_commands": runbook_commands,
        }, indent=2))
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
