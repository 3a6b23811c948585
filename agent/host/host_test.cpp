#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <thread>
#include <fstream>
#include <atomic>

#include "host/fake_host.h"
#include "host/local_file_system.h"
#include "host/local_host.h"
#include "host/process_command_runner.h"

using namespace nodeagent;
using namespace std::chrono_literals;

TEST_CASE("LocalFileSystem resolves under the root and writes atomically with a backup") {
  TempRoot root;
  LocalFileSystem fs(root.path());
  CHECK(fs.Resolve("/etc/fstab") == root.path() + "/etc/fstab");
  root.Write("/etc/fstab", "old\n");
  REQUIRE(fs.WriteFileAtomic("/etc/fstab", "new\n", 0644, std::string(".bak")).ok());
  CHECK(root.Read("/etc/fstab") == "new\n");
  CHECK(root.Read("/etc/fstab.bak") == "old\n");
  auto names = fs.ListDir("/etc");
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"fstab", "fstab.bak"});  // no temp files left
  struct stat st;
  REQUIRE(::stat(root.Real("/etc/fstab").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
}

TEST_CASE("LocalFileSystem replacing a file keeps its mode and owner, and so does the backup") {
  TempRoot root;
  LocalFileSystem fs(root.path());
  root.Write("/etc/NetworkManager/system-connections/eth0.nmconnection", "[connection]\npsk=old\n");
  const std::string real = root.Real("/etc/NetworkManager/system-connections/eth0.nmconnection");
  REQUIRE(::chmod(real.c_str(), 0600) == 0);
  const bool root_user = ::geteuid() == 0;
  if (root_user) REQUIRE(::chown(real.c_str(), 65534, 65534) == 0);

  REQUIRE(fs.WriteFileAtomic("/etc/NetworkManager/system-connections/eth0.nmconnection", "[connection]\npsk=new\n",
                             0644, std::string(".bak"))
              .ok());
  for (const std::string& path : {real, real + ".bak"}) {
    INFO(path);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    if (root_user) {
      CHECK(st.st_uid == 65534u);
      CHECK(st.st_gid == 65534u);
    }
  }
  CHECK(root.Read("/etc/NetworkManager/system-connections/eth0.nmconnection") == "[connection]\npsk=new\n");

  // A new file gets the mode asked for.
  REQUIRE(fs.WriteFileAtomic("/etc/modules-load.d/k8s.conf", "overlay\n", 0640, std::nullopt).ok());
  struct stat st {};
  REQUIRE(::stat(root.Real("/etc/modules-load.d/k8s.conf").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
}

TEST_CASE("LocalFileSystem follows symlinks inside the root and replaces the target, keeping the link") {
  TempRoot root;
  LocalFileSystem fs(root.path());
  // /etc/fstab -> /etc/fstab.d/main (absolute: must mean the root's, not this machine's /etc)
  root.Write("/etc/fstab.d/main", "UUID=1 / ext4 defaults 0 1\n");
  REQUIRE(::symlink("/etc/fstab.d/main", root.Real("/etc/fstab").c_str()) == 0);
  auto read = fs.ReadFile("/etc/fstab");
  REQUIRE(read.ok());
  CHECK(*read == "UUID=1 / ext4 defaults 0 1\n");
  REQUIRE(fs.WriteFileAtomic("/etc/fstab", "UUID=1 / ext4 defaults 0 1\n# swap off\n", 0644, std::string(".bak")).ok());
  struct stat st {};
  REQUIRE(::lstat(root.Real("/etc/fstab").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));  // still a link
  CHECK(root.Read("/etc/fstab.d/main") == "UUID=1 / ext4 defaults 0 1\n# swap off\n");
  CHECK(root.Read("/etc/fstab.d/main.bak") == "UUID=1 / ext4 defaults 0 1\n");
  CHECK_FALSE(fs.Exists("/etc/fstab.bak"));

  // Relative targets, a chain of links and ".." that tries to climb out of the root.
  root.Write("/usr/share/nm/base.conf", "[main]\n");
  REQUIRE(::symlink("../usr/share/nm/base.conf", root.Real("/etc/nm.conf").c_str()) == 0);
  REQUIRE(::symlink("nm.conf", root.Real("/etc/nm-link").c_str()) == 0);
  REQUIRE(::symlink("../../../../../../../../../usr/share/nm/base.conf", root.Real("/etc/deep").c_str()) == 0);
  auto chained = fs.ResolveFollowingLinks("/etc/nm-link");
  REQUIRE(chained.ok());
  CHECK(*chained == root.Real("/usr/share/nm/base.conf"));
  auto deep = fs.ResolveFollowingLinks("/etc/deep");
  REQUIRE(deep.ok());
  CHECK(*deep == root.Real("/usr/share/nm/base.conf"));

  // A dangling link: the write creates its target.
  REQUIRE(::symlink("/etc/sysctl.d/k8s.conf", root.Real("/etc/k8s-sysctl").c_str()) == 0);
  REQUIRE(fs.WriteFileAtomic("/etc/k8s-sysctl", "net.ipv4.ip_forward = 1\n", 0644, std::nullopt).ok());
  CHECK(root.Read("/etc/sysctl.d/k8s.conf") == "net.ipv4.ip_forward = 1\n");

  // Root follows no link someone else owns.
  if (::geteuid() == 0) {
    REQUIRE(::symlink("/etc/shadow", root.Real("/etc/users-link").c_str()) == 0);
    REQUIRE(::lchown(root.Real("/etc/users-link").c_str(), 65534, 65534) == 0);
    auto refused = fs.WriteFileAtomic("/etc/users-link", "x\n", 0644, std::nullopt);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == ErrorCode::kPermissionDenied);
    CHECK(refused.error().message().find("owned by uid 65534") != std::string::npos);
    CHECK_FALSE(fs.Exists("/etc/shadow"));
  }

  // A loop is an error, not a hang.
  REQUIRE(::symlink("loop-b", root.Real("/etc/loop-a").c_str()) == 0);
  REQUIRE(::symlink("loop-a", root.Real("/etc/loop-b").c_str()) == 0);
  auto loop = fs.WriteFileAtomic("/etc/loop-a", "x\n", 0644, std::nullopt);
  REQUIRE_FALSE(loop.ok());
  CHECK(loop.error().message().find("too many levels of symbolic links") != std::string::npos);
}

TEST_CASE("LocalFileSystem reports missing files as NotFound with the path") {
  TempRoot root;
  LocalFileSystem fs(root.path());
  auto r = fs.ReadFile("/nope");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::kNotFound);
  CHECK(r.error().message().find(root.path() + "/nope") != std::string::npos);
  CHECK(fs.Remove("/nope").ok());
}

TEST_CASE("LocalHost reads boot id and hostname under the root") {
  TempRoot root;
  root.Write("/proc/sys/kernel/random/boot_id", "1234-abcd\n");
  root.Write("/proc/sys/kernel/hostname", "Node-1\n");
  LocalFileSystem fs(root.path());
  FakeCommandRunner cmds;
  FakeClock clock;
  LocalHost host(fs, cmds, clock);
  CHECK(*host.BootId() == "1234-abcd");
  CHECK(*host.Hostname() == "Node-1");
}

TEST_CASE("ProcessCommandRunner stops a command and what it started once the run is cancelled") {
  TempRoot root;
  const std::string pids = root.Real("/pids");
  bool cancelled = false;
  ProcessCommandRunner runner(std::chrono::milliseconds(500), &cancelled);
  std::thread canceller([&] {
    for (int i = 0; i < 100 && !std::ifstream(pids).good(); ++i) std::this_thread::sleep_for(50ms);
    std::this_thread::sleep_for(100ms);
    std::atomic_ref<bool>(cancelled).store(true);
  });
  auto started = std::chrono::steady_clock::now();
  auto r = runner.Run({{"sh", "-c", "sleep 60 & echo $! > " + pids + "; wait"}, 0s, "", {}});
  canceller.join();
  REQUIRE(r.ok());
  CHECK(r->cancelled);
  CHECK_FALSE(r->succeeded());
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  pid_t grandchild = 0;
  std::ifstream(pids) >> grandchild;
  REQUIRE(grandchild > 0);
  auto dead = [](pid_t pid) {  // gone, or a zombie waiting for init to reap it
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
  };
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    gone = dead(grandchild);
    if (!gone) std::this_thread::sleep_for(50ms);
  }
  CHECK(gone);
  // Once cancelled, nothing new starts.
  auto refused = runner.Run({{"true"}, 10s, "", {}});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == ErrorCode::kCancelled);
}

