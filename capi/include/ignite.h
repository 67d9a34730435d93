/*
 * File: ignite.h
 *
 * The C API of Ignite: load a service directory, check it (preflight), run it once in a fresh,
 * hardened Docker container, and read what it produced. A thin layer over the C++
 * `Ignite::Engine` (ignite/engine.hpp); the two behave the same and produce the same JSON.
 * The header is C99 and is the contract: what is not documented here is not API.
 *
 * Example (error handling trimmed; see examples/c/hello.c):
 *
 *   ignite_engine *engine;
 *   ignite_service *svc;
 *   ignite_result *res;
 *   ignite_execute_options opts = IGNITE_EXECUTE_OPTIONS_INIT;
 *   const char *out;
 *   size_t len;
 *   opts.input_json = "{\"name\":\"World\"}";
 *   ignite_engine_new(&engine, NULL);
 *   ignite_service_load(&svc, engine, "examples/services/hello-node");
 *   if (ignite_execute(&res, engine, svc, &opts) == IGNITE_OK &&
 *       ignite_result_stdout(&out, &len, res) == IGNITE_OK)
 *     fwrite(out, 1, len, stdout);
 *   ignite_result_free(res);
 *   ignite_service_free(svc);
 *   ignite_engine_free(engine);
 *
 * Lifecycle
 *   1. ignite_engine_new       one engine per process is typical (it holds the runtime registry,
 *                              the Docker connection and the concurrency limit).
 *   2. ignite_service_load     validate a service directory; the service is an immutable value.
 *   3. ignite_preflight_run    (optional) heuristic checks before running.
 *   4. ignite_execute          run once; a non-zero exit, timeout or limit is an *outcome* in
 *                              the result, not an error code.
 *   5. ignite_result_*         read the result; ignite_report_new for a report.
 *   6. ignite_*_free           in reverse order; every free accepts NULL.
 *
 * Conventions
 *   - Every function that can fail returns an ignite_status: IGNITE_OK (0) or a negative code.
 *     After a failure, ignite_error_last() describes it (on the failing thread).
 *   - Output parameters come first and are named `out` (`out_*` when there are several). A
 *     function that fails sets a pointer `*out` to NULL (when `out` itself is not NULL).
 *   - `T **out` from ignite_<type>_new/load/run/execute: the caller owns the object and
 *     releases it with ignite_<type>_free.
 *   - `const char **out` (borrowed): points into the object passed in and stays valid until
 *     that object is freed. Do not free it.
 *   - `char **out` (owned): a NUL-terminated, malloc-compatible string the caller releases with
 *     ignite_free() (never with free()).
 *   - Strings passed in must be NUL-terminated UTF-8; JSON text must be valid JSON. Anything
 *     else is IGNITE_EINVALID with a message naming the argument.
 *   - Option structs start with `unsigned int version`; initialise them with their
 *     IGNITE_<X>_OPTIONS_INIT macro or ignite_<x>_options_init() so that later versions of the
 *     library can add fields without breaking callers. New fields are only ever appended, and
 *     the version constant grows with them. The library reads, and (for *_init and the
 *     functions that fill a caller's struct, like ignite_engine_pool_stats) writes, only the
 *     fields of the version the caller set: a program built against an older ignite.h keeps
 *     working with a newer libignite.so, and nothing is written past the end of its struct.
 *   - File paths (ignite_service_load, ignite_runtime_load_file, state_dir) are bytes, as the
 *     kernel takes them: they need not be UTF-8 and are never re-encoded. Other text must be
 *     UTF-8.
 *   - Error codes have fixed values: a new code is appended (-14, -15, ...) and no value ever
 *     changes, so a caller may store them or switch on them.
 *
 * Threading
 *   - One engine may be used from many threads at once: executions run concurrently, up to
 *     ignite_engine_options.max_concurrent at a time (the rest wait their turn); loading,
 *     preflight, reports and runtime registration are safe alongside them.
 *   - Services, results, preflights and reports are immutable once returned: read them from
 *     any thread. Free an object only once no other thread uses it, and free the engine last,
 *     after every call on it has returned.
 *   - ignite_cancel_token_cancel may be called from any thread, including while
 *     ignite_execute runs with that token on another thread.
 *   - ignite_error_last() is per thread: read it on the thread whose call failed.
 *   - Output callbacks run on the thread that called ignite_execute, one call at a time.
 *
 * Reentrancy
 *   - A callback (on_output, on_build_log) may read its own arguments and payload, log, and
 *     cancel a token; it must not call back into the same engine (ignite_execute,
 *     ignite_engine_free ...) from inside the callback: the engine is in the middle of that
 *     call. Return non-zero to stop instead (IGNITE_EUSER).
 *   - ignite_error_last() and the *_str functions may be called anywhere, callbacks included.
 *
 * fork()
 *   - An engine owns threads (container removal, the warm pool's refills, the periodic sweep)
 *     and open sockets. After fork() only the calling thread exists in the child: a child must
 *     not use an engine made before the fork, nor free it (it would wait for threads that do
 *     not exist there). Make a new engine in the child, or exec. The parent's engine is not
 *     affected by the fork.
 *   - Objects that own no threads (services, results, preflights, reports, strings) may be
 *     read and freed in the child.
 */
#ifndef IGNITE_H
#define IGNITE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define IGNITE_BEGIN_DECL extern "C" {
#define IGNITE_END_DECL }
#else
#define IGNITE_BEGIN_DECL
#define IGNITE_END_DECL
#endif

/* Declares an exported function: default visibility even in a -fvisibility=hidden build. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define IGNITE_EXTERN(type) extern __attribute__((visibility("default"))) type
#else
#define IGNITE_EXTERN(type) extern type
#endif

IGNITE_BEGIN_DECL

/* ---------------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------------- */

