// Issue 10, defect 3 (host paths can leave the root) and the whole-file read
// cap of defect 7. Each test lays out a temp dir holding the agent's root and
// a sibling "outside" folder, aims every LocalFileSystem call at the outside
// one ("..", absolute and relative links, a link swapped in by another
// thread) and checks that the outside folder never changed.
#include <fcntl.h>
#include <sched.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "host/fake_host.h"
#include "host/local_file_system.h"

using namespace nodeagent;

namespace {

/// A temp dir with the agent's root and a folder beside it that no call may
/// touch. On tmpfs when there is one: the swap test's 10 000 atomic writes
/// would otherwise wait for 40 000 fsyncs of a disk.
struct RootAndOutside {
  std::string base = MakeBase();
  std::string root = base + "/root";
  std::string outside = base + "/outside";

  static std::string MakeBase() {
    std::string dir = std::filesystem::is_directory("/dev/shm") ? std::string("/dev/shm")
                                                               : std::filesystem::temp_directory_path().string();
    std::string tmpl = dir + "/nodeagent-fs-test-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp in " + dir + " failed");
    return tmpl;
  }
  ~RootAndOutside() {
    std::error_code ec;
    std::filesystem::remove_all(base, ec);
  }
  RootAndOutside() {
    std::filesystem::create_directories(root + "/etc");
    std::filesystem::create_directories(root + "/var");
    std::filesystem::create_directories(outside + "/sub");
    std::ofstream(outside + "/secret") << "outside secret\n";
    std::ofstream(outside + "/sub/keep") << "keep\n";
  }

  /// Every name under the outside folder with its type and content, one a line.
  std::string OutsideSnapshot() const {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(outside)) {
      std::string rel = e.path().string().substr(outside.size());
      if (e.is_symlink()) {
        out[rel] = "link";
      } else if (e.is_directory()) {
        out[rel] = "dir";
      } else {
        std::ifstream in(e.path(), std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        out[rel] = "file:" + ss.str();
      }
    }
    std::string text;
    for (const auto& [name, what] : out) text += name + " " + what + "\n";
    return text;
  }
};

