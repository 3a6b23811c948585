#!/usr/bin/python3
"""Builders for cluster fixtures: nodes, ReplicaSet/DaemonSet/StatefulSet-owned pods, PDBs.

Why it exists: drain tests and the drain benchmark need realistic objects (owner
references with controller: true, emptyDir volumes, mirror pods) without each
test spelling out JSON. Every function returns plain dicts ready for
POST /_test/objects or a --fixture file.

CLI: python3 make_nodes.py --node worker-1 --pods 100 [--spare-node worker-2 ...]
     prints {"items": [...]} to stdout.
"""

import argparse
import json
import random
import sys
import uuid

ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


_USED_SUFFIXES = set()


def _suffix(n=5):
    """A random name suffix, as a ReplicaSet's pods get, never the same twice
    in one process: 3000 pods of 5 random characters collide often enough
    (about 1 in 13 seeds) that a pod silently failed to be created."""
    while True:
        s = "".join(random.choice(ALPHABET) for _ in range(n))
        if s not in _USED_SUFFIXES:
            _USED_SUFFIXES.add(s)
            return s


def node(name, ready=True, unschedulable=False, boot_id=None, labels=None, taints=None):
    """A Node; status is filled by the server when ready is None."""
    n = {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": name, "labels": dict({"kubernetes.io/hostname": name,
                                                     "kubernetes.io/os": "linux"}, **(labels or {}))},
         "spec": {}}
    if unschedulable:
        n["spec"]["unschedulable"] = True
    if taints:
        n["spec"]["taints"] = taints
    status = "True" if ready else "False"
    n["status"] = {
        "conditions": [{"type": "Ready", "status": status,
                        "reason": "KubeletReady" if ready else "KubeletNotReady",
                        "message": "kubelet is posting ready status" if ready else "kubelet stopped",
                        "lastHeartbeatTime": "2025-01-01T00:00:00Z",
                        "lastTransitionTime": "2025-01-01T00:00:00Z"}],
        "nodeInfo": {"bootID": boot_id or str(uuid.uuid4())},
        "addresses": [{"type": "InternalIP", "address": "10.0.0.%d" % random.randint(2, 250)},
                      {"type": "Hostname", "address": name}],
    }
    return n


def _owned(kind, api_version, name, uid):
    return [{"apiVersion": api_version, "kind": kind, "name": name, "uid": uid,
             "controller": True, "blockOwnerDeletion": True}]


def replicaset(name, replicas, namespace="default", labels=None):
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}},
            "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}}


def daemonset(name, namespace="kube-system", labels=None):
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "labels": labels},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "agent", "image": "busybox:1.36"}]}}}}


def statefulset(name, replicas, namespace="default", labels=None):
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "labels": labels},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "main", "image": "redis:7"}]}}}}


def pod(name, node_name, namespace="default", owner=None, labels=None, empty_dir=False,
        mirror=False, ready=True, grace=30):
    """A running pod on node_name; owner is a ReplicaSet/DaemonSet/StatefulSet dict from above."""
    md = {"name": name, "namespace": namespace, "labels": dict(labels or {})}
    if owner is not None:
        om = owner["metadata"]
        md["ownerReferences"] = _owned(owner["kind"], owner["apiVersion"], om["name"], om["uid"])
        md["labels"].update(owner["spec"]["selector"]["matchLabels"])
        if owner["kind"] == "ReplicaSet":
            md["generateName"] = om["name"] + "-"
    if mirror:
        md["annotations"] = {"kubernetes.io/config.mirror": "mirror-" + name,
                             "kubernetes.io/config.source": "file"}
    spec = {"nodeName": node_name, "terminationGracePeriodSeconds": grace,
            "containers": [{"name": "main", "image": "nginx:1.27"}]}
    if empty_dir:
        spec["volumes"] = [{"name": "scratch", "emptyDir": {}}]
        spec["containers"][0]["volumeMounts"] = [{"name": "scratch", "mountPath": "/scratch"}]
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}
    if not ready:
        p["status"] = {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "False", "lastProbeTime": None,
             "lastTransitionTime": "2025-01-01T00:00:00Z"}]}
    return p


def pdb(name, selector_labels, namespace="default", min_available=None, max_unavailable=None):
    spec = {"selector": {"matchLabels": selector_labels}}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def node_with_pods(node_name, n_pods, rs_name="bench", namespace="default", spare_nodes=(),
                   daemonset_name=None):
    """Objects for a node running n_pods pods of one ReplicaSet (plus optional spare nodes
    for the replacements and a DaemonSet pod on node_name)."""
    items = [node(node_name)] + [node(n) for n in spare_nodes]
    rs = replicaset(rs_name, n_pods, namespace)
    items.append(rs)
    for _ in range(n_pods):
        items.append(pod(rs_name + "-" + _suffix(), node_name, namespace, owner=rs))
    if daemonset_name:
        ds = daemonset(daemonset_name)
        items.append(ds)
        items.append(pod(daemonset_name + "-" + _suffix(), node_name, ds["metadata"]["namespace"], owner=ds))
    return items


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--node", default="worker-1")
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--replicaset", default="bench")
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--spare-node", action="append", default=[])
    ap.add_argument("--daemonset")
    a = ap.parse_args(argv)
    json.dump({"items": node_with_pods(a.node, a.pods, a.replicaset, a.namespace, a.spare_node,
                                       a.daemonset)}, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
