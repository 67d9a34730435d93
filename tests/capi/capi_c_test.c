/* The C API from a C99 program (built with -std=c99 -Wall -Werror -pedantic): the documented
 * lifecycle against the real Docker daemon, ownership of every output, an error path, and the
 * warm pool (prewarm, a warm execution, pool statistics). */
#define _XOPEN_SOURCE 700 /* realpath */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The real directory of an example service (runfiles are symlinks the daemon cannot mount). */
static int example_service(const char *name, char *out) {
  char file[PATH_MAX * 2];
  char real[PATH_MAX];
  const char *srcdir = getenv("TEST_SRCDIR");
  const char *ws = getenv("TEST_WORKSPACE");
  char *slash;
  if (!srcdir || !ws) return 0;
  snprintf(file, sizeof file, "%s/%s/examples/services/%s/service.yaml", srcdir, ws, name);
  if (!realpath(file, real)) return 0;
  slash = strrchr(real, '/');
  if (!slash) return 0;
  *slash = '\0';
  strcpy(out, real);
  return 1;
}

struct capture {
  char out[4096];
  size_t out_len;
  int calls;
};

static int on_output(const char *data, size_t len, int stream, void *payload) {
  struct capture *c = (struct capture *)payload;
  c->calls++;
  if (stream == IGNITE_STREAM_STDOUT && c->out_len + len < sizeof c->out) {
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
  }
  return 0;
}

/* An engine with a warm pool of 2: prewarm, one warm execution, the counters, drain. */
static void pool_checks(const char *dir) {
  ignite_engine_options eopts = IGNITE_ENGINE_OPTIONS_INIT;
  ignite_execute_options xopts = IGNITE_EXECUTE_OPTIONS_INIT;
  ignite_pool_stats stats = IGNITE_POOL_STATS_INIT;
  ignite_engine *engine = NULL;
  ignite_service *svc = NULL;
  ignite_result *res = NULL;
  ignite_container_start start = IGNITE_CONTAINER_START_COLD;
  ignite_outcome outcome = IGNITE_OUTCOME_ERROR;
  const char *out = NULL;
  const char *id = NULL;
  size_t out_len = 0;
  size_t ready = 0;
  size_t job = 0;

  eopts.pool_size = 2;
  CHECK(ignite_engine_new(&engine, &eopts) == IGNITE_OK);
  if (!engine) return;
  CHECK(ignite_service_load(&svc, engine, dir) == IGNITE_OK);
  if (!svc) {
    ignite_engine_free(engine);
    return;
  }
  CHECK(ignite_engine_pool_stats(&stats, engine) == IGNITE_OK && stats.created == 0);
  CHECK(ignite_engine_prewarm(&ready, engine, svc, NULL, 0) == IGNITE_OK && ready == 2);
  CHECK(ignite_engine_pool_stats(&stats, engine) == IGNITE_OK);
  CHECK(stats.ready == 2 && stats.created == 2 && stats.dispatched == 0);

  xopts.input_json = "{\"name\":\"warm C\"}";
  CHECK(ignite_execute(&res, engine, svc, &xopts) == IGNITE_OK);
  if (res) {
    CHECK(ignite_result_outcome(&outcome, res) == IGNITE_OK && outcome == IGNITE_OUTCOME_SUCCESS);
    CHECK(ignite_result_stdout(&out, &out_len, res) == IGNITE_OK);
    CHECK(out_len > 0 && strstr(out, "Hello, warm C!\n") == out);
    CHECK(ignite_result_container_start(&start, res) == IGNITE_OK);
    CHECK(start == IGNITE_CONTAINER_START_WARM);
    CHECK(strcmp(ignite_container_start_str(start), "warm") == 0);
    CHECK(ignite_result_container_id(&id, res) == IGNITE_OK && id != NULL && strlen(id) >= 12);
    CHECK(ignite_result_container_job(&job, res) == IGNITE_OK && job == 1);
  }
  CHECK(ignite_engine_pool_stats(&stats, engine) == IGNITE_OK);
  CHECK(stats.dispatched == 1 && stats.created >= 2);

  /* errors: out->version must be set; the pool-less engine refuses to prewarm */
  stats.version = 0;
  CHECK(ignite_engine_pool_stats(&stats, engine) == IGNITE_EINVALID);
  CHECK(strstr(ignite_error_last()->message, "out->version 0") != NULL);

  CHECK(ignite_engine_drain_pool(engine) == IGNITE_OK);
  CHECK(ignite_engine_flush(engine) == IGNITE_OK);
  ignite_result_free(res);
  ignite_service_free(svc);
  ignite_engine_free(engine);
}