std::string TempRootFile(const std::string& real) {
  std::ifstream in(real, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool IsLink(const std::string& real) {
  struct stat st {};
  return ::lstat(real.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

}  // namespace

TEST_CASE("dot_dot_chains_never_leave_the_root_on_any_operation") {
  RootAndOutside t;
  LocalFileSystem fs(t.root);
  const auto before = t.OutsideSnapshot();

  for (const std::string escape : {"/../outside", "/etc/../../outside", "../../../outside", "/var/./../../outside",
                                   "/etc/nothing/../../../../outside"}) {
    INFO(escape);
    CHECK(fs.Resolve(escape + "/secret") == t.root + "/outside/secret");
    CHECK_FALSE(fs.Exists(escape + "/secret"));
    CHECK_FALSE(fs.ListDir(escape).ok());
    auto read = fs.ReadFile(escape + "/secret");
    CHECK_FALSE(read.ok());
    CHECK(fs.Remove(escape + "/secret").ok());  // nothing there inside the root: not an error
    CHECK(fs.Remove(escape + "/sub/keep").ok());
  }
  // Calls that create things create them inside the root.
  REQUIRE(fs.MakeDirs("/../outside/made", 0755).ok());
  CHECK(std::filesystem::is_directory(t.root + "/outside/made"));
  REQUIRE(fs.WriteFileAtomic("/etc/../../outside/secret", "written\n", 0644, std::string(".bak")).ok());
  CHECK(TempRootFile(t.root + "/outside/secret") == "written\n");
  REQUIRE(fs.WriteFileAtomic("/../../outside/secret", "again\n", 0644, std::string(".bak")).ok());
  CHECK(TempRootFile(t.root + "/outside/secret.bak") == "written\n");
  // Now that the root has its own /outside, ".." chains find that one.
  auto listed = fs.ListDir("/../../outside");
  REQUIRE(listed.ok());
  CHECK(*listed == std::vector<std::string>{"made", "secret", "secret.bak"});
  CHECK(fs.Remove("/../outside/secret.bak").ok());
  CHECK_FALSE(std::filesystem::exists(t.root + "/outside/secret.bak"));

  CHECK(t.OutsideSnapshot() == before);
}

TEST_CASE("absolute_and_relative_symlinks_resolve_inside_the_root_on_every_operation") {
  RootAndOutside t;
  LocalFileSystem fs(t.root);
  const auto before = t.OutsideSnapshot();
  // On the test machine these point at the outside folder; under the root
  // they must mean the root's own paths.
  REQUIRE(::symlink(t.outside.c_str(), (t.root + "/etc/abs").c_str()) == 0);
  REQUIRE(::symlink("../../outside", (t.root + "/etc/rel").c_str()) == 0);
  REQUIRE(::symlink((t.outside + "/secret").c_str(), (t.root + "/etc/abs-file").c_str()) == 0);

  for (const std::string link : {"/etc/abs", "/etc/rel"}) {
    INFO(link);
    CHECK_FALSE(fs.Exists(link + "/secret"));
    CHECK_FALSE(fs.ListDir(link).ok());
    CHECK_FALSE(fs.ReadFile(link + "/secret").ok());
    CHECK(fs.Remove(link + "/secret").ok());
    CHECK(fs.Remove(link + "/sub/keep").ok());
    REQUIRE(fs.MakeDirs(link + "/made", 0755).ok());
    REQUIRE(fs.WriteFileAtomic(link + "/sub/keep", "inside\n", 0644, std::string(".bak")).ok());
  }
  CHECK_FALSE(fs.ReadFile("/etc/abs-file").ok());
  REQUIRE(fs.WriteFileAtomic("/etc/abs-file", "via the link\n", 0644, std::nullopt).ok());
  CHECK(IsLink(t.root + "/etc/abs-file"));  // the link is kept, its target (inside the root) written
  CHECK(TempRootFile(t.root + t.outside + "/secret") == "via the link\n");
  CHECK(std::filesystem::is_directory(t.root + t.outside + "/made"));
  CHECK(TempRootFile(t.root + "/outside/sub/keep") == "inside\n");
  auto via_link = fs.ListDir("/etc/rel/sub");
  REQUIRE(via_link.ok());
  CHECK(*via_link == std::vector<std::string>{"keep"});

  // Remove takes the link itself, never what it points to.
  REQUIRE(fs.Remove("/etc/abs").ok());
  CHECK_FALSE(std::filesystem::exists(std::filesystem::symlink_status(t.root + "/etc/abs")));
  CHECK(std::filesystem::is_directory(t.root + t.outside));

  CHECK(t.OutsideSnapshot() == before);
}

TEST_CASE("a_directory_swapped_with_an_outside_symlink_while_the_agent_works_never_leads_outside_the_root") {
  RootAndOutside t;
  LocalFileSystem fs(t.root);
  std::filesystem::create_directories(t.root + "/var/lib/app");
  std::ofstream(t.root + "/var/lib/app/state") << "inside\n";
  // "/var/lib/app" flips between the real folder and a link that, followed
  // by the kernel from the test machine's view, leads to the outside folder.
  REQUIRE(::symlink("../../../outside", (t.root + "/var/lib/swap").c_str()) == 0);
  const auto before = t.OutsideSnapshot();

  std::atomic<bool> done{false};
  std::atomic<long> swaps{0};
  std::thread swapper([&] {
    const std::string a = t.root + "/var/lib/app", b = t.root + "/var/lib/swap";
    while (!done.load()) {
      if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0) swaps.fetch_add(1);
    }
  });
  const int kRounds = 10000;
  int read_outside = 0, listed_outside = 0;
  for (int i = 0; i < kRounds; ++i) {
    const std::string round = std::to_string(i);
    (void)fs.WriteFileAtomic("/var/lib/app/state", "round " + round + "\n", 0644, std::string(".bak"));
    auto read = fs.ReadFile("/var/lib/app/secret");
    if (read.ok() && *read == "outside secret\n") ++read_outside;
    auto names = fs.ListDir("/var/lib/app");
    if (names.ok() && std::find(names->begin(), names->end(), "sub") != names->end()) ++listed_outside;
    (void)fs.Exists("/var/lib/app/secret");
    (void)fs.MakeDirs("/var/lib/app/made-" + std::to_string(i % 4), 0755);
    (void)fs.Remove("/var/lib/app/made-" + std::to_string((i + 2) % 4));
    (void)fs.Remove("/var/lib/app/secret");
    (void)fs.Remove("/var/lib/app/sub/keep");
    auto stat = fs.Stat("/var/lib/app/secret");
    if (stat.ok() && stat->size == std::string("outside secret\n").size()) ++read_outside;
    (void)fs.Chmod("/var/lib/app/secret", 0777);
    (void)fs.Chmod("/var/lib/app/sub/keep", 0777);
    (void)fs.WriteInPlace("/var/lib/app/secret", "in place\n");
    (void)fs.WriteInPlace("/var/lib/app/state", "in place\n");
  }
  done.store(true);
  swapper.join();
  INFO("swaps: " << swaps.load());
  CHECK(swaps.load() > 0);
  // The race was met: some writes went through the link, and landed inside the root.
  CHECK(std::filesystem::exists(t.root + "/outside/state"));
  CHECK(read_outside == 0);
  CHECK(listed_outside == 0);
  CHECK(t.OutsideSnapshot() == before);
  for (const char* name : {"/secret", "/sub/keep"}) {
    struct stat st {};
    REQUIRE(::stat((t.outside + name).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) != 0777);
  }
}

TEST_CASE("symlinks_owned_by_another_user_are_refused_on_every_call_that_follows_links") {
  // Only root can make a link owned by someone else; the suite runs as root
  // (CI too), and a check that quietly passed without it would prove nothing.
  REQUIRE(::geteuid() == 0);
  RootAndOutside t;
  LocalFileSystem fs(t.root);
  std::filesystem::create_directories(t.root + "/srv/real");
  std::ofstream(t.root + "/srv/real/file") << "x\n";
  REQUIRE(::symlink("/srv/real", (t.root + "/etc/theirs").c_str()) == 0);
  REQUIRE(::lchown((t.root + "/etc/theirs").c_str(), 65534, 65534) == 0);
  auto read = fs.ReadFile("/etc/theirs/file");
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().code() == ErrorCode::kPermissionDenied);
  CHECK(read.error().message().find("owned by uid 65534") != std::string::npos);
  auto listed = fs.ListDir("/etc/theirs");
  REQUIRE_FALSE(listed.ok());
  CHECK(listed.error().code() == ErrorCode::kPermissionDenied);
  for (Status refused : {fs.MakeDirs("/etc/theirs/new", 0755),
                         fs.WriteFileAtomic("/etc/theirs/file", "y\n", 0644, std::nullopt),
                         fs.Remove("/etc/theirs/file")}) {
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == ErrorCode::kPermissionDenied);
  }
  CHECK_FALSE(std::filesystem::exists(t.root + "/srv/real/new"));
  CHECK(TempRootFile(t.root + "/srv/real/file") == "x\n");
  // The link itself can still be removed.
  CHECK(fs.Remove("/etc/theirs").ok());
  CHECK_FALSE(IsLink(t.root + "/etc/theirs"));
}

