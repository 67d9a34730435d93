#include "ignite/src/swarm_lease.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/format_util.hpp"

using namespace std::chrono;
using json = nlohmann::json;

namespace Ignite::detail {
namespace {

// How long a task that ended (by the manager's account) may take to deliver its records
// through the log stream before the logs are read once more without following.
constexpr milliseconds kLogGrace{1000};
// How often the task is polled while its records have not arrived.
constexpr milliseconds kTaskPoll{250};

// "<status> <oom kills> <peak bytes>": the supervisor's record in file mode.
template <typename Record>
bool parse_record(std::string_view text, std::optional<Record>& into) {
  long long v[3] = {0, 0, 0};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (p == end || *p != ' ') return false;
      ++p;
    }
    const auto [next, ec] = std::from_chars(p, end, v[i]);
    if (ec != std::errc()) return false;
    p = next;
  }
  if (p != end || v[0] < 0 || v[0] > 255) return false;
  into = Record{static_cast<int>(v[0]), v[1], v[2]};
  return true;
}

bool terminal_state(const std::string& state) {
  return state == "complete" || state == "failed" || state == "shutdown" || state == "rejected" ||
         state == "orphaned" || state == "remove";
}

// Swarm object names: at most 63 characters of [a-zA-Z0-9_.-].
std::string object_name(const std::string& service) {
  std::string base = service.substr(0, 40);
  for (char& c : base) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '-';
  }
  return "ignite-" + base + "-" + random_hex(10);
}

}  // namespace

SwarmLease::SwarmLease(SwarmBackend& backend, const ContainerDefaults& defaults, const Service& svc,
                       const ExecuteOptions& opt, const Plan& plan, std::string image)
    : backend_(backend),
      opt_(opt),
      name_(object_name(svc.config.name)),
      key_(audit_nonce()),
      out_(plan.output_limit, opt.on_stdout),
      err_(plan.output_limit, opt.on_stderr),
      output_limit_(plan.output_limit) {
  // Refused before anything exists.
  const json secret =
      plan.input.empty() ? json() : input_secret_spec(defaults, svc, name_, plan.input);
  docker::DockerClient& docker = backend_.docker();
  // A create whose reply never came (cancelled, or no answer in time) may still be carried out:
  // its removal is queued by name.
  const auto create = [&](auto&& call, std::string& into, SwarmBackend::Kind kind) {
    try {
      into = call();
    } catch (const Error& e) {
      if (e.code() == ErrorCode::Cancelled || e.code() == ErrorCode::DockerUnavailable) {
        backend_.dispose(kind, name_);
      }
      throw;
    }
  };
  try {
    if (!secret.is_null()) {
      create([&] { return docker.secret_create(secret); }, secret_id_, SwarmBackend::Kind::Secret);
    }
    const std::string network =
        backend_.network(network_spec(defaults, "ignite-net-" + defaults.session));
    const SwarmJobSpec job{name_, std::move(image), key_, secret_id_, network};
    create([&] { return docker.service_create(service_spec(defaults, svc, opt, plan, job)); },
           service_id_, SwarmBackend::Kind::Service);
  } catch (...) {
    dispose_all();
    throw;
  }
  // The supervisor's records: authentic by the key, which only the non-dumpable supervisor
  // ever held inside the container (see supervisor.c, file mode).
  const std::string marker = "\x1eIGNITE-EXIT " + key_ + " ";
  out_demux_.emplace(
      marker,
      [this](std::string_view d) {
        out_record_.reset();
        out_.append(d);
      },
      [this](std::string_view t) { return parse_record(t, out_record_); });
  err_demux_.emplace(
      marker,
      [this](std::string_view d) {
        err_record_.reset();
        err_.append(d);
      },
      [this](std::string_view t) { return parse_record(t, err_record_); });
}

SwarmLease::~SwarmLease() {
  if (follower_.joinable()) {
    follower_.request_stop();
    follower_.join();
  }
  dispose_all();
}

