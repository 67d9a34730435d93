/* The C API as libgit2-style callers rely on it (C99, -Wall -Werror -pedantic):
 *  - error codes have the fixed values ignite.h publishes;
 *  - a caller compiled against version 1 of the option structs (their layout then, copied
 *    below) works: *_init and the functions that fill a caller's struct write only those
 *    fields, and nothing past them is read (bytes after the struct are poison: a function
 *    pointer read from them would be called when the image builds);
 *  - the counterparts of the C++ API: gc, remove_containers, a cancellable prewarm, the
 *    build-log callback (and stopping through it), paths that are not UTF-8. */
#define _XOPEN_SOURCE 700 /* realpath, mkdtemp */

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ignite.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                               \
  do {                                                                                            \
    ++checks;                                                                                     \
    if (!(cond)) {                                                                                \
      ++failures;                                                                                 \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error %d: %s)\n", __FILE__, __LINE__, #cond, \
              ignite_error_last()->code, ignite_error_last()->message);                           \
    }                                                                                             \
  } while (0)

/* ---- version 1 layouts, as a program built against the first ignite.h has them ---------- */

typedef struct v1_execute_options {
  unsigned int version;
  const char *input_json;
  const char *env_json;
  const char *const *env_keys;
  const char *const *env_values;
  size_t env_count;
  const char *runtime;
  int64_t timeout_ms;
  double memory_mb;
  double cpus;
  size_t output_limit;
  int audit;
  ignite_delivery delivery;
  ignite_output_cb on_output;
  void *payload;
  ignite_cancel_token *cancel;
} v1_execute_options;

typedef struct v1_preflight_options {
  unsigned int version;
  int build_image;
  const char *runtime;
  ignite_delivery delivery;
} v1_preflight_options;

typedef struct v1_engine_options {
  unsigned int version;
  const char *docker_host;
  size_t max_concurrent;
  const char *state_dir;
  ignite_delivery delivery;
  int pids_limit;
  const char *tmpfs_size;
} v1_engine_options;

#define POISON 0xA5
#define GUARD 64

/* Each struct followed by bytes that must stay POISON. */
struct exec_v1 {
  v1_execute_options o;
  unsigned char guard[GUARD];
};
struct preflight_v1 {
  v1_preflight_options o;
  unsigned char guard[GUARD];
};
struct engine_v1 {
  v1_engine_options o;
  unsigned char guard[GUARD];
};

static int untouched(const unsigned char *guard) {
  int i;
  for (i = 0; i < GUARD; ++i) {
    if (guard[i] != POISON) return 0;
  }
  return 1;
}

/* A fresh service (its image does not exist yet, so using it builds one) under TEST_TMPDIR. */
static int fresh_service(const char *name, char *out) {
  char path[PATH_MAX];
  FILE *f;
  const char *tmp = getenv("TEST_TMPDIR");
  snprintf(path, sizeof path, "%s/%s", tmp ? tmp : "/tmp", name);
  mkdir(path, 0755);
  if (!realpath(path, out)) return 0;
  snprintf(path, sizeof path, "%s/service.yaml", out);
  if (!(f = fopen(path, "w"))) return 0;
  fprintf(f,
          "service:\n  name: %s\n  runtime: quickjs\n  entry: index.js\n  memoryMb: 64\n"
          "  timeoutMs: 10000\n",
          name);
  fclose(f);
  snprintf(path, sizeof path, "%s/index.js", out);
  if (!(f = fopen(path, "w"))) return 0;
  fprintf(f, "print('fresh %s');\n", name);
  fclose(f);
  return 1;
}

static void remove_images(const char *name) {
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "docker images -q 'ignite-svc/%s' | xargs -r docker rmi -f >/dev/null 2>&1", name);
  if (system(cmd) != 0) fprintf(stderr, "note: could not remove images of %s\n", name);
}

struct build_log {
  int lines;
  int stop_after; /* 0: never stop */
};

static int on_build_log(const char *line, size_t len, void *payload) {
  struct build_log *b = (struct build_log *)payload;
  (void)line;
  (void)len;
  b->lines++;
  return b->stop_after != 0 && b->lines >= b->stop_after ? 7 : 0;
}

static void error_codes(void) {
  /* The published values: stored and switched on by callers, never renumbered. */
  CHECK(IGNITE_OK == 0);
  CHECK(IGNITE_ECONFIG == -1);
  CHECK(IGNITE_ESERVICE == -2);
  CHECK(IGNITE_ERUNTIME == -3);
  CHECK(IGNITE_EBUILD == -4);
  CHECK(IGNITE_EDOCKER_UNAVAILABLE == -5);
  CHECK(IGNITE_EDOCKER == -6);
  CHECK(IGNITE_EEXECUTION == -7);
  CHECK(IGNITE_EPREFLIGHT == -8);
  CHECK(IGNITE_ELOCK == -9);
  CHECK(IGNITE_ENOTFOUND == -10);
  CHECK(IGNITE_EINVALID == -11);
  CHECK(IGNITE_ECANCELLED == -12);
  CHECK(IGNITE_EINTERNAL == -13);
  CHECK(IGNITE_EUSER == -100);
  CHECK(strcmp(ignite_error_str(IGNITE_EINTERNAL), "internal error") == 0);
}

