#!/usr/bin/python3
"""A test Kubernetes API server, faithful enough that real kubectl accepts it.

Why it exists: nodeagent's Kubernetes client, its drain-and-reboot logic, the
benchmarks and the end-to-end test need an API server that behaves like the real
one (TLS, client-cert and bearer auth, discovery, tables, watches with history
and 410 Gone, PodDisruptionBudgets and evictions, pods that terminate and come
back through their ReplicaSet/StatefulSet) without a cluster. Tests steer it
through /_test/ control endpoints (objects, faults, request log, node status,
RBAC denials). Standard library only; certificates come from the openssl CLI.

Start: python3 apiserver.py --dir DIR [--host 127.0.0.1] [--port 0] [--minor 32]
       [--terminating-seconds 0.5] [--fixture FILE.json] [--san IP:x|DNS:y ...]
Callers wait for DIR/ready.json. See README.md beside this file.
"""

import argparse
import base64
import copy
import datetime
import heapq
import http.server
import json
import math
import os
import random
import re
import resource
import secrets
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from urllib.parse import parse_qs, urlsplit

HISTORY_WINDOW = 1000
DEFAULT_WATCH_TIMEOUT = 1800.0
BOOKMARK_INTERVAL = 1.0
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# ----------------------------------------------------------------------------
# Resources
# ----------------------------------------------------------------------------

class Resource:
    def __init__(self, plural, singular, kind, group, version, namespaced,
                 short=(), categories=(), subresources=(), verbs=None,
                 list_kind=None):
        self.plural = plural
        self.singular = singular
        self.kind = kind
        self.group = group
        self.version = version
        self.namespaced = namespaced
        self.short = list(short)
        self.categories = list(categories)
        self.subresources = list(subresources)
        self.verbs = verbs or ["create", "delete", "deletecollection", "get",
                               "list", "patch", "update", "watch"]
        self.list_kind = list_kind or kind + "List"

    @property
    def api_version(self):
        return self.version if not self.group else "%s/%s" % (self.group, self.version)

    @property
    def key(self):
        return (self.group, self.plural)

    @property
    def qualified(self):
        """pods, leases.coordination.k8s.io: the name used in error messages."""
        return self.plural if not self.group else "%s.%s" % (self.plural, self.group)


RESOURCES = [
    Resource("namespaces", "namespace", "Namespace", "", "v1", False, ["ns"],
             subresources=["status"]),
    Resource("nodes", "node", "Node", "", "v1", False, ["no"], subresources=["status"]),
    Resource("pods", "pod", "Pod", "", "v1", True, ["po"], ["all"],
             subresources=["eviction", "status"]),
    Resource("events", "event", "Event", "", "v1", True, ["ev"]),
    Resource("daemonsets", "daemonset", "DaemonSet", "apps", "v1", True, ["ds"], ["all"],
             subresources=["status"]),
    Resource("deployments", "deployment", "Deployment", "apps", "v1", True, ["deploy"],
             ["all"], subresources=["status"]),
    Resource("replicasets", "replicaset", "ReplicaSet", "apps", "v1", True, ["rs"], ["all"],
             subresources=["status"]),
    Resource("statefulsets", "statefulset", "StatefulSet", "apps", "v1", True, ["sts"],
             ["all"], subresources=["status"]),
    Resource("poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", "policy",
             "v1", True, ["pdb"], subresources=["status"]),
    Resource("leases", "lease", "Lease", "coordination.k8s.io", "v1", True),
    Resource("events", "event", "Event", "events.k8s.io", "v1", True, ["ev"]),
    Resource("selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview",
             "authorization.k8s.io", "v1", False, verbs=["create"]),
    # Plain objects with no behaviour of their own, stored and served like any
    # other: a namespaced core kind, and Calico's cluster-scoped custom
    # resources as their CRDs define them (what plugins read with the generic
    # KubeClient::Request).
    Resource("configmaps", "configmap", "ConfigMap", "", "v1", True, ["cm"]),
    Resource("ippools", "ippool", "IPPool", "crd.projectcalico.org", "v1", False),
    Resource("installations", "installation", "Installation", "operator.tigera.io", "v1", False),
    Resource("clusterroles", "clusterrole", "ClusterRole", "rbac.authorization.k8s.io", "v1", False),
    Resource("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", "rbac.authorization.k8s.io",
             "v1", False),
    Resource("roles", "role", "Role", "rbac.authorization.k8s.io", "v1", True),
    Resource("rolebindings", "rolebinding", "RoleBinding", "rbac.authorization.k8s.io", "v1", True),
]
GROUPS = ["apps", "events.k8s.io", "authorization.k8s.io", "coordination.k8s.io", "policy",
          "rbac.authorization.k8s.io", "crd.projectcalico.org", "operator.tigera.io"]
# The identity of kubeconfig-node: not in system:masters, so only the RBAC
# objects stored here authorize it (like a node's agent in a real cluster).
NODE_USER = ("nodeagent:node:test", ["nodeagent:nodes", "system:authenticated"])
BY_GV = {}
for _r in RESOURCES:
    BY_GV.setdefault((_r.group, _r.version), {})[_r.plural] = _r
BY_KIND = {(r.group, r.kind): r for r in RESOURCES}
DEFAULT_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]

REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
    415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests",
    500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}
FAULT_MESSAGES = {
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: injected fault",
    503: "The server is currently unable to handle the request (injected fault)",
    504: "The server was unable to return a response in the time allotted (injected fault)",
}


