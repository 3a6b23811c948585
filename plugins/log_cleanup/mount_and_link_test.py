#!/usr/bin/env python3
"""log-cleanup through `agentctl --local`: bind mounts and symlinked path components.

Issue 10, defect 14: a folder of old *.log files bind-mounted into the cleaned
tree from the same filesystem (same st_dev, so a `find -xdev`-style check lets
it through) must survive, and the plan and the outcome must name the skipped
mount point. The bind mount is made in a private mount namespace
(`unshare -m --propagation private`), so it never reaches the host; the test
fails, not skips, when unshare is missing or refused.

Issue 10, defect 3 (log-cleanup part): a configured path whose intermediate
component is a symlink (/var/log -> a directory elsewhere), and a glob whose
parent is reached through one, are not followed: the files behind the link
survive and the finding names the symlinked component.

Run one case: mount_and_link_test.py BindMount / SymlinkedComponent.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.path.abspath(os.environ.get("NODEAGENT_BUILD", os.path.join(os.path.dirname(__file__), "../../build")))
AGENTCTL = os.path.join(BUILD, "bin/agentctl")
PLUGINS = os.path.join(BUILD, "plugins")
OLD = 30 * 86400


def write_aged(path, age_seconds, content="old line\n"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)
    t = time.time() - age_seconds
    os.utime(path, (t, t))


class LocalAgent:
    """A temp root, a state dir and a config for `agentctl --local`."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="logc-mount-")
        self.root = os.path.join(self.dir, "root")
        self.state = os.path.join(self.dir, "state")
        os.makedirs(os.path.join(self.root, "proc/sys/kernel/random"))
        os.makedirs(os.path.join(self.dir, "exec"))
        with open(os.path.join(self.root, "proc/sys/kernel/random/boot_id"), "w") as f:
            f.write("boot-1\n")
        with open(os.path.join(self.root, "proc/sys/kernel/hostname"), "w") as f:
            f.write("node-1\n")
        self.config = os.path.join(self.dir, "agent.toml")
        with open(self.config, "w") as f:
            f.write(f"""[agent]
root = "{self.root}"
state_dir = "{self.state}"
socket = "{self.dir}/agent.sock"
plugin_dir = "{PLUGINS}"
exec_plugin_dir = "{self.dir}/exec"
allow_unsafe_plugin_owner = true
""")

    def real(self, host_path):
        return os.path.join(self.root, host_path.lstrip("/"))

    def argv(self, paths, dry_run):
        argv = [AGENTCTL, "--config", self.config, "--local", "-o", "json", "run", "log-cleanup",
                "--set", "paths=" + json.dumps(paths), "--set", "max_age=10d",
                "--set", "skip_open_files=false"]
        return argv + (["--dry-run"] if dry_run else [])

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def findings_text(record):
    """The findings of a run record (a dry run's are the plan's), as 'subject: message' lines."""
    return "\n".join(f"{f.get('subject', '')}: {f.get('message', '')}" for f in record.get("findings", []))


def run_json(testcase, argv, expect_rc=None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if expect_rc is not None:
        testcase.assertEqual(r.returncode, expect_rc, f"argv: {argv}\nstdout: {r.stdout}\nstderr: {r.stderr}")
    try:
        return json.loads(r.stdout)
    except json.JSONDecodeError:
        testcase.fail(f"agentctl did not print JSON (rc {r.returncode})\nstdout: {r.stdout}\nstderr: {r.stderr}")


class BindMount(unittest.TestCase):
    """log_cleanup_does_not_cross_a_bind_mount"""

    def setUp(self):
        if shutil.which("unshare") is None:
            self.fail("unshare (util-linux) is not installed: the bind-mount test cannot run")
        probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True, text=True)
        if probe.returncode != 0:
            self.fail(f"unshare -m is refused here ({probe.stderr.strip()}): the bind-mount test cannot run")
        self.agent = LocalAgent()
        write_aged(self.agent.real("/var/log/app/old.log"), OLD)
        # The bind source lives inside the same root (the same filesystem as
        # the cleaned tree, so st_dev is the same on both sides of the mount).
        for name in ("a.log", "b.log"):
            write_aged(self.agent.real(f"/srv/shared-logs/{name}"), OLD)
        write_aged(self.agent.real("/srv/shared-logs/deeper/c.log"), OLD)
        os.makedirs(self.agent.real("/var/log/app/shared"))

    def tearDown(self):
        self.agent.cleanup()

    def run_in_namespace(self, dry_run):
        source = self.agent.real("/srv/shared-logs")
        target = self.agent.real("/var/log/app/shared")
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" "$1" && shift && exec "$@"', source, target,
                *self.agent.argv(["/var/log/app"], dry_run)]
        return run_json(self, argv, expect_rc=0)

    def test_bind_mounted_logs_survive_and_are_reported(self):
        self.assertEqual(os.stat(self.agent.real("/srv/shared-logs")).st_dev,
                         os.stat(self.agent.real("/var/log/app/shared")).st_dev)
        shared = sorted(os.listdir(self.agent.real("/srv/shared-logs")))

        plan = self.run_in_namespace(dry_run=True)
        text = findings_text(plan)
        self.assertIn("/var/log/app/shared: skipped mount point", text)
        self.assertTrue(plan["dry_run"])
        planned = [f["path"] for f in plan["data"]["files"]]
        self.assertEqual(planned, ["/var/log/app/old.log"])
        self.assertEqual(plan["data"]["paths"][0]["skipped"]["mount_points"], 1)

        done = self.run_in_namespace(dry_run=False)
        self.assertIn("/var/log/app/shared: skipped mount point", findings_text(done))
        self.assertEqual(done["status"], "changed")
        self.assertEqual(done["data"]["paths"][0]["skipped"]["mount_points"], 1)
        self.assertEqual(done["data"]["totals"]["deleted"]["files"], 1)
        self.assertFalse(os.path.exists(self.agent.real("/var/log/app/old.log")))
        self.assertEqual(sorted(os.listdir(self.agent.real("/srv/shared-logs"))), shared)
        self.assertTrue(os.path.exists(self.agent.real("/srv/shared-logs/deeper/c.log")))


class SymlinkedComponent(unittest.TestCase):
    """log_cleanup_does_not_follow_a_symlinked_path_component"""

    def setUp(self):
        self.agent = LocalAgent()
        # /var/log is a symlink to a directory elsewhere (outside the root).
        self.elsewhere = os.path.join(self.agent.dir, "elsewhere")
        write_aged(os.path.join(self.elsewhere, "app/old.log"), OLD)
        write_aged(os.path.join(self.elsewhere, "app-a/old.log"), OLD)
        os.makedirs(self.agent.real("/var"))
        os.symlink(self.elsewhere, self.agent.real("/var/log"))

    def tearDown(self):
        self.agent.cleanup()

    def test_symlinked_intermediate_component_is_not_followed(self):
        for paths in (["/var/log/app"], ["/var/log/app-*"]):
            with self.subTest(paths=paths):
                record = run_json(self, self.agent.argv(paths, dry_run=False))
                self.assertEqual(record["status"], "failed", json.dumps(record, indent=1))
                self.assertIn("/var/log is a symlink", findings_text(record))
                self.assertTrue(os.path.exists(os.path.join(self.elsewhere, "app/old.log")))
                self.assertTrue(os.path.exists(os.path.join(self.elsewhere, "app-a/old.log")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
