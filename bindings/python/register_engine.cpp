// File: bindings/python/register_engine.cpp
//
// `_core.Engine`, `_core.StopSource` and the engine's small result types (GcResult,
// PoolStats). Every call that may touch Docker runs with the GIL released, so Python threads
// execute services in parallel. Output callbacks run on an Ignite thread and take the GIL for
// the Python call; an exception raised by a callback stops the run (the container is killed
// and removed) and is re-raised once the call returns.
//
// execute(), prewarm() and preflight() run the Engine call on a worker std::jthread while the
// calling thread waits with the GIL released. On the main thread the wait wakes every 50 ms,
// takes the GIL and runs PyErr_CheckSignals(), so Ctrl-C (KeyboardInterrupt, or any exception
// a signal handler raises) requests stop through the call's stop token; the exception
// propagates once the container is killed (an image build is cancelled the same way). Ctrl-C
// works in the next call again: no signal is left pending. The Engine's destructor runs
// without the GIL (ReleaseGilDelete).
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <vector>
#include <stop_token>
#include <thread>

#include "bindings/python/register.hpp"
#include "ignite/engine.hpp"
#include "ignite/error.hpp"

namespace Ignite::python {
namespace {

using namespace std::chrono_literals;

// Shared by the callbacks of one call. Python objects inside are touched only with the GIL
// held, and the std::function copies the engine may make hold only this shared_ptr.
struct CallState {
  std::stop_source stop;
  std::exception_ptr error;  // first exception raised by a callback
};

struct PyCallback {
  py::object fn;
};

std::function<void(std::string_view)> wrap_callback(const std::optional<py::object>& fn,
                                                    const std::shared_ptr<CallState>& state) {
  if (!fn || fn->is_none()) return {};
  auto callback = std::make_shared<PyCallback>(PyCallback{*fn});
  return [state, callback](std::string_view data) {
    py::gil_scoped_acquire gil;
    if (state->error) return;  // already failing: the run is being stopped
    try {
      callback->fn(py::bytes(data.data(), data.size()));
    } catch (...) {
      state->error = std::current_exception();
      state->stop.request_stop();
    }
  };
}

// Set once at import. (A function-local static initialised by running Python code could
// deadlock: the eval loop may hand the GIL to a thread that then blocks on the static's guard.)
unsigned long g_main_thread_ident = 0;

bool on_main_thread() { return PyThread_get_thread_ident() == g_main_thread_ident; }

// Runs `work` on a worker std::jthread while this thread waits with the GIL released (see the
// banner), and returns its value or rethrows its exception. On the main thread the wait wakes
// every 50 ms to run PyErr_CheckSignals(): the first exception a signal handler raises
// (KeyboardInterrupt) requests stop through `state.stop`, which `work` must honour, and is
// rethrown once `work` has returned (the container killed and its removal queued). Later
// signals during that bounded wind-down are taken too, so that none is left pending to
// interrupt some later, unrelated call; they fold into the first exception.
template <typename Work>
auto interruptible(CallState& state, const std::stop_source* caller_stop, Work&& work)
    -> decltype(work()) {
  using Result = decltype(work());
  const bool poll_signals = on_main_thread();
  std::exception_ptr interrupt;
  std::promise<Result> promise;
  std::future<Result> done = promise.get_future();
  {
    py::gil_scoped_release release;
    // A caller's StopSource forwards into this call's own source.
    std::optional<std::stop_callback<std::function<void()>>> forward;
    if (caller_stop != nullptr) {
      forward.emplace(caller_stop->get_token(),
                      std::function<void()>([&state] { state.stop.request_stop(); }));
    }
    std::jthread worker([&] {
      try {
        promise.set_value(work());
      } catch (...) {
        promise.set_exception(std::current_exception());
      }
    });
    if (!poll_signals) {
      done.wait();
    } else {
      while (done.wait_for(50ms) != std::future_status::ready) {
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() == 0) continue;
        if (!interrupt) {
          interrupt = std::make_exception_ptr(py::error_already_set());
          state.stop.request_stop();
        } else {
          PyErr_Clear();
        }
      }
    }
  }  // worker joined, GIL held again
  if (interrupt) {
    // A signal whose handler ran after the last 50 ms poll, while the wind-down finished, is
    // still pending: without this it would interrupt whatever Python runs next.
    if (PyErr_CheckSignals() != 0) PyErr_Clear();
    std::rethrow_exception(interrupt);
  }
  if (state.error) std::rethrow_exception(state.error);
  return done.get();
}

// Engine::execute through interruptible(). `options`, which holds the last references to the
// PyCallbacks, outlives the worker and is destroyed with the GIL held.
ExecutionResult execute(Engine& engine, const Service& service, std::optional<std::string> input,
                        std::map<std::string, std::string> env, std::optional<std::string> runtime,
                        std::optional<std::int64_t> timeout_ms, std::optional<double> memory_mb,
                        std::optional<double> cpus, std::size_t output_limit,
                        const std::optional<py::object>& on_stdout,
                        const std::optional<py::object>& on_stderr,
                        std::optional<CodeDelivery> delivery,
                        const std::optional<py::object>& on_build_output, bool audit,
                        const std::stop_source* stop, std::optional<double> cpu_time_ms) {
  auto state = std::make_shared<CallState>();
  ExecuteOptions options;
  options.input = std::move(input);
  options.env = std::move(env);
  options.runtime = std::move(runtime);
  if (timeout_ms) options.timeout = std::chrono::milliseconds(*timeout_ms);
  if (cpu_time_ms) {
    // Checked here: a NaN or huge float has no microsecond count.
    if (!std::isfinite(*cpu_time_ms) || *cpu_time_ms <= 0 || *cpu_time_ms > 1e12) {
      throw Error(ErrorCode::InvalidArgument,
                  "cpu_time_ms must be a positive number of milliseconds up to 1e12");
    }
    options.cpu_time_limit = std::chrono::microseconds(
        std::max<std::int64_t>(1, std::llround(*cpu_time_ms * 1000.0)));
  }
  options.memory_mb = memory_mb;
  options.cpus = cpus;
  options.output_limit = output_limit;
  options.on_stdout = wrap_callback(on_stdout, state);
  options.on_stderr = wrap_callback(on_stderr, state);
  options.on_build_output = wrap_callback(on_build_output, state);
  options.stop_token = state->stop.get_token();
  options.delivery = delivery;
  options.audit = audit;
  return interruptible(*state, stop, [&] { return engine.execute(service, options); });
}

PreflightResult preflight(Engine& engine, const Service& service, bool build_image,
                          std::optional<std::string> runtime, std::optional<CodeDelivery> delivery,
                          const std::optional<py::object>& on_build_output,
                          const std::stop_source* stop) {
  auto state = std::make_shared<CallState>();
  PreflightOptions options;
  options.build_image = build_image;
  options.runtime = std::move(runtime);
  options.delivery = delivery;
  options.on_build_output = wrap_callback(on_build_output, state);
  options.stop_token = state->stop.get_token();
  return interruptible(*state, stop, [&] { return engine.preflight(service, options); });
}

// Engine::prewarm with the ExecuteOptions that shape the container; the wait (and any image
// build) runs without the GIL and ends early on Ctrl-C or `stop` (Error(Cancelled)).
std::size_t prewarm(Engine& engine, const Service& service, std::size_t count,
                    std::map<std::string, std::string> env, std::optional<std::string> runtime,
                    std::optional<std::int64_t> timeout_ms, std::optional<double> memory_mb,
                    std::optional<double> cpus, std::optional<CodeDelivery> delivery, bool audit,
                    const std::optional<py::object>& on_build_output,
                    const std::stop_source* stop) {
  auto state = std::make_shared<CallState>();
  ExecuteOptions options;
  options.env = std::move(env);
  options.runtime = std::move(runtime);
  if (timeout_ms) options.timeout = std::chrono::milliseconds(*timeout_ms);
  options.memory_mb = memory_mb;
  options.cpus = cpus;
  options.delivery = delivery;
  options.audit = audit;
  options.on_build_output = wrap_callback(on_build_output, state);
  options.stop_token = state->stop.get_token();
  return interruptible(*state, stop, [&] { return engine.prewarm(service, options, count); });
}

// The holder's deleter: ~Engine drains the pool, joins its threads and finishes queued
// removals (bounded by CleanupOptions::shutdown_grace), which must not stall every other
// Python thread, so it runs with the GIL released whenever this thread holds it (garbage
// collection, interpreter exit, close()).
struct ReleaseGilDelete {
  void operator()(Engine* engine) const noexcept {
    if (engine == nullptr) return;
    if (PyGILState_Check() != 0) {
      py::gil_scoped_release release;
      delete engine;
    } else {
      delete engine;
    }
  }
};
using EngineHolder = std::unique_ptr<Engine, ReleaseGilDelete>;

Engine make_engine(std::string docker_host, std::size_t max_concurrent, int pids_limit,
                   std::string tmpfs_size, CodeDelivery delivery, bool reap_on_start,
                   std::optional<std::filesystem::path> state_dir, std::size_t pool_size,
                   std::size_t pool_reuse, std::int64_t pool_idle_expiry_s,
                   std::size_t pool_refill_concurrency, double pool_memory_budget_mb,
                   bool keep_containers, std::string docker_context,
                   std::optional<bool> docker_tls_verify,
                   std::optional<std::filesystem::path> docker_cert_path, bool allow_plain_tcp,
                   std::vector<std::string> ssh_options, std::string backend,
                   std::string registry) {
  EngineOptions options;
  if (backend == "docker") {
    options.backend = Backend::Docker;
  } else if (backend == "swarm") {
    options.backend = Backend::Swarm;
  } else if (!backend.empty()) {
    throw Error(ErrorCode::InvalidArgument,
                "backend: expected \"docker\" or \"swarm\" (got \"" + backend + "\")");
  }
  options.registry = std::move(registry);
  options.docker_host = std::move(docker_host);
  options.max_concurrent = max_concurrent;
  options.pids_limit = pids_limit;
  options.tmpfs_size = std::move(tmpfs_size);
  options.delivery = delivery;
  options.reap_on_start = reap_on_start;
  if (state_dir) options.state_dir = *state_dir;
  options.pool.size = pool_size;
  options.pool.reuse = pool_reuse;
  options.pool.idle_expiry = std::chrono::seconds(pool_idle_expiry_s);
  options.pool.refill_concurrency = pool_refill_concurrency;
  options.pool.memory_budget_mb = pool_memory_budget_mb;
  options.keep_containers = keep_containers;
  options.docker_context = std::move(docker_context);
  options.docker_tls_verify = docker_tls_verify;
  if (docker_cert_path) options.docker_cert_path = *docker_cert_path;
  options.allow_plain_tcp = allow_plain_tcp;
  options.ssh_options = std::move(ssh_options);
  return Engine(std::move(options));
}

}  // namespace

