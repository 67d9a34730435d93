"""Result and value types: immutable dataclasses with attributes, ``to_dict()`` and ``to_json()``.

The dicts and JSON text are the shapes of the C++ library's ``ignite/json.hpp`` (camelCase
keys, as the CLI's ``--json`` output and the HTTP server), produced by the C++ serialiser
itself, so every binding agrees on them. Attributes use Python names (``exit_code``,
``memory_peak_mb``); enums are :class:`enum.StrEnum`, so ``result.outcome == "success"``.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from ._native import _core

__all__ = [
    "CheckStatus",
    "CodeDelivery",
    "ContainerStart",
    "DriftReport",
    "ExecutionReport",
    "ExecutionResult",
    "GcResult",
    "LockManifest",
    "Outcome",
    "PhaseTimings",
    "PolicyLimits",
    "PoolStats",
    "PreflightCheck",
    "PreflightResult",
    "ReportWarning",
    "ResolvedRuntime",
    "Runtime",
    "SecurityAudit",
    "SecurityEvent",
    "SecurityPolicy",
    "Service",
    "WarningLevel",
]


class Outcome(enum.StrEnum):
    """How an execution ended (``Ignite::Outcome``)."""

    SUCCESS = "success"  #: exit code 0
    ERROR = "error"  #: non-zero exit code
    TIMEOUT = "timeout"  #: killed by Ignite after the timeout
    MEMORY_LIMIT = "memory_limit"  #: stopped by the kernel's OOM killer
    OUTPUT_LIMIT = "output_limit"  #: stdout or stderr exceeded the cap; killed
    CANCELLED = "cancelled"  #: stopped by the caller (StopSource, KeyboardInterrupt, callback)
    CPU_LIMIT = "cpu_limit"  #: the CPU time passed the CPU-time limit (cpuTimeMs); killed

    @classmethod
    def _from_core(cls, value: Any) -> "Outcome":
        return cls(_core.to_string(value))


class CheckStatus(enum.StrEnum):
    """Verdict of a preflight check."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    @classmethod
    def _from_core(cls, value: Any) -> "CheckStatus":
        return cls(_core.to_string(value))


class WarningLevel(enum.StrEnum):
    """Severity of a report warning."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @classmethod
    def _from_core(cls, value: Any) -> "WarningLevel":
        return cls(_core.to_string(value))


class ContainerStart(enum.StrEnum):
    """How an execution's container was obtained (``Ignite::ContainerStart``)."""

    COLD = "cold"  #: created and started for this execution
    WARM = "warm"  #: taken from the warm pool, used for this execution only
    REUSED = "reused"  #: a reuse-mode container that had run earlier jobs of the same service

    @classmethod
    def _from_core(cls, value: Any) -> "ContainerStart":
        return cls(_core.to_string(value))


class CodeDelivery(enum.StrEnum):
    """How the service's code reaches the container."""

    AUTO = "auto"  #: MOUNT on a local daemon
    MOUNT = "mount"  #: the directory bind-mounted read-only at /app; edits need no rebuild
    BAKED = "baked"  #: the files copied into the per-service image

    def _to_core(self) -> Any:
        return getattr(_core.CodeDelivery, self.value.capitalize())

    @classmethod
    def _coerce(cls, value: Union["CodeDelivery", str, None]) -> Any:
        """A str/CodeDelivery/None argument as the _core enum (or None)."""
        if value is None:
            return None
        try:
            return cls(str(value).lower())._to_core()
        except ValueError:
            raise _core.InvalidArgumentError(
                f"delivery must be one of {', '.join(m.value for m in cls)} (got {value!r})"
            ) from None


def _loads(text: str) -> dict[str, Any]:
    return json.loads(text)


class _JsonMixin:
    """to_dict()/to_json() from the wrapped C++ value's serialiser."""

    _raw: Any

    def to_dict(self) -> dict[str, Any]:
        """This value as a dict with the JSON shape of ``ignite/json.hpp`` (camelCase keys)."""
        return _loads(self._raw.to_json())

    def to_json(self, indent: Optional[int] = None) -> str:
        """This value as JSON text; ``indent`` as for :func:`json.dumps`."""
        return self._raw.to_json(-1 if indent is None else indent)


