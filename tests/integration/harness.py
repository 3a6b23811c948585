"""Runs the real nodeagent daemon on a temp root, temp state and temp socket
for the integration tests, and drives it with the real agentctl.

Each Agent owns one temp dir; the daemon is a subprocess that is always
stopped (and its workers killed by pid) in cleanup, so a failing test leaves
nothing running. Nothing here touches the host: the daemon's root prefix is
the temp dir, and only the test plugins are loaded.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BUILD = os.environ.get("NODEAGENT_BUILD_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build"))
NODEAGENT = os.path.join(BUILD, "bin", "nodeagent")
AGENTCTL = os.path.join(BUILD, "bin", "agentctl")
RUNNER = os.path.join(BUILD, "bin", "nodeagent-runner")
TEST_PLUGINS = os.path.join(BUILD, "test-plugins")

# agentctl as user nobody, whose primary group is nogroup (the socket group).
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--init-groups"]
# A uid and gid outside the socket group: may not even connect.
AS_OUTSIDER = ["setpriv", "--reuid=12345", "--regid=12345", "--clear-groups"]


def wait_for(pred, timeout, interval=0.05, what="condition"):
    """Polls pred() until it returns something truthy; returns it, or raises."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid):
    """True when pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def is_worker(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"worker" in f.read()
    except OSError:
        return False


def children_of(ppid):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == ppid:
                out.append(int(name))
        except (OSError, IndexError, ValueError):
            pass
    return out


def connect_waiting_for_backlog(sock, path, timeout):
    """Connects a socket that has a timeout the way agentctl's blocking
    connect does: a Unix socket whose listen backlog is full answers a
    non-blocking connect with EAGAIN at once, where a blocking one waits for
    the daemon to accept. Retries until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock.connect(path)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class Agent:
    """One daemon on a temp root. `tasks` is TOML appended to the config."""

    def __init__(self, tasks="", agent_extra="", unsafe=True, plugin_dir=TEST_PLUGINS, boot_id="boot-1"):
        self.dir = tempfile.mkdtemp(prefix="nodeagent-itest-")
        os.chmod(self.dir, 0o755)  # nobody must reach the socket inside
        self.root = os.path.join(self.dir, "root")
        self.state = os.path.join(self.dir, "state")
        self.socket = os.path.join(self.dir, "agent.sock")
        self.exec_dir = os.path.join(self.dir, "exec")
        self.config = os.path.join(self.dir, "agent.toml")
        self.log_path = os.path.join(self.dir, "daemon.log")
        os.makedirs(os.path.join(self.root, "proc/sys/kernel/random"))
        os.makedirs(self.exec_dir)
        self.set_boot_id(boot_id)
        with open(os.path.join(self.root, "proc/sys/kernel/hostname"), "w") as f:
            f.write("itest-node\n")
        self.plugin_dir = plugin_dir
        self.unsafe = unsafe
        self.agent_extra = agent_extra
        self.proc = None
        self.workers_seen = set()
        self.write_config(tasks)

    # ---- files -----------------------------------------------------------

    def set_boot_id(self, boot_id):
        with open(os.path.join(self.root, "proc/sys/kernel/random/boot_id"), "w") as f:
            f.write(boot_id + "\n")

    def agent_table(self):
        return (
            "[agent]\n"
            f'root = "{self.root}"\n'
            f'state_dir = "{self.state}"\n'
            f'socket = "{self.socket}"\n'
            'socket_group = "nogroup"\n'
            f'plugin_dir = "{self.plugin_dir}"\n'
            f'exec_plugin_dir = "{self.exec_dir}"\n'
            f"allow_unsafe_plugin_owner = {'true' if self.unsafe else 'false'}\n"
            'shutdown_grace = "3s"\n'
            'kill_grace = "1s"\n' + self.agent_extra + "\n"
        )

    def write_config(self, tasks="", raw=None):
        text = raw if raw is not None else self.agent_table() + tasks
        tmp = self.config + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.config)

    def seed_task_state(self, states):
        """states: {task: last_run_epoch_seconds} written as the scheduler's tasks.json."""
        os.makedirs(self.state, exist_ok=True)
        data = {t: {"last_run_ms": int(s * 1000), "last_boot_id": "boot-0"} for t, s in states.items()}
        with open(os.path.join(self.state, "tasks.json"), "w") as f:
            json.dump(data, f)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # ---- daemon ----------------------------------------------------------

    def start(self, wait=True):
        if getattr(self, "log_file", None):
            self.log_file.close()
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([NODEAGENT, "--config", self.config], stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=self.log_file, cwd=self.dir)
        if wait:
            wait_for(lambda: self.ping() or self.proc.poll() is not None, 10, what="the daemon to answer ping")
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
        return self.proc

    def ping(self):
        try:
            return self.request({"op": "ping"}, timeout=1).get("type") == "pong"
        except OSError:
            return False

    def track_workers(self):
        """Remembers the daemon's current worker children (killed in cleanup)."""
        if self.proc and self.proc.poll() is None:
            for pid in children_of(self.proc.pid):
                self.workers_seen.add(pid)
        return self.workers_seen

    def stop(self, timeout=3):
        """SIGTERM, then (if the daemon lingers) SIGTERM again, then SIGKILL. Returns the exit code."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.track_workers()
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill9(self):
        self.track_workers()
        self.proc.kill()
        self.proc.wait()

    def cleanup(self):
        try:
            self.stop()
        finally:
            for pid in self.workers_seen:
                if pid_alive(pid) and is_worker(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            if getattr(self, "log_file", None):
                self.log_file.close()
            if os.environ.get("NODEAGENT_ITEST_KEEP"):
                print("kept", self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    # ---- clients ---------------------------------------------------------

    def ctl(self, *args, prefix=(), timeout=60, config=True, input=None):
        """Runs agentctl (with --config unless config=False); returns CompletedProcess."""
        argv = list(prefix) + [AGENTCTL] + (["--config", self.config] if config else []) + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input, cwd=self.dir)

    def ctl_json(self, *args, **kw):
        r = self.ctl("-o", "json", *args, **kw)
        if r.returncode != 0:
            raise AssertionError(f"agentctl {args} exited {r.returncode}: {r.stderr}")
        return json.loads(r.stdout)

    def request(self, obj, timeout=5):
        """One request on the socket; returns the first answer line as JSON."""
        data = obj if isinstance(obj, bytes) else (json.dumps(obj) + "\n").encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            connect_waiting_for_backlog(s, self.socket, timeout)
            s.sendall(data)
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf.split(b"\n", 1)[0]) if buf.strip() else {}

    def history(self, task="", n=100):
        req = {"op": "history", "n": n}
        if task:
            req["task"] = task
        return self.request(req)["runs"]

    def run_record(self, run_id):
        return self.request({"op": "logs", "run_id": run_id}).get("record")

    def status(self):
        return self.request({"op": "status"})

    def start_detached(self, target, *sets):
        """Starts a run through the daemon without following it; returns its id."""
        args = ["run", target, "--detach"]
        for s in sets:
            args += ["--set", s]
        out = self.ctl_json(*args)
        return out["run_id"]

    def wait_finished(self, run_id, timeout=20):
        def done():
            r = self.run_record(run_id)
            return r if r and r["status"] not in ("running", "pending") else None

        return wait_for(done, timeout, what=f"run {run_id} to finish")

    def wait_running_worker(self, run_id, timeout=10):
        """Waits until the run's worker child exists; returns its pid."""
        def find():
            st = self.status()
            if not any(r["run_id"] == run_id for r in st.get("running", [])):
                return None
            kids = [p for p in children_of(self.proc.pid) if is_worker(p)]
            return kids[0] if len(kids) == 1 else None

        pid = wait_for(find, timeout, what=f"the worker of run {run_id}")
        self.workers_seen.add(pid)
        return pid
