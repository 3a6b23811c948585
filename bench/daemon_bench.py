"""Benchmarks of the idle nodeagent daemon (issue 2 point 12; not a test).

Starts the real daemon on the shipped default config (conf/agent.toml) with
temp root, state and socket and every real plugin from <build>/plugins, then:
  idle     RSS (VmRSS, VmHWM), CPU time (utime+stime) and context switches
           (all threads, voluntary+involuntary) over --idle seconds, plus the
           syscalls made while idle (strace -c -f, when strace exists);
  latency  `agentctl status` exec round trip p50/p99 over --calls runs, and the
           socket round trip alone ({"op":"status"} from this process), to
           separate agentctl's process start from the daemon's latency.
Targets (issue 2): RSS <= 8 MiB, no wake-ups while idle, p99 <= 5 ms.
With --metrics-listen ADDR the daemon also serves /metrics over HTTP there
([metrics] listen), scraped once before the idle window: it must still not wake.
Usage: daemon_bench.py [idle|latency|all] [--idle S] [--calls N] [--build DIR] [--metrics-listen ADDR]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def start_daemon(build, tmp, metrics_listen=""):
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "proc/sys/kernel/random"))
    with open(os.path.join(root, "proc/sys/kernel/random/boot_id"), "w") as f:
        f.write("bench-boot\n")
    with open(os.path.join(root, "proc/sys/kernel/hostname"), "w") as f:
        f.write("bench-node\n")
    os.makedirs(os.path.join(tmp, "exec"))
    # node-exporter's textfile folder exists, so the metrics are on (issue 14:
    # still at most 8 MiB idle with them).
    os.makedirs(os.path.join(root, "var/lib/node_exporter/textfile_collector"))
    with open(os.path.join(REPO, "conf/agent.toml")) as f:
        text = f.read()
    subst = {"root": root, "state_dir": os.path.join(tmp, "state"), "socket": os.path.join(tmp, "agent.sock"),
             "plugin_dir": os.path.join(build, "plugins"), "exec_plugin_dir": os.path.join(tmp, "exec")}
    for key, value in subst.items():
        text, n = re.subn(rf'(?m)^{key} = ".*"$', f'{key} = "{value}"', text)
        if n != 1:
            sys.exit(f"conf/agent.toml: expected one '{key} = ...' line, found {n}")
    if metrics_listen:
        text, n = re.subn(r'(?m)^\[metrics\]$', f'[metrics]\nlisten = "{metrics_listen}"', text)
        if n != 1:
            sys.exit("conf/agent.toml: expected one [metrics] table")
    config = os.path.join(tmp, "agent.toml")
    with open(config, "w") as f:
        f.write(text)
    log = open(os.path.join(tmp, "daemon.log"), "wb")
    started = time.monotonic()
    proc = subprocess.Popen([os.path.join(build, "bin/nodeagent"), "--config", config], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log)
    sock = subst["socket"]
    deadline = time.monotonic() + 10
    while True:
        try:
            if ask(sock, {"op": "ping"}).get("type") == "pong":
                start_ms = round((time.monotonic() - started) * 1000)
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.close()
            sys.exit("daemon did not start:\n" + open(os.path.join(tmp, "daemon.log")).read())
        time.sleep(0.005)
    return proc, config, sock, log, start_ms


def ask(sock_path, req):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(sock_path)
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf.split(b"\n", 1)[0])


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def ctx_switches(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if "ctxt_switches" in line:
                    total += int(line.split()[1])
    return total


def rss_by_mapping(pid, top=12):
    """Rss per mapped file (anonymous regions by their [name]), largest first."""
    per, name = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and re.match(r"^[0-9a-f]+-[0-9a-f]+$", parts[0]):
                name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            elif parts and parts[0] == "Rss:":
                per[name] = per.get(name, 0) + int(parts[1])
    return dict(sorted(((k, v) for k, v in per.items() if v), key=lambda kv: -kv[1])[:top])


def pct(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


def scrape(listen):
    port = listen.rsplit(":", 1)[-1]
    host = listen.rsplit(":", 1)[0].strip("[]") if ":" in listen else "127.0.0.1"
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    if not data.startswith(b"HTTP/1.1 200 "):
        sys.exit("metrics scrape failed: %r" % data[:200])
    return len(data)


def bench_idle(proc, sock, seconds, out, metrics_listen=""):
    pid = proc.pid
    if metrics_listen:
        out["metrics_listen"] = metrics_listen
        out["metrics_scrape_bytes"] = scrape(metrics_listen)
    st = ask(sock, {"op": "status"})
    out["plugins"] = st.get("plugins")
    out["plugin_problems"] = st.get("plugin_problems")
    out["threads"] = len(os.listdir(f"/proc/{pid}/task"))
    time.sleep(1)  # settle after start-up and the status call
    hz = os.sysconf("SC_CLK_TCK")
    cpu0, cs0 = cpu_ticks(pid), ctx_switches(pid)
    time.sleep(seconds)
    cpu1, cs1 = cpu_ticks(pid), ctx_switches(pid)
    if shutil.which("strace"):  # a separate window: attaching ptrace itself switches the tracee
        strace_out = os.path.join(os.path.dirname(sock), "strace.txt")
        strace = subprocess.Popen(["strace", "-c", "-f", "-o", strace_out, "-p", str(pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(min(seconds, 10))
        strace.send_signal(signal.SIGINT)
        strace.wait(10)
        with open(strace_out) as f:
            lines = [l for l in f.read().splitlines() if re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+", l)]
        out["idle_syscalls_strace_window_s"] = min(seconds, 10)
        out["idle_syscalls"] = {l.split()[-1]: int(l.split()[3]) for l in lines}
    out["idle_seconds"] = seconds
    out["idle_cpu_ms"] = (cpu1 - cpu0) * 1000 // hz
    out["idle_context_switches"] = cs1 - cs0
    out["vm_rss_kib"] = status_kib(pid, "VmRSS")
    out["vm_hwm_kib"] = status_kib(pid, "VmHWM")
    out["rss_anon_kib"] = status_kib(pid, "RssAnon")
    out["rss_file_kib"] = status_kib(pid, "RssFile")
    out["rss_by_mapping_kib"] = rss_by_mapping(pid)


def bench_latency(build, config, sock, calls, out):
    agentctl = os.path.join(build, "bin/agentctl")
    for _ in range(20):  # warm the page cache
        subprocess.run([agentctl, "--socket", sock, "status"], stdout=subprocess.DEVNULL, check=True)
    execs = []
    for _ in range(calls):
        t0 = time.perf_counter()
        subprocess.run([agentctl, "--socket", sock, "status"], stdout=subprocess.DEVNULL, check=True)
        execs.append((time.perf_counter() - t0) * 1000)
    # A process start alone, for scale (/bin/true through the same harness).
    trues = []
    for _ in range(calls):
        t0 = time.perf_counter()
        subprocess.run(["/bin/true"], check=True)
        trues.append((time.perf_counter() - t0) * 1000)
    sockets = []
    for _ in range(calls):
        t0 = time.perf_counter()
        ask(sock, {"op": "status"})
        sockets.append((time.perf_counter() - t0) * 1000)
    pings = []
    for _ in range(calls):
        t0 = time.perf_counter()
        ask(sock, {"op": "ping"})
        pings.append((time.perf_counter() - t0) * 1000)
    for name, xs in (("agentctl_status_exec_ms", execs), ("bin_true_exec_ms", trues),
                     ("socket_status_ms", sockets), ("socket_ping_ms", pings)):
        out[name] = {"p50": round(statistics.median(xs), 3), "p99": round(pct(xs, 99), 3),
                     "max": round(max(xs), 3), "n": len(xs)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="?", default="all", choices=["idle", "latency", "all"])
    ap.add_argument("--idle", type=float, default=60)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--build", default=os.environ.get("NODEAGENT_BUILD", os.path.join(REPO, "build")))
    ap.add_argument("--metrics-listen", default="", help="also serve /metrics here ([metrics] listen)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="nodeagent-bench-")
    proc = None
    try:
        proc, config, sock, log, start_ms = start_daemon(os.path.abspath(args.build), tmp, args.metrics_listen)
        out = {"start_ms": start_ms}  # from exec to the first answer on the socket (plugins probed, config read)
        if args.what in ("idle", "all"):
            bench_idle(proc, sock, args.idle, out, args.metrics_listen)
        if args.what in ("latency", "all"):
            bench_latency(os.path.abspath(args.build), config, sock, args.calls, out)
            out["vm_hwm_kib_after_latency"] = status_kib(proc.pid, "VmHWM")
            out["vm_rss_kib_after_latency"] = status_kib(proc.pid, "VmRSS")
        print(json.dumps(out, indent=2))
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
