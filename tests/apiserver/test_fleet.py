#!/usr/bin/python3
"""Tests of the test API server's fleet endpoints (issue 15): request rows
attributed to nodes by User-Agent, the timeline of lock slots, queue tickets,
cordons, Ready conditions and agent liveness, random faults, and a restart
that drops every connection and comes back on the same port with the same
objects.

`test_fleet.py --load [--connections N] [--watches W] [--seconds S]` is not a
test: it measures the server with N keep-alive TLS clients and W open watches
(connections held, requests/s, the server's RSS) and prints the figures."""

import argparse
import http.client
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_nodes as mk  # noqa: E402
from testserver import ServerTestCase, TestServer  # noqa: E402

NS = "kube-system"
PREFIX = "nodeagent-reboot-lock"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/%s/leases" % NS


def fleet_ua(node):
    return "nodeagent/0.9.0 (fleet; node=%s)" % node


def lease(name, holder, ns=NS):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 60}}


class FleetTest(ServerTestCase):
    def start_recording(self, request_log=False):
        return self.srv.ok("POST", "/_test/fleet/start", {"lock_namespace": NS, "lock_prefix": PREFIX,
                                                          "request_log": request_log})

    def report(self):
        return self.srv.ok("GET", "/_test/fleet/report")

    def as_node(self, node, method, path, body=None, **kw):
        return self.srv.request(method, path, body, headers={"User-Agent": fleet_ua(node)}, **kw)


class Attribution(FleetTest):
    def test_every_api_request_is_a_row_with_verb_resource_namespace_node_status(self):
        self.srv.post_objects([mk.node("n1"), mk.node("n2")] + mk.node_with_pods("n3", 1))
        pod = self.srv.ok("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn3")["items"][0]["metadata"]
        self.start_recording(request_log=False)
        steps = [
            ("n1", "GET", "/api/v1/nodes/n1", None, 200),
            ("n1", "GET", LEASES + "?labelSelector=role%3Dslot", None, 200),
            ("n1", "POST", LEASES, lease(PREFIX + "-0", "n1"), 201),
            ("n1", "PUT", LEASES + "/" + PREFIX + "-0", lease(PREFIX + "-0", "n1"), 200),
            ("n1", "GET", LEASES + "/" + PREFIX + "-1", None, 404),
            ("n2", "PATCH", "/api/v1/nodes/n2", {"spec": {"unschedulable": True}}, 200),
            ("n2", "GET", "/api/v1/watch/nodes?timeoutSeconds=1", None, 404),
            ("n2", "GET", "/api/v1/nodes?watch=1&timeoutSeconds=1&resourceVersion=0", None, 200),
            ("n3", "POST", "/api/v1/namespaces/%s/pods/%s/eviction" % (pod["namespace"], pod["name"]),
             {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod["name"]}}, 201),
            ("n3", "DELETE", LEASES + "/" + PREFIX + "-0", None, 200),
            ("n3", "DELETE", "/api/v1/namespaces/default/configmaps", None, 200),
        ]
        for node, method, path, body, want in steps:
            code, out, _ = self.as_node(node, method, path, body,
                                        content_type="application/merge-patch+json" if method == "PATCH" else None)
            self.assertEqual(code, want, (method, path, out))
        self.assertEqual(self.srv.request("GET", "/version", headers={"User-Agent": "kubectl/v1.32.0"})[0], 200)

        rows = self.report()["requests"]
        # Lease rows say which Leases: the name, or a LIST's selector.
        self.assertEqual([r[7] for r in rows if r[2] == "leases"],
                         ["selector:role=slot", "", PREFIX + "-0", PREFIX + "-1", PREFIX + "-0"])
        got = [tuple(r[1:6]) for r in rows]
        self.assertEqual(got, [
            ("get", "nodes", "", "n1", 200),
            ("list", "leases", NS, "n1", 200),
            ("create", "leases", NS, "n1", 201),
            ("update", "leases", NS, "n1", 200),
            ("get", "leases", NS, "n1", 404),
            ("patch", "nodes", "", "n2", 200),
            ("watch", "nodes", "", "n2", 404),      # legacy /watch/ path: named a watch, not served
            ("watch", "nodes", "", "n2", 200),
            ("create", "pods/eviction", pod["namespace"], "n3", 201),
            ("delete", "leases", NS, "n3", 200),
            ("deletecollection", "configmaps", "default", "n3", 200),
            ("get", "/version", "", "", 200),
        ])
        for r in rows:
            self.assertIsInstance(r[0], float)
            self.assertGreaterEqual(r[6], 0)
        # request_log false: the heavy per-request log keeps only what came before the start
        self.assertEqual([r["path"] for r in self.srv.requests()], ["/api/v1/pods"])

    def test_report_counts_requests_per_second_by_verb_and_resource(self):
        start = self.start_recording(request_log=True)["start"]
        for _ in range(3):
            self.as_node("n1", "GET", LEASES)
        self.as_node("n1", "GET", "/api/v1/nodes")
        rep = self.report()
        self.assertEqual(rep["start"], start)
        self.assertGreaterEqual(rep["end"], start)
        self.assertEqual(sum(s["total"] for s in rep["per_second"]), 4)
        by = {}
        for s in rep["per_second"]:
            for k, n in s["by"].items():
                by[k] = by.get(k, 0) + n
        self.assertEqual(by, {"list leases": 3, "list nodes": 1})
        self.assertEqual([s["t"] for s in rep["per_second"]], list(range(len(rep["per_second"]))))
        # request_log true (the default) keeps the full log too
        self.assertEqual(len(self.srv.requests()), 4)

    def test_open_watch_is_a_row_while_it_runs(self):
        self.start_recording()
        conn = self.srv.connection()
        try:
            conn.request("GET", LEASES + "?watch=true&timeoutSeconds=30", headers={"User-Agent": fleet_ua("w1")})
            self.assertEqual(conn.getresponse().status, 200)
            rows = self.report()["requests"]
            self.assertEqual([r[1:7] for r in rows], [["watch", "leases", NS, "w1", 200, None]])
        finally:
            conn.close()