class ApiError(Exception):
    """An error answer: carries the HTTP code and the Status object to send."""

    def __init__(self, code, message, reason=None, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.status = status_object(code, message, reason, details)
        self.headers = headers or {}


def status_object(code, message, reason=None, details=None):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": message, "reason": reason or REASONS.get(code, ""), "code": code}
    if details is not None:
        st["details"] = details
    if st["reason"] == "":
        del st["reason"]
    return st


def res_details(res, name, uid=None):
    d = {"name": name}
    if res.group:
        d["group"] = res.group
    d["kind"] = res.plural
    if uid:
        d["uid"] = uid
    return d


def not_found(res, name):
    return ApiError(404, '%s "%s" not found' % (res.qualified, name), "NotFound",
                    res_details(res, name))


def conflict(res, name, why="the object has been modified; please apply your changes "
                            "to the latest version and try again"):
    return ApiError(409, 'Operation cannot be fulfilled on %s "%s": %s' % (res.qualified, name, why),
                    "Conflict", res_details(res, name))


def bad_request(message):
    return ApiError(400, message, "BadRequest")


def invalid(res, name, causes):
    msg = '%s "%s" is invalid: %s' % (res.kind, name, ", ".join(
        "%s: %s" % (c["field"], c["message"]) for c in causes))
    d = res_details(res, name)
    d["kind"] = res.kind
    d["causes"] = causes
    return ApiError(422, msg, "Invalid", d)


# ----------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------

def now_ts(t=None):
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(s):
    try:
        s = s.replace("Z", "+00:00")
        return datetime.datetime.fromisoformat(s).timestamp()
    except Exception:
        return time.time()


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    minutes = s // 60
    if minutes < 10:
        return "%dm" % minutes if s % 60 == 0 else "%dm%ds" % (minutes, s % 60)
    if minutes < 180:
        return "%dm" % minutes
    hours = s // 3600
    if hours < 8:
        return "%dh" % hours if minutes % 60 == 0 else "%dh%dm" % (hours, minutes % 60)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        return "%dd" % (hours // 24) if hours % 24 == 0 else "%dd%dh" % (hours // 24, hours % 24)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return "%dy" % (hours // 24 // 365) if dy == 0 else "%dy%dd" % (hours // 24 // 365, dy)
    return "%dy" % (hours // 24 // 365)


def random_suffix(n=5):
    return "".join(random.choice(NAME_ALPHABET) for _ in range(n))


def get_path(obj, dotted):
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def meta(obj):
    return obj.setdefault("metadata", {})


def is_true_condition(obj, ctype):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c.get("status") == "True"
    return False


def controller_ref(obj):
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def pod_healthy(pod):
    return not meta(pod).get("deletionTimestamp") and is_true_condition(pod, "Ready")


def node_ready(node):
    return is_true_condition(node, "Ready")


# ----------------------------------------------------------------------------
# Selectors
# ----------------------------------------------------------------------------

def split_top(s):
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


LABEL_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9._-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def parse_label_selector(text):
    """Return a list of (key, op, values); raise ApiError on syntax errors."""
    reqs = []
    for part in split_top(text or ""):
        m = LABEL_RE.match(part)
        if not m:
            raise bad_request("unable to parse requirement: found '%s', expected: identifier" % part)
        neg, key, op, val, setop, setvals = m.groups()
        if neg:
            if op or setop:
                raise bad_request("unable to parse requirement: %s" % part)
            reqs.append((key, "!", None))
        elif op:
            reqs.append((key, "!=" if op == "!=" else "=", [val]))
        elif setop:
            vals = [v.strip() for v in setvals.split(",") if v.strip()]
            reqs.append((key, setop, vals))
        else:
            reqs.append((key, "exists", None))
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "=" and (not has or v != vals[0]):
            return False
        if op == "!=" and has and v == vals[0]:
            return False
        if op == "in" and (not has or v not in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "!" and has:
            return False
    return True


def label_selector_object_match(sel, labels):
    """metav1.LabelSelector (matchLabels/matchExpressions) against labels. None matches nothing."""
    if sel is None:
        return False
    labels = labels or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


FIELD_LABELS = {
    ("", "pods"): {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                   "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                   "status.podIP", "status.nominatedNodeName"},
    ("", "nodes"): {"spec.unschedulable"},
    ("", "namespaces"): {"status.phase"},
    ("", "events"): {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                     "involvedObject.uid", "involvedObject.apiVersion",
                     "involvedObject.resourceVersion", "involvedObject.fieldPath",
                     "reason", "reportingComponent", "source", "type"},
}


def parse_field_selector(res, text):
    reqs = []
    allowed = {"metadata.name", "metadata.namespace"} | FIELD_LABELS.get(res.key, set())
    for part in split_top(text or ""):
        m = re.match(r"^([A-Za-z0-9._]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise bad_request('invalid selector: \'%s\'; can\'t understand \'%s\'' % (text, part))
        field, op, val = m.groups()
        if field not in allowed:
            raise bad_request('field label not supported: %s' % field)
        reqs.append((field, op != "!=", val))
    return reqs


def field_value(obj, field):
    if field == "source":
        v = get_path(obj, "source.component")
    elif field == "spec.hostNetwork" or field == "spec.unschedulable":
        v = get_path(obj, field)
        v = "true" if v else "false"
    else:
        v = get_path(obj, field)
    return "" if v is None else str(v)


def fields_match(reqs, obj):
    for field, eq, val in reqs:
        if (field_value(obj, field) == val) != eq:
            return False
    return True


# ----------------------------------------------------------------------------
# Patches
# ----------------------------------------------------------------------------

def merge_patch(orig, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(orig) if isinstance(orig, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


# patchMergeKey of list fields (by field name) in the types we serve.
SMP_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "volumes": "name", "env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "ports": "containerPort", "conditions": "type", "addresses": "type",
    "ownerReferences": "uid", "imagePullSecrets": "name", "hostAliases": "ip",
    "resourceClaims": "name", "topologySpreadConstraints": "topologyKey",
}
SMP_PRIMITIVE_MERGE = {"finalizers"}
_DELETE = object()


def _strip_directives(v):
    if isinstance(v, dict):
        return {k: _strip_directives(x) for k, x in v.items()
                if not k.startswith("$")}
    if isinstance(v, list):
        return [_strip_directives(x) for x in v]
    return v


def smp_merge(orig, patch):
    """Strategic merge patch for the list strategies of the core types we serve.

    Lists without a patch strategy (spec.taints, tolerations, ...) are replaced
    wholesale, as on the real server; merge-keyed lists merge by key and honour
    $patch: delete/replace, $retainKeys, $deleteFromPrimitiveList and
    $setElementOrder."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives(patch)
    if directive == "delete":
        return _DELETE
    result = copy.deepcopy(orig) if isinstance(orig, dict) else {}
    orders = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            result[field] = [x for x in result.get(field) or [] if x not in v]
            continue
        if v is None:
            result.pop(k, None)
        elif isinstance(v, dict):
            r = smp_merge(result.get(k), v)
            if r is _DELETE:
                result.pop(k, None)
            else:
                result[k] = r
        elif isinstance(v, list):
            result[k] = smp_list(k, result.get(k), v)
        else:
            result[k] = v
    if "$retainKeys" in patch:
        keep = set(patch["$retainKeys"] or [])
        result = {k: v for k, v in result.items() if k in keep}
    for field, order in orders.items():
        key = SMP_MERGE_KEYS.get(field)
        cur = result.get(field)
        if not isinstance(cur, list):
            continue
        def pos(item):
            ident = item.get(key) if key and isinstance(item, dict) else item
            ids = [o.get(key) if key and isinstance(o, dict) else o for o in order]
            return ids.index(ident) if ident in ids else len(ids)
        result[field] = sorted(cur, key=pos)
    return result


def smp_list(field, orig, patch):
    key = SMP_MERGE_KEYS.get(field)
    orig = orig if isinstance(orig, list) else []
    if field in SMP_PRIMITIVE_MERGE:
        out = list(orig)
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    if not key:
        return _strip_directives(patch)
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [_strip_directives(x) for x in patch
                if not (isinstance(x, dict) and x.get("$patch") == "replace")]
    out = copy.deepcopy(orig)
    for item in patch:
        if not isinstance(item, dict):
            continue
        ident = item.get(key)
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == ident), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_strip_directives(item))
        else:
            out[idx] = smp_merge(out[idx], item)
    return out


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request("invalid JSON pointer: %s" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise ApiError(422, "json patch: index %s out of range" % p, "Invalid")
        elif isinstance(cur, dict):
            if p not in cur:
                raise ApiError(422, "json patch: path %s does not exist" % p, "Invalid")
            cur = cur[p]
        else:
            raise ApiError(422, "json patch: cannot walk into %s" % p, "Invalid")
    return cur


def _jp_add(doc, parts, value, replace=False):
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                i = int(last)
            except ValueError:
                raise ApiError(422, "json patch: bad index %s" % last, "Invalid")
            if replace:
                if i >= len(parent):
                    raise ApiError(422, "json patch: index %d out of range" % i, "Invalid")
                parent[i] = value
            else:
                if i > len(parent):
                    raise ApiError(422, "json patch: index %d out of range" % i, "Invalid")
                parent.insert(i, value)
    elif isinstance(parent, dict):
        if replace and last not in parent:
            raise ApiError(422, "json patch: replace operation does not apply: doc is missing key: /%s"
                           % "/".join(parts), "Invalid")
        parent[last] = value
    else:
        raise ApiError(422, "json patch: parent is not a container", "Invalid")
    return doc


def _jp_remove(doc, parts):
    if not parts:
        raise ApiError(422, "json patch: cannot remove the root", "Invalid")
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    try:
        if isinstance(parent, list):
            return parent.pop(int(last))
        return parent.pop(last)
    except (KeyError, ValueError, IndexError, AttributeError):
        raise ApiError(422, "json patch: remove operation does not apply: doc is missing path: /%s"
                       % "/".join(parts), "Invalid")


def json_patch(doc, ops):
    """RFC 6902: add, remove, replace, test, move, copy."""
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op.get("op")
        parts = _pointer(op.get("path", ""))
        if kind == "add":
            doc = _jp_add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _jp_remove(doc, parts)
        elif kind == "replace":
            doc = _jp_add(doc, parts, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise ApiError(422, "the server rejected our request due to an error in our "
                                    "request: testing value %s failed" % op.get("path"), "Invalid")
        elif kind == "move":
            v = _jp_remove(doc, _pointer(op.get("from", "")))
            doc = _jp_add(doc, parts, v)
        elif kind == "copy":
            v = copy.deepcopy(_walk(doc, _pointer(op.get("from", ""))))
            doc = _jp_add(doc, parts, v)
        else:
            raise bad_request("json patch: unknown op %r" % kind)
    return doc


# ----------------------------------------------------------------------------
# The store: objects, resourceVersions, watch history, simulated controllers
# ----------------------------------------------------------------------------

class WatchQueue:
    """The live events of one open watch. The writer (Store._record, under the
    store lock) checks each event of the watched resource against this watch's
    selectors and queues only what the watch must send, then wakes only this
    watch's thread: an event costs one selector check per open watch of its
    resource, not a wake-up and a history scan of every watching thread. The
    condition shares the store's lock (a lock per queue measured twice the CPU
    per delivered event: the woken threads then fight for the GIL while the
    writer is still offering)."""

    def __init__(self, key, match, lock, name=None):
        self.key = key
        self.name = name          # its fieldSelector wants this metadata.name (None: any)
        self.match = match
        self.cond = threading.Condition(lock)
        self.events = []          # (rv, type, obj) not yet sent
        self.overflowed = False   # fell more than HISTORY_WINDOW events behind

    def offer(self, rv, etype, obj, old):
        if self.overflowed:
            return
        etype = watch_event_type(self.match, etype, obj, old)
        if etype is None:
            return
        self.events.append((rv, etype, obj))
        if len(self.events) > HISTORY_WINDOW:
            self.overflowed = True
            self.events = []
        self.cond.notify()


def watch_event_type(match, etype, obj, old):
    """What a watch with selector `match` sees of a stored event: the type (an
    object that stops matching arrives as DELETED, one that starts as ADDED) or
    None when the event is not for it."""
    new_match = match(obj)
    if etype == "MODIFIED":
        old_match = old is not None and match(old)
        if new_match and not old_match:
            return "ADDED"
        if old_match and not new_match:
            return "DELETED"
        return etype if new_match else None
    return etype if new_match else None


class Store:
    def __init__(self, minor, terminating_seconds):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)   # the timer loop waits on it
        self.minor = minor
        self.terminating_seconds = terminating_seconds
        self.rv = 0
        self.objects = {}          # res.key -> {(ns, name): obj}
        self.history = deque()     # (rv, res.key, type, obj, oldobj)
        self.oldest_rv = 0         # events with rv > oldest_rv are all in history
        self.timers = []           # heap of (when, seq, fn)
        self.timer_seq = 0
        self.deny = []
        self.deny_enforce = True
        self.kubelet_done = set()  # uids of terminated pods held only by finalizers
        self.stopping = False
        self.watches = {}          # res.key -> set of WatchQueue (open watches)
        # (res.key, name) -> set of WatchQueue: watches whose fieldSelector asks
        # for metadata.name=name (an agent watching its own Lease) are offered
        # only that object's events.
        self.watches_by_name = {}
        # Called as observer(res, type, obj, old) for every stored event, under
        # the lock (the fleet recorder's timeline); None when nobody listens.
        self.observer = None
        self.reset()
        threading.Thread(target=self._timer_loop, daemon=True, name="timers").start()

    # -- basics ---------------------------------------------------------------

    def reset(self):
        with self.cond:
            self.objects = {r.key: {} for r in RESOURCES}
            self.history.clear()
            self.oldest_rv = self.rv
            self.timers = []
            self.deny = []
            self.deny_enforce = True
            self.kubelet_done = set()
            for ns in DEFAULT_NAMESPACES:
                self._store_new(BY_KIND[("", "Namespace")], {"metadata": {"name": ns}})
            self.cond.notify_all()

    def next_rv(self):
        self.rv += 1
        return self.rv

    def _record(self, res, etype, obj, old=None):
        rv = int(obj["metadata"]["resourceVersion"])
        obj = copy.deepcopy(obj)
        self.history.append((rv, res.key, etype, obj, old))
        while len(self.history) > HISTORY_WINDOW:
            self.oldest_rv = self.history.popleft()[0]
        for w in self.watches.get(res.key, ()):
            w.offer(rv, etype, obj, old)
        if self.watches_by_name:
            for w in self.watches_by_name.get((res.key, obj["metadata"]["name"]), ()):
                w.offer(rv, etype, obj, old)
        if self.observer is not None:
            self.observer(res, etype, obj, old)

    def history_since(self, rv):
        """Stored events with a resourceVersion above rv, oldest first (walks back
        from the newest, so a watch that is nearly current costs little)."""
        out = []
        for h in reversed(self.history):
            if h[0] <= rv:
                break
            out.append(h)
        out.reverse()
        return out

    def open_watch(self, res, match, name=None):
        """Register a watch: from now on its events are queued. `name`: its
        selector wants only the object of that name. Caller holds the lock."""
        w = WatchQueue(res.key, match, self.lock, name)
        if name is None:
            self.watches.setdefault(res.key, set()).add(w)
        else:
            self.watches_by_name.setdefault((res.key, name), set()).add(w)
        return w

    def close_watch(self, w):
        with self.lock:
            if w.name is None:
                self.watches.get(w.key, set()).discard(w)
            else:
                ws = self.watches_by_name.get((w.key, w.name), set())
                ws.discard(w)
                if not ws:
                    self.watches_by_name.pop((w.key, w.name), None)

    def wake_watches(self):
        """Wake every open watch (server stopping or restarting)."""
        with self.lock:
            self.cond.notify_all()
            for ws in list(self.watches.values()) + list(self.watches_by_name.values()):
                for w in ws:
                    w.cond.notify()

    def table(self, res):
        return self.objects[res.key]

    def get(self, res, ns, name):
        return self.objects[res.key].get((ns or "", name))

    def _defaults(self, res, obj):
        m = meta(obj)
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        m.setdefault("uid", str(uuid.uuid4()))
        m.setdefault("creationTimestamp", now_ts())
        if res.group in ("apps", "policy"):
            m.setdefault("generation", 1)
        if res.key == ("", "namespaces"):
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj.setdefault("status", {"phase": "Active"})
            m.setdefault("labels", {})["kubernetes.io/metadata.name"] = m["name"]
        if res.key == ("", "nodes"):
            self._node_defaults(obj)
        if res.key == ("", "pods"):
            self._pod_defaults(obj)

    def _node_defaults(self, node):
        name = node["metadata"]["name"]
        node.setdefault("spec", {})
        st = node.setdefault("status", {})
        if "conditions" not in st:
            t = now_ts()
            st["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                 "message": "kubelet is posting ready status",
                                 "lastHeartbeatTime": t, "lastTransitionTime": t}]
        info = st.setdefault("nodeInfo", {})
        info.setdefault("bootID", str(uuid.uuid4()))
        info.setdefault("kubeletVersion", "v1.%d.0" % self.minor)
        info.setdefault("kubeProxyVersion", "v1.%d.0" % self.minor)
        info.setdefault("osImage", "Debian GNU/Linux 12 (bookworm)")
        info.setdefault("kernelVersion", "6.1.0-test")
        info.setdefault("containerRuntimeVersion", "containerd://1.7.0")
        info.setdefault("operatingSystem", "linux")
        info.setdefault("architecture", "amd64")
        info.setdefault("machineID", uuid.uuid4().hex)
        info.setdefault("systemUUID", str(uuid.uuid4()))
        st.setdefault("addresses", [{"type": "InternalIP", "address": "10.0.0.%d" % random.randint(2, 250)},
                                    {"type": "Hostname", "address": name}])
        st.setdefault("capacity", {"cpu": "2", "memory": "8Gi", "pods": "110"})
        st.setdefault("allocatable", {"cpu": "2", "memory": "8Gi", "pods": "110"})
        meta(node).setdefault("labels", {}).setdefault("kubernetes.io/hostname", name)

    def _pod_defaults(self, pod):
        spec = pod.setdefault("spec", {})
        spec.setdefault("containers", [{"name": "main", "image": "registry.k8s.io/pause:3.9"}])
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("schedulerName", "default-scheduler")
        if "status" not in pod or not pod["status"]:
            if spec.get("nodeName"):
                self._make_running(pod)
            else:
                pod["status"] = {"phase": "Pending", "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                     "lastTransitionTime": now_ts(), "lastProbeTime": None,
                     "message": "0/0 nodes are available"}]}

    def _make_running(self, pod):
        t = now_ts()
        conds = [{"type": c, "status": "True", "lastProbeTime": None, "lastTransitionTime": t}
                 for c in ("PodReadyToStartContainers", "Initialized", "Ready",
                           "ContainersReady", "PodScheduled")]
        pod["status"] = {
            "phase": "Running", "conditions": conds,
            "hostIP": "10.0.0.1", "podIP": "10.244.%d.%d" % (random.randint(0, 255), random.randint(2, 250)),
            "startTime": t, "qosClass": "BestEffort",
            "containerStatuses": [{"name": c.get("name", "main"), "image": c.get("image", ""),
                                   "imageID": "", "ready": True, "started": True, "restartCount": 0,
                                   "containerID": "containerd://" + secrets.token_hex(32),
                                   "state": {"running": {"startedAt": t}}}
                                  for c in pod["spec"].get("containers") or []],
        }
        pod["status"]["podIPs"] = [{"ip": pod["status"]["podIP"]}]

    def _store_new(self, res, obj, event=True):
        """Insert a fully formed object (defaults applied here). Caller holds the lock."""
        self._defaults(res, obj)
        m = obj["metadata"]
        m["resourceVersion"] = str(self.next_rv())
        ns = m.get("namespace", "") if res.namespaced else ""
        self.objects[res.key][(ns, m["name"])] = obj
        if event:
            self._record(res, "ADDED", obj)
        return obj

    def _store_update(self, res, old, new):
        m = new["metadata"]
        m["resourceVersion"] = str(self.next_rv())
        ns = m.get("namespace", "") if res.namespaced else ""
        self.objects[res.key][(ns, m["name"])] = new
        self._record(res, "MODIFIED", new, old)
        return new

    def _store_remove(self, res, obj):
        m = obj["metadata"]
        ns = m.get("namespace", "") if res.namespaced else ""
        cur = self.objects[res.key].pop((ns, m["name"]), None)
        if cur is None:
            return None
        gone = copy.deepcopy(cur)
        gone["metadata"]["resourceVersion"] = str(self.next_rv())
        self._record(res, "DELETED", gone, cur)
        if res.key == ("", "namespaces"):
            for r in RESOURCES:
                if r.namespaced:
                    for (ons, _), o in list(self.objects[r.key].items()):
                        if ons == m["name"]:
                            self._store_remove(r, o)
        return gone

    # -- test control -----------------------------------------------------------

    def put_test_object(self, obj):
        """Create or replace an object from a fixture (no validation beyond the kind)."""
        av = obj.get("apiVersion", "v1")
        group = av.split("/")[0] if "/" in av else ""
        res = BY_KIND.get((group, obj.get("kind")))
        if res is None:
            raise bad_request("unsupported kind %s/%s" % (av, obj.get("kind")))
        obj = copy.deepcopy(obj)
        m = meta(obj)
        if not m.get("name"):
            if m.get("generateName"):
                m["name"] = m["generateName"] + random_suffix()
            else:
                raise bad_request("object without metadata.name")
        with self.cond:
            if res.namespaced:
                m.setdefault("namespace", "default")
                if not self.get(BY_KIND[("", "Namespace")], "", m["namespace"]):
                    self._store_new(BY_KIND[("", "Namespace")], {"metadata": {"name": m["namespace"]}})
            else:
                m.pop("namespace", None)
            old = self.get(res, m.get("namespace", ""), m["name"])
            if old is not None:
                m.setdefault("uid", old["metadata"]["uid"])
                m.setdefault("creationTimestamp", old["metadata"]["creationTimestamp"])
                self._defaults(res, obj)
                out = self._store_update(res, old, obj)
            else:
                out = self._store_new(res, obj)
            self._after_change(res, out)
            return copy.deepcopy(out)

    def set_node_status(self, name, ready=None, boot_id=None):
        res = BY_KIND[("", "Node")]
        with self.cond:
            old = self.get(res, "", name)
            if old is None:
                raise not_found(res, name)
            node = copy.deepcopy(old)
            st = node.setdefault("status", {})
            t = now_ts()
            if ready is not None:
                want = "True" if ready else "False"
                conds = st.setdefault("conditions", [])
                c = next((c for c in conds if c.get("type") == "Ready"), None)
                if c is None:
                    c = {"type": "Ready"}
                    conds.append(c)
                if c.get("status") != want:
                    c["lastTransitionTime"] = t
                c.update({"status": want, "lastHeartbeatTime": t,
                          "reason": "KubeletReady" if ready else "KubeletNotReady",
                          "message": "kubelet is posting ready status" if ready
                          else "container runtime is down"})
            if boot_id is not None:
                st.setdefault("nodeInfo", {})["bootID"] = boot_id
            out = self._store_update(res, old, node)
            self._after_change(res, out)
            return copy.deepcopy(out)

    def set_pod_status(self, ns, name, ready=None, phase=None):
        res = BY_KIND[("", "Pod")]
        with self.cond:
            old = self.get(res, ns, name)
            if old is None:
                raise not_found(res, name)
            pod = copy.deepcopy(old)
            st = pod.setdefault("status", {})
            if phase is not None:
                st["phase"] = phase
            if ready is not None:
                want = "True" if ready else "False"
                for c in st.setdefault("conditions", []):
                    if c.get("type") in ("Ready", "ContainersReady") and c.get("status") != want:
                        c["status"] = want
                        c["lastTransitionTime"] = now_ts()
                if not any(c.get("type") == "Ready" for c in st["conditions"]):
                    st["conditions"].append({"type": "Ready", "status": want,
                                             "lastProbeTime": None, "lastTransitionTime": now_ts()})
                for cs in st.get("containerStatuses") or []:
                    cs["ready"] = bool(ready)
            out = self._store_update(res, old, pod)
            self._after_change(res, out)
            return copy.deepcopy(out)

    # -- simulated controllers -------------------------------------------------

    def _after_change(self, res, obj):
        """Keep PDB status current after pods or PDBs change (the disruption controller)."""
        if res.key == ("", "pods"):
            # Only the budgets that select this pod can change (a fleet of a
            # thousand nodes has hundreds of PDBs and thousands of pods).
            labels = meta(obj).get("labels")
            self._sync_pdbs(obj["metadata"].get("namespace", ""),
                            lambda pdb: label_selector_object_match((pdb.get("spec") or {}).get("selector"), labels))
        elif res.key == ("policy", "poddisruptionbudgets"):
            name = obj["metadata"].get("name")
            self._sync_pdbs(obj["metadata"].get("namespace", ""), lambda pdb: meta(pdb).get("name") == name)
        elif res.key in (("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "deployments")):
            # The budgets over this controller's pods (their template's labels).
            labels = (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
            self._sync_pdbs(obj["metadata"].get("namespace", ""),
                            lambda pdb: label_selector_object_match((pdb.get("spec") or {}).get("selector"), labels))

    def _sync_pdbs(self, ns, concerned=None):
        pres = BY_KIND[("policy", "PodDisruptionBudget")]
        for (pns, name), pdb in list(self.objects[pres.key].items()):
            if pns != ns or (concerned and not concerned(pdb)):
                continue
            status = self.pdb_status(pdb)
            old_status = pdb.get("status") or {}
            cmp_keys = ("currentHealthy", "desiredHealthy", "disruptionsAllowed", "expectedPods",
                        "observedGeneration")
            if all(old_status.get(k) == status.get(k) for k in cmp_keys) and old_status.get("conditions"):
                continue
            new = copy.deepcopy(pdb)
            old_cond = next((c for c in old_status.get("conditions") or []
                             if c.get("type") == "DisruptionAllowed"), None)
            cond = status["conditions"][0]
            if old_cond and old_cond.get("status") == cond["status"]:
                cond["lastTransitionTime"] = old_cond.get("lastTransitionTime", cond["lastTransitionTime"])
            new["status"] = status
            self._store_update(pres, pdb, new)

    def pods_matching(self, ns, selector):
        pres = BY_KIND[("", "Pod")]
        return [p for (pns, _), p in sorted(self.objects[pres.key].items())
                if pns == ns and label_selector_object_match(selector, meta(p).get("labels"))]

    def _controller_scale(self, ns, ref):
        kinds = {"ReplicaSet": ("apps", "replicasets"), "StatefulSet": ("apps", "statefulsets"),
                 "Deployment": ("apps", "deployments")}
        key = kinds.get(ref.get("kind"))
        if not key:
            return None
        obj = self.objects[key].get((ns, ref.get("name")))
        if obj is None or obj["metadata"].get("uid") != ref.get("uid"):
            return None
        owner = controller_ref(obj)
        if ref.get("kind") == "ReplicaSet" and owner and owner.get("kind") == "Deployment":
            up = self._controller_scale(ns, owner)
            if up is not None:
                return ("Deployment", owner.get("uid")), up[1]
        return (ref.get("kind"), ref.get("uid")), int((obj.get("spec") or {}).get("replicas", 1))

    def pdb_status(self, pdb):
        """What the disruption controller would write into status, computed now."""
        ns = pdb["metadata"].get("namespace", "")
        spec = pdb.get("spec") or {}
        pods = self.pods_matching(ns, spec.get("selector"))
        healthy = sum(1 for p in pods if pod_healthy(p))
        min_av, max_un = spec.get("minAvailable"), spec.get("maxUnavailable")

        def scaled(v, total):
            if isinstance(v, str) and v.endswith("%"):
                return int(math.ceil(int(v[:-1]) * total / 100.0))
            return int(v)

        if min_av is not None and not (isinstance(min_av, str) and min_av.endswith("%")):
            expected = len(pods)
            desired = int(min_av)
        else:
            expected, seen = 0, set()
            for p in pods:
                ref = controller_ref(p)
                sc = self._controller_scale(ns, ref) if ref else None
                if sc is None:
                    if not meta(p).get("deletionTimestamp"):
                        expected += 1
                elif sc[0] not in seen:
                    seen.add(sc[0])
                    expected += sc[1]
            if min_av is not None:
                desired = scaled(min_av, expected)
            elif max_un is not None:
                desired = max(0, expected - scaled(max_un, expected))
            else:
                desired = expected
        allowed = max(0, healthy - desired)
        gen = pdb["metadata"].get("generation", 1)
        return {
            "observedGeneration": gen, "disruptionsAllowed": allowed, "currentHealthy": healthy,
            "desiredHealthy": desired, "expectedPods": expected, "disruptedPods": None,
            "conditions": [{"type": "DisruptionAllowed", "status": "True" if allowed > 0 else "False",
                            "reason": "SufficientPods" if allowed > 0 else "InsufficientPods",
                            "message": "", "observedGeneration": gen,
                            "lastTransitionTime": now_ts()}],
        }

    def start_pod_deletion(self, pod, grace):
        """Mark a pod Terminating; the simulated kubelet removes it later. Caller holds the lock."""
        res = BY_KIND[("", "Pod")]
        m = pod["metadata"]
        spec = pod.get("spec") or {}
        phase = (pod.get("status") or {}).get("phase")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            grace = 0
        if m.get("deletionTimestamp"):
            if grace == 0 and not m.get("finalizers"):
                return self._finish_pod(pod)
            return pod
        if grace == 0 and not m.get("finalizers"):
            return self._finish_pod(pod)
        new = copy.deepcopy(pod)
        new["metadata"]["deletionTimestamp"] = now_ts(time.time() + grace)
        new["metadata"]["deletionGracePeriodSeconds"] = grace
        out = self._store_update(res, pod, new)
        self._after_change(res, out)
        uid = m["uid"]
        ns, name = m.get("namespace", ""), m["name"]
        self._schedule(min(self.terminating_seconds, grace) if grace else 0,
                       lambda: self._terminated(ns, name, uid))
        return out

    def _terminated(self, ns, name, uid):
        res = BY_KIND[("", "Pod")]
        with self.cond:
            pod = self.get(res, ns, name)
            if pod is None or pod["metadata"]["uid"] != uid:
                return
            if pod["metadata"].get("finalizers"):
                self.kubelet_done.add(uid)
                return  # removed when an update clears the finalizers
            self._finish_pod(pod)

    def _finish_pod(self, pod):
        res = BY_KIND[("", "Pod")]
        gone = self._store_remove(res, pod)
        ns = pod["metadata"].get("namespace", "")
        self._after_change(res, pod)
        self._replace_pod(pod)
        return gone

    def _pick_node(self, avoid):
        nres = BY_KIND[("", "Node")]
        pres = BY_KIND[("", "Pod")]
        counts = {}
        for p in self.objects[pres.key].values():
            n = (p.get("spec") or {}).get("nodeName")
            counts[n] = counts.get(n, 0) + 1
        cands = [n for n in self.objects[nres.key].values()
                 if not (n.get("spec") or {}).get("unschedulable") and node_ready(n)
                 and not any(t.get("effect") in ("NoSchedule", "NoExecute")
                             for t in (n.get("spec") or {}).get("taints") or [])]
        others = [n for n in cands if n["metadata"]["name"] != avoid]
        pool = others or cands
        if not pool:
            return None
        pool.sort(key=lambda n: (counts.get(n["metadata"]["name"], 0), n["metadata"]["name"]))
        return pool[0]["metadata"]["name"]

    def _replace_pod(self, old):
        """The ReplicaSet/StatefulSet controllers: bring a removed pod back elsewhere."""
        ref = controller_ref(old)
        if not ref or ref.get("kind") not in ("ReplicaSet", "StatefulSet"):
            return
        res = BY_KIND[("", "Pod")]
        m = old["metadata"]
        ns = m.get("namespace", "")
        key = ("apps", "replicasets") if ref["kind"] == "ReplicaSet" else ("apps", "statefulsets")
        owner = self.objects[key].get((ns, ref.get("name")))
        if owner is not None:
            if owner["metadata"].get("uid") != ref.get("uid"):
                return
            want = int((owner.get("spec") or {}).get("replicas", 1))
            have = sum(1 for p in self.objects[res.key].values()
                       if (controller_ref(p) or {}).get("uid") == ref.get("uid")
                       and not meta(p).get("deletionTimestamp"))
            if have >= want:
                return
        if ns and not self.get(BY_KIND[("", "Namespace")], "", ns):
            return
        new = {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": copy.deepcopy(old.get("spec") or {})}
        nm = new["metadata"]
        for k in ("namespace", "labels", "annotations", "ownerReferences", "generateName"):
            if k in m:
                nm[k] = copy.deepcopy(m[k])
        if ref["kind"] == "StatefulSet":
            nm["name"] = m["name"]
        else:
            prefix = m.get("generateName") or (ref.get("name", "pod") + "-")
            nm["generateName"] = prefix
            nm["name"] = prefix + random_suffix()
            while self.get(res, ns, nm["name"]):
                nm["name"] = prefix + random_suffix()
        node = self._pick_node(new["spec"].get("nodeName"))
        new["spec"].pop("nodeName", None)
        new.pop("status", None)
        if node:
            new["spec"]["nodeName"] = node
        out = self._store_new(res, new)
        self._after_change(res, out)

    # -- timers -----------------------------------------------------------------

    def _schedule(self, delay, fn):
        with self.cond:
            self.timer_seq += 1
            heapq.heappush(self.timers, (time.monotonic() + delay, self.timer_seq, fn))
            self.cond.notify_all()

    def _timer_loop(self):
        while True:
            with self.cond:
                while not self.timers or self.timers[0][0] > time.monotonic():
                    wait = (self.timers[0][0] - time.monotonic()) if self.timers else 5.0
                    self.cond.wait(max(0.001, min(wait, 5.0)))
                _, _, fn = heapq.heappop(self.timers)
            try:
                fn()
            except Exception as e:  # keep the loop alive; report
                sys.stderr.write("timer error: %r\n" % e)


# ----------------------------------------------------------------------------
# Tables (what kubectl get prints)
# ----------------------------------------------------------------------------

def col(name, typ="string", fmt="", desc="", priority=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


def age(obj):
    ts = meta(obj).get("creationTimestamp")
    return human_duration(time.time() - parse_ts(ts)) if ts else "<unknown>"


def node_row(n):
    conds = {c.get("type"): c.get("status") for c in (n.get("status") or {}).get("conditions") or []}
    status = {"True": "Ready", "False": "NotReady"}.get(conds.get("Ready"), "Unknown")
    if (n.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in (meta(n).get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1])
    st = n.get("status") or {}
    info = st.get("nodeInfo") or {}
    addr = {a.get("type"): a.get("address") for a in st.get("addresses") or []}
    return [meta(n)["name"], status, ",".join(roles) or "<none>", age(n), info.get("kubeletVersion", ""),
            addr.get("InternalIP", "<none>"), addr.get("ExternalIP", "<none>"), info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"), info.get("containerRuntimeVersion", "<unknown>")]


def pod_row(p):
    st = p.get("status") or {}
    cs = st.get("containerStatuses") or []
    total = len((p.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in cs)
    reason = st.get("reason") or st.get("phase") or "Unknown"
    if meta(p).get("deletionTimestamp"):
        reason = "Terminating"
    return [meta(p)["name"], "%d/%d" % (ready, total), reason, str(restarts), age(p),
            st.get("podIP") or "<none>", (p.get("spec") or {}).get("nodeName") or "<none>",
            st.get("nominatedNodeName") or "<none>", "<none>"]


TABLES = {
    ("", "nodes"): ([col("Name", fmt="name"), col("Status"), col("Roles"), col("Age"), col("Version"),
                     col("Internal-IP", priority=1), col("External-IP", priority=1),
                     col("OS-Image", priority=1), col("Kernel-Version", priority=1),
                     col("Container-Runtime", priority=1)], node_row),
    ("", "pods"): ([col("Name", fmt="name"), col("Ready"), col("Status"), col("Restarts"), col("Age"),
                    col("IP", priority=1), col("Node", priority=1), col("Nominated Node", priority=1),
                    col("Readiness Gates", priority=1)], pod_row),
    ("", "namespaces"): ([col("Name", fmt="name"), col("Status"), col("Age")],
                         lambda o: [meta(o)["name"], (o.get("status") or {}).get("phase", ""), age(o)]),
    ("coordination.k8s.io", "leases"): (
        [col("Name", fmt="name"), col("Holder"), col("Age")],
        lambda o: [meta(o)["name"], (o.get("spec") or {}).get("holderIdentity") or "", age(o)]),
    ("policy", "poddisruptionbudgets"): (
        [col("Name", fmt="name"), col("Min Available"), col("Max Unavailable"),
         col("Allowed Disruptions", "integer"), col("Age")],
        lambda o: [meta(o)["name"], str((o.get("spec") or {}).get("minAvailable", "N/A")),
                   str((o.get("spec") or {}).get("maxUnavailable", "N/A")),
                   int((o.get("status") or {}).get("disruptionsAllowed", 0)), age(o)]),
    ("apps", "daemonsets"): (
        [col("Name", fmt="name"), col("Desired", "integer"), col("Current", "integer"),
         col("Ready", "integer"), col("Up-to-date", "integer"), col("Available", "integer"),
         col("Node Selector"), col("Age")],
        lambda o: [meta(o)["name"]] + [int((o.get("status") or {}).get(k, 0)) for k in (
            "desiredNumberScheduled", "currentNumberScheduled", "numberReady",
            "updatedNumberScheduled", "numberAvailable")] +
        [",".join("%s=%s" % kv for kv in sorted((((o.get("spec") or {}).get("template") or {})
                                                 .get("spec") or {}).get("nodeSelector", {}).items()))
         or "<none>", age(o)]),
    ("", "events"): (
        [col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Message")],
        lambda o: [human_duration(time.time() - parse_ts(o.get("lastTimestamp") or o.get("eventTime")
                                                         or meta(o).get("creationTimestamp") or now_ts())),
                   o.get("type", ""), o.get("reason", ""),
                   "%s/%s" % ((o.get("involvedObject") or {}).get("kind", "").lower(),
                              (o.get("involvedObject") or {}).get("name", "")), o.get("message", "")]),
    ("apps", "replicasets"): (
        [col("Name", fmt="name"), col("Desired", "integer"), col("Current", "integer"),
         col("Ready", "integer"), col("Age")],
        lambda o: [meta(o)["name"], int((o.get("spec") or {}).get("replicas", 1)),
                   int((o.get("status") or {}).get("replicas", 0)),
                   int((o.get("status") or {}).get("readyReplicas", 0)), age(o)]),
}


def make_table(res, objs, rv, include="Metadata"):
    cols, rowfn = TABLES.get(res.key, ([col("Name", fmt="name"), col("Age")],
                                       lambda o: [meta(o)["name"], age(o)]))
    rows = []
    for o in objs:
        row = {"cells": rowfn(o)}
        if include == "Object":
            full = copy.deepcopy(o)
            full["apiVersion"], full["kind"] = res.api_version, res.kind
            row["object"] = full
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": copy.deepcopy(meta(o))}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": str(rv)}, "columnDefinitions": cols, "rows": rows}


# ----------------------------------------------------------------------------
# Discovery
# ----------------------------------------------------------------------------

def resource_list(group, version):
    out = []
    for r in BY_GV.get((group, version), {}).values():
        e = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
             "kind": r.kind, "verbs": r.verbs}
        if r.short:
            e["shortNames"] = r.short
        if r.categories:
            e["categories"] = r.categories
        out.append(e)
        for sub in r.subresources:
            if sub == "eviction":
                out.append({"name": "pods/eviction", "singularName": "", "namespaced": True,
                            "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]})
            elif sub == "status":
                out.append({"name": "%s/status" % r.plural, "singularName": "", "namespaced": r.namespaced,
                            "kind": r.kind, "verbs": ["get", "patch", "update"]})
    out.sort(key=lambda e: e["name"])
    gv = version if not group else "%s/%s" % (group, version)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}


def group_list():
    groups = []
    for g in GROUPS:
        gv = {"groupVersion": "%s/v1" % g, "version": "v1"}
        groups.append({"name": g, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def openapi_root():
    """/openapi/v3: one entry per group version (kubectl create -f needs these)."""
    paths = {}
    for (g, v) in BY_GV:
        key = "api/%s" % v if not g else "apis/%s/%s" % (g, v)
        paths[key] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (key, "0" * 16)}
    return {"paths": paths}


def openapi_gv(group, version):
    """A minimal OpenAPI v3 document: a PATCH operation per kind that declares the
    fieldValidation query parameter, which is what kubectl's verifier looks for."""
    prefix = "/api/%s" % version if not group else "/apis/%s/%s" % (group, version)
    paths = {}
    for r in BY_GV.get((group, version), {}).values():
        item = "%s/%s%s/{name}" % (prefix, "namespaces/{namespace}/" if r.namespaced else "", r.plural)
        params = [{"name": n, "in": "query", "schema": {"type": "string"}}
                  for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
        ops = {"description": "partially update the specified %s" % r.kind,
               "operationId": "patch%s" % r.kind, "parameters": params,
               "x-kubernetes-action": "patch",
               "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": r.kind},
               "responses": {"200": {"description": "OK"}}}
        if "patch" in r.verbs:
            paths[item] = {"patch": ops}
        else:
            coll = "%s/%s" % (prefix, r.plural)
            post = dict(ops, operationId="create%s" % r.kind, description="create a %s" % r.kind)
            post["x-kubernetes-action"] = "post"
            paths[coll] = {"post": post, "patch": ops}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": {}}}


def pb_fields(data):
    """Decode one protobuf message level into {field_number: [values]} (bytes for
    length-delimited, int for varints)."""
    out, i = {}, 0
    while i < len(data):
        key, i = _pb_varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, i = _pb_varint(data, i)
        elif wire == 2:
            n, i = _pb_varint(data, i)
            val, i = data[i:i + n], i + n
        elif wire == 1:
            val, i = data[i:i + 8], i + 8
        elif wire == 5:
            val, i = data[i:i + 4], i + 4
        else:
            raise ValueError("unsupported protobuf wire type %d" % wire)
        out.setdefault(num, []).append(val)
    return out


def _pb_varint(data, i):
    shift = result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def _pb_str(fields, num):
    v = fields.get(num)
    return v[0].decode() if v else ""


def decode_ssar_protobuf(body):
    """The k8s protobuf envelope (magic 'k8s\\0' + runtime.Unknown) around a
    SelfSubjectAccessReview, as kubectl auth can-i sends it, as a JSON-shaped dict."""
    if not body.startswith(b"k8s\x00"):
        raise ValueError("missing protobuf magic")
    unknown = pb_fields(body[4:])
    tm = pb_fields(unknown.get(1, [b""])[0])
    raw = pb_fields(unknown.get(2, [b""])[0])
    spec = pb_fields(raw.get(2, [b""])[0])
    out = {"apiVersion": _pb_str(tm, 1), "kind": _pb_str(tm, 2), "spec": {}}
    if 1 in spec:
        ra = pb_fields(spec[1][0])
        out["spec"]["resourceAttributes"] = {k: _pb_str(ra, n) for n, k in (
            (1, "namespace"), (2, "verb"), (3, "group"), (4, "version"), (5, "resource"),
            (6, "subresource"), (7, "name"))}
    if 2 in spec:
        na = pb_fields(spec[2][0])
        out["spec"]["nonResourceAttributes"] = {"path": _pb_str(na, 1), "verb": _pb_str(na, 2)}
    return out


# ----------------------------------------------------------------------------
# Server state shared by handlers (faults, request log, auth, config)
# ----------------------------------------------------------------------------

class ServerState:
    def __init__(self, args, store, token, ca_path, node_token=None):
        self.args = args
        self.store = store
        self.token = token
        self.node_token = node_token
        self.ca_path = ca_path
        self.lock = threading.Lock()
        self.faults = []
        self.requests = []
        self.seq = 0
        # Bumped when the request log is cleared (a new test begins): a request
        # that began before (a slow, delayed one of the previous test) is not
        # put into the new log, where it would look like the new test's.
        self.epoch = 0
        self.bookmark_interval = BOOKMARK_INTERVAL
        # False after POST /_test/fleet/start {"request_log": false}: a fleet run
        # keeps only the recorder's small rows, not every body.
        self.request_log = True
        self.fleet = FleetRecorder()
        store.observer = self.fleet.on_store_event
        self.random_faults = RandomFaults()

    def take_fault(self, method, path):
        with self.lock:
            for f in self.faults:
                if f["count"] == 0:
                    continue
                if f["method"] not in ("*", method):
                    continue
                if not re.search(f["path_regex"], path):
                    continue
                if f["count"] > 0:
                    f["count"] -= 1
                return dict(f)
        return None

    def log_request(self, method, path, query, ua, status, t, body=b"", content_type="", peer="", epoch=None):
        if not self.request_log or (epoch is not None and epoch != self.epoch):
            return
        text = None
        if body:
            text = body[:65536].decode("utf-8", "replace") if "protobuf" not in content_type \
                else base64.b64encode(body[:65536]).decode()
        with self.lock:
            self.seq += 1
            self.requests.append({"seq": self.seq, "method": method, "path": path, "query": query,
                                  "user_agent": ua, "status": status, "time": t, "body": text,
                                  "content_type": content_type or None, "peer": peer})


# ----------------------------------------------------------------------------
# Fleet recording (issue 15: a simulated rolling reboot of many nodes)
# ----------------------------------------------------------------------------

NON_RESOURCE_PREFIXES = ("/version", "/healthz", "/readyz", "/livez", "/openapi")
FLEET_NODE_RE = re.compile(r"[(;]\s*node=([^;)\s]+)")


def lease_detail(method, path, query):
    """Which Leases a request was about, for the fleet rows: the Lease's name,
    a watch's field selector name, or a LIST's label selector (how a run's
    lock requests split into slots and queue); "" for a create (its name is
    in the body)."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    if name != "leases":
        return name[:128]
    if method == "POST":
        return ""
    field = (query.get("fieldSelector") or [""])[0]
    if field.startswith("metadata.name="):
        return field[len("metadata.name="):][:128]
    return ("selector:" + (query.get("labelSelector") or [""])[0])[:160]


def request_attributes(method, path, query):
    """(verb, resource, namespace) of an API request as Kubernetes names them:
    verb get/list/watch/create/update/patch/delete/deletecollection, resource the
    plural with its subresource (`pods/eviction`). Non-resource URLs (discovery,
    /version, /openapi) are verb "get" and the path itself as resource."""
    segs = [p for p in path.split("/") if p]
    if segs[:1] == ["api"] and len(segs) >= 2:
        rest = segs[2:]
    elif segs[:1] == ["apis"] and len(segs) >= 3:
        rest = segs[3:]
    else:
        rest = []
    legacy_watch = rest[:1] == ["watch"]
    if legacy_watch:
        rest = rest[1:]
    if not rest:
        if path.startswith(NON_RESOURCE_PREFIXES):
            path = "/" + "/".join(segs[:2])
        return method.lower() if method != "HEAD" else "get", path[:64], ""
    ns = ""
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        ns, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else None
    if len(rest) >= 3:
        resource += "/" + rest[2]
    if method in ("GET", "HEAD"):
        if name is not None:
            verb = "get"
        elif legacy_watch or (query.get("watch") or [""])[0] in ("true", "1"):
            verb = "watch"
        else:
            verb = "list"
    elif method == "POST":
        verb = "create"
    elif method == "PUT":
        verb = "update"
    elif method == "PATCH":
        verb = "patch"
    elif method == "DELETE":
        verb = "delete" if name is not None else "deletecollection"
    else:
        verb = method.lower()
    return verb, resource, ns


class FleetRecorder:
    """What a fleet run did, recorded by the server rather than by the agents
    (which may be killed at any moment): one small row per API request
    (time, verb, resource, namespace, node from the User-Agent, status,
    duration) and a timeline of the lock slots, queue tickets, cordons, Ready
    conditions, agent liveness and server restarts, each event followed by a
    sample of the counts a safety check needs. Store events arrive under the
    store lock (Store.observer); request rows are appended without a lock (a
    list append is atomic), so recording costs a request a few microseconds."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active = False
        self.start = self.end = None
        self.rows = []
        self.events = []
        self.samples = []
        self.faults = {}
        self._ua_nodes = {}

    # -- control -------------------------------------------------------------------

    def begin(self, store, lock_namespace, lock_prefix):
        """Start a recording (forgetting the previous one) from the store's
        current lock slots, tickets and nodes. Caller holds the store lock."""
        with self.lock:
            self.start = time.time()
            self.end = None
            self.ns = lock_namespace
            self.prefix = lock_prefix
            self.slot_re = re.compile("^%s-[0-9]+$" % re.escape(lock_prefix))
            self.ticket_prefix = lock_prefix + "-queue-"
            self.rows = []
            self.events = []
            self.samples = []
            self.faults = {}
            self.holders = {}          # slot lease name -> holder node
            self.granted = set()       # slot lease names handed to their holder, not taken yet
            self.tickets = {}          # ticket lease name -> node
            self.unschedulable = set()
            self.ready = {}            # node -> bool
            self.dead = set()          # nodes whose agent the harness said is down
            for (ns, name), lease in store.objects[("coordination.k8s.io", "leases")].items():
                if ns == self.ns:
                    self._lease(name, lease)
            for (_, name), node in store.objects[("", "nodes")].items():
                if (node.get("spec") or {}).get("unschedulable"):
                    self.unschedulable.add(name)
                self.ready[name] = node_ready(node)
            self.initial = {"holders": dict(self.holders), "tickets": sorted(self.tickets.values()),
                            "unschedulable": sorted(self.unschedulable),
                            "not_ready": sorted(n for n, r in self.ready.items() if not r)}
            self._sample(self.start)
            self.active = True
            return {"start": self.start, "initial": self.initial}

    def stop(self):
        with self.lock:
            if self.active:
                self.active = False
                self.end = time.time()

    # -- what is recorded ----------------------------------------------------------------

    def node_of(self, user_agent):
        node = self._ua_nodes.get(user_agent)
        if node is None:
            m = FLEET_NODE_RE.search(user_agent or "")
            node = sys.intern(m.group(1)) if m else ""
            if len(self._ua_nodes) < 100000:
                self._ua_nodes[user_agent] = node
        return node

    def request_row(self, t, method, path, query, user_agent):
        """A row for one API request; status and duration are filled by finish_row."""
        verb, resource, ns = request_attributes(method, path, query)
        row = [round(t, 4), verb, sys.intern(resource), sys.intern(ns), self.node_of(user_agent), 0, None]
        if resource == "leases":
            row.append(sys.intern(lease_detail(method, path, query)))
        self.rows.append(row)
        return row

    @staticmethod
    def finish_row(row, status, t0):
        row[5] = status
        row[6] = round((time.time() - t0) * 1000, 2)

    def fault(self, kind):
        with self.lock:
            self.faults[str(kind)] = self.faults.get(str(kind), 0) + 1

    def on_store_event(self, res, etype, obj, old):
        """Store.observer: under the store lock."""
        if not self.active:
            return
        if res.key == ("coordination.k8s.io", "leases"):
            m = obj["metadata"]
            if m.get("namespace") != self.ns:
                return
            with self.lock:
                self._lease(m["name"], None if etype == "DELETED" else obj, record=True)
        elif res.key == ("", "nodes"):
            name = obj["metadata"]["name"]
            with self.lock:
                if etype == "DELETED":
                    self.unschedulable.discard(name)
                    self.ready.pop(name, None)
                    return
                unsched = bool((obj.get("spec") or {}).get("unschedulable"))
                if unsched != (name in self.unschedulable):
                    (self.unschedulable.add if unsched else self.unschedulable.discard)(name)
                    self._event("unschedulable", name, name, unsched)
                ready = node_ready(obj)
                if self.ready.get(name) != ready:
                    known = name in self.ready
                    self.ready[name] = ready
                    if known or not ready:
                        self._event("ready", name, name, ready)

    def agent(self, node, alive):
        with self.lock:
            was = node not in self.dead
            (self.dead.discard if alive else self.dead.add)(node)
            if self.active and was != alive:
                self._event("agent", node, node, alive)
            return was != alive

    def server_event(self, value):
        with self.lock:
            if self.active:
                self._event("restart", "apiserver", None, value)

    def _lease(self, name, lease, record=False):
        """A lock lease changed (lease None: deleted). Caller holds self.lock."""
        if self.slot_re.match(name):
            holder = ((lease or {}).get("spec") or {}).get("holderIdentity") or None
            # Handed to `holder` by another node (nodeagent.io/granted-by) and
            # not taken yet: a grant, not a held slot.
            granted = bool(((lease or {}).get("metadata") or {}).get("annotations", {}).get("nodeagent.io/granted-by"))
            previous = self.holders.get(name)
            was_granted = name in self.granted
            if holder == previous and granted == was_granted:
                return
            if holder:
                self.holders[name] = holder
            else:
                self.holders.pop(name, None)
            (self.granted.add if holder and granted else self.granted.discard)(name)
            if record:
                self._event("slot", name, holder or previous, holder, previous=previous, granted=bool(holder and granted))
        elif name.startswith(self.ticket_prefix):
            present = lease is not None
            if present == (name in self.tickets):
                return
            if present:
                # the holder is the node; the name's tail is a hash for a very long node name
                node = (lease.get("spec") or {}).get("holderIdentity") or name[len(self.ticket_prefix):]
                self.tickets[name] = node
            else:
                node = self.tickets.pop(name)
            if record:
                self._event("ticket", name, node, present)

    def _event(self, kind, name, node, value, **extra):
        t = time.time()
        ev = {"t": t, "kind": kind, "name": name, "node": node, "value": value}
        ev.update(extra)
        self.events.append(ev)
        self._sample(t)

    def _sample(self, t):
        self.samples.append({
            "t": t, "holders": len(self.holders),
            "live_holders": sum(1 for h in self.holders.values() if h not in self.dead),
            "unschedulable": len(self.unschedulable), "waiting": len(self.tickets)})

    # -- report ---------------------------------------------------------------------------

    def report(self):
        with self.lock:
            if self.start is None:
                raise ApiError(409, "no fleet recording: POST /_test/fleet/start first", "Conflict")
            start, end = self.start, self.end or time.time()
            rows, events, samples = self.rows, list(self.events), list(self.samples)
            faults = dict(self.faults)
            n = len(rows)
        rows = rows[:n]
        seconds = []
        for row in rows:
            i = max(0, int(row[0] - start))
            while len(seconds) <= i:
                seconds.append({})
            by = seconds[i]
            k = row[1] + " " + row[2]
            by[k] = by.get(k, 0) + 1
        while len(seconds) <= int(end - start):
            seconds.append({})
        per_second = [{"t": i, "total": sum(by.values()), "by": by} for i, by in enumerate(seconds)]
        most = {k: max(s[k] for s in samples) for k in ("holders", "live_holders", "unschedulable", "waiting")}
        return {"start": start, "end": end, "initial": self.initial, "events": events, "samples": samples,
                "requests": rows, "per_second": per_second, "max": most, "faults": faults}


class RandomFaults:
    """Random answers to API requests, for a fleet run: each request
    independently, with probability `rate`, gets one of `kinds` (an HTTP status
    answered with a Status like the real server's, or "reset": the connection
    closed with an RST and no answer). Seeded for a reproducible sequence."""

    def __init__(self):
        self.lock = threading.Lock()
        self.configure({"rate": 0})

    def configure(self, data):
        rate = float(data.get("rate", 0))
        kinds = list(data.get("kinds") or [429, 500, "reset"])
        for k in kinds:
            if k != "reset" and not (isinstance(k, int) and 400 <= k <= 599):
                raise bad_request('fault kind %r: want an HTTP error status (400-599) or "reset"' % (k,))
        if not 0 <= rate <= 1:
            raise bad_request("rate %r: want 0 to 1" % rate)
        exclude = data.get("exclude_path_regex") or "^/_test/"
        with self.lock:
            self.rate = rate
            self.kinds = kinds
            self.retry_after = data.get("retry_after", 1)
            self.exclude = re.compile(exclude)
            self.seed = data.get("seed")
            self.rng = random.Random(self.seed)
            self.counts = {}
            return self.describe()

    def describe(self):
        return {"rate": self.rate, "kinds": self.kinds, "retry_after": self.retry_after,
                "exclude_path_regex": self.exclude.pattern, "seed": self.seed, "counts": dict(self.counts)}

    def draw(self, path):
        """The fault kind for this request, or None."""
        if self.rate <= 0:
            return None
        with self.lock:
            if self.exclude.search(path) or self.rng.random() >= self.rate:
                return None
            kind = self.kinds[self.rng.randrange(len(self.kinds))]
            self.counts[str(kind)] = self.counts.get(str(kind), 0) + 1
            return kind

    def error(self, kind):
        """The ApiError answering a status fault."""
        hdrs, details = {}, None
        if kind in (429, 503) and self.retry_after is not None:
            hdrs["Retry-After"] = str(int(self.retry_after))
            details = {"retryAfterSeconds": int(self.retry_after)}
        msg = FAULT_MESSAGES.get(kind, "injected fault")
        if kind == 500:
            details = {"causes": [{"message": "injected fault"}]}
        return ApiError(kind, msg, REASONS.get(kind, "InternalError"), details, hdrs)


# ----------------------------------------------------------------------------
# HTTP handling
# ----------------------------------------------------------------------------

def wants_table(accept):
    return "as=Table" in (accept or "") and "g=meta.k8s.io" in (accept or "")


def q1(query, name, default=None):
    v = query.get(name)
    return v[0] if v else default


def encode_continue(rv, last_key):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": "%s/%s\x00" % last_key})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(tok):
    try:
        pad = "=" * (-len(tok) % 4)
        d = json.loads(base64.urlsafe_b64decode(tok + pad))
        start = d["start"].rstrip("\x00")
        ns, _, name = start.partition("/")
        return int(d["rv"]), (ns, name)
    except Exception:
        raise bad_request("continue key is not valid: illegal base64 data")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1   # buffered: headers and body leave in one segment (flushed per request)
    server_version = "nodeagent-test-apiserver"
    sys_version = ""

    # quiet default logging; we log one line per request ourselves
    def log_message(self, fmt, *args):
        pass

    @property
    def st(self):
        return self.server.state

    @property
    def store(self):
        return self.server.state.store

    def do_GET(self): self.dispatch("GET")
    def do_POST(self): self.dispatch("POST")
    def do_PUT(self): self.dispatch("PUT")
    def do_PATCH(self): self.dispatch("PATCH")
    def do_DELETE(self): self.dispatch("DELETE")
    def do_HEAD(self): self.dispatch("HEAD")
    def do_OPTIONS(self): self.dispatch("OPTIONS")

    # -- plumbing ------------------------------------------------------------------

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(n)
                self.rfile.readline()
            return data
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_json(self, code, obj, headers=None, content_type="application/json"):
        data = json.dumps(obj, separators=(",", ":")).encode()
        self._status = code
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def peer(self):
        """The client's address and port: one value per TCP connection."""
        return "%s:%s" % (self.client_address[0], self.client_address[1]) if self.client_address else ""

    def send_text(self, code, text):
        data = text.encode()
        self._status = code
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_error_status(self, err):
        self.send_json(err.code, err.status, err.headers)

    def reset_connection(self):
        """End the connection with an RST and no answer (SO_LINGER 0: the
        client's read fails with ECONNRESET), like a crashed server or proxy."""
        self._status = 0
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass

    def authenticate(self):
        """Return (user, groups) or None."""
        try:
            cert = self.connection.getpeercert()
        except Exception:
            cert = None
        if cert:
            cn, orgs = None, []
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        orgs.append(v)
            if cn:
                return cn, orgs + ["system:authenticated"]
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer ") and secrets.compare_digest(auth[7:].strip(), self.st.token):
            return "nodeagent-token", ["system:masters", "system:authenticated"]
        if (auth.startswith("Bearer ") and self.st.node_token
                and secrets.compare_digest(auth[7:].strip(), self.st.node_token)):
            return NODE_USER
        return None

    def dispatch(self, method):
        t0 = time.time()
        self._status = 0
        parts = urlsplit(self.path)
        path, rawq = parts.path, parts.query
        query = parse_qs(rawq, keep_blank_values=True)
        ua = self.headers.get("User-Agent", "")
        is_test = path.startswith("/_test/")
        self._epoch = self.st.epoch
        logged = [False]
        fleet = self.st.fleet
        self._fleet_row = None
        if fleet.active and not is_test:
            self._fleet_row = fleet.request_row(t0, method, path, query, ua)
        try:
            body = self.read_body()
        except Exception:
            self.close_connection = True
            return
        try:
            user = self.authenticate()
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            self.user = user
            if is_test:
                self.handle_test(method, path, query, body)
                return
            random_fault = self.st.random_faults.draw(path)
            if random_fault is not None:
                if fleet.active:
                    fleet.fault(random_fault)
                if random_fault == "reset":
                    self.reset_connection()
                    return
                raise self.st.random_faults.error(random_fault)
            fault = self.st.take_fault(method, path)
            if fault:
                if fault.get("delay"):
                    time.sleep(float(fault["delay"]))
                if fault.get("drop"):
                    self.close_connection = True
                    self._status = 0
                    return
                if fault.get("status"):
                    code = int(fault["status"])
                    hdrs = {}
                    details = None
                    if fault.get("retry_after") is not None:
                        hdrs["Retry-After"] = str(int(fault["retry_after"]))
                        details = {"retryAfterSeconds": int(fault["retry_after"])}
                    msg = FAULT_MESSAGES.get(code, "injected fault")
                    raise ApiError(code, msg, REASONS.get(code, "InternalError"), details, hdrs)
            self.route(method, path, query, body, t0, logged)
        except ApiError as e:
            self.send_error_status(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        except Exception as e:
            import traceback
            traceback.print_exc()
            try:
                self.send_error_status(ApiError(500, "Internal error occurred: %r" % e, "InternalError"))
            except Exception:
                self.close_connection = True
        finally:
            if self._fleet_row is not None:
                fleet.finish_row(self._fleet_row, self._status, t0)
            if not is_test and not logged[0]:
                self.st.log_request(method, path, rawq, ua, self._status, t0, body,
                                    self.headers.get("Content-Type") or "", self.peer(), self._epoch)
            if self.st.request_log or is_test:   # a fleet run's rows replace the access log
                sys.stderr.write("%s %s %s %d %.1fms\n" % (
                    time.strftime("%H:%M:%S"), method, self.path[:200], self._status,
                    (time.time() - t0) * 1000))

    # -- /_test/ -------------------------------------------------------------------

    def handle_test(self, method, path, query, body):
        data = json.loads(body) if body.strip() else {}
        s = self.store
        if method == "POST" and path == "/_test/objects":
            items = data.get("items", [])
            out = [s.put_test_object(o) for o in items]
            self.send_json(200, {"items": out})
        elif method == "POST" and path == "/_test/reset":
            self.st.fleet.stop()
            s.reset()
            with self.st.lock:
                self.st.faults = []
                self.st.request_log = True
            self.st.random_faults.configure({"rate": 0})
            self.send_json(200, {"ok": True})
        elif path.startswith("/_test/fleet/"):
            self.handle_fleet(method, path, data)
        elif method == "POST" and path == "/_test/faults":
            f = {"path_regex": data.get("path_regex", ".*"), "method": (data.get("method") or "*").upper(),
                 "count": int(data.get("count", 1)), "status": data.get("status"),
                 "retry_after": data.get("retry_after"), "delay": data.get("delay") or 0,
                 "drop": bool(data.get("drop"))}
            re.compile(f["path_regex"])
            with self.st.lock:
                self.st.faults.append(f)
            self.send_json(200, f)
        elif method == "POST" and path == "/_test/faults/clear":
            with self.st.lock:
                self.st.faults = []
            self.send_json(200, {"ok": True})
        elif method == "GET" and path == "/_test/faults":
            with self.st.lock:
                self.send_json(200, list(self.st.faults))
        elif method == "GET" and path == "/_test/requests":
            since = int(q1(query, "since", "0"))
            with self.st.lock:
                out = [r for r in self.st.requests if r["seq"] > since]
            self.send_json(200, out)
        elif method == "POST" and path == "/_test/requests/clear":
            with self.st.lock:
                self.st.requests = []
                self.st.epoch += 1
            self.send_json(200, {"ok": True})
        elif method == "POST" and path == "/_test/node-status":
            out = s.set_node_status(data["name"], data.get("ready"), data.get("bootID"))
            self.send_json(200, out)
        elif method == "POST" and path == "/_test/pod-status":
            out = s.set_pod_status(data.get("namespace", "default"), data["name"],
                                   data.get("ready"), data.get("phase"))
            self.send_json(200, out)
        elif method == "POST" and path == "/_test/config":
            with s.cond:
                if "terminating_seconds" in data:
                    s.terminating_seconds = float(data["terminating_seconds"])
                if "bookmark_seconds" in data:
                    self.st.bookmark_interval = float(data["bookmark_seconds"])
                cfg = {"terminating_seconds": s.terminating_seconds,
                       "bookmark_seconds": self.st.bookmark_interval}
            self.send_json(200, cfg)
        elif method == "POST" and path == "/_test/rbac":
            with s.cond:
                s.deny = list(data.get("deny") or [])
                s.deny_enforce = bool(data.get("enforce", True))
            self.send_json(200, {"deny": s.deny, "enforce": s.deny_enforce})
        else:
            raise ApiError(404, "no test endpoint %s %s" % (method, path), "NotFound")

    def handle_fleet(self, method, path, data):
        fleet = self.st.fleet
        if method == "POST" and path == "/_test/fleet/start":
            with self.store.cond:
                out = fleet.begin(self.store, data.get("lock_namespace") or "kube-system",
                                  data.get("lock_prefix") or "nodeagent-reboot-lock")
            with self.st.lock:
                self.st.request_log = bool(data.get("request_log", True))
            out["request_log"] = self.st.request_log
            self.send_json(200, out)
        elif method == "POST" and path == "/_test/fleet/stop":
            fleet.stop()
            self.send_json(200, {"start": fleet.start, "end": fleet.end})
        elif method == "POST" and path == "/_test/fleet/agent":
            if not isinstance(data.get("node"), str) or not isinstance(data.get("alive"), bool):
                raise bad_request('want {"node": NAME, "alive": true|false}')
            changed = fleet.agent(data["node"], data["alive"])
            self.send_json(200, {"node": data["node"], "alive": data["alive"], "changed": changed})
        elif method == "GET" and path == "/_test/fleet/report":
            self.send_json(200, fleet.report())
        elif method == "POST" and path == "/_test/fleet/faults":
            self.send_json(200, self.st.random_faults.configure(data))
        elif method == "GET" and path == "/_test/fleet/faults":
            with self.st.random_faults.lock:
                self.send_json(200, self.st.random_faults.describe())
        elif method == "POST" and path == "/_test/fleet/restart":
            down = float(data.get("down_seconds", 3))
            if not 0 <= down <= 3600:
                raise bad_request("down_seconds %r: want 0 to 3600" % down)
            self.server.claim_restart()
            self.send_json(200, {"down_seconds": down, "port": self.server.server_address[1]})
            self.wfile.flush()   # the answer leaves before the restart closes this connection
            self.close_connection = True
            self.server.start_restart(down)
        else:
            raise ApiError(404, "no test endpoint %s %s" % (method, path), "NotFound")

    # -- routing --------------------------------------------------------------------

    def route(self, method, path, query, body, t0, logged):
        segs = [p for p in path.split("/") if p]
        if path in ("/healthz", "/readyz", "/livez") or path.startswith(("/healthz/", "/readyz/", "/livez/")):
            return self.send_text(200, "ok")
        if path == "/version":
            return self.send_json(200, {
                "major": "1", "minor": str(self.st.args.minor),
                "gitVersion": "v1.%d.0" % self.st.args.minor,
                "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.4",
                "compiler": "gc", "platform": "linux/amd64"})
        if path == "/openapi/v3":
            return self.send_json(200, openapi_root())
        if path.startswith("/openapi/v3/"):
            key = path[len("/openapi/v3/"):].split("/")
            gv = ("", key[1]) if key[0] == "api" and len(key) == 2 else \
                (key[1], key[2]) if key[0] == "apis" and len(key) == 3 else None
            if gv in BY_GV:
                return self.send_json(200, openapi_gv(*gv))
            raise ApiError(404, "the server could not find the requested resource", "NotFound", {})
        if path == "/api" or path == "/api/":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [
                                            {"clientCIDR": "0.0.0.0/0",
                                             "serverAddress": "%s:%d" % (self.server.public_host,
                                                                          self.server.server_address[1])}]})
        if path == "/apis" or path == "/apis/":
            return self.send_json(200, group_list())
        if segs[:1] == ["api"] and len(segs) >= 2:
            if segs[1] != "v1":
                raise ApiError(404, "the server could not find the requested resource", "NotFound", {})
            group, version, rest = "", "v1", segs[2:]
        elif segs[:1] == ["apis"] and len(segs) >= 2:
            if segs[1] not in GROUPS:
                raise ApiError(404, "the server could not find the requested resource", "NotFound", {})
            if len(segs) == 2:
                gv = {"groupVersion": "%s/v1" % segs[1], "version": "v1"}
                return self.send_json(200, {"kind": "APIGroup", "apiVersion": "v1", "name": segs[1],
                                            "versions": [gv], "preferredVersion": gv})
            group, version, rest = segs[1], segs[2], segs[3:]
            if (group, version) not in BY_GV:
                raise ApiError(404, "the server could not find the requested resource", "NotFound", {})
        else:
            raise ApiError(404, "the server could not find the requested resource", "NotFound", {})
        if not rest:
            return self.send_json(200, resource_list(group, version))
        resources = BY_GV[(group, version)]
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] in resources \
                and resources[rest[2]].namespaced:
            ns, rest = rest[1], rest[2:]
        res = resources.get(rest[0])
        if res is None or (ns is not None and not res.namespaced):
            raise ApiError(404, "the server could not find the requested resource", "NotFound", {})
        name = rest[1] if len(rest) >= 2 else None
        sub = rest[2] if len(rest) >= 3 else None
        if len(rest) > 3 or (sub and sub not in res.subresources):
            raise ApiError(404, "the server could not find the requested resource", "NotFound", {})
        if res.namespaced and ns is None and name is not None:
            raise ApiError(404, "the server could not find the requested resource", "NotFound", {})
        self.handle_resource(method, res, ns, name, sub, query, body, logged, t0)

    def authorize(self, verb, res, ns, name, sub):
        s = self.store
        attrs = {"verb": verb, "resource": res.plural, "group": res.group, "subresource": sub or "",
                 "namespace": ns or "", "name": name or ""}
        with s.cond:
            denied = ((s.deny_enforce and deny_matches(s.deny, attrs))
                      or not rbac_allows(s, self.user, attrs))
        if denied:
            what = res.plural + ("/" + sub if sub else "")
            target = ' "%s"' % name if name else ""
            where = ' in the namespace "%s"' % ns if ns else (" at the cluster scope" if not res.namespaced else "")
            msg = '%s%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s"%s' % (
                res.qualified, target, self.user[0], verb, what, res.group, where)
            raise ApiError(403, msg, "Forbidden", res_details(res, name or ""))

    def parse_body(self, body):
        if "protobuf" in (self.headers.get("Content-Type") or ""):
            raise ApiError(415, "the body of the request was in an unknown format - accepted media "
                                "types include: application/json (this test server does not decode "
                                "protobuf bodies)", "UnsupportedMediaType")
        try:
            return json.loads(body) if body.strip() else {}
        except ValueError as e:
            raise bad_request("the body of the request was in an unknown format: %s" % e)

    def handle_resource(self, method, res, ns, name, sub, query, body, logged, t0):
        s = self.store
        accept = self.headers.get("Accept", "")
        dry = "All" in query.get("dryRun", [])
        if res.key == ("authorization.k8s.io", "selfsubjectaccessreviews"):
            if method != "POST" or name:
                raise ApiError(405, "the server does not allow this method on the requested resource",
                               "MethodNotAllowed")
            if "protobuf" in (self.headers.get("Content-Type") or ""):
                try:
                    review = decode_ssar_protobuf(body)
                except (ValueError, IndexError, UnicodeDecodeError) as e:
                    raise bad_request("the body of the request was in an unknown format: %s" % e)
            else:
                review = self.parse_body(body)
            return self.self_subject_access_review(review)
        if method in ("GET", "HEAD") and name is None:
            watch = q1(query, "watch", "") in ("true", "1")
            self.authorize("watch" if watch else "list", res, ns, None, None)
            if watch:
                logged[0] = True
                self._status = 200
                if self._fleet_row is not None:
                    self._fleet_row[5] = 200   # a watch's row is there while it runs (duration null)
                self.st.log_request(method, urlsplit(self.path).path, urlsplit(self.path).query,
                                    self.headers.get("User-Agent", ""), 200, t0, peer=self.peer(),
                                    epoch=self._epoch)
                return self.watch(res, ns, query, accept)
            return self.list(res, ns, query, accept)
        if method in ("GET", "HEAD"):
            self.authorize("get", res, ns, name, sub)
            if sub == "eviction":
                raise ApiError(405, "the server does not allow this method on the requested resource",
                               "MethodNotAllowed")
            with s.cond:
                obj = s.get(res, ns, name)
                if obj is None:
                    raise not_found(res, name)
                if wants_table(accept):
                    return self.send_json(200, make_table(res, [obj], obj["metadata"]["resourceVersion"],
                                                          q1(query, "includeObject", "Metadata")))
                return self.send_json(200, obj)
        if method == "POST" and sub == "eviction":
            self.authorize("create", res, ns, name, sub)
            return self.evict(ns, name, self.parse_body(body), dry)
        if method == "POST" and name is None:
            self.authorize("create", res, ns, None, None)
            return self.create(res, ns, self.parse_body(body), dry)
        if method == "PUT" and name:
            self.authorize("update", res, ns, name, sub)
            return self.update(res, ns, name, sub, self.parse_body(body), dry)
        if method == "PATCH" and name:
            self.authorize("patch", res, ns, name, sub)
            return self.patch(res, ns, name, sub, body, dry)
        if method == "DELETE" and name and not sub:
            self.authorize("delete", res, ns, name, None)
            return self.delete(res, ns, name, query, self.parse_body(body), dry)
        if method == "DELETE" and name is None:
            self.authorize("deletecollection", res, ns, None, None)
            return self.delete_collection(res, ns, query, self.parse_body(body), dry)
        raise ApiError(405, "the server does not allow this method on the requested resource",
                       "MethodNotAllowed")

    # -- verbs ----------------------------------------------------------------------

    def select(self, res, ns, query):
        lsel = parse_label_selector(q1(query, "labelSelector", ""))
        fsel = parse_field_selector(res, q1(query, "fieldSelector", ""))

        def match(obj):
            m = meta(obj)
            if ns is not None and m.get("namespace", "") != ns:
                return False
            return labels_match(lsel, m.get("labels")) and fields_match(fsel, obj)
        return match

    def list(self, res, ns, query, accept):
        s = self.store
        match = self.select(res, ns, query)
        limit = int(q1(query, "limit", "0") or 0)
        cont = q1(query, "continue", "")
        with s.cond:
            rv = s.rv
            start = None
            if cont:
                crv, start = decode_continue(cont)
                if crv < s.oldest_rv:
                    raise ApiError(410, "The provided continue parameter is too old to display a "
                                        "consistent list result. You can start a new list without the "
                                        "continue parameter, or use the continue token in this response "
                                        "to retrieve the remainder of the results. Continuing with the "
                                        "provided token results in an inconsistent list - objects that "
                                        "were created, modified, or deleted between the time the first "
                                        "chunk was returned and now may show up in the list.", "Expired")
                rv = crv
            keys = sorted(k for k, o in s.table(res).items() if (start is None or k > start) and match(o))
            more = limit > 0 and len(keys) > limit
            page = keys[:limit] if limit > 0 else keys
            objs = [copy.deepcopy(s.table(res)[k]) for k in page]
            lmeta = {"resourceVersion": str(rv)}
            if more:
                lmeta["continue"] = encode_continue(rv, page[-1])
                lmeta["remainingItemCount"] = len(keys) - len(page)
        if wants_table(accept):
            t = make_table(res, objs, rv, q1(query, "includeObject", "Metadata"))
            t["metadata"].update({k: v for k, v in lmeta.items() if k != "resourceVersion"})
            return self.send_json(200, t)
        for o in objs:
            o.pop("apiVersion", None)
            o.pop("kind", None)
        return self.send_json(200, {"kind": res.list_kind, "apiVersion": res.api_version,
                                    "metadata": lmeta, "items": objs})

    def create(self, res, ns, obj, dry):
        s = self.store
        if not isinstance(obj, dict):
            raise bad_request("the body must be an object")
        m = meta(obj)
        if obj.get("kind") and obj["kind"] != res.kind:
            raise bad_request("the API version in the data (%s) does not match the expected API "
                              "version (%s)" % (obj.get("apiVersion"), res.api_version))
        if res.namespaced:
            if m.get("namespace") and m["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace "
                                  "sent on the request")
            m["namespace"] = ns
        else:
            m.pop("namespace", None)
        with s.cond:
            if not m.get("name"):
                if m.get("generateName"):
                    m["name"] = m["generateName"] + random_suffix()
                    while s.get(res, ns, m["name"]):
                        m["name"] = m["generateName"] + random_suffix()
                else:
                    raise invalid(res, "", [{"reason": "FieldValueRequired", "field": "metadata.name",
                                             "message": "Required value: name or generateName is required"}])
            if res.namespaced and not s.get(BY_KIND[("", "Namespace")], "", ns):
                raise not_found(BY_KIND[("", "Namespace")], ns)
            if s.get(res, ns, m["name"]):
                raise ApiError(409, '%s "%s" already exists' % (res.qualified, m["name"]),
                               "AlreadyExists", res_details(res, m["name"]))
            for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation"):
                m.pop(k, None)
            if res.key == ("", "pods") and isinstance(obj.get("status"), dict) \
                    and not obj["status"].get("phase"):
                obj.pop("status")
            if dry:
                out = copy.deepcopy(obj)
                s._defaults(res, out)
                return self.send_json(201, out)
            out = s._store_new(res, obj)
            s._after_change(res, out)
            return self.send_json(201, out)

    def _commit_update(self, res, old, new, sub, dry):
        """Apply an update/patch result: keep immutable fields, bump generation, store."""
        s = self.store
        om, nm = old["metadata"], meta(new)
        if nm.get("name") not in (None, om["name"]):
            raise bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                              % (nm.get("name"), om["name"]))
        if nm.get("uid") and nm["uid"] != om["uid"]:
            raise conflict(res, om["name"], "Precondition failed: UID in precondition: %s, "
                                            "UID in object meta: %s" % (nm["uid"], om["uid"]))
        if nm.get("resourceVersion") and nm["resourceVersion"] != om["resourceVersion"]:
            raise conflict(res, om["name"])
        if sub == "status":
            merged = copy.deepcopy(old)
            merged["status"] = new.get("status")
            merged["metadata"] = dict(old["metadata"])
            new = merged
        elif "status" in res.subresources:
            # As on the real server, the main resource ignores status changes.
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        nm = meta(new)
        for k in ("uid", "creationTimestamp", "name", "namespace", "deletionTimestamp",
                  "deletionGracePeriodSeconds"):
            if k in om:
                nm[k] = om[k]
            else:
                nm.pop(k, None)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        if "generation" in om:
            nm["generation"] = om["generation"]
            if sub != "status" and new.get("spec") != old.get("spec"):
                nm["generation"] = om["generation"] + 1
        nm["resourceVersion"] = om["resourceVersion"]
        if dry or new == old:
            return self.send_json(200, new)   # a no-op does not bump the resourceVersion
        out = s._store_update(res, old, new)
        if om.get("deletionTimestamp") and not nm.get("finalizers"):
            if res.key != ("", "pods"):
                s._store_remove(res, out)
            elif om["uid"] in s.kubelet_done or not (new.get("spec") or {}).get("nodeName"):
                s._finish_pod(out)
        s._after_change(res, out)
        return self.send_json(200, out)

    def update(self, res, ns, name, sub, obj, dry):
        s = self.store
        if not isinstance(obj, dict):
            raise bad_request("the body must be an object")
        with s.cond:
            old = s.get(res, ns, name)
            if old is None:
                raise not_found(res, name)
            new = copy.deepcopy(obj)
            nm = meta(new)
            if nm.get("name") and nm["name"] != name:
                raise bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                  % (nm["name"], name))
            if res.namespaced and nm.get("namespace") and nm["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace "
                                  "sent on the request")
            nm["name"] = name
            if nm.get("uid") is None:
                nm.pop("uid", None)
            return self._commit_update(res, old, new, sub, dry)

    def patch(self, res, ns, name, sub, body, dry):
        s = self.store
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            p = json.loads(body or b"null")
        except ValueError as e:
            raise bad_request("error decoding patch: %s" % e)
        with s.cond:
            old = s.get(res, ns, name)
            if old is None:
                raise not_found(res, name)
            if ctype == "application/merge-patch+json":
                new = merge_patch(old, p)
            elif ctype == "application/strategic-merge-patch+json":
                new = smp_merge(old, p)
            elif ctype == "application/json-patch+json":
                new = json_patch(old, p)
            elif ctype == "application/apply-patch+yaml":
                raise ApiError(415, "server-side apply is not supported by this test server",
                               "UnsupportedMediaType")
            else:
                raise ApiError(415, "the body of the request was in an unknown format - accepted media "
                                    "types include: application/json-patch+json, application/merge-patch"
                                    "+json, application/apply-patch+yaml", "UnsupportedMediaType")
            if not isinstance(new, dict):
                raise bad_request("patch produced a non-object")
            return self._commit_update(res, old, new, sub, dry)

    def _delete_options(self, query, body):
        opts = body if isinstance(body, dict) else {}
        grace = opts.get("gracePeriodSeconds")
        if q1(query, "gracePeriodSeconds") is not None:
            grace = int(q1(query, "gracePeriodSeconds"))
        return grace, opts.get("preconditions") or {}

    def delete(self, res, ns, name, query, body, dry):
        s = self.store
        grace, pre = self._delete_options(query, body)
        with s.cond:
            obj = s.get(res, ns, name)
            if obj is None:
                raise not_found(res, name)
            m = obj["metadata"]
            if pre.get("uid") and pre["uid"] != m["uid"]:
                raise conflict(res, name, "Precondition failed: UID in precondition: %s, UID in object "
                                          "meta: %s" % (pre["uid"], m["uid"]))
            if pre.get("resourceVersion") and pre["resourceVersion"] != m["resourceVersion"]:
                raise conflict(res, name, "Precondition failed: ResourceVersion in precondition: %s, "
                                          "ResourceVersion in object meta: %s"
                               % (pre["resourceVersion"], m["resourceVersion"]))
            if dry:
                return self.send_json(200, obj)
            return self._do_delete(res, obj, grace)

    def _do_delete(self, res, obj, grace):
        s = self.store
        m = obj["metadata"]
        if res.key == ("", "pods"):
            out = s.start_pod_deletion(obj, grace)
            return self.send_json(200, out)
        if m.get("finalizers"):
            if not m.get("deletionTimestamp"):
                new = copy.deepcopy(obj)
                new["metadata"]["deletionTimestamp"] = now_ts()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                obj = s._store_update(res, obj, new)
            return self.send_json(200, obj)
        s._store_remove(res, obj)
        s._after_change(res, obj)
        return self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                    "status": "Success", "details": res_details(res, m["name"], m["uid"])})

    def delete_collection(self, res, ns, query, body, dry):
        s = self.store
        grace, _ = self._delete_options(query, body)
        match = self.select(res, ns, query)
        with s.cond:
            victims = [o for k, o in sorted(s.table(res).items()) if match(o)]
            if not dry:
                for o in victims:
                    if res.key == ("", "pods"):
                        s.start_pod_deletion(o, grace)
                    else:
                        s._store_remove(res, o)
                        s._after_change(res, o)
            items = copy.deepcopy(victims)
            for o in items:
                o.pop("apiVersion", None)
                o.pop("kind", None)
            return self.send_json(200, {"kind": res.list_kind, "apiVersion": res.api_version,
                                        "metadata": {"resourceVersion": str(s.rv)}, "items": items})

    def evict(self, ns, name, body, dry):
        s = self.store
        pres = BY_KIND[("", "Pod")]
        if not isinstance(body, dict) or body.get("kind") not in (None, "Eviction") or \
                body.get("apiVersion") not in (None, "policy/v1", "policy/v1beta1"):
            raise bad_request("the body of the request must be a policy/v1 Eviction")
        bname = (body.get("metadata") or {}).get("name")
        if bname and bname != name:
            raise bad_request("name in URL does not match name in Eviction object")
        opts = body.get("deleteOptions") or {}
        with s.cond:
            pod = s.get(pres, ns, name)
            if pod is None:
                raise not_found(pres, name)
            pre = opts.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != pod["metadata"]["uid"]:
                raise conflict(pres, name, "Precondition failed: UID in precondition: %s, UID in object "
                                           "meta: %s" % (pre["uid"], pod["metadata"]["uid"]))
            ok = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
            if pod["metadata"].get("deletionTimestamp"):
                return self.send_json(201, ok)
            phase = (pod.get("status") or {}).get("phase")
            if phase not in ("Succeeded", "Failed", "Pending"):
                pres_pdb = BY_KIND[("policy", "PodDisruptionBudget")]
                pdbs = [p for (pns, _), p in sorted(s.table(pres_pdb).items())
                        if pns == ns and label_selector_object_match((p.get("spec") or {}).get("selector"),
                                                                     meta(pod).get("labels"))]
                if len(pdbs) > 1:
                    raise ApiError(500, "This pod has more than one PodDisruptionBudget, which the "
                                        "eviction subresource does not support.", "InternalError")
                if pdbs:
                    pdb = pdbs[0]
                    stt = s.pdb_status(pdb)
                    policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy", "IfHealthyBudget")
                    if pod_healthy(pod):
                        allowed = stt["disruptionsAllowed"] > 0
                    else:
                        allowed = policy == "AlwaysAllow" or stt["currentHealthy"] >= stt["desiredHealthy"]
                    if not allowed:
                        cause = {"reason": "DisruptionBudget",
                                 "message": "The disruption budget %s needs %d healthy pods and has %d "
                                            "currently" % (pdb["metadata"]["name"], stt["desiredHealthy"],
                                                           stt["currentHealthy"])}
                        raise ApiError(429, "Cannot evict pod as it would violate the pod's disruption "
                                            "budget.", "TooManyRequests", {"causes": [cause]})
            if not dry:
                s.start_pod_deletion(pod, opts.get("gracePeriodSeconds"))
            return self.send_json(201, ok)

    def self_subject_access_review(self, body):
        s = self.store
        spec = body.get("spec") or {}
        ra = spec.get("resourceAttributes")
        allowed = True
        reason = ""
        if ra is not None:
            attrs = {"verb": ra.get("verb", ""), "resource": ra.get("resource", ""),
                     "group": ra.get("group", ""), "subresource": ra.get("subresource", ""),
                     "namespace": ra.get("namespace", ""), "name": ra.get("name", "")}
            with s.cond:
                if deny_matches(s.deny, attrs) or not rbac_allows(s, self.user, attrs):
                    allowed = False
        out = {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
               "metadata": {"creationTimestamp": None}, "spec": spec,
               "status": {"allowed": allowed}}
        if allowed:
            out["status"]["reason"] = reason
        return self.send_json(201, out)

    # -- watch ----------------------------------------------------------------------

    def watch(self, res, ns, query, accept):
        s = self.store
        match = self.select(res, ns, query)
        rv_param = q1(query, "resourceVersion", "")
        bookmarks = q1(query, "allowWatchBookmarks", "") in ("true", "1")
        send_initial = q1(query, "sendInitialEvents", "") in ("true", "1")
        timeout = float(q1(query, "timeoutSeconds", "0") or 0) or DEFAULT_WATCH_TIMEOUT
        table = wants_table(accept)
        include = q1(query, "includeObject", "Metadata")
        deadline = time.monotonic() + timeout

        self._status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()   # the client waits for the headers before any event

        def emit(etype, obj):
            if table and etype in ("ADDED", "MODIFIED", "DELETED"):
                obj = make_table(res, [obj], obj["metadata"]["resourceVersion"], include)
            line = json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()

        def bookmark(rv, initial_end=False):
            m = {"resourceVersion": str(rv)}
            if initial_end:
                m["annotations"] = {"k8s.io/initial-events-end": "true"}
            return {"kind": res.kind, "apiVersion": res.api_version, "metadata": m}

        generation = self.server.generation
        wq = None
        try:
            pending = []
            with s.cond:
                if rv_param in ("", "0") or send_initial:
                    cursor = s.rv
                    for k, o in sorted(s.table(res).items()):
                        if match(o):
                            pending.append(("ADDED", copy.deepcopy(o)))
                    if send_initial and bookmarks:
                        pending.append(("BOOKMARK", bookmark(cursor, True)))
                else:
                    try:
                        cursor = int(rv_param)
                    except ValueError:
                        cursor = -1
                    if cursor < 0:
                        pending.append(("ERROR", status_object(400, 'invalid resource version "%s"' % rv_param,
                                                               "BadRequest")))
                        cursor = None
                    elif cursor < s.oldest_rv:
                        pending.append(("ERROR", status_object(
                            410, "too old resource version: %d (%d)" % (cursor, s.oldest_rv + 1), "Expired")))
                        cursor = None
                    else:
                        for rv, key, etype, obj, old in s.history_since(cursor):
                            if key == res.key:
                                etype = watch_event_type(match, etype, obj, old)
                                if etype is not None:
                                    pending.append((etype, obj))
                        cursor = s.rv
                if cursor is not None:
                    only = [v for f, eq, v in parse_field_selector(res, q1(query, "fieldSelector", ""))
                            if f == "metadata.name" and eq]
                    wq = s.open_watch(res, match, only[0] if only else None)
            for e in pending:
                emit(*e)
            if cursor is None:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                return
            last_bookmark = time.monotonic()
            while True:
                with s.cond:
                    while True:
                        now = time.monotonic()
                        if (now >= deadline or s.stopping or self.server.generation != generation
                                or wq.events or wq.overflowed):
                            break
                        wait = deadline - now
                        if bookmarks:
                            if now - last_bookmark >= self.st.bookmark_interval:
                                break
                            wait = min(wait, last_bookmark + self.st.bookmark_interval - now)
                        wq.cond.wait(max(0.001, min(wait, 5.0)))
                    if self.server.generation != generation:
                        # The server "restarted": its sockets are shut down; the
                        # stream ends without its last chunk, as a killed server's does.
                        self.close_connection = True
                        return
                    out, wq.events = wq.events, []
                    overflowed, oldest = wq.overflowed, s.oldest_rv
                    if not overflowed:
                        cursor = s.rv   # every event up to here was offered to this watch
                    stop = s.stopping or time.monotonic() >= deadline
                if overflowed:
                    # fell too far behind: like the real server, expire
                    emit("ERROR", status_object(410, "too old resource version: %d (%d)"
                                                % (cursor, oldest + 1), "Expired"))
                    break
                for _, etype, obj in out:
                    emit(etype, obj)
                if stop:
                    break
                if bookmarks and time.monotonic() - last_bookmark >= self.st.bookmark_interval:
                    emit("BOOKMARK", bookmark(cursor))
                    last_bookmark = time.monotonic()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            if wq is not None:
                s.close_watch(wq)


