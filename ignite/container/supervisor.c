/* ignite-supervisor: PID 1 of every container whose runtime may spawn (cold and pooled; see
 * ignite/src/runner.hpp). There is no docker-init: the supervisor reaps orphans and forwards
 * signals itself, so no process the service can inspect holds anything secret.
 *
 * It is built as a static binary and copied into every per-service image, so it runs in any
 * runtime image, whatever libc that image carries (or none).
 *
 *   ignite-supervisor once  -- <runtime argv...>
 *   ignite-supervisor reuse -- <runtime argv...>
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
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
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
static void become_supervisor(char* key) {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  unsetenv("IGNITE_SUPERVISOR_NONCE"); /* from older engines: never used */
  install_forwarding();
  read_key(key);
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
  current_child = child;
  /* The runtime has stdin now; the supervisor needs it no more. Where /proc does not honour
   * non-dumpability (gVisor), this also leaves the service no stdin of ours to open. */
  close(0);
  /* As PID 1, orphans are ours to reap while the runtime runs. */
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
  current_child = 0;
  const int code = status_code(status);
  kill_others();
  /* On both streams, after everything any process of the container wrote; then the supervisor
   * exits and both streams end, which is what completes the job for the engine. */
  record(1, "EXIT", key, code);
  record(2, "EXIT", key, code);
  return code;
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
  current_child = 0;
  const int code = status_code(status);
  kill_others();
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
static int run_job(char** argv, const char* key, char* nonce) {
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
  char* env = malloc(env_bytes + 1);
  if (!env) die("malloc");
  if (read_exact(env, env_bytes) < 0) return -1;
  env[env_bytes] = '\0';

  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0 ||
      pipe2(err_pipe, O_CLOEXEC) < 0) {
    die("pipe");
  }
  pid_t child = fork();
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
  int to_child = in_pipe[1];
  set_nonblock(to_child);
  int from_out = out_pipe[0], from_err = err_pipe[0];
  unsigned long long remaining = input_bytes; /* still to take from our stdin */
  size_t pending = 0;                         /* taken, not yet written to the child */
  char* pbuf = NULL;
  size_t pstart = 0;
  static char relay[CHUNK];
  int status = 0, status_other = 0, exited = 0;
  current_child = child;

  if (remaining == 0) {
    close(to_child);
    to_child = -1;
  }
  while (from_out >= 0 || from_err >= 0 || to_child >= 0 || remaining > 0) {
    /* Input the child no longer reads is still taken off our stdin: the next job follows it. */
    if (to_child < 0 && remaining > 0) {
      size_t avail = fill();
      if (avail == 0) return -1;
      size_t take = avail < remaining ? avail : (size_t)remaining;
      in_start += take;
      remaining -= take;
      continue;
    }
    if (to_child >= 0 && pending == 0 && remaining > 0) {
      size_t avail = fill();
      if (avail == 0) return -1;
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
      if (w == child) {
        status = status_other;
        exited = 1;
        current_child = 0;
        kill_others();
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
      ssize_t got = read(*fdp[k], relay, sizeof relay);
      if (got > 0) {
        write_all(k + 1, relay, (size_t)got);
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
      if (w == child) {
        status = status_other;
        break;
      }
      if (w < 0 && errno != EINTR) break;
    }
  }
  current_child = 0;
  const int code = status_code(status);
  /* Nothing of this job may reach the next one: processes, /tmp, IPC objects, stray input. */
  int clean = kill_others() == 0;
  clean = empty_tmp() == 0 && clean;
  clean = remove_ipc() == 0 && clean;
  drain_stdin();
  record(1, "END", nonce, code);
  record(2, "END", nonce, code);
  if (!clean) {
    dprintf(2, "ignite-supervisor: the container could not be cleaned for another job\n");
    return -1;
  }
  return code;
}

static int run_reuse(char** argv) {
  char key[MAX_NONCE + 1] = "";
  become_supervisor(key);
  signal(SIGPIPE, SIG_IGN);
  /* Ready: the engine dispatches the first job once it has read this. */
  write_all(2, "\x1eIGNITE-READY\n", 14);
  char nonce[MAX_NONCE + 1] = "";
  for (;;) {
    if (run_job(argv, key, nonce) < 0) return 0;
  }
}

int main(int argc, char** argv) {
  if (argc >= 5 && strcmp(argv[1], "file") == 0 && strcmp(argv[3], "--") == 0) {
    return run_file(argv[2], argv + 4);
  }
  if (argc < 4 || strcmp(argv[2], "--") != 0) {
    dprintf(2, "usage: ignite-supervisor once|reuse -- <command...> | file <input> -- <command...>\n");
    return 125;
  }
  if (strcmp(argv[1], "once") == 0) return run_once(argv + 3);
  if (strcmp(argv[1], "reuse") == 0) return run_reuse(argv + 3);
  dprintf(2, "ignite-supervisor: unknown mode %s\n", argv[1]);
  return 125;
}
