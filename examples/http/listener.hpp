// Accepts connections and gives each its own Session on its own strand.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>

#include "examples/http/context.hpp"

namespace ignite_http {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Opens, binds and listens; throws boost::system::system_error when it cannot.
  Listener(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& endpoint,
           ServerContext& ctx);

  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void run();
  // Stops accepting (thread-safe): the listening socket is closed.
  void stop();

 private:
  void do_accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  ServerContext& ctx_;
};

}  // namespace ignite_http
