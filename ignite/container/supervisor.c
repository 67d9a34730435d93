/* ignite-supervisor: PID 1 of every container whose runtime may spawn (cold and pooled; see
 * ignite/src/runner.hpp). There is no docker-init: the supervisor reaps orphans and forwards
 * signals itself, so no process the service can inspect holds anything secret.
 *
 * It is built as a static binary and copied into every per-service image, so it runs in any
 * runtime image, whatever libc that image carries (or none).
 *
 *   ignite-supervisor once [--early] -- <runtime argv...>
 *   ignite-supervisor reuse [--preboot [--hold-port=N] [--preboot-env=NAME=VALUE]...] -- <argv...>
 *   ignite-supervisor file <input path> -- <runtime argv...>
 *
 * Both modes first make the supervisor non-dumpable (its /proc files become root's: a service
 * running as the same uid can read neither its memory, environment nor descriptors, nor open its
 * stdin) and only then read the completion key, the first line of stdin:
 *
 *   IGNITE-KEY <key>\n
 *
 * The key never appears in any environment or command line.
 *
 * once: starts the runtime, which inherits the rest of stdin (the job: its preloaded runner's
 * header, or the input), waits for it, kills and reaps every process it left behind, writes
 *
 *   \x1eIGNITE-EXIT <key> <status>\n
 *
 * on stdout and on stderr and exits. <status> is the exit code, or 128 + the signal that ended
 * the runtime. The record is the last thing on each stream (every other process is dead by
 * then), and only the key makes it the supervisor's: a look-alike printed by the service cannot
 * carry it, and output after a record voids it. The engine therefore returns when both records
 * arrived, without waiting for the daemon to end the streams.
 *
 * once --early: the runtime starts before the key arrives, so it boots while the engine still
 * waits for the daemon's reply to the start call and sends the job (3-5 ms of a cold start). Its
 * stdin is then a pipe: the supervisor, already non-dumpable when it forks, reads the key from
 * its own stdin and relays the rest into that pipe, so the key never reaches the runtime. Not
 * where /proc ignores non-dumpability (gVisor: the runtime could open the supervisor's stdin
 * while the key is on its way), nor for a CPU-time limit (the runtime's first milliseconds
 * would come before the engine's first reading of the cgroup): the engine asks for it.
 *
 * reuse: runs jobs one after another, a fresh runtime process per job. Each job on stdin is
 *
 *   JOB <key> <job nonce> <env bytes> <input bytes>\n<env: NAME=VALUE\0 ...><input>
 *
 * A job with another key ends the supervisor (and so the container). The runtime gets the
 * container's environment plus the job's, the input on a pipe of its own (then end of file), and
 * its stdout/stderr are relayed. When it has exited and its output ended, every other process is
 * killed and reaped, /tmp is emptied (also directories the service made unwritable), System V
 * IPC objects are removed, whatever is left on stdin is discarded, and
 *
 *   \x1eIGNITE-END <job nonce> <status>\n                   on stdout and on stderr
 *
 * ends the job on both streams (each stream is ordered, so everything before the record on a
 * stream belongs to the job). The job nonce is fresh per job and only ever crosses the
 * supervisor's own stdin. When the clean-up fails the supervisor exits after the record, so the
 * container is not used again. End of file on stdin ends the supervisor.
 *
 * reuse --preboot [--hold-port=N] -- <runtime argv with its runner preloaded>:
 * each job's runtime is booted ahead ("pre-boot"), so it is booted and waiting when its job
 * arrives: the job's env bytes are the runner's header ("<n>\n<JSON>", runner.hpp) and go to
 * that runtime's stdin with the input. A fresh process per job still, and the clean-up between
 * jobs is the same, except that it spares the one process booted for the next job. The order
 * keeps the next job's runtime out of the running job's reach (same uid):
 *
 *   - it is forked only after the job before was cleaned up (nothing of any job is alive),
 *     with IGNITE_RUNNER=2 and LD_AUDIT=/opt/ignite/ignite-preboot.so (preboot.c), which the
 *     dynamic linker runs first, before it relocates the runtime (1-2 ms after the exec, where
 *     a constructor would wait 20-70 ms for the relocation of a Deno or Node.js binary), and
 *     before any code of the runtime's own: it sets its oom_score_adj to 1000 (the
 *     OOM killer's first choice, so a job near its memory limit gets that memory back), makes
 *     the process non-dumpable (/proc/<pid>/{mem,fd,environ} become root's, ptrace is
 *     refused, its stdin cannot be reopened), and then sends one byte and its oom_score_adj
 *     descriptor over a socket;
 *   - a job starts only after the byte of the runtime booted for the job after it came;
 *     when its own runtime gets the job, the supervisor writes 0 through that descriptor;
 *   - a runtime the job before killed, or sent a signal still pending, or that is exiting, is
 *     replaced by a fresh boot before its job is handed over, and a stopped one is continued
 *     (SIGCONT): signals can only cost the next job its head start, never its success;
 *   - --hold-port=9229 (Node.js): the supervisor listens on 127.0.0.1:9229 and [::1]:9229 and
 *     never accepts, so the inspector that SIGUSR1 starts cannot listen there;
 *   - variables naming a path under /tmp (HOME, DENO_DIR) point to /nonexistent during the boot
 *     (the job before may write /tmp; the boot must not read what it left), and
 *     --preboot-env=NAME=VALUE ones are set (Deno: DENO_EMIT_CACHE_MODE=disable, as it would
 *     otherwise retry writing its emit cache there for 150 ms); the runner puts them back
 *     (IGNITE_RESTORE, IGNITE_SAVED_<name>) when the job starts.
 *
 * Its END record carries what the next job's runtime used while the job ran, which the
 * container's cgroup counts with the job, and the cgroup's CPU time (0: not readable here) when
 * the job arrived and when it ended:
 *
 *   \x1eIGNITE-END <nonce> <status> <KiB> <us> <cgroup us at arrival> <cgroup us at the end>\n
 *
 * <KiB> is the next runtime's anonymous memory at the end of the job, <us> its CPU time since
 * the job arrived. The engine's own readings of the cgroup come before the job's bytes arrive
 * and after this record, while runtimes boot for later jobs (the one for the job after next is
 * forked right after this record): these two readings bound the job's share exactly. A runtime
 * whose preload does not answer within 5 s (statically linked: LD_AUDIT is ignored) ends
 * pre-booting for the container: each job then boots its runtime when it arrives.
 *
 * file: for Docker Swarm tasks, which have no stdin. As once, but the key comes from the
 * environment variable IGNITE_SUPERVISOR_KEY (read and removed after the supervisor became
 * non-dumpable, so the runtime never inherits it and cannot read it from /proc/1/environ), and
 * the runtime's stdin is <input path> (the swarm secret holding the input; "-" for none). The
 * records carry what the engine cannot read from the node's cgroups:
 *
 *   \x1eIGNITE-EXIT <key> <status> <oom kills> <peak memory bytes>\n
 *
 * read from the container's memory cgroup (v1 memory.oom_control / memory.max_usage_in_bytes,
 * or v2 memory.events / memory.peak); -1 where it could not be read.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_NONCE 64
#define CHUNK 65536

static void die(const char* what) {
  dprintf(2, "ignite-supervisor: %s: %s\n", what, strerror(errno));
  _exit(125);
}

static int write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    data += w;
    n -= (size_t)w;
  }
  return 0;
}

static int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 125;
}

/* The runtime of the current job (signals are forwarded to it). */
static volatile pid_t current_child = 0;

