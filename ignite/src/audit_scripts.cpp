// The audit bootstrap scripts (see audit.hpp), shipped into every per-service image at
// /opt/ignite. Their sources are ignite/container/audit-*.js and audit-node.cjs
// (container_files.hpp).
#include "ignite/src/audit.hpp"
#include "ignite/src/container_files.hpp"

namespace Ignite::detail {

std::span<const AuditScript> audit_scripts() {
  // Built on first use rather than at namespace scope: the contents are defined in another
  // translation unit, which a static initialiser calling this could otherwise run ahead of.
  // The names are part of the images' content hash and of the runtimes' command lines.
  static const AuditScript kScripts[] = {
      {"audit-node.cjs", container::audit_node_cjs()},
      {"audit-bun.js", container::audit_node_cjs()},
      {"audit-deno.js", container::audit_deno_js()},
      {"audit-qjs.js", container::audit_qjs_js()},
  };
  return kScripts;
}

}  // namespace Ignite::detail
