/* ignite-preboot.so: loaded (LD_AUDIT) into a runtime that the supervisor boots ahead of its
 * job in reuse mode (supervisor.c, "pre-boot"). The dynamic linker calls its la_version() as
 * soon as it starts, before it loads and relocates the runtime (a Deno binary takes it 20-70 ms
 * to relocate), and before any code of the runtime's own runs, while the job before is still
 * running in the same container as the same uid. When the environment has
 * IGNITE_PREBOOT_FD=<fd>:
 *
 *   1. it opens /proc/self/oom_score_adj and writes 1000 (the pre-boot is the OOM killer's
 *      first victim: a job near its memory limit gets the pre-boot's memory back);
 *   2. it makes the process non-dumpable: its /proc/<pid>/{mem,fd,environ} become root's and
 *      ptrace is refused, so the running job can neither read nor alter it, nor reopen its
 *      stdin (where its job will come from);
 *   3. only then it sends one byte and the oom_score_adj descriptor to the supervisor over the
 *      socket at <fd>: the supervisor starts the job before only after this byte, and lowers
 *      the score back to 0 through the descriptor when the pre-boot gets its own job (a
 *      non-dumpable process cannot open its own /proc files any more).
 *
 * It returns 0, so the dynamic linker unloads it at once: no auditing, no cost afterwards. The
 * runner takes LD_AUDIT and IGNITE_PREBOOT_FD out of the environment before the job starts.
 * Built without libc (-nostdlib, raw system calls): it loads whatever libc the runtime image
 * carries. A statically linked runtime never loads it; the supervisor then gets no byte and
 * boots that runtime when its job arrives instead. x86_64 and aarch64.
 */
#if defined(__x86_64__)
#define SYS_read 0
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
#define SYS_read 63
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
#define O_RDONLY_CLOEXEC O_CLOEXEC
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

/* The number after IGNITE_PREBOOT_FD= in the environment (/proc/self/environ: the dynamic
 * linker hands an auditor no environment), or -1. */
static int preboot_fd(void) {
  static const char marker[] = "\0IGNITE_PREBOOT_FD=";
  const int mlen = sizeof marker - 1;
  int env = (int)sys(SYS_openat, AT_FDCWD, (long)"/proc/self/environ", O_RDONLY_CLOEXEC, 0);
  if (env < 0) return -1;
  char buf[4096];
  int matched = 1; /* the first variable follows an implied NUL */
  int fd = -1, digits = 0;
  for (;;) {
    long n = sys(SYS_read, env, (long)buf, sizeof buf, 0);
    if (n <= 0) break;
    for (long i = 0; i < n; ++i) {
      const char c = buf[i];
      if (matched == mlen) {
        if (c >= '0' && c <= '9' && digits < 6) {
          fd = (fd < 0 ? 0 : fd * 10) + (c - '0');
          ++digits;
          continue;
        }
        sys(SYS_close, env, 0, 0, 0);
        return digits > 0 && c == '\0' ? fd : -1;
      }
      matched = c == marker[matched] ? matched + 1 : (c == '\0' ? 1 : 0);
    }
  }
  sys(SYS_close, env, 0, 0, 0);
  return -1;
}

unsigned int la_version(unsigned int version) {
  (void)version;
  const int fd = preboot_fd();
  if (fd < 0) return 0;
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
  return 0; /* not an auditor: unloaded at once */
}