static void forward_signal(int sig) {
  pid_t c = current_child;
  if (c > 0) kill(c, sig);
}

static void install_forwarding(void) {
  /* As PID 1 the supervisor gets no default action for these: pass them on (docker stop). */
  const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward_signal;
  sa.sa_flags = SA_RESTART;
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; ++i) sigaction(sigs[i], &sa, NULL);
}

/* Kills every other process of the container (as PID 1, kill(-1) reaches all of them) and reaps
 * them; returns -1 when some did not go within 2 s (stuck in the kernel). */
static int kill_others(void) {
  for (int tries = 0; tries < 400; ++tries) {
    kill(-1, SIGKILL);
    pid_t w;
    while ((w = waitpid(-1, NULL, WNOHANG)) > 0) {
    }
    if (w < 0 && errno == ECHILD) return 0;
    usleep(5000);
  }
  return -1;
}

static int chmod_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  (void)ftw;
  /* A directory the service made unreadable or unwritable (chmod 000/500) must still be emptied:
   * the supervisor runs as the same uid and owns it. */
  if (flag == FTW_D || flag == FTW_DNR) chmod(path, (st->st_mode & 07777) | S_IRWXU);
  return 0;
}

static int remove_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  (void)st;
  (void)flag;
  if (ftw->level == 0) return 0; /* /tmp itself stays */
  remove(path);
  return 0;
}

/* Empties /tmp; -1 when something is left. */
static int empty_tmp(void) {
  chmod("/tmp", 01777);
  for (int pass = 0; pass < 3; ++pass) {
    nftw("/tmp", chmod_entry, 16, FTW_PHYS | FTW_MOUNT);
    nftw("/tmp", remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    DIR* d = opendir("/tmp");
    if (!d) return -1;
    int left = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) ++left;
    }
    closedir(d);
    if (left == 0) return 0;
  }
  return -1;
}

/* Removes the System V IPC objects of the container's IPC namespace (it is private: IpcMode
 * none); -1 when one could not be removed. POSIX shared memory and message queues need /dev/shm
 * and /dev/mqueue, which the container does not have. */
static int remove_ipc(void) {
  static const char* files[] = {"/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem"};
  int failed = 0;
  for (int k = 0; k < 3; ++k) {
    FILE* f = fopen(files[k], "r");
    if (!f) continue;
    char line[512];
    if (!fgets(line, sizeof line, f)) { /* header */
      fclose(f);
      continue;
    }
    while (fgets(line, sizeof line, f)) {
      long key = 0, id = -1;
      if (sscanf(line, "%ld %ld", &key, &id) != 2 || id < 0) continue;
      int rc = k == 0 ? shmctl((int)id, IPC_RMID, NULL)
               : k == 1 ? msgctl((int)id, IPC_RMID, NULL)
                        : semctl((int)id, 0, IPC_RMID);
      if (rc != 0 && errno != EINVAL && errno != EIDRM) failed = 1;
    }
    fclose(f);
  }
  return failed ? -1 : 0;
}

static void record(int fd, const char* kind, const char* nonce, int code) {
  char line[160];
  int n = snprintf(line, sizeof line, "\x1eIGNITE-%s %s %d\n", kind, nonce, code);
  if (n > 0) write_all(fd, line, (size_t)n);
}

/* Reads the completion key, the first line of stdin, one byte at a time: whatever follows on
 * stdin belongs to the runtime (once mode) or to the job reader (reuse). Call only after
 * PR_SET_DUMPABLE 0. Exits when the line is missing or malformed. */
