#include "ignite/src/lease.hpp"

#include <algorithm>
#include <utility>

#include "ignite/error.hpp"
#include "ignite/src/audit.hpp"
#include "ignite/src/format_util.hpp"
#include "ignite/src/runner.hpp"

using namespace std::chrono;
using json = nlohmann::json;

namespace Ignite::detail {
namespace {

// POST /containers/create under the name Ignite chose. When the reply never came (cancelled,
// or the daemon did not answer in time) the daemon may still create the container later: it
// is removed by that name once it may exist (Remover::push_unconfirmed).
std::string create_named(docker::DockerClient& docker, Remover& remover, const json& body,
                         const std::string& name) {
  try {
    return docker.container_create(body, name);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::Cancelled || e.code() == ErrorCode::DockerUnavailable) {
      remover.push_unconfirmed(name, docker.timeouts().lifecycle);
    }
    throw;
  }
}

}  // namespace

Lease::Lease(LeaseContext ctx, const Service& svc, const ExecuteOptions& opt, const Plan& plan,
             ServiceImage& image)
    : ctx_(std::move(ctx)) {
  const auto t0 = steady_clock::now();
  if (plan.mode != Plan::Mode::Cold) take(svc, opt, plan, image.ref);
  const bool reuse_mode = warm_ && warm_->jobs_max > 1;
  kind_ = !warm_ ? Kind::Cold : reuse_mode ? Kind::Reuse : Kind::Once;
  // A cold container runs its runtime under the supervisor too whenever it may spawn: the
  // in-band exit record then saves the wait for the daemon's end of stream and exit report.
  supervised_ = warm_ || plan.may_spawn;
  supervisor_key_ = warm_ ? warm_->nonce : (supervised_ ? audit_nonce() : std::string());
  if (warm_) {
    id_ = warm_->id;
    ++warm_->jobs_done;
    start_ = warm_->jobs_done > 1 ? ContainerStart::Reused : ContainerStart::Warm;
    job_ = warm_->jobs_done;
    guard_.emplace(ctx_.retire, id_);
    pooled_ = true;
  } else {
    starting_.emplace(ctx_.remover);
    create(svc, opt, plan, image);
    // Attach before start: output written before an attach is lost otherwise.
    cold_attachment_ = ctx_.docker.container_attach(id_, true);
    create_time_ = since(t0);
    const auto t1 = steady_clock::now();
    ctx_.docker.container_start(id_);
    start_time_ = since(t1);
    starting_->end();
  }
}

Lease::~Lease() { end_job(); }

void Lease::end_job() {
  // Tells the pool when a pooled job ended; a reuse-mode container that does not go back
  // (failure, limit, exception) lets the pool start a replacement.
  if (!pooled_) return;
  pooled_ = false;
  if (kind_ == Kind::Reuse && !returned_ && warm_ &&
      detail::Pool::counts_as_lent(warm_->jobs_max, job_)) {
    ctx_.pool().forfeit(*pool_key_);
  }
  ctx_.pool().job_done();
}

void Lease::take(const Service& svc, const ExecuteOptions& opt, const Plan& plan,
                 const std::string& image) {
  // Reuse keeps at least one container: the one a job gives back.
  const std::size_t target =
      std::max<std::size_t>(ctx_.pool_size, plan.mode == Plan::Mode::Reuse ? 1 : 0);
  pool_key_ = want_pool(ctx_, svc, opt, plan, image, target);
  warm_ = ctx_.pool().take(*pool_key_,
                           steady_clock::now() + std::min<milliseconds>(plan.timeout, seconds(30)),
                           opt.stop_token);
  if (opt.stop_token.stop_requested()) {
    if (warm_) {
      // Handed out just as the stop came: it ran no job, but it left the pool's hands.
      warm_->attachment.close();
      ctx_.retire(warm_->id, false);
      if (detail::Pool::counts_as_lent(warm_->jobs_max, warm_->jobs_done + 1)) {
        ctx_.pool().forfeit(*pool_key_);
      }
      ctx_.pool().job_done();
      warm_.reset();
    }
    throw Error(ErrorCode::Cancelled, "cancelled while waiting for a pooled container");
  }
}

void Lease::create(const Service& svc, const ExecuteOptions& opt, const Plan& plan,
                   ServiceImage& image) {
  std::map<std::string, std::string> env = plan.base_env;
  for (const auto& [k, v] : plan.job_env) env[k] = v;
  std::vector<std::string> cmd = plan.cmd;
  if (supervised_) {
    // --early: the runtime boots while this side waits for the start call's reply and sends the
    // job (supervisor.c says why not under gVisor, nor with a CPU-time limit; audit mode keeps
    // the order its bootstrap was written for).
    const bool gvisor = plan.policy && plan.policy->isolation == Isolation::Gvisor;
    const bool early = !gvisor && !plan.cpu_time_limit && !opt.audit;
    std::vector<std::string> head = {std::string(kSupervisorPath), "once", "--"};
    if (early) head.insert(head.begin() + 2, "--early");
    cmd.insert(cmd.begin(), head.begin(), head.end());
  }
  json body = create_body(ctx_.defaults, svc, image.ref, plan.delivery, opt, env_list(env),
                          plan.policy, opt.audit, cmd);
  // Only where the supervisor reports the exit in band: an unsupervised container's exit code
  // comes from the daemon's wait, which a deletion racing it would turn into a 404.
  if (ctx_.auto_remove && supervised_) {
    body["HostConfig"]["AutoRemove"] = true;
    auto_removed_ = true;
  }
  const std::string name = "ignite-" + svc.config.name + "-" + random_hex(10);
  try {
    id_ = create_named(ctx_.docker, ctx_.remover, body, name);
  } catch (const Error& e) {
    // The cached image went missing (removed behind this Engine's back): build it again.
    if (e.code() != ErrorCode::NotFound) throw;
    ctx_.images.forget(image.ref);
    image = ctx_.images.ensure(svc, plan.rt, plan.delivery, opt.on_build_output);
    json again = body;
    again["Image"] = image.ref;
    id_ = create_named(ctx_.docker, ctx_.remover, again, name);
  }
  ctx_.track(id_);
  guard_.emplace(ctx_.retire, id_);
}

