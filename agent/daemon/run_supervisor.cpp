#include "daemon/run_supervisor.h"

#include <signal.h>

#include <boost/optional.hpp>
#include <boost/type_traits.hpp>
// (Boost 1.81's Process v2 needs the two headers above first.)
#include <boost/asio.hpp>
#include <boost/process/v2.hpp>

#include "host/inherited_fds.h"
#include "spdlog/spdlog.h"

namespace nodeagent {

namespace asio = boost::asio;
namespace bp = boost::process::v2;

namespace {
/// A line a worker writes on its event stream (stdout) longer than this is
/// dropped with a warning; the run's history has it anyway.
constexpr size_t kMaxWorkerEventBytes = 1024 * 1024;
/// A line on a worker's stderr (a plugin printing to stdout or stderr) is
/// logged cut at this length.
constexpr size_t kMaxWorkerStderrLineBytes = 64 * 1024;
}  // namespace

struct RunSupervisor::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_context, RunSupervisorOptions o, RunSupervisorCallbacks c)
      : io(io_context), options(std::move(o)), callbacks(std::move(c)), timeout_timer(io), kill_timer(io) {}

  asio::io_context& io;
  RunSupervisorOptions options;
  RunSupervisorCallbacks callbacks;
  RunStateMachine machine;
  std::unique_ptr<bp::process> proc;
  std::unique_ptr<asio::readable_pipe> out;
  std::unique_ptr<asio::readable_pipe> err;
  std::unique_ptr<asio::writable_pipe> in;
  std::string request;
  std::string out_buf, err_buf;
  bool out_skipping = false, err_skipping = false;  // the rest of a line over the cap
  asio::steady_timer timeout_timer, kill_timer;
  pid_t pid = 0;
  int native_status = 0;

  /// The one place events enter: advances the machine and carries out its effect.
  void On(RunEvent event);
  void ReadOut();
  void ReadErr();
};

void RunSupervisor::Impl::On(RunEvent event) {
  auto effect = machine.Advance(event);
  if (!effect) {
    spdlog::debug("run {}: {} ignored while {}", options.run_id, RunEventName(event), RunStateName(machine.state()));
    return;
  }
  switch (*effect) {
    case RunEffect::kNone: return;
    case RunEffect::kTerminateWorker: {
      ::kill(-pid, SIGTERM);
      kill_timer.expires_after(options.kill_grace);
      auto self = shared_from_this();
      kill_timer.async_wait([self](boost::system::error_code ec) {
        if (!ec) self->On(RunEvent::kStopGraceOver);
      });
      return;
    }
    case RunEffect::kKillWorker:
      spdlog::warn("run {}: worker did not stop within the grace period; SIGKILL", options.run_id);
      ::kill(-pid, SIGKILL);
      return;
    case RunEffect::kEndRun: {
      timeout_timer.cancel();
      kill_timer.cancel();
      auto self = shared_from_this();  // the callback may drop the RunSupervisor
      if (callbacks.on_ended) callbacks.on_ended({native_status, machine.stop_reason()});
      return;
    }
  }
}

void RunSupervisor::Impl::ReadOut() {
  auto self = shared_from_this();
  asio::async_read_until(*out, asio::dynamic_buffer(out_buf, kMaxWorkerEventBytes), '\n',
                         [self](boost::system::error_code ec, size_t n) {
                           if (ec == asio::error::not_found) {  // a line over the cap: drop all of it
                             if (!self->out_skipping)
                               spdlog::warn("run {}: dropped a worker event longer than {} bytes",
                                            self->options.run_id, kMaxWorkerEventBytes);
                             self->out_skipping = true;
                             self->out_buf.clear();
                             self->ReadOut();
                             return;
                           }
                           if (ec) {
                             self->On(RunEvent::kStdoutClosed);
                             return;
                           }
                           std::string line = self->out_buf.substr(0, n - 1);
                           self->out_buf.erase(0, n);
                           if (self->out_skipping) self->out_skipping = false;  // the end of the dropped line
                           else if (self->callbacks.on_event_line) self->callbacks.on_event_line(line);
                           self->ReadOut();
                         });
}

