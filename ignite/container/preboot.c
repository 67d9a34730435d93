/* ignite-preboot.so: loaded (LD_PRELOAD) into a runtime that the supervisor boots ahead of its
 * job in reuse mode (supervisor.c, "pre-boot"). Its constructor runs before the runtime's own
 * code, while the job before is still running in the same container as the same uid:
 *
 *   1. it opens /proc/self/oom_score_adj and writes 1000 (the pre-boot is the OOM killer's
 *      first victim: a job near its memory limit gets the pre-boot's memory back);
 *   2. it makes the process non-dumpable: its /proc/<pid>/{mem,fd,environ} become root's and
 *      ptrace is refused, so the running job can neither read nor alter it, nor reopen its
 *      stdin (where its job will come from);
 *   3. only then it sends one byte and the oom_score_adj descriptor to the supervisor over the
 *      socket at IGNITE_PREBOOT_FD: the supervisor starts the job before only after this byte,
 *      and lowers the score back to 0 through the descriptor when the pre-boot gets its own job
 *      (a non-dumpable process cannot open its own /proc files any more);
 *   4. it takes IGNITE_PREBOOT_FD and itself (LD_PRELOAD) out of the environment, so nothing
 *      the runtime starts loads it again.
 *
 * Built without libc (-nostdlib, raw system calls): it works with whatever libc the runtime
 * image carries. A statically linked runtime never loads it; the supervisor then gets no byte
 * and boots that runtime when its job arrives instead. x86_64 and aarch64.
 */
#define PREBOOT_PATH "/opt/ignite/ignite-preboot.so"

#if defined(__x86_64__)
#define SYS_write 1
#define SYS_close 3
#define SYS_sendmsg 46
#define SYS_prctl 157
#define SYS_openat 257
static long sys(long n, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
#define SYS_write 64
#define SYS_close 57
#define SYS_sendmsg 211
#define SYS_prctl 167
#define SYS_openat 56
static long sys(long n, long a, long b, long c, long d) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
}
#else
#error "ignite-preboot: unsupported architecture"
#endif

#define AT_FDCWD (-100)
#define O_WRONLY 01
#define O_CLOEXEC 02000000
#define PR_SET_DUMPABLE 4
#define SOL_SOCKET 1
#define SCM_RIGHTS 1

struct iov {
  void* base;
  unsigned long len;
};
struct msg {
  void* name;
  unsigned int namelen;
  struct iov* iov;
  unsigned long iovlen;
  void* control;
  unsigned long controllen;
  int flags;
};
struct cmsg {
  unsigned long len;
  int level;
  int type;
  int fd;
};

/* The value of NAME=... in `env`, or 0. */
static char* value_of(char** env, const char* name) {
  for (char** e = env; *e; ++e) {
    const char* p = *e;
    const char* n = name;
    while (*n && *p == *n) ++p, ++n;
    if (!*n && *p == '=') return (char*)p + 1;
  }
  return 0;
}

static int starts_with(const char* s, const char* prefix) {
  while (*prefix && *s == *prefix) ++s, ++prefix;
  return !*prefix;
}

/* Takes IGNITE_PREBOOT_FD and this library out of `env`, in place: the runtime reads the same
 * array. */
static void remove_entries(char** env) {
  char** out = env;
  for (char** e = env; *e; ++e) {
    if (starts_with(*e, "IGNITE_PREBOOT_FD=")) continue;
    if (starts_with(*e, "LD_PRELOAD=")) {
      char* v = *e + sizeof "LD_PRELOAD=" - 1;
      if (starts_with(v, PREBOOT_PATH)) {
        char* rest = v + sizeof PREBOOT_PATH - 1;
        if (*rest == '\0') continue;
        /* Preloads of the service's own follow ours after a ':': keep them. */
        if (*rest == ':') {
          ++rest;
          char* w = v;
          while ((*w++ = *rest++) != '\0') {
          }
        }
      }
    }
    *out++ = *e;
  }
  *out = 0;
}

__attribute__((constructor)) static void ignite_preboot(int argc, char** argv, char** env) {
  (void)argc;
  (void)argv;
  if (!env) return;
  const char* fd_text = value_of(env, "IGNITE_PREBOOT_FD");
  if (!fd_text) return;
  int fd = 0;
  for (const char* p = fd_text; *p >= '0' && *p <= '9'; ++p) fd = fd * 10 + (*p - '0');
  int oom = (int)sys(SYS_openat, AT_FDCWD, (long)"/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC, 0);
  if (oom >= 0) sys(SYS_write, oom, (long)"1000", 4, 0);
  sys(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0);
  char byte = 'P';
  struct iov iov = {&byte, 1};
  /* cmsg_len is CMSG_LEN(sizeof(int)): the header (16 bytes on LP64) and one descriptor. */
  struct cmsg c = {16 + sizeof(int), SOL_SOCKET, SCM_RIGHTS, oom};
  struct msg m = {0, 0, &iov, 1, oom >= 0 ? &c : 0, oom >= 0 ? sizeof c : 0, 0};
  sys(SYS_sendmsg, fd, (long)&m, 0, 0);
  if (oom >= 0) sys(SYS_close, oom, 0, 0, 0);
  sys(SYS_close, fd, 0, 0, 0);
  remove_entries(env);
}
