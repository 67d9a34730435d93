#include "ignite/src/docker/cancel.hpp"

namespace Ignite::docker {
namespace {
thread_local const CancelScope* t_scope = nullptr;
}  // namespace

CancelScope::CancelScope(std::stop_token token) noexcept
    : token_(std::move(token)), outer_(t_scope) {
  t_scope = this;
}

CancelScope::~CancelScope() { t_scope = outer_; }

bool CancelScope::cancelled() noexcept {
  return t_scope != nullptr && t_scope->token_.stop_requested();
}

std::stop_token CancelScope::token() noexcept {
  return t_scope != nullptr ? t_scope->token_ : std::stop_token();
}

}  // namespace Ignite::docker
