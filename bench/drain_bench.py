#!/usr/bin/python3
"""bench/drain.sh's driver: 100 ReplicaSet pods on each of two twin nodes on the
test API server; node-a drained by `agentctl --local run drain`, node-b by
`kubectl drain --ignore-daemonsets --delete-emptydir-data --force`, in the same
run. Prints both wall times, the ratio and each one's request count (from
/_test/requests, by User-Agent). Standard library only."""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "drain"))
from harness import Agent, TestServer, mk  # noqa: E402


def count(reqs, prefix):
    return sum(1 for r in reqs if (r.get("user_agent") or "").startswith(prefix))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--terminating-seconds", type=float, default=0.5)
    ap.add_argument("--qps", type=float, default=50, help="agent [kubernetes] qps, default as the agent's (kubectl: 5)")
    ap.add_argument("--burst", type=int, default=100)
    ap.add_argument("--max-in-flight", type=int, default=16)
    a = ap.parse_args()
    with TestServer(terminating_seconds=a.terminating_seconds) as srv:
        items = mk.node_with_pods("node-a", a.pods, rs_name="rs-a", spare_nodes=["spare-1", "spare-2"])
        items += [o for o in mk.node_with_pods("node-b", a.pods, rs_name="rs-b") if o["kind"] != "Node" or
                  o["metadata"]["name"] == "node-b"]
        srv.post_objects(items)
        agent = Agent(srv, "node-a", qps=a.qps, burst=a.burst)
        try:
            srv.clear_requests()
            t = time.monotonic()
            p = agent.run("drain", {"max_in_flight": a.max_in_flight}, local=True)
            agent_s = time.monotonic() - t
            if p.returncode != 0:
                print(p.stdout, p.stderr, file=sys.stderr)
                return 1
            t = time.monotonic()
            k = srv.kubectl("drain", "node-b", "--ignore-daemonsets", "--delete-emptydir-data", "--force",
                            timeout=300)
            kubectl_s = time.monotonic() - t
            if k.returncode != 0:
                print(k.stdout, k.stderr, file=sys.stderr)
                return 1
            reqs = srv.requests()
            left_a = srv.ok("GET", "/api/v1/pods?fieldSelector=spec.nodeName=node-a")["items"]
            left_b = srv.ok("GET", "/api/v1/pods?fieldSelector=spec.nodeName=node-b")["items"]
            n_agent = count(reqs, "nodeagent")
            n_kubectl = count(reqs, "kubectl")
            print("pods per node:          %d (terminating %.1fs each)" % (a.pods, a.terminating_seconds))
            print("agentctl --local drain: %.2f s, %d requests (pods left: %d)" % (agent_s, n_agent, len(left_a)))
            print("kubectl drain:          %.2f s, %d requests (pods left: %d)" % (kubectl_s, n_kubectl, len(left_b)))
            print("ratio agent/kubectl:    %.3f (target <= 0.100), requests %d vs %d (target: no more)" %
                  (agent_s / kubectl_s, n_agent, n_kubectl))
            ok = agent_s <= 0.1 * kubectl_s and n_agent <= n_kubectl and not left_a and not left_b
            print("RESULT: " + ("target met" if ok else "target NOT met"))
            return 0
        finally:
            agent.cleanup()


if __name__ == "__main__":
    sys.exit(main())
