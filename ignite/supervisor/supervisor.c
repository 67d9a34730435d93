/* ignite-supervisor: the first program of every pooled container (ignite/src/pool.hpp).
 *
 * It is built as a static binary and copied into every per-service image, so it runs in any
 * runtime image, whatever libc that image carries (or none).
 *
 *   ignite-supervisor once  -- <runtime argv...>
 *   ignite-supervisor reuse -- <runtime argv...>
 *
 * once: starts the runtime at once (its preloaded runner boots the runtime and then waits for
 * the job on stdin, which the child inherits), waits for it, ends every process it left behind
 * and writes the completion record
 *
 *   \x1eIGNITE-EXIT <nonce> <status>\n
 *
 * on stdout and on stderr, then exits with the same status. <status> is the exit code, or 128 +
 * the signal that ended the runtime. The records save the engine the daemon's exit handling
 * (end of the attach stream, wait), which comes tens of milliseconds after the process ended.
 *
 * reuse: runs jobs one after another, a fresh runtime process per job. Each job on stdin is
 *
 *   JOB <nonce> <env bytes> <input bytes>\n<env: NAME=VALUE\0 ...><input>
 *
 * The runtime gets the container's environment plus the job's, the input on its stdin (then
 * end of file), and its stdout/stderr are relayed. When it has exited and its output ended,
 * every other process of the container's user is killed, /tmp is emptied, and
 *
 *   \x1eIGNITE-END <nonce> <status>\n                        on stdout and on stderr
 *
 * ends the job on both streams (each stream is ordered, so everything before the record on a
 * stream belongs to the job). End of file on stdin ends the supervisor.
 *
 * The nonce of `once` comes from IGNITE_SUPERVISOR_NONCE, which is removed from the environment
 * before the runtime starts; the supervisor makes itself non-dumpable so that the service (same
 * uid) cannot read it from /proc/<pid>/environ. A forged record could only misreport the
 * service's own exit status: the supervisor's record comes last and the last one counts.
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
#include <sys/prctl.h>
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

/* Every process this uid may signal except ourselves and the namespace's init. */
static void kill_others(void) {
  kill(-1, SIGKILL);
  /* Reap what was ours; orphans are the init's. */
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

static int remove_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  (void)st;
  (void)flag;
  if (ftw->level == 0) return 0; /* /tmp itself stays */
  remove(path);
  return 0;
}

static void empty_tmp(void) { nftw("/tmp", remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT); }

static void record(int fd, const char* kind, const char* nonce, int code) {
  char line[160];
  int n = snprintf(line, sizeof line, "\x1eIGNITE-%s %s %d\n", kind, nonce, code);
  if (n > 0) write_all(fd, line, (size_t)n);
}

static int run_once(char** argv) {
  const char* env_nonce = getenv("IGNITE_SUPERVISOR_NONCE");
  char nonce[MAX_NONCE + 1] = "";
  if (env_nonce) {
    strncpy(nonce, env_nonce, MAX_NONCE);
    nonce[MAX_NONCE] = '\0';
  }
  unsetenv("IGNITE_SUPERVISOR_NONCE");
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    execvp(argv[0], argv);
    dprintf(2, "ignite-supervisor: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  /* docker stop/kill signal the init, which forwards to us: pass them on. */
  int status = 0;
  for (;;) {
    pid_t r = waitpid(child, &status, 0);
    if (r == child) break;
    if (r < 0 && errno != EINTR) die("waitpid");
  }
  const int code = status_code(status);
  kill_others();
  if (nonce[0]) {
    /* On both streams, after everything the runtime wrote: each stream is ordered, so the
     * engine has all output once it read both records, without waiting for the daemon to
     * notice the exit and close the attach stream. */
    record(1, "EXIT", nonce, code);
    record(2, "EXIT", nonce, code);
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

/* Runs one job; returns its status, or -1 when stdin ended or was malformed. */
static int run_job(char** argv, char* nonce) {
  char header[256];
  if (read_line(header, sizeof header) < 0) return -1;
  unsigned long long env_bytes = 0, input_bytes = 0;
  char nonce_buf[MAX_NONCE + 1];
  if (sscanf(header, "JOB %64s %llu %llu", nonce_buf, &env_bytes, &input_bytes) != 3) {
    dprintf(2, "ignite-supervisor: malformed job header\n");
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
  int status = 0, exited = 0;

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
    if (!exited) {
      pid_t w = waitpid(child, &status, WNOHANG);
      if (w == child) exited = 1;
    } else if (r == 0) {
      kill_others();
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
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  }
  const int code = status_code(status);
  kill_others();
  empty_tmp();
  record(1, "END", nonce, code);
  record(2, "END", nonce, code);
  return code;
}

static int run_reuse(char** argv) {
  unsetenv("IGNITE_SUPERVISOR_NONCE");
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  signal(SIGPIPE, SIG_IGN);
  /* Ready: the engine dispatches the first job once it has read this. */
  write_all(2, "\x1eIGNITE-READY\n", 14);
  char nonce[MAX_NONCE + 1] = "";
  for (;;) {
    if (run_job(argv, nonce) < 0) return 0;
  }
}

int main(int argc, char** argv) {
  if (argc < 4 || strcmp(argv[2], "--") != 0) {
    dprintf(2, "usage: ignite-supervisor once|reuse -- <command...>\n");
    return 125;
  }
  if (strcmp(argv[1], "once") == 0) return run_once(argv + 3);
  if (strcmp(argv[1], "reuse") == 0) return run_reuse(argv + 3);
  dprintf(2, "ignite-supervisor: unknown mode %s\n", argv[1]);
  return 125;
}