class Timeline(FleetTest):
    def test_scripted_lock_and_node_changes_give_events_and_counts(self):
        self.srv.post_objects([mk.node("n1"), mk.node("n2"), mk.node("n3"),
                               lease(PREFIX + "-1", "n3")])       # held before the recording
        self.srv.kubectl("cordon", "n3").check_returncode()
        start = self.start_recording()
        self.assertEqual(start["initial"], {"holders": {PREFIX + "-1": "n3"}, "tickets": [],
                                            "unschedulable": ["n3"], "not_ready": []})
        slot0 = LEASES + "/" + PREFIX + "-0"
        self.srv.ok("POST", LEASES, lease(PREFIX + "-queue-n1", "n1"))          # ticket n1
        self.srv.ok("POST", LEASES, lease(PREFIX + "-queue-n2", "n2"))          # ticket n2
        self.srv.ok("POST", LEASES, lease(PREFIX + "-0", "n1"))                 # n1 takes slot 0
        self.srv.ok("DELETE", LEASES + "/" + PREFIX + "-queue-n1")              # its ticket goes
        renewed = self.srv.ok("GET", slot0)
        renewed["spec"]["renewTime"] = "2026-01-01T00:00:00.000000Z"
        self.srv.ok("PUT", slot0, renewed)                                      # renew: no event
        self.srv.ok("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases",
                    lease(PREFIX + "-2", "n2", ns="default"))                   # other namespace: ignored
        self.srv.ok("POST", LEASES, lease(PREFIX + "-x", "n2"))                 # not a slot name: ignored
        self.srv.kubectl("cordon", "n1").check_returncode()
        self.srv.node_status("n1", ready=False)
        self.srv.node_status("n1", ready=False)                                 # no change: no event
        self.srv.ok("POST", "/_test/fleet/agent", {"node": "n1", "alive": False})
        self.srv.ok("POST", "/_test/fleet/agent", {"node": "n2", "alive": True})  # already alive: no event
        taken = self.srv.ok("GET", slot0)
        taken["spec"]["holderIdentity"] = "n2"
        self.srv.ok("PUT", slot0, taken)                                        # n2 takes over
        self.srv.ok("DELETE", LEASES + "/" + PREFIX + "-queue-n2")
        self.srv.node_status("n1", ready=True)
        self.srv.kubectl("uncordon", "n1").check_returncode()
        self.srv.ok("DELETE", slot0)                                            # n2 releases
        self.srv.ok("POST", "/_test/fleet/agent", {"node": "n1", "alive": True})

        rep = self.report()
        got = [(e["kind"], e["name"], e["node"], e["value"]) for e in rep["events"]]
        self.assertEqual(got, [
            ("ticket", PREFIX + "-queue-n1", "n1", True),
            ("ticket", PREFIX + "-queue-n2", "n2", True),
            ("slot", PREFIX + "-0", "n1", "n1"),
            ("ticket", PREFIX + "-queue-n1", "n1", False),
            ("unschedulable", "n1", "n1", True),
            ("ready", "n1", "n1", False),
            ("agent", "n1", "n1", False),
            ("slot", PREFIX + "-0", "n2", "n2"),
            ("ticket", PREFIX + "-queue-n2", "n2", False),
            ("ready", "n1", "n1", True),
            ("unschedulable", "n1", "n1", False),
            ("slot", PREFIX + "-0", "n2", None),
            ("agent", "n1", "n1", True),
        ])
        self.assertEqual([e.get("previous") for e in rep["events"] if e["kind"] == "slot"], [None, "n1", "n2"])
        counts = [(s["holders"], s["live_holders"], s["unschedulable"], s["waiting"]) for s in rep["samples"]]
        self.assertEqual(counts, [
            (1, 1, 1, 0),    # at start: n3 holds slot 1 and is cordoned
            (1, 1, 1, 1), (1, 1, 1, 2), (2, 2, 1, 2), (2, 2, 1, 1), (2, 2, 2, 1), (2, 2, 2, 1),
            (2, 1, 2, 1),    # n1's agent died holding slot 0
            (2, 2, 2, 1), (2, 2, 2, 0), (2, 2, 2, 0), (2, 2, 1, 0), (1, 1, 1, 0), (1, 1, 1, 0),
        ])
        self.assertEqual(rep["max"], {"holders": 2, "live_holders": 2, "unschedulable": 2, "waiting": 2})
        times = [e["t"] for e in rep["events"]]
        self.assertEqual(times, sorted(times))

    def test_a_ticket_names_its_holder_when_its_name_ends_in_a_hash(self):
        self.start_recording()
        self.srv.ok("POST", LEASES, lease(PREFIX + "-queue-3f2a9c", "a-very-long-node-name"))
        self.srv.ok("DELETE", LEASES + "/" + PREFIX + "-queue-3f2a9c")
        self.assertEqual([(e["node"], e["value"]) for e in self.report()["events"]],
                         [("a-very-long-node-name", True), ("a-very-long-node-name", False)])

    def test_reset_stops_the_recording_and_a_new_start_forgets_the_old_one(self):
        self.start_recording()
        self.srv.ok("POST", LEASES, lease(PREFIX + "-0", "n1"))
        self.assertEqual(len(self.report()["events"]), 1)
        self.srv.reset()
        self.srv.ok("POST", LEASES, lease(PREFIX + "-0", "n1"))
        rep = self.report()
        self.assertEqual(len(rep["events"]), 1)      # the recording stopped at the reset
        self.assertIsNotNone(rep["end"])
        self.start_recording()
        rep = self.report()
        self.assertEqual((rep["events"], rep["requests"]), ([], []))
        self.assertEqual(rep["initial"]["holders"], {PREFIX + "-0": "n1"})


