// The C API (capi/include/ignite.h) from C++: every function, its error paths (NULL handles and
// out-params, invalid UTF-8, bad JSON, bad versions, mapped engine errors), and real executions
// on the Docker daemon: streaming, callback stop, cancellation, threads, cleanup.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cstddef>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ignite.h"
#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "tests/test_util.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Ignite::testing::example_service;
using Ignite::testing::eventually;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Engine = std::unique_ptr<ignite_engine, Deleter<ignite_engine, ignite_engine_free>>;
using Service = std::unique_ptr<ignite_service, Deleter<ignite_service, ignite_service_free>>;
using Result = std::unique_ptr<ignite_result, Deleter<ignite_result, ignite_result_free>>;
using Preflight =
    std::unique_ptr<ignite_preflight, Deleter<ignite_preflight, ignite_preflight_free>>;
using Report = std::unique_ptr<ignite_report, Deleter<ignite_report, ignite_report_free>>;
using Token =
    std::unique_ptr<ignite_cancel_token, Deleter<ignite_cancel_token, ignite_cancel_token_free>>;

// A `char **out` string, released with ignite_free.
struct Text {
  char* p = nullptr;
  Text() = default;
  Text(const Text&) = delete;
  Text& operator=(const Text&) = delete;
  ~Text() { ignite_free(p); }
  char** out() { return &p; }
  std::string str() const { return p ? p : "<NULL>"; }
};

std::string last_message() { return ignite_error_last()->message; }
int last_code() { return ignite_error_last()->code; }

// One engine shared by the tests, as a host application would.
Engine& shared_engine() {
  static Engine e = [] {
    ignite_engine* raw = nullptr;
    EXPECT_EQ(ignite_engine_new(&raw, nullptr), IGNITE_OK) << last_message();
    return Engine(raw);
  }();
  return e;
}
ignite_engine* engine() { return shared_engine().get(); }

// Frees the shared engine once every test has run, before exit: as a static destroyed by exit()
// it would run after the exit handlers of the libraries it uses (OpenSSL's cleanup among them).
class FreeSharedEngine : public ::testing::Environment {
 public:
  void TearDown() override { shared_engine().reset(); }
};
[[maybe_unused]] ::testing::Environment* const kFreeSharedEngine =
    ::testing::AddGlobalTestEnvironment(new FreeSharedEngine);

// Containers of `e`'s session still in the daemon, once its queued removals are done
// (executions return before the daemon has deleted their container).
std::vector<json> our_containers(ignite_engine* e = engine()) {
  EXPECT_EQ(ignite_engine_flush(e), IGNITE_OK) << last_message();
  const char* id = nullptr;
  EXPECT_EQ(ignite_engine_session_id(&id, e), IGNITE_OK);
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  return client.containers_list({"dev.ignite.session=" + std::string(id ? id : "")}, true);
}

bool container_exists(const std::string& id) {
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  try {
    client.container_inspect(id);
    return true;
  } catch (const Ignite::Error& e) {
    if (e.code() == Ignite::ErrorCode::NotFound) return false;
    throw;
  }
}

Service load(const fs::path& dir) {
  ignite_service* raw = nullptr;
  EXPECT_EQ(ignite_service_load(&raw, engine(), dir.c_str()), IGNITE_OK) << last_message();
  return Service(raw);
}

// A throwaway node service (all named capi-scratch, so they share one cached image).
struct Scratch {
  TempDir dir;
  Service svc;
  explicit Scratch(const std::string& code, int timeout_ms = 10000,
                   const std::string& runtime = "node@20") {
    write_file(dir.path() / "service.yaml",
               "service:\n  name: capi-scratch\n  runtime: " + runtime +
                   "\n  entry: index.js\n  memoryMb: 128\n  timeoutMs: " +
                   std::to_string(timeout_ms) + "\n");
    write_file(dir.path() / "index.js", code);
    svc = load(dir.path());
  }
};

Result run(const ignite_service* svc, const ignite_execute_options* opts) {
  ignite_result* raw = nullptr;
  EXPECT_EQ(ignite_execute(&raw, engine(), svc, opts), IGNITE_OK) << last_message();
  return Result(raw);
}

std::string out_text(const ignite_result* r) {
  const char* p = nullptr;
  size_t n = 0;
  EXPECT_EQ(ignite_result_stdout(&p, &n, r), IGNITE_OK);
  return std::string(p, n);
}

std::string err_text(const ignite_result* r) {
  const char* p = nullptr;
  size_t n = 0;
  EXPECT_EQ(ignite_result_stderr(&p, &n, r), IGNITE_OK);
  return std::string(p, n);
}

ignite_outcome outcome(const ignite_result* r) {
  ignite_outcome o = IGNITE_OUTCOME_ERROR;
  EXPECT_EQ(ignite_result_outcome(&o, r), IGNITE_OK);
  return o;
}

// Expects `rc` to be IGNITE_EINVALID with a message naming `fn` and containing `what`.
void expect_invalid(int rc, const std::string& fn, const std::string& what) {
  EXPECT_EQ(rc, IGNITE_EINVALID) << fn;
  EXPECT_EQ(last_code(), IGNITE_EINVALID) << fn;
  EXPECT_THAT(last_message(), StartsWith(fn + ": ")) << fn;
  EXPECT_THAT(last_message(), HasSubstr(what)) << fn;
}

const char kBadUtf8[] = "caf\xc3\x28";  // 0xC3 then a non-continuation byte

}  // namespace

// --- Version, errors, memory ---------------------------------------------------------------

TEST(Version, MatchesHeaderAndCppLibrary) {
  EXPECT_STREQ(ignite_version(), IGNITE_C_VERSION);
  EXPECT_STREQ(ignite_version(), "0.1.0");
  EXPECT_EQ(ignite_version_number(), IGNITE_C_VERSION_NUMBER);
  EXPECT_EQ(IGNITE_C_VERSION_NUMBER, 100);
  static_assert(IGNITE_C_VERSION_CHECK(0, 1, 0) && !IGNITE_C_VERSION_CHECK(0, 2, 0));
}

TEST(Errors, StrHasTextForEveryCode) {
  const int codes[] = {IGNITE_OK,         IGNITE_ECONFIG,    IGNITE_ESERVICE,
                       IGNITE_ERUNTIME,   IGNITE_EBUILD,     IGNITE_EDOCKER_UNAVAILABLE,
                       IGNITE_EDOCKER,    IGNITE_EEXECUTION, IGNITE_EPREFLIGHT,
                       IGNITE_ELOCK,      IGNITE_ENOTFOUND,  IGNITE_EINVALID,
                       IGNITE_ECANCELLED, IGNITE_EINTERNAL,  IGNITE_EUSER};
  std::set<std::string> seen;
  for (int c : codes) {
    ASSERT_NE(ignite_error_str(c), nullptr);
    EXPECT_NE(std::string(ignite_error_str(c)), "unknown error code") << c;
    seen.insert(ignite_error_str(c));
  }
  EXPECT_EQ(seen.size(), std::size(codes));
  EXPECT_STREQ(ignite_error_str(-99), "unknown error code");
  EXPECT_STREQ(ignite_error_str(IGNITE_EINVALID), "invalid argument");
  EXPECT_STREQ(ignite_error_str(IGNITE_EUSER), "stopped by a callback");
}

TEST(Errors, LastIsNeverNullAndClearResetsIt) {
  std::thread([] {
    const ignite_error* e = ignite_error_last();
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, IGNITE_OK);
    EXPECT_STREQ(e->message, "no error");
    EXPECT_EQ(ignite_engine_new(nullptr, nullptr), IGNITE_EINVALID);
    EXPECT_EQ(ignite_error_last()->code, IGNITE_EINVALID);
    EXPECT_STREQ(ignite_error_last()->message, "ignite_engine_new: out is NULL");
    // A successful call leaves it as it was.
    EXPECT_EQ(ignite_cancel_token_new(nullptr), IGNITE_EINVALID);
    Token t;
    ignite_cancel_token* raw = nullptr;
    ASSERT_EQ(ignite_cancel_token_new(&raw), IGNITE_OK);
    t.reset(raw);
    EXPECT_STREQ(ignite_error_last()->message, "ignite_cancel_token_new: out is NULL");
    ignite_error_clear();
    EXPECT_EQ(ignite_error_last()->code, IGNITE_OK);
    EXPECT_STREQ(ignite_error_last()->message, "no error");
    EXPECT_EQ(ignite_error_last()->http_status, 0);
  }).join();
}

TEST(Errors, LastErrorIsPerThread) {
  std::atomic<int> ready{0};
  std::string a_msg, b_msg;
  int a_code = 0, b_code = 0;
  auto wait_all = [&] {
    ++ready;
    while (ready.load() < 2) std::this_thread::yield();
  };
  std::thread a([&] {
    ignite_service* s = nullptr;
    EXPECT_EQ(ignite_service_load(&s, engine(), "/nonexistent/capi-thread-a"), IGNITE_ESERVICE);
    wait_all();  // both threads have failed before either reads
    a_code = ignite_error_last()->code;
    a_msg = ignite_error_last()->message;
  });
  std::thread b([&] {
    EXPECT_EQ(ignite_engine_ping(nullptr), IGNITE_EINVALID);
    wait_all();
    b_code = ignite_error_last()->code;
    b_msg = ignite_error_last()->message;
  });
  a.join();
  b.join();
  EXPECT_EQ(a_code, IGNITE_ESERVICE);
  EXPECT_THAT(a_msg, HasSubstr("/nonexistent/capi-thread-a"));
  EXPECT_EQ(b_code, IGNITE_EINVALID);
  EXPECT_EQ(b_msg, "ignite_engine_ping: engine is NULL");
}

TEST(Memory, FreesAcceptNull) {
  ignite_free(nullptr);
  ignite_engine_free(nullptr);
  ignite_service_free(nullptr);
  ignite_result_free(nullptr);
  ignite_preflight_free(nullptr);
  ignite_report_free(nullptr);
  ignite_cancel_token_free(nullptr);
}

TEST(Enums, OutcomeAndCheckStatusText) {
  EXPECT_STREQ(ignite_outcome_str(IGNITE_OUTCOME_SUCCESS), "success");
  EXPECT_STREQ(ignite_outcome_str(IGNITE_OUTCOME_ERROR), "error");
  EXPECT_STREQ(ignite_outcome_str(IGNITE_OUTCOME_TIMEOUT), "timeout");
  EXPECT_STREQ(ignite_outcome_str(IGNITE_OUTCOME_MEMORY_LIMIT), "memory_limit");
  EXPECT_STREQ(ignite_outcome_str(IGNITE_OUTCOME_OUTPUT_LIMIT), "output_limit");
  EXPECT_STREQ(ignite_outcome_str(IGNITE_OUTCOME_CANCELLED), "cancelled");
  EXPECT_STREQ(ignite_outcome_str(IGNITE_OUTCOME_CPU_LIMIT), "cpu_limit");
  EXPECT_STREQ(ignite_outcome_str(static_cast<ignite_outcome>(42)), "unknown");
  EXPECT_STREQ(ignite_outcome_str(static_cast<ignite_outcome>(-1)), "unknown");
  EXPECT_STREQ(ignite_check_status_str(IGNITE_CHECK_PASS), "pass");
  EXPECT_STREQ(ignite_check_status_str(IGNITE_CHECK_WARN), "warn");
  EXPECT_STREQ(ignite_check_status_str(IGNITE_CHECK_FAIL), "fail");
  EXPECT_STREQ(ignite_check_status_str(static_cast<ignite_check_status>(7)), "unknown");
  EXPECT_STREQ(ignite_container_start_str(IGNITE_CONTAINER_START_COLD), "cold");
  EXPECT_STREQ(ignite_container_start_str(IGNITE_CONTAINER_START_WARM), "warm");
  EXPECT_STREQ(ignite_container_start_str(IGNITE_CONTAINER_START_REUSED), "reused");
  EXPECT_STREQ(ignite_container_start_str(static_cast<ignite_container_start>(3)), "unknown");
  EXPECT_STREQ(ignite_container_start_str(static_cast<ignite_container_start>(-1)), "unknown");
}