@dataclass(frozen=True)
class Service:
    """A loaded, validated service directory (see ``Engine.load``)."""

    name: str
    runtime: str  #: runtime spec as written in service.yaml, e.g. "node@20"
    entry: str  #: entry file relative to ``path``
    path: Path  #: absolute service directory
    entry_path: Path
    memory_mb: float
    timeout_ms: float
    cpu_limit: Optional[float]  #: None: 1 CPU at run time
    cpu_time_ms: Optional[float]  #: CPU-time limit (service.cpuTimeMs); None: none
    network: bool
    env: Mapping[str, str]
    #: service.yaml's ``reuse``: jobs one pooled container may run (None: the engine's
    #: ``pool_reuse``)
    reuse: Optional[int]
    preflight: Mapping[str, Any]  #: service.yaml's ``preflight:`` thresholds that were set
    has_node_modules: bool
    node_modules_size: int  #: bytes of regular files under node_modules
    dependency_count: int  #: top-level node_modules packages
    _raw: Any = field(repr=False, compare=False, default=None)

    @classmethod
    def _from_core(cls, s: Any) -> "Service":
        c = s.config
        return cls(
            name=c.name,
            runtime=c.runtime,
            entry=c.entry,
            path=Path(s.path),
            entry_path=Path(s.entry_path),
            memory_mb=c.memory_mb,
            timeout_ms=c.timeout_ms,
            cpu_limit=c.cpu_limit,
            cpu_time_ms=c.cpu_time_ms,
            network=c.network,
            env=dict(c.env),
            reuse=c.reuse,
            preflight=c.preflight,
            has_node_modules=s.has_node_modules,
            node_modules_size=s.node_modules_size,
            dependency_count=s.dependency_count,
            _raw=s,
        )

    def to_dict(self) -> dict[str, Any]:
        """service.yaml's ``service:`` block as JSON (ignite/json.hpp; ``reuse`` when set) plus
        ``path``, ``entryPath``, ``hasNodeModules``, ``nodeModulesSize`` and
        ``dependencyCount``."""
        d = _loads(self._raw.config.to_json())
        if self.reuse is not None:
            d.setdefault("reuse", self.reuse)
        d.update(
            path=str(self.path),
            entryPath=str(self.entry_path),
            hasNodeModules=self.has_node_modules,
            nodeModulesSize=self.node_modules_size,
            dependencyCount=self.dependency_count,
        )
        return d

    def to_json(self, indent: Optional[int] = None) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)


@dataclass(frozen=True)
class PhaseTimings:
    """Milliseconds (to the microsecond) spent in each phase of one execution."""

    build_ms: float  #: per-service image build (0 when reused)
    create_ms: float  #: container create + attach
    start_ms: float
    run_ms: float  #: from start until the process ended or was killed
    cleanup_ms: float  #: exit status, inspection and removal

    @classmethod
    def _from_core(cls, p: Any) -> "PhaseTimings":
        return cls(p.build_ms, p.create_ms, p.start_ms, p.run_ms, p.cleanup_ms)


@dataclass(frozen=True)
class PolicyLimits:
    """Resource limits a policy file sets (None: not set, the engine's default applies)."""

    pids: Optional[int] = None
    open_files: Optional[int] = None
    file_size_mb: Optional[int] = None
    tmpfs_mb: Optional[int] = None
    output_bytes: Optional[int] = None

    @classmethod
    def _from_core(cls, lim: Any) -> "PolicyLimits":
        return cls(lim.pids, lim.open_files, lim.file_size_mb, lim.tmpfs_mb, lim.output_bytes)


@dataclass(frozen=True)
class SecurityPolicy(_JsonMixin):
    """A service's security policy: network, root filesystem, process spawning, isolation
    (``"runc"`` or ``"gvisor"``) and limits."""

    network_enabled: bool
    filesystem_read_only: bool
    allow_spawn: bool
    allowed_commands: Sequence[str]
    isolation: str
    limits: PolicyLimits
    source: Optional[Path]  #: the policy file; None for the default policy
    _raw: Any = field(repr=False, compare=False, default=None)

    @classmethod
    def _from_core(cls, p: Any) -> "SecurityPolicy":
        return cls(
            network_enabled=p.network_enabled,
            filesystem_read_only=p.filesystem_read_only,
            allow_spawn=p.allow_spawn,
            allowed_commands=tuple(p.allowed_commands),
            isolation=p.isolation.name.lower(),
            limits=PolicyLimits._from_core(p.limits),
            source=Path(p.source) if p.source is not None else None,
            _raw=p,
        )


