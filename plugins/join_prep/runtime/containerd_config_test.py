#!/usr/bin/env python3
"""Does containerd itself read our edit of config.toml as we mean it? For
each config (Debian 12's packaged one, a hand-edited 1.x one with comments,
a header without the key, no file at all) join_prep_kernel_check --runtime
plans the CgroupDriver fix under a temp root and applies its file edit
(--apply-files; the restart step is not run), then `containerd --config FILE
config dump` (which loads and merges the config and starts nothing) must
show SystemdCgroup = true and runtime_type io.containerd.runc.v2 for runc,
and a second check must pass. Needs the containerd package (containerd 1.x
takes config version 2)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib

BUILD = os.environ["NODEAGENT_BUILD"]
TOOL = os.path.join(BUILD, "plugins", "join_prep", "join_prep_kernel_check")
CONFIG = "/etc/containerd/config.toml"

DEBIAN_12 = """version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
"""

HAND_EDITED = """# kept by the operator
version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"   # the shim
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false # was cgroupfs
  BinaryName = "runc"
"""

HEADER_ONLY = """version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  # options follow
  BinaryName = "runc"
"""


def check(root):
    out = subprocess.run([TOOL, "--root", root, "--runtime", "--apply-files", "--cri-socket",
                          "unix:///run/containerd/containerd.sock"], check=True, capture_output=True,
                         text=True, timeout=60)
    doc = json.loads(out.stdout)
    return next(r for r in doc["results"] if r["id"] == "CgroupDriver"), doc.get("applied", [])


def dump(path):
    out = subprocess.run(["containerd", "--config", path, "config", "dump"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, "containerd config dump %s: %s" % (path, out.stderr)
    return tomllib.loads(out.stdout)


def one(name, text):
    with tempfile.TemporaryDirectory(prefix="jp-containerd-") as root:
        path = root + CONFIG
        os.makedirs(os.path.dirname(path))
        if text is not None:
            with open(path, "w") as f:
                f.write(text)
        first, applied = check(root)
        assert first["status"] == "fail", (name, first)
        assert applied == [{"path": CONFIG, "ok": True, "error": ""}], (name, applied)
        with open(path) as f:
            edited = f.read()
        if text is not None:
            kept = [l for l in text.splitlines() if l not in edited.splitlines()]
            # Only the SystemdCgroup line may differ from the original.
            assert all("SystemdCgroup" in l for l in kept), (name, kept)
        cri = dump(path)["plugins"]["io.containerd.grpc.v1.cri"]
        runc = cri["containerd"]["runtimes"]["runc"]
        assert runc["options"]["SystemdCgroup"] is True, (name, runc)
        assert runc["runtime_type"] == "io.containerd.runc.v2", (name, runc)
        second, applied2 = check(root)
        assert second["status"] == "pass" and "fix" not in second and applied2 == [], (name, second)
        print("%-24s %s" % (name, first["fix"]["steps"][0]["diff"].count("\n+") - 1), "line(s) added or changed")


def main():
    if not shutil.which("containerd"):
        print("containerd missing: apt-get install -y containerd", file=sys.stderr)
        return 1
    if not os.path.exists(TOOL):
        print("missing %s" % TOOL, file=sys.stderr)
        return 1
    one("debian-12-packaged", DEBIAN_12)
    one("hand-edited-1.x", HAND_EDITED)
    one("header-without-key", HEADER_ONLY)
    one("no-config-file", None)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