// Every function that takes a pointer, called with each required pointer NULL.
TEST(Arguments, EveryNullPointerIsInvalidAndNamed) {
  ignite_engine* e = engine();
  Service svc = load(example_service("hello-node"));
  const ignite_service* s = svc.get();
  const char* str = nullptr;
  char* text = nullptr;
  double d = 0;
  int i = 0;
  int64_t i64 = 0;
  size_t len = 0;
  ignite_outcome oc;
  ignite_container_start cst;
  ignite_pool_stats ps = IGNITE_POOL_STATS_INIT;
  ignite_check_status cs;
  ignite_lock_state ls;
  ignite_engine* eout = nullptr;
  ignite_service* sout = nullptr;
  ignite_result* rout = nullptr;
  ignite_preflight* pout = nullptr;
  ignite_report* repout = nullptr;
  ignite_cancel_token* tout = nullptr;
  const ignite_result* r = reinterpret_cast<const ignite_result*>(s);  // never dereferenced:
  const ignite_preflight* pf = nullptr;                                // an earlier arg is NULL
  struct Case {
    std::string fn, arg;
    std::function<int()> call;
  };
  const std::vector<Case> cases = {
      {"ignite_engine_options_init", "opts", [] { return ignite_engine_options_init(nullptr, 1); }},
      {"ignite_engine_new", "out", [] { return ignite_engine_new(nullptr, nullptr); }},
      {"ignite_engine_ping", "engine", [] { return ignite_engine_ping(nullptr); }},
      {"ignite_engine_session_id", "out", [&] { return ignite_engine_session_id(nullptr, e); }},
      {"ignite_engine_session_id", "engine",
       [&] { return ignite_engine_session_id(&str, nullptr); }},
      {"ignite_service_load", "out", [&] { return ignite_service_load(nullptr, e, "."); }},
      {"ignite_service_load", "engine", [&] { return ignite_service_load(&sout, nullptr, "."); }},
      {"ignite_service_load", "path", [&] { return ignite_service_load(&sout, e, nullptr); }},
      {"ignite_service_name", "out", [&] { return ignite_service_name(nullptr, s); }},
      {"ignite_service_name", "service", [&] { return ignite_service_name(&str, nullptr); }},
      {"ignite_service_runtime", "out", [&] { return ignite_service_runtime(nullptr, s); }},
      {"ignite_service_runtime", "service", [&] { return ignite_service_runtime(&str, nullptr); }},
      {"ignite_service_entry", "out", [&] { return ignite_service_entry(nullptr, s); }},
      {"ignite_service_entry", "service", [&] { return ignite_service_entry(&str, nullptr); }},
      {"ignite_service_path", "out", [&] { return ignite_service_path(nullptr, s); }},
      {"ignite_service_path", "service", [&] { return ignite_service_path(&str, nullptr); }},
      {"ignite_service_memory_mb", "out", [&] { return ignite_service_memory_mb(nullptr, s); }},
      {"ignite_service_memory_mb", "service",
       [&] { return ignite_service_memory_mb(&d, nullptr); }},
      {"ignite_service_timeout_ms", "out", [&] { return ignite_service_timeout_ms(nullptr, s); }},
      {"ignite_service_timeout_ms", "service",
       [&] { return ignite_service_timeout_ms(&d, nullptr); }},
      {"ignite_service_json", "out", [&] { return ignite_service_json(nullptr, s); }},
      {"ignite_service_json", "service", [&] { return ignite_service_json(&text, nullptr); }},
      {"ignite_cancel_token_new", "out", [] { return ignite_cancel_token_new(nullptr); }},
      {"ignite_cancel_token_cancel", "token", [] { return ignite_cancel_token_cancel(nullptr); }},
      {"ignite_cancel_token_is_cancelled", "out",
       [&] { return ignite_cancel_token_is_cancelled(nullptr, nullptr); }},
      {"ignite_cancel_token_is_cancelled", "token",
       [&] { return ignite_cancel_token_is_cancelled(&i, nullptr); }},
      {"ignite_execute_options_init", "opts",
       [] { return ignite_execute_options_init(nullptr, 1); }},
      {"ignite_execute", "out", [&] { return ignite_execute(nullptr, e, s, nullptr); }},
      {"ignite_execute", "engine", [&] { return ignite_execute(&rout, nullptr, s, nullptr); }},
      {"ignite_execute", "service", [&] { return ignite_execute(&rout, e, nullptr, nullptr); }},
      {"ignite_result_outcome", "out", [&] { return ignite_result_outcome(nullptr, r); }},
      {"ignite_result_outcome", "result", [&] { return ignite_result_outcome(&oc, nullptr); }},
      {"ignite_result_exit_code", "out", [&] { return ignite_result_exit_code(nullptr, r); }},
      {"ignite_result_exit_code", "result", [&] { return ignite_result_exit_code(&i, nullptr); }},
      {"ignite_result_stdout", "out", [&] { return ignite_result_stdout(nullptr, &len, r); }},
      {"ignite_result_stdout", "out_len", [&] { return ignite_result_stdout(&str, nullptr, r); }},
      {"ignite_result_stdout", "result", [&] { return ignite_result_stdout(&str, &len, nullptr); }},
      {"ignite_result_stderr", "out", [&] { return ignite_result_stderr(nullptr, &len, r); }},
      {"ignite_result_stderr", "out_len", [&] { return ignite_result_stderr(&str, nullptr, r); }},
      {"ignite_result_stderr", "result", [&] { return ignite_result_stderr(&str, &len, nullptr); }},
      {"ignite_result_stdout_truncated", "out",
       [&] { return ignite_result_stdout_truncated(nullptr, r); }},
      {"ignite_result_stdout_truncated", "result",
       [&] { return ignite_result_stdout_truncated(&i, nullptr); }},
      {"ignite_result_stderr_truncated", "out",
       [&] { return ignite_result_stderr_truncated(nullptr, r); }},
      {"ignite_result_stderr_truncated", "result",
       [&] { return ignite_result_stderr_truncated(&i, nullptr); }},
      {"ignite_result_oom_killed", "out", [&] { return ignite_result_oom_killed(nullptr, r); }},
      {"ignite_result_oom_killed", "result", [&] { return ignite_result_oom_killed(&i, nullptr); }},
      {"ignite_result_cold_start", "out", [&] { return ignite_result_cold_start(nullptr, r); }},
      {"ignite_result_cold_start", "result", [&] { return ignite_result_cold_start(&i, nullptr); }},
      {"ignite_result_duration_ms", "out", [&] { return ignite_result_duration_ms(nullptr, r); }},
      {"ignite_result_duration_ms", "result",
       [&] { return ignite_result_duration_ms(&i64, nullptr); }},
      {"ignite_result_duration_us", "out", [&] { return ignite_result_duration_us(nullptr, r); }},
      {"ignite_result_duration_us", "result",
       [&] { return ignite_result_duration_us(&i64, nullptr); }},
      {"ignite_result_cpu_time_us", "out", [&] { return ignite_result_cpu_time_us(nullptr, r); }},
      {"ignite_result_cpu_time_us", "result",
       [&] { return ignite_result_cpu_time_us(&i64, nullptr); }},
      {"ignite_result_phase_us", "out",
       [&] { return ignite_result_phase_us(nullptr, r, IGNITE_PHASE_RUN); }},
      {"ignite_result_phase_us", "result",
       [&] { return ignite_result_phase_us(&i64, nullptr, IGNITE_PHASE_RUN); }},
      {"ignite_result_memory_peak_mb", "out",
       [&] { return ignite_result_memory_peak_mb(nullptr, r); }},
      {"ignite_result_memory_peak_mb", "result",
       [&] { return ignite_result_memory_peak_mb(&d, nullptr); }},
      {"ignite_result_runtime", "out", [&] { return ignite_result_runtime(nullptr, r); }},
      {"ignite_result_runtime", "result", [&] { return ignite_result_runtime(&str, nullptr); }},
      {"ignite_result_json", "out", [&] { return ignite_result_json(nullptr, r); }},
      {"ignite_result_json", "result", [&] { return ignite_result_json(&text, nullptr); }},
      {"ignite_result_container_start", "out",
       [&] { return ignite_result_container_start(nullptr, r); }},
      {"ignite_result_container_start", "result",
       [&] { return ignite_result_container_start(&cst, nullptr); }},
      {"ignite_result_container_id", "out", [&] { return ignite_result_container_id(nullptr, r); }},
      {"ignite_result_container_id", "result",
       [&] { return ignite_result_container_id(&str, nullptr); }},
      {"ignite_result_container_job", "out",
       [&] { return ignite_result_container_job(nullptr, r); }},
      {"ignite_result_placement", "out", [&] { return ignite_result_placement(nullptr, r); }},
      {"ignite_result_placement", "result",
       [&] { ignite_placement p; return ignite_result_placement(&p, nullptr); }},
      {"ignite_result_container_job", "result",
       [&] { return ignite_result_container_job(&len, nullptr); }},
      {"ignite_engine_prewarm", "engine",
       [&] { return ignite_engine_prewarm(&len, nullptr, s, nullptr, 0); }},
      {"ignite_engine_prewarm", "service",
       [&] { return ignite_engine_prewarm(&len, e, nullptr, nullptr, 0); }},
      {"ignite_engine_pool_stats", "out", [&] { return ignite_engine_pool_stats(nullptr, e); }},
      {"ignite_engine_pool_stats", "engine",
       [&] { return ignite_engine_pool_stats(&ps, nullptr); }},
      {"ignite_engine_drain_pool", "engine", [] { return ignite_engine_drain_pool(nullptr); }},
      {"ignite_engine_flush", "engine", [] { return ignite_engine_flush(nullptr); }},
      {"ignite_preflight_options_init", "opts",
       [] { return ignite_preflight_options_init(nullptr, 1); }},
      {"ignite_preflight_run", "out", [&] { return ignite_preflight_run(nullptr, e, s, nullptr); }},
      {"ignite_preflight_run", "engine",
       [&] { return ignite_preflight_run(&pout, nullptr, s, nullptr); }},
      {"ignite_preflight_run", "service",
       [&] { return ignite_preflight_run(&pout, e, nullptr, nullptr); }},
      {"ignite_preflight_status", "out", [&] { return ignite_preflight_status(nullptr, pf); }},
      {"ignite_preflight_status", "preflight", [&] { return ignite_preflight_status(&cs, pf); }},
      {"ignite_preflight_json", "out", [&] { return ignite_preflight_json(nullptr, pf); }},
      {"ignite_preflight_json", "preflight", [&] { return ignite_preflight_json(&text, pf); }},
      {"ignite_preflight_text", "out", [&] { return ignite_preflight_text(nullptr, pf, 0); }},
      {"ignite_preflight_text", "preflight", [&] { return ignite_preflight_text(&text, pf, 1); }},
      {"ignite_report_new", "out", [&] { return ignite_report_new(nullptr, e, s, pf, nullptr); }},
      {"ignite_report_new", "engine",
       [&] { return ignite_report_new(&repout, nullptr, s, pf, nullptr); }},
      {"ignite_report_new", "service",
       [&] { return ignite_report_new(&repout, e, nullptr, pf, nullptr); }},
      {"ignite_report_new", "preflight",
       [&] { return ignite_report_new(&repout, e, s, nullptr, nullptr); }},
      {"ignite_report_json", "out", [&] { return ignite_report_json(nullptr, nullptr); }},
      {"ignite_report_json", "report", [&] { return ignite_report_json(&text, nullptr); }},
      {"ignite_report_text", "out", [&] { return ignite_report_text(nullptr, nullptr, 0); }},
      {"ignite_report_text", "report", [&] { return ignite_report_text(&text, nullptr, 0); }},
      {"ignite_lock_write", "engine", [&] { return ignite_lock_write(nullptr, s); }},
      {"ignite_lock_write", "service", [&] { return ignite_lock_write(e, nullptr); }},
      {"ignite_lock_check", "out", [&] { return ignite_lock_check(nullptr, &text, e, s); }},
      {"ignite_lock_check", "engine", [&] { return ignite_lock_check(&ls, &text, nullptr, s); }},
      {"ignite_lock_check", "service", [&] { return ignite_lock_check(&ls, &text, e, nullptr); }},
      {"ignite_runtime_list", "out", [&] { return ignite_runtime_list(nullptr, e); }},
      {"ignite_runtime_list", "engine", [&] { return ignite_runtime_list(&text, nullptr); }},
      {"ignite_runtime_register", "engine", [&] { return ignite_runtime_register(nullptr, "{}"); }},
      {"ignite_runtime_register", "json", [&] { return ignite_runtime_register(e, nullptr); }},
      {"ignite_runtime_load_file", "engine",
       [&] { return ignite_runtime_load_file(nullptr, "x.yaml"); }},
      {"ignite_runtime_load_file", "path", [&] { return ignite_runtime_load_file(e, nullptr); }},
      {"ignite_runtime_unregister", "out",
       [&] { return ignite_runtime_unregister(nullptr, e, "x"); }},
      {"ignite_runtime_unregister", "engine",
       [&] { return ignite_runtime_unregister(&i, nullptr, "x"); }},
      {"ignite_runtime_unregister", "name",
       [&] { return ignite_runtime_unregister(&i, e, nullptr); }},
  };
  for (const auto& c : cases) {
    ignite_error_clear();
    expect_invalid(c.call(), c.fn, c.arg + " is NULL");
    EXPECT_EQ(last_message(), c.fn + ": " + c.arg + " is NULL");
  }
  EXPECT_EQ(eout, nullptr);
  EXPECT_EQ(sout, nullptr);
  EXPECT_EQ(rout, nullptr);
  EXPECT_EQ(pout, nullptr);
  EXPECT_EQ(repout, nullptr);
  EXPECT_EQ(tout, nullptr);
  EXPECT_EQ(text, nullptr);
}

