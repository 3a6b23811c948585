#!/usr/bin/python3
"""bench/fleet: a simulated rolling reboot of N nodes through one test API server.

Why it exists: issue 15 makes fleet behaviour (safety of the reboot lock,
liveness, fairness, the load waiting agents put on the API server) a measured
property. Each simulated node is one `fleet_node` process running the real
reboot-if-required code (drain_and_reboot, the libcurl Kubernetes client over
HTTPS); this driver plays the machines and the kubelets around them: it
starts the test API server, creates the Nodes and their pods (ReplicaSets with
PDBs), spawns the agents at the scheduler's jittered start times, and when an
agent says `REBOOT n` it kills it (the machine goes down), marks the Node
NotReady, and after --down-time "boots" it: a new boot id in the node's root,
the sentinel gone, the Node Ready with the new bootID, the agent started again
(it resumes its run). With --faults it also kills agents at random phases
(some come back, some never), asks the server for 2% of failed requests and
restarts the server once. At the end it checks and reports (see README.md):
safety, liveness and fairness, load, takeover; result.json, summary.txt and
requests.svg go into --out.

  /usr/bin/python3 bench/fleet/fleet.py --build build -n 100 --concurrency 10 --out /tmp/fleet
  (--check: exit 1 when a check fails: safety, liveness, takeover, "nothing to do = 0
  requests", and without faults fairness and the cost of waiting)

Standard library only.
"""

import argparse
import copy
import json
import heapq
import math
import os
import random
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "apiserver"))
import testserver  # noqa: E402
from testserver import TestServer  # noqa: E402
import make_nodes  # noqa: E402

LOCK_NS = "kube-system"
LOCK_PREFIX = "nodeagent-reboot-lock"
TASK = "reboot"
SENTINEL = "var/run/reboot-required"


def now():
    return time.time()


class Agent:
    """One simulated node: its root, state dir, agent process and what happened to it."""

    def __init__(self, name, base, idle):
        self.name = name
        self.idle = idle  # no sentinel: an agent with nothing to do
        self.dir = os.path.join(base, name)
        self.root = os.path.join(self.dir, "root")
        self.state = os.path.join(self.dir, "state")
        self.config = os.path.join(self.dir, "config.json")
        self.proc = None
        self.buf = b""
        self.start_at = 0.0
        self.run_starts = []
        self.reboots = []  # times of REBOOT lines
        self.boots = []  # times the driver booted it
        self.done = None  # (t, status, summary) of the last DONE line
        self.resumed = []
        self.dead = False  # killed by a fault and not (yet) restarted
        self.dead_forever = False
        self.deaths = []  # [t_killed, t_restarted or None, phase]
        self.fault = None  # (phase, restart_delay or None) planned
        self.fault_done = False
        self.boot_pending = None  # time to boot at

    def write_root(self, boot_id, sentinel):
        os.makedirs(os.path.join(self.root, "proc/sys/kernel/random"), exist_ok=True)
        os.makedirs(os.path.join(self.root, "var/run"), exist_ok=True)
        os.makedirs(self.state, exist_ok=True)
        with open(os.path.join(self.root, "proc/sys/kernel/random/boot_id"), "w") as f:
            f.write(boot_id + "\n")
        path = os.path.join(self.root, SENTINEL)
        if sentinel:
            with open(path, "w") as f:
                f.write("*** System restart required ***\n")
        elif os.path.exists(path):
            os.unlink(path)