TEST_CASE("ProcessCommandRunner hands over output lines while the command runs") {
  TempRoot root;
  const std::string fifo = root.Real("/go");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::vector<std::pair<std::string, bool>> lines;
  CommandSpec spec{{"sh", "-c", "echo one; echo warn >&2; read x < " + fifo + "; printf 'two\\nthree'"}, 10s, "", {}};
  spec.on_line = [&](std::string_view line, bool is_stderr) {
    lines.emplace_back(std::string(line), is_stderr);
    if (line == "one") {  // the command waits for this: only a streamed line gets it going
      int fd = ::open(fifo.c_str(), O_WRONLY);
      REQUIRE(fd >= 0);
      REQUIRE(::write(fd, "go\n", 3) == 3);
      ::close(fd);
    }
  };
  auto r = ProcessCommandRunner().Run(spec);
  REQUIRE(r.ok());
  CHECK(r->exit_code == 0);
  CHECK(r->stdout_data == "one\ntwo\nthree");  // still collected
  CHECK(r->stderr_data == "warn\n");
  std::vector<std::string> out;
  for (const auto& [l, err] : lines)
    if (!err) out.push_back(l);
  CHECK(out == std::vector<std::string>{"one", "two", "three"});  // the last one without a newline, at EOF
  CHECK(std::count(lines.begin(), lines.end(), std::pair<std::string, bool>{"warn", true}) == 1);
}