TEST(Arguments, FailingCallsClearTheOutPointer) {
  ignite_service* s = reinterpret_cast<ignite_service*>(0x1);
  EXPECT_EQ(ignite_service_load(&s, nullptr, "x"), IGNITE_EINVALID);
  EXPECT_EQ(s, nullptr);
  s = reinterpret_cast<ignite_service*>(0x1);
  EXPECT_EQ(ignite_service_load(&s, engine(), "/nonexistent/capi"), IGNITE_ESERVICE);
  EXPECT_EQ(s, nullptr);
  const char* str = "stale";
  EXPECT_EQ(ignite_service_name(&str, nullptr), IGNITE_EINVALID);
  EXPECT_EQ(str, nullptr);
}

// --- Engine ---------------------------------------------------------------------------------

TEST(Engine, OptionsInitMatchesTheMacro) {
  const ignite_engine_options m = IGNITE_ENGINE_OPTIONS_INIT;
  ignite_engine_options o;
  std::memset(&o, 0xAB, sizeof o);
  ASSERT_EQ(ignite_engine_options_init(&o, IGNITE_ENGINE_OPTIONS_VERSION), IGNITE_OK);
  EXPECT_EQ(o.version, m.version);
  EXPECT_EQ(o.docker_host, nullptr);
  EXPECT_EQ(o.max_concurrent, 0u);
  EXPECT_EQ(o.state_dir, nullptr);
  EXPECT_EQ(o.delivery, IGNITE_DELIVERY_DEFAULT);
  EXPECT_EQ(o.pids_limit, 0);
  EXPECT_EQ(o.tmpfs_size, nullptr);
  EXPECT_EQ(o.pool_size, 0u);
  EXPECT_EQ(o.pool_reuse, 0u);
  EXPECT_EQ(o.pool_idle_expiry_ms, 0);
  EXPECT_EQ(o.pool_refill_concurrency, 0u);
  EXPECT_EQ(o.pool_memory_budget_mb, 0.0);
  EXPECT_EQ(o.metadata_timeout_ms, 0);
  EXPECT_EQ(o.lifecycle_timeout_ms, 0);
  EXPECT_EQ(o.build_timeout_ms, 0);
  EXPECT_EQ(o.labels, nullptr);
  EXPECT_EQ(o.sweep_interval_ms, 0);
  EXPECT_EQ(o.shutdown_grace_ms, 0);
  EXPECT_EQ(o.docker_context, nullptr);
  EXPECT_EQ(o.docker_tls_verify, 0);
  EXPECT_EQ(o.docker_cert_path, nullptr);
  EXPECT_EQ(o.allow_plain_tcp, 0);
  EXPECT_EQ(o.ssh_options, nullptr);
  EXPECT_EQ(o.backend, IGNITE_BACKEND_DEFAULT);
  EXPECT_EQ(o.registry, nullptr);
  EXPECT_EQ(std::memcmp(&o, &m, sizeof o), 0);
  expect_invalid(ignite_engine_options_init(&o, 0), "ignite_engine_options_init",
                 "version 0 is not supported");
  expect_invalid(ignite_engine_options_init(&o, 99), "ignite_engine_options_init",
                 "version 99 is not supported");
}

// A program built against version 1 of ignite.h has the struct without the pool fields: init
// with version 1 must not write past them, and the engine must not read them.
TEST(Engine, Version1OptionsEndBeforeThePoolFields) {
  const std::size_t v1_size = offsetof(ignite_engine_options, pool_size);
  EXPECT_EQ(v1_size, offsetof(ignite_engine_options, tmpfs_size) + sizeof(const char*));
  ignite_engine_options o;
  std::memset(&o, 0xAB, sizeof o);
  ASSERT_EQ(ignite_engine_options_init(&o, 1), IGNITE_OK);
  EXPECT_EQ(o.version, 1u);
  EXPECT_EQ(o.max_concurrent, 0u);
  EXPECT_EQ(o.tmpfs_size, nullptr);
  const auto* bytes = reinterpret_cast<const unsigned char*>(&o);
  for (std::size_t i = v1_size; i < sizeof o; ++i) ASSERT_EQ(bytes[i], 0xAB) << "byte " << i;
  // Garbage where a version 1 struct has none (negative expiry, NaN budget) is never read.
  ignite_engine* e = nullptr;
  ASSERT_EQ(ignite_engine_new(&e, &o), IGNITE_OK) << last_message();
  Engine owned(e);
  Service svc = load(example_service("hello-quickjs"));
  size_t ready = 7;
  EXPECT_EQ(ignite_engine_prewarm(&ready, e, svc.get(), nullptr, 1), IGNITE_ECONFIG);
  EXPECT_EQ(ready, 0u);
  EXPECT_THAT(last_message(), HasSubstr("the warm pool is off"));
}

TEST(Engine, NewWithOptionsAndErrors) {
  ignite_engine* e = nullptr;
  ASSERT_EQ(ignite_engine_new(&e, nullptr), IGNITE_OK);
  ignite_engine_free(e);

  TempDir state;
  const std::string state_dir = state.path().string();
  ignite_engine_options o = IGNITE_ENGINE_OPTIONS_INIT;
  o.max_concurrent = 2;
  o.state_dir = state_dir.c_str();
  o.delivery = IGNITE_DELIVERY_MOUNT;
  o.pids_limit = 128;
  o.tmpfs_size = "32m";
  ASSERT_EQ(ignite_engine_new(&e, &o), IGNITE_OK) << last_message();
  Engine owned(e);
  EXPECT_EQ(ignite_engine_ping(e), IGNITE_OK) << last_message();

  e = reinterpret_cast<ignite_engine*>(0x1);
  o.docker_host = "ftp://127.0.0.1:2375";
  EXPECT_EQ(ignite_engine_new(&e, &o), IGNITE_ECONFIG);
  EXPECT_EQ(e, nullptr);
  EXPECT_THAT(last_message(), HasSubstr("ftp://127.0.0.1:2375"));
  o.docker_host = kBadUtf8;
  expect_invalid(ignite_engine_new(&e, &o), "ignite_engine_new",
                 "opts->docker_host is not valid UTF-8 (byte 3)");
  o.docker_host = nullptr;
  o.delivery = static_cast<ignite_delivery>(9);
  expect_invalid(ignite_engine_new(&e, &o), "ignite_engine_new", "opts->delivery 9");
  o.delivery = IGNITE_DELIVERY_DEFAULT;
  o.pool_idle_expiry_ms = -1;
  expect_invalid(ignite_engine_new(&e, &o), "ignite_engine_new",
                 "opts->pool_idle_expiry_ms must not be negative (got -1)");
  o.pool_idle_expiry_ms = 0;
  o.pool_memory_budget_mb = -5;
  expect_invalid(ignite_engine_new(&e, &o), "ignite_engine_new", "opts->pool_memory_budget_mb");
  o.pool_memory_budget_mb = std::numeric_limits<double>::quiet_NaN();
  expect_invalid(ignite_engine_new(&e, &o), "ignite_engine_new", "opts->pool_memory_budget_mb");
  o.pool_memory_budget_mb = 0;
  o.lifecycle_timeout_ms = -1;
  expect_invalid(ignite_engine_new(&e, &o), "ignite_engine_new",
                 "opts->lifecycle_timeout_ms must not be negative (got -1)");
  o.lifecycle_timeout_ms = 0;
  o.sweep_interval_ms = -2;
  expect_invalid(ignite_engine_new(&e, &o), "ignite_engine_new", "opts->sweep_interval_ms");
  o.sweep_interval_ms = 0;
  o.labels = "no-equals";
  EXPECT_EQ(ignite_engine_new(&e, &o), IGNITE_ECONFIG);
  EXPECT_THAT(last_message(), HasSubstr("opts->labels: \"no-equals\" is not key=value"));
  o.labels = "dev.ignite.session=forged";
  EXPECT_EQ(ignite_engine_new(&e, &o), IGNITE_ECONFIG);
  EXPECT_THAT(last_message(), HasSubstr("dev.ignite.session"));
  o.labels = nullptr;
  o.docker_tls_verify = 2;
  expect_invalid(ignite_engine_new(&e, &o), "ignite_engine_new", "opts->docker_tls_verify");
  o.docker_tls_verify = 0;
  // Version 4: remote hosts. Plain TCP to a non-loopback address only when asked for (nothing
  // is contacted: the engine does not connect before its first call).
  o.docker_host = "tcp://docker.example:2375";
  EXPECT_EQ(ignite_engine_new(&e, &o), IGNITE_ECONFIG);
  EXPECT_THAT(last_message(), HasSubstr("plain TCP (no TLS) to a non-loopback address"));
  o.allow_plain_tcp = 1;
  ASSERT_EQ(ignite_engine_new(&e, &o), IGNITE_OK) << last_message();
  ignite_engine_free(e);
  o.allow_plain_tcp = 0;
  o.docker_tls_verify = 1;
  o.docker_cert_path = "/nonexistent/certs";
  EXPECT_EQ(ignite_engine_new(&e, &o), IGNITE_ECONFIG);
  EXPECT_THAT(last_message(), HasSubstr("/nonexistent/certs/ca.pem"));
  o.docker_tls_verify = 0;
  o.docker_cert_path = nullptr;
  o.docker_host = nullptr;
  o.docker_context = "no-such-context-for-capi";
  EXPECT_EQ(ignite_engine_new(&e, &o), IGNITE_ECONFIG);
  EXPECT_THAT(last_message(), HasSubstr("docker context \"no-such-context-for-capi\" does not exist"));
  o.docker_context = nullptr;
  const char* const bad_ssh[] = {"-F", kBadUtf8, nullptr};
  o.ssh_options = bad_ssh;
  expect_invalid(ignite_engine_new(&e, &o), "ignite_engine_new", "opts->ssh_options[1]");
  o.ssh_options = nullptr;
  o.backend = static_cast<ignite_backend>(7);
  expect_invalid(ignite_engine_new(&e, &o), "ignite_engine_new", "opts->backend: unknown value 7");
  // The swarm backend needs a registry: refused when the engine is made, not at the first run.
  o.backend = IGNITE_BACKEND_SWARM;
  o.registry = "";
  if (const char* env = std::getenv("IGNITE_REGISTRY"); env == nullptr || *env == '\0') {
    EXPECT_EQ(ignite_engine_new(&e, &o), IGNITE_ECONFIG);
    EXPECT_THAT(last_message(), HasSubstr("IGNITE_REGISTRY"));
  }
  o.registry = "http://198.18.0.1:5000/v2";
  EXPECT_EQ(ignite_engine_new(&e, &o), IGNITE_ECONFIG);
  EXPECT_THAT(last_message(), HasSubstr("expected HOST:PORT"));
  o.backend = IGNITE_BACKEND_DEFAULT;
  o.registry = nullptr;
  o.version = 6;
  expect_invalid(ignite_engine_new(&e, &o), "ignite_engine_new", "opts->version 6");
}

