"""The audit trail end to end: a real action run through `agentctl --local
run` and through the daemon appends what it changed (the file with its hash
before and after, the command with its argv and exit code, the change no hook
saw) under <state>/audit, `agentctl audit` shows it to root and to the
`nodeagent` group, a dry run adds nothing, and the secret the run was given
is in no file of the trail, in no encoding.
"""

import base64
import glob
import hashlib
import json
import os
import unittest
import urllib.parse

from harness import AS_NOBODY
from test_daemon import DaemonTestCase

TOKEN = "abcdef.0123456789abcdef"
TASKS = f"""
[tasks.audited]
action = "test-audited"
path = "/etc/itest/audited"
program = "/bin/echo"
"""


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


class AuditTest(DaemonTestCase):
    def audit(self, agent, *args, prefix=(), local=False):
        r = agent.ctl(*(["--local"] if local else []), "-o", "json", "audit", *args, prefix=prefix)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [json.loads(line) for line in r.stdout.splitlines()]

    def trail_bytes(self, agent):
        data = b""
        for path in glob.glob(os.path.join(agent.state, "audit", "*")):
            with open(path, "rb") as f:
                data += f.read()
        return data

    def test_local_and_daemon_runs_are_audited_without_the_secret(self):
        agent = self.make_agent(tasks=TASKS)
        target = os.path.join(agent.root, "etc/itest/audited")
        os.makedirs(os.path.dirname(target))
        with open(target, "w") as f:
            f.write("before\n")

        r = agent.ctl("--local", "-o", "json", "run", "audited", "--set", f'token="{TOKEN}"')
        self.assertEqual(r.returncode, 0, r.stderr)
        local_run = json.loads(r.stdout)["id"]
        entries = self.audit(agent, "--run", local_run, local=True)
        self.assertEqual([e["kind"] for e in entries], ["file", "command", "file"], entries)
        written, ran, reported = entries
        self.assertEqual(written["path"], "/etc/itest/audited")
        self.assertEqual(written["sha256_before"], sha256("before\n"))
        self.assertEqual(written["sha256_after"], sha256("audited\n"))
        self.assertEqual(written["node"], "itest-node")
        self.assertEqual(ran["argv"], ["/bin/echo", "--token=<redacted>"])
        self.assertEqual(ran["exit_code"], 0)
        self.assertEqual(ran["result"], "ok")
        self.assertEqual(reported["reported_by"], "action")
        self.assertEqual(reported["objects"], ["file:/etc/itest/unseen"])
        mode = os.stat(os.path.join(agent.state, "audit", "audit.jsonl")).st_mode & 0o777
        self.assertEqual(mode, 0o600)

        # Through the daemon (a worker) into the same trail; the group reads it.
        agent.start()
        r = agent.ctl("-o", "json", "run", "audited", "--set", f'token="{TOKEN}"')
        self.assertEqual(r.returncode, 0, r.stderr)
        daemon_run = json.loads(r.stdout)["id"]
        mine = self.audit(agent, "--run", daemon_run)
        self.assertEqual(len(mine), 3, mine)
        self.assertEqual(mine[0]["sha256_before"], sha256("audited\n"))
        everything = self.audit(agent, prefix=AS_NOBODY)
        self.assertEqual({e["run"] for e in everything}, {local_run, daemon_run})
        table = agent.ctl("audit", prefix=AS_NOBODY).stdout
        self.assertIn("TIME", table)
        self.assertIn("/bin/echo --token=<redacted> -> exit 0", table)

        # Time filters, both forms; a bad one is a usage error.
        self.assertEqual(len(self.audit(agent, "--since", "1h")), 6)
        self.assertEqual(self.audit(agent, "--since", "2099-01-01T00:00:00Z"), [])
        self.assertEqual(agent.ctl("audit", "--since", "yesterday").returncode, 2)

        # A dry run changes nothing and adds nothing.
        r = agent.ctl("-o", "json", "run", "audited", "--dry-run", "--set", f'token="{TOKEN}"')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.audit(agent)), 6)

        # The planted secret is in no file of the trail, in no form.
        trail = self.trail_bytes(agent)
        self.assertIn(b"--token=<redacted>", trail)
        for form in (TOKEN, base64.b64encode(TOKEN.encode()).decode().rstrip("="),
                     base64.urlsafe_b64encode(TOKEN.encode()).decode().rstrip("="),
                     urllib.parse.quote(TOKEN, safe="")):
            self.assertNotIn(form.encode(), trail, form)


if __name__ == "__main__":
    unittest.main()