static void read_key(char* key) {
  static const char prefix[] = "IGNITE-KEY ";
  char line[sizeof prefix + MAX_NONCE + 1];
  size_t len = 0;
  for (;;) {
    char c;
    ssize_t n = read(0, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(0); /* no job came: the pool is draining */
    if (c == '\n') break;
    if (len + 1 >= sizeof line) break;
    line[len++] = c;
  }
  line[len] = '\0';
  const size_t plen = sizeof prefix - 1;
  if (len <= plen + 15 || strncmp(line, prefix, plen) != 0 ||
      strspn(line + plen, "0123456789abcdef") != len - plen) {
    dprintf(2, "ignite-supervisor: stdin did not start with a completion key\n");
    _exit(125);
  }
  strcpy(key, line + plen);
}

/* The supervisor's own set-up: secrets unreadable first, then the key. */
/* Secrets unreadable (non-dumpable) and signals forwarded, before anything secret arrives. */
static void harden(void) {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  unsetenv("IGNITE_SUPERVISOR_NONCE"); /* from older engines: never used */
  install_forwarding();
}

static void become_supervisor(char* key) {
  harden();
  read_key(key);
}

/* The runtime has been reaped with `status`: kills and reaps whatever it left behind and
 * returns its exit code, or 128 + the signal that ended it. */
static int ended(int status) {
  current_child = 0;
  const int code = status_code(status);
  kill_others();
  return code;
}

/* Waits for the runtime `child` (signals are forwarded to it meanwhile) while reaping the
 * orphans that PID 1 inherits, then kills and reaps whatever it left behind. Returns its exit
 * code, or 128 + the signal that ended it. */
static int run_to_end(pid_t child) {
  current_child = child;
  int status = 0;
  for (;;) {
    int st = 0;
    pid_t r = waitpid(-1, &st, 0);
    if (r == child) {
      status = st;
      break;
    }
    if (r < 0 && errno != EINTR) die("waitpid");
  }
  return ended(status);
}

/* once --early: copies the job (what follows the key on stdin) into the runtime's stdin pipe
 * `out` until stdin ends, then closes it. Returns 1 with *status set when the runtime exited
 * meanwhile (reaped here), else 0. It never blocks on a runtime that stopped reading: a full
 * pipe is waited for with poll, and the runtime's exit is checked at least every 50 ms. */
static int relay_job(int out, pid_t child, int* status) {
  static char buf[CHUNK];
  size_t have = 0, off = 0;
  int reaped = 0;
  fcntl(out, F_SETFL, O_NONBLOCK);
  for (;;) {
    struct pollfd pfd = have == off ? (struct pollfd){.fd = 0, .events = POLLIN}
                                    : (struct pollfd){.fd = out, .events = POLLOUT};
    const int r = poll(&pfd, 1, 50);
    if (r < 0 && errno != EINTR) break;
    if (r > 0 && have == off) {
      const ssize_t n = read(0, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break; /* the job is all in */
      if (n > 0) have = (size_t)n, off = 0;
    } else if (r > 0) {
      const ssize_t n = write(out, buf + off, have - off);
      if (n > 0) off += (size_t)n;
      /* EPIPE: nothing reads the pipe any more, the rest of the job has no taker. */
      if (n < 0 && errno != EINTR && errno != EAGAIN) break;
    }
    int st = 0;
    if (waitpid(child, &st, WNOHANG) == child) {
      *status = st;
      reaped = 1;
      break;
    }
  }
  close(out);
  return reaped;
}

/* once: the exit record on both streams, after everything any process of the container wrote;
 * then the supervisor exits and both streams end, which is what completes the job for the
 * engine. */
static int report_exit(const char* key, int code) {
  record(1, "EXIT", key, code);
  record(2, "EXIT", key, code);
  return code;
}

static int run_once_early(char** argv) {
  char key[MAX_NONCE + 1] = "";
  harden();
  /* A write into the pipe of a runtime that has gone must fail with EPIPE, not end us. */
  signal(SIGPIPE, SIG_IGN);
  int job[2];
  if (pipe2(job, O_CLOEXEC) < 0) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    signal(SIGPIPE, SIG_DFL);
    if (dup2(job[0], 0) < 0) _exit(125); /* dup2 leaves the new descriptor inheritable */
    execvp(argv[0], argv);
    dprintf(2, "ignite-supervisor: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(job[0]);
  current_child = child;
  read_key(key); /* no key, or a malformed one: exits, and as PID 1 takes the runtime along */
  int status = 0;
  const int reaped = relay_job(job[1], child, &status);
  close(0);
  return report_exit(key, reaped ? ended(status) : run_to_end(child));
}

static int run_once(char** argv) {
  char key[MAX_NONCE + 1] = "";
  become_supervisor(key);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    execvp(argv[0], argv);
    dprintf(2, "ignite-supervisor: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  /* The runtime has stdin now; the supervisor needs it no more. Where /proc does not honour
   * non-dumpability (gVisor), this also leaves the service no stdin of ours to open. */
  close(0);
  return report_exit(key, run_to_end(child));
}

/* ---- file ------------------------------------------------------------------------------- */

/* The number after `name ` in a "name value" lines file (memory.oom_control, memory.events). */
static long long keyed_value(const char* path, const char* name) {
  FILE* f = fopen(path, "r");
  if (!f) return -1;
  char line[256];
  long long v = -1;
  const size_t n = strlen(name);
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, name, n) == 0 && line[n] == ' ') {
      v = strtoll(line + n + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return v;
}

static long long single_value(const char* path) {
  FILE* f = fopen(path, "r");
  if (!f) return -1;
  long long v = -1;
  if (fscanf(f, "%lld", &v) != 1) v = -1;
  fclose(f);
  return v;
}

static int run_file(const char* input, char** argv) {
  char key[MAX_NONCE + 1] = "";
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  install_forwarding();
  const char* k = getenv("IGNITE_SUPERVISOR_KEY");
  if (!k || strlen(k) < 16 || strlen(k) > MAX_NONCE || strspn(k, "0123456789abcdef") != strlen(k)) {
    dprintf(2, "ignite-supervisor: IGNITE_SUPERVISOR_KEY is missing or malformed\n");
    return 125;
  }
  strcpy(key, k);
  unsetenv("IGNITE_SUPERVISOR_KEY");
  const int fd = open(strcmp(input, "-") == 0 ? "/dev/null" : input, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("open the input");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    if (dup2(fd, 0) < 0) _exit(125);
    execvp(argv[0], argv);
    dprintf(2, "ignite-supervisor: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(fd);
  const int code = run_to_end(child);
  long long ooms = keyed_value("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill");
  long long peak = single_value("/sys/fs/cgroup/memory/memory.max_usage_in_bytes");
  if (ooms < 0) ooms = keyed_value("/sys/fs/cgroup/memory.events", "oom_kill");
  if (peak < 0) peak = single_value("/sys/fs/cgroup/memory.peak");
  char line[200];
  int n = snprintf(line, sizeof line, "\x1eIGNITE-EXIT %s %d %lld %lld\n", key, code, ooms, peak);
  if (n > 0) {
    write_all(1, line, (size_t)n);
    write_all(2, line, (size_t)n);
  }
  return code;
}

/* ---- reuse ------------------------------------------------------------------------------- */

static char inbuf[CHUNK];
static size_t in_start = 0, in_end = 0;
static int stdin_eof = 0;

/* Refills the stdin buffer; returns bytes available (0 at end of file). */
static size_t fill(void) {
  if (in_start < in_end) return in_end - in_start;
  if (stdin_eof) return 0;
  in_start = in_end = 0;
  for (;;) {
    ssize_t n = read(0, inbuf, sizeof inbuf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      stdin_eof = 1;
      return 0;
    }
    in_end = (size_t)n;
    return in_end;
  }
}

static int read_line(char* out, size_t cap) {
  size_t len = 0;
  for (;;) {
    if (fill() == 0) return -1;
    char c = inbuf[in_start++];
    if (c == '\n') break;
    if (len + 1 >= cap) return -1;
    out[len++] = c;
  }
  out[len] = '\0';
  return 0;
}

static int read_exact(char* out, size_t n) {
  while (n > 0) {
    size_t avail = fill();
    if (avail == 0) return -1;
    size_t take = avail < n ? avail : n;
    memcpy(out, inbuf + in_start, take);
    in_start += take;
    out += take;
    n -= take;
  }
  return 0;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* Discards whatever is on stdin between jobs. The engine sends the next job only after this
 * job's END record, and every process of the job is dead by now, so anything here was written
 * by the job itself (where /proc lets it open our stdin: gVisor) and must not reach the next. */
static void drain_stdin(void) {
  in_start = in_end;
  if (stdin_eof) return;
  const int flags = fcntl(0, F_GETFL);
  fcntl(0, F_SETFL, flags | O_NONBLOCK);
  for (;;) {
    ssize_t n = read(0, inbuf, sizeof inbuf);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) stdin_eof = 1;
    break;
  }
  fcntl(0, F_SETFL, flags);
}

/* Runs one job; returns its status, or -1 when stdin ended, the job was malformed or not
 * authentic, or the container could not be cleaned for another job. */
/* ---- pre-boot ---------------------------------------------------------------------------- */

#define PREBOOT_LIBRARY "/opt/ignite/ignite-preboot.so"
/* How long a runtime may take from fork to its preload's byte (ld.so has loaded it). */
#define HANDSHAKE_MS 5000

/* A runtime process and the supervisor's ends of its pipes. */
struct runtime {
  pid_t pid;           /* 0: none */
  int dead;            /* reaped (its status in `status`) */
  int status;
  int in, out, err;    /* its stdin (write end), stdout and stderr (read ends) */
  int handshake;       /* the preload's socket until its byte came, else -1 */
  int ready;           /* the byte came: the process is non-dumpable */
  int oom;             /* its /proc/<pid>/oom_score_adj, open for writing, or -1 */
};

extern char** environ;

/* --preboot-env=NAME=VALUE: set for the boot of each pre-booted runtime (Deno's
 * DENO_EMIT_CACHE_MODE=disable), and taken back by the runner for the job. */
#define MAX_PREBOOT_ENV 8
static const char* preboot_env_extra[MAX_PREBOOT_ENV];
static int preboot_env_count = 0;

/* The runtime booted for the next job to arrive, and the one booted for the job after it. */
static struct runtime cur = {0}, nxt = {0};
/* Set when a runtime's preload did not answer in time (a static runtime ignores LD_AUDIT):
 * from then on each job boots its runtime when it arrives, without the preload. */
static int preboot_broken = 0;

/* Notes the death of a runtime reaped by a wait on any child. */
static void note_reaped(pid_t w, int st) {
  struct runtime* rs[2] = {&cur, &nxt};
  for (int i = 0; i < 2; ++i) {
    if (rs[i]->pid == w && !rs[i]->dead) {
      rs[i]->dead = 1;
      rs[i]->status = st;
    }
  }
}

static void close_fd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Kills and forgets a runtime (and its pipes). */
static void discard(struct runtime* r) {
  if (r->pid > 0 && !r->dead) {
    kill(r->pid, SIGKILL);
    int st;
    while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR) {
    }
  }
  close_fd(&r->in);
  close_fd(&r->out);
  close_fd(&r->err);
  close_fd(&r->handshake);
  close_fd(&r->oom);
  memset(r, 0, sizeof *r);
  r->in = r->out = r->err = r->handshake = r->oom = -1;
}

/* The child's environment: IGNITE_RUNNER=2 (the runner reads its job header and announces
 * nothing), and, with the preload, LD_AUDIT (preboot.c: the dynamic linker runs it before it
 * relocates the runtime) and its socket. The runner takes both out when the job starts. Every
 * variable whose value is a path under /tmp (HOME, DENO_DIR) points to /nonexistent during the
 * boot: the boot runs while the job before may write /tmp, and must not read anything it left
 * there (a runtime's config or code caches). Those and the --preboot-env ones are put back by
 * the runner when the job starts. */
static void preboot_env(int with_preload) {
  setenv("IGNITE_RUNNER", "2", 1);
  if (with_preload) {
    const char* old = getenv("LD_AUDIT");
    if (old && *old) {
      char* both = malloc(strlen(old) + sizeof PREBOOT_LIBRARY + 1);
      if (!both) _exit(125);
      sprintf(both, "%s:%s", PREBOOT_LIBRARY, old);
      setenv("LD_AUDIT", both, 1);
    } else {
      setenv("LD_AUDIT", PREBOOT_LIBRARY, 1);
    }
    setenv("IGNITE_PREBOOT_FD", "3", 1);
  }
  /* What the boot must not see, collected first (setenv may move environ). */
  size_t n = 0;
  for (char** e = environ; *e; ++e) ++n;
  char** change = calloc(n + preboot_env_count + 1, sizeof *change);
  if (!change) _exit(125);
  size_t k = 0;
  for (char** e = environ; *e; ++e) {
    const char* eq = strchr(*e, '=');
    if (eq && (strcmp(eq + 1, "/tmp") == 0 || strncmp(eq + 1, "/tmp/", 5) == 0)) {
      size_t len = (size_t)(eq - *e);
      char* c = malloc(len + sizeof "=/nonexistent");
      if (!c) _exit(125);
      memcpy(c, *e, len);
      strcpy(c + len, "=/nonexistent");
      change[k++] = c;
    }
  }
  for (int i = 0; i < preboot_env_count; ++i) change[k++] = strdup(preboot_env_extra[i]);
  /* Each changed variable's value for the job: IGNITE_SAVED_<name> (none: unset), and the
   * names in IGNITE_RESTORE, which the runner puts back when the job starts. */
  char* restore = calloc(1, 1);
  for (size_t i = 0; i < k; ++i) {
    char* eq = strchr(change[i], '=');
    if (!eq || eq == change[i] || !restore) _exit(125);
    *eq = '\0';
    const char* old = getenv(change[i]);
    char saved[512];
    if (snprintf(saved, sizeof saved, "IGNITE_SAVED_%s", change[i]) >= (int)sizeof saved) _exit(125);
    if (old) setenv(saved, old, 1);
    setenv(change[i], eq + 1, 1);
    char* more = malloc(strlen(restore) + strlen(change[i]) + 2);
    if (!more) _exit(125);
    sprintf(more, "%s%s%s", restore, *restore ? "," : "", change[i]);
    free(restore);
    restore = more;
  }
  if (k > 0) setenv("IGNITE_RESTORE", restore, 1);
}

/* Forks a runtime with the runner preloaded; it boots and waits for its job header on stdin. */
static int spawn_runtime(char** argv, struct runtime* r) {
  memset(r, 0, sizeof *r);
  r->in = r->out = r->err = r->handshake = r->oom = -1;
  const int with_preload = !preboot_broken;
  int in_pipe[2], out_pipe[2], err_pipe[2], sock[2] = {-1, -1};
  if (pipe2(in_pipe, O_CLOEXEC) < 0) return -1;
  if (pipe2(out_pipe, O_CLOEXEC) < 0) {
    close(in_pipe[0]);
    close(in_pipe[1]);
    return -1;
  }
  if (pipe2(err_pipe, O_CLOEXEC) < 0) {
    int fds[] = {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]};
    for (int i = 0; i < 4; ++i) close(fds[i]);
    return -1;
  }
  if (with_preload && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) < 0) {
    int fds[] = {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]};
    for (int i = 0; i < 6; ++i) close(fds[i]);
    return -1;
  }
  pid_t child = fork();
  if (child == 0) {
    setsid();
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    if (with_preload) {
      /* Open across the exec at 3 (dup2 clears close-on-exec, but not when it is 3 already). */
      if (sock[1] == 3) {
        fcntl(3, F_SETFD, 0);
      } else {
        dup2(sock[1], 3);
      }
    }
    signal(SIGPIPE, SIG_DFL);
    preboot_env(with_preload);
    execvp(argv[0], argv);
    dprintf(2, "ignite-supervisor: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (with_preload) close(sock[1]);
  if (child < 0) {
    int fds[] = {in_pipe[1], out_pipe[0], err_pipe[0], sock[0]};
    for (int i = 0; i < 4; ++i) {
      if (fds[i] >= 0) close(fds[i]);
    }
    return -1;
  }
  r->pid = child;
  r->in = in_pipe[1];
  r->out = out_pipe[0];
  r->err = err_pipe[0];
  r->handshake = with_preload ? sock[0] : -1;
  return 0;
}

/* Waits for the preload's byte (the runtime is non-dumpable from then on) and takes its
 * oom_score_adj descriptor. -1 when the runtime died first, or did not answer in time (then
 * no later runtime gets the preload). */
static int await_handshake(struct runtime* r) {
  if (r->ready) return 0;
  if (r->handshake < 0) return -1;
  struct pollfd p = {r->handshake, POLLIN, 0};
  int rc;
  while ((rc = poll(&p, 1, HANDSHAKE_MS)) < 0 && errno == EINTR) {
  }
  if (rc == 0) {
    dprintf(2, "ignite-supervisor: the runtime did not load %s; booting each job's runtime "
               "when it arrives\n", PREBOOT_LIBRARY);
    preboot_broken = 1;
    close_fd(&r->handshake);
    return -1;
  }
  char byte = 0;
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {&byte, 1};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = recvmsg(r->handshake, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  close_fd(&r->handshake);
  if (n != 1) return -1; /* it died before its preload ran */
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(&r->oom, CMSG_DATA(c), sizeof(int));
  }
  r->ready = 1;
  return 0;
}

static int alive(struct runtime* r) {
  if (r->pid <= 0 || r->dead) return 0;
  int st;
  pid_t w = waitpid(r->pid, &st, WNOHANG);
  if (w == r->pid) note_reaped(w, st);
  return !r->dead;
}

/* Whether a booted runtime can take its job: alive, not exiting, and no signal pending (the
 * job before may have signalled it just before it was killed: a SIGKILL on its way, or one
 * not delivered yet, would end it during its own job). Stopped is fine: it gets SIGCONT. Its
 * /proc stat and status files stay readable when it is non-dumpable (world-readable). */
static int fit_for_job(struct runtime* r) {
  if (!alive(r)) return 0;
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)r->pid);
  FILE* f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char* after = strrchr(buf, ')');
  char state = 0;
  unsigned long flags = 0;
  /* ") <state> <ppid> <pgrp> <session> <tty> <tpgid> <flags>" */
  if (!after || sscanf(after, ") %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2) return 0;
  if (state == 'Z' || state == 'X' || state == 'x' || (flags & 0x4 /* PF_EXITING */)) return 0;
  snprintf(path, sizeof path, "/proc/%d/status", (int)r->pid);
  f = fopen(path, "r");
  if (!f) return 0;
  int fit = 1;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    unsigned long long mask = 0;
    if ((sscanf(line, "SigPnd: %llx", &mask) == 1 || sscanf(line, "ShdPnd: %llx", &mask) == 1) && mask) fit = 0;
  }
  fclose(f);
  return fit;
}

/* CPU time of a process (all its threads, live and ended), in microseconds; 0 when it is gone.
 * Its process CPU clock, one system call: reading /proc/<pid>/task/<tid>/schedstat instead
 * made the kernel invalidate those /proc entries when each thread was reaped, which cost more
 * than the job's own clean-up (2 ms per job). */
static unsigned long long cpu_us(pid_t pid) {
  if (pid <= 0) return 0;
  clockid_t clock;
  struct timespec ts;
  if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &ts) != 0) return 0;
  return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull;
}

/* The container's CPU time (its cgroup: the same counter the engine reads on the host), in
 * microseconds; 0 when this container cannot read it. cgroup v1 shows the container's own
 * cpuacct group at /sys/fs/cgroup/cpuacct, v2 (a cgroup namespace) its group at the root. */
static unsigned long long cgroup_cpu_us(void) {
  unsigned long long v = 0;
  FILE* f = fopen("/sys/fs/cgroup/cpuacct/cpuacct.usage", "r");
  if (f) {
    if (fscanf(f, "%llu", &v) != 1) v = 0;
    fclose(f);
    return v / 1000ull;
  }
  f = fopen("/sys/fs/cgroup/cpu.stat", "r");
  if (f) {
    if (fscanf(f, "usage_usec %llu", &v) != 1) v = 0;
    fclose(f);
  }
  return v;
}

/* Anonymous memory of a process (RssAnon), in KiB; 0 when it is gone. */
static unsigned long long rss_anon_kb(pid_t pid) {
  if (pid <= 0) return 0;
  char path[64], line[128];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE* f = fopen(path, "r");
  if (!f) return 0;
  unsigned long long kb = 0;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "RssAnon: %llu", &kb) == 1) break;
  }
  fclose(f);
  return kb;
}