TEST_CASE("OpenDirectory resolves under the root and refuses symlinks when asked") {
  RootAndOutside t;
  LocalFileSystem fs(t.root);
  std::filesystem::create_directories(t.root + "/var/log/app");
  REQUIRE(::symlink("/var/log/app", (t.root + "/var/log/link").c_str()) == 0);
  REQUIRE(::symlink(t.outside.c_str(), (t.root + "/var/log/out").c_str()) == 0);
  auto fd_inode = [](int fd) {
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    return st.st_ino;
  };
  struct stat app {};
  REQUIRE(::stat((t.root + "/var/log/app").c_str(), &app) == 0);

  auto followed = fs.OpenDirectory("/var/log/link", SymlinkPolicy::kFollowInsideRoot);
  REQUIRE(followed.ok());
  CHECK(fd_inode(*followed) == app.st_ino);
  ::close(*followed);
  auto refused = fs.OpenDirectory("/var/log/link", SymlinkPolicy::kRefuse);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message().find("is a symlink") != std::string::npos);
  auto climbed = fs.OpenDirectory("/../../var/log/app/../app", SymlinkPolicy::kRefuse);
  REQUIRE(climbed.ok());
  CHECK(fd_inode(*climbed) == app.st_ino);
  ::close(*climbed);
  CHECK_FALSE(fs.OpenDirectory("/var/log/out", SymlinkPolicy::kFollowInsideRoot).ok());  // no such dir in the root
}

