// The OpenAPI 3 description of the server's routes (served at GET /openapi.json).
#pragma once

#include <nlohmann/json.hpp>

namespace ignite_http {

const nlohmann::json& openapi_document();

}  // namespace ignite_http
