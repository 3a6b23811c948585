"""Start and drive the test API server from Python tests and benchmarks.

Why it exists: every Python-driven test needs the same few steps (start
apiserver.py in a temp dir, wait for ready.json, talk HTTPS with the client
cert or the token, post fixtures and faults, read the request log, run kubectl,
stop). Standard library only.

    with TestServer(terminating_seconds=0.2) as srv:
        srv.post_objects([...])
        code, body, headers = srv.request("GET", "/api/v1/nodes")
        srv.kubectl("get", "nodes")
"""

import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
APISERVER = os.path.join(HERE, "apiserver.py")
KUBECTL = "/usr/bin/kubectl"


class TestServer:
    """A running apiserver.py subprocess. start() raises RuntimeError when it does not come up."""

    def __init__(self, minor=32, terminating_seconds=0.5, fixture=None, dir=None, host="127.0.0.1",
                 port=0, extra_args=(), log=None):
        self.minor = minor
        self.terminating_seconds = terminating_seconds
        self.fixture = fixture
        self.host = host
        self.port_arg = port
        self.extra_args = list(extra_args)
        self._own_dir = dir is None
        self.dir = dir or tempfile.mkdtemp(prefix="apiserver-")
        self.log_path = log or os.path.join(self.dir, "apiserver.log")
        self.proc = None
        self.info = None
        self._conns = {}

    # -- lifecycle -----------------------------------------------------------------

    def start(self, timeout=20.0):
        ready = os.path.join(self.dir, "ready.json")
        if os.path.exists(ready):
            os.unlink(ready)
        args = [sys.executable if sys.executable else "/usr/bin/python3", APISERVER, "--dir", self.dir,
                "--host", self.host, "--port", str(self.port_arg), "--minor", str(self.minor),
                "--terminating-seconds", str(self.terminating_seconds)] + self.extra_args
        if self.fixture:
            args += ["--fixture", self.fixture]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(ready):
                with open(ready) as f:
                    self.info = json.load(f)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("apiserver did not become ready; log:\n" + self.log())

    def stop(self):
        for c in self._conns.values():
            c.close()
        self._conns = {}
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def cleanup(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- facts -----------------------------------------------------------------------

    @property
    def url(self):
        return self.info["url"]

    @property
    def port(self):
        return self.info["port"]

    @property
    def token(self):
        return self.info["token"]

    @property
    def ca(self):
        return self.info["ca"]

    @property
    def kubeconfig_cert(self):
        return os.path.join(self.dir, "kubeconfig-cert")

    @property
    def kubeconfig_token(self):
        return os.path.join(self.dir, "kubeconfig-token")

    @property
    def kubeconfig_node(self):
        """A bearer token outside system:masters (user nodeagent:node:test, group
        nodeagent:nodes): only the RBAC objects stored in the server authorize it."""
        return os.path.join(self.dir, "kubeconfig-node")

    # -- HTTP --------------------------------------------------------------------------

    def ssl_context(self, auth="cert"):
        ctx = ssl.create_default_context(cafile=self.ca)
        if auth == "cert":
            ctx.load_cert_chain(os.path.join(self.dir, "client.crt"), os.path.join(self.dir, "client.key"))
        return ctx

    def connection(self, auth="cert", timeout=30):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl_context(auth),
                                           timeout=timeout)

    def request(self, method, path, body=None, auth="cert", headers=None, content_type=None, timeout=30):
        """One request on a kept-alive connection. Returns (status, parsed JSON or text, headers).
        auth: "cert", "token" or None."""
        hdrs = {"Accept": "application/json", "User-Agent": "testserver.py"}
        if auth == "token":
            hdrs["Authorization"] = "Bearer " + self.token
        hdrs.update(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            hdrs["Content-Type"] = content_type or "application/json"
        for attempt in (0, 1):
            conn = self._conns.get(auth)
            if conn is None:
                conn = self._conns[auth] = self.connection(auth, timeout)
            try:
                conn.request(method, path, body=data, headers=hdrs)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, ConnectionError, ssl.SSLError, OSError):
                conn.close()
                self._conns.pop(auth, None)
                if attempt:
                    raise
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, parsed, dict(resp.getheaders())

    def ok(self, method, path, body=None, **kw):
        code, out, _ = self.request(method, path, body, **kw)
        if code >= 300:
            raise RuntimeError("%s %s -> %d %s" % (method, path, code, out))
        return out

    def watch(self, path, timeout=10, auth="cert"):
        """Yield watch events (dicts) from a chunked watch response until it ends."""
        conn = self.connection(auth, timeout)
        sep = "&" if "?" in path else "?"
        conn.request("GET", path + sep + "watch=true", headers={"Accept": "application/json"})
        resp = conn.getresponse()
        try:
            if resp.status != 200:
                raise RuntimeError("watch %s -> %d %s" % (path, resp.status, resp.read()))
            while True:
                line = resp.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()

    # -- control endpoints -----------------------------------------------------------------

    def post_objects(self, items):
        return self.ok("POST", "/_test/objects", {"items": list(items)})["items"]

    def reset(self):
        return self.ok("POST", "/_test/reset", {})

    def fault(self, path_regex, method="*", count=1, status=None, retry_after=None, delay=0, drop=False):
        return self.ok("POST", "/_test/faults", {"path_regex": path_regex, "method": method, "count": count,
                                                 "status": status, "retry_after": retry_after,
                                                 "delay": delay, "drop": drop})

    def requests(self, since=0):
        return self.ok("GET", "/_test/requests?since=%d" % since)

    def clear_requests(self):
        return self.ok("POST", "/_test/requests/clear", {})

    def node_status(self, name, ready=None, boot_id=None):
        body = {"name": name}
        if ready is not None:
            body["ready"] = ready
        if boot_id is not None:
            body["bootID"] = boot_id
        return self.ok("POST", "/_test/node-status", body)

    def pod_status(self, namespace, name, ready=None, phase=None):
        return self.ok("POST", "/_test/pod-status", {"namespace": namespace, "name": name,
                                                     "ready": ready, "phase": phase})

    def config(self, **kw):
        return self.ok("POST", "/_test/config", kw)

    def rbac(self, deny, enforce=True):
        return self.ok("POST", "/_test/rbac", {"deny": deny, "enforce": enforce})

    # -- kubectl ---------------------------------------------------------------------------

    def kubectl(self, *args, kubeconfig="cert", timeout=90, input=None):
        """Run real kubectl against this server. Returns subprocess.CompletedProcess (text)."""
        kc = {"cert": self.kubeconfig_cert, "node": self.kubeconfig_node}.get(kubeconfig, self.kubeconfig_token)
        cmd = [KUBECTL, "--kubeconfig", kc, "--cache-dir", os.path.join(self.dir, "kubectl-cache")] + list(args)
        env = dict(os.environ, HOME=self.dir)
        env.pop("KUBECONFIG", None)
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, input=input, env=env)


class ServerTestCase(unittest.TestCase):
    """One test API server per test class, reset before each test (objects,
    faults, RBAC rules, the request log, and the terminating time)."""

    terminating_seconds = 0.2
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = TestServer(terminating_seconds=cls.terminating_seconds).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def setUp(self):
        self.srv.reset()
        self.srv.config(terminating_seconds=self.terminating_seconds)
        self.srv.clear_requests()