class Fleet:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.out = os.path.abspath(a.out)
        self.fleet_node = os.path.join(a.build, "bin", "fleet_node")
        self.sel = selectors.DefaultSelector()
        self.agents = {}
        self.log = []  # driver's own timeline: (t, kind, node, detail)
        self.lease_snaps = []  # (t, {lease: holder})
        self.unsched_snaps = []  # (t, set(nodes))
        self.rss_peak = 0
        self.pss_peak = 0
        self.rss_agents_peak = 0
        self.server_rss_peak = 0
        self.fleet_api = False
        self.requests = []  # normalized rows [t, verb, resource, ns, node, status, ms]
        self.req_seq = 0
        self.log_rows = 0
        self.restart_done = False
        self.restart_at = None
        self.stop_poll = threading.Event()
        self.poll_lock = threading.Lock()
        self.fault_log = []
        self.last_fault_t = 0.0
        self.fault_carry = 0.0
        self.injected_faults = {}

    # -- set-up ----------------------------------------------------------------------

    def note(self, kind, node, detail=""):
        self.log.append((now(), kind, node, detail))

    def start_server(self):
        shutil.rmtree(self.out, ignore_errors=True)
        os.makedirs(os.path.join(self.out, "server"))
        self.srv = TestServer(terminating_seconds=self.a.terminating_seconds, dir=os.path.join(self.out, "server"))
        self.srv.start()
        code, _, _ = self.srv.request("POST", "/_test/fleet/start",
                                      {"lock_namespace": LOCK_NS, "lock_prefix": LOCK_PREFIX, "request_log": False})
        self.fleet_api = code == 200
        if not self.fleet_api:
            sys.stderr.write("fleet.py: the server has no /_test/fleet/ endpoints (HTTP %d): falling back to "
                             "/_test/requests and polling leases and nodes; no server restart\n" % code)

    def make_cluster(self):
        a = self.a
        names = ["node-%04d" % i for i in range(a.n)]
        idle = ["idle-%02d" % i for i in range(a.idle_nodes)]
        items = []
        for name in names + idle:
            items.append(make_nodes.node(name, boot_id=str(uuid.uuid4())))
        # Workloads: one ReplicaSet per group of 4 nodes, 2 pods on each, under a
        # PDB with maxUnavailable 1 (a drain evicts the second pod only once the
        # first one's replacement is Ready elsewhere), and a fleet-wide ReplicaSet
        # with one pod per node under a PDB minAvailable N-1.
        per_group = 4
        for g in range(0, len(names), per_group):
            group = names[g:g + per_group]
            rs = make_nodes.replicaset("web-%d" % (g // per_group), 2 * len(group))
            items.append(rs)
            items.append(make_nodes.pdb("web-%d" % (g // per_group), rs["spec"]["selector"]["matchLabels"],
                                        max_unavailable=1))
            for node in group:
                for _ in range(2):
                    items.append(make_nodes.pod(rs["metadata"]["name"] + "-" + make_nodes._suffix(), node,
                                                owner=rs, grace=1))
        cache = make_nodes.replicaset("cache", len(names))
        items.append(cache)
        items.append(make_nodes.pdb("cache", cache["spec"]["selector"]["matchLabels"],
                                    min_available=max(1, len(names) - 1)))
        for node in names:
            items.append(make_nodes.pod("cache-" + make_nodes._suffix(), node, owner=cache, grace=1))
        for i in range(0, len(items), 500):
            self.srv.post_objects(items[i:i + 500])
        # Every pod must be there: one missing under the minAvailable N-1
        # budget allows no disruption at all, and every drain would wait.
        want = sum(1 for it in items if it.get("kind") == "Pod")
        have = len(self.srv.ok("GET", "/api/v1/pods").get("items", []))
        if have != want:
            raise SystemExit("fleet: %d pods created, %d wanted (a name collided?)" % (have, want))
        base = os.path.join(self.out, "nodes")
        for name in names + idle:
            ag = Agent(name, base, name in idle)
            node = self.srv.ok("GET", "/api/v1/nodes/" + name)
            ag.write_root(node["status"]["nodeInfo"]["bootID"], sentinel=not ag.idle)
            self.agents[name] = ag

    def params(self):
        a = self.a
        return {"concurrency": a.concurrency, "lock_namespace": LOCK_NS, "lock_name": LOCK_PREFIX,
                "lock_ttl": "%ds" % a.lock_ttl, "reboot_timeout": "25s", "ready_timeout": "25s",
                "reboot_command": ["systemctl", "reboot"]}

    def schedule(self):
        """Start times: the window's start plus the scheduler's jitter for each node."""
        a = self.a
        self.window_start = now() + a.start_delay
        # The jitter of a fixed due time (a night's 03:00 UTC, moved by the seed),
        # so a seed gives the same order of nodes on every run; the offsets are
        # the scheduler's own, added to the real window start.
        due_ms = (1798772400 + 86400 * a.seed) * 1000
        names = "\n".join(self.agents) + "\n"
        out = subprocess.run([self.fleet_node, "--jitter", TASK, "-", str(due_ms), str(int(a.jitter * 1000))],
                             input=names, stdout=subprocess.PIPE, text=True, check=True).stdout
        for line in out.splitlines():
            name, ms = line.split()
            ag = self.agents[name]
            ag.start_at = self.window_start + int(ms) / 1000.0
            cfg = {"node": name, "kubeconfig": self.srv.kubeconfig_cert, "root": ag.root, "state_dir": ag.state,
                   "params": self.params(), "start_at_ms": int(ag.start_at * 1000)}
            with open(ag.config, "w") as f:
                json.dump(cfg, f)

    def plan_faults(self):
        """5% of the busy agents killed and restarted later, 5% killed for good; the
        first agent to start (the first to get a slot) is one of the latter and dies
        holding its slot, so a takeover must happen while others still wait."""
        if not self.a.faults:
            return
        busy = sorted((ag for ag in self.agents.values() if not ag.idle), key=lambda ag: ag.start_at)
        k = max(1, round(len(busy) * 0.05))
        first, rest = busy[0], sorted(ag.name for ag in busy[1:])
        chosen = [first.name] + self.rng.sample(rest, 2 * k - 1)
        phases = ["waiting", "holding", "after_reboot"]
        for i, name in enumerate(chosen):
            forever = i < k
            phase = "holding" if i == 0 else self.rng.choice(phases)
            delay = None if forever else self.rng.uniform(1.0, 6.0)
            self.agents[name].fault = (phase, delay)
            self.fault_log.append({"node": name, "phase": phase, "restart_after": delay})

    def inject_request_faults(self, t):
        """Without the server's fleet faults: about 2% of the last second's requests
        answered 429 (Retry-After 1), 500 or a reset, through /_test/faults."""
        if not self.a.faults or self.fleet_api or t - self.last_fault_t < 1.0:
            return
        self.last_fault_t = t
        with self.poll_lock:
            recent = sum(1 for r in self.requests[-2000:] if r[0] >= t - 1.0 and r[4])
        want = recent * 0.02 + self.fault_carry
        k = int(want)
        self.fault_carry = want - k
        for _ in range(k):
            kind = self.rng.choice([429, 500, "reset"])
            if kind == "reset":
                self.srv.fault(r"^/api", count=1, drop=True)
            else:
                self.srv.fault(r"^/api", count=1, status=kind, retry_after=1 if kind == 429 else None)
            self.injected_faults[str(kind)] = self.injected_faults.get(str(kind), 0) + 1

    # -- agents ----------------------------------------------------------------------

    def spawn(self, ag):
        ag.proc = subprocess.Popen([self.fleet_node, ag.config], stdout=subprocess.PIPE, stderr=self.agent_log,
                                   stdin=subprocess.DEVNULL)
        os.set_blocking(ag.proc.stdout.fileno(), False)
        self.sel.register(ag.proc.stdout, selectors.EVENT_READ, ag)
        self.note("spawn", ag.name)

    def close(self, ag):
        if ag.proc is None:
            return
        try:
            self.sel.unregister(ag.proc.stdout)
        except (KeyError, ValueError):
            pass
        ag.proc.stdout.close()
        ag.proc.wait()
        ag.proc = None
        ag.buf = b""

    def kill(self, ag):
        if ag.proc is not None and ag.proc.poll() is None:
            ag.proc.send_signal(signal.SIGKILL)
        self.close(ag)

    def call(self, method, path, body=None, patience=60.0):
        """A driver request that outlives a server restart: retried until it answers."""
        deadline = now() + patience
        while True:
            try:
                code, out, _ = self.srv.request(method, path, body)
                if (code < 500 and code != 429) or now() > deadline:
                    return code, out
            except OSError:
                self.srv._conns = {}
                if now() > deadline:
                    raise
            time.sleep(0.2)

    def ok(self, method, path, body=None):
        code, out = self.call(method, path, body)
        if code >= 300:
            raise RuntimeError("%s %s -> %d %s" % (method, path, code, out))
        return out

    def node_status(self, name, ready, boot_id=None):
        body = {"name": name, "ready": ready}
        if boot_id is not None:
            body["bootID"] = boot_id
        code, out = self.call("POST", "/_test/node-status", body)
        if code != 200:
            raise RuntimeError("node-status %s -> %d %s" % (name, code, out))

    def agent_alive_api(self, name, alive):
        if self.fleet_api:
            self.call("POST", "/_test/fleet/agent", {"node": name, "alive": alive})

    def on_line(self, ag, line):
        parts = line.split(" ", 3)
        kind = parts[0]
        t = now()
        if kind == "RUN":
            # The node's own time of its run's start (same host clock), not
            # when this loop got to the line: with hundreds of agents writing
            # at once the read lags by up to a second, which reordered nodes
            # that started a millisecond apart.
            try:
                t_node = int(parts[2]) / 1000.0
                if abs(t_node - t) < 60:
                    t = t_node
            except (IndexError, ValueError):
                pass
            ag.run_starts.append(t)
            self.note("run", ag.name)
        elif kind == "REBOOT":
            ag.reboots.append(t)
            self.note("reboot", ag.name)
            self.kill(ag)
            self.node_status(ag.name, False)
            ag.boot_pending = t + self.a.down_time
        elif kind == "DONE":
            ag.done = (t, parts[2] if len(parts) > 2 else "", parts[3] if len(parts) > 3 else "")
            self.note("done", ag.name, " ".join(parts[2:]))
        elif kind == "RESUMED":
            ag.resumed.append((t, " ".join(parts[2:])))
            self.note("resumed", ag.name, " ".join(parts[2:]))

    def boot(self, ag):
        boot_id = str(uuid.uuid4())
        ag.write_root(boot_id, sentinel=False)
        self.node_status(ag.name, True, boot_id)
        ag.boots.append(now())
        ag.boot_pending = None
        self.note("boot", ag.name)
        if not ag.dead:
            self.spawn(ag)

    def holders_now(self):
        with self.poll_lock:
            return dict(self.lease_snaps[-1][1]) if self.lease_snaps else {}

    def maybe_fault(self, ag, t):
        """Kills ag when it reaches its planned phase; restarts it after its delay."""
        if ag.fault is None:
            return
        phase, delay = ag.fault
        if ag.fault_done:
            if ag.dead and delay is not None and t >= ag.deaths[-1][0] + delay:
                ag.dead = False
                ag.deaths[-1][1] = t
                self.agent_alive_api(ag.name, True)
                self.note("fault-restart", ag.name)
                if ag.boot_pending is None:
                    self.spawn(ag)
            return
        if ag.proc is None:
            return
        holding = ag.name in self.holders_now().values()
        hit = False
        if phase == "waiting" and ag.run_starts and not ag.reboots and not holding:
            hit = t >= ag.run_starts[0] + 0.5
        elif phase == "holding" and holding and not ag.reboots:
            hit = True
        elif phase == "after_reboot" and ag.boots and ag.done is None:
            hit = t >= ag.boots[-1] + 0.2
        if hit:
            self.kill(ag)
            ag.dead = True
            ag.dead_forever = delay is None
            ag.fault_done = True
            ag.deaths.append([t, None, phase])
            self.agent_alive_api(ag.name, False)
            self.note("fault-kill", ag.name, phase)

    # -- the server's view -------------------------------------------------------------

    def poll_loop(self):
        srv = copy.copy(self.srv)  # its own connections: TestServer's are not shared between threads
        srv._conns = {}
        period = 0.25 if len(self.agents) <= 200 else 1.0
        while not self.stop_poll.is_set():
            t = now()
            try:
                leases = srv.ok("GET", "/apis/coordination.k8s.io/v1/namespaces/%s/leases" % LOCK_NS)
                holders = {}
                for it in leases.get("items") or []:
                    nm = it["metadata"]["name"]
                    if nm.startswith(LOCK_PREFIX) and not nm.startswith(LOCK_PREFIX + "-queue-"):  # slots, not tickets
                        holders[nm] = (it.get("spec") or {}).get("holderIdentity") or ""
                unsched = None
                if not self.fleet_api:  # else the server's report has every cordon and uncordon
                    nodes = srv.ok("GET", "/api/v1/nodes")
                    unsched = {n["metadata"]["name"] for n in nodes.get("items") or []
                               if (n.get("spec") or {}).get("unschedulable")}
                with self.poll_lock:
                    self.lease_snaps.append((t, holders))
                    if unsched is not None:
                        self.unsched_snaps.append((t, unsched))
                if not self.fleet_api:
                    with self.poll_lock:
                        self.fetch_requests(srv)
            except Exception:  # the server restarting, or a dropped connection
                srv._conns = {}
            self.stop_poll.wait(period)

    def fetch_requests(self, srv):
        """Fallback: the server's request log, reduced to the report's rows."""
        rows = srv.ok("GET", "/_test/requests?since=%d" % self.req_seq)
        for r in rows:
            self.req_seq = max(self.req_seq, r["seq"])
            ua = r.get("user_agent") or ""
            node = ua.split("node=", 1)[1].rstrip(")") if "node=" in ua else ""
            segs = [s for s in r["path"].split("/") if s]
            ns, resource = "", ""
            if "namespaces" in segs and segs.index("namespaces") + 2 < len(segs):
                i = segs.index("namespaces")
                ns, resource = segs[i + 1], segs[i + 2]
            elif segs:
                resource = segs[3] if segs[0] == "apis" and len(segs) > 3 else (segs[2] if len(segs) > 2 else segs[-1])
            verb = r["method"].lower()
            if "watch=true" in (r.get("query") or "") or "watch=1" in (r.get("query") or ""):
                verb = "watch"
            self.requests.append([r["time"], verb, resource, ns, node, r["status"], 0])
        self.log_rows += len(rows)
        if self.log_rows > 20000:  # the server keeps every body: start its log afresh
            srv.clear_requests()
            self.log_rows = 0

    @staticmethod
    def proc_field(pid, path, field):
        """A "Name:   N kB" field of /proc/PID/<path> in bytes; 0 when the process is gone."""
        try:
            with open("/proc/%d/%s" % (pid, path)) as fh:
                for line in fh:
                    if line.startswith(field):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            return 0
        return 0

    def memory_loop(self):
        """Each second the sum of the agents' VmRSS plus the server's; every 5 s
        also their Pss (shared library pages divided among the processes that map
        them: what the simulation really costs; summing RSS counts libcurl and
        OpenSSL once per process)."""
        n = 0
        while not self.stop_poll.is_set():
            pids = [p.pid for p in (ag.proc for ag in list(self.agents.values())) if p is not None]
            server = self.srv.proc.pid if self.srv.proc else None
            agents = sum(self.proc_field(pid, "status", "VmRSS:") for pid in pids)
            srv = self.proc_field(server, "status", "VmRSS:") if server else 0
            self.rss_agents_peak = max(self.rss_agents_peak, agents)
            self.server_rss_peak = max(self.server_rss_peak, srv)
            self.rss_peak = max(self.rss_peak, agents + srv)
            if n % 5 == 0:
                pss = sum(self.proc_field(pid, "smaps_rollup", "Pss:") for pid in pids)
                pss += self.proc_field(server, "smaps_rollup", "Pss:") if server else 0
                self.pss_peak = max(self.pss_peak, pss)
            n += 1
            self.stop_poll.wait(1.0)

    # -- the run -----------------------------------------------------------------------

    def finished(self):
        for ag in self.agents.values():
            if ag.proc is not None or ag.boot_pending is not None:
                return False
            if ag.dead and not ag.dead_forever:
                return False
        return True

    def run(self):
        a = self.a
        self.agent_log = open(os.path.join(self.out, "agents.log"), "ab")
        self.plan_faults()
        poller = threading.Thread(target=self.poll_loop, daemon=True)
        poller.start()
        memory = threading.Thread(target=self.memory_loop, daemon=True)
        memory.start()
        if a.faults and self.fleet_api:
            self.srv.request("POST", "/_test/fleet/faults", {"rate": 0.02, "kinds": [429, 500, "reset"],
                                                             "retry_after": 1, "seed": a.seed})
        self.t0 = now()
        for ag in self.agents.values():
            self.spawn(ag)
        deadline = self.t0 + a.timeout
        busy = [ag for ag in self.agents.values() if not ag.idle]
        while now() < deadline:
            for key, _ in self.sel.select(timeout=0.05):
                ag = key.data
                try:
                    chunk = os.read(key.fileobj.fileno(), 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    self.close(ag)
                    continue
                ag.buf += chunk
                while b"\n" in ag.buf and ag.proc is not None:
                    line, ag.buf = ag.buf.split(b"\n", 1)
                    self.on_line(ag, line.decode(errors="replace"))
            t = now()
            for ag in self.agents.values():
                if ag.boot_pending is not None and t >= ag.boot_pending:
                    self.boot(ag)
                self.maybe_fault(ag, t)
            if a.faults and a.server_restart and self.fleet_api and not self.restart_done:
                if sum(1 for ag in busy if ag.boots) >= len(busy) // 2:
                    try:
                        self.srv.request("POST", "/_test/fleet/restart", {"down_seconds": 3})
                    except OSError:
                        pass  # the answer may be lost in the restart
                    self.srv._conns = {}
                    self.restart_done = True
                    self.restart_at = t
                    self.note("server-restart", "")
            self.inject_request_faults(t)
            if self.finished():
                break
        self.t_end = now()
        self.timed_out = not self.finished()
        # Let the poller see the final state, then stop it.
        time.sleep(0.6)
        self.stop_poll.set()
        poller.join(5)
        memory.join(10)
        for ag in self.agents.values():
            self.kill(ag)
        self.agent_log.close()

    def timeline_from_report(self, rep):
        """The slot holders and unschedulable nodes at every change the server
        recorded (exact, where the driver's polls are 4 a second at best)."""
        init = rep.get("initial") or {}
        holders = {k: v for k, v in (init.get("holders") or {}).items()}
        unsched = set(init.get("unschedulable") or [])
        lease_snaps = [(rep["start"], dict(holders))]
        unsched_snaps = [(rep["start"], set(unsched))]
        self.joined_queue = {}  # node -> when its queue ticket first appeared (server time)
        self.slot_events = []   # (t, lease, holder or None, handed to it and not taken yet)
        for ev in rep.get("events") or []:
            if ev.get("kind") == "ticket" and ev.get("value") and ev.get("node"):
                self.joined_queue.setdefault(ev["node"], ev["t"])
            if ev.get("kind") == "slot":
                self.slot_events.append((ev["t"], ev["name"], ev.get("value"), bool(ev.get("granted"))))
                if ev.get("value"):
                    holders[ev["name"]] = ev["value"]
                else:
                    holders.pop(ev["name"], None)
                lease_snaps.append((ev["t"], dict(holders)))
            elif ev.get("kind") == "unschedulable":
                (unsched.add if ev.get("value") else unsched.discard)(ev["node"])
                unsched_snaps.append((ev["t"], set(unsched)))
        end = rep.get("end") or now()
        lease_snaps.append((end, dict(holders)))
        unsched_snaps.append((end, set(unsched)))
        self.lease_snaps, self.unsched_snaps = lease_snaps, unsched_snaps

    def collect(self):
        self.report = None
        if self.fleet_api:
            self.ok("POST", "/_test/fleet/faults", {"rate": 0})  # the driver's own reads from here on
            code, rep = self.call("GET", "/_test/fleet/report")
            if code == 200 and isinstance(rep, dict):
                self.report = rep
                # Kept for a second look (a few MB at N = 1000).
                with open(os.path.join(self.out, "server", "report.json"), "w") as fh:
                    json.dump(rep, fh)
                rows = [list(r) for r in rep.get("requests") or []]
                # Times relative to the report's start become epoch seconds, like the driver's.
                if rows and rows[0][0] < 1e9:
                    for r in rows:
                        r[0] += float(rep.get("start") or 0)
                self.requests = rows
                self.timeline_from_report(rep)
            else:
                sys.stderr.write("fleet.py: GET /_test/fleet/report -> %s; load figures from nothing\n" % code)
        else:
            self.fetch_requests(self.srv)
        self.call("GET", "/api/v1/nodes")  # the server is back, should it have restarted
        evs = self.ok("GET", "/api/v1/events")
        self.events = evs.get("items") or []
        final_nodes = self.ok("GET", "/api/v1/nodes")["items"]
        self.final_unsched = sorted(n["metadata"]["name"] for n in final_nodes
                                    if (n.get("spec") or {}).get("unschedulable"))
        # nodeagent's NodeAgentReboot condition, where a node has one.
        self.final_reboot_conditions = {}
        for n in final_nodes:
            for cnd in (n.get("status") or {}).get("conditions") or []:
                if cnd.get("type") == "NodeAgentReboot":
                    self.final_reboot_conditions[n["metadata"]["name"]] = {
                        "status": cnd.get("status"), "reason": cnd.get("reason"), "message": cnd.get("message")}
        leases = self.ok("GET", "/apis/coordination.k8s.io/v1/namespaces/%s/leases" % LOCK_NS)
        self.final_holders = {it["metadata"]["name"]: (it.get("spec") or {}).get("holderIdentity") or ""
                              for it in leases.get("items") or [] if it["metadata"]["name"].startswith(LOCK_PREFIX)}
        self.srv.cleanup()


# -- analysis ---------------------------------------------------------------------------

def dead_at(ag, t):
    for killed, restarted, _ in ag.deaths:
        if killed <= t and (restarted is None or t < restarted):
            return True
    return False


def holder_intervals(snaps):
    """[(lease, holder, t_from, t_to)] from lease snapshots (t_to None: still held)."""
    out, cur = [], {}
    for t, holders in snaps:
        for lease, h in holders.items():
            if lease in cur and cur[lease][0] == h:
                continue
            if lease in cur and cur[lease][0]:
                out.append((lease, cur[lease][0], cur[lease][1], t))
            cur[lease] = (h, t)
        for lease in list(cur):
            if lease not in holders:
                if cur[lease][0]:
                    out.append((lease, cur[lease][0], cur[lease][1], t))
                del cur[lease]
    for lease, (h, t) in cur.items():
        if h:
            out.append((lease, h, t, None))
    return out


def analyse(f):
    a = f.a
    agents = f.agents
    busy = [ag for ag in agents.values() if not ag.idle]
    c = a.concurrency
    problems = []
    res = {"n": a.n, "concurrency": c, "idle_nodes": a.idle_nodes, "faults": a.faults, "seed": a.seed,
           "fleet_api": f.fleet_api, "timed_out": f.timed_out, "jitter_s": a.jitter, "down_time_s": a.down_time,
           "lock_ttl_s": a.lock_ttl}
    if f.timed_out:
        problems.append("the run did not finish within --timeout %ss" % a.timeout)

    # Safety.
    max_live, max_live_t, max_excess = 0, None, 0
    for t, holders in f.lease_snaps:
        live = [h for h in holders.values() if h and h in agents and not dead_at(agents[h], t)]
        if len(live) > max_live:
            max_live, max_live_t = len(live), t
    excess_named = set()
    max_unsched = 0
    for t, unsched in f.unsched_snaps:
        max_unsched = max(max_unsched, len(unsched))
        dead_cordoned = {n for n in unsched if n in agents and dead_at(agents[n], t)}
        if len(unsched) > c:
            excess_named |= dead_cordoned
        max_excess = max(max_excess, len(unsched) - len(dead_cordoned) - c)
    server_max = (f.report or {}).get("max") or {}
    res["safety"] = {"max_live_holders": max_live, "max_unschedulable": max_unsched,
                     "unschedulable_over_concurrency_by_dead_agents": sorted(excess_named),
                     "server_max": server_max,
                     "final_unschedulable": f.final_unsched, "final_slots_held": f.final_holders}
    if max_live > c:
        problems.append("safety: %d live agents held a slot at once (concurrency %d)" % (max_live, c))
    if isinstance(server_max.get("live_holders"), int) and server_max["live_holders"] > c:
        problems.append("safety: the server saw %d live holders (concurrency %d)" % (server_max["live_holders"], c))
    if max_excess > 0:
        problems.append("safety: unschedulable nodes exceeded concurrency by %d nodes with a live agent" % max_excess)
    cordoned_live = [n for n in f.final_unsched if n in agents and not agents[n].dead]
    if cordoned_live:
        problems.append("safety: left cordoned with a live agent: %s" % ", ".join(cordoned_live))
    # Slots (not queue tickets) still naming a live agent are a leak. A dead
    # agent's slot lasts until its TTL; with nobody left waiting, nobody takes
    # it over, and the lock counts it free once expired: reported, not a fault.
    held = {k: v for k, v in f.final_holders.items()
            if v and "-queue-" not in k and not (v in agents and agents[v].dead)}
    res["safety"]["final_slots_of_dead_agents"] = {
        k: v for k, v in f.final_holders.items() if v and "-queue-" not in k and v in agents and agents[v].dead}
    if held:
        problems.append("safety: slots still held at the end by live agents: %s" % held)

    # A node whose agent never came back stays cordoned; its NodeAgentReboot
    # condition (True) and an Event on the node say why. A live node ends with
    # no such condition True.
    conds = getattr(f, "final_reboot_conditions", {})
    dead_left = []
    for n in f.final_unsched:
        if n not in agents or not agents[n].dead:
            continue
        cnd = conds.get(n) or {}
        evs = sorted({e.get("reason") for e in f.events
                      if (e.get("involvedObject") or {}).get("kind") == "Node"
                      and (e.get("involvedObject") or {}).get("name") == n
                      and e.get("reason") in ("NodeagentDrainStarted", "NodeagentRebootLockExpired")})
        dead_left.append({"node": n, "condition": "%s/%s" % (cnd.get("status"), cnd.get("reason")) if cnd else None,
                          "events": evs})
        if cnd.get("status") != "True":
            problems.append("takeover: %s was left cordoned by its dead agent without a True NodeAgentReboot "
                            "condition" % n)
        if not evs:
            problems.append("takeover: %s was left cordoned by its dead agent with no Event saying why" % n)
    res["safety"]["dead_left_cordoned"] = dead_left
    stale = sorted(n for n, cnd in conds.items()
                   if cnd.get("status") == "True" and n in agents and not agents[n].dead)
    if stale:
        problems.append("safety: NodeAgentReboot still True on nodes with a live agent: %s" % ", ".join(stale))

    # Liveness.
    alive = [ag for ag in busy if not ag.dead_forever]
    not_rebooted = [ag.name for ag in alive if not ag.boots]
    not_done = [ag.name for ag in alive if ag.done is None]
    res["liveness"] = {"alive_nodes": len(alive), "rebooted": sum(1 for ag in alive if ag.boots),
                       "not_rebooted": not_rebooted, "no_done_line": not_done,
                       "dead_forever": sorted(ag.name for ag in busy if ag.dead_forever),
                       "done_status": {}, "runs_not_changed": []}
    for ag in busy:
        if ag.done:
            st = ag.done[1]
            res["liveness"]["done_status"][st] = res["liveness"]["done_status"].get(st, 0) + 1
            if st != "changed":
                res["liveness"]["runs_not_changed"].append({"node": ag.name, "status": st, "summary": ag.done[2]})
    if not_rebooted:
        problems.append("liveness: live agents whose node never rebooted: %s" % ", ".join(not_rebooted))
    if not_done:
        problems.append("liveness: live agents without a DONE line: %s" % ", ".join(not_done))

    intervals = holder_intervals(f.lease_snaps)
    first_acquire = {}
    for lease, h, t0, t1 in intervals:
        if h not in first_acquire or t0 < first_acquire[h][0]:
            first_acquire[h] = (t0, t1, lease)
    cycles = [t1 - t0 for lease, h, t0, t1 in intervals
              if t1 is not None and h in agents and not agents[h].deaths]
    median_cycle = statistics.median(cycles) if cycles else 0.0
    # The ideal packs the measured work (every live node's slot hold) into the
    # slots with no gap: N/c x the mean hold. Drains that wait on a PDB make
    # holds uneven (the median is well below the mean), so the median would
    # call a perfectly packed rollout slow.
    mean_cycle = statistics.mean(cycles) if cycles else 0.0
    starts = [min(ag.run_starts) for ag in busy if ag.run_starts]
    ends = [t1 for _, _, _, t1 in intervals if t1 is not None]
    rollout = (max(ends) - min(starts)) if starts and ends else 0.0
    ideal = len(alive) / c * mean_cycle
    # With a long jitter the last node only starts late: no rollout can end
    # before the last arrival plus one cycle.
    arrivals_bound = (max(starts) - min(starts) + mean_cycle) if starts else 0.0
    bound = max(ideal, arrivals_bound)
    res["timing"] = {"median_cycle_s": round(median_cycle, 2), "mean_cycle_s": round(mean_cycle, 2),
                     "rollout_s": round(rollout, 1),
                     "ideal_s": round(ideal, 1), "rollout_vs_ideal": round(rollout / ideal, 2) if ideal else None,
                     "last_arrival_plus_cycle_s": round(arrivals_bound, 1),
                     "rollout_vs_ideal_or_arrivals": round(rollout / bound, 2) if bound else None}
    # Fairness: wait from the run's start to its first slot, against its fair
    # share. The fair share is the wait the node would have had if the
    # longest-waiting node always went next: a FIFO of c slots replayed with
    # the same arrivals (run starts) and the same holds (each node's first
    # slot, as long as it really held it), so a drain that held its slot
    # longer (a PDB) lengthens the fair shares behind it as it lengthened the
    # real waits. At least one mean cycle: slots are handed out as holders
    # give them back, so a wait under one cycle is never counted unfair.
    last_end = max(ends) if ends else 0.0
    replay_jobs = sorted((min(ag.run_starts), ag.name,
                          (first_acquire[ag.name][1] or last_end) - first_acquire[ag.name][0])
                         for ag in busy if ag.run_starts and ag.name in first_acquire)
    replay_wait = fifo_replay(replay_jobs, c)
    # Beside it, the share with every node's hold taken as the mean cycle
    # (ceil((nodes waiting ahead + 1) / c) cycles): what earlier runs
    # reported; it ignores how long the current holders still need.
    waits, nominal = [], []
    for ag in busy:
        if not ag.run_starts or ag.name not in first_acquire:
            continue
        arrive = min(ag.run_starts)
        wait = max(0.0, first_acquire[ag.name][0] - arrive)
        waits.append((wait, max(replay_wait[ag.name], mean_cycle), ag.name, replay_wait[ag.name]))
        ahead = sum(1 for o in busy if o is not ag and o.run_starts and min(o.run_starts) < arrive
                    and (o.name not in first_acquire or first_acquire[o.name][0] > arrive))
        nominal.append((wait, math.ceil((ahead + 1) / c) * mean_cycle, ag.name))
    worst = worst_ratio(waits)
    nominal_worst = worst_ratio(nominal)
    # The order alone, whatever the throughput (which on this box collapses
    # while 1000 agents plan at once): the k-th node to arrive should get the
    # k-th slot handed out. FIFO share = the time from its arrival to the k-th
    # hand-out, at least one mean cycle; and how many nodes that arrived later
    # got a slot first ("overtaken by").
    # "Overtaken" counts only what the lock could have prevented: a later
    # arrival handed a slot (granted or taken, whichever came first) while
    # this node's ticket had been in line for 2 s. One that took a free slot
    # before this node's plan had even joined the line is not counted, nor
    # one handed a slot by a releaser whose LIST of the line was a moment
    # older than this node's ticket. "Later" is by more than 0.2 s: the driver
    # times an arrival by the node's RUN line, the lock by its plan's start, a
    # moment apart (two nodes 0.3 ms apart were seen in either order).
    arrivals = sorted((min(ag.run_starts), ag.name) for ag in busy if ag.run_starts and ag.name in first_acquire)
    grants = sorted(first_acquire[name][0] for _, name in arrivals)
    handed_out = {name: got[0] for name, got in first_acquire.items()}
    for t, _, holder, _ in getattr(f, "slot_events", None) or []:
        if holder in handed_out and t < handed_out[holder]:
            handed_out[holder] = t
    joined = getattr(f, "joined_queue", None) or {}  # node -> its ticket's creation (server time)
    fifo = []
    for k, (arrive, name) in enumerate(arrivals):
        got = first_acquire[name][0]
        share = max(grants[k] - arrive, mean_cycle)
        in_line = joined.get(name, arrive) + 2.0
        overtaken = sum(1 for a2, n2 in arrivals[k + 1:] if a2 > arrive + 0.2 and in_line <= handed_out[n2] < got)
        fifo.append((max(0.0, got - arrive) / share if share else 0, name, overtaken))
    fifo_worst = max(fifo) if fifo else None
    # The lock's promise, whatever the throughput: a node gets its slot within
    # one batch of its turn. Free slots are handed out c at a time, so fewer
    # than c nodes that arrived later may get theirs first; c or more is
    # unfair. A node killed before its first slot lost its place by the fault
    # (it joins again when restarted), so it is not counted as overtaken.
    def waited_unharmed(name):
        return not any(killed < first_acquire[name][0] for killed, _, _ in agents[name].deaths)
    judged = [x for x in fifo if waited_unharmed(x[1])]
    most_overtaken = max(judged, key=lambda x: x[2]) if judged else None
    # Asserted without faults: failed requests and a server restart make a
    # node miss its grant or lose its ticket, and the report shows what then.
    if not a.faults and most_overtaken and most_overtaken[2] >= c:
        problems.append("fairness: %s got its slot after %d nodes that arrived later (at most %d: one batch of "
                        "free slots)" % (most_overtaken[1], most_overtaken[2], c - 1))
    # The same from the moment a node joined the lock's queue (its ticket, from
    # the server's timeline): the lock's own fairness, without the plan a node
    # makes before it queues (seconds on a 2-core box running 1000 agents).
    qwaits = []
    for ag in busy:
        if ag.name not in first_acquire:
            continue
        got = first_acquire[ag.name][0]
        arrive = joined.get(ag.name, got)
        ahead = sum(1 for o in busy if o is not ag and joined.get(o.name, float("inf")) < arrive
                    and (o.name not in first_acquire or first_acquire[o.name][0] > arrive))
        fair = math.ceil((ahead + 1) / c) * mean_cycle
        qwaits.append((max(0.0, got - arrive), fair, ag.name))
    qworst = worst_ratio(qwaits) if joined else None
    if not a.faults and worst and worst[1] and worst[0] / worst[1] > 2.0:
        problems.append("fairness: %s waited %.1fs, over 2x its fair share %.1fs (a FIFO replayed with the same "
                        "arrivals and holds)" % (worst[2], worst[0], worst[1]))
    res["fairness"] = {"max_wait_s": round(max(w[0] for w in waits), 1) if waits else None,
                       "worst_ratio": round(worst[0] / worst[1], 2) if worst and worst[1] else None,
                       "worst_node": worst[2] if worst else None,
                       "worst_wait_s": round(worst[0], 1) if worst else None,
                       "worst_fair_share_s": round(worst[1], 1) if worst else None,
                       "worst_fifo_replay_wait_s": round(worst[3], 1) if worst else None,
                       "nominal_worst_ratio": round(nominal_worst[0] / nominal_worst[1], 2)
                       if nominal_worst and nominal_worst[1] else None,
                       "nominal_worst_node": nominal_worst[2] if nominal_worst else None,
                       "queue_worst_ratio": round(qworst[0] / qworst[1], 2) if qworst and qworst[1] else None,
                       "queue_worst_node": qworst[2] if qworst else None,
                       "queue_worst_wait_s": round(qworst[0], 1) if qworst else None,
                       "queue_worst_fair_share_s": round(qworst[1], 1) if qworst else None,
                       "fifo_worst_ratio": round(fifo_worst[0], 2) if fifo_worst else None,
                       "fifo_worst_node": fifo_worst[1] if fifo_worst else None,
                       "most_overtaken_by": most_overtaken[2] if most_overtaken else None,
                       "most_overtaken_node": most_overtaken[1] if most_overtaken else None}

    # Load.
    wait_window = {}
    for ag in busy:
        if ag.run_starts and ag.name in first_acquire:
            wait_window[ag.name] = (min(ag.run_starts), first_acquire[ag.name][0])
    per_sec = {}
    per_agent_wait = {}
    idle_requests = 0
    unattributed = 0
    by_kind, by_kind_waiting = {}, {}
    t_min = f.t0
    # The cost of waiting in line, as the issue counts a waiting agent: from
    # its ticket's creation (it joined the line; the plan's reads before are
    # the drain's) until a slot is handed to it (the take is the drain's
    # start). Every request of the node in between, watches included; how
    # many watches it had open at once; how many watches started fleet-wide
    # in one second (a lockstep would show as a spike).
    in_line = {name: (tj, handed_out[name]) for name, tj in joined.items()
               if name in handed_out and handed_out[name] > tj and name in agents and not agents[name].deaths}
    in_line_req, in_line_watches, open_watches = {}, {}, {}
    watch_starts = {}
    for r in f.requests:
        t, verb, resource, ns, node = r[0], r[1], r[2], r[3], r[4]
        if verb == "watch" and resource == "leases":
            watch_starts[int(t - t_min)] = watch_starts.get(int(t - t_min), 0) + 1
        if not node:
            unattributed += 1
            continue
        ag = agents.get(node)
        if ag is not None and ag.idle:
            idle_requests += 1
        w = wait_window.get(node)
        waiting = w is not None and w[0] <= t < w[1]
        cls = "lock" if resource == "leases" or waiting or (resource == "events" and ns == LOCK_NS) else "drain"
        key = verb + " " + resource
        by_kind[key] = by_kind.get(key, 0) + 1
        if waiting:
            per_agent_wait[node] = per_agent_wait.get(node, 0) + 1
            by_kind_waiting[key] = by_kind_waiting.get(key, 0) + 1
        sec = int(t - t_min)
        b = per_sec.setdefault(sec, {"lock": 0, "drain": 0, "coordination": 0})
        b[cls] += 1
        # The lock's own traffic only (its Leases and Events), whatever the
        # node was doing: what the fleet costs beyond the drains and plans.
        if resource == "leases" or (resource == "events" and ns == LOCK_NS):
            b["coordination"] += 1
        line = in_line.get(node)
        if line is None or not (line[0] <= t < line[1]):
            continue
        in_line_req[node] = in_line_req.get(node, 0) + 1
        if verb == "watch":
            in_line_watches[node] = in_line_watches.get(node, 0) + 1
            # The server logs a watch's end when it notices the client gone:
            # at its next write, a bookmark every second (apiserver.py
            # BOOKMARK_INTERVAL), later under load. So a span counts to its
            # logged end minus 2.5 s: a watch the agent replaced at once is
            # not counted twice.
            dur = (r[6] or 0) / 1000.0 if len(r) > 6 else 0.0
            open_watches.setdefault(node, []).append((t, max(t, t + dur - 2.5)))
    most_open = 0
    for node, spans in open_watches.items():
        edges = sorted([(a0, 1) for a0, _ in spans] + [(a1, -1) for _, a1 in spans])
        cur = 0
        for _, d in edges:
            cur += d
            most_open = max(most_open, cur)
    line_min = sum((w1 - w0) / 60.0 for w0, w1 in in_line.values())
    long_waits = {n: w for n, w in in_line.items() if w[1] - w[0] >= 120}
    long_min = sum((w1 - w0) / 60.0 for w0, w1 in long_waits.values())
    per_wait = [in_line_req.get(n, 0) for n in in_line]
    # A waiting agent costs one watch plus about one request a minute: at most
    # a fixed few for joining and being woken (the LIST and watch after its
    # ticket, a new watch when put on deck, the LIST when woken, and a few
    # lost races for a free slot: a LIST and a write each; 7 seen at N = 1000)
    # and one more per minute in line.
    over_budget = sorted(((in_line_req.get(n, 0) - (w1 - w0) / 60.0, n) for n, (w0, w1) in in_line.items()),
                         reverse=True)
    if not a.faults and over_budget and over_budget[0][0] > IN_LINE_FIXED_REQUESTS:
        problems.append("load: %s made %d requests while in line for %.1f min (at most %d + 1 a minute)" % (
            over_budget[0][1], in_line_req.get(over_budget[0][1], 0),
            (in_line[over_budget[0][1]][1] - in_line[over_budget[0][1]][0]) / 60.0, IN_LINE_FIXED_REQUESTS))
    rates = []
    for name, (w0, w1) in wait_window.items():
        minutes = (w1 - w0) / 60.0
        if minutes >= 1.0 / 60:
            rates.append(per_agent_wait.get(name, 0) / minutes)
    total_wait_min = sum((w1 - w0) / 60.0 for w0, w1 in wait_window.values())
    lock_rates = [b["lock"] for b in per_sec.values()]
    coord_rates = [b["coordination"] for b in per_sec.values()]

    def max_10s(key):
        return round(max((sum(per_sec.get(t, {}).get(key, 0) for t in range(t0, t0 + 10)) / 10.0
                          for t0 in per_sec), default=0), 1)
    res["load"] = {"requests_total": sum(b["lock"] + b["drain"] for b in per_sec.values()),
                   "requests_unattributed": unattributed,
                   "requests_by_nodes_with_nothing_to_do": idle_requests,
                   "waiting_requests_per_agent_minute": round(sum(per_agent_wait.values()) / total_wait_min, 1)
                   if total_wait_min else None,
                   "waiting_requests_per_agent_minute_max": round(max(rates), 1) if rates else None,
                   "lock_requests_per_s_max": max(lock_rates) if lock_rates else 0,
                   "lock_requests_per_s_mean": round(sum(lock_rates) / len(lock_rates), 1) if lock_rates else 0,
                   # The largest mean over 10 s: what a rate limit (API Priority
                   # and Fairness) sees, rather than one second's burst.
                   "lock_requests_per_s_max_10s": max_10s("lock"),
                   # Leases and the lock's Events only (not the plans, drains, Node reads).
                   "coordination_requests_per_s_max": max(coord_rates) if coord_rates else 0,
                   "coordination_requests_per_s_max_10s": max_10s("coordination"),
                   "coordination_requests_per_s_mean": round(sum(coord_rates) / len(coord_rates), 1)
                   if coord_rates else 0,
                   "in_line_agents": len(in_line),
                   "in_line_minutes": round(line_min, 1),
                   "in_line_requests_per_agent_minute": round(sum(per_wait) / line_min, 2) if line_min else None,
                   "in_line_requests_per_wait_mean": round(statistics.mean(per_wait), 1) if per_wait else None,
                   "in_line_requests_per_wait_max": max(per_wait) if per_wait else None,
                   "in_line_watches_per_wait_mean": round(statistics.mean([in_line_watches.get(n, 0)
                                                                           for n in in_line]), 2) if in_line else None,
                   "in_line_waits_of_2min_or_more": len(long_waits),
                   "in_line_requests_per_agent_minute_waits_2min_or_more":
                   round(sum(in_line_req.get(n, 0) for n in long_waits) / long_min, 2) if long_min else None,
                   "max_watches_open_at_once_per_waiting_agent": most_open,
                   "in_line_most_requests_beyond_one_a_minute": round(over_budget[0][0], 1) if over_budget else None,
                   "in_line_most_requests_beyond_one_a_minute_node": over_budget[0][1] if over_budget else None,
                   "lease_watch_starts_max_per_s": max(watch_starts.values()) if watch_starts else 0,
                   "by_verb_resource": dict(sorted(by_kind.items(), key=lambda kv: -kv[1])),
                   "by_verb_resource_while_waiting": dict(sorted(by_kind_waiting.items(), key=lambda kv: -kv[1])),
                   "per_second": [{"t": s, **per_sec[s]} for s in sorted(per_sec)]}
    if idle_requests:
        problems.append("load: nodes with nothing to do made %d requests" % idle_requests)

    # Takeover: each slot a dead agent held when it died, and still held when its
    # agent had been dead lock_ttl, goes to exactly one other node.
    takeovers = []
    for ag in busy:
        for killed, restarted, phase in ag.deaths:
            held = [(lease, t0, t1) for lease, h, t0, t1 in intervals if h == ag.name and t0 <= killed
                    and (t1 is None or t1 > killed)]
            for lease, t0, t1 in held:
                if restarted is not None and (t1 is None or t1 >= restarted):
                    continue  # its agent came back and gave it back itself
                # Handed to it and not taken when it died: a grant it missed.
                # The releaser hands it to the next node after
                # lock_handoff_timeout; that is not a takeover (no Event).
                last = [g for t, l2, h, g in getattr(f, "slot_events", []) if l2 == lease and t <= killed]
                if last and last[-1]:
                    nxt = [h for l2, h, s0, _ in intervals if l2 == lease and s0 >= (t1 or 1e18) - 0.01]
                    takeovers.append({"dead_node": ag.name, "lease": lease, "released_at": t1,
                                      "taken_by": nxt[0] if nxt else None, "event": False, "event_message": None,
                                      "not_owed": "a grant it had not taken yet; handed on"})
                    continue
                # A takeover is owed to a live node that kept waiting until it
                # could count the slot expired: a waiter does so by its own
                # clock, lock_ttl after it first saw the record unchanged (at
                # the earliest the holder's death, or its own arrival). A node
                # that found a free slot sooner was not held up by the dead one.
                waiting_then = [o.name for o in busy if not o.dead_forever and o.run_starts
                                and (first_acquire[o.name][0] if o.name in first_acquire else 1e18)
                                > max(min(o.run_starts), killed) + a.lock_ttl]
                if not waiting_then and t1 is None:
                    takeovers.append({"dead_node": ag.name, "lease": lease, "released_at": None, "taken_by": None,
                                      "event": False, "event_message": None,
                                      "not_owed": "no live node waited lock_ttl while it was held (free slots "
                                                  "served them)"})
                    continue
                nxt = [(h, s0) for l2, h, s0, _ in intervals if l2 == lease and s0 >= (t1 or 1e18) - 0.01]
                nxt.sort(key=lambda x: x[1])
                ev = [e for e in f.events if "RebootLockTakenOver" in (e.get("reason") or "")
                      and ag.name in (e.get("message") or "")]
                item = {"dead_node": ag.name, "lease": lease, "released_at": t1,
                        "taken_by": nxt[0][0] if nxt else None, "event": bool(ev),
                        "event_message": ev[0].get("message") if ev else None}
                takeovers.append(item)
                if not nxt or nxt[0][0] == ag.name:
                    problems.append("takeover: slot %s of dead %s was not taken over" % (lease, ag.name))
                if not ev:
                    problems.append("takeover: no RebootLockTakenOver Event naming %s" % ag.name)
    taken_events = [e for e in f.events if "RebootLockTakenOver" in (e.get("reason") or "")]
    res["takeover"] = {"expected": takeovers, "events": len(taken_events)}
    owed = [t for t in takeovers if not t.get("not_owed")]
    if len(taken_events) > len(owed):
        dup = len(taken_events) - len(owed)
        if dup > 0:
            problems.append("takeover: %d RebootLockTakenOver Event(s) more than dead slots" % dup)

    res["memory"] = {"peak_total_rss_mib": round(f.rss_peak / 2**20, 1),
                     "peak_total_pss_mib": round(f.pss_peak / 2**20, 1),
                     "peak_agents_rss_mib": round(f.rss_agents_peak / 2**20, 1),
                     "peak_server_rss_mib": round(f.server_rss_peak / 2**20, 1)}
    for x in f.fault_log:  # what happened of each planned kill (times from the agents' spawn)
        x["kills"] = [{"killed_s": round(k - f.t0, 1), "restarted_s": round(r - f.t0, 1) if r else None,
                       "phase": ph} for k, r, ph in agents[x["node"]].deaths]
    res["faults_planned"] = f.fault_log
    res["server_restart_at_s"] = round(f.restart_at - f.t0, 1) if f.restart_at else None
    res["faults_server"] = (f.report or {}).get("faults") if f.fleet_api else {"injected_by_driver": f.injected_faults}
    res["problems"] = problems
    res["series"] = series(f)
    return res


def series(f):
    """Per second: slot holders and unschedulable nodes (from the driver's polls)."""
    out = {}
    for t, holders in f.lease_snaps:
        out.setdefault(int(t - f.t0), {})["holders"] = sum(1 for h in holders.values() if h)
    for t, unsched in f.unsched_snaps:
        out.setdefault(int(t - f.t0), {})["unschedulable"] = len(unsched)
    # A second with only one kind of change keeps the other's last value (a
    # missing key read as 0 drew the holders line down to 0 and back).
    rows, last = [], {"holders": 0, "unschedulable": 0}
    for s in sorted(out):
        last = {**last, **out[s]}
        if s >= 0:
            rows.append({"t": s, **last})
    return rows


# -- output -----------------------------------------------------------------------------

def svg(res, path):
    """requests/s (lock vs drain) over time, slot holders and unschedulable nodes on a second axis."""
    ps = res["load"]["per_second"]
    se = res["series"]
    W, H, L, R, T, B = 1000, 420, 60, 60, 40, 50
    tmax = max([p["t"] for p in ps] + [s["t"] for s in se] + [1])
    ymax = max([p["lock"] + p["drain"] for p in ps] + [1])
    y2max = max([max(s.get("holders", 0), s.get("unschedulable", 0)) for s in se] + [res["concurrency"], 1])

    def x(t):
        return L + (W - L - R) * t / tmax

    def y(v):
        return H - B - (H - T - B) * v / ymax

    def y2(v):
        return H - B - (H - T - B) * v / y2max

    def line(points, color, width=1.5, dash=""):
        pts = " ".join("%.1f,%.1f" % p for p in points)
        d = ' stroke-dasharray="%s"' % dash if dash else ""
        return '<polyline fill="none" stroke="%s" stroke-width="%s"%s points="%s"/>' % (color, width, d, pts)

    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">'
         % (W, H), '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="20" font-size="14">fleet: N=%d, concurrency %d%s; rollout %ss</text>'
         % (L, res["n"], res["concurrency"], ", faults" if res["faults"] else "", res["timing"]["rollout_s"])]
    o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, H - B, W - R, H - B))
    o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, T, L, H - B))
    o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (W - R, T, W - R, H - B))
    for i in range(6):
        v = ymax * i / 5
        o.append('<text x="%d" y="%.1f" text-anchor="end">%d</text>' % (L - 4, y(v) + 4, round(v)))
        v2 = y2max * i / 5
        o.append('<text x="%d" y="%.1f">%.1f</text>' % (W - R + 4, y2(v2) + 4, v2))
        tt = tmax * i / 5
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%d s</text>' % (x(tt), H - B + 16, round(tt)))
    o.append('<text x="12" y="%d" transform="rotate(-90 12 %d)">requests/s</text>' % (H // 2, H // 2))
    o.append('<text x="%d" y="%d" transform="rotate(90 %d %d)">nodes</text>' % (W - 12, H // 2, W - 12, H // 2))
    o.append(line([(x(p["t"]), y(p["lock"])) for p in ps], "#d62728"))
    o.append(line([(x(p["t"]), y(p["drain"])) for p in ps], "#1f77b4"))
    o.append(line([(x(p["t"]), y(p.get("coordination", 0))) for p in ps], "#ff7f0e"))
    o.append(line([(x(s["t"]), y2(s.get("holders", 0))) for s in se], "#2ca02c", 2, "6,3"))
    o.append(line([(x(s["t"]), y2(s.get("unschedulable", 0))) for s in se], "#9467bd", 2, "2,2"))
    legend = [("#d62728", "lock/waiting requests/s"), ("#1f77b4", "drain requests/s"),
              ("#ff7f0e", "lock Leases+Events/s"),
              ("#2ca02c", "slot holders (right)"), ("#9467bd", "unschedulable nodes (right)")]
    for i, (color, label) in enumerate(legend):
        o.append('<rect x="%d" y="%d" width="12" height="3" fill="%s"/>' % (L + 10 + 176 * i, H - 14, color))
        o.append('<text x="%d" y="%d">%s</text>' % (L + 26 + 176 * i, H - 9, label))
    o.append("</svg>")
    with open(path, "w") as fh:
        fh.write("\n".join(o) + "\n")


# What a wait in line may cost beyond one request a minute (see the load check).
IN_LINE_FIXED_REQUESTS = 10


def worst_ratio(rows):
    """The row (wait, share, ...) with the largest wait / share; None for none."""
    return max(rows, key=lambda w: (w[0] / w[1]) if w[1] else 0) if rows else None


def fifo_replay(jobs, c):
    """Waits under a perfect FIFO of c slots: jobs are (arrival, name, hold)
    sorted by arrival; each goes to the slot that frees first, at once if one
    is free. Returns name -> wait."""
    free_at = [float("-inf")] * c
    waits = {}
    for arrive, name, hold in jobs:
        start = max(arrive, heapq.heappop(free_at))
        waits[name] = start - arrive
        heapq.heappush(free_at, start + max(0.0, hold))
    return waits


def summary_text(res):
    s, lv, tm, fa, ld, tk = (res["safety"], res["liveness"], res["timing"], res["fairness"], res["load"],
                             res["takeover"])
    lines = [
        "fleet: N=%d (+%d idle), concurrency %d, faults %s, seed %d, server fleet endpoints %s" % (
            res["n"], res["idle_nodes"], res["concurrency"], res["faults"], res["seed"], res["fleet_api"]),
        "safety: max live slot holders %d; max unschedulable %d; over concurrency by dead agents: %s; "
        "at the end cordoned %s, slots held %s" % (
            s["max_live_holders"], s["max_unschedulable"], s["unschedulable_over_concurrency_by_dead_agents"] or "-",
            s["final_unschedulable"] or "-",
            {k: v for k, v in s["final_slots_held"].items() if v and not k.startswith(LOCK_PREFIX + "-queue-")} or "-"),
        "dead agents' nodes left cordoned: %s" % (
            ", ".join("%s (%s; %s)" % (d["node"], d["condition"], "+".join(d["events"]) or "no Event")
                      for d in s.get("dead_left_cordoned") or []) or "-"),
        "liveness: %d/%d live nodes rebooted; never back: %s; DONE statuses %s" % (
            lv["rebooted"], lv["alive_nodes"], lv["dead_forever"] or "-", lv["done_status"]),
        "timing: rollout %ss, ideal %ss (N/c x mean cycle %ss; median %ss): ratio %s; against the last arrival "
        "+ one cycle (%ss) where that is later: %s" % (
            tm["rollout_s"], tm["ideal_s"], tm["mean_cycle_s"], tm["median_cycle_s"], tm["rollout_vs_ideal"],
            tm.get("last_arrival_plus_cycle_s"), tm.get("rollout_vs_ideal_or_arrivals")),
        "fairness: max wait %ss; worst wait/fair share (FIFO replay) %s (%s: %ss vs %ss); with every hold the "
        "mean cycle: %s (%s); in the queue: %s (%s: %ss vs %ss)" % (
            fa["max_wait_s"], fa["worst_ratio"], fa["worst_node"], fa["worst_wait_s"], fa["worst_fair_share_s"],
            fa.get("nominal_worst_ratio"), fa.get("nominal_worst_node"),
            fa.get("queue_worst_ratio"), fa.get("queue_worst_node"), fa.get("queue_worst_wait_s"),
            fa.get("queue_worst_fair_share_s")) +
        "; against FIFO hand-out order: worst %s (%s); most overtaken: %s by %s nodes that arrived later" % (
            fa.get("fifo_worst_ratio"), fa.get("fifo_worst_node"), fa.get("most_overtaken_node"),
            fa.get("most_overtaken_by")),
        "load: %d requests by agents; lock/waiting max %d/s (over 10 s: %s/s), mean %s/s; the lock's Leases and "
        "Events alone max %s/s (over 10 s: %s/s), mean %s/s; from the run's start to its slot %s "
        "req/agent-min (max %s); in line (ticket to slot): %s agents, %s req/agent-min, %s requests per wait "
        "(max %s, watches %s; most beyond one a minute %s), %s req/agent-min over the %s waits of 2 min or more; "
        "watches open at once per waiting agent: at most %s; lease watches started in one second: at most %s; "
        "nothing to do: %d requests" % (
            ld["requests_total"], ld["lock_requests_per_s_max"], ld.get("lock_requests_per_s_max_10s"),
            ld["lock_requests_per_s_mean"], ld.get("coordination_requests_per_s_max"),
            ld.get("coordination_requests_per_s_max_10s"), ld.get("coordination_requests_per_s_mean"),
            ld["waiting_requests_per_agent_minute"], ld["waiting_requests_per_agent_minute_max"],
            ld.get("in_line_agents"), ld.get("in_line_requests_per_agent_minute"),
            ld.get("in_line_requests_per_wait_mean"), ld.get("in_line_requests_per_wait_max"),
            ld.get("in_line_watches_per_wait_mean"), ld.get("in_line_most_requests_beyond_one_a_minute"),
            ld.get("in_line_requests_per_agent_minute_waits_2min_or_more"), ld.get("in_line_waits_of_2min_or_more"),
            ld.get("max_watches_open_at_once_per_waiting_agent"), ld.get("lease_watch_starts_max_per_s"),
            ld["requests_by_nodes_with_nothing_to_do"]),
        "takeover: %s; RebootLockTakenOver events %d" % (
            ["%s %s -> %s (event %s)" % (t["dead_node"], t["lease"], t["taken_by"], t["event"])
             for t in tk["expected"]] or "none expected", tk["events"]),
        "faults: agents %s; requests %s; server restart at %s s" % (
            ["%s %s %s%s" % (x["node"], x["phase"], "restarted after %.1fs" % x["restart_after"]
                             if x["restart_after"] else "never back", "" if x["kills"] else " (phase never met)")
             for x in res["faults_planned"]] or "-",
            res["faults_server"] or "-", res["server_restart_at_s"]),
        "memory: peak RSS %s MiB (agents %s, server %s); peak PSS %s MiB" % (
            res["memory"]["peak_total_rss_mib"], res["memory"]["peak_agents_rss_mib"],
            res["memory"]["peak_server_rss_mib"], res["memory"]["peak_total_pss_mib"]),
    ]
    if res["problems"]:
        lines.append("PROBLEMS:")
        lines += ["  " + p for p in res["problems"]]
    else:
        lines.append("all checks passed")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("NODEAGENT_BUILD", os.path.join(REPO, "build")))
    ap.add_argument("-n", type=int, default=12, help="nodes that need a reboot")
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--idle-nodes", type=int, default=None, help="nodes without the sentinel (default: max(2, N/20))")
    ap.add_argument("--faults", action="store_true")
    ap.add_argument("--out", default="/tmp/fleet")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jitter", type=float, default=None, help="scheduler jitter window, s (default: max(3, 0.03 N))")
    ap.add_argument("--no-server-restart", dest="server_restart", action="store_false",
                    help="with --faults: no API server restart")
    ap.add_argument("--down-time", type=float, default=3.0)
    ap.add_argument("--lock-ttl", type=int, default=60, help="lock_ttl in s (its minimum is 60)")
    ap.add_argument("--terminating-seconds", type=float, default=0.3)
    ap.add_argument("--start-delay", type=float, default=None,
                    help="from spawning to the window's start, s (default: 2 + N/200, time to spawn them all)")
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--check", action="store_true", help="exit 1 when a check fails")
    ap.add_argument("--apiserver", help="another apiserver.py to run (default: tests/apiserver's)")
    a = ap.parse_args(argv)
    if a.idle_nodes is None:
        a.idle_nodes = max(2, a.n // 20)
    if a.start_delay is None:
        a.start_delay = 2.0 + a.n / 200.0
    if a.jitter is None:
        a.jitter = max(3.0, 0.03 * a.n)
    a.build = os.path.abspath(a.build)
    if a.apiserver:
        testserver.APISERVER = os.path.abspath(a.apiserver)
    random.seed(a.seed)
    f = Fleet(a)
    f.start_server()
    try:
        f.make_cluster()
        f.schedule()
        f.run()
        f.collect()
    finally:
        for ag in f.agents.values():
            f.kill(ag)
        f.srv.cleanup()
    res = analyse(f)
    with open(os.path.join(f.out, "result.json"), "w") as fh:
        json.dump(res, fh, indent=1)
    svg(res, os.path.join(f.out, "requests.svg"))
    text = summary_text(res)
    with open(os.path.join(f.out, "summary.txt"), "w") as fh:
        fh.write(text)
    sys.stdout.write(text)
    return 1 if (a.check and res["problems"]) else 0


if __name__ == "__main__":
    sys.exit(main())
