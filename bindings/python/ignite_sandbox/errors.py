"""Ignite's exception hierarchy.

Every error Ignite raises is an :class:`IgniteError`; each ``Ignite::ErrorCode`` has its own
subclass, and ``err.code`` is that code's stable string (``"config"``, ``"docker_unavailable"``
...). A service that fails, times out or hits a limit is *not* an exception: it is the
``outcome`` of the :class:`~ignite_sandbox.ExecutionResult`.

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
    ├── InternalError           a bug in Ignite
    └── ExecutionFailed         raised by ``result.check()``: the service did not succeed
                                (``.result`` is the ExecutionResult)

``asyncio.CancelledError`` (a cancelled task) is not the same as ``CancelledError`` here (a
StopSource stopped a preflight or prewarm).
"""

from __future__ import annotations

from typing import Any, Optional

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



class ExecutionFailed(IgniteError):  # type: ignore[misc, valid-type]
    """The service did not succeed: raised by ``ExecutionResult.check()`` (as
    ``subprocess.CompletedProcess.check_returncode`` raises ``CalledProcessError``).

    Attributes:
        result: the :class:`~ignite_sandbox.ExecutionResult`, with ``outcome``,
            ``exit_code``, ``stdout`` and ``stderr``.
    """

    code = "execution_failed"

    def __init__(self, result: Any, message: Optional[str] = None) -> None:
        if message is None:
            tail = (result.stderr or "").strip().splitlines()[-1:]
            message = f"{result.service_name}: {result.outcome} (exit code {result.exit_code})" + (
                f": {tail[0][:200]}" if tail else "")
        super().__init__(message)
        self.result = result

    def __reduce__(self) -> Any:
        # The result wraps a native object: a pickled copy keeps the message only.
        return (type(self), (None, self.message))


#: ``code`` string -> exception class, e.g. ``ERROR_CLASSES["config"] is ConfigError``.
ERROR_CLASSES: dict[str, type[IgniteError]] = dict(_core.ERROR_CLASSES)


def error_class(code: str) -> type[IgniteError]:
    """The exception class of an error code string; :class:`IgniteError` for an unknown one."""
    return ERROR_CLASSES.get(code, IgniteError)


__all__ = [
    "ERROR_CLASSES",
    "BuildError",
    "ExecutionFailed",
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