class NamedWatches(FleetTest):
    def test_a_watch_of_one_name_sees_only_that_object_and_others_see_theirs(self):
        mine, other = PREFIX + "-queue-n1", PREFIX + "-queue-n2"
        rv = self.srv.ok("GET", LEASES)["metadata"]["resourceVersion"]
        self.srv.ok("POST", LEASES, lease(mine, "n1"))
        self.srv.ok("POST", LEASES, lease(other, "n2"))
        got = self.srv.ok("GET", LEASES + "/" + mine)
        got["spec"]["holderIdentity"] = "n1-again"
        self.srv.ok("PUT", LEASES + "/" + mine, got)
        self.srv.ok("DELETE", LEASES + "/" + other)
        self.srv.ok("DELETE", LEASES + "/" + mine)
        for name, want in ((mine, [("ADDED", "n1"), ("MODIFIED", "n1-again"), ("DELETED", "n1-again")]),
                           (other, [("ADDED", "n2"), ("DELETED", "n2")])):
            # replayed from the history, then live: a lease of the same name created now
            path = LEASES + "?fieldSelector=metadata.name%%3D%s&resourceVersion=%s&timeoutSeconds=2" % (name, rv)
            stream = self.srv.watch(path)
            seen = [next(stream) for _ in want]
            self.srv.ok("POST", LEASES, lease(PREFIX + "-9", "x"))     # another name: not for this watch
            self.srv.ok("POST", LEASES, lease(name, "live"))
            seen += list(stream)
            self.srv.ok("DELETE", LEASES + "/" + name)
            self.srv.ok("DELETE", LEASES + "/" + PREFIX + "-9")
            self.assertEqual([(e["type"], e["object"]["spec"]["holderIdentity"]) for e in seen],
                             want + [("ADDED", "live")])