std::string Lease::take_early_stdout() {
  return warm_ ? std::exchange(warm_->early_stdout, {}) : std::string();
}

std::string Lease::take_early_stderr() {
  return warm_ ? std::exchange(warm_->early_stderr, {}) : std::string();
}

void Lease::give_back() {
  guard_->dismiss();
  returned_ = true;
  ctx_.pool().give_back(std::move(*warm_));
}

void Lease::retire(bool exiting) {
  if (!guard_) return;
  // The daemon deletes it as it exits; any other end still gets a (forced) delete of ours.
  if (auto_removed_ && exiting) {
    guard_->dismiss();
    return;
  }
  guard_->release(exiting);
}

void Lease::refill_pool() {
  // The job is over: the pool hears it first, so that the start it queues now is not held back
  // for this job (a worker waiting for the job is one more wake-up).
  end_job();
  if (pool_key_) ctx_.pool().refill(*pool_key_);
}

WarmContainer start_warm(const LeaseContext& ctx, const json& body, std::size_t jobs_max,
                         const std::string& name) {
  docker::DockerClient& docker = ctx.docker;
  WarmContainer c;
  // The supervisor's completion key: sent over stdin, never in the container's environment.
  c.nonce = audit_nonce();
  c.jobs_max = jobs_max;
  Remover::Starting starting(ctx.remover);
  c.id = create_named(docker, ctx.remover, body, "ignite-" + name + "-" + random_hex(10));
  ctx.track(c.id);
  try {
    c.attachment = docker.container_attach(c.id, true);
    docker.container_start(c.id);
    static constexpr std::string_view kReady = "\x1eIGNITE-READY\n";
    // What a runtime prints before it is ready (warnings; or a service's NODE_OPTIONS code) is
    // kept up to this much per stream, like any other output it is the job's.
    static constexpr std::size_t kEarlyCap = 65536;
    bool ready = false;
    std::size_t dropped = 0;
    std::string last;  // the end of what was dropped: where a runtime's crash message is
    std::string tail;  // not yet known not to be the start of the ready line
    const auto keep = [&](std::string_view text) {
      const std::size_t room = kEarlyCap - std::min(kEarlyCap, c.early_stderr.size());
      c.early_stderr.append(text.substr(0, room));
      if (text.size() > room) {
        dropped += text.size() - room;
        last.append(text.substr(room));
        if (last.size() > 2000) last.erase(0, last.size() - 1000);
      }
    };
    const auto end = c.attachment.pump(
        supervisor_key_line(c.nonce),
        [&](docker::StreamKind kind, std::string_view data) {
          if (kind != docker::StreamKind::Stderr) {
            if (c.early_stdout.size() < kEarlyCap) {
              c.early_stdout.append(data.substr(0, kEarlyCap - c.early_stdout.size()));
            }
            return;
          }
          if (ready) return;
          tail.append(data);
          if (const auto at = tail.find(kReady); at != std::string::npos) {
            keep(std::string_view(tail).substr(0, at));
            ready = true;
          } else if (tail.size() >= kReady.size()) {
            keep(std::string_view(tail).substr(0, tail.size() - kReady.size() + 1));
            tail.erase(0, tail.size() - kReady.size() + 1);
          }
        },
        steady_clock::now() + seconds(60), [&] { return ready; }, /*close_stdin=*/false,
        // `ready` changes only with what is read: no wake-ups every 20 ms while the runtime boots.
        [] { return steady_clock::time_point::max(); });
    if (!ready) {
      throw Error(ErrorCode::Runtime,
                  "pooled container " + c.id.substr(0, 12) +
                      (end == docker::Attachment::End::Eof ? " exited before its runner was ready"
                                                           : " was not ready within 60 s") +
                      (c.early_stderr.empty() && tail.empty()
                           ? std::string()
                           : ": " + c.early_stderr.substr(0, 1000) +
                                 (dropped > 0 || c.early_stderr.size() > 1000
                                      ? " ... " + (last.size() > 1000 ? last.substr(last.size() - 1000) : last)
                                      : std::string()) +
                                 tail));
    }
  } catch (...) {
    c.attachment.close();
    if (!c.id.empty()) ctx.retire(c.id, false);
    throw;
  }
  return c;
}

std::string want_pool(const LeaseContext& ctx, const Service& svc, const ExecuteOptions& opt,
                      const Plan& p, const std::string& image, std::size_t target) {
  auto [body, key] = pool_body(ctx.defaults, svc, opt, p, image);
  ctx.pool().want(
      key,
      [&] {
        return [ctx, body = std::move(body), jobs = p.reuse, name = svc.config.name] {
          return start_warm(ctx, body, jobs, name);
        };
      },
      p.memory_mb, target);
  return key;
}

}  // namespace Ignite::detail
