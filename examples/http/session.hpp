// One HTTP/1.1 connection (the shape of Beast's async server session): read the header under a
// deadline (slowloris), apply the guard before reading any body, read the body under its own
// deadline and size limit, hand blocking work to a worker pool, and write the reply -- or a
// Server-Sent Events stream -- when the worker posts it back to this session's strand.
// Lifetime: every pending operation holds a shared_ptr to the session.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "examples/http/context.hpp"
#include "examples/http/router.hpp"
#include "examples/http/sse_queue.hpp"

namespace ignite_http {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `connection_key`: the place this connection holds in ctx.connection_limits (released when
  // the session ends); empty when it holds none.
  Session(tcp::socket&& socket, ServerContext& ctx, std::string connection_key = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run();
  // Thread-safe: closes the connection if it is only waiting for a request.
  void close_if_idle();

 private:
  enum class State { Reading, Working, Writing, Streaming, Closed };
  using Request = http::request<http::string_body>;
  using Response = http::response<http::string_body>;

  void do_read();
  void on_header(beast::error_code ec, std::size_t bytes);
  void read_body();
  void on_body(beast::error_code ec, std::size_t bytes);
  // A read error with a request (partly) parsed: 413/431/400, or just close.
  void on_read_error(beast::error_code ec);
  void dispatch();
  void run_blocking(BlockingCall call);
  void run_async(AsyncCall call);
  void run_execute(ExecuteJob job);
  // After the readiness check: 503 when the daemon is known not to answer, else the queue.
  void admit_execute(ExecuteJob job, Reply readiness);
  void finish_execute(ExecuteReply reply);

  void reply(Reply r, bool close = false);
  void on_write(bool close, bool drain, beast::error_code ec, std::size_t bytes);
  // A deadline passed while the client was sending (header, body) or reading (write): counted
  // in /metrics and logged like nginx's 408.
  void log_timeout(std::string_view phase);
  // X-Request-Id of the current request: the client's when it is a sane token, else a new one.
  void take_request_id(const http::fields& headers);
  // An error reply's JSON with the request id added.
  std::string with_request_id(std::string body) const;

  void sse_begin();
  void sse_output(std::string_view event, std::string text);
  void sse_end(std::string frame);
  void sse_arm_heartbeat();
  void on_sse_heartbeat(beast::error_code ec);
  void sse_pump();
  void on_sse_write(beast::error_code ec, std::size_t bytes);

  void watch_peer();
  void on_peer_readable(unsigned generation, beast::error_code ec);

  void do_close(bool drain = false);
  void on_drain(beast::error_code ec, std::size_t bytes);
  void finish_request(std::string_view timeout = {});

  beast::tcp_stream stream_;
  const beast::tcp_stream::executor_type ex_;
  ServerContext& ctx_;
  net::ip::address peer_;
  std::string peer_text_;
  std::string client_;
  std::string connection_key_;
  std::string request_id_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request req_;
  RouteMatch route_;
  std::string method_;
  bool head_ = false;  // a HEAD request: its answer has no body
  State state_ = State::Reading;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool in_request_ = false;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point read_started_;  // the header (or body) read began
  unsigned status_ = 0;
  std::uint64_t bytes_ = 0;
  std::shared_ptr<void> res_;
  std::shared_ptr<std::stop_source> cancel_;
  // Disconnect detection while a worker runs.
  unsigned watch_generation_ = 0;
  bool watching_ = false;
  // Server-Sent Events.
  bool sse_active_ = false;
  bool sse_chunked_ = true;
  bool sse_writing_ = false;
  bool sse_ending_ = false;
  bool sse_last_sent_ = false;
  bool sse_failed_ = false;
  std::shared_ptr<http::response<http::empty_body>> sse_res_;
  std::shared_ptr<http::response_serializer<http::empty_body>> sse_sr_;
  SseQueue sse_queue_;
  std::string sse_current_;
  std::optional<net::steady_timer> sse_heartbeat_;
  // Lingering close.
  std::shared_ptr<std::array<char, 4096>> drain_buffer_;
  std::size_t drained_ = 0;
};

}  // namespace ignite_http