// A program built against version 4 of ignite.h has no backend or registry fields.
TEST(Engine, Version4OptionsEndBeforeTheBackend) {
  const std::size_t v4_size = offsetof(ignite_engine_options, backend);
  ignite_engine_options o;
  std::memset(&o, 0xAB, sizeof o);
  ASSERT_EQ(ignite_engine_options_init(&o, 4), IGNITE_OK);
  EXPECT_EQ(o.version, 4u);
  EXPECT_EQ(o.ssh_options, nullptr);
  const auto* bytes = reinterpret_cast<const unsigned char*>(&o);
  for (std::size_t i = v4_size; i < sizeof o; ++i) ASSERT_EQ(bytes[i], 0xAB) << "byte " << i;
  // The garbage backend and registry of a version 4 struct are never read.
  ignite_engine* e = nullptr;
  ASSERT_EQ(ignite_engine_new(&e, &o), IGNITE_OK) << last_message();
  ignite_engine_free(e);
}

// A program built against version 3 of ignite.h has no remote-host fields.
TEST(Engine, Version3OptionsEndBeforeTheRemoteHostFields) {
  const std::size_t v3_size = offsetof(ignite_engine_options, docker_context);
  ignite_engine_options o;
  std::memset(&o, 0xAB, sizeof o);
  ASSERT_EQ(ignite_engine_options_init(&o, 3), IGNITE_OK);
  EXPECT_EQ(o.version, 3u);
  EXPECT_EQ(o.shutdown_grace_ms, 0);
  const auto* bytes = reinterpret_cast<const unsigned char*>(&o);
  for (std::size_t i = v3_size; i < sizeof o; ++i) ASSERT_EQ(bytes[i], 0xAB) << "byte " << i;
  ignite_engine* e = nullptr;
  ASSERT_EQ(ignite_engine_new(&e, &o), IGNITE_OK) << last_message();  // garbage never read
  ignite_engine_free(e);
}

// A program built against version 2 of ignite.h has no timeout, label or clean-up fields.
TEST(Engine, Version2OptionsEndBeforeTheTimeouts) {
  const std::size_t v2_size = offsetof(ignite_engine_options, metadata_timeout_ms);
  ignite_engine_options o;
  std::memset(&o, 0xAB, sizeof o);
  ASSERT_EQ(ignite_engine_options_init(&o, 2), IGNITE_OK);
  EXPECT_EQ(o.version, 2u);
  EXPECT_EQ(o.pool_memory_budget_mb, 0.0);
  const auto* bytes = reinterpret_cast<const unsigned char*>(&o);
  for (std::size_t i = v2_size; i < sizeof o; ++i) ASSERT_EQ(bytes[i], 0xAB) << "byte " << i;
  ignite_engine* e = nullptr;
  ASSERT_EQ(ignite_engine_new(&e, &o), IGNITE_OK) << last_message();  // garbage never read
  ignite_engine_free(e);
}


TEST(Engine, PingWithoutDaemonIsDockerUnavailable) {
  ignite_engine_options o = IGNITE_ENGINE_OPTIONS_INIT;
  o.docker_host = "unix:///nonexistent/capi-docker.sock";
  ignite_engine* e = nullptr;
  ASSERT_EQ(ignite_engine_new(&e, &o), IGNITE_OK);  // does not contact the daemon
  Engine owned(e);
  EXPECT_EQ(ignite_engine_ping(e), IGNITE_EDOCKER_UNAVAILABLE);
  EXPECT_EQ(last_code(), IGNITE_EDOCKER_UNAVAILABLE);
  EXPECT_THAT(last_message(), HasSubstr("/nonexistent/capi-docker.sock"));
}

TEST(Engine, SessionIdIsStable) {
  const char* a = nullptr;
  const char* b = nullptr;
  ASSERT_EQ(ignite_engine_session_id(&a, engine()), IGNITE_OK);
  ASSERT_EQ(ignite_engine_session_id(&b, engine()), IGNITE_OK);
  EXPECT_EQ(a, b);
  EXPECT_GE(std::strlen(a), 8u);
}

// --- Services -------------------------------------------------------------------------------

TEST(Service, LoadAndGetters) {
  const fs::path dir = example_service("hello-node");
  Service svc = load(dir);
  ASSERT_TRUE(svc);
  const char* s = nullptr;
  ASSERT_EQ(ignite_service_name(&s, svc.get()), IGNITE_OK);
  EXPECT_STREQ(s, "hello-node");
  ASSERT_EQ(ignite_service_runtime(&s, svc.get()), IGNITE_OK);
  EXPECT_STREQ(s, "node@20");
  ASSERT_EQ(ignite_service_entry(&s, svc.get()), IGNITE_OK);
  EXPECT_STREQ(s, "index.js");
  ASSERT_EQ(ignite_service_path(&s, svc.get()), IGNITE_OK);
  EXPECT_EQ(fs::path(s), dir);
  double d = 0;
  ASSERT_EQ(ignite_service_memory_mb(&d, svc.get()), IGNITE_OK);
  EXPECT_EQ(d, 128);
  ASSERT_EQ(ignite_service_timeout_ms(&d, svc.get()), IGNITE_OK);
  EXPECT_EQ(d, 10000);
  Text j;
  ASSERT_EQ(ignite_service_json(j.out(), svc.get()), IGNITE_OK);
  const json parsed = json::parse(j.str());
  EXPECT_EQ(parsed.at("name"), "hello-node");
  EXPECT_EQ(parsed.at("runtime"), "node@20");
  EXPECT_EQ(parsed.at("memoryMb"), 128);
  EXPECT_EQ(parsed.at("env").at("GREETING"), "Hello");
}

TEST(Service, UnknownDirectoryNamesThePath) {
  ignite_service* s = nullptr;
  EXPECT_EQ(ignite_service_load(&s, engine(), "/nonexistent/capi-service-dir"), IGNITE_ESERVICE);
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(last_code(), IGNITE_ESERVICE);
  EXPECT_THAT(last_message(), HasSubstr("/nonexistent/capi-service-dir"));
  EXPECT_EQ(ignite_error_last()->http_status, 0);
}

TEST(Service, InvalidYamlIsConfigNamingTheField) {
  TempDir dir;
  write_file(dir.path() / "service.yaml", "service:\n  name: Bad Name\n  runtime: node\n");
  ignite_service* s = nullptr;
  EXPECT_EQ(ignite_service_load(&s, engine(), dir.path().c_str()), IGNITE_ECONFIG);
  EXPECT_THAT(last_message(), HasSubstr("Invalid service.yaml"));
  EXPECT_THAT(last_message(), HasSubstr("service.name"));
}

// Paths are bytes (ignite.h): one that is not UTF-8 is looked up as given, and a missing one
// is reported as missing, not as bad text.
TEST(Service, NonUtf8PathIsBytes) {
  ignite_service* s = nullptr;
  EXPECT_EQ(ignite_service_load(&s, engine(), kBadUtf8), IGNITE_ESERVICE);
  EXPECT_THAT(last_message(), HasSubstr("Cannot read service.yaml"));
  EXPECT_EQ(s, nullptr);
}

// --- Execution ------------------------------------------------------------------------------

TEST(Execute, OptionsInitMatchesTheMacro) {
  ignite_execute_options o;
  std::memset(&o, 0xAB, sizeof o);
  ASSERT_EQ(ignite_execute_options_init(&o, IGNITE_EXECUTE_OPTIONS_VERSION), IGNITE_OK);
  const ignite_execute_options m = IGNITE_EXECUTE_OPTIONS_INIT;
  EXPECT_EQ(std::memcmp(&o, &m, sizeof o), 0);
  expect_invalid(ignite_execute_options_init(&o, 5), "ignite_execute_options_init",
                 "version 5 is not supported");
}

