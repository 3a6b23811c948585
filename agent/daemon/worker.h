// The worker: the child process one run executes in, so a plugin that
// crashes, hangs or leaks cannot take the daemon with it. The daemon starts
// `nodeagent-runner worker` with one request (worker_protocol.h) on stdin;
// the worker loads only the module that provides the action, runs it
// through the same RunExecutor as `agentctl --local`, and streams log,
// progress and result events back as JSON lines. The daemon kills its
// process group on timeout.
#pragma once

namespace nodeagent {

/// Reads one run request on stdin, runs it, streams JSON lines on stdout.
/// Returns the process exit code.
int RunWorkerMain();

}  // namespace nodeagent