int main(void) {
  char dir[PATH_MAX];
  ignite_engine_options eopts;
  ignite_execute_options xopts = IGNITE_EXECUTE_OPTIONS_INIT;
  ignite_engine *engine = NULL;
  ignite_service *svc = NULL;
  ignite_service *missing = (ignite_service *)&dir; /* must come back NULL */
  ignite_preflight *pf = NULL;
  ignite_result *res = NULL;
  ignite_result *failed = NULL;
  ignite_report *report = NULL;
  ignite_check_status pf_status = IGNITE_CHECK_FAIL;
  ignite_outcome outcome = IGNITE_OUTCOME_ERROR;
  struct capture cap;
  const char *name = NULL;
  const char *out = NULL;
  size_t out_len = 0;
  char *json = NULL;
  char *text = NULL;
  int exit_code = -1;
  int64_t duration = -1;

  memset(&cap, 0, sizeof cap);
  CHECK(strcmp(ignite_version(), IGNITE_C_VERSION) == 0);
  CHECK(ignite_version_number() == IGNITE_C_VERSION_NUMBER);
  CHECK(IGNITE_C_VERSION_CHECK(0, 1, 0));
  CHECK(ignite_error_last() != NULL && ignite_error_last()->code == IGNITE_OK);
  CHECK(example_service("hello-node", dir));

  /* 1. engine */
  CHECK(ignite_engine_options_init(&eopts, IGNITE_ENGINE_OPTIONS_VERSION) == IGNITE_OK);
  eopts.max_concurrent = 2;
  CHECK(ignite_engine_new(&engine, &eopts) == IGNITE_OK);
  CHECK(engine != NULL);
  if (!engine) return 1;
  CHECK(ignite_engine_ping(engine) == IGNITE_OK);

  /* 2. load: errors are codes with a message naming the path */
  CHECK(ignite_service_load(&missing, engine, "/nonexistent/capi-c") == IGNITE_ESERVICE);
  CHECK(missing == NULL);
  CHECK(ignite_error_last()->code == IGNITE_ESERVICE);
  CHECK(strstr(ignite_error_last()->message, "/nonexistent/capi-c") != NULL);
  CHECK(ignite_service_load(&svc, engine, dir) == IGNITE_OK);
  CHECK(svc != NULL);
  if (!svc) return 1;
  CHECK(ignite_service_name(&name, svc) == IGNITE_OK && strcmp(name, "hello-node") == 0);

  /* 3. preflight */
  CHECK(ignite_preflight_run(&pf, engine, svc, NULL) == IGNITE_OK);
  CHECK(ignite_preflight_status(&pf_status, pf) == IGNITE_OK);
  CHECK(pf_status != IGNITE_CHECK_FAIL);

  /* 4. execute, streaming stdout */
  xopts.input_json = "{\"name\":\"C99\"}";
  xopts.on_output = on_output;
  xopts.payload = &cap;
  CHECK(ignite_execute(&res, engine, svc, &xopts) == IGNITE_OK);
  if (!res) return 1;

  /* 5. results: borrowed pointers, owned strings */
  CHECK(ignite_result_outcome(&outcome, res) == IGNITE_OK && outcome == IGNITE_OUTCOME_SUCCESS);
  CHECK(strcmp(ignite_outcome_str(outcome), "success") == 0);
  CHECK(ignite_result_exit_code(&exit_code, res) == IGNITE_OK && exit_code == 0);
  CHECK(ignite_result_duration_ms(&duration, res) == IGNITE_OK && duration > 0);
  CHECK(ignite_result_duration_us(&duration, res) == IGNITE_OK && duration > 0);
  CHECK(ignite_result_phase_us(&duration, res, IGNITE_PHASE_RUN) == IGNITE_OK && duration > 0);
  CHECK(ignite_result_cpu_time_us(&duration, res) == IGNITE_OK && (duration > 0 || duration == -1));
  CHECK(ignite_result_stdout(&out, &out_len, res) == IGNITE_OK);
  CHECK(out_len > 0 && strstr(out, "Hello, C99!\n") == out);
  CHECK(cap.calls >= 1 && cap.out_len == out_len && memcmp(cap.out, out, out_len) == 0);
  CHECK(ignite_result_json(&json, res) == IGNITE_OK && strstr(json, "\"outcome\":\"success\""));
  ignite_free(json);
  CHECK(ignite_report_new(&report, engine, svc, pf, res) == IGNITE_OK);
  CHECK(ignite_report_text(&text, report, 0) == IGNITE_OK && strstr(text, "hello-node") != NULL);
  ignite_free(text);
  CHECK(ignite_report_json(&json, report) == IGNITE_OK && strstr(json, "\"execution\"") != NULL);
  ignite_free(json);

  /* bad arguments never abort */
  CHECK(ignite_execute(NULL, engine, svc, NULL) == IGNITE_EINVALID);
  CHECK(strcmp(ignite_error_last()->message, "ignite_execute: out is NULL") == 0);
  xopts.input_json = "{broken";
  CHECK(ignite_execute(&failed, engine, svc, &xopts) == IGNITE_EINVALID && failed == NULL);
  CHECK(strstr(ignite_error_last()->message, "opts->input_json is not valid JSON") != NULL);

  /* the pool is off by default: prewarm says so */
  CHECK(ignite_engine_prewarm(NULL, engine, svc, NULL, 0) == IGNITE_ECONFIG);
  CHECK(strstr(ignite_error_last()->message, "warm pool is off") != NULL);
  pool_checks(dir);

  /* 6. free in reverse order (NULL is fine) */
  ignite_report_free(report);
  ignite_result_free(res);
  ignite_preflight_free(pf);
  ignite_service_free(svc);
  ignite_engine_free(engine);
  ignite_free(NULL);

  printf("%d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