TEST(Execute, HelloNodeWithInputAndEveryGetter) {
  Service svc = load(example_service("hello-node"));
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.input_json = R"({"name":"C API"})";
  Result r = run(svc.get(), &o);
  ASSERT_TRUE(r);
  EXPECT_EQ(outcome(r.get()), IGNITE_OUTCOME_SUCCESS) << err_text(r.get());
  EXPECT_THAT(out_text(r.get()), HasSubstr("Hello, C API!\n"));
  EXPECT_EQ(err_text(r.get()), "");
  int i = -1;
  ASSERT_EQ(ignite_result_exit_code(&i, r.get()), IGNITE_OK);
  EXPECT_EQ(i, 0);
  ASSERT_EQ(ignite_result_stdout_truncated(&i, r.get()), IGNITE_OK);
  EXPECT_EQ(i, 0);
  ASSERT_EQ(ignite_result_stderr_truncated(&i, r.get()), IGNITE_OK);
  EXPECT_EQ(i, 0);
  ASSERT_EQ(ignite_result_oom_killed(&i, r.get()), IGNITE_OK);
  EXPECT_EQ(i, 0);
  ASSERT_EQ(ignite_result_cold_start(&i, r.get()), IGNITE_OK);
  EXPECT_TRUE(i == 0 || i == 1);
  int64_t ms = -1, us = -1, cpu_us = -2;
  ASSERT_EQ(ignite_result_duration_ms(&ms, r.get()), IGNITE_OK);
  EXPECT_GT(ms, 0);
  ASSERT_EQ(ignite_result_duration_us(&us, r.get()), IGNITE_OK);
  EXPECT_EQ(ms, us / 1000);
  ASSERT_EQ(ignite_result_cpu_time_us(&cpu_us, r.get()), IGNITE_OK);
  EXPECT_TRUE(cpu_us == -1 || cpu_us > 0) << cpu_us;
  int64_t phases_us = 0;
  for (const ignite_phase p : {IGNITE_PHASE_BUILD, IGNITE_PHASE_CREATE, IGNITE_PHASE_START,
                               IGNITE_PHASE_RUN, IGNITE_PHASE_CLEANUP}) {
    int64_t v = -1;
    ASSERT_EQ(ignite_result_phase_us(&v, r.get(), p), IGNITE_OK);
    EXPECT_GE(v, 0);
    phases_us += v;
  }
  EXPECT_LE(phases_us, us);
  int64_t run_us = 0;
  ASSERT_EQ(ignite_result_phase_us(&run_us, r.get(), IGNITE_PHASE_RUN), IGNITE_OK);
  EXPECT_GT(run_us, 0);
  int64_t unused = 7;
  expect_invalid(ignite_result_phase_us(&unused, r.get(), static_cast<ignite_phase>(9)),
                 "ignite_result_phase_us", "phase 9 is not an ignite_phase");
  double peak = 0;
  ASSERT_EQ(ignite_result_memory_peak_mb(&peak, r.get()), IGNITE_OK);
  EXPECT_TRUE(peak == -1.0 || peak > 0) << peak;
  const char* rt = nullptr;
  ASSERT_EQ(ignite_result_runtime(&rt, r.get()), IGNITE_OK);
  EXPECT_STREQ(rt, "node@20");
  ignite_container_start start = IGNITE_CONTAINER_START_REUSED;
  ASSERT_EQ(ignite_result_container_start(&start, r.get()), IGNITE_OK);
  EXPECT_EQ(start, IGNITE_CONTAINER_START_COLD);  // the shared engine has no pool
  const char* id = nullptr;
  ASSERT_EQ(ignite_result_container_id(&id, r.get()), IGNITE_OK);
  EXPECT_GE(std::strlen(id), 12u);
  size_t job = 0;
  ASSERT_EQ(ignite_result_container_job(&job, r.get()), IGNITE_OK);
  EXPECT_EQ(job, 1u);
  ignite_placement where{};
  ASSERT_EQ(ignite_result_placement(&where, r.get()), IGNITE_OK);
  EXPECT_STREQ(where.backend, "docker");
  EXPECT_THAT(where.host, testing::StartsWith("unix:///"));
  EXPECT_STREQ(where.node, "");
  EXPECT_STREQ(where.task, "");
  Text j;
  ASSERT_EQ(ignite_result_json(j.out(), r.get()), IGNITE_OK);
  const json parsed = json::parse(j.str());
  EXPECT_EQ(parsed.at("outcome"), "success");
  EXPECT_EQ(parsed.at("serviceName"), "hello-node");
  EXPECT_EQ(parsed.at("exitCode"), 0);
  EXPECT_DOUBLE_EQ(parsed.at("executionTimeMs").get<double>(), static_cast<double>(us) / 1000.0);
  if (cpu_us >= 0) {
    EXPECT_DOUBLE_EQ(parsed.at("cpuTimeMs").get<double>(), static_cast<double>(cpu_us) / 1000.0);
  }
  EXPECT_DOUBLE_EQ(parsed.at("phases").at("runMs").get<double>(),
                   static_cast<double>(run_us) / 1000.0);
  EXPECT_EQ(parsed.at("placement"), (json{{"backend", "docker"}, {"host", where.host}}));
  EXPECT_EQ(parsed.at("stdout"), out_text(r.get()));
}

TEST(Execute, NullOptionsMeansDefaults) {
  Service svc = load(example_service("hello-node"));
  Result r = run(svc.get(), nullptr);
  ASSERT_TRUE(r);
  EXPECT_THAT(out_text(r.get()), HasSubstr("Hello, World!"));
}

TEST(Execute, RuntimeOverrideAndMountDelivery) {
  Service svc = load(example_service("hello-node"));
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.runtime = "node@22";
  o.delivery = IGNITE_DELIVERY_MOUNT;
  o.cpus = 0.5;
  o.memory_mb = 96;
  Result r = run(svc.get(), &o);
  ASSERT_TRUE(r);
  EXPECT_EQ(outcome(r.get()), IGNITE_OUTCOME_SUCCESS) << err_text(r.get());
  EXPECT_THAT(out_text(r.get()), HasSubstr("\"version\":\"22."));
  const char* rt = nullptr;
  ASSERT_EQ(ignite_result_runtime(&rt, r.get()), IGNITE_OK);
  EXPECT_STREQ(rt, "node@22");
}

TEST(Execute, EnvFromJsonAndArrays) {
  Scratch s("console.log([process.env.A, process.env.B, process.env.C].join('|'))");
  const char* keys[] = {"B", "C"};
  const char* values[] = {"from-array", "caf\xc3\xa9"};
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.env_json = R"({"A": "from-json", "B": "from-json"})";
  o.env_keys = keys;
  o.env_values = values;
  o.env_count = 2;
  Result r = run(s.svc.get(), &o);
  ASSERT_TRUE(r);
  EXPECT_EQ(out_text(r.get()), "from-json|from-array|caf\xc3\xa9\n");
}