#define IGNITE_C_VERSION_MAJOR 0
#define IGNITE_C_VERSION_MINOR 1
#define IGNITE_C_VERSION_PATCH 0
#define IGNITE_C_VERSION "0.1.0"
/* Comparable: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define IGNITE_C_VERSION_NUMBER \
  (IGNITE_C_VERSION_MAJOR * 10000 + IGNITE_C_VERSION_MINOR * 100 + IGNITE_C_VERSION_PATCH)
/* True when these headers are at least version major.minor.patch. */
#define IGNITE_C_VERSION_CHECK(major, minor, patch) \
  (IGNITE_C_VERSION_NUMBER >= ((major) * 10000 + (minor) * 100 + (patch)))
/* libignite.so.<SOVERSION>: bumped whenever the ABI changes incompatibly. */
#define IGNITE_C_SOVERSION 0

/* The version of the library actually linked, e.g. "0.1.0" (static text). Compare
 * ignite_version_number() with IGNITE_C_VERSION_NUMBER to detect a header/library mismatch. */
IGNITE_EXTERN(const char *) ignite_version(void);
IGNITE_EXTERN(int) ignite_version_number(void);

/* ---------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------- */

/* IGNITE_OK or one of the negative codes below. */
typedef int ignite_status;

/* Codes -1 .. -13 mirror the C++ Ignite::ErrorCode one to one (ignite/error.hpp). The values
 * are fixed: a code added later gets the next free value (-14, -15, ...), never a value in use,
 * so IGNITE_EINTERNAL stays -13 whatever is added. */
enum {
  IGNITE_OK = 0,
  IGNITE_ECONFIG = -1,             /* service.yaml, runtimes.yaml, policy or option invalid */
  IGNITE_ESERVICE = -2,            /* service directory or entry file missing or unreadable */
  IGNITE_ERUNTIME = -3,            /* unknown runtime or version; runtime image missing */
  IGNITE_EBUILD = -4,              /* the per-service image build failed */
  IGNITE_EDOCKER_UNAVAILABLE = -5, /* no Docker daemon answers on the configured socket */
  IGNITE_EDOCKER = -6,             /* the daemon answered with an error (see http_status) */
  IGNITE_EEXECUTION = -7,          /* a container could not be created, started or observed */
  IGNITE_EPREFLIGHT = -8,          /* preflight failed and blocking on failure was requested */
  IGNITE_ELOCK = -9,               /* ignite.lock unreadable, malformed or not writable */
  IGNITE_ENOTFOUND = -10,          /* a named object (image, container ...) does not exist */
  IGNITE_EINVALID = -11,           /* bad argument: NULL, invalid UTF-8, bad JSON, bad value */
  IGNITE_ECANCELLED = -12,         /* the operation was cancelled */
  IGNITE_EINTERNAL = -13,          /* a bug in Ignite (or out of memory) */
  /* Not an Ignite::ErrorCode: a callback returned non-zero and the operation stopped. Kept
   * outside the mirrored range so that range can grow. */
  IGNITE_EUSER = -100
};

/* The last failure on the calling thread. Library-owned: do not free; the message stays
 * valid until the next failing call on this thread (or ignite_error_clear). */
typedef struct ignite_error {
  ignite_status code;  /* IGNITE_OK when no call has failed on this thread */
  const char *message; /* never NULL; names the argument, file or field at fault */
  int http_status;     /* Engine API HTTP status for IGNITE_EDOCKER / IGNITE_ENOTFOUND, else 0 */
} ignite_error;

/* The calling thread's last error; never NULL. Calls that succeed leave it unchanged, so read
 * it right after the failing call. */
IGNITE_EXTERN(const ignite_error *) ignite_error_last(void);

/* Resets the calling thread's last error to {IGNITE_OK, "no error", 0}. */
IGNITE_EXTERN(void) ignite_error_clear(void);

/* Static English text for a status code ("invalid argument" ...); never NULL. */
IGNITE_EXTERN(const char *) ignite_error_str(ignite_status code);

/* ---------------------------------------------------------------------------------------------
 * Memory
 * ------------------------------------------------------------------------------------------- */

/* Releases a string the library handed out through a `char **out` parameter. NULL is a no-op. */
IGNITE_EXTERN(void) ignite_free(void *ptr);

/* ---------------------------------------------------------------------------------------------
 * Handles (opaque; only the library allocates them)
 * ------------------------------------------------------------------------------------------- */

typedef struct ignite_engine ignite_engine;             /* Docker connection, registry, limits */
typedef struct ignite_service ignite_service;           /* a loaded, validated service */
typedef struct ignite_result ignite_result;             /* one execution's result */
typedef struct ignite_preflight ignite_preflight;       /* a preflight result */
typedef struct ignite_report ignite_report;             /* preflight + execution + warnings */
typedef struct ignite_cancel_token ignite_cancel_token; /* cancels executions from any thread */

/* How the service's code reaches the container. */
typedef enum ignite_delivery {
  IGNITE_DELIVERY_DEFAULT = 0, /* the engine's setting (for an engine: AUTO) */
  IGNITE_DELIVERY_AUTO = 1,    /* MOUNT on a local daemon */
  IGNITE_DELIVERY_MOUNT = 2,   /* the directory bind-mounted read-only at /app */
  IGNITE_DELIVERY_BAKED = 3    /* the files copied into the per-service image */
} ignite_delivery;

/* ---------------------------------------------------------------------------------------------
 * Engine
 *
 * Constructor: ignite_engine_new. Destructor: ignite_engine_free. Creating an engine does not
 * contact Docker; the first execution (or ignite_engine_ping) does.
 * ------------------------------------------------------------------------------------------- */

#define IGNITE_ENGINE_OPTIONS_VERSION 5