TEST_CASE("stat_readlink_chmod_and_in_place_writes_never_leave_the_root") {
  RootAndOutside t;
  LocalFileSystem fs(t.root);
  REQUIRE(::chmod((t.outside + "/secret").c_str(), 0640) == 0);
  const auto before = t.OutsideSnapshot();
  REQUIRE(::symlink(t.outside.c_str(), (t.root + "/etc/abs").c_str()) == 0);
  REQUIRE(::symlink("../../outside", (t.root + "/etc/rel").c_str()) == 0);
  REQUIRE(::symlink((t.outside + "/secret").c_str(), (t.root + "/etc/abs-file").c_str()) == 0);

  for (const std::string way : {"/../outside", "/etc/../../outside", "/etc/abs", "/etc/rel"}) {
    INFO(way);
    for (const auto& stat : {fs.Stat(way + "/secret"), fs.Lstat(way + "/secret")}) {
      REQUIRE_FALSE(stat.ok());
      CHECK(stat.error().code() == ErrorCode::kNotFound);
    }
    CHECK(fs.ReadLink(way + "/secret").error().code() == ErrorCode::kNotFound);
    Status chmod = fs.Chmod(way + "/secret", 0777);
    REQUIRE_FALSE(chmod.ok());
    CHECK(chmod.error().code() == ErrorCode::kNotFound);
    Status written = fs.WriteInPlace(way + "/secret", "1\n");
    REQUIRE_FALSE(written.ok());
    CHECK(written.error().code() == ErrorCode::kNotFound);
  }
  CHECK(fs.Stat("/etc/abs-file").error().code() == ErrorCode::kNotFound);  // dangling inside the root
  CHECK(fs.Chmod("/etc/abs-file", 0777).error().code() == ErrorCode::kNotFound);
  CHECK(fs.WriteInPlace("/etc/abs-file", "1\n").error().code() == ErrorCode::kNotFound);
  auto text = fs.ReadLink("/etc/abs-file");  // the text is only read, never followed
  REQUIRE(text.ok());
  CHECK(*text == t.outside + "/secret");

  CHECK(t.OutsideSnapshot() == before);
  struct stat st {};
  REQUIRE(::stat((t.outside + "/secret").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  // Nothing was created inside the root either: in-place writes never create.
  CHECK_FALSE(std::filesystem::exists(t.root + "/outside"));
  CHECK_FALSE(std::filesystem::exists(t.root + t.outside));
}

TEST_CASE("Stat follows a link, Lstat and ReadLink describe the link itself, a dangling one included") {
  TempRoot root;
  LocalFileSystem fs(root.path());
  root.Write("/etc/sysctl.d/90-k8s.conf", "net.ipv4.ip_forward = 1\n");
  REQUIRE(::chmod(root.Real("/etc/sysctl.d/90-k8s.conf").c_str(), 0640) == 0);
  REQUIRE(::symlink("sysctl.d/90-k8s.conf", root.Real("/etc/k8s.conf").c_str()) == 0);
  REQUIRE(::symlink("/etc/missing", root.Real("/etc/dangling").c_str()) == 0);
  struct timespec times[2] = {{0, UTIME_OMIT}, {1'700'000'000, 5}};
  REQUIRE(::utimensat(AT_FDCWD, root.Real("/etc/sysctl.d/90-k8s.conf").c_str(), times, 0) == 0);

  auto file = fs.Stat("/etc/k8s.conf");
  REQUIRE(file.ok());
  CHECK(file->type == FileType::kRegular);
  CHECK(file->mode == 0640);
  CHECK(file->size == 24);
  CHECK(file->uid == ::geteuid());
  CHECK(file->gid == ::getegid());
  CHECK(file->mtime == std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)) +
                           std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(5)));
  auto link = fs.Lstat("/etc/k8s.conf");
  REQUIRE(link.ok());
  CHECK(link->type == FileType::kSymlink);
  CHECK(link->size == std::string("sysctl.d/90-k8s.conf").size());
  CHECK(*fs.ReadLink("/etc/k8s.conf") == "sysctl.d/90-k8s.conf");

  auto dangling = fs.Stat("/etc/dangling");
  REQUIRE_FALSE(dangling.ok());
  CHECK(dangling.error().code() == ErrorCode::kNotFound);
  CHECK(fs.Lstat("/etc/dangling")->type == FileType::kSymlink);
  CHECK(*fs.ReadLink("/etc/dangling") == "/etc/missing");

  CHECK(fs.Stat("/etc")->type == FileType::kDirectory);
  CHECK(fs.Stat("/")->type == FileType::kDirectory);
  CHECK(fs.Lstat("/etc/nothing").error().code() == ErrorCode::kNotFound);
  auto not_link = fs.ReadLink("/etc/sysctl.d/90-k8s.conf");
  REQUIRE_FALSE(not_link.ok());
  CHECK(not_link.error().code() == ErrorCode::kInvalidArgument);
  CHECK(not_link.error().message().find("not a symlink") != std::string::npos);
  CHECK(fs.ReadLink("/etc/nothing").error().code() == ErrorCode::kNotFound);
  REQUIRE(::mkfifo(root.Real("/etc/fifo").c_str(), 0600) == 0);
  CHECK(fs.Stat("/etc/fifo")->type == FileType::kFifo);
  CHECK(fs.Stat("/etc/fifo")->mode == 0600);
}

TEST_CASE("Chmod changes a link's target, never the link, and refuses bits beyond 07777") {
  TempRoot root;
  LocalFileSystem fs(root.path());
  root.Write("/etc/kubernetes/admin.conf", "secret\n");
  REQUIRE(::chmod(root.Real("/etc/kubernetes/admin.conf").c_str(), 0644) == 0);
  REQUIRE(::symlink("kubernetes/admin.conf", root.Real("/etc/admin.conf").c_str()) == 0);

  REQUIRE(fs.Chmod("/etc/admin.conf", 0600).ok());
  CHECK(fs.Stat("/etc/kubernetes/admin.conf")->mode == 0600);
  CHECK(fs.Lstat("/etc/admin.conf")->type == FileType::kSymlink);
  struct stat st {};
  REQUIRE(::lstat(root.Real("/etc/admin.conf").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0777);  // a link's own mode is untouched

  REQUIRE(fs.Chmod("/etc/kubernetes", 0750).ok());
  CHECK(fs.Stat("/etc/kubernetes")->mode == 0750);
  REQUIRE(fs.Chmod("/etc/kubernetes/admin.conf", 04755).ok());
  CHECK(fs.Stat("/etc/kubernetes/admin.conf")->mode == 04755);
  Status bad = fs.Chmod("/etc/kubernetes/admin.conf", S_IFREG | 0644);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::kInvalidArgument);
  CHECK(fs.Stat("/etc/kubernetes/admin.conf")->mode == 04755);
  CHECK(fs.Chmod("/etc/kubernetes/missing", 0600).error().code() == ErrorCode::kNotFound);
  CHECK_FALSE(std::filesystem::exists(root.Real("/etc/kubernetes/missing")));
}

TEST_CASE("WriteInPlace writes the same file (no rename), never creates, and refuses what is not a plain file") {
  TempRoot root;
  LocalFileSystem fs(root.path());
  root.Write("/proc/sys/net/ipv4/ip_forward", "0\n");
  REQUIRE(::chmod(root.Real("/proc/sys/net/ipv4/ip_forward").c_str(), 0604) == 0);
  struct stat before {};
  REQUIRE(::stat(root.Real("/proc/sys/net/ipv4/ip_forward").c_str(), &before) == 0);

  REQUIRE(fs.WriteInPlace("/proc/sys/net/ipv4/ip_forward", "1").ok());
  CHECK(root.Read("/proc/sys/net/ipv4/ip_forward") == "1");  // truncated, then written
  struct stat after {};
  REQUIRE(::stat(root.Real("/proc/sys/net/ipv4/ip_forward").c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  CHECK((after.st_mode & 07777) == 0604);
  auto names = fs.ListDir("/proc/sys/net/ipv4");
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"ip_forward"});  // no temp file, no backup

  // Through a link (as /sys/class/net/X is one), inside the root.
  root.Write("/sys/devices/virtual/net/eth1/mtu", "1500\n");
  std::filesystem::create_directories(root.Real("/sys/class/net"));
  REQUIRE(::symlink("../../devices/virtual/net/eth1", root.Real("/sys/class/net/eth1").c_str()) == 0);
  REQUIRE(fs.WriteInPlace("/sys/class/net/eth1/mtu", "1450\n").ok());
  CHECK(root.Read("/sys/devices/virtual/net/eth1/mtu") == "1450\n");

  Status missing = fs.WriteInPlace("/proc/sys/net/ipv4/conf/all/rp_filter", "1");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == ErrorCode::kNotFound);
  CHECK(missing.error().message().find("never creates") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(root.Real("/proc/sys/net/ipv4/conf")));

  Status missing_file = fs.WriteInPlace("/proc/sys/net/ipv4/tcp_mtu_probing", "1");
  REQUIRE_FALSE(missing_file.ok());
  CHECK(missing_file.error().code() == ErrorCode::kNotFound);
  CHECK(missing_file.error().message().find("never creates") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(root.Real("/proc/sys/net/ipv4/tcp_mtu_probing")));

  CHECK(fs.WriteInPlace("/proc/sys/net", "1").error().code() == ErrorCode::kInvalidArgument);
  CHECK(fs.WriteInPlace("/", "1").error().message().find("Is a directory") != std::string::npos);
  REQUIRE(::mkfifo(root.Real("/proc/sys/fifo").c_str(), 0600) == 0);  // no reader: opening it would hang
  Status fifo = fs.WriteInPlace("/proc/sys/fifo", "1");
  REQUIRE_FALSE(fifo.ok());
  CHECK(fifo.error().code() == ErrorCode::kInvalidArgument);

  Status huge = fs.WriteInPlace("/proc/sys/net/ipv4/ip_forward", std::string(kMaxInPlaceWriteBytes + 1, '1'));
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().code() == ErrorCode::kTooLarge);
  CHECK(root.Read("/proc/sys/net/ipv4/ip_forward") == "1");
}