void register_engine(py::module_& m) {
  g_main_thread_ident =
      py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();

  py::class_<GcResult>(m, "GcResult", "What Engine.gc removed.")
      .def_readonly("containers", &GcResult::containers)
      .def_readonly("images", &GcResult::images)
      .def_readonly("swarm_objects", &GcResult::swarm_objects);

  py::class_<PoolStats>(m, "PoolStats", "Ignite::PoolStats: the warm pool's counters.")
      .def_readonly("ready", &PoolStats::ready)
      .def_readonly("starting", &PoolStats::starting)
      .def_readonly("created", &PoolStats::created)
      .def_readonly("dispatched", &PoolStats::dispatched)
      .def_readonly("discarded", &PoolStats::discarded)
      .def_readonly("expired", &PoolStats::expired);

  py::class_<std::stop_source>(m, "StopSource",
                               "std::stop_source: request_stop() cancels the executions it was "
                               "passed to (their outcome becomes Cancelled).")
      .def(py::init<>())
      .def("request_stop", &std::stop_source::request_stop,
           "Requests stop; True when this call made the request. Thread-safe.")
      .def_property_readonly("stop_requested", &std::stop_source::stop_requested);

  using release = py::call_guard<py::gil_scoped_release>;
  py::class_<Engine, EngineHolder>(m, "Engine",
                                   "Ignite::Engine (thread-safe; see ignite/engine.hpp). Its "
                                   "destructor runs with the GIL released.")
      .def(py::init(&make_engine), py::kw_only(), py::arg("docker_host") = "",
           py::arg("max_concurrent") = EngineOptions{}.max_concurrent,
           py::arg("pids_limit") = EngineOptions{}.pids_limit,
           py::arg("tmpfs_size") = EngineOptions{}.tmpfs_size,
           py::arg("delivery") = CodeDelivery::Auto,
           py::arg("reap_on_start") = EngineOptions{}.reap_on_start,
           py::arg("state_dir") = py::none(),
           py::arg("pool_size") = PoolOptions{}.size, py::arg("pool_reuse") = PoolOptions{}.reuse,
           py::arg("pool_idle_expiry_s") = PoolOptions{}.idle_expiry.count(),
           py::arg("pool_refill_concurrency") = PoolOptions{}.refill_concurrency,
           py::arg("pool_memory_budget_mb") = PoolOptions{}.memory_budget_mb,
           py::arg("keep_containers") = EngineOptions{}.keep_containers,
           py::arg("docker_context") = "", py::arg("docker_tls_verify") = py::none(),
           py::arg("docker_cert_path") = py::none(), py::arg("allow_plain_tcp") = false,
           py::arg("ssh_options") = std::vector<std::string>{},
           py::arg("backend") = "", py::arg("registry") = "",
           "EngineOptions as keywords (EngineOptions::pool as pool_*; keep_containers: "
           "EngineOptions::keep_containers). Does not contact the daemon.")
      .def_property_readonly("docker_endpoint", &Engine::docker_endpoint,
                             "The daemon's URL (unix://, tcp://, ssh://).")
      .def_property_readonly("docker_is_local", &Engine::docker_is_local,
                             "Whether the daemon is on this host's unix socket.")
      .def("load", &Engine::load, py::arg("dir"), release(),
           "Loads and validates a service directory. Raises ConfigError, ServiceError.")
      .def("execute", &execute, py::arg("service"), py::kw_only(), py::arg("input") = py::none(),
           py::arg("env") = std::map<std::string, std::string>{}, py::arg("runtime") = py::none(),
           py::arg("timeout_ms") = py::none(), py::arg("memory_mb") = py::none(),
           py::arg("cpus") = py::none(), py::arg("output_limit") = kDefaultOutputLimit,
           py::arg("on_stdout") = py::none(), py::arg("on_stderr") = py::none(),
           py::arg("delivery") = py::none(), py::arg("on_build_output") = py::none(),
           py::arg("audit") = false, py::arg("stop") = py::none(),
           py::arg("cpu_time_ms") = py::none(),
           "Runs the service once in a fresh container (ExecuteOptions as keywords, "
           "cpu_time_ms for cpu_time_limit; input is JSON text; callbacks receive bytes).")
      .def("preflight", &preflight, py::arg("service"), py::kw_only(),
           py::arg("build_image") = false, py::arg("runtime") = py::none(),
           py::arg("delivery") = py::none(), py::arg("on_build_output") = py::none(),
           py::arg("stop") = py::none(),
           "Preflight checks; the image-size check when the image exists or build_image. "
           "Ctrl-C or stop: StopSource cancel an image build (CancelledError).")
      .def("prewarm", &prewarm, py::arg("service"), py::kw_only(), py::arg("count") = 0,
           py::arg("env") = std::map<std::string, std::string>{}, py::arg("runtime") = py::none(),
           py::arg("timeout_ms") = py::none(), py::arg("memory_mb") = py::none(),
           py::arg("cpus") = py::none(), py::arg("delivery") = py::none(),
           py::arg("audit") = false, py::arg("on_build_output") = py::none(),
           py::arg("stop") = py::none(),
           "Fills the warm pool for what execute() with these ExecuteOptions would run, up to "
           "count ready containers (0: pool_size), and waits for them; returns how many are "
           "ready. Raises ConfigError when the pool is off or cannot serve the service, "
           "CancelledError on Ctrl-C or stop: StopSource.")
      .def("pool_stats", &Engine::pool_stats, release(), "The warm pool's counters.")
      .def("drain_pool", &Engine::drain_pool, release(),
           "Removes every ready container; refilling stops until an execution asks again.")
      .def("flush", &Engine::flush, release(),
           "Waits until every container removal queued so far is done.")
      .def("report", &Engine::report, py::arg("service"), py::arg("preflight"),
           py::arg("execution") = py::none(), "An ExecutionReport for a preflight and execution.")
      .def(
          "last_execution_ms",
          [](const Engine& e, const Service& s) -> std::optional<std::int64_t> {
            auto last = e.last_execution(s);
            if (!last) return std::nullopt;
            return last->count();
          },
          py::arg("service"), "Run-phase milliseconds of the service's last recorded execution.")
      .def("make_lock", &Engine::make_lock, py::arg("service"), release())
      .def("check_lock", &Engine::check_lock, py::arg("service"), release())
      .def("ping", &Engine::ping, release(),
           "Raises DockerUnavailableError when no daemon answers.")
      .def("gc", &Engine::gc, py::arg("service_images") = false, release(),
           "Removes containers of dead Ignite processes on this host and, with "
           "service_images, unused per-service images.")
      .def("remove_containers", &Engine::remove_containers, release(),
           "Removes every container this engine created that still exists; returns the count.")
      .def("release_kept", &Engine::release_kept, py::arg("container_id"), release(),
           "keep_containers: queues the removal of a kept container; False when none has "
           "that id.")
      // The registry lock may be held by a load() running without the GIL: wait without it.
      .def("runtimes", &Engine::runtimes, release(), "A snapshot of the runtime registry.")
      .def("register_runtime", &Engine::register_runtime, py::arg("runtime"), release())
      .def("unregister_runtime", &Engine::unregister_runtime, py::arg("name"), release())
      .def("load_runtimes_file", &Engine::load_runtimes_file, py::arg("path"), release())
      .def_property_readonly("session_id", &Engine::session_id,
                             "The dev.ignite.session label value of this engine's containers.");
}

}  // namespace Ignite::python
