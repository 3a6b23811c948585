#include "host/process_command_runner.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define BOOST_PROCESS_USE_STD_FS 1
#include <boost/optional.hpp>
#include <boost/type_traits.hpp>
// (Boost 1.81's Process v2 needs the two headers above first.)
#include <boost/asio.hpp>
#include <boost/process/v2.hpp>

#include "host/inherited_fds.h"
// Boost 1.81 forgets this file in header-only mode (process_environment::on_setup).
#include <boost/process/v2/impl/environment.ipp>
#include <array>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <string_view>
#include <vector>

extern char** environ;

namespace nodeagent {

namespace asio = boost::asio;
namespace bp = boost::process::v2;

std::string FindExecutable(const std::string& name) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : std::string();
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return {};
}

bool ProcessCommandRunner::Cancelled() const {
  return cancelled_ && std::atomic_ref<const bool>(*cancelled_).load();
}

namespace {

/// Keeps the head and the tail of a stream whose middle may be too long to
/// keep: the first `head` bytes, the last `tail` bytes, and a count of what
/// fell between them. Memory stays under head + 2 * tail + one read.
class HeadTailBuffer {
 public:
  HeadTailBuffer(size_t head, size_t tail) : head_limit_(head), tail_limit_(tail) {}

  void Append(std::string_view data) {
    if (head_.size() < head_limit_) {
      size_t take = std::min(data.size(), head_limit_ - head_.size());
      head_.append(data.substr(0, take));
      data.remove_prefix(take);
    }
    if (data.empty()) return;
    tail_.append(data);
    if (tail_.size() > 2 * tail_limit_) {  // trim in batches: amortized O(1) per byte
      size_t excess = tail_.size() - tail_limit_;
      tail_.erase(0, excess);
      dropped_ += excess;
    }
  }

  bool truncated() const { return dropped_ > 0 || tail_.size() > tail_limit_; }

  /// Head, a "[... N bytes truncated ...]" line when bytes were dropped, tail.
  std::string Take() {
    if (tail_.size() > tail_limit_) {
      size_t excess = tail_.size() - tail_limit_;
      tail_.erase(0, excess);
      dropped_ += excess;
    }
    std::string all = std::move(head_);
    if (dropped_ > 0) all += "\n[... " + std::to_string(dropped_) + " bytes truncated ...]\n";
    all += tail_;
    return all;
  }

 private:
  const size_t head_limit_, tail_limit_;
  std::string head_, tail_;
  uint64_t dropped_ = 0;
};

/// Reads one of a command's pipes to EOF (or until it is closed), keeping its
/// head and tail in `kept` and handing whole lines to `on_line` (when set) as
/// they complete; a last line without a newline goes at EOF. A line longer
/// than `max_line` is handed over cut, with a marker, and the rest of it is
/// skipped up to its newline.
class OutputReader {
 public:
  OutputReader(asio::readable_pipe& pipe, HeadTailBuffer& kept, size_t max_line, bool is_stderr,
               const std::function<void(std::string_view, bool)>& on_line, std::function<void()> done)
      : pipe_(pipe), kept_(kept), max_line_(max_line), is_stderr_(is_stderr), on_line_(on_line),
        done_(std::move(done)) {}

  void Start() {
    pipe_.async_read_some(asio::buffer(buf_), [this](boost::system::error_code ec, size_t n) {
      std::string_view chunk(buf_.data(), n);
      kept_.Append(chunk);
      if (on_line_) Deliver(chunk, static_cast<bool>(ec));
      if (ec) done_();
      else Start();
    });
  }

 private:
  void Deliver(std::string_view chunk, bool eof) {
    while (!chunk.empty()) {
      size_t nl = chunk.find('\n');
      std::string_view piece = chunk.substr(0, nl);
      chunk.remove_prefix(nl == std::string_view::npos ? chunk.size() : nl + 1);
      if (!skipping_) {
        const size_t room = max_line_ - line_.size();
        line_.append(piece.substr(0, room));
        if (piece.size() > room) {
          // Too long: hand over what we have once, skip the rest of the line.
          skipping_ = true;
          on_line_(line_ + " [... line cut at " + std::to_string(max_line_) + " bytes ...]", is_stderr_);
          line_.clear();
        }
      }
      if (nl == std::string_view::npos) break;
      if (!skipping_) on_line_(line_, is_stderr_);
      line_.clear();
      skipping_ = false;
    }
    if (eof && !line_.empty() && !skipping_) on_line_(line_, is_stderr_);
    if (eof) line_.clear();
  }

  asio::readable_pipe& pipe_;
  HeadTailBuffer& kept_;
  const size_t max_line_;
  const bool is_stderr_;
  const std::function<void(std::string_view, bool)>& on_line_;
  std::function<void()> done_;
  std::string line_;       // the line being read, at most max_line_ bytes
  bool skipping_ = false;  // the rest of a line that was cut
  std::vector<char> buf_ = std::vector<char>(64 * 1024);  // a pipe's default capacity
};

}  // namespace