@dataclass(frozen=True)
class SecurityEvent(_JsonMixin):
    """One observed security-relevant event (kernel-level facts only)."""

    type: str  #: "network", "filesystem", "process", "resource"
    action: str  #: e.g. "oom-kill", "timeout-kill"
    target: str
    allowed: bool
    timestamp: str  #: ISO-8601 UTC with milliseconds
    details: str
    _raw: Any = field(repr=False, compare=False, default=None)

    @classmethod
    def _from_core(cls, e: Any) -> "SecurityEvent":
        return cls(e.type, e.action, e.target, e.allowed, e.timestamp, e.details, _raw=e)


@dataclass(frozen=True)
class SecurityAudit(_JsonMixin):
    """Policy and events of an audit-mode execution."""

    policy: SecurityPolicy
    events: Sequence[SecurityEvent]
    _raw: Any = field(repr=False, compare=False, default=None)

    @classmethod
    def _from_core(cls, a: Any) -> "SecurityAudit":
        return cls(
            SecurityPolicy._from_core(a.policy),
            tuple(SecurityEvent._from_core(e) for e in a.events),
            _raw=a,
        )


@dataclass(frozen=True)
class ExecutionResult(_JsonMixin):
    """What one execution produced. A failing service is a result, not an exception: check
    :attr:`ok` or :attr:`outcome`."""

    service_name: str
    runtime: str  #: resolved "name@version"
    image: str
    outcome: Outcome
    exit_code: int
    stdout: str  #: decoded as UTF-8 (invalid bytes become U+FFFD); see stdout_bytes
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    oom_killed: bool
    memory_peak_mb: Optional[float]  #: None when the daemon's cgroups are not visible here
    cold_start: bool  #: the per-service image was built for this run
    container_start: ContainerStart  #: cold, warm (from the pool) or reused (reuse mode)
    container_id: str  #: the Docker id of the container it ran in
    container_job: int  #: 1-based index of this job in its container (above 1: reuse mode)
    audit: Optional[SecurityAudit]  #: set in audit mode
    duration_ms: float  #: create through cleanup, to the microsecond
    #: CPU time (user + system) of the container's processes, this job's share; None when the
    #: daemon's cgroups are not visible here
    cpu_time_ms: Optional[float]
    phases: PhaseTimings
    #: where it ran: {"backend": "docker"|"swarm", "host": endpoint, ("node", "task": swarm)}
    placement: dict = field(default_factory=dict)
    stdout_bytes: bytes = field(repr=False, default=b"")
    stderr_bytes: bytes = field(repr=False, default=b"")
    _raw: Any = field(repr=False, compare=False, default=None)

    @property
    def ok(self) -> bool:
        """True when the service exited with code 0 (outcome ``success``)."""
        return self.outcome is Outcome.SUCCESS

    def check(self) -> "ExecutionResult":
        """Returns this result when :attr:`ok`, else raises
        :class:`~ignite_sandbox.ExecutionFailed` carrying it (``err.result``), as
        ``CompletedProcess.check_returncode()`` does: ``engine.execute(svc).check()``."""
        if not self.ok:
            from .errors import ExecutionFailed

            raise ExecutionFailed(self)
        return self

    @classmethod
    def _from_core(cls, r: Any) -> "ExecutionResult":
        return cls(
            service_name=r.service_name,
            runtime=r.runtime,
            image=r.image,
            outcome=Outcome._from_core(r.outcome),
            exit_code=r.exit_code,
            stdout=r.stdout_text,
            stderr=r.stderr_text,
            stdout_truncated=r.stdout_truncated,
            stderr_truncated=r.stderr_truncated,
            oom_killed=r.oom_killed,
            memory_peak_mb=r.memory_peak_mb,
            cold_start=r.cold_start,
            container_start=ContainerStart._from_core(r.container_start),
            container_id=r.container_id,
            container_job=r.container_job,
            audit=SecurityAudit._from_core(r.audit) if r.audit is not None else None,
            duration_ms=r.duration_ms,
            cpu_time_ms=r.cpu_time_ms,
            phases=PhaseTimings._from_core(r.phases),
            placement=dict(r.placement),
            stdout_bytes=r.stdout_bytes,
            stderr_bytes=r.stderr_bytes,
            _raw=r,
        )


