// agentctl: the thin command-line client. Daemon commands are served here;
// commands that need the config, plugins or libcurl (--local, config check,
// kube check, gen) are handed to `nodeagent-runner ctl` (see ctl/agentctl_cli.h).
#include "ctl/agentctl_cli.h"

int main(int argc, char** argv) { return nodeagent::AgentctlMain(argc, argv, nullptr); }