TEST_CASE("WriteInPlace sets a real sysctl in a network namespace of the test's own, and reports a refused value") {
  REQUIRE(::geteuid() == 0);  // unsharing a network namespace needs root; CI runs as root
  const int original = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  REQUIRE(original >= 0);
  REQUIRE(::unshare(CLONE_NEWNET) == 0);
  struct Back {
    int fd;
    ~Back() {
      if (::setns(fd, CLONE_NEWNET) != 0) std::abort();  // never go on in the wrong namespace
      ::close(fd);
    }
  } back{original};
  LocalFileSystem fs("/");
  // /proc/sys/net is the namespace of whoever reads it: a fresh one has only lo.
  auto conf = fs.ListDir("/proc/sys/net/ipv4/conf");
  REQUIRE(conf.ok());
  REQUIRE(*conf == std::vector<std::string>{"all", "default", "lo"});

  REQUIRE(fs.WriteInPlace("/proc/sys/net/ipv4/ip_forward", "1\n").ok());
  CHECK(*fs.ReadFile("/proc/sys/net/ipv4/ip_forward") == "1\n");
  Status refused = fs.WriteInPlace("/proc/sys/net/ipv4/ip_forward", "yes\n");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message().find("/proc/sys/net/ipv4/ip_forward") != std::string::npos);
  CHECK(*fs.ReadFile("/proc/sys/net/ipv4/ip_forward") == "1\n");
  REQUIRE(fs.WriteInPlace("/proc/sys/net/ipv4/ip_forward", "0").ok());
  CHECK(*fs.ReadFile("/proc/sys/net/ipv4/ip_forward") == "0\n");
}