TEST(Execute, StdoutMayContainNulBytesAndStreamsAreSeparate) {
  Scratch s("process.stdout.write('a\\0b'); process.stderr.write('e\\0'); process.exitCode = 3;");
  Result r = run(s.svc.get(), nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(outcome(r.get()), IGNITE_OUTCOME_ERROR);
  int code = 0;
  ASSERT_EQ(ignite_result_exit_code(&code, r.get()), IGNITE_OK);
  EXPECT_EQ(code, 3);
  const char* p = nullptr;
  size_t n = 0;
  ASSERT_EQ(ignite_result_stdout(&p, &n, r.get()), IGNITE_OK);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(std::memcmp(p, "a\0b", 3), 0);
  EXPECT_EQ(p[3], '\0');
  EXPECT_EQ(err_text(r.get()), std::string("e\0", 2));
}

TEST(Execute, InvalidUtf8OutputStillGivesJson) {
  Scratch s("process.stdout.write(Buffer.from([0x41, 0xff, 0x42]))");
  Result r = run(s.svc.get(), nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(out_text(r.get()),
            "A\xff"
            "B");
  Text j;
  ASSERT_EQ(ignite_result_json(j.out(), r.get()), IGNITE_OK) << last_message();
  EXPECT_EQ(json::parse(j.str()).at("stdout"),
            "A\xef\xbf\xbd"
            "B");  // U+FFFD
}

TEST(Execute, BadOptionsAreInvalidWithoutAContainer) {
  Service svc = load(example_service("hello-node"));
  ignite_result* r = nullptr;
  const auto check = [&](const ignite_execute_options& o, const std::string& what) {
    r = reinterpret_cast<ignite_result*>(0x1);
    expect_invalid(ignite_execute(&r, engine(), svc.get(), &o), "ignite_execute", what);
    EXPECT_EQ(r, nullptr) << what;
  };
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.input_json = "{not json";
  check(o, "opts->input_json is not valid JSON");
  o.input_json = "\"caf\xc3\x28\"";
  check(o, "opts->input_json is not valid UTF-8 (byte 4)");
  o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.env_json = "[1, 2]";
  check(o, "opts->env_json must be a JSON object of strings");
  o.env_json = R"({"A": 1})";
  check(o, "opts->env_json: the value of \"A\" is not a string");
  o.env_json = "{";
  check(o, "opts->env_json is not valid JSON");
  o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.env_count = 1;
  check(o, "opts->env_keys is NULL but opts->env_count is not 0");
  const char* keys[] = {"A", nullptr};
  const char* values[] = {"1", "2"};
  o.env_keys = keys;
  check(o, "opts->env_values is NULL");
  o.env_values = values;
  o.env_count = 2;
  check(o, "opts->env_keys[1] is NULL");
  const char* bad_values[] = {kBadUtf8};
  o.env_values = bad_values;
  o.env_count = 1;
  check(o, "opts->env_values[0] is not valid UTF-8");
  o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.runtime = kBadUtf8;
  check(o, "opts->runtime is not valid UTF-8");
  o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.version = 0;
  check(o, "opts->version 0 is not supported");
  o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.delivery = static_cast<ignite_delivery>(-3);
  check(o, "opts->delivery -3");
  EXPECT_TRUE(our_containers().empty());
}

TEST(Execute, EngineValidationErrorsMapToInvalid) {
  Service svc = load(example_service("hello-node"));
  ignite_result* r = nullptr;
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  const char* keys[] = {"1BAD"};
  const char* values[] = {"x"};
  o.env_keys = keys;
  o.env_values = values;
  o.env_count = 1;
  EXPECT_EQ(ignite_execute(&r, engine(), svc.get(), &o), IGNITE_EINVALID);
  EXPECT_THAT(last_message(), HasSubstr("\"1BAD\" is not a valid variable name"));
  o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.timeout_ms = -5;
  EXPECT_EQ(ignite_execute(&r, engine(), svc.get(), &o), IGNITE_EINVALID);
  EXPECT_THAT(last_message(), HasSubstr("timeout must be positive"));
  o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.memory_mb = 1;
  EXPECT_EQ(ignite_execute(&r, engine(), svc.get(), &o), IGNITE_EINVALID);
  EXPECT_THAT(last_message(), HasSubstr("memory"));
  o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.runtime = "node@3";
  EXPECT_EQ(ignite_execute(&r, engine(), svc.get(), &o), IGNITE_ERUNTIME);
  EXPECT_THAT(last_message(), HasSubstr("Unsupported version \"3\""));
  EXPECT_EQ(r, nullptr);
}

TEST(Execute, TimeoutOutcome) {
  Scratch s("for (;;) {}");
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.timeout_ms = 700;
  Result r = run(s.svc.get(), &o);
  ASSERT_TRUE(r);
  EXPECT_EQ(outcome(r.get()), IGNITE_OUTCOME_TIMEOUT);
}

TEST(Execute, CpuLimitOutcome) {
  Scratch s("for (;;) {}");
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.cpu_time_ms = 150;
  Result r = run(s.svc.get(), &o);
  ASSERT_TRUE(r);
  EXPECT_EQ(outcome(r.get()), IGNITE_OUTCOME_CPU_LIMIT);
  int64_t cpu_us = 0;
  ASSERT_EQ(ignite_result_cpu_time_us(&cpu_us, r.get()), IGNITE_OK);
  EXPECT_GT(cpu_us, 150000);
  EXPECT_LT(cpu_us, 250000);
}

TEST(Execute, CpuTimeOptionIsValidatedAndVersion1NeverReadsIt) {
  Scratch s("console.log('ran');");
  for (const double bad : {-1.0, std::nan(""), 1e13}) {
    ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
    o.cpu_time_ms = bad;
    ignite_result* out = nullptr;
    expect_invalid(ignite_execute(&out, engine(), s.svc.get(), &o), "ignite_execute",
                   "opts->cpu_time_ms must be a positive number");
    EXPECT_EQ(out, nullptr);
  }
  // A version 1 caller's struct ends before cpu_time_ms: garbage there is never read, and
  // init writes only the version 1 fields.
  ignite_execute_options o;
  std::memset(&o, 0xAB, sizeof o);
  ASSERT_EQ(ignite_execute_options_init(&o, 1), IGNITE_OK);
  const std::size_t v1_size = offsetof(ignite_execute_options, cpu_time_ms);
  const auto* bytes = reinterpret_cast<const unsigned char*>(&o);
  for (std::size_t i = v1_size; i < sizeof o; ++i) ASSERT_EQ(bytes[i], 0xAB) << "byte " << i;
  EXPECT_EQ(o.version, 1u);
  Result r = run(s.svc.get(), &o);
  ASSERT_TRUE(r) << last_message();
  EXPECT_EQ(outcome(r.get()), IGNITE_OUTCOME_SUCCESS);
}

TEST(Execute, OutputLimitOutcomeAndTruncation) {
  Scratch s("const l = 'x'.repeat(1023) + '\\n'; for (;;) process.stdout.write(l);");
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.output_limit = 4096;
  Result r = run(s.svc.get(), &o);
  ASSERT_TRUE(r);
  EXPECT_EQ(outcome(r.get()), IGNITE_OUTCOME_OUTPUT_LIMIT);
  int t = 0;
  ASSERT_EQ(ignite_result_stdout_truncated(&t, r.get()), IGNITE_OK);
  EXPECT_EQ(t, 1);
  EXPECT_EQ(out_text(r.get()).size(), 4096u);
}

TEST(Execute, MemoryLimitOutcome) {
  Scratch s("const k = []; for (;;) k.push(Buffer.alloc(1 << 20, 1));");
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.memory_mb = 48;
  o.timeout_ms = 20000;
  Result r = run(s.svc.get(), &o);
  ASSERT_TRUE(r);
  EXPECT_EQ(outcome(r.get()), IGNITE_OUTCOME_MEMORY_LIMIT) << err_text(r.get());
  int oom = 0;
  ASSERT_EQ(ignite_result_oom_killed(&oom, r.get()), IGNITE_OK);
  EXPECT_EQ(oom, 1);
  double peak = 0;
  ASSERT_EQ(ignite_result_memory_peak_mb(&peak, r.get()), IGNITE_OK);
  EXPECT_EQ(peak, 48);
}

TEST(Execute, AuditModeAddsSecurityAudit) {
  Service svc = load(example_service("hello-node"));
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.audit = 1;
  Result r = run(svc.get(), &o);
  ASSERT_TRUE(r);
  Text j;
  ASSERT_EQ(ignite_result_json(j.out(), r.get()), IGNITE_OK);
  const json parsed = json::parse(j.str());
  ASSERT_TRUE(parsed.contains("securityAudit")) << parsed.dump();
  EXPECT_EQ(parsed["securityAudit"]["policy"]["network"]["enabled"], false);
}

namespace {
struct Captured {
  std::string out, err;
  int calls = 0;
  int stop_after = 0;  // return non-zero on this call (1-based); 0: never
};
int capture(const char* data, size_t len, int stream, void* payload) {
  auto* c = static_cast<Captured*>(payload);
  ++c->calls;
  (stream == IGNITE_STREAM_STDERR ? c->err : c->out).append(data, len);
  return c->stop_after != 0 && c->calls >= c->stop_after ? 7 : 0;
}
}  // namespace

TEST(Execute, StreamingCallbackSeesBothStreams) {
  Scratch s(
      "console.log('one'); console.error('two'); setTimeout(() => console.log('three'), 200);");
  Captured c;
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.on_output = capture;
  o.payload = &c;
  Result r = run(s.svc.get(), &o);
  ASSERT_TRUE(r);
  EXPECT_EQ(c.out, "one\nthree\n");
  EXPECT_EQ(c.err, "two\n");
  EXPECT_EQ(c.out, out_text(r.get()));
  EXPECT_EQ(c.err, err_text(r.get()));
  EXPECT_GE(c.calls, 2);
}

TEST(Execute, CallbackNonZeroStopsWithEuserAndRemovesContainer) {
  Scratch s("setInterval(() => console.log('tick'), 20);", 60000);
  Captured c;
  c.stop_after = 1;
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.on_output = capture;
  o.payload = &c;
  ignite_result* r = reinterpret_cast<ignite_result*>(0x1);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(ignite_execute(&r, engine(), s.svc.get(), &o), IGNITE_EUSER);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
  EXPECT_EQ(r, nullptr);
  EXPECT_EQ(last_code(), IGNITE_EUSER);
  EXPECT_THAT(last_message(), HasSubstr("ignite_execute: on_output returned 7"));
  EXPECT_EQ(c.calls, 1);  // never called again after asking to stop
  EXPECT_TRUE(our_containers().empty());
}

TEST(Execute, CancelFromAnotherThread) {
  Scratch s("setInterval(() => {}, 1000);", 60000);
  ignite_cancel_token* raw = nullptr;
  ASSERT_EQ(ignite_cancel_token_new(&raw), IGNITE_OK);
  Token token(raw);
  int cancelled = -1;
  ASSERT_EQ(ignite_cancel_token_is_cancelled(&cancelled, raw), IGNITE_OK);
  EXPECT_EQ(cancelled, 0);
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.cancel = raw;
  std::thread canceller([raw] {
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(ignite_cancel_token_cancel(raw), IGNITE_OK);
  });
  const auto t0 = std::chrono::steady_clock::now();
  Result r = run(s.svc.get(), &o);
  canceller.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(outcome(r.get()), IGNITE_OUTCOME_CANCELLED);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
  ASSERT_EQ(ignite_cancel_token_is_cancelled(&cancelled, raw), IGNITE_OK);
  EXPECT_EQ(cancelled, 1);
  EXPECT_EQ(ignite_cancel_token_cancel(raw), IGNITE_OK);  // twice is harmless
  EXPECT_TRUE(our_containers().empty());
}

TEST(Execute, TokenCancelledBeforehandEndsAsCancelled) {
  Scratch s("setInterval(() => {}, 1000);", 60000);
  ignite_cancel_token* raw = nullptr;
  ASSERT_EQ(ignite_cancel_token_new(&raw), IGNITE_OK);
  Token token(raw);
  ASSERT_EQ(ignite_cancel_token_cancel(raw), IGNITE_OK);
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.cancel = raw;
  Result r = run(s.svc.get(), &o);
  ASSERT_TRUE(r);
  EXPECT_EQ(outcome(r.get()), IGNITE_OUTCOME_CANCELLED);
}

TEST(Execute, SeveralThreadsOnOneEngine) {
  Service svc = load(example_service("hello-quickjs"));
  constexpr int kThreads = 4;
  std::vector<std::string> outs(kThreads);
  std::vector<int> codes(kThreads, -1);
  std::vector<ignite_outcome> outcomes(kThreads, IGNITE_OUTCOME_ERROR);
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        const std::string input = "{\"name\":\"t" + std::to_string(i) + "\"}";
        ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
        o.input_json = input.c_str();
        ignite_result* r = nullptr;
        codes[i] = ignite_execute(&r, engine(), svc.get(), &o);
        if (r) {
          outs[i] = out_text(r);
          outcomes[i] = outcome(r);
        }
        ignite_result_free(r);
      });
    }
    for (auto& t : threads) t.join();
  }
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(codes[i], IGNITE_OK);
    EXPECT_EQ(outcomes[i], IGNITE_OUTCOME_SUCCESS);
    EXPECT_THAT(outs[i], HasSubstr("Hello, t" + std::to_string(i) + "!"));
  }
}

// --- Warm pool ------------------------------------------------------------------------------

namespace {

// An engine of its own with the warm pool on.
Engine pool_engine(size_t size, size_t reuse = 0) {
  ignite_engine_options o = IGNITE_ENGINE_OPTIONS_INIT;
  o.pool_size = size;
  o.pool_reuse = reuse;
  ignite_engine* raw = nullptr;
  EXPECT_EQ(ignite_engine_new(&raw, &o), IGNITE_OK) << last_message();
  return Engine(raw);
}

Result run_on(ignite_engine* e, const ignite_service* svc, const ignite_execute_options* opts) {
  ignite_result* raw = nullptr;
  EXPECT_EQ(ignite_execute(&raw, e, svc, opts), IGNITE_OK) << last_message();
  return Result(raw);
}

ignite_container_start container_start(const ignite_result* r) {
  ignite_container_start s = IGNITE_CONTAINER_START_COLD;
  EXPECT_EQ(ignite_result_container_start(&s, r), IGNITE_OK);
  return s;
}

std::string container_id(const ignite_result* r) {
  const char* id = nullptr;
  EXPECT_EQ(ignite_result_container_id(&id, r), IGNITE_OK);
  return id ? id : "";
}

size_t container_job(const ignite_result* r) {
  size_t job = 0;
  EXPECT_EQ(ignite_result_container_job(&job, r), IGNITE_OK);
  return job;
}

ignite_pool_stats pool_stats(const ignite_engine* e) {
  ignite_pool_stats st = IGNITE_POOL_STATS_INIT;
  EXPECT_EQ(ignite_engine_pool_stats(&st, e), IGNITE_OK) << last_message();
  return st;
}


}  // namespace

TEST(Pool, PrewarmThenExecuteRunsWarmOnceEach) {
  Engine e = pool_engine(2);
  Service svc = load(example_service("hello-quickjs"));
  size_t ready = 0;
  ASSERT_EQ(ignite_engine_prewarm(&ready, e.get(), svc.get(), nullptr, 0), IGNITE_OK)
      << last_message();
  EXPECT_EQ(ready, 2u);  // count 0: pool_size
  ignite_pool_stats st = pool_stats(e.get());
  EXPECT_EQ(st.version, static_cast<unsigned>(IGNITE_POOL_STATS_VERSION));
  EXPECT_EQ(st.ready, 2u);
  EXPECT_EQ(st.created, 2u);
  EXPECT_EQ(st.dispatched, 0u);

  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.input_json = R"({"name":"Pool"})";
  Result a = run_on(e.get(), svc.get(), &o);
  Result b = run_on(e.get(), svc.get(), &o);
  ASSERT_TRUE(a && b);
  for (const ignite_result* r : {a.get(), b.get()}) {
    EXPECT_EQ(outcome(r), IGNITE_OUTCOME_SUCCESS) << err_text(r);
    EXPECT_EQ(container_start(r), IGNITE_CONTAINER_START_WARM);
    EXPECT_EQ(container_job(r), 1u);
    EXPECT_THAT(out_text(r), HasSubstr("Hello, Pool!\n"));
    EXPECT_EQ(err_text(r), "");
  }
  EXPECT_STREQ(ignite_container_start_str(container_start(a.get())), "warm");
  EXPECT_NE(container_id(a.get()), container_id(b.get()));
  ASSERT_EQ(ignite_engine_flush(e.get()), IGNITE_OK);
  EXPECT_FALSE(container_exists(container_id(a.get()))) << "a pooled container served twice";
  EXPECT_FALSE(container_exists(container_id(b.get())));

  st = pool_stats(e.get());
  EXPECT_EQ(st.dispatched, 2u);
  EXPECT_GE(st.created, 2u);
  EXPECT_EQ(st.discarded, 0u);
  // Refilled in the background; draining then leaves nothing behind.
  ASSERT_TRUE(eventually([&] { return pool_stats(e.get()).ready == 2; })) << "no refill";
  EXPECT_EQ(pool_stats(e.get()).created, 4u);
  ASSERT_EQ(ignite_engine_drain_pool(e.get()), IGNITE_OK);
  st = pool_stats(e.get());
  EXPECT_EQ(st.ready, 0u);
  EXPECT_EQ(st.expired, 2u);
  EXPECT_TRUE(our_containers(e.get()).empty());
}