class RandomFaults(FleetTest):
    def tearDown(self):
        self.srv.ok("POST", "/_test/fleet/faults", {"rate": 0})

    def raw_get(self, path):
        """One request on a new connection: (status, body, headers) or the exception."""
        conn = self.srv.connection(timeout=10)
        try:
            conn.request("GET", path, headers={"Accept": "application/json", "User-Agent": fleet_ua("f1")})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read()), dict(resp.getheaders())
        except Exception as e:  # noqa: BLE001 (the kind of failure is what is checked)
            return e
        finally:
            conn.close()

    def test_rate_one_gives_each_kind_and_counts_them(self):
        self.start_recording()
        cfg = self.srv.ok("POST", "/_test/fleet/faults", {"rate": 1.0, "kinds": [429, 500, "reset"],
                                                         "retry_after": 2, "seed": 7})
        self.assertEqual(cfg["rate"], 1.0)
        seen = {}
        for _ in range(60):
            out = self.raw_get("/api/v1/nodes")
            if isinstance(out, Exception):
                self.assertIsInstance(out, ConnectionResetError, repr(out))
                seen["reset"] = seen.get("reset", 0) + 1
                continue
            code, body, headers = out
            self.assertIn(code, (429, 500), body)
            self.assertEqual((body["kind"], body["status"], body["code"]), ("Status", "Failure", code))
            if code == 429:
                self.assertEqual(headers.get("Retry-After"), "2")
                self.assertEqual(body["reason"], "TooManyRequests")
                self.assertEqual(body["details"], {"retryAfterSeconds": 2})
            else:
                self.assertEqual(body["reason"], "InternalError")
                self.assertTrue(body["message"].startswith("Internal error occurred"))
            seen[str(code)] = seen.get(str(code), 0) + 1
            if len(seen) == 3 and sum(seen.values()) >= 12:
                break
        self.assertEqual(set(seen), {"429", "500", "reset"})
        rep = self.report()
        self.assertEqual(rep["faults"], seen)
        self.assertEqual(self.srv.ok("GET", "/_test/fleet/faults")["counts"], seen)
        statuses = sorted(r[5] for r in rep["requests"])
        self.assertEqual(statuses.count(0), seen["reset"])      # a reset is status 0
        self.assertEqual(statuses.count(429), seen["429"])

        # the same seed gives the same sequence
        self.srv.ok("POST", "/_test/fleet/faults", {"rate": 1.0, "kinds": [429, 500, "reset"], "seed": 7})
        again = {}
        for _ in range(sum(seen.values())):
            out = self.raw_get("/api/v1/nodes")
            k = "reset" if isinstance(out, Exception) else str(out[0])
            again[k] = again.get(k, 0) + 1
        self.assertEqual(again, seen)

        self.srv.ok("POST", "/_test/fleet/faults", {"rate": 0})
        self.assertEqual(self.raw_get("/api/v1/nodes")[0], 200)

    def test_excluded_paths_are_not_faulted(self):
        self.srv.ok("POST", "/_test/fleet/faults", {"rate": 1.0, "kinds": [500],
                                                    "exclude_path_regex": "^/api/v1/nodes$"})
        self.assertEqual(self.raw_get("/api/v1/nodes")[0], 200)
        self.assertEqual(self.raw_get("/api/v1/pods")[0], 500)

    def test_bad_kind_is_400(self):
        code, body, _ = self.srv.request("POST", "/_test/fleet/faults", {"rate": 0.5, "kinds": ["boom"]})
        self.assertEqual(code, 400, body)


