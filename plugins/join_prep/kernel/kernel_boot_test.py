#!/usr/bin/env python3
"""Does the sysctl model (sysctl_config.h) predict what systemd-sysctl really
sets at boot? A Debian 12 root (tests/system/build-root.sh's cache, under an
overlay of this test's own) is booted with systemd-nspawn --private-network,
so net.ipv4.ip_forward is the container's namespace's own; a unit of ours
records the value after systemd-sysctl ran and powers the container off.
Before each boot join_prep_kernel_check --root predicts the value; the test
fails when prediction and boot disagree. Cases: Debian's 99-sysctl.conf link
to /etc/sysctl.conf, our fix file (applied with --apply-files under the
root), a vendor file sorting after ours, that file masked by a /dev/null link
in /etc, and a glob that an explicit assignment beats."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ["NODEAGENT_BUILD"]
TOOL = os.path.join(BUILD, "plugins", "join_prep", "join_prep_kernel_check")
SOURCE = os.environ.get("JOIN_PREP_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPO = os.path.dirname(os.path.dirname(SOURCE))
BUILD_ROOT = os.path.join(REPO, "tests", "system", "build-root.sh")
CG_NAME = "jp-kernel-boot.%d" % os.getpid()
CG_HIERARCHIES = ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"]

PROBE_UNIT = """[Unit]
Description=join_prep test: record ip_forward after systemd-sysctl
After=systemd-sysctl.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'cat /proc/sys/net/ipv4/ip_forward > /var/tmp/jp-ip_forward'
ExecStartPost=/bin/systemctl --no-block poweroff

[Install]
WantedBy=multi-user.target
"""


def cached_root():
    with open(BUILD_ROOT) as f:
        version = next(l.split("=", 1)[1].strip() for l in f if l.startswith("recipe_version="))
    root = os.environ.get("NODEAGENT_TEST_ROOT", "/var/cache/nodeagent-test/bookworm-root." + version)
    subprocess.run([BUILD_ROOT, root], check=True)
    return root


def write(root, path, text):
    full = root + path
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


def link(root, path, target):
    full = root + path
    os.makedirs(os.path.dirname(full), exist_ok=True)
    if os.path.lexists(full):
        os.remove(full)
    os.symlink(target, full)


def predict(root):
    out = subprocess.run([TOOL, "--root", root], check=True, capture_output=True, text=True, timeout=60)
    doc = json.loads(out.stdout)
    persist = next(r for r in doc["results"] if r["id"] == "SysctlPersist")
    value = persist["detail"]["keys"]["net.ipv4.ip_forward"]["value"]
    return ("0" if value is None else value), persist


def apply_files(root):
    out = subprocess.run([TOOL, "--root", root, "--apply-files"], check=True, capture_output=True, text=True, timeout=60)
    applied = json.loads(out.stdout)["applied"]
    assert applied and all(a["ok"] for a in applied), applied


def join_cgroup():
    for h in CG_HIERARCHIES:
        d = os.path.join(h, CG_NAME)
        if os.path.isdir(d):
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))


def boot(root, log):
    """Boots the root once; returns ip_forward as the probe unit saw it."""
    result = root + "/var/tmp/jp-ip_forward"
    if os.path.exists(result):
        os.remove(result)
    p = subprocess.Popen(["systemd-nspawn", "--register=no", "--keep-unit", "-b", "-D", root, "--private-network",
                          "--console=read-only", "--machine=jp-kernel-%d" % os.getpid()],
                         stdout=log, stderr=log, preexec_fn=join_cgroup)
    try:
        rc = p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError("the container did not power off within 120 s (see %s)" % log.name)
    assert rc == 0, "systemd-nspawn exited %d (see %s)" % (rc, log.name)
    assert os.path.exists(result), "the probe unit did not run (see %s)" % log.name
    with open(result) as f:
        return f.read().strip()


def case(root, log, name, expect):
    predicted, persist = predict(root)
    seen = boot(root, log)
    print("%-48s predicted %s, booted %s" % (name, predicted, seen))
    assert predicted == seen, "%s: the check predicted %s, the boot set %s: %s" % (name, predicted, seen, persist["message"])
    assert seen == expect, "%s: expected %s after boot, got %s" % (name, expect, seen)
    return persist


def main():
    for tool in ("systemd-nspawn", TOOL):
        if not shutil.which(tool) and not os.path.exists(tool):
            print("missing %s" % tool, file=sys.stderr)
            return 1
    lower = cached_root()
    work = tempfile.mkdtemp(prefix="jp-kernel-boot.", dir="/var/tmp")
    merged = os.path.join(work, "merged")
    for d in ("upper", "ovl", "merged"):
        os.makedirs(os.path.join(work, d))
    for h in CG_HIERARCHIES:
        if os.path.isdir(h):
            os.makedirs(os.path.join(h, CG_NAME), exist_ok=True)
    mounted = False
    try:
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        "lowerdir=%s,upperdir=%s/upper,workdir=%s/ovl" % (lower, work, work), merged], check=True)
        mounted = True
        write(merged, "/etc/systemd/system/jp-probe.service", PROBE_UNIT)
        link(merged, "/etc/systemd/system/multi-user.target.wants/jp-probe.service", "/etc/systemd/system/jp-probe.service")
        write(merged, "/usr/lib/sysctl.d/50-vendor.conf", "net.ipv4.ip_forward = 1\n")
        write(merged, "/etc/sysctl.conf", "# local\nnet.ipv4.ip_forward=0\n")
        assert os.path.islink(merged + "/etc/sysctl.d/99-sysctl.conf"), "the root lacks Debian's 99-sysctl.conf link"
        with open(os.path.join(work, "console.log"), "w") as log:
            p = case(merged, log, "sysctl.conf (via 99-sysctl.conf) resets to 0", "0")
            assert "set by /etc/sysctl.d/99-sysctl.conf:2" in p["message"], p["message"]
            apply_files(merged)
            case(merged, log, "our 99-zz file applied", "1")
            write(merged, "/usr/lib/sysctl.d/99-zzzz-vendor.conf", "net.ipv4.ip_forward = 0\n")
            p = case(merged, log, "a vendor file sorting after ours", "0")
            assert p["detail"]["blocked"] == ["net.ipv4.ip_forward"], p
            link(merged, "/etc/sysctl.d/99-zzzz-vendor.conf", "/dev/null")
            case(merged, log, "that file masked by /etc -> /dev/null", "1")
            write(merged, "/etc/sysctl.d/99-zzzzz-glob.conf", "net.ipv4.ip_forwar* = 0\n")
            case(merged, log, "a later glob loses to the explicit key", "1")
            os.remove(merged + "/etc/sysctl.d/99-zz-nodeagent-kubernetes.conf")
            os.remove(merged + "/etc/sysctl.conf")
            os.remove(merged + "/usr/lib/sysctl.d/50-vendor.conf")
            write(merged, "/etc/sysctl.d/99-zzzzz-glob.conf", "net.ipv4.ip_forwar* = 1\n")
            case(merged, log, "only a glob sets it", "1")
            write(merged, "/etc/sysctl.d/99-zzzzzz-exclude.conf", "-net.ipv4.ip_forward\n")
            case(merged, log, "the key excluded from the glob", "0")
    finally:
        if mounted:
            subprocess.run(["umount", merged], check=False)
        for h in CG_HIERARCHIES:
            d = os.path.join(h, CG_NAME)
            # nspawn --keep-unit leaves empty payload/ and supervisor/ behind.
            for sub in sorted(glob.glob(d + "/**/", recursive=True), key=len, reverse=True):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
        shutil.rmtree(work, ignore_errors=True)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
