// Copying images between two daemons through the Engine API: GET /images/get on the source
// piped into POST /images/load on the target, chunk by chunk through a bounded buffer (no
// temporary file, at most kCopyBufferBytes in memory), for remote daemons that lack the
// runtime images (`ignite images copy --to URL`).
//
// Thread-safety: copy_images() may run concurrently with executions on either client.
#pragma once

#include <string>
#include <vector>

#include "ignite/engine.hpp"
#include "ignite/src/docker/client.hpp"

namespace Ignite::detail {

// Copies `images` (references) that `to` lacks or has with another id. Throws Error(NotFound)
// for an image `from` does not have, Error(Cancelled) on a stop request, and either daemon's
// error (the other transfer is stopped).
ImageCopyResult copy_images(docker::DockerClient& from, docker::DockerClient& to,
                            const std::vector<std::string>& images,
                            const ImageCopyOptions& options);

}  // namespace Ignite::detail
