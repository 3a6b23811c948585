#!/usr/bin/python3
"""Direct HTTPS tests of the test API server: auth, errors, pagination, watches,
conflicts, evictions and PDBs, patches, fault injection, control endpoints.

Each test class starts its own server on port 0 in a temp dir; setUp resets it."""

import http.client
import json
import os
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_nodes as mk  # noqa: E402
from testserver import ServerTestCase, TestServer  # noqa: E402

LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"


def lease(name, holder="n1"):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-system"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 30}}


def wait_for(pred, timeout=5.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class ServerTest(ServerTestCase):
    def assertStatus(self, body, code, reason):
        self.assertEqual(body["kind"], "Status")
        self.assertEqual(body["apiVersion"], "v1")
        self.assertEqual(body["status"], "Failure")
        self.assertEqual(body["code"], code)
        self.assertEqual(body["reason"], reason)
        self.assertTrue(body["message"])


class AuthAndErrors(ServerTest):
    def test_no_credentials_is_401_status(self):
        code, body, _ = self.srv.request("GET", "/api/v1/nodes", auth=None)
        self.assertEqual(code, 401)
        self.assertStatus(body, 401, "Unauthorized")

    def test_wrong_token_is_401(self):
        code, body, _ = self.srv.request("GET", "/api/v1/nodes", auth=None,
                                         headers={"Authorization": "Bearer nope"})
        self.assertEqual(code, 401)

    def test_token_and_cert_both_work(self):
        for auth in ("cert", "token"):
            code, body, _ = self.srv.request("GET", "/api/v1/namespaces", auth=auth)
            self.assertEqual(code, 200, body)
            self.assertEqual(body["kind"], "NamespaceList")
            names = [i["metadata"]["name"] for i in body["items"]]
            self.assertIn("kube-system", names)

    def test_version_and_discovery(self):
        v = self.srv.ok("GET", "/version")
        self.assertEqual(v["gitVersion"], "v1.32.0")
        v1 = self.srv.ok("GET", "/api/v1")
        ev = [r for r in v1["resources"] if r["name"] == "pods/eviction"][0]
        self.assertEqual((ev["group"], ev["version"], ev["kind"]), ("policy", "v1", "Eviction"))
        groups = {g["name"] for g in self.srv.ok("GET", "/apis")["groups"]}
        self.assertTrue({"apps", "policy", "coordination.k8s.io", "authorization.k8s.io",
                         "events.k8s.io"} <= groups)

    def test_not_found_has_details(self):
        code, body, _ = self.srv.request("GET", "/api/v1/nodes/ghost")
        self.assertEqual(code, 404)
        self.assertStatus(body, 404, "NotFound")
        self.assertEqual(body["message"], 'nodes "ghost" not found')
        self.assertEqual(body["details"], {"name": "ghost", "kind": "nodes"})
        code, body, _ = self.srv.request("GET", LEASES + "/ghost")
        self.assertEqual(body["details"]["group"], "coordination.k8s.io")

    def test_bad_field_selector_is_400(self):
        code, body, _ = self.srv.request("GET", "/api/v1/pods?fieldSelector=spec.bogus%3Dx")
        self.assertEqual(code, 400)
        self.assertStatus(body, 400, "BadRequest")


class ListsAndWatches(ServerTest):
    def test_pagination_with_limit_and_continue(self):
        self.srv.post_objects([mk.node("n1")] + [mk.pod("p%d" % i, "n1") for i in range(7)])
        page = self.srv.ok("GET", "/api/v1/namespaces/default/pods?limit=3")
        self.assertEqual(len(page["items"]), 3)
        self.assertEqual(page["metadata"]["remainingItemCount"], 4)
        rv = page["metadata"]["resourceVersion"]
        names = [p["metadata"]["name"] for p in page["items"]]
        while page["metadata"].get("continue"):
            page = self.srv.ok("GET", "/api/v1/namespaces/default/pods?limit=3&continue=" +
                               page["metadata"]["continue"])
            self.assertEqual(page["metadata"]["resourceVersion"], rv)
            names += [p["metadata"]["name"] for p in page["items"]]
        self.assertEqual(names, ["p%d" % i for i in range(7)])
        self.assertNotIn("kind", page["items"][0])  # list items carry no TypeMeta, as on the real server

    def test_field_and_label_selectors(self):
        self.srv.post_objects([mk.node("n1"), mk.node("n2"),
                               mk.pod("a", "n1", labels={"app": "x", "tier": "web"}),
                               mk.pod("b", "n2", labels={"app": "y"}),
                               mk.pod("c", "n1", namespace="kube-system", labels={"app": "x"})])
        names = lambda q: sorted(p["metadata"]["name"] for p in self.srv.ok("GET", "/api/v1/pods?" + q)["items"])
        self.assertEqual(names("fieldSelector=spec.nodeName%3Dn1"), ["a", "c"])
        self.assertEqual(names("fieldSelector=metadata.name%3Db"), ["b"])
        self.assertEqual(names("fieldSelector=spec.nodeName%3Dn1,metadata.namespace!%3Ddefault"), ["c"])
        self.assertEqual(names("labelSelector=app%3Dx"), ["a", "c"])
        self.assertEqual(names("labelSelector=app+in+(x,y),!tier"), ["b", "c"])
        self.assertEqual(names("labelSelector=app+notin+(x)"), ["b"])

    def test_watch_resume_replays_what_followed(self):
        self.srv.post_objects([mk.node("n1")])
        rv = self.srv.ok("GET", "/api/v1/nodes")["metadata"]["resourceVersion"]
        self.srv.post_objects([mk.node("n2")])
        self.srv.node_status("n1", ready=False)
        self.srv.ok("DELETE", "/api/v1/nodes/n2")
        events = list(self.srv.watch("/api/v1/nodes?resourceVersion=%s&timeoutSeconds=1" % rv))
        got = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
        self.assertEqual(got, [("ADDED", "n2"), ("MODIFIED", "n1"), ("DELETED", "n2")])
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        self.assertEqual(rvs, sorted(rvs))
        self.assertEqual(events[0]["object"]["kind"], "Node")

    def test_watch_streams_live_events_with_selector_and_bookmarks(self):
        self.srv.post_objects([mk.node("n1"), mk.node("n2"), mk.pod("a", "n1")])
        self.srv.config(bookmark_seconds=0.2)
        rv = self.srv.ok("GET", "/api/v1/pods")["metadata"]["resourceVersion"]

        def later():
            time.sleep(0.3)
            self.srv.post_objects([mk.pod("b", "n2"), mk.pod("c", "n1")])
            self.srv.ok("DELETE", "/api/v1/namespaces/default/pods/a?gracePeriodSeconds=0")
        t = threading.Thread(target=later)
        t.start()
        events = list(self.srv.watch("/api/v1/pods?fieldSelector=spec.nodeName%%3Dn1&allowWatchBookmarks=true"
                                     "&resourceVersion=%s&timeoutSeconds=2" % rv))
        t.join()
        real = [(e["type"], e["object"]["metadata"]["name"]) for e in events if e["type"] != "BOOKMARK"]
        self.assertEqual(real, [("ADDED", "c"), ("DELETED", "a")])
        marks = [e for e in events if e["type"] == "BOOKMARK"]
        self.assertTrue(marks)
        self.assertEqual(set(marks[-1]["object"]["metadata"]), {"resourceVersion"})

    def test_watch_from_zero_sends_current_state_first(self):
        self.srv.post_objects([mk.node("n1"), mk.node("n2")])
        events = list(self.srv.watch("/api/v1/nodes?resourceVersion=0&timeoutSeconds=1"))
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in events],
                         [("ADDED", "n1"), ("ADDED", "n2")])

    def test_too_old_resource_version_is_410_gone(self):
        self.srv.post_objects([mk.node("n1")])
        first = int(self.srv.ok("GET", "/api/v1/nodes")["metadata"]["resourceVersion"])
        page = self.srv.ok("GET", "/api/v1/namespaces?limit=1")
        self.srv.post_objects([lease("l%d" % i) for i in range(1050)])
        events = list(self.srv.watch("/api/v1/nodes?resourceVersion=%d" % first))
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0]["type"], "ERROR")
        self.assertStatus(events[0]["object"], 410, "Expired")
        self.assertIn("too old resource version", events[0]["object"]["message"])
        code, body, _ = self.srv.request("GET", "/api/v1/namespaces?limit=1&continue=" +
                                         page["metadata"]["continue"])
        self.assertEqual(code, 410)
        self.assertStatus(body, 410, "Expired")


