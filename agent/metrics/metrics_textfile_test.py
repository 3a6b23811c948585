#!/usr/bin/env python3
"""The metrics textfile as node-exporter's textfile collector would read it:
the real daemon on a temp root with [metrics] textfile set writes it at start
and after every run (atomically: no temp file left beside it), and Prometheus'
own exposition-format parser (Debian's python3-prometheus-client) reads it:
every family has a type and help, counters end in _total, no label carries a
run id or a path, and the numbers follow the runs. The daemon's RSS with
metrics on is printed (the 8 MiB idle target is measured in bench/)."""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("NODEAGENT_BUILD")
if BUILD:
    os.environ.setdefault("NODEAGENT_BUILD_DIR", BUILD)
sys.path.insert(0, os.path.join(HERE, "../../tests/integration"))
from harness import Agent, wait_for  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit("FAIL: python3-prometheus-client is missing (scripts/deps.sh --test installs it)")

TASKS = """
[metrics]
textfile = "/var/lib/prom/collector/nodeagent.prom"

[tasks.touch]
action = "test-touch"
path = "/etc/itest/touched"
content = "new"

[tasks.failing]
action = "test-fail"
"""


def families(path):
    with open(path) as f:
        text = f.read()
    return {fam.name: fam for fam in text_string_to_metric_families(text)}, text


def value(fams, name, **labels):
    for fam in fams.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    agent = Agent(tasks=TASKS)
    prom = os.path.join(agent.root, "var/lib/prom/collector/nodeagent.prom")
    try:
        agent.start()
        wait_for(lambda: os.path.exists(prom), 10, what="the textfile at start")
        fams, text = families(prom)
        assert value(fams, "nodeagent_build_info") == 1, text
        assert value(fams, "nodeagent_runs_in_progress") == 0, text
        for name, fam in fams.items():
            assert fam.documentation, "no HELP for %s" % name
            assert fam.type in ("gauge", "counter"), (name, fam.type)
            if fam.type == "counter":
                assert any(s.name == name + "_total" for s in fam.samples) or not fam.samples, name
        assert agent.ctl("run", "touch").returncode == 0
        assert agent.ctl("run", "failing").returncode == 1
        wait_for(lambda: value(families(prom)[0], "nodeagent_runs_total", action="test-fail", status="failed") == 1,
                 10, what="the failed run counted")
        fams, text = families(prom)
        assert value(fams, "nodeagent_runs_total", action="test-touch", status="changed") == 1, text
        assert value(fams, "nodeagent_task_last_run_status", task="touch", status="changed") == 1, text
        assert value(fams, "nodeagent_task_last_run_status", task="failing", status="failed") == 1, text
        assert value(fams, "nodeagent_task_last_run_timestamp_seconds", task="touch") > time.time() - 60, text
        for fam in fams.values():
            for s in fam.samples:
                for k, v in s.labels.items():
                    assert "/" not in v and not v.startswith("20"), "unbounded label %s=%s" % (k, v)
        leftovers = [n for n in os.listdir(os.path.dirname(prom)) if n != "nodeagent.prom"]
        assert not leftovers, "temp files beside the textfile: %s" % leftovers
        print("daemon RSS with metrics on, idle after 2 runs: %d KiB" % rss_kib(agent.proc.pid))
        print("PASS: %d families parsed by prometheus_client" % len(fams))
    finally:
        agent.stop()


if __name__ == "__main__":
    main()
