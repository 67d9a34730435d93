// What every connection of one server shares: options, the router, the worker pools, metrics
// and the shutdown state. Owned by run_server; outlives every session.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stop_token>
#include <unordered_map>

#include "examples/http/connection_limit.hpp"
#include "examples/http/executor.hpp"
#include "examples/http/metrics.hpp"
#include "examples/http/options.hpp"
#include "examples/http/rate_limit.hpp"
#include "examples/http/router.hpp"

namespace ignite_http {

class Session;
class ReadinessProbe;

// The live sessions, so a shutdown can close the idle ones. Thread-safe.
class SessionRegistry {
 public:
  void add(Session* s, std::weak_ptr<Session> w);
  void remove(Session* s);
  std::size_t size() const;
  // Asks every live session to close once it has nothing left to answer.
  void close_idle();

 private:
  mutable std::mutex mu_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
};

struct ServerContext {
  const ServerOptions& options;
  Router& router;
  Metrics& metrics;
  BoundedPool& executions;  // POST execute
  BoundedPool& blocking;    // listing, config, preflight
  const TrustedProxies& trusted;
  ConnectionLimits& connection_limits;
  // Executions are admitted only while the daemon is known to answer (issue: a stalled daemon
  // must not fill the queue with requests that can only time out).
  ReadinessProbe& readiness;
  SessionRegistry sessions;
  std::atomic<bool> draining{false};  // stop reading new requests; close after each answer
  std::stop_source cancel;            // the grace period is over: cancel running executions
  static constexpr std::size_t kMaxConnections = 10000;
  static constexpr std::chrono::seconds kWriteTimeout{30};
};

}  // namespace ignite_http