class UpdatesAndLeases(ServerTest):
    def test_stale_update_is_409_conflict(self):
        created = self.srv.ok("POST", LEASES, lease("lock"))
        self.assertTrue(created["metadata"]["uid"])
        upd = dict(created, spec={"holderIdentity": "n2", "leaseDurationSeconds": 30})
        newer = self.srv.ok("PUT", LEASES + "/lock", upd)
        self.assertGreater(int(newer["metadata"]["resourceVersion"]), int(created["metadata"]["resourceVersion"]))
        code, body, _ = self.srv.request("PUT", LEASES + "/lock", upd)  # carries the old resourceVersion
        self.assertEqual(code, 409)
        self.assertStatus(body, 409, "Conflict")
        self.assertIn("the object has been modified", body["message"])
        self.assertEqual(body["details"], {"name": "lock", "group": "coordination.k8s.io", "kind": "leases"})
        self.assertEqual(self.srv.ok("GET", LEASES + "/lock")["spec"]["holderIdentity"], "n2")

    def test_lease_create_race_one_wins(self):
        results = []
        barrier = threading.Barrier(2)

        def create(holder):
            conn = self.srv.connection()
            barrier.wait()
            conn.request("POST", LEASES, json.dumps(lease("race", holder)),
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            results.append((r.status, json.loads(r.read())))
            conn.close()
        ts = [threading.Thread(target=create, args=(h,)) for h in ("n1", "n2")]
        [t.start() for t in ts]
        [t.join() for t in ts]
        codes = sorted(c for c, _ in results)
        self.assertEqual(codes, [201, 409])
        loser = [b for c, b in results if c == 409][0]
        self.assertStatus(loser, 409, "AlreadyExists")
        self.assertEqual(loser["message"], 'leases.coordination.k8s.io "race" already exists')

    def test_delete_lease_and_uid_precondition(self):
        created = self.srv.ok("POST", LEASES, lease("gone"))
        code, body, _ = self.srv.request("DELETE", LEASES + "/gone",
                                         {"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})
        self.assertEqual(code, 409)
        body = self.srv.ok("DELETE", LEASES + "/gone", {"preconditions": {"uid": created["metadata"]["uid"]}})
        self.assertEqual(body["status"], "Success")
        self.assertEqual(self.srv.request("GET", LEASES + "/gone")[0], 404)

    def test_patch_types(self):
        self.srv.post_objects([mk.node("n1", taints=[{"key": "a", "value": "1", "effect": "NoSchedule"}])])
        smp = "application/strategic-merge-patch+json"
        # cordon exactly as kubectl sends it, then uncordon
        out = self.srv.ok("PATCH", "/api/v1/nodes/n1", {"spec": {"unschedulable": True}}, content_type=smp)
        self.assertTrue(out["spec"]["unschedulable"])
        out = self.srv.ok("PATCH", "/api/v1/nodes/n1", {"spec": {"unschedulable": None}}, content_type=smp)
        self.assertNotIn("unschedulable", out["spec"])
        # taints have no patch strategy: the list is replaced wholesale
        out = self.srv.ok("PATCH", "/api/v1/nodes/n1",
                          {"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]}}, content_type=smp)
        self.assertEqual(out["spec"]["taints"], [{"key": "b", "effect": "NoExecute"}])
        # conditions merge by type through the status subresource
        out = self.srv.ok("PATCH", "/api/v1/nodes/n1/status",
                          {"status": {"conditions": [{"type": "DiskPressure", "status": "False"}]}},
                          content_type=smp)
        self.assertEqual(sorted(c["type"] for c in out["status"]["conditions"]), ["DiskPressure", "Ready"])
        # status sent to the main resource is ignored
        out = self.srv.ok("PATCH", "/api/v1/nodes/n1", {"status": {"conditions": []}}, content_type=smp)
        self.assertEqual(len(out["status"]["conditions"]), 2)
        out = self.srv.ok("PATCH", "/api/v1/nodes/n1", {"metadata": {"labels": {"x": "1"}}},
                          content_type="application/merge-patch+json")
        self.assertEqual(out["metadata"]["labels"]["x"], "1")
        out = self.srv.ok("PATCH", "/api/v1/nodes/n1",
                          [{"op": "test", "path": "/metadata/labels/x", "value": "1"},
                           {"op": "add", "path": "/metadata/annotations", "value": {"k/v": "w"}},
                           {"op": "remove", "path": "/spec/taints"}],
                          content_type="application/json-patch+json")
        self.assertEqual(out["metadata"]["annotations"], {"k/v": "w"})
        self.assertNotIn("taints", out["spec"])
        code, body, _ = self.srv.request("PATCH", "/api/v1/nodes/n1",
                                         [{"op": "test", "path": "/metadata/labels/x", "value": "2"}],
                                         content_type="application/json-patch+json")
        self.assertEqual(code, 422)
        # a patch carrying a stale resourceVersion is a conflict
        code, body, _ = self.srv.request("PATCH", "/api/v1/nodes/n1", {"metadata": {"resourceVersion": "1"}},
                                         content_type="application/merge-patch+json")
        self.assertEqual(code, 409)

    def test_node_status_control_sets_ready_and_boot_id(self):
        self.srv.post_objects([mk.node("n1")])
        self.srv.node_status("n1", ready=False, boot_id="boot-2")
        node = self.srv.ok("GET", "/api/v1/nodes/n1")
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"][0]
        self.assertEqual(ready["status"], "False")
        self.assertEqual(node["status"]["nodeInfo"]["bootID"], "boot-2")

    def test_self_subject_access_review_and_rbac_denials(self):
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"verb": "create", "resource": "pods",
                                                  "subresource": "eviction", "namespace": "default"}}}
        path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        self.assertTrue(self.srv.ok("POST", path, review)["status"]["allowed"])
        self.srv.rbac([{"verb": "create", "resource": "pods", "subresource": "eviction"}])
        self.assertFalse(self.srv.ok("POST", path, review)["status"]["allowed"])
        self.srv.post_objects([mk.node("n1"), mk.pod("a", "n1")])
        code, body, _ = self.srv.request("POST", "/api/v1/namespaces/default/pods/a/eviction",
                                         {"apiVersion": "policy/v1", "kind": "Eviction",
                                          "metadata": {"name": "a", "namespace": "default"}})
        self.assertEqual(code, 403)
        self.assertStatus(body, 403, "Forbidden")


class EvictionsAndPdbs(ServerTest):
    def evict(self, name, ns="default", api="policy/v1"):
        return self.srv.request("POST", "/api/v1/namespaces/%s/pods/%s/eviction" % (ns, name),
                                {"apiVersion": api, "kind": "Eviction",
                                 "metadata": {"name": name, "namespace": ns}})

    def test_pdb_blocks_with_429_then_recovers(self):
        rs = mk.replicaset("web", 2)
        self.srv.post_objects([mk.node("n1"), mk.node("n2"), rs,
                               mk.pod("web-aaaaa", "n1", owner=rs), mk.pod("web-bbbbb", "n1", owner=rs),
                               mk.pdb("web", {"app": "web"}, min_available=1)])
        pdb = self.srv.ok("GET", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web")
        self.assertEqual({k: pdb["status"][k] for k in ("currentHealthy", "desiredHealthy",
                                                        "disruptionsAllowed", "expectedPods")},
                         {"currentHealthy": 2, "desiredHealthy": 1, "disruptionsAllowed": 1, "expectedPods": 2})
        code, body, _ = self.evict("web-aaaaa")
        self.assertEqual(code, 201, body)
        self.assertEqual(body["status"], "Success")
        pod = self.srv.ok("GET", "/api/v1/namespaces/default/pods/web-aaaaa")
        self.assertTrue(pod["metadata"]["deletionTimestamp"])
        self.assertIn("deletionGracePeriodSeconds", pod["metadata"])
        code, body, _ = self.evict("web-bbbbb", api="policy/v1beta1")
        self.assertEqual(code, 429)
        self.assertStatus(body, 429, "TooManyRequests")
        self.assertEqual(body["message"], "Cannot evict pod as it would violate the pod's disruption budget.")
        self.assertEqual(body["details"]["causes"][0]["reason"], "DisruptionBudget")
        # after termination the ReplicaSet brings a Ready pod back on n2 and the budget recovers
        gone = wait_for(lambda: self.srv.request("GET", "/api/v1/namespaces/default/pods/web-aaaaa")[0] == 404)
        self.assertTrue(gone)
        pods = self.srv.ok("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")["items"]
        self.assertEqual(len(pods), 2)
        new = [p for p in pods if p["metadata"]["name"] != "web-bbbbb"][0]
        self.assertTrue(new["metadata"]["name"].startswith("web-"))
        self.assertEqual(new["spec"]["nodeName"], "n2")
        self.assertEqual(new["metadata"]["ownerReferences"][0]["uid"], rs["metadata"]["uid"])
        self.assertEqual(self.evict("web-bbbbb")[0], 201)

    def test_percentages_and_max_unavailable(self):
        rs = mk.replicaset("db", 4)
        self.srv.post_objects([mk.node("n1"), rs] + [mk.pod("db-%d" % i, "n1", owner=rs) for i in range(4)] +
                              [mk.pdb("db", {"app": "db"}, max_unavailable="25%")])
        st = self.srv.ok("GET", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/db")["status"]
        self.assertEqual((st["expectedPods"], st["desiredHealthy"], st["disruptionsAllowed"]), (4, 3, 1))
        self.srv.ok("PATCH", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/db",
                    {"spec": {"maxUnavailable": None, "minAvailable": "50%"}},
                    content_type="application/merge-patch+json")
        st = self.srv.ok("GET", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/db")["status"]
        self.assertEqual((st["desiredHealthy"], st["disruptionsAllowed"]), (2, 2))
        self.srv.pod_status("default", "db-0", ready=False)
        st = self.srv.ok("GET", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/db")["status"]
        self.assertEqual((st["currentHealthy"], st["disruptionsAllowed"]), (3, 1))

    def test_two_pdbs_is_500_and_missing_pod_is_404(self):
        self.srv.post_objects([mk.node("n1"), mk.pod("a", "n1", labels={"app": "a"}),
                               mk.pdb("one", {"app": "a"}, min_available=0),
                               mk.pdb("two", {"app": "a"}, max_unavailable=1)])
        code, body, _ = self.evict("a")
        self.assertEqual(code, 500)
        self.assertStatus(body, 500, "InternalError")
        self.assertEqual(body["message"], "This pod has more than one PodDisruptionBudget, which the "
                                          "eviction subresource does not support.")
        code, body, _ = self.evict("ghost")
        self.assertEqual(code, 404)
        self.assertEqual(body["message"], 'pods "ghost" not found')

    def test_statefulset_pod_comes_back_with_same_name_new_uid(self):
        sts = mk.statefulset("redis", 1)
        self.srv.post_objects([mk.node("n1"), mk.node("n2"), sts, mk.pod("redis-0", "n1", owner=sts)])
        old = self.srv.ok("GET", "/api/v1/namespaces/default/pods/redis-0")
        self.srv.ok("DELETE", "/api/v1/namespaces/default/pods/redis-0", {"gracePeriodSeconds": 5})
        new = wait_for(lambda: (lambda r: r[1] if r[0] == 200 and r[1]["metadata"]["uid"] != old["metadata"]["uid"]
                                else None)(self.srv.request("GET", "/api/v1/namespaces/default/pods/redis-0")))
        self.assertTrue(new)
        self.assertEqual(new["spec"]["nodeName"], "n2")
        self.assertEqual(new["status"]["phase"], "Running")

    def test_delete_pod_watch_sees_modified_then_deleted(self):
        self.srv.post_objects([mk.node("n1"), mk.pod("a", "n1")])
        rv = self.srv.ok("GET", "/api/v1/pods")["metadata"]["resourceVersion"]
        out = self.srv.ok("DELETE", "/api/v1/namespaces/default/pods/a")
        self.assertEqual(out["kind"], "Pod")
        self.assertEqual(out["metadata"]["deletionGracePeriodSeconds"], 30)
        events = list(self.srv.watch("/api/v1/namespaces/default/pods?resourceVersion=%s&timeoutSeconds=1" % rv))
        self.assertEqual([e["type"] for e in events], ["MODIFIED", "DELETED"])


class Faults(ServerTest):
    def test_503_once_then_success_and_request_log(self):
        self.srv.fault("^/api/v1/nodes$", method="GET", count=1, status=503)
        code, body, _ = self.srv.request("GET", "/api/v1/nodes", headers={"User-Agent": "ua-test/1"})
        self.assertEqual(code, 503)
        self.assertStatus(body, 503, "ServiceUnavailable")
        self.assertEqual(self.srv.request("GET", "/api/v1/nodes")[0], 200)
        log = self.srv.requests()
        self.assertEqual([(r["method"], r["path"], r["status"]) for r in log],
                         [("GET", "/api/v1/nodes", 503), ("GET", "/api/v1/nodes", 200)])
        self.assertEqual(log[0]["user_agent"], "ua-test/1")
        self.assertEqual(set(log[0]) >= {"seq", "method", "path", "query", "user_agent", "status", "time"}, True)

    def test_429_with_retry_after(self):
        self.srv.fault("/leases", method="POST", count=1, status=429, retry_after=3)
        code, body, headers = self.srv.request("POST", LEASES, lease("x"))
        self.assertEqual(code, 429)
        self.assertEqual(headers.get("Retry-After"), "3")
        self.assertEqual(body["details"]["retryAfterSeconds"], 3)
        self.assertEqual(self.srv.request("POST", LEASES, lease("x"))[0], 201)

    def test_drop_closes_connection_without_answer(self):
        self.srv.fault("^/api/v1/nodes$", count=1, drop=True)
        conn = self.srv.connection()
        conn.request("GET", "/api/v1/nodes")
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError)):
            conn.getresponse()
        conn.close()
        self.assertEqual(self.srv.request("GET", "/api/v1/nodes")[0], 200)

    def test_delay(self):
        self.srv.fault("^/version$", count=1, delay=0.4)
        t = time.monotonic()
        self.assertEqual(self.srv.request("GET", "/version")[0], 200)
        self.assertGreaterEqual(time.monotonic() - t, 0.4)


class Lifecycle(unittest.TestCase):
    def test_fixture_cli_stop_and_restart_in_same_dir(self):
        import subprocess
        import tempfile
        d = tempfile.mkdtemp(prefix="apiserver-life-")
        fx = os.path.join(d, "fixture.json")
        with open(fx, "w") as f:
            subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "make_nodes.py"),
                            "--node", "w1", "--pods", "3", "--spare-node", "w2", "--daemonset", "ds"],
                           stdout=f, check=True)
        srv = TestServer(dir=d, fixture=fx).start()
        try:
            self.assertEqual([n["metadata"]["name"] for n in srv.ok("GET", "/api/v1/nodes")["items"]], ["w1", "w2"])
            pods = srv.ok("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dw1")["items"]
            self.assertEqual(len(pods), 4)
            token = srv.token
            srv.stop()
            self.assertFalse(os.path.exists(os.path.join(d, "ready.json")))
            srv.start()
            self.assertEqual(srv.token, token)   # certificates and token are reused
            self.assertEqual(srv.request("GET", "/api/v1/nodes", auth="token")[0], 200)
            self.assertEqual(srv.request("GET", "/api/v1/nodes")[0], 200)
        finally:
            srv.cleanup()
            import shutil
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
