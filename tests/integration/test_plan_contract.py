"""What you planned is what you apply, end to end: `agentctl run --confirm`
on a terminal (a pty from python's pty module) shows the plan and applies it
only on y, refuses without a terminal, and refuses to apply when the node
changed after the plan was shown; `-o json` puts the plan beside the outcome;
an exec plugin is asked for its plan, then applies it with the plan on stdin,
and what it reports changing beyond the plan fails the run.
"""

import json
import os
import pty
import select
import time

from harness import AGENTCTL
from test_daemon import DaemonTestCase

TASKS = """
[tasks.touch]
action = "test-touch"
path = "/etc/itest/touched"
content = "new"
"""

PROMPT = b"Apply this plan? Only y or yes applies it: "


def run_on_terminal(argv, answer, before_answer=None, timeout=60):
    """Runs argv with a pty as its stdin, stdout and stderr; when the prompt
    shows, calls before_answer() and types `answer`. Returns (exit code, output)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    out = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, 9)
                raise AssertionError("agentctl did not finish on the terminal; output so far:\n" + out.decode(errors="replace"))
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
            if not answered and PROMPT in out:
                if before_answer:
                    before_answer()
                os.write(fd, answer.encode() + b"\n")
                answered = True
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


class ConfirmTest(DaemonTestCase):
    def ctl_argv(self, agent, *args):
        return [AGENTCTL, "--config", agent.config] + list(args)

    def touched(self, agent):
        path = os.path.join(agent.root, "etc/itest/touched")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return f.read()

    def check_yes_and_no(self, agent, local):
        extra = ["--local"] if local else []
        code, out = run_on_terminal(self.ctl_argv(agent, *extra, "run", "touch", "--confirm"), "n")
        self.assertEqual(code, 1, out)
        self.assertIn("Plan for test-touch (task touch) on itest-node:", out)
        self.assertIn("+new", out)  # the diff is shown before asking
        self.assertIn("agentctl: not applied", out)
        self.assertIsNone(self.touched(agent))

        code, out = run_on_terminal(self.ctl_argv(agent, *extra, "run", "touch", "--confirm"), "y")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.touched(agent), "new")
        runs = agent.ctl_json("history")["runs"] if not local else json.loads(
            agent.ctl("--local", "-o", "json", "history").stdout)["runs"]
        # Runs started within the same second have no order among them.
        applied = [r for r in runs if r.get("confirmed_plan")]
        previews = [r for r in runs if r.get("preview")]
        self.assertEqual(len(applied), 1, runs)
        self.assertEqual(len(previews), 2, runs)  # the one answered n, and this one
        applied = applied[0]
        preview = [p for p in previews if p["plan"]["fingerprint"] == applied["confirmed_plan"]][0]
        self.assertTrue(preview["dry_run"])
        self.assertEqual(applied["confirmed_plan"], preview["plan"]["fingerprint"])
        self.assertEqual(applied["plan"]["fingerprint"], preview["plan"]["fingerprint"])
        self.assertEqual(applied["status"], "changed")

    def test_confirm_through_the_daemon_answers_n_then_y(self):
        agent = self.make_agent(tasks=TASKS)
        agent.start()
        self.check_yes_and_no(agent, local=False)

    def test_confirm_with_local_answers_n_then_y(self):
        agent = self.make_agent(tasks=TASKS)
        self.check_yes_and_no(agent, local=True)

    def test_confirm_without_a_terminal_is_a_usage_error(self):
        agent = self.make_agent(tasks=TASKS)
        agent.start()
        for extra in ([], ["--local"]):
            r = agent.ctl(*extra, "run", "touch", "--confirm", input="y\n")
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("--confirm asks on a terminal, and stdin is not one", r.stderr)
            self.assertIn("drop --confirm", r.stderr)
        r = agent.ctl("run", "touch", "--confirm", "--dry-run")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIsNone(self.touched(agent))

    def test_a_node_that_changed_after_the_plan_was_shown_is_not_applied(self):
        agent = self.make_agent(tasks=TASKS)
        agent.start()
        target = os.path.join(agent.root, "etc/itest/touched")

        def someone_else_writes():
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w") as f:
                f.write("someone else\n")

        for extra in ([], ["--local"]):
            if os.path.exists(target):
                os.unlink(target)
            code, out = run_on_terminal(self.ctl_argv(agent, *extra, "-o", "json", "run", "touch", "--confirm"), "y",
                                        before_answer=someone_else_writes)
            self.assertEqual(code, 1, out)
            self.assertIn("the node changed since you confirmed", out)
            self.assertIn("nothing was applied", out)
            with open(target) as f:
                self.assertEqual(f.read(), "someone else\n")

    def test_json_output_puts_the_plan_beside_the_outcome(self):
        agent = self.make_agent(tasks=TASKS)
        agent.start()
        for extra in ([], ["--local"]):
            if self.touched(agent) is not None:
                os.unlink(os.path.join(agent.root, "etc/itest/touched"))
            rec = agent.ctl_json(*extra, "run", "touch")
            # The outcome stays where scripts read it...
            self.assertEqual(rec["status"], "changed")
            self.assertEqual(rec["summary"], "wrote /etc/itest/touched")
            self.assertEqual(rec["changes"][0]["target"], "/etc/itest/touched")
            # ...and the plan sits beside it.
            plan = rec["plan"]
            self.assertEqual(plan["summary"], "would write /etc/itest/touched")
            self.assertEqual(plan["changes"][0]["objects"], ["file:/etc/itest/touched"])
            self.assertTrue(plan["fingerprint"].startswith("fnv1a64:"))
            self.assertEqual(plan["findings"], [])
            logs = agent.ctl_json(*extra, "logs", rec["id"])["record"]
            self.assertEqual(logs["plan"], plan)


EXEC_PLANNER = """#!/bin/sh
# Plans one file; in apply mode, writes the request and reports what $1 says.
req=$(cat)
dir=$(dirname "$0")
case "$req" in
  *'"mode":"plan"'*)
    printf '%s\\n' "$req" > "$dir/plan-request.json"
    echo '{"summary": "would write /etc/a", "changes": [{"kind": "edit", "target": "/etc/a", "objects": ["file:/etc/a"]}]}'
    ;;
  *)
    printf '%s\\n' "$req" > "$dir/apply-request.json"
    echo '{"summary": "wrote", "changes": [{"kind": "edit", "target": "/etc/a", "objects": ["file:/etc/a"]}{EXTRA}]}'
    ;;
