// Label keys on every Docker resource Ignite creates. The dev.ignite.* namespace is reserved:
// the reaper and `ignite gc` select by these labels.
#pragma once

#include <string_view>

namespace Ignite::labels {

inline constexpr std::string_view kManaged = "dev.ignite.managed";
inline constexpr std::string_view kSession = "dev.ignite.session";
inline constexpr std::string_view kVersion = "dev.ignite.version";
inline constexpr std::string_view kService = "dev.ignite.service";
inline constexpr std::string_view kOwnerPid = "dev.ignite.owner-pid";
inline constexpr std::string_view kOwnerHost = "dev.ignite.owner-host";
inline constexpr std::string_view kOwnerStart = "dev.ignite.owner-start";
inline constexpr std::string_view kKind = "dev.ignite.kind";
// "warm" or "reuse" on containers started by the warm pool.
inline constexpr std::string_view kPool = "dev.ignite.pool";
// A random id per image build, on every image the build commits (its intermediate images
// too): what a build that did not finish left behind is found by it and removed.
inline constexpr std::string_view kBuild = "dev.ignite.build";

}  // namespace Ignite::labels