TEST_CASE("the new calls refuse links owned by another user, as every call that follows links does") {
  REQUIRE(::geteuid() == 0);  // only root can make a link owned by someone else
  RootAndOutside t;
  LocalFileSystem fs(t.root);
  std::filesystem::create_directories(t.root + "/srv/real");
  std::ofstream(t.root + "/srv/real/file") << "x\n";
  REQUIRE(::symlink("/srv/real", (t.root + "/etc/theirs").c_str()) == 0);
  REQUIRE(::lchown((t.root + "/etc/theirs").c_str(), 65534, 65534) == 0);
  CHECK(fs.Stat("/etc/theirs/file").error().code() == ErrorCode::kPermissionDenied);
  CHECK(fs.Stat("/etc/theirs").error().code() == ErrorCode::kPermissionDenied);
  CHECK(fs.Lstat("/etc/theirs/file").error().code() == ErrorCode::kPermissionDenied);
  CHECK(fs.ReadLink("/etc/theirs/file").error().code() == ErrorCode::kPermissionDenied);
  CHECK(fs.Chmod("/etc/theirs/file", 0777).error().code() == ErrorCode::kPermissionDenied);
  CHECK(fs.WriteInPlace("/etc/theirs/file", "y\n").error().code() == ErrorCode::kPermissionDenied);
  CHECK(TempRootFile(t.root + "/srv/real/file") == "x\n");
  // The link itself is only looked at, not followed.
  auto own = fs.Lstat("/etc/theirs");
  REQUIRE(own.ok());
  CHECK(own->uid == 65534);
  CHECK(*fs.ReadLink("/etc/theirs") == "/srv/real");
}