static void version1_callers(void) {
  struct exec_v1 x;
  struct preflight_v1 p;
  struct engine_v1 e;
  ignite_engine *engine = NULL;
  ignite_service *svc = NULL;
  ignite_result *res = NULL;
  ignite_preflight *pf = NULL;
  ignite_outcome outcome = IGNITE_OUTCOME_ERROR;
  const char *out = NULL;
  size_t len = 0;
  char dir[PATH_MAX];
  char name[64];

  memset(&x, POISON, sizeof x);
  CHECK(ignite_execute_options_init((ignite_execute_options *)(void *)&x.o, 1) == IGNITE_OK);
  CHECK(untouched(x.guard));
  CHECK(x.o.version == 1 && x.o.input_json == NULL && x.o.cancel == NULL && x.o.timeout_ms == 0);

  memset(&p, POISON, sizeof p);
  CHECK(ignite_preflight_options_init((ignite_preflight_options *)(void *)&p.o, 1) == IGNITE_OK);
  CHECK(untouched(p.guard));
  CHECK(p.o.version == 1 && p.o.build_image == 0 && p.o.runtime == NULL);

  memset(&e, POISON, sizeof e);
  CHECK(ignite_engine_options_init((ignite_engine_options *)(void *)&e.o, 1) == IGNITE_OK);
  CHECK(untouched(e.guard));
  CHECK(e.o.version == 1 && e.o.docker_host == NULL && e.o.max_concurrent == 0);

  /* Using them: a build happens (a fresh service), so a build-log callback read from the
   * poison after the struct would be called, and crash. */
  snprintf(name, sizeof name, "capi-v1-%ld", (long)getpid());
  CHECK(fresh_service(name, dir));
  CHECK(ignite_engine_new(&engine, (const ignite_engine_options *)(const void *)&e.o) == IGNITE_OK);
  CHECK(ignite_service_load(&svc, engine, dir) == IGNITE_OK);
  p.o.build_image = 1;
  CHECK(ignite_preflight_run(&pf, engine, svc,
                             (const ignite_preflight_options *)(const void *)&p.o) == IGNITE_OK);
  CHECK(untouched(p.guard));
  x.o.input_json = "{}";
  CHECK(ignite_execute(&res, engine, svc, (const ignite_execute_options *)(const void *)&x.o) ==
        IGNITE_OK);
  CHECK(untouched(x.guard));
  if (res) {
    CHECK(ignite_result_outcome(&outcome, res) == IGNITE_OK && outcome == IGNITE_OUTCOME_SUCCESS);
    CHECK(ignite_result_stdout(&out, &len, res) == IGNITE_OK && strstr(out, "fresh") != NULL);
  }
  ignite_result_free(res);
  res = NULL;
  /* A version the library does not know is refused, naming it. */
  x.o.version = 99;
  CHECK(ignite_execute(&res, engine, svc, (const ignite_execute_options *)(const void *)&x.o) ==
        IGNITE_EINVALID);
  CHECK(strstr(ignite_error_last()->message, "99") != NULL);
  ignite_result_free(res);
  ignite_preflight_free(pf);
  ignite_service_free(svc);
  ignite_engine_free(engine);
  remove_images(name);
}

