// The scripts that run inside containers. Their sources are real files in ignite/container/ (so
// they can be read, linted and syntax-checked as JavaScript); the build embeds them byte for
// byte with ignite/container/embed.py, which defines these accessors. The bytes are part of
// every per-service image's content hash: editing a file there rebuilds the images.
#pragma once

#include <string_view>

namespace Ignite::detail::container {

// Audit bootstraps (audit.hpp). Bun loads the Node.js one: it runs the node: compat hooks plus
// its own Bun.* ones.
std::string_view audit_node_cjs();
std::string_view audit_deno_js();
std::string_view audit_qjs_js();

// Resident runners (runner.hpp). Bun loads the Node.js one.
std::string_view runner_node_cjs();
std::string_view runner_deno_js();
std::string_view runner_qjs_js();

}  // namespace Ignite::detail::container