/* Where executions run (ignite_engine_options.backend). */
typedef enum ignite_backend {
  IGNITE_BACKEND_DEFAULT = 0, /* $IGNITE_BACKEND ("docker" or "swarm"), else DOCKER */
  IGNITE_BACKEND_DOCKER = 1,  /* a container on the daemon at docker_host */
  IGNITE_BACKEND_SWARM = 2    /* a Docker Swarm service: docker_host is a swarm manager, the
                                 per-service image goes through `registry` (docs/scale-out.md) */
} ignite_backend;

/* Engine settings, read once by ignite_engine_new (the struct may be freed afterwards). Start
 * from IGNITE_ENGINE_OPTIONS_INIT or ignite_engine_options_init; 0/NULL fields take the
 * defaults. Bad values are reported by ignite_engine_new (IGNITE_ECONFIG, IGNITE_EINVALID). */
typedef struct ignite_engine_options {
  unsigned int version;      /* IGNITE_ENGINE_OPTIONS_VERSION */
  const char *docker_host;   /* "unix:///path" (or a socket path), "tcp://HOST:PORT" or
                                "ssh://[USER@]HOST[:PORT]"; NULL/"": docker_context,
                                $DOCKER_HOST, $DOCKER_CONTEXT, the docker config's
                                currentContext, else /var/run/docker.sock */
  size_t max_concurrent;     /* executions running at once; 0: the default (8) */
  const char *state_dir;     /* execution history; NULL/"": $IGNITE_STATE_DIR, else
                                $XDG_STATE_HOME/ignite, else ~/.local/state/ignite */
  ignite_delivery delivery;  /* default code delivery for executions; DEFAULT: AUTO */
  int pids_limit;            /* container pids limit; 0: the default (256) */
  const char *tmpfs_size;    /* size of the /tmp tmpfs, e.g. "64m"; NULL/"": the default */
  /* Version 2: the warm pool (see "Warm pool" below). A version 1 struct ends above; the
   * library reads and writes only the fields of the version the caller sets. */
  size_t pool_size;               /* ready containers kept per pool key; 0: the pool is off */
  size_t pool_reuse;              /* jobs one pooled container may run, one after another
                                     (service.yaml's `reuse` overrides it); 0: 1 */
  int64_t pool_idle_expiry_ms;    /* a key's ready containers are removed after this long
                                     unused (rounded up to whole seconds); 0: 300000 */
  size_t pool_refill_concurrency; /* containers being started at once, over all keys; 0: 2 */
  double pool_memory_budget_mb;   /* upper bound on the summed memory limits of ready
                                     containers, over all keys; 0: 4096 */
  /* Version 3: bounds on Docker Engine API calls, labels, clean-up. A call that misses its
   * bound fails with IGNITE_EDOCKER_UNAVAILABLE ("the Docker daemon at ... did not answer ...
   * within N ms"); an execution ends within its timeout plus set-up and clean-up bounds made of
   * these (docs/threat-model.md). */
  int64_t metadata_timeout_ms;    /* ping, inspect, list; 0: 10000 */
  int64_t lifecycle_timeout_ms;   /* create, attach, start, kill, wait, remove; 0: 15000 */
  int64_t build_timeout_ms;       /* image builds and imports; 0: 600000 */
  const char *labels;             /* extra container labels, "key=value,key=value" (added to
                                     $IGNITE_LABELS); NULL/"": none. dev.ignite.* keys are
                                     refused (IGNITE_ECONFIG) */
  int64_t sweep_interval_ms;      /* how often untracked containers of the session are looked
                                     for and removed; 0: 60000; -1: never */
  int64_t shutdown_grace_ms;      /* the most ignite_engine_free waits for queued removals
                                     (the rest: the next engine's reaper); 0: 15000 */
  /* Version 4: remote Docker hosts, as the docker CLI reaches them (docs/scale-out.md). A
   * daemon that is not on a unix socket cannot see this host's files: AUTO delivery bakes. */
  const char *docker_context;     /* a docker context name; NULL/"": see docker_host */
  int docker_tls_verify;          /* tcp:// hosts: 1: TLS, verifying the daemon; -1: no TLS;
                                     0: $DOCKER_TLS_VERIFY */
  const char *docker_cert_path;   /* ca.pem, cert.pem, key.pem; NULL/"": $DOCKER_CERT_PATH,
                                     else ~/.docker */
  int allow_plain_tcp;            /* non-zero: allow plain TCP to a non-loopback address
                                     (refused with IGNITE_ECONFIG otherwise) */
  const char *const *ssh_options; /* extra `ssh` arguments for ssh:// hosts, NULL-terminated
                                     (e.g. {"-F", "/path/ssh_config", NULL}); NULL: none */
  /* Version 5: the swarm backend. */
  ignite_backend backend;         /* DEFAULT: $IGNITE_BACKEND, else DOCKER */
  const char *registry;           /* HOST:PORT the swarm's nodes pull per-service images from;
                                     NULL/"": $IGNITE_REGISTRY. Required by SWARM
                                     (IGNITE_ECONFIG without one) */
} ignite_engine_options;

#define IGNITE_ENGINE_OPTIONS_INIT                                                  \
  {                                                                                 \
    IGNITE_ENGINE_OPTIONS_VERSION, NULL, 0, NULL, IGNITE_DELIVERY_DEFAULT, 0, NULL, \
        0, 0, 0, 0, 0.0, 0, 0, 0, NULL, 0, 0, NULL, 0, NULL, 0, NULL,               \
        IGNITE_BACKEND_DEFAULT, NULL                                                \
  }

/* Fills `opts` with the defaults of the given version (pass IGNITE_ENGINE_OPTIONS_VERSION).
 * Only the fields of that version are written (a version 1 struct is shorter).
 * IGNITE_EINVALID for NULL or an unknown version. */