@dataclass(frozen=True)
class PreflightCheck(_JsonMixin):
    """One preflight check: ``memory-allocation``, ``dependency-count``, ``timeout-config`` or
    ``image-size``."""

    name: str
    status: CheckStatus
    message: str
    value: Union[float, str, None]
    threshold: Union[float, str, None]
    _raw: Any = field(repr=False, compare=False, default=None)

    @classmethod
    def _from_core(cls, c: Any) -> "PreflightCheck":
        return cls(c.name, CheckStatus._from_core(c.status), c.message, c.value, c.threshold, _raw=c)


@dataclass(frozen=True)
class PreflightResult(_JsonMixin):
    """All preflight checks of a service; :attr:`overall` is the worst status."""

    service_name: str
    timestamp: str
    checks: Sequence[PreflightCheck]
    overall: CheckStatus
    _raw: Any = field(repr=False, compare=False, default=None)

    @property
    def ok(self) -> bool:
        """True unless a check failed (warnings are ok)."""
        return self.overall is not CheckStatus.FAIL

    def to_text(self, color: bool = False) -> str:
        """The ``ignite preflight`` listing (ANSI colours when ``color``)."""
        return self._raw.to_text(color)

    @classmethod
    def _from_core(cls, p: Any) -> "PreflightResult":
        return cls(
            p.service_name,
            p.timestamp,
            tuple(PreflightCheck._from_core(c) for c in p.checks),
            CheckStatus._from_core(p.overall),
            _raw=p,
        )


@dataclass(frozen=True)
class ReportWarning(_JsonMixin):
    """A warning in an :class:`ExecutionReport` (``Ignite::Warning``)."""

    level: WarningLevel
    message: str
    suggestion: Optional[str]
    _raw: Any = field(repr=False, compare=False, default=None)

    @classmethod
    def _from_core(cls, w: Any) -> "ReportWarning":
        return cls(WarningLevel._from_core(w.level), w.message, w.suggestion, _raw=w)


@dataclass(frozen=True)
class ExecutionReport(_JsonMixin):
    """A preflight, optionally the execution that followed, and the warnings from both."""

    service_name: str
    timestamp: str
    preflight: PreflightResult
    execution: Optional[ExecutionResult]
    warnings: Sequence[ReportWarning]
    _raw: Any = field(repr=False, compare=False, default=None)

    def to_text(self, color: bool = False) -> str:
        """The plain-text report (ANSI colours when ``color``)."""
        return self._raw.to_text(color)

    @classmethod
    def _from_core(cls, r: Any) -> "ExecutionReport":
        return cls(
            r.service_name,
            r.timestamp,
            PreflightResult._from_core(r.preflight),
            ExecutionResult._from_core(r.execution) if r.execution is not None else None,
            tuple(ReportWarning._from_core(w) for w in r.warnings),
            _raw=r,
        )


@dataclass(frozen=True)
class LockManifest:
    """The content of ``ignite.lock``."""

    version: str
    runtime_name: str
    runtime_version: str  #: the resolved registry version
    base_image_id: Optional[str]
    lockfile: Optional[str]
    checksums: Mapping[str, str]  #: relative path -> sha256 hex
    created_at: str
    _raw: Any = field(repr=False, compare=False, default=None)

    @property
    def runtime_spec(self) -> str:
        """``"name@version"``."""
        return f"{self.runtime_name}@{self.runtime_version}"

    def to_dict(self) -> dict[str, Any]:
        """The ignite.lock fields with the file's key names."""
        d: dict[str, Any] = {
            "version": self.version,
            "runtime": {"name": self.runtime_name, "version": self.runtime_version},
        }
        if self.base_image_id is not None:
            d["baseImageId"] = self.base_image_id
        if self.lockfile is not None:
            d["lockfile"] = self.lockfile
        d["checksums"] = dict(self.checksums)
        d["createdAt"] = self.created_at
        return d

    def to_json(self, indent: Optional[int] = None) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def _from_core(cls, m: Any) -> "LockManifest":
        return cls(
            m.version,
            m.runtime_name,
            m.runtime_version,
            m.base_image_id,
            m.lockfile,
            dict(m.checksums),
            m.created_at,
            _raw=m,
        )


