"""Integration tests of agentctl against the real daemon: who may do what on
the socket, config check/show, dry runs, JSON output, --local runs sharing the
daemon's history, exec plugins' exit codes, refusal of unsafe plugin files,
and `nodeagent --demo`.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import AS_NOBODY, AS_OUTSIDER, BUILD, NODEAGENT, TEST_PLUGINS, Agent, wait_for
from test_daemon import DaemonTestCase, known_bug

TASKS = """
[tasks.touch]
action = "test-touch"
path = "/etc/itest/touched"
content = "new"

[tasks.failing]
action = "test-fail"
"""

BUG_SHOW_UNSAFE = (
    "agent_config.cpp RenderEffectiveConfig leaves out agent.allow_unsafe_plugin_owner, so `config show` hides "
    "that plugin ownership checks are off")

BUG_USAGE_EXIT = (
    "agentctl_main.cpp uses CLI11_PARSE, which exits with CLI11's own codes (106 for an unknown or missing "
    "subcommand/argument, 105 for a bad option value) instead of the documented 2 for usage errors")

EXEC_SCRIPT = """#!/bin/sh
# Reads the request, answers per its mode; exit code from the first arg.
req=$(cat)
printf '%s\\n' "$req" > "$(dirname "$0")/last-request-{name}.json"  # not echo: dash would expand the plan's \\n
cat <<'EOF'
{answer}
EOF
exit {code}
"""


def write_exec_plugin(exec_dir, name, answer, code, mode=0o755):
    script = os.path.join(exec_dir, name + ".sh")
    with open(script, "w") as f:
        f.write(EXEC_SCRIPT.format(name=name, answer=json.dumps(answer), code=code))
    os.chmod(script, mode)
    with open(os.path.join(exec_dir, name + ".toml"), "w") as f:
        f.write(f'name = "{name}"\ndescription = "exec test {name}"\nexecutable = "{name}.sh"\n'
                '[[param]]\nname = "level"\ntype = "int"\ndefault = 3\nmin = 0\nmax = 10\ndoc = "A level."\n'
                '[[param]]\nname = "api_key"\ntype = "string"\ndefault = ""\nsecret = true\ndoc = "A key."\n')


class AccessTest(DaemonTestCase):
    def test_group_member_reads_but_may_not_change(self):
        agent = self.make_agent(tasks=TASKS)
        agent.start()
        self.assertEqual(agent.ctl("run", "touch").returncode, 0)
        for args in (["status"], ["history"], ["list"], ["describe", "test-touch"], ["-o", "json", "history"]):
            r = agent.ctl(*args, prefix=AS_NOBODY)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
        hist = json.loads(agent.ctl("-o", "json", "history", prefix=AS_NOBODY).stdout)
        self.assertEqual(hist["runs"][0]["task"], "touch")
        for args in (["run", "touch"], ["run", "touch", "--dry-run"], ["reload"], ["cancel", "x"]):
            r = agent.ctl(*args, prefix=AS_NOBODY)
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
            self.assertRegex(r.stderr, "(?i)root|permission|not allowed", args)
        # The raw protocol says why, with a code.
        r = subprocess.run(AS_NOBODY + ["python3", "-c", (
            "import socket,sys;s=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1]);"
            "s.sendall(b'{\"op\":\"run\",\"target\":\"touch\"}\\n');print(s.recv(4096).decode())"), agent.socket],
            capture_output=True, text=True, timeout=10)
        self.assertEqual(json.loads(r.stdout)["code"], "permission_denied", r.stdout + r.stderr)
        self.assertEqual(len(agent.history("touch")), 1, "a refused run was started")
        self.assertFalse(os.path.exists(os.path.join(agent.state, "runs", "x")))

    def test_outsider_cannot_connect(self):
        agent = self.make_agent(tasks=TASKS)
        agent.start()
        st = os.stat(agent.socket)
        self.assertEqual(st.st_mode & 0o777, 0o660)
        for args in (["status"], ["history"], ["run", "touch"]):
            r = agent.ctl(*args, prefix=AS_OUTSIDER)
            self.assertEqual(r.returncode, 3, (args, r.stdout, r.stderr))
        self.assertEqual(agent.history("touch"), [])

    def test_socket_is_root_only_without_the_group(self):
        agent = self.make_agent(tasks=TASKS)
        agent.write_config(raw=agent.agent_table().replace('"nogroup"', '"no-such-group-itest"') + TASKS)
        agent.start()
        self.assertEqual(os.stat(agent.socket).st_mode & 0o777, 0o600)
        r = agent.ctl("status", prefix=AS_NOBODY)
        self.assertEqual(r.returncode, 3, r.stderr)


class CliTest(DaemonTestCase):
    def test_a_dry_run_cannot_change_the_node_even_if_the_plugin_tries(self):
        agent = self.make_agent(tasks="")
        os.makedirs(os.path.join(agent.root, "etc/itest"))
        keep = os.path.join(agent.root, "etc/itest/keep")
        with open(keep, "w") as f:
            f.write("keep\n")
        agent.start()
        for prefix in ((), ("--local",)):
            rec = agent.ctl_json(*prefix, "run", "test-plan-writes", "--dry-run")
            said = {f["subject"]: f["message"] for f in rec["findings"]}
            for what in ("write", "mkdir", "remove", "command"):
                self.assertTrue(said[what].startswith("refused while planning"), (prefix, what, said))
            self.assertEqual(said["read-only command"], "done")
            for path in ("etc/itest/planned", "etc/itest/planned-dir", "etc/itest/ran"):
                self.assertFalse(os.path.exists(os.path.join(agent.root, path)), (prefix, path))
            self.assertTrue(os.path.exists(keep))

    def test_config_check_names_file_line_col(self):
        agent = self.make_agent(tasks=TASKS)
        r = agent.ctl("config", "check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration ok", r.stdout)
        cases = [
            (TASKS + "[tasks.bad]\naction = \"test-touch\"\nno_such_key = 1\n", "no_such_key"),
            (TASKS + "[tasks.bad]\naction = \"test-touch\"\ntimeout = \"soon\"\n", "timeout"),
            (TASKS + "[tasks.bad]\naction = \"test-touch\"\nschedule = \"61 * * * *\"\n", "schedule"),
            (TASKS + "[tasks.bad]\naction = \"no-such-action\"\n", "no-such-action"),
            (TASKS + "[tasks.bad\n", ""),  # TOML syntax error
        ]
        for text, key in cases:
            agent.write_config(text)
            r = agent.ctl("config", "check")
            self.assertEqual(r.returncode, 2, (text, r.stdout, r.stderr))
            self.assertRegex(r.stderr, re.escape(agent.config) + r":\d+:\d+", text)
            self.assertIn(key, r.stderr)

    def test_every_number_has_a_range(self):
        """Issue 10, defect 12: out-of-range numbers were accepted by `config check`."""
        agent = self.make_agent(tasks="", plugin_dir=os.path.join(BUILD, "plugins"))
        self.assertEqual(agent.ctl("config", "check").returncode, 0)
        reboot = ('[tasks.reboot]\naction = "drain-and-reboot"\nlock_ttl = "1s"\n', 3, 12, "tasks.reboot.lock_ttl",
                  "must be between 1m and ")
        cases = [
            ("[kubernetes]\nqps = -1\n", 2, 7, "kubernetes.qps", "must be between 0.1 and "),
            ("[history]\nmax_runs = -10\n", 2, 12, "history.max_runs", "must be between 1 and 100000, got -10"),
            reboot,
        ]
        for text, line, col, key, message in cases:
            agent.write_config(text)
            r = agent.ctl("config", "check")
            self.assertEqual(r.returncode, 2, (text, r.stdout, r.stderr))
            where = f"{agent.config}:{line + agent.agent_table().count(chr(10))}:{col}: {key}: "
            self.assertIn(where + message, r.stderr, text)

    def test_config_show_prints_defaults(self):
        agent = self.make_agent(tasks=TASKS)
        agent.start()
        for args in (["config", "show"], ["--local", "config", "show"]):
            r = agent.ctl(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            for default in ('timeout = "1h"', 'jitter = "0s"', "log_level = 'info'", "max_runs = 1000",
                            'max_age = "30d"', "content = 'new'", "catch_up = false"):
                self.assertIn(default, r.stdout, args)
        # What it shows is a valid config again.
        shown = os.path.join(agent.dir, "shown.toml")
        with open(shown, "w") as f:
            f.write(agent.ctl("config", "show").stdout)
        r = agent.ctl("--config", shown, "config", "check", config=False)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_config_show_includes_every_agent_key(self):
        agent = self.make_agent(tasks=TASKS)
        r = agent.ctl("--local", "config", "show")
        self.assertIn("allow_unsafe_plugin_owner = true", r.stdout, BUG_SHOW_UNSAFE)

    def test_dry_run_changes_nothing(self):
        agent = self.make_agent(tasks=TASKS)
        agent.start()
        target = os.path.join(agent.root, "etc/itest/touched")
        r = agent.ctl("-o", "json", "run", "touch", "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        rec = json.loads(r.stdout)
        self.assertTrue(rec["dry_run"])
        self.assertEqual(rec["status"], "ok")
        self.assertIn("+new", rec["changes"][0]["diff"])
        self.assertFalse(os.path.exists(target))
        text = agent.ctl("run", "touch", "--dry-run")
        self.assertIn("+new", text.stdout)
        self.assertFalse(os.path.exists(target))
        # For real, then a second real run has nothing to do.
        self.assertEqual(agent.ctl("run", "touch").returncode, 0)
        with open(target) as f:
            self.assertEqual(f.read(), "new")
        again = json.loads(agent.ctl("-o", "json", "run", "touch").stdout)
        self.assertEqual(again["status"], "ok")
        self.assertEqual(again["changes"], [])

    def test_json_output_parses(self):
        agent = self.make_agent(tasks=TASKS)
        agent.start()
        run = agent.ctl_json("run", "touch", "--set", "content=other")
        self.assertEqual(run["status"], "changed")
        self.assertEqual(run["params"]["content"], "other")
        st = agent.ctl_json("status")
        self.assertEqual(st["pid"], agent.proc.pid)
        self.assertIn("testing", json.dumps(st["plugins"]))
        self.assertEqual(len(st["plugin_problems"]), 3)  # the deliberately broken test modules
        lst = agent.ctl_json("list")
        self.assertIn("test-touch", [a["name"] for a in lst["actions"]])
        desc = agent.ctl_json("describe", "test-touch")
        self.assertIn("path", json.dumps(desc))
        hist = agent.ctl_json("history", "-n", "1")
        self.assertEqual(hist["runs"][0]["id"], run["id"])
        logs = agent.ctl_json("logs", run["id"])
        self.assertIn("writing", json.dumps(logs["record"]["logs"]))
        failed = agent.ctl("-o", "json", "run", "failing")
        self.assertEqual(failed.returncode, 1)
        self.assertEqual(json.loads(failed.stdout)["status"], "failed")

    def test_exit_codes(self):
        agent = self.make_agent(tasks=TASKS)
        r = agent.ctl("status")
        self.assertEqual(r.returncode, 3, "no daemon yet")
        agent.start()
        self.assertEqual(agent.ctl("run", "no-such-task").returncode, 2)
        self.assertEqual(agent.ctl("run", "touch", "--set", "nokey=1").returncode, 2)
        self.assertEqual(agent.ctl("logs", "no-such-run").returncode, 2)
        self.assertEqual(agent.ctl("run", "failing").returncode, 1)
        self.assertEqual(agent.ctl("run", "touch").returncode, 0)

    def test_nothing_silent_about_where_config_and_plugins_were_looked_for(self):
        # A newcomer's first try: no config file, no plugin folder.
        tmp = tempfile.mkdtemp(prefix="itest-silent-")
        self.addCleanup(shutil.rmtree, tmp, True)
        missing = os.path.join(tmp, "agent.toml")
        agent = self.make_agent(tasks=TASKS)
        r = agent.ctl("--local", "--config", missing, "list", config=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("config: none (%s does not exist): defaults apply" % missing, r.stdout)
        self.assertIn("(no actions: no plugin was loaded; see SOURCES)", r.stdout)
        self.assertRegex(r.stdout, r"plugins: /usr/lib/nodeagent/plugins: ")
        r = agent.ctl("--local", "--config", missing, "describe", "reboot-if-required", config=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown action 'reboot-if-required'", r.stderr)
        self.assertIn("config: none (%s does not exist, defaults apply)" % missing, r.stderr)
        self.assertIn("plugins searched: /usr/lib/nodeagent/plugins", r.stderr)
        # With a config: which files, which folders and what they held; in
        # list, status, config show and every unknown-action error, local
        # and through the daemon.
        agent = self.make_agent(tasks=TASKS)
        listed = agent.ctl_json("--local", "list")
        dirs = {d["dir"]: d for d in listed["sources"]["plugin_dirs"]}
        self.assertEqual(listed["sources"]["config_files"][0], agent.config)
        self.assertTrue(dirs[agent.plugin_dir]["exists"])
        self.assertIn("testing", dirs[agent.plugin_dir]["loaded"])
        text = agent.ctl("--local", "list").stdout
        self.assertIn("SOURCES\n  config: " + agent.config, text)
        self.assertRegex(text, r"plugins: %s: \d+ module\(s\), \d+ loaded \(.*testing" % re.escape(agent.plugin_dir))
        self.assertIn("# config: " + agent.config, agent.ctl("--local", "config", "show").stdout)
        agent.start()
        status = agent.ctl("status").stdout
        self.assertIn("config: " + agent.config, status)
        self.assertRegex(status, r"plugins: %s: \d+ module\(s\)" % re.escape(agent.plugin_dir))
        for args in (["describe", "nope"], ["run", "nope"], ["--local", "describe", "nope"], ["--local", "run", "nope"]):
            r = agent.ctl(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("plugins searched: " + agent.plugin_dir, r.stderr, args)
            self.assertIn("config: " + agent.config, r.stderr, args)

    def test_usage_errors_exit_2(self):
        agent = self.make_agent(tasks=TASKS)
        for args in ([], ["frobnicate"], ["run"], ["-o", "yaml", "status"], ["history", "-n", "0"]):
            r = agent.ctl(*args)
            self.assertEqual(r.returncode, 2, (args, BUG_USAGE_EXIT))

    def test_local_run_shares_the_daemons_history(self):
        agent = self.make_agent(tasks=TASKS)
        agent.start()
        r = agent.ctl("--local", "-o", "json", "run", "touch")
        self.assertEqual(r.returncode, 0, r.stderr)
        local = json.loads(r.stdout)
        self.assertIn("local", local["requested_by"])
        runs = agent.history("touch")
        self.assertEqual([x["id"] for x in runs], [local["id"]])
        self.assertEqual(runs[0]["status"], "changed")
        # And the other way round.
        daemon_run = json.loads(agent.ctl("-o", "json", "run", "failing").stdout)
        hist = json.loads(agent.ctl("--local", "-o", "json", "history").stdout)
        self.assertIn(daemon_run["id"], [x["id"] for x in hist["runs"]])
        logs = json.loads(agent.ctl("--local", "-o", "json", "logs", daemon_run["id"]).stdout)
        self.assertEqual(logs["record"]["status"], "failed")
        # --local works with no daemon at all.
        agent.stop()
        self.assertEqual(agent.ctl("--local", "status").returncode, 0)
        self.assertEqual(agent.ctl("--local", "run", "failing").returncode, 1)
        # history and logs read only [agent]; a broken file still says where.
        bad = os.path.join(agent.dir, "bad.toml")
        with open(bad, "w") as f:
            f.write("[agent]\nstate_dir = \n")
        r = agent.ctl("--config", bad, "--local", "history", config=False)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("bad.toml:2:", r.stderr)


LEAKY_SCRIPT = r"""#!/bin/sh
# Prints its secret parameter as careless tools do: plain, URL-encoded,
# base64 (alone and inside a Basic auth header) on stderr, and in its answer.
key=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["params"]["api_key"])')
python3 - "$key" >&2 <<'PY'
import base64, sys, urllib.parse
k = sys.argv[1]
print("plain: " + k)
print("url: https://hooks.example/x?token=" + urllib.parse.quote(k, safe=""))
print("form: " + urllib.parse.quote_plus(k))
print("base64: " + base64.b64encode(k.encode()).decode())
print("basic: Authorization: Basic " + base64.b64encode(("admin:" + k).encode()).decode())
print("base64url: " + base64.urlsafe_b64encode(k.encode()).decode())
PY
printf '{"summary": "used key %s", "findings": [{"severity": "warning", "subject": "%s", "message": "leaked %s"}]}\n' "$key" "$key" "$key"
"""


def files_containing(top, text):
    found = []
    for d, _, names in os.walk(top):
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                if text.encode() in f.read():
                    found.append(os.path.join(d, n))
    return sorted(found)


def write_leaky_plugin(exec_dir):
    script = os.path.join(exec_dir, "exec-leaky.sh")
    with open(script, "w") as f:
        f.write(LEAKY_SCRIPT)
    os.chmod(script, 0o755)
    with open(os.path.join(exec_dir, "exec-leaky.toml"), "w") as f:
        f.write('name = "exec-leaky"\ndescription = "prints its secret"\nexecutable = "exec-leaky.sh"\n'
                '[[param]]\nname = "api_key"\ntype = "string"\ndefault = ""\nsecret = true\ndoc = "A key."\n')


class PluginTest(DaemonTestCase):
    def test_secrets_printed_by_an_exec_plugin_never_reach_logs_history_or_output(self):
        secret = "s3cr3t/k3y+value with spaces&more=="
        import base64
        import urllib.parse
        forms = [secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
                 base64.b64encode(secret.encode()).decode().rstrip("="),
                 base64.urlsafe_b64encode(secret.encode()).decode().rstrip("=")]
        agent = self.make_agent(tasks='[tasks.leak]\naction = "exec-leaky"\napi_key = %s\n' % json.dumps(secret))
        write_leaky_plugin(agent.exec_dir)
        agent.start()
        outputs = []
        followed = agent.ctl("run", "leak")
        outputs.append(followed.stdout + followed.stderr)
        self.assertIn("plain: <redacted>", followed.stdout + followed.stderr)
        as_json = agent.ctl("-o", "json", "run", "leak")
        outputs.append(as_json.stdout + as_json.stderr)
        rec = json.loads(as_json.stdout)
        self.assertEqual(rec["summary"], "used key <redacted>")
        for args in (["-o", "json", "history"], ["history"], ["-o", "json", "logs", rec["id"]], ["logs", rec["id"]]):
            out = agent.ctl(*args)
            self.assertEqual(out.returncode, 0, (args, out.stderr))
            outputs.append(out.stdout + out.stderr)
        local = agent.ctl("--local", "run", "leak")
        outputs.append(local.stdout + local.stderr)
        self.assertIn("plain: <redacted>", local.stdout + local.stderr)
        logs = "\n".join(line["msg"] for line in agent.run_record(rec["id"])["logs"])
        self.assertIn("basic: Authorization: Basic", logs)
        for form in forms:
            for i, out in enumerate(outputs):
                self.assertNotIn(form, out, ("agentctl output", i))
            self.assertNotIn(form, agent.log(), "the daemon's log")
            self.assertEqual(files_containing(agent.state, form), [], "state dir")
        # The Basic header's base64 carries the secret at an offset: still gone.
        basic = base64.b64encode(("admin:" + secret).encode()).decode()
        self.assertNotIn(basic[12:-4], logs)

    def test_an_exec_plugin_that_prints_nothing_is_judged_by_its_exit_code(self):
        agent = self.make_agent(tasks="")
        for name, code in (("exec-silent", 0), ("exec-silent-fail", 1)):
            script = os.path.join(agent.exec_dir, name + ".sh")
            with open(script, "w") as f:
                f.write("#!/bin/sh\ncat >/dev/null\nexit %d\n" % code)
            os.chmod(script, 0o755)
            with open(os.path.join(agent.exec_dir, name + ".toml"), "w") as f:
                f.write(f'name = "{name}"\ndescription = "prints nothing"\nexecutable = "{name}.sh"\n')
        agent.start()
        ok = agent.ctl("-o", "json", "run", "exec-silent")
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertEqual(json.loads(ok.stdout)["summary"], "ok")
        bad = agent.ctl("-o", "json", "run", "exec-silent-fail")
        self.assertEqual(bad.returncode, 1, bad.stdout + bad.stderr)
        self.assertEqual(json.loads(bad.stdout)["summary"], "problem found")

    def test_exec_plugin_receives_int_lists_ports_and_string_maps_as_json(self):
        # Issue 11: the new parameter types, declared in a manifest, shown by
        # describe and the man page, refused with file:line:col, and handed to
        # the executable as JSON.
        agent = self.make_agent(tasks="")
        write_exec_plugin(agent.exec_dir, "exec-typed", {"summary": "typed"}, 0)
        with open(os.path.join(agent.exec_dir, "exec-typed.toml"), "a") as f:
            f.write('[[param]]\nname = "codes"\ntype = "int_list"\ndefault = [0, 1]\nmin = 0\nmax = 255\n'
                    'doc = "Exit codes."\n'
                    '[[param]]\nname = "ports"\ntype = "ports"\ndefault = [6443, "2379-2380"]\ndoc = "Ports."\n'
                    '[[param]]\nname = "sysctls"\ntype = "string_map"\n'
                    'default = { "net.ipv4.ip_forward" = "1" }\ndoc = "Sysctls."\n'
                    '[[param]]\nname = "headers"\ntype = "string_map"\nsecret = true\ndoc = "Headers."\n')
        agent.start()
        described = agent.ctl("describe", "exec-typed")
        self.assertEqual(described.returncode, 0, described.stderr)
        self.assertIn("codes (list of integers, default [ 0, 1 ], between 0 and 255)", described.stdout)
        self.assertIn("ports (list of ports, default [ 6443, '2379-2380' ])", described.stdout)
        self.assertIn("sysctls (map of strings, default { 'net.ipv4.ip_forward' = '1' })", described.stdout)
        man = agent.ctl("gen", "man-nodeagent.toml")
        self.assertEqual(man.returncode, 0, man.stderr)
        self.assertIn(".B codes\n(list of integers, default [ 0, 1 ], between 0 and 255)", man.stdout)
        self.assertIn(".B ports\n(list of ports, default [ 6443, '2379\\-2380' ])", man.stdout)

        ok = agent.ctl("-o", "json", "run", "exec-typed", "--set", "codes=[3, 4]", "--set", "ports=30000-32767",
                       "--set", 'sysctls={ "vm.swappiness" = "0" }', "--set", 'headers={ "X-Key" = "s3cr3t-hdr" }')
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        with open(os.path.join(agent.exec_dir, "last-request-exec-typed.json")) as f:
            params = json.load(f)["params"]
        self.assertEqual(params["codes"], [3, 4])
        self.assertEqual(params["ports"], [{"first": 30000, "last": 32767}])
        self.assertEqual(params["sysctls"], {"vm.swappiness": "0"})
        self.assertEqual(params["headers"], {"X-Key": "s3cr3t-hdr"})
        record = json.loads(ok.stdout)
        self.assertEqual(record["params"]["ports"], [{"first": 30000, "last": 32767}])
        self.assertEqual(record["params"]["headers"], "<redacted>")
        self.assertNotIn("s3cr3t-hdr", agent.ctl("-o", "json", "history").stdout)

        bad = agent.ctl("-o", "json", "run", "exec-typed", "--set", "codes=[1, 300]", "--set", 'ports=["2380-2379"]')
        self.assertEqual(bad.returncode, 2, bad.stdout + bad.stderr)
        self.assertIn("codes: must be between 0 and 255, got 300 (item 2)", bad.stderr + bad.stdout)
        self.assertIn('"2380-2379" is not a port range: its first port is above its last', bad.stderr + bad.stdout)

    def test_exec_plugin_exit_codes(self):
        agent = self.make_agent(tasks="")
        write_exec_plugin(agent.exec_dir, "exec-ok", {
            "summary": "all fine", "changed": True,
            "findings": [{"severity": "info", "subject": "disk", "message": "ok"}],
            "changes": [{"kind": "edit", "target": "/etc/foo", "description": "d", "diff": "-a\n+b\n"}]}, 0)
        write_exec_plugin(agent.exec_dir, "exec-problem", {
            "summary": "problem found", "findings": [{"severity": "error", "subject": "disk", "message": "full"}]}, 1)
        write_exec_plugin(agent.exec_dir, "exec-unknown", {"summary": "confused"}, 3)
        agent.start()
        names = [a["name"] for a in agent.ctl_json("list")["actions"]]
        for n in ("exec-ok", "exec-problem", "exec-unknown"):
            self.assertIn(n, names)
        ok = agent.ctl("-o", "json", "run", "exec-ok", "--set", "level=7")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        rec = json.loads(ok.stdout)
        self.assertIn(rec["status"], ("ok", "changed"))
        self.assertIn("all fine", rec["summary"])
        self.assertEqual(rec["findings"][0]["subject"], "disk")
        with open(os.path.join(agent.exec_dir, "last-request-exec-ok.json")) as f:
            req = json.load(f)
        self.assertEqual(req["action"], "exec-ok")
        self.assertEqual(req["params"]["level"], 7)
        self.assertEqual(req["node"], "itest-node")
        # A secret parameter reaches the executable, not the history.
        keyed = agent.ctl_json("run", "exec-ok", "--set", "api_key=k3y-value")
        self.assertEqual(keyed["params"]["api_key"], "<redacted>")
        with open(os.path.join(agent.exec_dir, "last-request-exec-ok.json")) as f:
            self.assertEqual(json.load(f)["params"]["api_key"], "k3y-value")
        self.assertNotIn("k3y-value", agent.ctl("-o", "json", "history").stdout)
        self.assertIn("secret", agent.ctl("describe", "exec-ok").stdout)
        problem = agent.ctl("-o", "json", "run", "exec-problem")
        self.assertEqual(problem.returncode, 1)
        rec = json.loads(problem.stdout)
        self.assertEqual(rec["status"], "failed")
        self.assertEqual(rec["findings"][0]["message"], "full")
        unknown = agent.ctl("-o", "json", "run", "exec-unknown")
        self.assertEqual(unknown.returncode, 1)
        rec = json.loads(unknown.stdout)
        self.assertEqual(rec["status"], "failed")
        self.assertIn("3", rec["summary"])
        # A dry run asks the executable for a plan.
        dry = agent.ctl_json("run", "exec-ok", "--dry-run")
        self.assertTrue(dry["dry_run"])
        with open(os.path.join(agent.exec_dir, "last-request-exec-ok.json")) as f:
            self.assertEqual(json.load(f)["mode"], "plan")

    def test_every_number_has_a_range_in_exec_plugins(self):
        """An exec plugin's numbers are checked against its [[param]] min/max, and a number without them is refused."""
        agent = self.make_agent(tasks="")
        write_exec_plugin(agent.exec_dir, "exec-ok", {"summary": "all fine"}, 0)
        with open(os.path.join(agent.exec_dir, "exec-norange.toml"), "w") as f:
            f.write('name = "exec-norange"\nexecutable = "exec-ok.sh"\n'
                    '[[param]]\nname = "count"\ntype = "int"\ndefault = 3\n')
        r = agent.ctl("config", "check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"exec-norange.toml not loaded: .*count.* needs min and max")
        self.assertIn("between 0 and 10", agent.ctl("--local", "describe", "exec-ok").stdout)
        self.assertEqual(agent.ctl("--local", "run", "exec-ok", "--set", "level=10").returncode, 0)
        r = agent.ctl("--local", "run", "exec-ok", "--set", "level=11")
        self.assertEqual(r.returncode, 2, (r.stdout, r.stderr))
        self.assertIn("exec-ok.level: must be between 0 and 10, got 11", r.stderr)

    def test_group_writable_plugins_are_refused_and_the_daemon_starts(self):
        plugins = tempfile.mkdtemp(prefix="nodeagent-itest-plugins-")
        self.addCleanup(shutil.rmtree, plugins, True)
        os.chmod(plugins, 0o755)
        shutil.copy(os.path.join(TEST_PLUGINS, "testing.so"), plugins)
        os.chmod(os.path.join(plugins, "testing.so"), 0o775)
        agent = self.make_agent(tasks="", unsafe=False, plugin_dir=plugins)
        write_exec_plugin(agent.exec_dir, "exec-good", {"summary": "fine"}, 0)
        write_exec_plugin(agent.exec_dir, "exec-writable", {"summary": "evil"}, 0, mode=0o777)
        agent.start()
        st = agent.status()
        problems = {os.path.basename(p["file"]): p["reason"] for p in st["plugin_problems"]}
        self.assertIn("testing.so", problems)
        self.assertIn("writable", problems["testing.so"])
        self.assertTrue(any("exec-writable" in f for f in problems), problems)
        names = [a["name"] for a in agent.ctl_json("list")["actions"]]
        self.assertIn("exec-good", names)
        self.assertNotIn("exec-writable", names)
        self.assertNotIn("test-touch", names)
        self.assertIn("writable", agent.ctl("status").stdout)
        # Fixed permissions are picked up by a reload.
        os.chmod(os.path.join(plugins, "testing.so"), 0o755)
        self.assertEqual(agent.ctl("reload").returncode, 0)
        self.assertIn("test-touch", [a["name"] for a in agent.ctl_json("list")["actions"]])

    def test_a_module_that_crashes_while_loading_is_skipped(self):
        plugins = tempfile.mkdtemp(prefix="nodeagent-itest-plugins-")
        self.addCleanup(shutil.rmtree, plugins, True)
        os.chmod(plugins, 0o755)
        shutil.copy(os.path.join(TEST_PLUGINS, "testing.so"), plugins)
        shutil.copy(os.path.join(BUILD, "test-plugins-crash", "crash_on_load.so"), plugins)
        agent = self.make_agent(tasks=TASKS, plugin_dir=plugins)
        agent.start()
        problems = {os.path.basename(p["file"]): p["reason"] for p in agent.status()["plugin_problems"]}
        self.assertIn("crashed while loading (SIGSEGV)", problems.get("crash_on_load.so", ""), problems)
        self.assertEqual(agent.ctl("run", "touch").returncode, 0)  # the good module works, through a worker
        # agentctl's local half and config check survive it the same way.
        r = agent.ctl("--local", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("test-touch", r.stdout)
        self.assertEqual(agent.ctl("config", "check").returncode, 0)
        self.assertEqual(agent.ctl("reload").returncode, 0)
        self.assertIsNone(agent.proc.poll(), "the daemon died")

    def test_the_daemon_maps_no_plugin_module(self):
        # The daemon reads the plugins' tables from a probe child and keeps
        # copies: no module (nor what it links, such as join_prep's OpenSSL)
        # is mapped in it, before or after a reload, and its actions still
        # run, in a worker that loads the module itself.
        plugins = tempfile.mkdtemp(prefix="nodeagent-itest-plugins-")
        self.addCleanup(shutil.rmtree, plugins, True)
        os.chmod(plugins, 0o755)
        shutil.copy(os.path.join(TEST_PLUGINS, "testing.so"), plugins)
        shipped = sorted(f for f in os.listdir(os.path.join(BUILD, "plugins")) if f.endswith(".so"))
        self.assertIn("join_prep.so", shipped, "build the shipped plugins first (ninja -C build)")
        for f in shipped:
            shutil.copy(os.path.join(BUILD, "plugins", f), plugins)
        agent = self.make_agent(tasks=TASKS, plugin_dir=plugins)
        agent.start()

        def mapped():
            with open(f"/proc/{agent.proc.pid}/maps") as f:
                return sorted({line.split()[5] for line in f if len(line.split()) > 5 and line.split()[5].startswith("/")})

        def assert_maps_no_module(when):
            files = mapped()
            self.assertTrue(any(os.path.basename(m).startswith("libc.so") for m in files), files)  # the reading works
            self.assertEqual([m for m in files if m.startswith(plugins) or "libssl" in m or "libcrypto" in m], [],
                             f"{when}: {files}")

        st = agent.status()
        self.assertEqual(st["plugin_problems"], [])
        self.assertEqual(sorted(st["plugins"]), sorted(["testing"] + [f[:-3] for f in shipped]))
        assert_maps_no_module("after start")
        # The tables the daemon holds are whole: describe shows a shipped
        # action's parameters, ranges and permissions.
        described = agent.ctl_json("describe", "join-prep")
        self.assertIn("ca_cert_hashes", json.dumps(described))
        self.assertIn("nodes", json.dumps(described))  # a permission row
        r = agent.ctl("run", "touch")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(agent.root, "etc/itest/touched")) as f:
            self.assertEqual(f.read(), "new")
        self.assertEqual(agent.ctl("reload").returncode, 0)
        assert_maps_no_module("after a reload")
        # agentctl's local half reads the same tables and loads the one
        # module a --local run needs.
        r = agent.ctl("--local", "run", "test-touch", "--set", "path=/etc/itest/local", "--set", "content=local")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(agent.root, "etc/itest/local")) as f:
            self.assertEqual(f.read(), "local")

    def test_demo_mode(self):
        proc = subprocess.Popen([NODEAGENT, "--demo"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        demo_dir = None
        lines = []
        try:
            def socket_line():
                line = proc.stderr.readline()
                lines.append(line)
                m = re.search(r"--socket (\S+)", line)
                return m or proc.poll() is not None or None
            m = wait_for(socket_line, 10, what="the demo's socket path")
            self.assertIsNone(proc.poll(), "".join(lines))
            sock = m.group(1).rstrip(")")
            demo_dir = os.path.dirname(sock)
            wait_for(lambda: os.path.exists(sock), 10, what="the demo socket")
            agentctl = os.path.join(os.path.dirname(NODEAGENT), "agentctl")
            r = wait_for(lambda: (lambda c: c if c.returncode == 0 else None)(
                subprocess.run([agentctl, "--socket", sock, "-o", "json", "status"], capture_output=True, text=True)),
                10, what="demo status")
            st = json.loads(r.stdout)
            self.assertTrue(st["demo"])
            self.assertGreater(len(st["tasks"]), 0)
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(10)
            self.assertEqual(code, 0)
            self.assertFalse(os.path.exists(sock))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
            if demo_dir and os.path.basename(demo_dir).startswith("nodeagent-demo-"):
                shutil.rmtree(demo_dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