esac
"""


class ExecPlanTest(DaemonTestCase):
    def write_plugin(self, agent, name, extra):
        script = os.path.join(agent.exec_dir, name + ".sh")
        with open(script, "w") as f:
            f.write(EXEC_PLANNER.replace("{EXTRA}", extra))
        os.chmod(script, 0o755)
        with open(os.path.join(agent.exec_dir, name + ".toml"), "w") as f:
            f.write(f'name = "{name}"\ndescription = "plans, then applies"\nexecutable = "{name}.sh"\n')

    def test_a_real_run_plans_first_then_applies_that_plan(self):
        agent = self.make_agent(tasks="")
        self.write_plugin(agent, "exec-planner", "")
        agent.start()
        rec = agent.ctl_json("run", "exec-planner")
        self.assertEqual(rec["status"], "changed", rec)
        with open(os.path.join(agent.exec_dir, "apply-request.json")) as f:
            req = json.load(f)
        self.assertEqual(req["mode"], "apply")
        planned = req["plan"]
        self.assertEqual(planned["summary"], "would write /etc/a")
        self.assertEqual(planned["changes"][0]["objects"], ["file:/etc/a"])
        # Running the executable to apply is named in the plan too.
        self.assertEqual(planned["changes"][-1]["kind"], "run")
        self.assertEqual(planned["changes"][-1]["objects"], ["command:" + os.path.join(agent.exec_dir, "exec-planner.sh")])
        with open(os.path.join(agent.exec_dir, "plan-request.json")) as f:
            self.assertFalse(json.load(f)["dry_run"])
        def shape(changes):
            return [(c["kind"], c["target"], c.get("objects", [])) for c in changes]
        self.assertEqual(shape(rec["plan"]["changes"]), shape(planned["changes"]))

    def test_an_apply_that_reports_more_than_its_plan_fails(self):
        agent = self.make_agent(tasks="")
        self.write_plugin(agent, "exec-overreach", ', {"kind": "edit", "target": "/etc/b", "objects": ["file:/etc/b"]}')
        agent.start()
        r = agent.ctl("-o", "json", "run", "exec-overreach")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        rec = json.loads(r.stdout)
        self.assertEqual(rec["status"], "failed")
        self.assertIn({"severity": "error", "subject": "file:/etc/b",
                       "message": "changed by Apply but not named in the plan"}, rec["findings"])
        logs = agent.ctl_json("logs", rec["id"])["record"]["logs"]
        self.assertTrue(any(l["level"] == "error" and l["msg"].startswith("not in the plan: file:/etc/b") for l in logs),
                        logs)