class Restart(unittest.TestCase):
    def test_restart_drops_watches_refuses_then_serves_the_same_objects_on_the_same_port(self):
        with TestServer() as srv:
            code, body, _ = srv.request("GET", "/_test/fleet/report")
            self.assertEqual(code, 409, body)    # nothing recorded yet
            srv.ok("POST", "/_test/fleet/start", {"request_log": False})
            srv.post_objects([mk.node("n1"), lease(PREFIX + "-0", "n1")])
            before = srv.ok("GET", LEASES)
            rv = before["metadata"]["resourceVersion"]

            watch = srv.connection(timeout=20)
            watch.request("GET", LEASES + "?watch=true&resourceVersion=%s&timeoutSeconds=60" % rv)
            resp = watch.getresponse()
            self.assertEqual(resp.status, 200)

            out = srv.ok("POST", "/_test/fleet/restart", {"down_seconds": 1.0})
            self.assertEqual(out["port"], srv.port)

            # the watch stream ends (without its terminating chunk, which http.client
            # does not tell apart from a normal end)
            try:
                while resp.readline():
                    pass
                ended = "eof"
            except TimeoutError:
                ended = "still open"
            except (http.client.IncompleteRead, OSError) as e:
                ended = type(e).__name__
            self.assertNotEqual(ended, "still open")   # the server would keep it 60 s
            watch.close()

            # connections are refused until the server listens again, on the same port
            refused, deadline = 0, time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
                    break
                except ConnectionRefusedError:
                    refused += 1
                    time.sleep(0.02)
            self.assertGreater(refused, 0)
            after = srv.ok("GET", LEASES)
            self.assertEqual(after, before)      # same objects, same resourceVersions

            # a watch resumed from the old resourceVersion sees what followed
            srv.ok("POST", LEASES, lease(PREFIX + "-1", "n2"))
            events = list(srv.watch(LEASES + "?resourceVersion=%s&timeoutSeconds=1" % rv))
            self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in events],
                             [("ADDED", PREFIX + "-1")])

            rep = srv.ok("GET", "/_test/fleet/report")
            self.assertEqual([(e["kind"], e["value"]) for e in rep["events"] if e["kind"] == "restart"],
                             [("restart", "down"), ("restart", "up")])

            # a second restart works too, and stopping during the down time exits
            srv.ok("POST", "/_test/fleet/restart", {"down_seconds": 30})
            srv.stop()
            self.assertIsNotNone(srv.proc.returncode)


# ---------------------------------------------------------------------------------------
# Load measurement (not a test)
# ---------------------------------------------------------------------------------------