def rbac_allows(store, user, attrs):
    """RBAC as the real authorizer does it, for users outside system:masters:
    allowed when a ClusterRoleBinding, or a RoleBinding in the request's
    namespace, binds the user or one of its groups to a role with a rule
    matching verb, group, resource[/subresource] and name. Call under store.cond."""
    name, groups = user
    if "system:masters" in groups:
        return True

    def bound(binding):
        for sub in binding.get("subjects") or []:
            if sub.get("kind") == "User" and sub.get("name") == name:
                return True
            if sub.get("kind") == "Group" and sub.get("name") in groups:
                return True
        return False

    def rule_matches(rule):
        def has(key, value):
            vals = rule.get(key) or []
            return "*" in vals or value in vals
        resource = attrs["resource"] + ("/" + attrs["subresource"] if attrs["subresource"] else "")
        if not (has("verbs", attrs["verb"]) and has("apiGroups", attrs["group"]) and has("resources", resource)):
            return False
        names = rule.get("resourceNames") or []
        return not names or attrs["name"] in names

    def role_allows(ref, ns):
        kind = ref.get("kind")
        key = ("rbac.authorization.k8s.io", "clusterroles" if kind == "ClusterRole" else "roles")
        role = store.objects[key].get(("" if kind == "ClusterRole" else ns, ref.get("name")))
        return bool(role) and any(rule_matches(r) for r in role.get("rules") or [])

    for b in store.objects[("rbac.authorization.k8s.io", "clusterrolebindings")].values():
        if bound(b) and b.get("roleRef", {}).get("kind") == "ClusterRole" and role_allows(b["roleRef"], ""):
            return True
    ns = attrs["namespace"]
    if ns:
        for (bns, _), b in store.objects[("rbac.authorization.k8s.io", "rolebindings")].items():
            if bns == ns and bound(b) and role_allows(b.get("roleRef", {}), ns):
                return True
    return False


