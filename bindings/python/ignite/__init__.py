"""Ignite: run untrusted JavaScript/TypeScript services in hardened Docker containers.

Example::

    import ignite

    with ignite.Engine() as engine:
        svc = engine.load("examples/services/hello-node")
        result = engine.execute(svc, input={"name": "World"}, timeout_ms=5000)
        print(result.outcome, result.exit_code, result.stdout)

The package wraps the C++ library (``ignite._core``, a one-to-one mirror of its API) with
keyword-only arguments, dataclass results (``.to_dict()``, ``.to_json()``) and one exception
class per error code (see :mod:`ignite.errors`). A pytest plugin provides the
``ignite_engine`` fixture (:mod:`ignite.pytest_plugin`).
"""

from __future__ import annotations

from ._native import _core
from .engine import Engine, StopSource
from .errors import (
    ERROR_CLASSES,
    BuildError,
    CancelledError,
    ConfigError,
    DockerError,
    DockerUnavailableError,
    ExecutionError,
    IgniteError,
    InternalError,
    InvalidArgumentError,
    LockError,
    NotFoundError,
    PreflightError,
    RuntimeNotFoundError,
    ServiceError,
)
from .models import (
    CheckStatus,
    CodeDelivery,
    ContainerStart,
    DriftReport,
    ExecutionReport,
    ExecutionResult,
    GcResult,
    LockManifest,
    Outcome,
    PhaseTimings,
    PolicyLimits,
    PoolStats,
    PreflightCheck,
    PreflightResult,
    ReportWarning,
    ResolvedRuntime,
    Runtime,
    SecurityAudit,
    SecurityEvent,
    SecurityPolicy,
    Service,
    WarningLevel,
)

#: Version of the Ignite library this package wraps (``Ignite::version()``).
__version__: str = _core.__version__

__all__ = [
    "ERROR_CLASSES",
    "BuildError",
    "CancelledError",
    "CheckStatus",
    "CodeDelivery",
    "ConfigError",
    "ContainerStart",
    "DockerError",
    "DockerUnavailableError",
    "DriftReport",
    "Engine",
    "ExecutionError",
    "ExecutionReport",
    "ExecutionResult",
    "GcResult",
    "IgniteError",
    "InternalError",
    "InvalidArgumentError",
    "LockError",
    "LockManifest",
    "NotFoundError",
    "Outcome",
    "PhaseTimings",
    "PolicyLimits",
    "PoolStats",
    "PreflightCheck",
    "PreflightError",
    "PreflightResult",
    "ReportWarning",
    "ResolvedRuntime",
    "Runtime",
    "RuntimeNotFoundError",
    "SecurityAudit",
    "SecurityEvent",
    "SecurityPolicy",
    "Service",
    "ServiceError",
    "StopSource",
    "WarningLevel",
    "__version__",
]