/* Holds 127.0.0.1:<port> (and [::1]:<port>) listening, never accepting: Node.js starts its
 * inspector there on SIGUSR1, which a job could send to the next job's pre-booted runtime and
 * then drive it. With the port taken, the inspector cannot start ("address already in use"). */
static int hold_port(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr*)&a, sizeof a) < 0 || listen(fd, 1) < 0) {
    close(fd);
    return -1;
  }
  /* Kept open for the container's life (never accepted from: connections wait in the
   * backlog, then are refused). */
  int fd6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd6 >= 0) {
    struct sockaddr_in6 a6;
    memset(&a6, 0, sizeof a6);
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons((unsigned short)port);
    a6.sin6_addr = in6addr_loopback;
    if (bind(fd6, (struct sockaddr*)&a6, sizeof a6) < 0 || listen(fd6, 1) < 0) close(fd6);
  }
  return 0;
}

/* ---- reuse: one job ---------------------------------------------------------------------- */

/* Kills every process of the container but the supervisor and `spare` (the next job's
 * pre-booted runtime), and reaps them; -1 when some did not go within 2 s. Without a process
 * to spare, kill(-1) reaches all of them at once. */
static int kill_all_but(pid_t spare) {
  if (spare <= 0 || nxt.dead) return kill_others();
  for (int tries = 0; tries < 1000; ++tries) {
    int st;
    for (pid_t w; (w = waitpid(-1, &st, WNOHANG)) > 0;) note_reaped(w, st);
    DIR* d = opendir("/proc");
    if (!d) return -1;
    int others = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
      char* end;
      long pid = strtol(e->d_name, &end, 10);
      if (*end != '\0' || pid <= 1 || pid == spare) continue;
      kill((pid_t)pid, SIGKILL);
      ++others;
    }
    closedir(d);
    if (others == 0) return 0;
    usleep(tries == 0 ? 200 : 2000);
  }
  return -1;
}