void SwarmLease::dispose_all() noexcept {
  try {
    // In this order: the secret is in use until the service is gone.
    if (!service_id_.empty() && !service_removed_)
      backend_.dispose(SwarmBackend::Kind::Service, service_id_);
    service_removed_ = true;
    if (!secret_id_.empty())
      backend_.dispose(SwarmBackend::Kind::Secret, std::exchange(secret_id_, {}));
  } catch (...) {
    // Cleanup never throws; the reaper removes what is left (owner labels).
  }
}

bool SwarmLease::poll_task() {
  const auto tasks = backend_.docker().tasks_list(service_id_);
  if (tasks.empty()) return false;
  // One replica that is never restarted: one task.
  const json& t = tasks.front();
  task_id_ = t.value("ID", task_id_);
  if (const auto node = t.value("NodeID", std::string()); !node.empty()) node_id_ = node;
  const json status = t.value("Status", json::object());
  task_state_ = status.value("State", "");
  task_err_ = status.value("Err", "");
  const bool terminal = terminal_state(task_state_);
  if (terminal) {
    const json cs = status.value("ContainerStatus", json::object());
    if (const auto code = cs.find("ExitCode"); code != cs.end() && code->is_number_integer()) {
      task_exit_ = code->get<int>();
    }
  }
  const json cs = status.value("ContainerStatus", json::object());
  if (const auto id = cs.value("ContainerID", std::string()); !id.empty()) container_id_ = id;
  return terminal;
}

void SwarmLease::feed(docker::StreamKind kind, std::string_view data) {
  if (kind == docker::StreamKind::Stderr) {
    seen_[2] += data.size();
    err_demux_->feed(data);
  } else {
    seen_[1] += data.size();
    out_demux_->feed(data);
  }
}

void SwarmLease::follow(std::stop_token st, steady_clock::time_point deadline) {
  docker::CancelScope scope(st);
  // More than both streams' caps: one of them overflowed, the job is over.
  const std::size_t enough = 2 * output_limit_ + 65536;
  try {
    backend_.docker().service_logs(
        service_id_, /*follow=*/true,
        [&](docker::StreamKind kind, std::string_view data) {
          std::lock_guard lock(mu_);
          chunks_.push_back({kind, std::string(data)});
          queued_ += data.size();
          cv_.notify_one();
        },
        [&] {
          std::lock_guard lock(mu_);
          return queued_ <= enough && !st.stop_requested();
        },
        duration_cast<milliseconds>(deadline - steady_clock::now()) + seconds(30));
  } catch (...) {
    // Stopped, or the stream failed: the task's state and the final read decide.
  }
  std::lock_guard lock(mu_);
  follow_done_ = true;
  cv_.notify_one();
}