void RunSupervisor::Impl::ReadErr() {
  auto self = shared_from_this();
  asio::async_read_until(*err, asio::dynamic_buffer(err_buf, kMaxWorkerStderrLineBytes), '\n',
                         [self](boost::system::error_code ec, size_t n) {
                           const std::string& id = self->options.run_id;
                           const SecretScrubber& scrubber = self->options.scrubber;
                           if (ec == asio::error::not_found) {  // a line over the cap: log its start once
                             if (!self->err_skipping)
                               spdlog::warn("run {} worker: {} [... line cut at {} bytes ...]", id,
                                            scrubber.Scrub(self->err_buf), kMaxWorkerStderrLineBytes);
                             self->err_skipping = true;
                             self->err_buf.clear();
                             self->ReadErr();
                             return;
                           }
                           if (ec) {
                             if (!self->err_buf.empty() && !self->err_skipping)
                               spdlog::warn("run {} worker: {}", id, scrubber.Scrub(self->err_buf));
                             self->On(RunEvent::kStderrClosed);
                             return;
                           }
                           std::string line = self->err_buf.substr(0, n - 1);
                           self->err_buf.erase(0, n);
                           if (self->err_skipping) self->err_skipping = false;  // the end of the cut line
                           else if (!line.empty())
                             spdlog::warn("run {} worker: {}", id, scrubber.Scrub(line));
                           self->ReadErr();
                         });
}

RunSupervisor::RunSupervisor(asio::io_context& io, RunSupervisorOptions options, RunSupervisorCallbacks callbacks)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(callbacks))) {}

RunSupervisor::~RunSupervisor() = default;

Status RunSupervisor::Spawn() {
  Impl& s = *impl_;
  s.out = std::make_unique<asio::readable_pipe>(s.io);
  s.err = std::make_unique<asio::readable_pipe>(s.io);
  s.in = std::make_unique<asio::writable_pipe>(s.io);
  try {
    // SIGTERM if the daemon dies: no orphan works on unseen.
    s.proc = std::make_unique<bp::process>(s.io, s.options.worker_exe, std::vector<std::string>{"worker"},
                                           bp::process_stdio{*s.in, *s.out, *s.err}, ChildProcessSetup{SIGTERM});
  } catch (const boost::system::system_error& e) {
    return Error(ErrorCode::kIo, "cannot start worker " + s.options.worker_exe + ": " + e.code().message());
  }
  s.pid = s.proc->id();
  s.machine.Advance(RunEvent::kWorkerStarted);
  return Status::Ok();
}

void RunSupervisor::Supervise(std::string request) {
  auto s = impl_;
  s->request = std::move(request);
  asio::async_write(*s->in, asio::buffer(s->request), [s](boost::system::error_code, size_t) {
    boost::system::error_code ignored;
    s->in->close(ignored);
  });
  s->ReadOut();
  s->ReadErr();
  s->proc->async_wait([s](boost::system::error_code, int) {
    s->native_status = s->proc->native_exit_code();
    s->On(RunEvent::kWorkerExited);
  });
  s->timeout_timer.expires_after(s->options.timeout);
  s->timeout_timer.async_wait([s](boost::system::error_code ec) {
    if (ec || s->machine.worker_exited()) return;
    spdlog::warn("run {} timed out after {}; stopping it", s->options.run_id, FormatDuration(s->options.timeout));
    s->On(RunEvent::kTimedOut);
  });
}

void RunSupervisor::Cancel() { impl_->On(RunEvent::kCancelRequested); }
void RunSupervisor::Terminate() { ::kill(-impl_->pid, SIGTERM); }
void RunSupervisor::Kill() { ::kill(-impl_->pid, SIGKILL); }
pid_t RunSupervisor::pid() const { return impl_->pid; }
RunState RunSupervisor::state() const { return impl_->machine.state(); }

}  // namespace nodeagent