IGNITE_EXTERN(ignite_status)
ignite_engine_options_init(ignite_engine_options *opts, unsigned int version);

/* Creates an engine; `opts` may be NULL for the defaults. *out is owned by the caller:
 * release it with ignite_engine_free. IGNITE_ECONFIG for an unsupported docker_host, a
 * docker context that does not exist, TLS files that are missing or an expired client
 * certificate, or plain TCP to a non-loopback address without allow_plain_tcp;
 * IGNITE_EINVALID for a negative pool_idle_expiry_ms or a pool_memory_budget_mb that is
 * negative or not finite. */
IGNITE_EXTERN(ignite_status)
ignite_engine_new(ignite_engine **out, const ignite_engine_options *opts);

/* Releases the engine. NULL is a no-op. Every other call on it must have returned, and
 * services, results etc. made with it stay valid (they do not refer back to it). Removes the
 * warm pool's ready containers and waits until every queued container removal is done. */
IGNITE_EXTERN(void) ignite_engine_free(ignite_engine *engine);

/* Checks that the Docker daemon answers: IGNITE_OK or IGNITE_EDOCKER_UNAVAILABLE. */
IGNITE_EXTERN(ignite_status) ignite_engine_ping(ignite_engine *engine);

/* The value of the `dev.ignite.session` label on every container this engine creates.
 * Borrowed: valid until the engine is freed. */
IGNITE_EXTERN(ignite_status)
ignite_engine_session_id(const char **out, const ignite_engine *engine);

/* ---------------------------------------------------------------------------------------------
 * Services
 *
 * Constructor: ignite_service_load. Destructor: ignite_service_free. A service is an immutable
 * snapshot of service.yaml; its getters return borrowed values valid until it is freed.
 * ------------------------------------------------------------------------------------------- */

/* Loads and validates `<path>/service.yaml` against the engine's runtime registry.
 * IGNITE_ECONFIG: service.yaml invalid (every problem listed, each naming its field);
 * IGNITE_ESERVICE: the directory, file or entry cannot be read (the message names the path).
 * *out is owned by the caller: release it with ignite_service_free. */
IGNITE_EXTERN(ignite_status)
ignite_service_load(ignite_service **out, ignite_engine *engine, const char *path);

/* Releases a service. NULL is a no-op. Results made from it stay valid. */
IGNITE_EXTERN(void) ignite_service_free(ignite_service *service);

/* service.name, e.g. "hello-node" (borrowed). */
IGNITE_EXTERN(ignite_status) ignite_service_name(const char **out, const ignite_service *service);
/* service.runtime as written, e.g. "node@20" (borrowed). */
IGNITE_EXTERN(ignite_status)
ignite_service_runtime(const char **out, const ignite_service *service);
/* service.entry, normalised relative path (borrowed). */
IGNITE_EXTERN(ignite_status) ignite_service_entry(const char **out, const ignite_service *service);
/* Absolute path of the service directory (borrowed). */
IGNITE_EXTERN(ignite_status) ignite_service_path(const char **out, const ignite_service *service);
/* service.memoryMb. */
IGNITE_EXTERN(ignite_status) ignite_service_memory_mb(double *out, const ignite_service *service);
/* service.timeoutMs. */
IGNITE_EXTERN(ignite_status) ignite_service_timeout_ms(double *out, const ignite_service *service);
/* The service configuration as JSON ({name, runtime, entry, memoryMb, timeoutMs, cpuLimit?,
 * network?, env?}). Owned: release with ignite_free. */
IGNITE_EXTERN(ignite_status) ignite_service_json(char **out, const ignite_service *service);

/* ---------------------------------------------------------------------------------------------
 * Cancellation
 *
 * Constructor: ignite_cancel_token_new. Destructor: ignite_cancel_token_free.
 *   1. create a token and set it in ignite_execute_options.cancel;
 *   2. from any thread, ignite_cancel_token_cancel: every execution using the token stops, its
 *      container is killed and removed, and ignite_execute returns IGNITE_OK with outcome
 *      IGNITE_OUTCOME_CANCELLED;
 *   3. free the token after those ignite_execute calls have returned.
 * A token stays cancelled: use a new one for the next run. A token cancelled before
 * ignite_execute starts makes that execution end as cancelled at once.
 * ------------------------------------------------------------------------------------------- */

/* Creates a token that is not cancelled. *out is owned by the caller: release it with
 * ignite_cancel_token_free. IGNITE_EINVALID for a NULL out. */
IGNITE_EXTERN(ignite_status) ignite_cancel_token_new(ignite_cancel_token **out);
/* Thread-safe; cancelling twice is harmless. */
IGNITE_EXTERN(ignite_status) ignite_cancel_token_cancel(ignite_cancel_token *token);
/* *out = 1 once cancelled, else 0. */
IGNITE_EXTERN(ignite_status)
ignite_cancel_token_is_cancelled(int *out, const ignite_cancel_token *token);
/* Releases a token. NULL is a no-op; no ignite_execute may still be using it. */
IGNITE_EXTERN(void) ignite_cancel_token_free(ignite_cancel_token *token);

/* ---------------------------------------------------------------------------------------------
 * Execution
 *
 * ignite_execute runs the service once in a fresh container (or one from the warm pool, see
 * below) and queues the container's removal, whatever happened (a reuse-mode container with
 * jobs left is kept for the next one): the removal finishes in the background, after
 * ignite_execute returned (ignite_engine_flush waits for it). It fails
 * (negative status, no result) only when Ignite could not run the service: Docker unreachable,
 * runtime image missing, bad options. What the service did is the result's outcome.
 * ------------------------------------------------------------------------------------------- */

