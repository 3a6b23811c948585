#!/usr/bin/env python3
"""The swap checks and fixes against a real systemd 252 in a booted container.

The unit tests fake systemctl; this test checks the assumptions behind them
on the real thing: the text `systemctl list-unit-files` / `list-units
--plain` print (and list-unit-files exiting 1 silently when nothing
matches), that `systemctl mask` refuses a unit file of its own in
/etc/systemd/system (so the fix disables that one), that a masked unit
with a wants link left over counts as off, and that after
`join_prep_swap_check --apply fstab-swap,swap-units,zram` a second check
plans nothing. /etc/fstab (CRLF, no final newline, a malformed line) is
compared byte for byte. swapoff is never applied: the container sees the
host's /proc/swaps.

The container boots the cached Debian root of tests/system/build-root.sh
under an overlay (nothing of it changes) with --private-network; the test
fails, never skips, when systemd-nspawn, nsenter or the root's build fail.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "../../.."))
BUILD = os.path.abspath(os.environ.get("NODEAGENT_BUILD", os.path.join(REPO, "build")))
TOOL = os.path.join(BUILD, "plugins/join_prep/join_prep_swap_check")
BUILD_ROOT = os.path.join(REPO, "tests/system/build-root.sh")

FSTAB = (b"# /etc/fstab\r\n"
         b"UUID=3b1f / ext4 errors=remount-ro 0 1\r\n"
         b"/swapfile\tnone\tswap\tsw\t0\t0   \r\n"
         b"/dev/sdb1 none swap noauto 0 0\r\n"
         b"/dev/x swap\r\n"
         b"LABEL=SWAP none swap sw,pri=5 0 0")
MARKER = b"# nodeagent: swap off for the kubelet: "
FSTAB_FIXED = FSTAB.replace(b"/swapfile\t", MARKER + b"/swapfile\t").replace(b"LABEL=SWAP", MARKER + b"LABEL=SWAP")


def write(root, path, content, mode=0o644):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode())
    os.chmod(full, mode)


def link(root, path, target):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    os.symlink(target, full)


class Container:
    """A booted copy of the cached root under an overlay; removed on close."""

    def __init__(self):
        for tool in ("systemd-nspawn", "nsenter", "debootstrap"):
            if not shutil.which(tool):
                raise AssertionError(f"{tool} missing: apt-get install -y systemd-container debootstrap util-linux")
        root = os.environ.get("NODEAGENT_TEST_ROOT", "/var/cache/nodeagent-test/bookworm-root.2")
        subprocess.run(["bash", BUILD_ROOT, root], check=True)
        self.work = tempfile.mkdtemp(prefix="jp-swap-systemd-", dir="/var/tmp")
        self.merged = os.path.join(self.work, "merged")
        for d in ("upper", "ovl", "merged"):
            os.makedirs(os.path.join(self.work, d))
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={root},upperdir={self.work}/upper,workdir={self.work}/ovl", self.merged], check=True)
        # A cgroup of our own in each hierarchy nspawn uses, so that the
        # payload/ and supervisor/ cgroups it leaves behind are ours to remove.
        self.cgroups = [f"{h}/jp-swap-systemd.{os.getpid()}" for h in ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")
                        if os.path.exists(f"{h}/cgroup.procs")]
        self.proc = None
        self.pid1 = None

    def boot(self):
        for cg in self.cgroups:
            os.makedirs(cg, exist_ok=True)
        cgroups = self.cgroups

        def own_cgroup():
            for cg in cgroups:
                with open(f"{cg}/cgroup.procs", "w") as f:
                    f.write(str(os.getpid()))

        self.console = open(os.path.join(self.work, "console.log"), "wb")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "--register=no", "--keep-unit", "-b", "-D", self.merged, "--console=read-only",
             "--private-network", f"--machine=jp-swap-{os.getpid()}"],
            stdout=self.console, stderr=subprocess.STDOUT, preexec_fn=own_cgroup)
        deadline = time.monotonic() + 120
        state = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"container exited during boot ({self.proc.returncode}): {self.console_tail()}")
            self.pid1 = self.find_pid1()
            if self.pid1:
                state = subprocess.run(["nsenter", "-t", str(self.pid1), "-a", "systemctl", "is-system-running"],
                                       capture_output=True, text=True).stdout.strip()
                if state in ("running", "degraded"):
                    return
            time.sleep(0.1)
        raise AssertionError(f"boot did not finish (state {state!r}): {self.console_tail()}")

    def console_tail(self):
        with open(os.path.join(self.work, "console.log"), "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def find_pid1(self):
        """The child of nspawn that is PID 1 in its own pid namespace."""
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                children = f.read().split()
        except OSError:
            return None
        for child in children:
            try:
                with open(f"/proc/{child}/status") as f:
                    nspid = [line.split() for line in f if line.startswith("NSpid:")]
            except OSError:
                continue
            if nspid and len(nspid[0]) > 2 and nspid[0][-1] == "1":
                return int(child)
        return None

    def run(self, *argv, check=True):
        """argv in the container, under a transient unit (its sandbox)."""
        r = subprocess.run(["nsenter", "-t", str(self.pid1), "-a", "systemd-run", "--quiet", "--wait", "--pipe",
                            "--collect", "--service-type=exec", "--setenv=LD_LIBRARY_PATH=/usr/local/lib/jp-swap",
                            *argv], capture_output=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"{argv} exited {r.returncode}: {r.stderr.decode(errors='replace')}")
        return r

    def close(self):
        if self.proc and self.proc.poll() is None:
            if self.pid1:
                subprocess.run(["nsenter", "-t", str(self.pid1), "-a", "systemctl", "poweroff"], capture_output=True)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "console", None):
            self.console.close()
        for cg in self.cgroups:
            for dirpath, _, _ in sorted(os.walk(cg), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
        subprocess.run(["umount", self.merged], capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)


class SwapUnitsSystemd(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(TOOL):
            raise AssertionError(f"{TOOL} missing: ninja -C {BUILD} join_prep_swap_check")
        self.c = Container()
        self.addCleanup(self.c.close)
        m = self.c.merged
        # The tool and the one library it needs that the root lacks.
        with open(TOOL, "rb") as f:
            write(m, "/usr/local/bin/join_prep_swap_check", f.read(), 0o755)
        libmnl = subprocess.run(["ldd", TOOL], capture_output=True, text=True).stdout
        for line in libmnl.splitlines():
            if "libmnl" in line:
                with open(line.split("=>")[1].split()[0], "rb") as f:
                    write(m, "/usr/local/lib/jp-swap/libmnl.so.0", f.read())
        write(m, "/etc/fstab", FSTAB)
        # A swap unit of the operator's own in /etc, enabled: mask refuses it.
        write(m, "/etc/systemd/system/swapfile.swap", "[Swap]\nWhat=/swapfile\n[Install]\nWantedBy=swap.target\n")
        link(m, "/etc/systemd/system/swap.target.wants/swapfile.swap", "/etc/systemd/system/swapfile.swap")
        # A vendor swap unit enabled in /etc: masked by the fix.
        write(m, "/usr/lib/systemd/system/dev-vdb.swap", "[Swap]\nWhat=/dev/vdb\n[Install]\nWantedBy=swap.target\n")
        link(m, "/etc/systemd/system/swap.target.wants/dev-vdb.swap", "/usr/lib/systemd/system/dev-vdb.swap")
        # Masked already, its wants link still there: off.
        write(m, "/usr/lib/systemd/system/old.swap", "[Swap]\nWhat=/dev/old\n[Install]\nWantedBy=swap.target\n")
        link(m, "/etc/systemd/system/swap.target.wants/old.swap", "/usr/lib/systemd/system/old.swap")
        link(m, "/etc/systemd/system/old.swap", "/dev/null")
        # zram-tools as Debian ships it (the service's ExecStart never runs here).
        write(m, "/etc/default/zramswap", "ALGO=zstd\nPERCENT=50\n")
        write(m, "/usr/lib/systemd/system/zramswap.service",
              "[Unit]\nDescription=Linux zramswap setup\n[Service]\nType=oneshot\nRemainAfterExit=true\n"
              "ExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n")
        link(m, "/etc/systemd/system/multi-user.target.wants/zramswap.service", "/usr/lib/systemd/system/zramswap.service")
        # zram-generator installed with Debian's default configuration.
        write(m, "/usr/lib/systemd/system-generators/zram-generator", "#!/bin/sh\nexit 0\n", 0o755)
        write(m, "/etc/systemd/zram-generator.conf", "# Debian's default\n[zram0]\n")
        self.c.boot()

    def check(self, *args):
        r = self.c.run("/usr/local/bin/join_prep_swap_check", *args, check=False)
        self.assertIn(r.returncode, (0, 1), r.stderr.decode(errors="replace"))
        return json.loads(r.stdout)

    def by_id(self, results, id_):
        return [r for r in results if r["id"] == id_]

    def test_plan_apply_and_plan_again(self):
        # What systemctl really prints, in the form the parser reads.
        files = self.c.run("systemctl", "list-unit-files", "--type", "swap", "--no-legend", "--no-pager").stdout
        self.assertIn(b"old.swap", files)
        self.assertRegex(files.decode(), r"(?m)^old\.swap\s+masked\s")
        units = self.c.run("systemctl", "list-units", "--type", "swap", "--all", "--no-legend", "--no-pager",
                           "--plain").stdout
        self.assertRegex(units.decode(), r"(?m)^dev-vdb\.swap\s+loaded\s+inactive\s+dead\s")
        none = self.c.run("systemctl", "list-unit-files", "--type", "scope", "--no-legend", "--no-pager",
                          check=False)
        self.assertEqual((none.returncode, none.stdout.strip(), none.stderr.strip()), (1, b"", b""))

        out = self.check("--apply", "fstab-swap,swap-units,zram")
        before, applied, after = out["before"], out["applied"], out["after"]
        fstab = self.by_id(before, "SwapFstab")
        self.assertEqual(fstab[0]["status"], "fail")
        self.assertIn("/etc/fstab:3 (/swapfile)", fstab[0]["message"])
        self.assertIn("/etc/fstab:6 (LABEL=SWAP)", fstab[0]["message"])
        self.assertIn("/etc/fstab:5: 2 fields", fstab[1]["message"])
        units_result = self.by_id(before, "SwapUnits")
        self.assertEqual(len(units_result), 1, units_result)  # systemctl answered: no problem finding
        self.assertEqual([s["target"] for s in units_result[0]["fix"]["steps"]],
                         ["systemctl mask --now dev-vdb.swap", "systemctl disable --now swapfile.swap"])
        zram = self.by_id(before, "SwapZram")[0]
        self.assertEqual([s["target"] for s in zram["fix"]["steps"]],
                         ["/etc/systemd/zram-generator.conf.d/zz-nodeagent-no-swap.conf",
                          "systemctl disable zramswap.service"])
        self.assertTrue(all(a["ok"] for a in applied), applied)
        self.assertEqual(len(applied), 5, applied)

        for r in after:
            self.assertNotIn("fix", r, r)
            if r["status"] != "pass":
                self.assertEqual((r["id"], r["severity"]), ("SwapFstab", "warning"), r)  # the malformed line
        with open(os.path.join(self.c.merged, "etc/fstab"), "rb") as f:
            self.assertEqual(f.read(), FSTAB_FIXED)
        with open(os.path.join(self.c.merged, "etc/fstab.nodeagent.bak"), "rb") as f:
            self.assertEqual(f.read(), FSTAB)
        states = self.c.run("systemctl", "list-unit-files", "--type", "swap", "--no-legend", "--no-pager").stdout.decode()
        self.assertRegex(states, r"(?m)^dev-vdb\.swap\s+masked\s")
        self.assertRegex(states, r"(?m)^swapfile\.swap\s+disabled\s")
        enabled = self.c.run("systemctl", "is-enabled", "zramswap.service", check=False).stdout.decode().strip()
        self.assertEqual(enabled, "disabled")

        # A third plan, after a daemon-reload, still has nothing to do.
        self.c.run("systemctl", "daemon-reload")
        again = self.check()
        self.assertTrue(all("fix" not in r for r in again), again)


if __name__ == "__main__":
    unittest.main()