/* Writes `remaining` bytes of stdin to the child's `to_child` and relays its stdout and
 * stderr until it exited and its output ended. Returns its wait status; -2 when stdin ended
 * before the job's bytes did. Whatever it left running is killed as soon as it exited (but
 * `spare`). */
static int relay(pid_t child, int to_child, int from_out, int from_err, unsigned long long remaining,
                 pid_t spare) {
  size_t pending = 0; /* taken off our stdin, not yet written to the child */
  char* pbuf = NULL;
  size_t pstart = 0;
  static char relay_buf[CHUNK];
  int status = 0, status_other = 0, exited = 0;
  current_child = child;
  set_nonblock(to_child);

  if (remaining == 0) {
    close(to_child);
    to_child = -1;
  }
  while (from_out >= 0 || from_err >= 0 || to_child >= 0 || remaining > 0) {
    /* Input the child no longer reads is still taken off our stdin: the next job follows it. */
    if (to_child < 0 && remaining > 0) {
      size_t avail = fill();
      if (avail == 0) return -2;
      size_t take = avail < remaining ? avail : (size_t)remaining;
      in_start += take;
      remaining -= take;
      continue;
    }
    if (to_child >= 0 && pending == 0 && remaining > 0) {
      size_t avail = fill();
      if (avail == 0) return -2;
      size_t take = avail < remaining ? avail : (size_t)remaining;
      pbuf = inbuf + in_start;
      pstart = 0;
      pending = take;
      in_start += take;
      remaining -= take;
    }
    struct pollfd fds[3];
    int n = 0, i_in = -1, i_out = -1, i_err = -1;
    if (to_child >= 0 && pending > 0) {
      fds[n] = (struct pollfd){to_child, POLLOUT, 0};
      i_in = n++;
    }
    if (from_out >= 0) {
      fds[n] = (struct pollfd){from_out, POLLIN, 0};
      i_out = n++;
    }
    if (from_err >= 0) {
      fds[n] = (struct pollfd){from_err, POLLIN, 0};
      i_err = n++;
    }
    if (n == 0) break;
    /* The child exiting while a descendant holds its pipes open: stop waiting for them. */
    int r = poll(fds, (nfds_t)n, exited ? 50 : 200);
    if (r < 0 && errno != EINTR) die("poll");
    /* Reap the runtime and any orphan re-parented to us (PID 1) as they end. When the runtime
     * has exited the job is over: what it left behind is killed at once (a process that keeps
     * writing must not keep the job open), and the output already in the pipes is relayed. */
    for (pid_t w; (w = waitpid(-1, &status_other, WNOHANG)) > 0;) {
      note_reaped(w, status_other);
      if (w == child) {
        status = status_other;
        exited = 1;
        current_child = 0;
        kill_all_but(spare);
      }
    }
    if (r <= 0) continue;
    if (i_in >= 0 && fds[i_in].revents) {
      ssize_t w = write(to_child, pbuf + pstart, pending);
      if (w > 0) {
        pstart += (size_t)w;
        pending -= (size_t)w;
        /* pbuf points into inbuf: it must be written out before inbuf is refilled. */
      } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        close(to_child); /* EPIPE: the child stopped reading */
        to_child = -1;
        pending = 0;
      }
      if (to_child >= 0 && pending == 0 && remaining == 0) {
        close(to_child);
        to_child = -1;
      }
    }
    int* fdp[2] = {&from_out, &from_err};
    int idx[2] = {i_out, i_err};
    for (int k = 0; k < 2; ++k) {
      if (idx[k] < 0 || !fds[idx[k]].revents) continue;
      ssize_t got = read(*fdp[k], relay_buf, sizeof relay_buf);
      if (got > 0) {
        write_all(k + 1, relay_buf, (size_t)got);
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(*fdp[k]);
        *fdp[k] = -1;
      }
    }
  }
  if (to_child >= 0) close(to_child);
  if (!exited) {
    for (;;) {
      pid_t w = waitpid(-1, &status_other, 0);
      if (w > 0) note_reaped(w, status_other);
      if (w == child) {
        status = status_other;
        break;
      }
      if (w < 0 && errno != EINTR) break;
    }
  }
  current_child = 0;
  return status;
}