/* How an execution ended (ignite_result_outcome); the values are fixed. */
typedef enum ignite_outcome {
  IGNITE_OUTCOME_SUCCESS = 0,      /* exit code 0 */
  IGNITE_OUTCOME_ERROR = 1,        /* non-zero exit code */
  IGNITE_OUTCOME_TIMEOUT = 2,      /* killed after the timeout */
  IGNITE_OUTCOME_MEMORY_LIMIT = 3, /* stopped by the kernel's OOM killer */
  IGNITE_OUTCOME_OUTPUT_LIMIT = 4, /* stdout or stderr exceeded output_limit; killed */
  IGNITE_OUTCOME_CANCELLED = 5,    /* a cancel token fired; killed */
  IGNITE_OUTCOME_CPU_LIMIT = 6     /* the CPU time passed the CPU-time limit; killed */
} ignite_outcome;

/* "success", "error", "timeout", "memory_limit", "output_limit", "cancelled", "cpu_limit"
 * (static text; "unknown" for other values). */
IGNITE_EXTERN(const char *) ignite_outcome_str(ignite_outcome outcome);

/* Stream numbers passed to ignite_output_cb. */
enum { IGNITE_STREAM_STDOUT = 1, IGNITE_STREAM_STDERR = 2 };

/* Receives output as it arrives (before truncation): `data` holds `len` bytes, is not
 * NUL-terminated, may contain NULs and is valid only during the call. `stream` is
 * IGNITE_STREAM_STDOUT or IGNITE_STREAM_STDERR. Return 0 to continue; any other value stops the
 * run: the container is killed and removed, the callback is not called again, and
 * ignite_execute returns IGNITE_EUSER without a result. */
typedef int (*ignite_output_cb)(const char *data, size_t len, int stream, void *payload);

/* Receives the per-service image build's output, one line at a time (`len` bytes, not
 * NUL-terminated, valid only during the call), when a build happens. Runs on the calling thread.
 * Return 0 to continue; any other value stops the build (and the call: IGNITE_EUSER). */
typedef int (*ignite_build_log_cb)(const char *line, size_t len, void *payload);

#define IGNITE_EXECUTE_OPTIONS_VERSION 3

/* What one ignite_execute (or ignite_engine_prewarm) asks for, on top of service.yaml. Start
 * from IGNITE_EXECUTE_OPTIONS_INIT or ignite_execute_options_init; 0/NULL fields keep
 * service.yaml's values. Read during the call only; bad values give IGNITE_EINVALID. */
typedef struct ignite_execute_options {
  unsigned int version;            /* IGNITE_EXECUTE_OPTIONS_VERSION */
  const char *input_json;          /* the input as JSON text (on stdin, and in IGNITE_INPUT when
                                      at most 64 KiB); NULL: empty stdin */
  const char *env_json;            /* extra environment as a JSON object of strings; NULL: none */
  const char *const *env_keys;     /* extra environment as parallel arrays of env_count */
  const char *const *env_values;   /*   names and values (applied after env_json: later wins) */
  size_t env_count;
  const char *runtime;             /* runtime override "name[@version]"; NULL: service.yaml's */
  int64_t timeout_ms;              /* 0: service.yaml's timeoutMs */
  double memory_mb;                /* 0: service.yaml's memoryMb (Docker's minimum is 6) */
  double cpus;                     /* 0: service.yaml's cpuLimit, else 1 */
  size_t output_limit;             /* bytes kept per stream; 0: 1 MiB */
  int audit;                       /* non-zero: audit mode (policy file decides network/rootfs,
                                      the result JSON carries securityAudit) */
  ignite_delivery delivery;        /* DEFAULT: the engine's setting */
  ignite_output_cb on_output;      /* NULL: no streaming */
  void *payload;                   /* passed to on_output */
  ignite_cancel_token *cancel;     /* NULL: not cancellable; borrowed for the call */
  /* Version 2. A version 1 struct ends above; the library reads only the fields of the version
   * the caller sets. */
  ignite_build_log_cb on_build_log; /* NULL: build output is not reported */
  void *build_log_payload;          /* passed to on_build_log */
  /* Version 3. */
  double cpu_time_ms;              /* CPU-time limit in ms (user + system of the container);
                                      0: service.yaml's cpuTimeMs; passing it ends the run as
                                      IGNITE_OUTCOME_CPU_LIMIT */
} ignite_execute_options;

#define IGNITE_EXECUTE_OPTIONS_INIT                                                     \
  {                                                                                     \
    IGNITE_EXECUTE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, NULL, 0, 0.0, 0.0, 0, 0, \
        IGNITE_DELIVERY_DEFAULT, NULL, NULL, NULL, NULL, NULL, 0.0                      \
  }

/* Fills `opts` with the defaults of the given version (pass IGNITE_EXECUTE_OPTIONS_VERSION).
 * Only the fields of that version are written (a version 1 struct is shorter). */
IGNITE_EXTERN(ignite_status)
ignite_execute_options_init(ignite_execute_options *opts, unsigned int version);

/* Runs `service` once; `opts` may be NULL for the defaults. Blocks until the service has ended;
 * the container is removed in the background (ignite_engine_flush).
 * *out is owned by the caller: release it with ignite_result_free.
 * IGNITE_EINVALID: bad options (invalid JSON input, env name, non-positive timeout ...);
 * IGNITE_EUSER: on_output or on_build_log returned non-zero; IGNITE_ERUNTIME,
 * IGNITE_EDOCKER_UNAVAILABLE,
 * IGNITE_EDOCKER, IGNITE_EBUILD, IGNITE_EEXECUTION: Ignite could not run it. */
IGNITE_EXTERN(ignite_status)
ignite_execute(ignite_result **out, ignite_engine *engine, const ignite_service *service,
               const ignite_execute_options *opts);

/* Releases a result and every string borrowed from it. NULL is a no-op. */
IGNITE_EXTERN(void) ignite_result_free(ignite_result *result);

