#!/usr/bin/env python3
"""The daemon's metrics endpoint (`[metrics] listen`) as Prometheus and curl
see it: the real daemon on a temp root serves GET and HEAD /metrics on the
configured port, and Prometheus' own parser (python3-prometheus-client)
reads what urllib fetched; other paths are 404, other methods 405, a head
over 8 KiB is 431, a silent client is dropped, the connection cap answers
503; the idle daemon does not wake up with the listener on; a port it cannot
bind stops it at start naming the address; and without `listen` the daemon
holds no TCP socket at all (its own descriptors against /proc/net/tcp{,6})."""
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("NODEAGENT_BUILD")
if BUILD:
    os.environ.setdefault("NODEAGENT_BUILD_DIR", BUILD)
sys.path.insert(0, os.path.join(HERE, "../../tests/integration"))
from harness import Agent, wait_for  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit("FAIL: python3-prometheus-client is missing (scripts/deps.sh --test installs it)")

TASK = """
[tasks.touch]
action = "test-touch"
path = "/etc/itest/touched"
content = "new"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tcp_sockets(pid):
    """(state, local port) of every TCP socket the process holds."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[9] in inodes:
                    found.append((fields[3], int(fields[1].rsplit(":", 1)[1], 16)))
    return found


def ctx_switches(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if "ctxt_switches" in line:
                    total += int(line.split()[1])
    return total


def value(text, name, **labels):
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def raw(port, data, timeout=10):
    """Sends `data` on a new connection; returns all it answers until the daemon closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        if data:
            s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def check_served(agent, port):
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8", r.headers
        assert r.headers["Connection"] == "close"
        text = r.read().decode()
    assert value(text, "nodeagent_build_info") == 1, text
    assert value(text, "nodeagent_runs_total", action="test-touch", status="changed") is None, text

    # Live numbers: a run is counted at the next scrape.
    assert agent.ctl("run", "touch").returncode == 0
    def counted():
        with urllib.request.urlopen(url, timeout=5) as r:
            return value(r.read().decode(), "nodeagent_runs_total", action="test-touch", status="changed") == 1
    wait_for(counted, 10, what="the run counted in a scrape")

    # HEAD: GET's headers, no body; curl as a second real client.
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=5) as r:
        assert r.status == 200 and int(r.headers["Content-Length"]) > 0 and r.read() == b""
    curl = subprocess.run(["curl", "-sS", "--fail", "--max-time", "5", url], capture_output=True, text=True)
    assert curl.returncode == 0 and value(curl.stdout, "nodeagent_build_info") == 1, curl.stderr

    for path, method, data, code in (("/", "GET", None, 404), ("/metrics/x", "GET", None, 404),
                                     ("/metrics", "POST", b"x=1", 405), ("/metrics", "DELETE", None, 405)):
        try:
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                                          method=method), timeout=5)
            raise AssertionError(f"{method} {path} answered 200")
        except urllib.error.HTTPError as e:
            assert e.code == code, (method, path, e.code)
            if code == 405:
                assert e.headers["Allow"] == "GET, HEAD"

    big = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 9000 + b"\r\n\r\n"
    answer = raw(port, big)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    assert b"nodeagent_build_info" not in answer

    # A client that never finishes its head is dropped after 5 s.
    t0 = time.monotonic()
    assert raw(port, b"GET /metrics HTTP/1.1\r\n", timeout=15) == b""
    waited = time.monotonic() - t0
    assert 4 <= waited < 10, waited

    # 16 open connections at once; the 17th is answered 503 and closed.
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(16)]
    try:
        wait_for(lambda: len([s for s in tcp_sockets(agent.proc.pid) if s[0] == "01"]) == 16, 5,
                 what="16 connections accepted")
        assert raw(port, b"").startswith(b"HTTP/1.1 503 "), "no 503 over the cap"
    finally:
        for s in held:
            s.close()
    # Once the daemon has closed the 16 (no socket of its own but the
    # listening one), a scrape is under the cap again. Asking before that may
    # meet the 503 and a reset, which says nothing about the listener.
    wait_for(lambda: not [s for s in tcp_sockets(agent.proc.pid) if s[0] != "0A"], 10,
             what="the daemon closed the 16 held connections")
    answer = raw(port, b"GET /metrics HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:100]


def check_idle(agent):
    # After the scrapes, nothing is armed: no wake-up while nobody scrapes.
    wait_for(lambda: not [s for s in tcp_sockets(agent.proc.pid) if s[0] != "0A"], 10,
             what="every scrape connection closed")
    time.sleep(0.5)
    before = ctx_switches(agent.proc.pid)
    time.sleep(3)
    woke = ctx_switches(agent.proc.pid) - before
    assert woke == 0, f"the idle daemon woke up {woke} times with the listener on"


def main():
    port = free_port()
    agent = Agent(tasks=f'[metrics]\ntextfile = ""\nlisten = "{port}"\n' + TASK)
    try:
        agent.start()
        assert "serving metrics on http://127.0.0.1:%d/metrics" % port in agent.log(), agent.log()
        listening = [s for s in tcp_sockets(agent.proc.pid) if s[0] == "0A"]
        assert listening == [("0A", port)], listening
        check_served(agent, port)
        check_idle(agent)
        with open(f"/proc/{agent.proc.pid}/status") as f:
            rss = next(l.split()[1] for l in f if l.startswith("VmRSS:"))
        print(f"daemon RSS with the listener on, after the scrapes: {rss} KiB")
    finally:
        agent.cleanup()

    # A port already taken: a start-up error naming the address, exit 1.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        agent = Agent(tasks=f'[metrics]\nlisten = "127.0.0.1:{busy}"\n')
        try:
            agent.start(wait=False)
            assert agent.proc.wait(10) == 1, agent.log()
            assert f"cannot listen for metrics on 127.0.0.1:{busy}" in agent.log(), agent.log()
            assert "Address already in use" in agent.log(), agent.log()
        finally:
            agent.cleanup()

    # A host name is a config error with file:line (exit 2).
    agent = Agent(tasks='[metrics]\nlisten = "localhost:9779"\n')
    try:
        agent.start(wait=False)
        assert agent.proc.wait(10) == 2, agent.log()
        assert "listen: \"localhost:9779\": not an IPv4 address" in agent.log(), agent.log()
    finally:
        agent.cleanup()

    # The default: no listen, no TCP socket at all.
    agent = Agent(tasks=TASK)
    try:
        agent.start()
        assert agent.ctl("run", "touch").returncode == 0
        assert tcp_sockets(agent.proc.pid) == [], tcp_sockets(agent.proc.pid)
    finally:
        agent.cleanup()
    print("PASS")


if __name__ == "__main__":
    main()