static void counterparts(void) {
  ignite_engine *engine = NULL;
  ignite_engine_options eopts = IGNITE_ENGINE_OPTIONS_INIT;
  ignite_service *svc = NULL;
  ignite_result *res = NULL;
  ignite_preflight *pf = NULL;
  ignite_execute_options xopts = IGNITE_EXECUTE_OPTIONS_INIT;
  ignite_preflight_options popts = IGNITE_PREFLIGHT_OPTIONS_INIT;
  ignite_cancel_token *token = NULL;
  struct build_log log = {0, 0};
  size_t ready = 99, containers = 99, images = 99, removed = 99;
  char dir[PATH_MAX], dir2[PATH_MAX], bytes_dir[PATH_MAX], name[64], name2[64];
  const char *path = NULL;
  struct timespec t0, t1;
  double ms;
  ignite_status rc;

  /* The build-log callback sees the image build of a fresh service. */
  snprintf(name, sizeof name, "capi-log-%ld", (long)getpid());
  CHECK(fresh_service(name, dir));
  CHECK(ignite_engine_new(&engine, NULL) == IGNITE_OK);
  CHECK(ignite_service_load(&svc, engine, dir) == IGNITE_OK);
  xopts.on_build_log = on_build_log;
  xopts.build_log_payload = &log;
  CHECK(ignite_execute(&res, engine, svc, &xopts) == IGNITE_OK);
  CHECK(log.lines > 0);
  ignite_result_free(res);
  res = NULL;
  ignite_service_free(svc);
  svc = NULL;

  /* ... and stops it when it returns non-zero: IGNITE_EUSER, naming the callback. */
  snprintf(name2, sizeof name2, "capi-stop-%ld", (long)getpid());
  CHECK(fresh_service(name2, dir2));
  CHECK(ignite_service_load(&svc, engine, dir2) == IGNITE_OK);
  log.lines = 0;
  log.stop_after = 1;
  popts.build_image = 1;
  popts.on_build_log = on_build_log;
  popts.build_log_payload = &log;
  CHECK(ignite_preflight_run(&pf, engine, svc, &popts) == IGNITE_EUSER);
  CHECK(pf == NULL);
  CHECK(strstr(ignite_error_last()->message, "on_build_log returned 7") != NULL);
  CHECK(log.lines == 1);
  ignite_service_free(svc);
  svc = NULL;
  ignite_engine_free(engine);
  engine = NULL;

  /* A prewarm whose token is already cancelled ends at once as cancelled, leaving nothing. */
  eopts.pool_size = 2;
  CHECK(ignite_engine_new(&engine, &eopts) == IGNITE_OK);
  CHECK(ignite_service_load(&svc, engine, dir) == IGNITE_OK);
  CHECK(ignite_cancel_token_new(&token) == IGNITE_OK);
  CHECK(ignite_cancel_token_cancel(token) == IGNITE_OK);
  ignite_execute_options_init(&xopts, IGNITE_EXECUTE_OPTIONS_VERSION);
  xopts.cancel = token;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  rc = ignite_engine_prewarm(&ready, engine, svc, &xopts, 2);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ms = (double)(t1.tv_sec - t0.tv_sec) * 1000.0 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  CHECK(rc == IGNITE_ECANCELLED);
  CHECK(ready == 0);
  CHECK(ms < 1000.0);
  printf("[measure] cancelled prewarm returned after %.1f ms\n", ms);
  /* Not cancelled, the same prewarm fills the pool; remove_containers then removes them. */
  xopts.cancel = NULL;
  CHECK(ignite_engine_prewarm(&ready, engine, svc, &xopts, 2) == IGNITE_OK && ready == 2);
  CHECK(ignite_engine_remove_containers(&removed, engine) == IGNITE_OK);
  CHECK(ignite_engine_remove_containers(&removed, engine) == IGNITE_OK && removed == 0);
  CHECK(ignite_engine_remove_containers(NULL, NULL) == IGNITE_EINVALID);
  /* gc: nothing of dead processes to remove here is the common case; the call works and
   * counts. */
  CHECK(ignite_engine_gc(&containers, &images, engine, 0) == IGNITE_OK);
  CHECK(images == 0 && containers != 99);
  ignite_cancel_token_free(token);
  ignite_service_free(svc);
  svc = NULL;

  /* Paths are bytes: a directory whose name is not UTF-8 loads, and reads back the same. */
  snprintf(bytes_dir, sizeof bytes_dir, "%s/caf\xe9-\xff",
           getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp");
  mkdir(bytes_dir, 0755);
  {
    char file[PATH_MAX + 32];
    FILE *f;
    snprintf(file, sizeof file, "%s/service.yaml", bytes_dir);
    f = fopen(file, "w");
    CHECK(f != NULL);
    if (f) {
      fputs(
          "service:\n  name: latin1\n  runtime: quickjs\n  entry: index.js\n  memoryMb: 64\n"
          "  timeoutMs: 5000\n",
          f);
      fclose(f);
    }
    snprintf(file, sizeof file, "%s/index.js", bytes_dir);
    f = fopen(file, "w");
    if (f) {
      fputs("print('hi');\n", f);
      fclose(f);
    }
  }
  CHECK(ignite_service_load(&svc, engine, bytes_dir) == IGNITE_OK);
  if (svc) {
    CHECK(ignite_service_path(&path, svc) == IGNITE_OK);
    CHECK(path != NULL && strstr(path, "caf\xe9-\xff") != NULL);
  }
  ignite_service_free(svc);
  /* A missing one is reported as missing. */
  svc = NULL;
  CHECK(ignite_service_load(&svc, engine, "/nonexistent/\xff") == IGNITE_ESERVICE);
  CHECK(svc == NULL);
  ignite_preflight_free(pf);
  ignite_engine_free(engine);
  remove_images(name);
  remove_images(name2);
}

int main(void) {
  error_codes();
  version1_callers();
  counterparts();
  printf("%d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