JobEnd SwarmLease::pump(milliseconds timeout) {
  JobEnd r;
  const auto created = steady_clock::now();
  const auto start_bound = created + kSwarmStartBound;
  // Until the task is seen running: the start bound plus the timeout.
  auto deadline = start_bound + timeout;
  bool running = false;
  const auto saw_running = [&](steady_clock::time_point at) {
    if (running) return;
    running = true;
    running_at_ = at;
    deadline = at + timeout;
  };
  follower_ = std::jthread([this, deadline](std::stop_token st) { follow(st, deadline); });
  auto next_poll = steady_clock::now() + kTaskPoll;
  std::optional<steady_clock::time_point> ended_at;
  for (;;) {
    std::deque<Chunk> got;
    {
      std::unique_lock lock(mu_);
      const auto until = std::min({deadline, next_poll, steady_clock::now() + milliseconds(20)});
      cv_.wait_until(lock, until, [&] { return !chunks_.empty(); });
      got.swap(chunks_);
    }
    if (!got.empty()) saw_running(steady_clock::now());
    for (const auto& c : got) feed(c.kind, c.data);
    if (out_record_ && err_record_) break;
    if (out_.truncated() || err_.truncated()) {
      r.flooded = true;
      break;
    }
    if (opt_.stop_token.stop_requested()) {
      r.cancelled = true;
      break;
    }
    const auto now = steady_clock::now();
    if (!running && now >= start_bound) {
      throw Error(ErrorCode::Execution,
                  "swarm service " + name_ + ": its task was not running " +
                      std::to_string(kSwarmStartBound.count()) + " s after it was created (" +
                      (task_state_.empty() ? "no task yet" : "state " + task_state_) +
                      (task_err_.empty() ? "" : ": " + task_err_) + ")");
    }
    if (now >= deadline) {
      r.timed_out = true;
      break;
    }
    if (now >= next_poll) {
      try {
        const bool terminal = poll_task();
        if (terminal || task_state_ == "running") saw_running(now);
        if (terminal && !ended_at) ended_at = now;
      } catch (const Error& e) {
        if (e.code() == ErrorCode::Cancelled) {
          r.cancelled = true;
          break;
        }
        // A manager that did not answer this time is asked again at the next poll.
      }
      next_poll = steady_clock::now() + (ended_at ? milliseconds(100) : kTaskPoll);
    }
    if (ended_at && now - *ended_at > kLogGrace) break;
  }
  follower_.request_stop();
  follower_.join();
  const bool stopped_by_us = r.cancelled || r.flooded || r.timed_out;
  if (!stopped_by_us && !(out_record_ && err_record_)) {
    // The task ended without both records (its supervisor was killed, or it never ran): the
    // logs once more, from where the follow got to on each stream.
    for (const auto& c : chunks_) feed(c.kind, c.data);
    chunks_.clear();
    std::size_t skip[3] = {0, seen_[1], seen_[2]};
    try {
      backend_.docker().service_logs(
          service_id_, /*follow=*/false, [&](docker::StreamKind kind, std::string_view data) {
            std::size_t& s = skip[kind == docker::StreamKind::Stderr ? 2 : 1];
            const std::size_t n = std::min(s, data.size());
            s -= n;
            data.remove_prefix(n);
            if (!data.empty()) feed(kind, data);
          });
    } catch (const Error& e) {
      if (e.code() == ErrorCode::Cancelled) r.cancelled = true;
    }
    if (out_.truncated() || err_.truncated()) r.flooded = true;
  }
  out_demux_->finish();
  err_demux_->finish();
  const bool records_final =
      out_record_ && err_record_ && out_record_->status == err_record_->status;
  if (!r.cancelled && !r.flooded && !r.timed_out && records_final) {
    r.exit_record = out_record_->status;
  }
  r.end = r.timed_out   ? docker::Attachment::End::Deadline
          : r.cancelled ? docker::Attachment::End::Stopped
                        : docker::Attachment::End::Eof;
  if (!r.in_band() && !r.cancelled && !r.timed_out && !r.flooded && !task_exit_ &&
      (task_state_ == "rejected" || task_state_ == "failed" || task_state_ == "orphaned")) {
    throw Error(ErrorCode::Execution,
                "swarm task " + task_id_ + " of service " + name_ + " could not run (" +
                    task_state_ +
                    "): " + (task_err_.empty() ? "no message from the swarm" : task_err_));
  }
  return r;
}

SwarmFinish SwarmLease::finish(const JobEnd& end) {
  // Goes through after a cancellation too: it is the cleanup.
  docker::CancelScope finishing{std::stop_token()};
  SwarmFinish f;
  if (end.cancelled || end.timed_out || end.flooded) {
    // Stopped by Ignite: removing the service is the kill (StopSignal SIGKILL, no grace).
    f.exit_code = 137;
  } else if (end.in_band()) {
    f.exit_code = *end.exit_record;
    const long long ooms = std::max(out_record_->ooms, err_record_->ooms);
    const long long peak = std::max(out_record_->peak, err_record_->peak);
    f.oom_killed = ooms > 0;
    if (peak >= 0) f.memory_peak_mb = static_cast<double>(peak) / (1024.0 * 1024.0);
  } else {
    f.exit_code = task_exit_.value_or(-1);
    // The supervisor is PID 1 of the task's PID namespace: nothing inside can SIGKILL it, and
    // Ignite did not remove the service. Only the kernel's OOM killer can have done it.
    f.oom_killed = f.exit_code == 137;
  }
  if (task_id_.empty() || node_id_.empty()) {
    try {
      poll_task();
    } catch (const Error&) {
      // Placement unknown; the result stands.
    }
  }
  dispose_all();
  return f;
}

}  // namespace Ignite::detail