TEST(Pool, PrewarmCountAndOptionsSelectThePoolKey) {
  Engine e = pool_engine(3);
  Service svc = load(example_service("hello-node"));
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.memory_mb = 96;
  ASSERT_EQ(ignite_engine_prewarm(nullptr, e.get(), svc.get(), &o, 1), IGNITE_OK)
      << last_message();  // `out` is optional
  EXPECT_EQ(pool_stats(e.get()).ready, 1u);
  o.input_json = R"({"name":"Key"})";
  Result r = run_on(e.get(), svc.get(), &o);
  ASSERT_TRUE(r);
  EXPECT_EQ(outcome(r.get()), IGNITE_OUTCOME_SUCCESS) << err_text(r.get());
  EXPECT_EQ(container_start(r.get()), IGNITE_CONTAINER_START_WARM);
  EXPECT_THAT(out_text(r.get()), HasSubstr("Hello, Key!\n"));
  EXPECT_EQ(pool_stats(e.get()).dispatched, 1u);
}

TEST(Pool, ReuseRunsThreeJobsPerContainer) {
  Engine e = pool_engine(1, 3);
  Scratch s("print('job ' + std.in.readAsString());", 10000, "quickjs");
  std::vector<Result> rs;
  for (int n = 1; n <= 4; ++n) {
    const std::string input = std::to_string(n);
    ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
    o.input_json = input.c_str();
    rs.push_back(run_on(e.get(), s.svc.get(), &o));
    ASSERT_TRUE(rs.back());
    EXPECT_EQ(out_text(rs.back().get()), "job " + input + "\n") << err_text(rs.back().get());
  }
  EXPECT_EQ(container_job(rs[0].get()), 1u);
  EXPECT_EQ(container_job(rs[1].get()), 2u);
  EXPECT_EQ(container_job(rs[2].get()), 3u);
  EXPECT_EQ(container_job(rs[3].get()), 1u);
  EXPECT_EQ(container_start(rs[1].get()), IGNITE_CONTAINER_START_REUSED);
  EXPECT_EQ(container_start(rs[2].get()), IGNITE_CONTAINER_START_REUSED);
  EXPECT_STREQ(ignite_container_start_str(container_start(rs[2].get())), "reused");
  EXPECT_EQ(container_id(rs[0].get()), container_id(rs[1].get()));
  EXPECT_EQ(container_id(rs[1].get()), container_id(rs[2].get()));
  EXPECT_NE(container_id(rs[3].get()), container_id(rs[2].get()));
  ASSERT_EQ(ignite_engine_flush(e.get()), IGNITE_OK);
  EXPECT_FALSE(container_exists(container_id(rs[0].get())))
      << "a container past its reuse count must be removed";
}

TEST(Pool, PrewarmRefusesWhatThePoolCannotServe) {
  Service hello = load(example_service("hello-quickjs"));
  size_t ready = 9;
  EXPECT_EQ(ignite_engine_prewarm(&ready, engine(), hello.get(), nullptr, 0), IGNITE_ECONFIG);
  EXPECT_EQ(ready, 0u);
  EXPECT_THAT(last_message(), HasSubstr("the warm pool is off"));

  Engine e = pool_engine(2);
  Scratch s("print('cold');", 10000, "quickjs");
  write_file(s.dir.path() / "ignite.policy.yaml", "security:\n  process:\n    allowSpawn: false\n");
  ready = 9;
  EXPECT_EQ(ignite_engine_prewarm(&ready, e.get(), s.svc.get(), nullptr, 0), IGNITE_ECONFIG);
  EXPECT_EQ(ready, 0u);
  EXPECT_EQ(last_code(), IGNITE_ECONFIG);
  EXPECT_THAT(last_message(), HasSubstr("allowSpawn"));
  Result r = run_on(e.get(), s.svc.get(), nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(out_text(r.get()), "cold\n");
  EXPECT_EQ(container_start(r.get()), IGNITE_CONTAINER_START_COLD);
  EXPECT_EQ(pool_stats(e.get()).created, 0u);
}

TEST(Pool, StatsAndPrewarmArgumentErrors) {
  // No pool yet: every counter is 0, and draining or flushing is harmless.
  const ignite_pool_stats st = pool_stats(engine());
  EXPECT_EQ(st.ready + st.starting + st.created + st.dispatched + st.discarded + st.expired, 0u);
  EXPECT_EQ(ignite_engine_drain_pool(engine()), IGNITE_OK);
  EXPECT_EQ(ignite_engine_flush(engine()), IGNITE_OK);
  ignite_pool_stats bad = IGNITE_POOL_STATS_INIT;
  bad.version = 0;
  expect_invalid(ignite_engine_pool_stats(&bad, engine()), "ignite_engine_pool_stats",
                 "out->version 0 is not supported");
  bad.version = 2;
  expect_invalid(ignite_engine_pool_stats(&bad, engine()), "ignite_engine_pool_stats",
                 "out->version 2 is not supported");

  Engine e = pool_engine(1);
  Service svc = load(example_service("hello-quickjs"));
  ignite_execute_options o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.input_json = "{nope";
  size_t ready = 9;
  expect_invalid(ignite_engine_prewarm(&ready, e.get(), svc.get(), &o, 1), "ignite_engine_prewarm",
                 "opts->input_json is not valid JSON");
  EXPECT_EQ(ready, 0u);
  o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.version = 7;
  expect_invalid(ignite_engine_prewarm(&ready, e.get(), svc.get(), &o, 1), "ignite_engine_prewarm",
                 "opts->version 7 is not supported");
  o = IGNITE_EXECUTE_OPTIONS_INIT;
  o.runtime = "nope@1";
  EXPECT_EQ(ignite_engine_prewarm(&ready, e.get(), svc.get(), &o, 1), IGNITE_ERUNTIME);
  EXPECT_EQ(pool_stats(e.get()).created, 0u);
}

// --- Preflight and reports ------------------------------------------------------------------

TEST(Preflight, OptionsInitMatchesTheMacro) {
  ignite_preflight_options o;
  std::memset(&o, 0xAB, sizeof o);
  ASSERT_EQ(ignite_preflight_options_init(&o, IGNITE_PREFLIGHT_OPTIONS_VERSION), IGNITE_OK);
  const ignite_preflight_options m = IGNITE_PREFLIGHT_OPTIONS_INIT;
  EXPECT_EQ(o.version, m.version);
  EXPECT_EQ(o.build_image, 0);
  EXPECT_EQ(o.runtime, nullptr);
  EXPECT_EQ(o.delivery, IGNITE_DELIVERY_DEFAULT);
  expect_invalid(ignite_preflight_options_init(&o, 0), "ignite_preflight_options_init",
                 "version 0 is not supported");
}

TEST(Preflight, RunJsonTextAndStatus) {
  Service svc = load(example_service("hello-node"));
  ignite_preflight_options o = IGNITE_PREFLIGHT_OPTIONS_INIT;
  o.build_image = 1;
  ignite_preflight* raw = nullptr;
  ASSERT_EQ(ignite_preflight_run(&raw, engine(), svc.get(), &o), IGNITE_OK) << last_message();
  Preflight pf(raw);
  ignite_check_status st = IGNITE_CHECK_FAIL;
  ASSERT_EQ(ignite_preflight_status(&st, raw), IGNITE_OK);
  EXPECT_NE(st, IGNITE_CHECK_FAIL);
  Text j;
  ASSERT_EQ(ignite_preflight_json(j.out(), raw), IGNITE_OK);
  const json parsed = json::parse(j.str());
  EXPECT_EQ(parsed.at("serviceName"), "hello-node");
  EXPECT_EQ(parsed.at("overallStatus"), ignite_check_status_str(st));
  ASSERT_EQ(parsed.at("checks").size(), 4u);  // the image was built, so image-size is checked
  EXPECT_EQ(parsed["checks"][3]["name"], "image-size");
  Text plain, colored;
  ASSERT_EQ(ignite_preflight_text(plain.out(), raw, 0), IGNITE_OK);
  ASSERT_EQ(ignite_preflight_text(colored.out(), raw, 1), IGNITE_OK);
  EXPECT_THAT(plain.str(), HasSubstr("memory-allocation"));
  EXPECT_THAT(plain.str(), HasSubstr("Preflight:"));
  EXPECT_EQ(plain.str().find('\x1b'), std::string::npos);
  EXPECT_NE(colored.str().find("\x1b["), std::string::npos);
}

TEST(Preflight, NullOptionsAndErrors) {
  Service svc = load(example_service("hello-quickjs"));
  ignite_preflight* raw = nullptr;
  ASSERT_EQ(ignite_preflight_run(&raw, engine(), svc.get(), nullptr), IGNITE_OK);
  ignite_preflight_free(raw);
  ignite_preflight_options o = IGNITE_PREFLIGHT_OPTIONS_INIT;
  o.runtime = "nope@1";
  EXPECT_EQ(ignite_preflight_run(&raw, engine(), svc.get(), &o), IGNITE_ERUNTIME);
  EXPECT_EQ(raw, nullptr);
  EXPECT_THAT(last_message(), HasSubstr("Unknown runtime: nope"));
  o.runtime = kBadUtf8;
  expect_invalid(ignite_preflight_run(&raw, engine(), svc.get(), &o), "ignite_preflight_run",
                 "opts->runtime is not valid UTF-8");
  o = IGNITE_PREFLIGHT_OPTIONS_INIT;
  o.version = 3;
  expect_invalid(ignite_preflight_run(&raw, engine(), svc.get(), &o), "ignite_preflight_run",
                 "opts->version 3 is not supported");
}

TEST(Report, PreflightOnlyAndWithExecution) {
  Scratch s("console.error('bad'); process.exit(4);");
  ignite_preflight* pf_raw = nullptr;
  ASSERT_EQ(ignite_preflight_run(&pf_raw, engine(), s.svc.get(), nullptr), IGNITE_OK);
  Preflight pf(pf_raw);
  Result r = run(s.svc.get(), nullptr);
  ASSERT_TRUE(r);

  ignite_report* raw = nullptr;
  ASSERT_EQ(ignite_report_new(&raw, engine(), s.svc.get(), pf_raw, nullptr), IGNITE_OK);
  Report only(raw);
  Text j1;
  ASSERT_EQ(ignite_report_json(j1.out(), raw), IGNITE_OK);
  EXPECT_FALSE(json::parse(j1.str()).contains("execution"));

  ASSERT_EQ(ignite_report_new(&raw, engine(), s.svc.get(), pf_raw, r.get()), IGNITE_OK);
  Report full(raw);
  pf.reset();  // the report holds copies
  r.reset();
  Text j2, text, colored;
  ASSERT_EQ(ignite_report_json(j2.out(), raw), IGNITE_OK);
  const json parsed = json::parse(j2.str());
  EXPECT_EQ(parsed.at("serviceName"), "capi-scratch");
  EXPECT_EQ(parsed.at("execution").at("exitCode"), 4);
  bool exit_warning = false;
  for (const auto& w : parsed.at("warnings")) {
    if (w.at("message") == "Service exited with code 4") exit_warning = true;
  }
  EXPECT_TRUE(exit_warning) << parsed.dump(2);
  ASSERT_EQ(ignite_report_text(text.out(), raw, 0), IGNITE_OK);
  EXPECT_THAT(text.str(), HasSubstr("capi-scratch"));
  EXPECT_EQ(text.str().find('\x1b'), std::string::npos);
  ASSERT_EQ(ignite_report_text(colored.out(), raw, 1), IGNITE_OK);
  EXPECT_NE(colored.str().find("\x1b["), std::string::npos);
}

// --- Lock -----------------------------------------------------------------------------------

TEST(Lock, WriteCheckAndDrift) {
  Scratch s("console.log('v1')");
  ignite_lock_state st = IGNITE_LOCK_DRIFT;
  Text none;
  ASSERT_EQ(ignite_lock_check(&st, none.out(), engine(), s.svc.get()), IGNITE_OK) << last_message();
  EXPECT_EQ(st, IGNITE_LOCK_NONE);
  EXPECT_THAT(none.str(), HasSubstr("Not locked"));

  ASSERT_EQ(ignite_lock_write(engine(), s.svc.get()), IGNITE_OK) << last_message();
  EXPECT_TRUE(fs::exists(s.dir.path() / "ignite.lock"));
  ASSERT_EQ(ignite_lock_check(&st, nullptr, engine(), s.svc.get()), IGNITE_OK);  // text optional
  EXPECT_EQ(st, IGNITE_LOCK_MATCH);

  write_file(s.dir.path() / "index.js", "console.log('v2')");
  Text drift;
  ASSERT_EQ(ignite_lock_check(&st, drift.out(), engine(), s.svc.get()), IGNITE_OK);
  EXPECT_EQ(st, IGNITE_LOCK_DRIFT);
  EXPECT_THAT(drift.str(), HasSubstr("File modified: index.js"));

  write_file(s.dir.path() / "ignite.lock", "version: [\n");
  Text bad;
  bad.p = reinterpret_cast<char*>(std::malloc(1));  // replaced by NULL on failure
  char* before = bad.p;
  EXPECT_EQ(ignite_lock_check(&st, bad.out(), engine(), s.svc.get()), IGNITE_ELOCK);
  EXPECT_EQ(bad.p, nullptr);
  std::free(before);
  EXPECT_THAT(last_message(), HasSubstr("ignite.lock"));
}

TEST(Lock, UnwritableLockIsLockError) {
  Scratch s("console.log(1)");
  write_file(s.dir.path() / "ignite.lock" / "in-the-way", "");  // a directory cannot be replaced
  EXPECT_EQ(ignite_lock_write(engine(), s.svc.get()), IGNITE_ELOCK);
  EXPECT_THAT(last_message(), HasSubstr("ignite.lock"));
}

// --- Runtimes -------------------------------------------------------------------------------

TEST(Runtimes, ListHasBuiltinsInOrder) {
  Text t;
  ASSERT_EQ(ignite_runtime_list(t.out(), engine()), IGNITE_OK);
  const json list = json::parse(t.str());
  ASSERT_TRUE(list.is_array());
  ASSERT_GE(list.size(), 4u);
  EXPECT_EQ(list[0]["name"], "bun");
  EXPECT_EQ(list[1]["name"], "node");
  EXPECT_EQ(list[1]["defaultVersion"], "20");
  EXPECT_EQ(list[1]["command"], json::array({"node"}));
  bool has20 = false;
  for (const auto& v : list[1]["versions"]) {
    if (v["version"] == "20" && v["image"] == "ignite-runtime/node:20") has20 = true;
  }
  EXPECT_TRUE(has20) << list[1].dump();
}

TEST(Runtimes, ListingRoundTripsThroughRegister) {
  ignite_engine* raw = nullptr;
  ASSERT_EQ(ignite_engine_new(&raw, nullptr), IGNITE_OK);
  Engine e(raw);
  Text before;
  ASSERT_EQ(ignite_runtime_list(before.out(), raw), IGNITE_OK);
  for (const auto& rt : json::parse(before.str())) {
    EXPECT_EQ(ignite_runtime_register(raw, rt.dump().c_str()), IGNITE_OK) << last_message();
  }
  Text after;
  ASSERT_EQ(ignite_runtime_list(after.out(), raw), IGNITE_OK);
  const auto by_name = [](const std::string& text) {
    std::map<std::string, json> m;
    for (const auto& rt : json::parse(text)) m[rt.at("name")] = rt;
    return m;
  };
  EXPECT_EQ(by_name(after.str()), by_name(before.str()));
  EXPECT_EQ(by_name(before.str()).at("quickjs").at("moduleCommand"),
            json::array({"qjs", "--std", "-m"}));
}

TEST(Runtimes, RegisterFromJsonRunsAService) {
  ignite_engine* raw = nullptr;
  ASSERT_EQ(ignite_engine_new(&raw, nullptr), IGNITE_OK);
  Engine e(raw);
  const char* def = R"({"name": "capijs", "versions": {"20": "ignite-runtime/node:20"},
                        "command": ["node"], "fileExtensions": [".js"]})";
  ASSERT_EQ(ignite_runtime_register(raw, def), IGNITE_OK) << last_message();
  Text t;
  ASSERT_EQ(ignite_runtime_list(t.out(), raw), IGNITE_OK);
  const json list = json::parse(t.str());
  const json& mine = list.back();
  EXPECT_EQ(mine["name"], "capijs");
  EXPECT_EQ(mine["defaultVersion"], "20");
  EXPECT_EQ(mine["defaultEntry"], "index.js");

  TempDir dir;
  write_file(dir.path() / "service.yaml",
             "service:\n  name: capi-scratch\n  runtime: capijs\n  entry: index.js\n"
             "  memoryMb: 64\n  timeoutMs: 10000\n");
  write_file(dir.path() / "index.js", "console.log('custom runtime ' + process.versions.node)");
  ignite_service* s = nullptr;
  ASSERT_EQ(ignite_service_load(&s, raw, dir.path().c_str()), IGNITE_OK) << last_message();
  Service svc(s);
  ignite_result* r = nullptr;
  ASSERT_EQ(ignite_execute(&r, raw, s, nullptr), IGNITE_OK) << last_message();
  Result res(r);
  EXPECT_THAT(out_text(r), StartsWith("custom runtime 20."));

  int removed = -1;
  ASSERT_EQ(ignite_runtime_unregister(&removed, raw, "capijs"), IGNITE_OK);
  EXPECT_EQ(removed, 1);
  ASSERT_EQ(ignite_runtime_unregister(&removed, raw, "capijs"), IGNITE_OK);
  EXPECT_EQ(removed, 0);
  // Unknown now: the service no longer loads.
  EXPECT_EQ(ignite_service_load(&s, raw, dir.path().c_str()), IGNITE_ECONFIG);
  EXPECT_THAT(last_message(), HasSubstr("service.runtime must be one of"));
}