def deny_matches(deny, attrs):
    for rule in deny:
        ok = True
        for k in ("verb", "resource", "group", "subresource", "namespace", "name"):
            want = rule.get(k)
            if want is None or want == "*":
                continue
            if want != attrs.get(k, ""):
                ok = False
                break
        if ok:
            return True
    return False


# ----------------------------------------------------------------------------
# TLS server, certificates, kubeconfigs
# ----------------------------------------------------------------------------

class TLSServer(http.server.ThreadingHTTPServer):
    """HTTPS, one thread per connection, and a restart that clients see like a
    real API server's (issue 15): every connection closed, the port refusing
    connections for a while, then the same port and certificates again, with
    the store (objects, resourceVersions, watch history) kept, as etcd keeps it.
    Sized for a fleet: a 4096 backlog, 512 KiB thread stacks (main sets them),
    thousands of open connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 4096

    def __init__(self, address, handler):
        super().__init__(address, handler)
        self.conn_lock = threading.Lock()
        self.open_conns = set()
        self.generation = 0      # bumped by a restart: older connections are closed
        self.phase = "serving"   # serving | down | stopping
        self.phase_cond = threading.Condition()
        self.peak_conns = 0

    def process_request(self, request, client_address):
        gen = self.generation
        try:
            threading.Thread(target=self.serve_connection, args=(request, client_address, gen),
                             daemon=True).start()
        except RuntimeError:   # no thread for it: refuse the connection
            self.shutdown_request(request)

    def serve_connection(self, request, client_address, gen):
        request.settimeout(600)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            request.close()
            return
        with self.conn_lock:
            alive = gen == self.generation
            if alive:
                self.open_conns.add(tls)
                self.peak_conns = max(self.peak_conns, len(self.open_conns))
        try:
            if alive:
                self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            with self.conn_lock:
                self.open_conns.discard(tls)
            try:
                tls.close()
            except OSError:
                pass

    def connection_count(self):
        with self.conn_lock:
            return len(self.open_conns)

    def claim_restart(self):
        """The first half of a restart: refuses (409) a second one while one is
        under way. Then answer the request and call start_restart."""
        with self.phase_cond:
            if self.phase != "serving":
                raise ApiError(409, "the server is %s" % self.phase, "Conflict")
            self.phase = "down"

    def start_restart(self, down_seconds):
        """Return at once; a thread then stops accepting, closes the listening
        socket and every connection (watches too), waits down_seconds
        (connections are refused), and listens on the same port again."""
        threading.Thread(target=self._restart, args=(down_seconds,), daemon=True, name="restart").start()

    def _restart(self, down_seconds):
        state = self.state
        self.shutdown()                  # serve_forever returns; main waits in wait_until_serving
        with self.conn_lock:
            self.generation += 1
            conns = list(self.open_conns)
        self.socket.close()
        for c in conns:
            try:
                socket.socket.shutdown(c, socket.SHUT_RDWR)   # raw TCP: no TLS close_notify
            except OSError:
                pass
        state.store.wake_watches()
        state.fleet.server_event("down")
        sys.stderr.write("apiserver restart: down for %.1fs, %d connections closed\n"
                         % (down_seconds, len(conns)))
        deadline = time.monotonic() + down_seconds
        with self.phase_cond:
            while self.phase == "down" and time.monotonic() < deadline:
                self.phase_cond.wait(deadline - time.monotonic())
            if self.phase != "down":
                return
        for attempt in range(50):
            try:
                self.socket = socket.socket(self.address_family, self.socket_type)
                socketserver.TCPServer.server_bind(self)
                self.server_activate()
                break
            except OSError as e:
                self.socket.close()
                sys.stderr.write("apiserver restart: bind: %s\n" % e)
                time.sleep(0.1)
        state.fleet.server_event("up")
        sys.stderr.write("apiserver restart: listening again on port %d\n" % self.server_address[1])
        with self.phase_cond:
            if self.phase == "down":
                self.phase = "serving"
            self.phase_cond.notify_all()

    def wait_until_serving(self):
        """After serve_forever returns: True to serve again (a restart is over),
        False to exit."""
        with self.phase_cond:
            while self.phase == "down":
                self.phase_cond.wait()
            return self.phase == "serving"

    def stop(self):
        with self.phase_cond:
            self.phase = "stopping"
            self.phase_cond.notify_all()
        with self.state.store.cond:
            self.state.store.stopping = True
        self.state.store.wake_watches()
        self.shutdown()


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit("command failed: %s\n%s" % (" ".join(cmd), r.stderr))


def make_certs(d, sans):
    """CA, server cert (SAN 127.0.0.1/localhost + extras), client cert. Reused if present."""
    files = ["ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key", "token",
             "server.sans"]
    if all(os.path.exists(os.path.join(d, f)) for f in files):
        with open(os.path.join(d, "server.sans")) as f:
            if f.read() == ",".join(sans):
                return
    p = lambda f: os.path.join(d, f)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(["openssl", "req", "-x509"] + ec + ["-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "3650",
         "-subj", "/CN=nodeagent-test-ca", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"])
    with open(p("server.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % ",".join(sans))
    with open(p("client.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=clientAuth\n")
    for who, subj in (("server", "/CN=kube-apiserver"), ("client", "/O=system:masters/CN=nodeagent-test")):
        run(["openssl", "req"] + ec + ["-keyout", p(who + ".key"), "-out", p(who + ".csr"), "-subj", subj])
        run(["openssl", "x509", "-req", "-in", p(who + ".csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
             "-CAcreateserial", "-out", p(who + ".crt"), "-days", "3650", "-extfile", p(who + ".ext")])
    for f in ("ca.key", "server.key", "client.key"):
        os.chmod(p(f), 0o600)
    if not os.path.exists(p("token")):
        with open(p("token"), "w") as f:
            f.write(secrets.token_hex(24))
        os.chmod(p("token"), 0o600)
    with open(p("server.sans"), "w") as f:
        f.write(",".join(sans))


def write_atomic(path, text):
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def kubeconfig(url, ca_line, user_lines):
    return ("apiVersion: v1\nkind: Config\nclusters:\n- name: nodeagent-test\n  cluster:\n"
            "    server: %s\n    %s\ncontexts:\n- name: nodeagent-test\n  context:\n"
            "    cluster: nodeagent-test\n    user: nodeagent-test\n    namespace: default\n"
            "current-context: nodeagent-test\npreferences: {}\nusers:\n- name: nodeagent-test\n  user:\n"
            "%s" % (url, ca_line, "".join("    %s\n" % l for l in user_lines)))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Test Kubernetes API server")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--minor", type=int, default=32)
    ap.add_argument("--terminating-seconds", type=float, default=0.5)
    ap.add_argument("--fixture")
    ap.add_argument("--public-host",
                    help="host name or IP put into ready.json and the kubeconfigs (default: --host, "
                         "or 127.0.0.1 when listening on a wildcard address); added to the cert SANs")
    ap.add_argument("--san", action="append", default=[],
                    help="extra subjectAltName for the server cert, e.g. IP:10.1.2.3 or DNS:api.test")
    args = ap.parse_args(argv)

    d = os.path.abspath(args.dir)
    os.makedirs(d, exist_ok=True)
    ready = os.path.join(d, "ready.json")
    if os.path.exists(ready):
        os.unlink(ready)
    public = args.public_host or ("127.0.0.1" if args.host in ("0.0.0.0", "", "::") else args.host)
    sans = ["IP:127.0.0.1", "DNS:localhost"]
    for h in (args.host, public):
        if h not in ("127.0.0.1", "0.0.0.0", "localhost", "", "::"):
            san = ("IP:" if re.match(r"^[0-9.:]+$", h) else "DNS:") + h
            if san not in sans:
                sans.append(san)
    for extra in args.san:
        if extra not in sans:
            sans.append(extra)
    make_certs(d, sans)
    token = open(os.path.join(d, "token")).read().strip()
    node_token_path = os.path.join(d, "node-token")
    if not os.path.exists(node_token_path):
        write_atomic(node_token_path, secrets.token_hex(24))
        os.chmod(node_token_path, 0o600)
    node_token = open(node_token_path).read().strip()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.crt"), os.path.join(d, "server.key"))
    ctx.load_verify_locations(os.path.join(d, "ca.crt"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])

    # A fleet run holds a thread per connection, thousands of them: small stacks
    # (Python frames live on the heap; 512 KiB covers deep json/deepcopy
    # recursion) and as many descriptors as the hard limit allows.
    threading.stack_size(512 * 1024)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))

    store = Store(args.minor, args.terminating_seconds)
    if args.fixture:
        with open(args.fixture) as f:
            fx = json.load(f)
        for o in (fx.get("items", []) if isinstance(fx, dict) else fx):
            store.put_test_object(o)

    httpd = TLSServer((args.host, args.port), Handler)
    httpd.ssl_ctx = ctx
    httpd.state = ServerState(args, store, token, os.path.join(d, "ca.crt"), node_token)
    port = httpd.server_address[1]
    httpd.public_host = public
    url = "https://%s:%d" % (public if ":" not in public else "[%s]" % public, port)

    ca_path = os.path.join(d, "ca.crt")
    ca_b64 = base64.b64encode(open(ca_path, "rb").read()).decode()
    write_atomic(os.path.join(d, "kubeconfig-cert"), kubeconfig(
        url, "certificate-authority: %s" % ca_path,
        ["client-certificate: %s" % os.path.join(d, "client.crt"),
         "client-key: %s" % os.path.join(d, "client.key")]))
    write_atomic(os.path.join(d, "kubeconfig-token"), kubeconfig(
        url, "certificate-authority-data: %s" % ca_b64, ["token: %s" % token]))
    write_atomic(os.path.join(d, "kubeconfig-node"), kubeconfig(
        url, "certificate-authority-data: %s" % ca_b64, ["token: %s" % node_token]))

    def stop(signum, frame):
        threading.Thread(target=httpd.stop, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    write_atomic(ready, json.dumps({"url": url, "port": port, "pid": os.getpid(), "token": token,
                                    "ca": ca_path}))
    sys.stderr.write("apiserver listening on %s (dir %s)\n" % (url, d))
    try:
        while True:
            httpd.serve_forever(poll_interval=0.2)
            if not httpd.wait_until_serving():
                break
    finally:
        try:
            os.unlink(ready)
        except OSError:
            pass
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
