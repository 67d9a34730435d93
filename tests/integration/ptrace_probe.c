/* Run by a hostile reuse-mode job (hostile_test.cpp): tries to reach another process of the
 * container by pid and prints one line of what each way gave, "ok" or the errno name:
 *
 *   <pid> attach=<r> seize=<r> mem=<r> fd0=<r> fds=<r> environ=<r>
 *
 * attach/seize: ptrace; mem: open /proc/<pid>/mem for
 * writing; fd0: open /proc/<pid>/fd/0 (its stdin) for writing; fds: list /proc/<pid>/fd;
 * environ: read /proc/<pid>/environ. (process_vm_readv is left out: Docker's default seccomp
 * profile refuses it to every process without CAP_SYS_PTRACE.) Static: the runtime images
 * have no libc of the host's. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* res(int ok) { return ok ? "ok" : strerrorname_np(errno); }

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const pid_t pid = (pid_t)atoi(argv[i]);
    char path[64], buf[64];
    printf("%d", (int)pid);
    int ok = ptrace(PTRACE_ATTACH, pid, 0, 0) == 0;
    printf(" attach=%s", res(ok));
    if (ok) {
      waitpid(pid, NULL, __WALL);
      ptrace(PTRACE_DETACH, pid, 0, 0);
    }
    ok = ptrace(PTRACE_SEIZE, pid, 0, 0) == 0;
    printf(" seize=%s", res(ok));
    if (ok) ptrace(PTRACE_DETACH, pid, 0, 0);
    snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
    int fd = open(path, O_RDWR);
    printf(" mem=%s", res(fd >= 0));
    if (fd >= 0) close(fd);
    snprintf(path, sizeof path, "/proc/%d/fd/0", (int)pid);
    fd = open(path, O_WRONLY | O_NONBLOCK);
    printf(" fd0=%s", res(fd >= 0));
    if (fd >= 0) close(fd);
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR* d = opendir(path);
    printf(" fds=%s", res(d != NULL));
    if (d) closedir(d);
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    fd = open(path, O_RDONLY);
    ok = fd >= 0 && read(fd, buf, sizeof buf) >= 0;
    printf(" environ=%s\n", res(ok));
    if (fd >= 0) close(fd);
  }
  return 0;
}
