"""Agents under test for the drain-and-reboot integration tests and bench/drain.sh.

Why it exists: every drain test needs the same setup: a temp host root with a
boot id and hostname, the test API server's kubeconfig copied under that root
(the agent reads its kubeconfig through the host seam, i.e. under
agent.root), an agent.toml, the real daemon started and stopped (SIGTERM,
kill -9), and agentctl runs. Standard library only.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "apiserver"))
BUILD = os.environ.get("NODEAGENT_BUILD", os.path.join(REPO, "build"))
NODEAGENT = os.path.join(BUILD, "bin", "nodeagent")
AGENTCTL = os.path.join(BUILD, "bin", "agentctl")
PLUGINS = os.path.join(BUILD, "plugins")

from testserver import ServerTestCase, TestServer  # noqa: E402
import make_nodes as mk  # noqa: E402

__all__ = ["Agent", "ServerTestCase", "TestServer", "mk", "wait_until"]


def wait_until(pred, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


class Agent:
    """One node's agent: temp root + state + config, daemon on demand."""

    def __init__(self, server, node, qps=None, burst=None, extra_toml="", kubeconfig=None):
        self.server = server
        self.node = node
        self.dir = tempfile.mkdtemp(prefix="drain-agent-%s-" % node)
        self.root = os.path.join(self.dir, "root")
        self.daemon = None
        self.set_boot_id(str(uuid.uuid4()))
        self._write(os.path.join(self.root, "proc/sys/kernel/hostname"), node + "\n")
        self.marker = os.path.join(self.dir, "rebooted")
        self.reboot_stub = os.path.join(self.dir, "reboot-stub.sh")
        self._write(self.reboot_stub, "#!/bin/sh\necho \"$(date +%%s.%%N) $*\" >> %s\n" % self.marker)
        os.chmod(self.reboot_stub, 0o755)
        shutil.copy(kubeconfig or server.kubeconfig_token,
                    self._mk(os.path.join(self.root, "etc/nodeagent/kubeconfig")))
        os.makedirs(os.path.join(self.dir, "exec"), exist_ok=True)
        kube = '[kubernetes]\nkubeconfig = "/etc/nodeagent/kubeconfig"\n'
        if qps is not None:
            kube += "qps = %s\nburst = %d\n" % (qps, burst or int(qps * 2))
        self.config = os.path.join(self.dir, "agent.toml")
        self._write(self.config, (
            '[agent]\nroot = "{root}"\nstate_dir = "{d}/state"\nsocket = "{d}/agent.sock"\n'
            'plugin_dir = "{plugins}"\nexec_plugin_dir = "{d}/exec"\nallow_unsafe_plugin_owner = true\n'
            'node_name = "{node}"\n\n{kube}\n{extra}\n').format(root=self.root, d=self.dir, plugins=PLUGINS,
                                                              node=node, kube=kube, extra=extra_toml))

    @staticmethod
    def _mk(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def _write(self, path, text):
        with open(self._mk(path), "w") as f:
            f.write(text)

    # -- host ----------------------------------------------------------------------
    def boot_id(self):
        with open(os.path.join(self.root, "proc/sys/kernel/random/boot_id")) as f:
            return f.read().strip()

    def set_boot_id(self, value):
        self._write(os.path.join(self.root, "proc/sys/kernel/random/boot_id"), value + "\n")

    def reboot_calls(self):
        try:
            with open(self.marker) as f:
                return [l for l in f.read().splitlines() if l.strip()]
        except FileNotFoundError:
            return []

    # -- daemon ----------------------------------------------------------------------
    def start(self):
        self._log = open(os.path.join(self.dir, "daemon.log"), "ab")
        self.daemon = subprocess.Popen([NODEAGENT, "--config", self.config], stdout=self._log, stderr=self._log,
                                       start_new_session=True)
        sock = os.path.join(self.dir, "agent.sock")
        try:
            wait_until(lambda: self.daemon.poll() is not None or
                       (os.path.exists(sock) and self.ctl("status", "--no-cluster", check=False).returncode == 0), 15,
                       what="daemon socket of " + self.node)
        except AssertionError as e:
            raise AssertionError("%s; daemon log:\n%s" % (e, self.daemon_log()[-4000:])) from None
        if self.daemon.poll() is not None:
            raise AssertionError("daemon of %s exited with %s at start; its log:\n%s"
                                 % (self.node, self.daemon.returncode, self.daemon_log()[-4000:]))
        return self

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.daemon and self.daemon.poll() is None:
            deadline = time.monotonic() + timeout
            while self.daemon.poll() is None and time.monotonic() < deadline:
                # Re-sent: once a SIGTERM sent right after a worker ran a command seemed not acted on.
                self.daemon.send_signal(sig)
                try:
                    self.daemon.wait(2)
                except subprocess.TimeoutExpired:
                    pass
            if self.daemon.poll() is None:
                self.daemon.kill()
                self.daemon.wait()
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        self.daemon = None

    def kill9(self):
        self.stop(signal.SIGKILL)

    def daemon_log(self):
        try:
            with open(os.path.join(self.dir, "daemon.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        # Leftover workers of a kill -9'd daemon are in their own process groups.
        for rec in self.runs(local=True):
            pid = rec.get("worker_pid") or 0
            if pid and rec.get("status") == "running":
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- agentctl ----------------------------------------------------------------------
    def ctl(self, *args, local=False, check=True, timeout=120):
        argv = [AGENTCTL, "--config", self.config] + (["--local"] if local else []) + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode not in (0, 1):
            raise AssertionError("%s -> %d\n%s\n%s" % (" ".join(argv), p.returncode, p.stdout, p.stderr))
        return p

    def run(self, action, params=None, local=False, dry_run=False, detach=False, timeout=120):
        args = ["-o", "json", "run", action]
        for k, v in (params or {}).items():
            args += ["--set", "%s=%s" % (k, toml(v))]
        if dry_run:
            args.append("--dry-run")
        if detach:
            args.append("--detach")
        return self.ctl(*args, local=local, timeout=timeout)

    def runs(self, local=False):
        p = self.ctl("-o", "json", "history", local=local or self.daemon is None, check=False)
        try:
            out = json.loads(p.stdout)
        except ValueError:
            return []
        return out if isinstance(out, list) else out.get("runs", [])

    def run_record(self, run_id):
        p = self.ctl("-o", "json", "logs", run_id, local=self.daemon is None, check=False)
        try:
            out = json.loads(p.stdout)
        except ValueError:
            return {}
        return out.get("record", out) if isinstance(out, dict) else {}


def toml(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml(x) for x in v) + "]"
    return json.dumps(v)
