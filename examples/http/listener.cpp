#include "examples/http/listener.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include "examples/http/access_log.hpp"
#include "examples/http/session.hpp"

namespace ignite_http {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Listener::Listener(net::io_context& ioc, const tcp::endpoint& endpoint, ServerContext& ctx)
    : ioc_(ioc), acceptor_(net::make_strand(ioc)), retry_(acceptor_.get_executor()), ctx_(ctx) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

tcp::endpoint Listener::local_endpoint() const { return acceptor_.local_endpoint(); }

void Listener::run() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void Listener::stop() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
    self->retry_.cancel();
  });
}

void Listener::do_accept() {
  if (!acceptor_.is_open()) return;
  // Each connection gets its own strand: its handlers never run concurrently.
  acceptor_.async_accept(net::make_strand(ioc_), boost::beast::bind_front_handler(
                                                     &Listener::on_accept, shared_from_this()));
}

void Listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // E.g. out of file descriptors: back off briefly instead of spinning.
    log_line("accept: " + ec.message());
    retry_.expires_after(std::chrono::milliseconds(100));
    retry_.async_wait([self = shared_from_this()](boost::system::error_code wec) {
      if (!wec) self->do_accept();
    });
    return;
  }
  auto refuse = [&](std::string_view reason) {
    if (!reason.empty()) ctx_.metrics.record_connection_refused(reason);
    boost::system::error_code ignored;
    socket.close(ignored);
  };
  if (ctx_.draining) {
    refuse({});
  } else if (ctx_.sessions.size() >= ServerContext::kMaxConnections) {
    refuse("server_limit");
  } else {
    boost::system::error_code pec;
    const auto peer = socket.remote_endpoint(pec);
    std::string key;
    bool admitted = true;
    if (!pec) {
      const auto address = normalize(peer.address());
      key = rate_limit_key(address);
      admitted = ctx_.connection_limits.try_acquire(key, ctx_.trusted.contains(address));
    }
    if (!admitted) {
      refuse("per_client_limit");
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket), ctx_, std::move(key))->run();
    }
  }
  do_accept();
}

}  // namespace ignite_http