TEST_CASE("LocalFileSystem with the root at / reads the machine's files") {
  TempRoot tmp;
  tmp.Write("/note", "hello\n");
  LocalFileSystem fs("/");
  CHECK(fs.Resolve("/etc/../etc/hostname") == "/etc/hostname");
  auto read = fs.ReadFile(tmp.Real("/note"));
  REQUIRE(read.ok());
  CHECK(*read == "hello\n");
  CHECK(fs.Exists("/proc/self"));
  auto listed = fs.ListDir(tmp.path() + "/../" + std::filesystem::path(tmp.path()).filename().string());
  REQUIRE(listed.ok());
  CHECK(*listed == std::vector<std::string>{"note"});
  REQUIRE(fs.WriteFileAtomic(tmp.Real("/sub/new"), "x", 0600, std::nullopt).ok());
  CHECK(tmp.Read("/sub/new") == "x");
  CHECK(fs.Remove(tmp.Real("/sub/new")).ok());
}

TEST_CASE("whole_file_reads_are_capped_with_an_error_naming_the_path_and_the_limit") {
  TempRoot root;
  LocalFileSystem fs(root.path());
  root.Write("/var/log/huge", "");
  REQUIRE(::truncate(root.Real("/var/log/huge").c_str(), static_cast<off_t>(kMaxReadFileBytes) + 1) == 0);
  auto read = fs.ReadFile("/var/log/huge");
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().code() == ErrorCode::kTooLarge);
  CHECK(read.error().message().find(root.Real("/var/log/huge")) != std::string::npos);
  CHECK(read.error().message().find("16 MiB") != std::string::npos);
  // A file of exactly the limit is still read, and so is its backup when replaced.
  REQUIRE(::truncate(root.Real("/var/log/huge").c_str(), static_cast<off_t>(kMaxReadFileBytes)) == 0);
  auto at_limit = fs.ReadFile("/var/log/huge");
  REQUIRE(at_limit.ok());
  CHECK(at_limit->size() == kMaxReadFileBytes);
  // State files are read by real path, with no limit unless one is given.
  root.Write("/state.json", "{\"phase\":\"rebooting\"}");
  auto state = ReadWholeFile(root.Real("/state.json"));
  REQUIRE(state.ok());
  CHECK(*state == "{\"phase\":\"rebooting\"}");
  // A file that reports no size (as /proc files do) is capped while reading.
  auto capped = ReadWholeFile("/dev/zero", 1024);
  REQUIRE_FALSE(capped.ok());
  CHECK(capped.error().code() == ErrorCode::kTooLarge);
}