/* How the execution ended (IGNITE_OUTCOME_*). Getters on a result return IGNITE_EINVALID for a
 * NULL argument and never fail otherwise; a result may be read from any thread. */
IGNITE_EXTERN(ignite_status) ignite_result_outcome(ignite_outcome *out, const ignite_result *result);
/* The container's exit code (meaningful for SUCCESS and ERROR; 137 after a kill). */
IGNITE_EXTERN(ignite_status) ignite_result_exit_code(int *out, const ignite_result *result);
/* Captured stdout / stderr (at most output_limit bytes): `*out` points at `*out_len` bytes,
 * borrowed from the result. The bytes may contain NULs; a NUL follows them for convenience. */
IGNITE_EXTERN(ignite_status)
ignite_result_stdout(const char **out, size_t *out_len, const ignite_result *result);
IGNITE_EXTERN(ignite_status)
ignite_result_stderr(const char **out, size_t *out_len, const ignite_result *result);
/* *out = 1 when the stream exceeded output_limit and was cut, else 0. */
IGNITE_EXTERN(ignite_status) ignite_result_stdout_truncated(int *out, const ignite_result *result);
IGNITE_EXTERN(ignite_status) ignite_result_stderr_truncated(int *out, const ignite_result *result);
/* *out = 1 when the kernel's OOM killer stopped the container, else 0. */
IGNITE_EXTERN(ignite_status) ignite_result_oom_killed(int *out, const ignite_result *result);
/* *out = 1 when the per-service image had to be built for this run, else 0. */
IGNITE_EXTERN(ignite_status) ignite_result_cold_start(int *out, const ignite_result *result);
/* Wall time from container creation through removal, in whole milliseconds (truncated). */
IGNITE_EXTERN(ignite_status) ignite_result_duration_ms(int64_t *out, const ignite_result *result);
/* The same in microseconds. */
IGNITE_EXTERN(ignite_status) ignite_result_duration_us(int64_t *out, const ignite_result *result);
/* CPU time (user + system) of every process in the container in microseconds, as the kernel
 * accounted it to the container's cgroup; -1 when the host could not observe it. A cold
 * container's whole life counts (the runtime's start-up too); a warm or reused one's from the
 * job's dispatch on. Under gVisor it includes the sandbox's own work. */
IGNITE_EXTERN(ignite_status) ignite_result_cpu_time_us(int64_t *out, const ignite_result *result);

/* The phases of an execution (ignite_result_phase_us). */
typedef enum ignite_phase {
  IGNITE_PHASE_BUILD = 0,  /* per-service image build (0 when reused) */
  IGNITE_PHASE_CREATE = 1, /* container create + attach (0 for a pooled container) */
  IGNITE_PHASE_START = 2,  /* container start */
  IGNITE_PHASE_RUN = 3,    /* from start until the process ended or was killed */
  IGNITE_PHASE_CLEANUP = 4 /* exit status, inspection and queueing the removal */
} ignite_phase;

/* Wall time of one phase in microseconds. IGNITE_EINVALID for an unknown phase. */
IGNITE_EXTERN(ignite_status)
ignite_result_phase_us(int64_t *out, const ignite_result *result, ignite_phase phase);
/* Peak memory of the container in MiB, or -1 when the host could not observe it. */
IGNITE_EXTERN(ignite_status) ignite_result_memory_peak_mb(double *out, const ignite_result *result);
/* The resolved runtime, "name@version" (borrowed). */
IGNITE_EXTERN(ignite_status) ignite_result_runtime(const char **out, const ignite_result *result);
/* The result as JSON (the CLI's `run --json` shape). Owned: release with ignite_free. */
IGNITE_EXTERN(ignite_status) ignite_result_json(char **out, const ignite_result *result);

/* How the container of an execution was obtained. */
typedef enum ignite_container_start {
  IGNITE_CONTAINER_START_COLD = 0,  /* created and started for this execution */
  IGNITE_CONTAINER_START_WARM = 1,  /* taken from the warm pool, used for this execution only */
  IGNITE_CONTAINER_START_REUSED = 2 /* a reuse-mode container that had run earlier jobs of the
                                       same service */
} ignite_container_start;

/* "cold", "warm", "reused" (static text; "unknown" for other values). */
IGNITE_EXTERN(const char *) ignite_container_start_str(ignite_container_start start);

/* Whether the execution's container was cold, warm or reused. */
IGNITE_EXTERN(ignite_status)
ignite_result_container_start(ignite_container_start *out, const ignite_result *result);
/* The Docker id of the container the execution ran in (borrowed). */
IGNITE_EXTERN(ignite_status)
ignite_result_container_id(const char **out, const ignite_result *result);
/* 1-based index of this job among those its container ran (above 1 only in reuse mode). */
IGNITE_EXTERN(ignite_status) ignite_result_container_job(size_t *out, const ignite_result *result);

/* Where the execution ran (the JSON report's execution.placement). Every string is borrowed
 * from the result; node and task are "" on the docker backend. */
typedef struct ignite_placement {
  const char *backend; /* "docker" or "swarm" */
  const char *host;    /* the Docker endpoint, e.g. "unix:///var/run/docker.sock" */
  const char *node;    /* swarm: the node ID the task ran on */
  const char *task;    /* swarm: the task ID */
} ignite_placement;
/* Fills *out with where the execution ran (strings borrowed from the result). IGNITE_EINVALID
 * for a NULL argument; safe from any thread, as every result getter. */
IGNITE_EXTERN(ignite_status)
ignite_result_placement(ignite_placement *out, const ignite_result *result);