TEST_CASE("FakeCommandRunner streams its scripted output line by line too") {
  FakeCommandRunner fake;
  CommandResult answer;
  answer.exit_code = 0;
  answer.stdout_data = "[preflight] Running pre-flight checks\n[kubelet-start] Starting the kubelet\n";
  fake.Answer({"kubeadm"}, answer);
  std::vector<std::string> lines;
  CommandSpec spec{{"kubeadm", "join"}, 10s, "", {}};
  spec.on_line = [&](std::string_view line, bool) { lines.emplace_back(line); };
  REQUIRE(fake.Run(spec).ok());
  CHECK(lines == std::vector<std::string>{"[preflight] Running pre-flight checks", "[kubelet-start] Starting the kubelet"});
}

TEST_CASE("ProcessCommandRunner captures exit code, stdout, stderr and stdin") {
  ProcessCommandRunner runner;
  auto r = runner.Run({{"sh", "-c", "cat; echo err >&2; exit 3"}, 10s, "hello", {}});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 3);
  CHECK(r->stdout_data == "hello");
  CHECK(r->stderr_data == "err\n");
  CHECK_FALSE(r->timed_out);
}

TEST_CASE("ProcessCommandRunner passes env and reports unknown commands") {
  ProcessCommandRunner runner;
  auto r = runner.Run({{"sh", "-c", "printf %s \"$NODEAGENT_X\""}, 10s, "", {{"NODEAGENT_X", "42"}}});
  REQUIRE(r.ok());
  CHECK(r->stdout_data == "42");
  auto missing = runner.Run({{"no-such-command-nodeagent"}, 1s, "", {}});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == ErrorCode::kNotFound);
}

TEST_CASE("ProcessCommandRunner kills the whole process group on timeout") {
  ProcessCommandRunner runner(200ms);
  TempRoot root;
  std::string marker = root.Real("/child-alive");
  // The child ignores SIGTERM and starts a grandchild; both must die.
  auto r = runner.Run({{"sh", "-c", "trap '' TERM; (sleep 3; touch " + marker + ") & sleep 30"}, 300ms, "", {}});
  REQUIRE(r.ok());
  CHECK(r->timed_out);
  CHECK(r->term_signal == SIGKILL);
  CHECK(r->duration < 5s);
  ::sleep(4);
  struct stat st;
  CHECK(::stat(marker.c_str(), &st) != 0);  // grandchild was killed too
}

TEST_CASE("FakeCommandRunner records calls and answers by prefix") {
  FakeCommandRunner fake;
  CommandResult ok;
  ok.exit_code = 0;
  ok.stdout_data = "active";
  fake.Answer({"systemctl", "is-active"}, ok);
  auto r = fake.Run({{"systemctl", "is-active", "kubelet"}});
  REQUIRE(r.ok());
  CHECK(r->stdout_data == "active");
  CHECK_FALSE(fake.Run({{"reboot"}}).ok());
  CHECK(fake.call_lines() == std::vector<std::string>{"systemctl is-active kubelet", "reboot"});
}

TEST_CASE("FakeClock advances on sleep") {
  FakeClock clock;
  auto t0 = clock.Now();
  CHECK(clock.SleepFor(5s, nullptr));
  CHECK(clock.Now() - t0 == 5s);
  bool cancelled = true;
  CHECK_FALSE(clock.SleepFor(5s, &cancelled));
}