TEST(Runtimes, RegisterErrors) {
  ignite_engine* e = engine();
  expect_invalid(ignite_runtime_register(e, "{oops"), "ignite_runtime_register",
                 "json is not valid JSON");
  expect_invalid(ignite_runtime_register(e, "[1]"), "ignite_runtime_register",
                 "json: must be a JSON object describing one runtime");
  expect_invalid(ignite_runtime_register(e, R"({"name": 5})"), "ignite_runtime_register",
                 "json: name must be a string");
  expect_invalid(ignite_runtime_register(e, R"({"name": "x", "command": "node"})"),
                 "ignite_runtime_register", "json: command must be an array of strings");
  expect_invalid(ignite_runtime_register(e, R"({"name": "x", "versions": 3})"),
                 "ignite_runtime_register", "json: versions must be an array or an object");
  expect_invalid(ignite_runtime_register(e, R"({"name": "x", "versions": [{"version": "1"}]})"),
                 "ignite_runtime_register", "versions entries must be");
  expect_invalid(ignite_runtime_register(e, "{\"name\": \"caf\xc3\x28\"}"),
                 "ignite_runtime_register", "json is not valid UTF-8");
  // Well-formed but incomplete: the registry's own validation (ECONFIG) names the field.
  EXPECT_EQ(
      ignite_runtime_register(e, R"({"name": "capi-incomplete", "versions": {"1": "img:1"}})"),
      IGNITE_ECONFIG);
  EXPECT_THAT(last_message(), HasSubstr("command must not be empty"));
  int removed = -1;
  expect_invalid(ignite_runtime_unregister(&removed, e, kBadUtf8), "ignite_runtime_unregister",
                 "name is not valid UTF-8");
}

TEST(Runtimes, LoadFile) {
  ignite_engine* raw = nullptr;
  ASSERT_EQ(ignite_engine_new(&raw, nullptr), IGNITE_OK);
  Engine e(raw);
  TempDir dir;
  const fs::path file = dir.path() / "runtimes.yaml";
  write_file(file,
             "runtimes:\n  - name: capi-yaml\n    image: ignite-runtime/node:20\n"
             "    command: [node]\n");
  ASSERT_EQ(ignite_runtime_load_file(raw, file.c_str()), IGNITE_OK) << last_message();
  Text t;
  ASSERT_EQ(ignite_runtime_list(t.out(), raw), IGNITE_OK);
  const json mine = json::parse(t.str()).back();
  EXPECT_EQ(mine["name"], "capi-yaml");
  EXPECT_EQ(mine["versions"],
            json::parse(R"([{"version":"latest","image":"ignite-runtime/node:20"}])"));

  write_file(file, "runtimes:\n  - name: broken\n");
  EXPECT_EQ(ignite_runtime_load_file(raw, file.c_str()), IGNITE_ECONFIG);
  EXPECT_THAT(last_message(), HasSubstr(file.string()));
  EXPECT_EQ(ignite_runtime_load_file(raw, "/nonexistent/capi-runtimes.yaml"), IGNITE_ESERVICE);
  EXPECT_THAT(last_message(), HasSubstr("/nonexistent/capi-runtimes.yaml"));
  // A path is bytes: not UTF-8 is not an error of its own.
  EXPECT_EQ(ignite_runtime_load_file(raw, kBadUtf8), IGNITE_ESERVICE);
}

// Runs last (declaration order): no container of this engine's session is left. The scratch
// services' image (one per runtime, content-addressed) stays cached for the next run: removing
// it costs the daemon's storage driver more than rebuilding saves.
TEST(ZZCleanup, NoContainersLeft) { EXPECT_TRUE(our_containers().empty()); }

TEST(Engine, Version3LabelsAndBoundsReachTheEngine) {
  ignite_engine_options o = IGNITE_ENGINE_OPTIONS_INIT;
  const std::string job = "capi-" + std::to_string(::getpid());
  const std::string labels = "com.example.job=" + job + ",com.example.team=qa";
  o.labels = labels.c_str();
  o.metadata_timeout_ms = 4000;
  o.lifecycle_timeout_ms = 9000;
  o.shutdown_grace_ms = 2000;
  ignite_engine* e = nullptr;
  ASSERT_EQ(ignite_engine_new(&e, &o), IGNITE_OK) << last_message();
  Engine owned(e);
  Scratch s("console.log('up'); setTimeout(() => {}, 300);", 10000, "node@20");
  std::size_t seen = 0;
  // While the service runs, its container carries both labels.
  ignite_execute_options x = IGNITE_EXECUTE_OPTIONS_INIT;
  struct Ctx {
    std::string job;
    std::size_t* seen;
  } ctx{job, &seen};
  x.on_output = [](const char*, size_t, int, void* payload) {
    auto* c = static_cast<Ctx*>(payload);
    Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
    *c->seen = client.containers_list({"com.example.job=" + c->job, "com.example.team=qa"}, true)
                   .size();
    return 0;
  };
  x.payload = &ctx;
  Result r = run_on(e, s.svc.get(), &x);
  ASSERT_TRUE(r);
  EXPECT_EQ(outcome(r.get()), IGNITE_OUTCOME_SUCCESS) << err_text(r.get());
  EXPECT_EQ(seen, 1u);
}