@dataclass(frozen=True)
class DriftReport:
    """How a service differs from its ``ignite.lock``."""

    manifest: Optional[LockManifest]  #: None: not locked
    locked: bool
    drift: bool
    details: Sequence[str]  #: "Runtime changed: ...", "File modified: ..." ...
    _raw: Any = field(repr=False, compare=False, default=None)

    def to_text(self) -> str:
        """The environment summary ("Environment: Locked" ...)."""
        return self._raw.to_text()

    def to_dict(self) -> dict[str, Any]:
        return {
            "locked": self.locked,
            "drift": self.drift,
            "details": list(self.details),
            "manifest": self.manifest.to_dict() if self.manifest else None,
        }

    def to_json(self, indent: Optional[int] = None) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def _from_core(cls, d: Any) -> "DriftReport":
        return cls(
            LockManifest._from_core(d.manifest) if d.manifest is not None else None,
            d.locked,
            d.drift,
            tuple(d.details),
            _raw=d,
        )


@dataclass(frozen=True)
class GcResult:
    """What :meth:`Engine.gc` removed."""

    containers: int  #: containers of dead Ignite processes
    images: int  #: unused per-service images
    swarm_objects: int = 0  #: swarm services, secrets, networks of dead Ignite processes


@dataclass(frozen=True)
class PoolStats:
    """The warm pool's counters (:meth:`Engine.pool_stats`)."""

    ready: int  #: started, waiting for a job
    starting: int  #: being created/started
    created: int  #: containers the pool started, in total
    dispatched: int  #: jobs run on pooled containers, in total
    discarded: int  #: ready containers found dead or that failed to start
    expired: int  #: removed after the idle expiry or by :meth:`Engine.drain_pool`

    @classmethod
    def _from_core(cls, s: Any) -> "PoolStats":
        return cls(s.ready, s.starting, s.created, s.dispatched, s.discarded, s.expired)


@dataclass(frozen=True)
class Runtime:
    """A runtime definition, as in runtimes.yaml.

    Example::

        Runtime(name="node-lts", versions={"22": "ignite-runtime/node:22"},
                default_version="22", command=["node"], file_extensions=[".js"])
    """

    name: str
    versions: Mapping[str, str]  #: version -> local image, in registry order
    default_version: str
    default_entry: str = "index.js"
    file_extensions: Sequence[str] = ()
    command: Sequence[str] = ()  #: argv before the entry path
    module_command: Sequence[str] = ()  #: argv for ".mjs" entries; empty: ``command``

    def _to_core(self) -> Any:
        return _core.Runtime(
            name=self.name,
            versions=[_core.RuntimeVersion(v, image) for v, image in self.versions.items()],
            default_version=self.default_version,
            default_entry=self.default_entry,
            file_extensions=list(self.file_extensions),
            command=list(self.command),
            module_command=list(self.module_command),
        )

    @classmethod
    def _from_core(cls, r: Any) -> "Runtime":
        return cls(
            name=r.name,
            versions={v.version: v.image for v in r.versions},
            default_version=r.default_version,
            default_entry=r.default_entry,
            file_extensions=tuple(r.file_extensions),
            command=tuple(r.command),
            module_command=tuple(getattr(r, "module_command", ())),
        )


@dataclass(frozen=True)
class ResolvedRuntime:
    """A runtime spec resolved to one concrete image."""

    name: str
    version: str  #: the matched registry version ("20" for a request of "20.12.0")
    image: str
    command: Sequence[str]
    _raw: Any = field(repr=False, compare=False, default=None)

    @property
    def spec(self) -> str:
        """``"name@version"``."""
        return f"{self.name}@{self.version}"

    def argv(self, entry: str, app_dir: str = "/app") -> list[str]:
        """The full command that runs ``entry`` from a container with the service at ``app_dir``."""
        return list(self._raw.argv(entry, app_dir))

    @classmethod
    def _from_core(cls, r: Any) -> "ResolvedRuntime":
        return cls(r.name, r.version, r.image, tuple(r.command), _raw=r)