def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def load(connections, watches, seconds, events):
    """Hold `watches` lease watches and `connections` keep-alive clients that
    GET a lease in a loop for `seconds`, while a writer updates `events` leases
    per second (each fanned out to the watches); report what the server did."""
    with TestServer(terminating_seconds=0.2) as srv:
        srv.post_objects([lease("%s-%d" % (PREFIX, i), "n%d" % i) for i in range(10)])
        srv.ok("POST", "/_test/fleet/start", {"request_log": False})
        ctx = srv.ssl_context()
        stop = threading.Event()
        counts = [0] * connections
        errors = []
        held = threading.Semaphore(0)
        received = [0] * watches

        def watcher(i):
            try:
                c = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=120)
                c.request("GET", LEASES + "?watch=true&resourceVersion=0&timeoutSeconds=600",
                          headers={"User-Agent": fleet_ua("w%d" % i)})
                r = c.getresponse()
                held.release()
                while not stop.is_set():
                    if not r.readline():
                        break
                    received[i] += 1
                c.close()
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
                held.release()

        def client(i):
            try:
                c = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=120)
                c.request("GET", LEASES + "/" + PREFIX + "-0", headers={"User-Agent": fleet_ua("c%d" % i)})
                c.getresponse().read()
                held.release()
                go.wait()
                while not stop.is_set():
                    c.request("GET", LEASES + "/" + PREFIX + "-0", headers={"User-Agent": fleet_ua("c%d" % i)})
                    c.getresponse().read()
                    counts[i] += 1
                c.close()
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
                held.release()

        go = threading.Event()
        threading.stack_size(256 * 1024)
        threads = [threading.Thread(target=watcher, args=(i,), daemon=True) for i in range(watches)]
        threads += [threading.Thread(target=client, args=(i,), daemon=True) for i in range(connections)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for _ in threads:
            held.acquire()
        setup = time.monotonic() - t0
        rss_held = rss_kib(srv.proc.pid)
        cpu0 = cpu_seconds(srv.proc.pid)
        go.set()
        t1 = time.monotonic()
        n_events = 0
        while time.monotonic() - t1 < seconds:
            if events:
                name = "%s-%d" % (PREFIX, n_events % 10)
                srv.ok("PUT", LEASES + "/" + name, lease(name, "h%d" % n_events))
                n_events += 1
                time.sleep(1.0 / events)
            else:
                time.sleep(0.2)
        elapsed = time.monotonic() - t1
        cpu = cpu_seconds(srv.proc.pid) - cpu0
        rss_end = rss_kib(srv.proc.pid)
        total = sum(counts)
        stop.set()
        rep = srv.ok("GET", "/_test/fleet/report")
        t2 = time.monotonic()
        srv.request("GET", "/_test/fleet/report")
        report_s = time.monotonic() - t2
        out = {"connections": connections, "watches": watches, "errors": len(errors), "first_errors": errors[:3],
               "setup_s": round(setup, 1), "rss_mib_held": round(rss_held / 1024, 1),
               "rss_mib_end": round(rss_end / 1024, 1), "requests": total,
               "requests_per_s": round(total / elapsed, 1), "server_cpu_share": round(cpu / elapsed, 2),
               "server_cpu_us_per_request": round(cpu / max(1, total) * 1e6), "lease_updates": n_events,
               "watch_events_received": sum(received), "expected_watch_events": (n_events + 10) * watches,   # + the 10 initial ADDED
               "report_rows": len(rep["requests"]), "report_seconds": round(report_s, 2)}
        print(json.dumps(out, indent=1))
        return out


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fanout(watches, updates, selector):
    """Open `watches` lease watches (each with `selector`, e.g. a
    fieldSelector that only one of them matches, or none), then update a lease
    `updates` times, each time waiting until every watch that should see the
    event has it: the latency and server CPU of one event's fan-out."""
    with TestServer(terminating_seconds=0.2) as srv:
        n = watches if "{i}" in selector else 1   # each watch's own lease exists (so it starts with one ADDED)
        srv.post_objects([lease("%s-%d" % (PREFIX, i), "n%d" % i) for i in range(n)])
        ctx = srv.ssl_context()
        cond = threading.Condition()
        seen = {}          # update number -> watches that got it
        held = threading.Semaphore(0)
        errors = []

        def watcher(i):
            try:
                c = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=300)
                sel = selector.replace("{i}", str(i))
                c.request("GET", LEASES + "?watch=true&resourceVersion=0&timeoutSeconds=600" + sel)
                r = c.getresponse()
                held.release()
                while True:
                    line = r.readline()
                    if not line:
                        return
                    holder = json.loads(line)["object"]["spec"]["holderIdentity"]
                    if holder.startswith("u"):
                        with cond:
                            seen[holder] = seen.get(holder, 0) + 1
                            cond.notify_all()
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
                held.release()

        threading.stack_size(256 * 1024)
        for i in range(watches):
            threading.Thread(target=watcher, args=(i,), daemon=True).start()
        for _ in range(watches):
            held.acquire()
        want = watches if "{i}" not in selector else 1
        latencies = []
        cpu0 = cpu_seconds(srv.proc.pid)
        for u in range(updates):
            holder = "u%d" % u
            name = PREFIX + "-0"
            t0 = time.monotonic()
            srv.ok("PUT", LEASES + "/" + name, lease(name, holder))
            with cond:
                if not cond.wait_for(lambda: seen.get(holder, 0) >= want, timeout=60):
                    errors.append("update %d reached %d of %d watches" % (u, seen.get(holder, 0), want))
            latencies.append(time.monotonic() - t0)
        cpu = cpu_seconds(srv.proc.pid) - cpu0
        latencies.sort()
        out = {"watches": watches, "selector": selector, "updates": updates, "errors": errors[:3],
               "latency_ms_median": round(latencies[len(latencies) // 2] * 1000, 1),
               "latency_ms_max": round(latencies[-1] * 1000, 1),
               "server_cpu_ms_per_update": round(cpu / updates * 1000, 1),
               "rss_mib": round(rss_kib(srv.proc.pid) / 1024, 1)}
        print(json.dumps(out))
        return out


if __name__ == "__main__":
    if "--fanout" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--fanout", action="store_true")
        ap.add_argument("--watches", type=int, default=1000)
        ap.add_argument("--updates", type=int, default=20)
        ap.add_argument("--selector", default="",
                        help='query added to each watch; {i} is the watch number, e.g. '
                             '"&fieldSelector=metadata.name%%3Dother-{i}" (then one watch, w0, must match)')
        ap.add_argument("--server", help="another apiserver.py to measure (a before/after comparison)")
        a = ap.parse_args()
        if a.server:
            import testserver
            testserver.APISERVER = a.server
        fanout(a.watches, a.updates, a.selector)
    elif "--load" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--load", action="store_true")
        ap.add_argument("--connections", type=int, default=1000)
        ap.add_argument("--watches", type=int, default=1000)
        ap.add_argument("--seconds", type=float, default=20)
        ap.add_argument("--events", type=float, default=5, help="lease updates per second during the run")
        a = ap.parse_args()
        load(a.connections, a.watches, a.seconds, a.events)
    else:
        unittest.main(verbosity=2)
