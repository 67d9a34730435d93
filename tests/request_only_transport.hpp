// A base for scripted Engine API transports in unit tests: subclasses answer request(), and a
// stream gets that same reply as a single chunk.
#pragma once

#include <functional>
#include <string_view>

#include "ignite/src/docker/transport.hpp"

namespace Ignite::testing {

class RequestOnlyTransport : public docker::Transport {
 public:
  docker::HttpResponse stream(const docker::HttpRequest& req,
                              const std::function<bool(std::string_view)>& on_data) override {
    docker::HttpResponse r = request(req);
    on_data(r.body);
    return r;
  }
};

}  // namespace Ignite::testing
