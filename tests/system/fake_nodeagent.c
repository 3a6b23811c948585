/* A stand-in for /usr/sbin/nodeagent used by `run.sh --fake-daemon`: it
 * exercises nodeagent.service's sandbox and readiness protocol before (or
 * independently of) the real daemon. It does what the unit expects of the
 * daemon and nothing else: READY=1 and STATUS= over sd_notify, WATCHDOG=1 at
 * half of WATCHDOG_USEC, the control socket /run/nodeagent/agent.sock as
 * root:nodeagent 0660 (needs CAP_CHOWN inside the sandbox), STOPPING=1 on
 * SIGTERM. Build: cc -O2 -o fake_nodeagent fake_nodeagent.c -lsystemd */
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;
static void on_term(int sig) { (void)sig; stop_requested = 1; }

static int fail(const char* what) {
  fprintf(stderr, "fake_nodeagent: %s: %m\n", what);
  sd_notifyf(0, "STATUS=failed: %s", what);
  return 1;
}

int main(int argc, char** argv) {
  const char* path = "/run/nodeagent/agent.sock";
  if (argc > 1 && strcmp(argv[1], "--version") == 0) {
    printf("nodeagent %s (fake for system tests)\n", argc > 2 ? argv[2] : FAKE_VERSION);
    return 0;
  }
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket");
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  unlink(path);
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr) < 0) return fail("bind /run/nodeagent/agent.sock");
  struct group* g = getgrnam("nodeagent");
  if (!g) return fail("group nodeagent missing");
  if (chown(path, 0, g->gr_gid) < 0) return fail("chown socket");
  if (chmod(path, 0660) < 0) return fail("chmod socket");
  if (listen(fd, 16) < 0) return fail("listen");
  uint64_t watchdog_usec = 0;
  int watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  sd_notify(0, "READY=1\nSTATUS=fake nodeagent: listening on /run/nodeagent/agent.sock");
  while (!stop_requested) {
    usleep(watchdog ? watchdog_usec / 2 : 1000000);
    if (watchdog) sd_notify(0, "WATCHDOG=1");
  }
  sd_notify(0, "STOPPING=1");
  unlink(path);
  return 0;
}
