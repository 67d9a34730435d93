"""Ignite's exception hierarchy.

Every error Ignite raises is an :class:`IgniteError`; each ``Ignite::ErrorCode`` has its own
subclass, and ``err.code`` is that code's stable string (``"config"``, ``"docker_unavailable"``
...). A service that fails, times out or hits a limit is *not* an exception: it is the
``outcome`` of the :class:`~ignite.ExecutionResult`.

    IgniteError
    ├── ConfigError             service.yaml, runtimes.yaml, a policy or an option is invalid
    ├── ServiceError            service directory or entry file missing/unreadable
    ├── RuntimeNotFoundError    unknown runtime / unsupported version / base image missing
    ├── BuildError              the per-service image build failed
    ├── DockerUnavailableError  no daemon answers (also a ConnectionError)
    ├── DockerError             the daemon answered with an error (.status_code)
    ├── ExecutionError          a container could not be created, started or observed
    ├── PreflightError          preflight failed and the caller asked to block
    ├── LockError               ignite.lock missing, malformed or out of date
    ├── NotFoundError           a named object does not exist (.status_code)
    ├── InvalidArgumentError    bad argument from the caller (also a ValueError)
    ├── CancelledError          the caller cancelled the operation
    └── InternalError           a bug in Ignite
"""

from __future__ import annotations

from ._native import _core

IgniteError = _core.IgniteError
ConfigError = _core.ConfigError
ServiceError = _core.ServiceError
RuntimeNotFoundError = _core.RuntimeNotFoundError
BuildError = _core.BuildError
DockerUnavailableError = _core.DockerUnavailableError
DockerError = _core.DockerError
ExecutionError = _core.ExecutionError
PreflightError = _core.PreflightError
LockError = _core.LockError
NotFoundError = _core.NotFoundError
InvalidArgumentError = _core.InvalidArgumentError
CancelledError = _core.CancelledError
InternalError = _core.InternalError

#: ``code`` string -> exception class, e.g. ``ERROR_CLASSES["config"] is ConfigError``.
ERROR_CLASSES: dict[str, type[IgniteError]] = dict(_core.ERROR_CLASSES)


def error_class(code: str) -> type[IgniteError]:
    """The exception class of an error code string; :class:`IgniteError` for an unknown one."""
    return ERROR_CLASSES.get(code, IgniteError)


__all__ = [
    "ERROR_CLASSES",
    "BuildError",
    "CancelledError",
    "ConfigError",
    "DockerError",
    "DockerUnavailableError",
    "ExecutionError",
    "IgniteError",
    "InternalError",
    "InvalidArgumentError",
    "LockError",
    "NotFoundError",
    "PreflightError",
    "RuntimeNotFoundError",
    "ServiceError",
    "error_class",
]