/* Runs one job; returns its status, or -1 when stdin ended, the job was malformed or not
 * authentic, or the container could not be cleaned for another job. */
static int run_job(char** argv, const char* key, char* nonce, int preboot) {
  char header[256];
  if (read_line(header, sizeof header) < 0) return -1;
  unsigned long long env_bytes = 0, input_bytes = 0;
  char key_buf[MAX_NONCE + 1], nonce_buf[MAX_NONCE + 1];
  if (sscanf(header, "JOB %64s %64s %llu %llu", key_buf, nonce_buf, &env_bytes, &input_bytes) != 4) {
    dprintf(2, "ignite-supervisor: malformed job header\n");
    return -1;
  }
  if (strcmp(key_buf, key) != 0) {
    dprintf(2, "ignite-supervisor: a job without the container's key\n");
    return -1;
  }
  strcpy(nonce, nonce_buf);
  if (env_bytes > (64ull << 20)) return -1;

  pid_t child;
  int to_child, from_out, from_err;
  unsigned long long stdin_bytes;
  unsigned long long next_cpu0 = 0, cgroup0 = 0;
  if (preboot) {
    /* The job's bytes (the runner's header, then the input) go to its runtime's stdin as they
     * are. Nothing of this job may run before the next job's runtime is non-dumpable. Its
     * CPU time is read first: the engine counts the cgroup's from the job's dispatch on, and
     * waiting for that runtime's preload is part of its boot, not of this job. */
    cgroup0 = cgroup_cpu_us();
    next_cpu0 = cpu_us(nxt.pid);
    if (nxt.pid > 0 && await_handshake(&nxt) < 0) discard(&nxt);
    if (!fit_for_job(&cur)) {
      discard(&cur);
      if (spawn_runtime(argv, &cur) < 0) die("fork");
    }
    await_handshake(&cur);
    if (cur.oom >= 0) {
      /* Its own job now: no longer the OOM killer's first choice (the next runtime is). */
      if (write(cur.oom, "0", 1) < 0) {
      }
      close_fd(&cur.oom);
    }
    kill(cur.pid, SIGCONT); /* a job before may have stopped it */
    child = cur.pid;
    to_child = cur.in;
    from_out = cur.out;
    from_err = cur.err;
    cur.in = cur.out = cur.err = -1;
    stdin_bytes = env_bytes + input_bytes;
  } else {
    char* env = malloc(env_bytes + 1);
    if (!env) die("malloc");
    if (read_exact(env, env_bytes) < 0) return -1;
    env[env_bytes] = '\0';
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0 ||
        pipe2(err_pipe, O_CLOEXEC) < 0) {
      die("pipe");
    }
    child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
      setsid();
      dup2(in_pipe[0], 0);
      dup2(out_pipe[1], 1);
      dup2(err_pipe[1], 2);
      signal(SIGPIPE, SIG_DFL);
      for (char* p = env; p < env + env_bytes; p += strlen(p) + 1) {
        char* eq = strchr(p, '=');
        if (!eq || eq == p) continue;
        *eq = '\0';
        setenv(p, eq + 1, 1);
        *eq = '=';
      }
      execvp(argv[0], argv);
      dprintf(2, "ignite-supervisor: cannot run %s: %s\n", argv[0], strerror(errno));
      _exit(127);
    }
    free(env);
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    to_child = in_pipe[1];
    from_out = out_pipe[0];
    from_err = err_pipe[0];
    stdin_bytes = input_bytes;
  }

  const pid_t spare = preboot ? nxt.pid : 0;
  const int status = relay(child, to_child, from_out, from_err, stdin_bytes, spare);
  if (status == -2) return -1;
  const int code = status_code(status);
  /* Nothing of this job may reach the next one: processes, /tmp, IPC objects, stray input. */
  int clean = kill_all_but(spare) == 0;
  clean = empty_tmp() == 0 && clean;
  clean = remove_ipc() == 0 && clean;
  drain_stdin();
  if (preboot) {
    /* What the next job's runtime used while this job ran, for the engine to take out of this
     * job's figures (the cgroup counts both): its anonymous memory now, its CPU time since
     * the job arrived. */
    const int next_alive = alive(&nxt);
    const unsigned long long kb = next_alive ? rss_anon_kb(nxt.pid) : 0;
    const unsigned long long now = next_alive ? cpu_us(nxt.pid) : 0;
    const unsigned long long us = now > next_cpu0 ? now - next_cpu0 : 0;
    const unsigned long long cgroup1 = cgroup0 ? cgroup_cpu_us() : 0;
    char line[240];
    int n = snprintf(line, sizeof line, "\x1eIGNITE-END %s %d %llu %llu %llu %llu\n", nonce, code, kb,
                     us, cgroup0, cgroup1);
    if (n > 0) {
      write_all(1, line, (size_t)n);
      write_all(2, line, (size_t)n);
    }
  } else {
    record(1, "END", nonce, code);
    record(2, "END", nonce, code);
  }
  if (!clean) {
    dprintf(2, "ignite-supervisor: the container could not be cleaned for another job\n");
    return -1;
  }
  if (preboot) {
    /* The next job runs in the runtime that booted during this one; the one after it starts
     * booting now, with every process of this job dead (its preload's byte is awaited before
     * the next job starts). */
    discard(&cur);
    cur = nxt;
    memset(&nxt, 0, sizeof nxt);
    nxt.in = nxt.out = nxt.err = nxt.handshake = nxt.oom = -1;
    if (!preboot_broken && spawn_runtime(argv, &nxt) < 0) discard(&nxt);
  }
  return code;
}