/* ---------------------------------------------------------------------------------------------
 * Warm pool
 *
 * Off unless ignite_engine_options.pool_size is set (or pool_reuse / a service's `reuse` is
 * above 1). Containers are created and started ahead of demand, per pool key (the container an
 * execution would get: service image, runtime, memory_mb, cpus, policy and audit, delivery),
 * with the runtime booted and waiting for one job; a pooled execution skips create and start.
 * Each is used for one job (pool_reuse or `reuse` allow more), then removed and replaced in the
 * background. A key's pool is filled by ignite_engine_prewarm or by its first execution (which
 * itself runs cold). Services whose policy sets allowSpawn: false, and custom runtimes without a
 * runner, always run cold. ignite_result_container_start tells which kind an execution got.
 * ------------------------------------------------------------------------------------------- */

#define IGNITE_POOL_STATS_VERSION 1

/* The warm pool's counters over all keys (ignite_engine_pool_stats), a snapshot. */
typedef struct ignite_pool_stats {
  unsigned int version; /* set by the caller: IGNITE_POOL_STATS_VERSION (IGNITE_POOL_STATS_INIT);
                           the library fills the fields of that version */
  size_t ready;         /* started, waiting for a job */
  size_t starting;      /* being created/started */
  size_t created;       /* containers the pool started, in total */
  size_t dispatched;    /* jobs run on pooled containers, in total */
  size_t discarded;     /* ready containers found dead or that failed to start */
  size_t expired;       /* removed after the idle expiry or by ignite_engine_drain_pool */
} ignite_pool_stats;

#define IGNITE_POOL_STATS_INIT { IGNITE_POOL_STATS_VERSION, 0, 0, 0, 0, 0, 0 }

/* Fills the warm pool for what `opts` would run (the same pool key as ignite_execute with these
 * options; NULL: the defaults) up to `count` ready containers (0: pool_size, at least 1) and
 * waits until they are ready (building the service's image first when needed). The fields
 * that shape the container matter (runtime, memory_mb, cpus, audit, delivery), and so do
 * `cancel` (cancelling it ends the wait within a second: IGNITE_ECANCELLED, and what was being
 * started is removed) and `on_build_log`; on_output is ignored (nothing runs yet).
 * *out, when `out` is not NULL, receives how many are ready.
 * IGNITE_ECONFIG when the pool is off or cannot serve this service (the message says why:
 * allowSpawn: false, a runtime without a runner); IGNITE_EINVALID for bad options; the Docker
 * and runtime errors of ignite_execute. */
IGNITE_EXTERN(ignite_status)
ignite_engine_prewarm(size_t *out, ignite_engine *engine, const ignite_service *service,
                      const ignite_execute_options *opts, size_t count);

/* The pool's counters (all 0 before the pool was first used). out->version must be set. */
IGNITE_EXTERN(ignite_status)
ignite_engine_pool_stats(ignite_pool_stats *out, const ignite_engine *engine);

/* Removes every ready container and stops refilling until an execution asks again.
 * ignite_engine_free does this too. */
IGNITE_EXTERN(ignite_status) ignite_engine_drain_pool(ignite_engine *engine);

/* Waits until every container removal queued so far (by executions, the pool, draining) is
 * done, so that the containers no longer exist in the daemon. */
IGNITE_EXTERN(ignite_status) ignite_engine_flush(ignite_engine *engine);

/* Removes every container this engine created that still exists (executions remove their own;
 * this is for hosts shutting down mid-run), after draining the warm pool and waiting for
 * queued removals. *out, when not NULL, receives how many were removed. */
IGNITE_EXTERN(ignite_status) ignite_engine_remove_containers(size_t *out, ignite_engine *engine);

/* Removes containers that dead Ignite processes left on this daemon and, when
 * `service_images` is non-zero, every per-service image no container uses (a cache: the next
 * run rebuilds it) and every dangling Ignite image older than 10 minutes (what an image build
 * that did not finish left), as `ignite gc --images` does. The counts go to *out_containers /
 * *out_images when those are not NULL; with `service_images`, *out_images also counts the
 * dangling images the engine's first contact with the daemon removed. */
IGNITE_EXTERN(ignite_status)
ignite_engine_gc(size_t *out_containers, size_t *out_images, ignite_engine *engine,
                 int service_images);

/* ---------------------------------------------------------------------------------------------
 * Preflight
 *
 * Constructor: ignite_preflight_run. Destructor: ignite_preflight_free.
 * ------------------------------------------------------------------------------------------- */

/* A preflight check's verdict (and the overall one: the worst); the values are fixed. */
typedef enum ignite_check_status {
  IGNITE_CHECK_PASS = 0,
  IGNITE_CHECK_WARN = 1,
  IGNITE_CHECK_FAIL = 2
} ignite_check_status;

/* "pass", "warn", "fail" (static text; "unknown" for other values). */
IGNITE_EXTERN(const char *) ignite_check_status_str(ignite_check_status status);

#define IGNITE_PREFLIGHT_OPTIONS_VERSION 2

/* How ignite_preflight_run runs. Start from IGNITE_PREFLIGHT_OPTIONS_INIT or
 * ignite_preflight_options_init. Read during the call only. */
typedef struct ignite_preflight_options {
  unsigned int version;     /* IGNITE_PREFLIGHT_OPTIONS_VERSION */
  int build_image;          /* non-zero: build the per-service image first if it is missing */
  const char *runtime;      /* runtime override, as in ignite_execute_options; NULL: none */
  ignite_delivery delivery; /* DEFAULT: the engine's setting */
  /* Version 2. A version 1 struct ends above. */
  ignite_build_log_cb on_build_log; /* the image build's output; NULL: not reported */
  void *build_log_payload;          /* passed to on_build_log */
  ignite_cancel_token *cancel;      /* stops a build or Docker call in flight
                                       (IGNITE_ECANCELLED); NULL: not cancellable */
} ignite_preflight_options;