Result<CommandResult> ProcessCommandRunner::Run(const CommandSpec& spec) {
  if (spec.argv.empty()) return InvalidArgument("empty command");
  if (Cancelled()) return Error(ErrorCode::kCancelled, "not starting " + spec.argv[0] + ": the run was cancelled");
  std::string exe = FindExecutable(spec.argv[0]);
  if (exe.empty()) return NotFound("command not found or not executable: " + spec.argv[0]);

  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : spec.env) env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);

  asio::io_context ctx;
  asio::readable_pipe out_pipe(ctx), err_pipe(ctx);
  asio::writable_pipe in_pipe(ctx);
  std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());
  auto started = std::chrono::steady_clock::now();

  boost::system::error_code launch_ec;
  std::unique_ptr<bp::process> proc;
  try {
    proc = std::make_unique<bp::process>(ctx, exe, args, bp::process_stdio{in_pipe, out_pipe, err_pipe},
                                         bp::process_environment(env_strings),
                                         ChildProcessSetup{cancelled_ ? SIGKILL : 0});
  } catch (const boost::system::system_error& e) {
    return Error(ErrorCode::kIo, "starting " + spec.argv[0] + ": " + e.code().message());
  }
  const pid_t pid = proc->id();

  CommandResult result;
  HeadTailBuffer out(limits_.head_bytes, limits_.tail_bytes), err(limits_.head_bytes, limits_.tail_bytes);
  // After the command exits, its output is read to EOF; a background child
  // still holding the pipes open gets `drain_timer` before we stop reading.
  asio::steady_timer drain_timer(ctx);
  int reads_open = 2;
  bool exited = false;
  auto read_done = [&] {
    if (--reads_open == 0 && exited) drain_timer.cancel();
  };
  OutputReader out_reader(out_pipe, out, limits_.max_line_bytes, false, spec.on_line, read_done);
  OutputReader err_reader(err_pipe, err, limits_.max_line_bytes, true, spec.on_line, read_done);
  out_reader.Start();
  err_reader.Start();
  if (!spec.stdin_data.empty()) {
    asio::async_write(in_pipe, asio::buffer(spec.stdin_data), [&](auto, auto) { in_pipe.close(); });
  } else {
    in_pipe.close();
  }

  asio::steady_timer timeout_timer(ctx);
  asio::steady_timer kill_timer(ctx);
  asio::steady_timer cancel_timer(ctx);
  bool stopping = false;
  // SIGTERM to the command's group, SIGKILL after the grace period.
  auto stop_group = [&] {
    if (stopping || exited) return;
    stopping = true;
    ::kill(-pid, SIGTERM);
    kill_timer.expires_after(kill_grace_);
    kill_timer.async_wait([&](boost::system::error_code ec2) {
      if (!ec2 && !exited) ::kill(-pid, SIGKILL);
    });
  };
  if (spec.timeout.count() > 0) {
    timeout_timer.expires_after(spec.timeout);
    timeout_timer.async_wait([&](boost::system::error_code ec) {
      if (ec || exited) return;
      result.timed_out = true;
      stop_group();
    });
  }
  // The run's cancel flag is set from a signal handler: look at it every
  // 100 ms while the command runs.
  std::function<void()> watch_cancel = [&] {
    cancel_timer.expires_after(std::chrono::milliseconds(100));
    cancel_timer.async_wait([&](boost::system::error_code ec) {
      if (ec || exited) return;
      if (Cancelled()) {
        result.cancelled = true;
        stop_group();
        return;
      }
      watch_cancel();
    });
  };
  if (cancelled_) watch_cancel();
  int native_status = 0;
  proc->async_wait([&](boost::system::error_code ec, int) {
    exited = true;
    native_status = proc->native_exit_code();
    timeout_timer.cancel();
    kill_timer.cancel();
    cancel_timer.cancel();
    // Children of the command that kept the pipes open must not hold us.
    if (result.timed_out || result.cancelled) ::kill(-pid, SIGKILL);
    if (reads_open > 0) {
      drain_timer.expires_after(std::chrono::seconds(2));
      drain_timer.async_wait([&](boost::system::error_code ec2) {
        if (ec2) return;
        boost::system::error_code ignored;
        out_pipe.close(ignored);
        err_pipe.close(ignored);
      });
    }
  });
  ctx.run();

  if (WIFEXITED(native_status)) {
    result.exit_code = WEXITSTATUS(native_status);
  } else if (WIFSIGNALED(native_status)) {
    result.exit_code = -1;
    result.term_signal = WTERMSIG(native_status);
  }
  result.output_truncated = out.truncated() || err.truncated();
  result.stdout_data = out.Take();
  result.stderr_data = err.Take();
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  return result;
}

}  // namespace nodeagent