// --- Where openat2 is filtered (systemd-nspawn, older container runtimes) ---

namespace {

/// fchmodat2 (Linux 6.6), which glibc 2.36's headers do not name.
constexpr unsigned kSysFchmodat2 = 452;

/// Runs this test binary again on `tests` with a seccomp filter that answers
/// ENOSYS for openat2, as an nspawn container does, and for fchmodat2, as
/// kernels before 6.6 do. Returns its exit status.
int RunWithoutOpenat2(const std::string& tests) {
  pid_t pid = ::fork();
  if (pid == 0) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kSysFchmodat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
      ::_exit(90);
    ::setenv("NODEAGENT_TEST_OPENAT2_FILTERED", "1", 1);
    const char* argv[] = {"/proc/self/exe", tests.c_str(), nullptr};
    ::execv("/proc/self/exe", const_cast<char* const*>(argv));
    ::_exit(91);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("without openat2 (ENOSYS from a container's seccomp filter) paths still never leave the root") {
  // The same escape tests, in a child where openat2 answers ENOSYS: the
  // file system falls back to one openat(O_NOFOLLOW) per component.
  CHECK(RunWithoutOpenat2("[openat2-filtered],dot_dot_chains_never_leave_the_root_on_any_operation,"
                          "absolute_and_relative_symlinks_resolve_inside_the_root_on_every_operation,"
                          "a_directory_swapped_with_an_outside_symlink_while_the_agent_works_never_leads_outside_"
                          "the_root,stat_readlink_chmod_and_in_place_writes_never_leave_the_root,"
                          "Chmod changes a link's target*") == 0);
}

TEST_CASE("the child really runs without openat2", "[openat2-filtered][.]") {
  REQUIRE(std::getenv("NODEAGENT_TEST_OPENAT2_FILTERED") != nullptr);
  struct open_how how {};
  how.flags = O_PATH;
  CHECK(::syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how) == -1);
  CHECK(errno == ENOSYS);
  CHECK(::syscall(kSysFchmodat2, AT_FDCWD, "/nonexistent", 0644, 0) == -1);
  CHECK(errno == ENOSYS);
}