#define IGNITE_PREFLIGHT_OPTIONS_INIT \
  { IGNITE_PREFLIGHT_OPTIONS_VERSION, 0, NULL, IGNITE_DELIVERY_DEFAULT, NULL, NULL, NULL }

/* Fills `opts` with the defaults of the given version; only that version's fields are written. */
IGNITE_EXTERN(ignite_status)
ignite_preflight_options_init(ignite_preflight_options *opts, unsigned int version);

/* Runs the checks (memory, dependencies, timeout, and image size when the image exists).
 * A failed check is data (ignite_preflight_status), not an error. `opts` may be NULL.
 * *out is owned by the caller: release it with ignite_preflight_free. */
IGNITE_EXTERN(ignite_status)
ignite_preflight_run(ignite_preflight **out, ignite_engine *engine, const ignite_service *service,
                     const ignite_preflight_options *opts);

/* Releases a preflight result. NULL is a no-op; reports made from it stay valid. */
IGNITE_EXTERN(void) ignite_preflight_free(ignite_preflight *preflight);

/* The worst status among the checks. */
IGNITE_EXTERN(ignite_status)
ignite_preflight_status(ignite_check_status *out, const ignite_preflight *preflight);
/* {serviceName, timestamp, checks: [{name, status, message, value?, threshold?}],
 *  overallStatus}. Owned: release with ignite_free. */
IGNITE_EXTERN(ignite_status) ignite_preflight_json(char **out, const ignite_preflight *preflight);
/* The `ignite preflight` listing; ANSI colours when `color` is non-zero. Owned: ignite_free. */
IGNITE_EXTERN(ignite_status)
ignite_preflight_text(char **out, const ignite_preflight *preflight, int color);

/* ---------------------------------------------------------------------------------------------
 * Reports
 *
 * Constructor: ignite_report_new. Destructor: ignite_report_free.
 * ------------------------------------------------------------------------------------------- */

/* A report for `preflight` and, when `result` is not NULL, the execution that followed, with
 * the derived warnings. The inputs are copied: they may be freed afterwards. *out is owned by
 * the caller: release it with ignite_report_free. */
IGNITE_EXTERN(ignite_status)
ignite_report_new(ignite_report **out, ignite_engine *engine, const ignite_service *service,
                  const ignite_preflight *preflight, const ignite_result *result);

/* Releases a report. NULL is a no-op. */
IGNITE_EXTERN(void) ignite_report_free(ignite_report *report);

/* {serviceName, timestamp, preflight, execution?, warnings}. Owned: release with ignite_free. */
IGNITE_EXTERN(ignite_status) ignite_report_json(char **out, const ignite_report *report);
/* Plain-text report (no final newline); ANSI colours when `color` is non-zero. Owned. */
IGNITE_EXTERN(ignite_status) ignite_report_text(char **out, const ignite_report *report, int color);

/* ---------------------------------------------------------------------------------------------
 * Environment lock (ignite.lock)
 * ------------------------------------------------------------------------------------------- */

/* Pins the service's files, resolved runtime and (when the daemon answers) base image id in
 * `<service dir>/ignite.lock`, replacing it atomically. IGNITE_ELOCK when it cannot be
 * written. */
IGNITE_EXTERN(ignite_status) ignite_lock_write(ignite_engine *engine, const ignite_service *service);

/* What ignite_lock_check found; the values are fixed. */
typedef enum ignite_lock_state {
  IGNITE_LOCK_NONE = 0,  /* the service has no ignite.lock */
  IGNITE_LOCK_MATCH = 1, /* locked, and nothing changed */
  IGNITE_LOCK_DRIFT = 2  /* locked, and the runtime, base image or a file changed */
} ignite_lock_state;

/* Compares the service with its ignite.lock. `out_text`, when not NULL, receives the
 * environment summary naming every change (owned: release with ignite_free).
 * IGNITE_ELOCK when ignite.lock is unreadable or malformed. */
IGNITE_EXTERN(ignite_status)
ignite_lock_check(ignite_lock_state *out, char **out_text, ignite_engine *engine,
                  const ignite_service *service);

/* ---------------------------------------------------------------------------------------------
 * Runtimes
 *
 * A runtime as JSON (the shape ignite_runtime_list returns and ignite_runtime_register takes):
 *   {"name": "node",
 *    "versions": [{"version": "20", "image": "ignite-runtime/node:20"}, ...],
 *                 (or an object {"20": "ignite-runtime/node:20", ...})
 *    "defaultVersion": "20",          (optional: the first version)
 *    "defaultEntry": "index.js",      (optional)
 *    "fileExtensions": [".js"],       (optional)
 *    "command": ["node"],
 *    "moduleCommand": ["node"]}       (optional: argv for .mjs entries)
 * ------------------------------------------------------------------------------------------- */

/* The engine's runtimes as a JSON array, built-ins first. Owned: release with ignite_free. */
IGNITE_EXTERN(ignite_status) ignite_runtime_list(char **out, ignite_engine *engine);

/* Adds or replaces (by name) the runtime described by `json`. IGNITE_EINVALID for text that is
 * not a JSON object of the shape above, IGNITE_ECONFIG for an incomplete definition. */
IGNITE_EXTERN(ignite_status) ignite_runtime_register(ignite_engine *engine, const char *json);

/* Adds every runtime a runtimes.yaml file declares (all or nothing). IGNITE_ECONFIG naming the
 * file and field on any problem. */
IGNITE_EXTERN(ignite_status) ignite_runtime_load_file(ignite_engine *engine, const char *path);

/* Removes a runtime by name: *out = 1 when it existed, else 0. */
IGNITE_EXTERN(ignite_status)
ignite_runtime_unregister(int *out, ignite_engine *engine, const char *name);

IGNITE_END_DECL

#endif /* IGNITE_H */