static int run_reuse(char** argv, int preboot, int port) {
  char key[MAX_NONCE + 1] = "";
  become_supervisor(key);
  signal(SIGPIPE, SIG_IGN);
  cur.in = cur.out = cur.err = cur.handshake = cur.oom = -1;
  nxt.in = nxt.out = nxt.err = nxt.handshake = nxt.oom = -1;
  if (preboot && port > 0 && hold_port(port) < 0) {
    /* Without the port held, a job could open the next runtime's inspector: no pre-boot. */
    dprintf(2, "ignite-supervisor: cannot hold 127.0.0.1:%d: %s; no pre-boot\n", port, strerror(errno));
    preboot = 0;
  }
  if (preboot) {
    /* Nothing of any job runs yet: both runtimes boot now. */
    if (spawn_runtime(argv, &cur) < 0) discard(&cur);
    if (spawn_runtime(argv, &nxt) < 0) discard(&nxt);
  }
  /* Ready: the engine dispatches the first job once it has read this. */
  write_all(2, "\x1eIGNITE-READY\n", 14);
  char nonce[MAX_NONCE + 1] = "";
  for (;;) {
    if (run_job(argv, key, nonce, preboot) < 0) return 0;
  }
}

int main(int argc, char** argv) {
  if (argc >= 5 && strcmp(argv[1], "file") == 0 && strcmp(argv[3], "--") == 0) {
    return run_file(argv[2], argv + 4);
  }
  int preboot = 0, port = 0, at = 2;
  if (argc >= 3 && strcmp(argv[1], "once") == 0 && strcmp(argv[2], "--early") == 0) at = 3;
  if (argc >= 2 && strcmp(argv[1], "reuse") == 0) {
    for (; at < argc && strcmp(argv[at], "--") != 0; ++at) {
      if (strcmp(argv[at], "--preboot") == 0) {
        preboot = 1;
      } else if (strncmp(argv[at], "--hold-port=", 12) == 0) {
        port = atoi(argv[at] + 12);
      } else if (strncmp(argv[at], "--preboot-env=", 14) == 0 && strchr(argv[at] + 14, '=') &&
                 preboot_env_count < MAX_PREBOOT_ENV) {
        preboot_env_extra[preboot_env_count++] = argv[at] + 14;
      } else {
        break;
      }
    }
  }
  if (argc < at + 2 || strcmp(argv[at], "--") != 0) {
    dprintf(2, "usage: ignite-supervisor once [--early] | reuse [--preboot] [--hold-port=N] "
               "[--preboot-env=NAME=VALUE]... -- <command...> | file <input> -- <command...>\n");
    return 125;
  }
  if (strcmp(argv[1], "once") == 0 && at == 2) return run_once(argv + 3);
  if (strcmp(argv[1], "once") == 0 && at == 3 && strcmp(argv[2], "--early") == 0) {
    return run_once_early(argv + 4);
  }
  if (strcmp(argv[1], "reuse") == 0) return run_reuse(argv + at + 1, preboot, port);
  dprintf(2, "ignite-supervisor: unknown mode %s\n", argv[1]);
  return 125;
}
