"""``ignite_sandbox.Engine``: loads services and runs them in fresh, hardened Docker containers."""

from __future__ import annotations

import codecs
import datetime
import json
import math
import os
import threading
import warnings
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from ._native import _core
from .errors import DockerUnavailableError, InvalidArgumentError
from .models import (
    CodeDelivery,
    DriftReport,
    ExecutionReport,
    ExecutionResult,
    GcResult,
    LockManifest,
    PoolStats,
    PreflightResult,
    ResolvedRuntime,
    Runtime,
    Service,
)
from .streaming import ExecutionStream

__all__ = ["Engine", "StopSource", "Timeout"]

StrPath = Union[str, "os.PathLike[str]"]
ServiceLike = Union[Service, StrPath]
OutputCallback = Callable[[str], Any]
#: A time limit: seconds (``int``/``float``) or a :class:`datetime.timedelta`.
Timeout = Union[float, datetime.timedelta]


def _timeout_ms(timeout: Optional[Timeout], timeout_ms: Optional[int] = None) -> Optional[int]:
    """``timeout`` (seconds or timedelta) or ``timeout_ms`` as whole milliseconds (rounded up,
    so a small positive timeout never becomes 0); None when neither is given."""
    if timeout is None:
        return timeout_ms
    if timeout_ms is not None:
        raise InvalidArgumentError("pass timeout (seconds) or timeout_ms, not both")
    if isinstance(timeout, datetime.timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        seconds = float(timeout)
    else:
        raise TypeError(
            "timeout must be seconds (int or float) or a datetime.timedelta "
            f"(got {type(timeout).__name__})"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidArgumentError(f"timeout must be a positive number of seconds (got {timeout!r})")
    return max(1, math.ceil(seconds * 1000))


class _ClosedCore:
    """Stands in for the native engine after :meth:`Engine.close`."""

    def __getattr__(self, name: str) -> Any:
        raise InvalidArgumentError("this Engine is closed (close() was called)")

#: Cancels the executions it is passed to (``engine.execute(..., stop=source)``) when
#: ``source.request_stop()`` is called from any thread; their outcome becomes ``"cancelled"``.
StopSource = _core.StopSource

def _text_callback(fn: Optional[OutputCallback]) -> tuple[Optional[Callable[[bytes], None]], Callable[[], None]]:
    """Wraps a str callback as the bytes callback _core calls, decoding UTF-8 incrementally so
    that a character split across two chunks arrives whole. Returns (wrapper, flush)."""
    if fn is None:
        return None, lambda: None
    if not callable(fn):
        raise TypeError(f"output callbacks must be callable (got {type(fn).__name__})")
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def on_bytes(chunk: bytes) -> None:
        text = decoder.decode(chunk)
        if text:
            fn(text)

    def flush() -> None:
        tail = decoder.decode(b"", final=True)
        if tail:
            fn(tail)

    return on_bytes, flush


class Engine:
    """Runs Ignite services in Docker: the Python face of ``Ignite::Engine``.

    Use it as a context manager, so that leaving the block removes every container the
    engine created that is still there (each execution removes its own; this catches what an
    interrupted host leaves)::

        with ignite_sandbox.Engine() as engine:
            svc = engine.load("examples/services/hello-node")
            result = engine.execute(svc, input={"name": "World"})
            print(result.stdout, result.outcome)

    Creating an Engine does not contact Docker; loading and validating services works without
    a daemon. One engine may be shared by many threads: calls release the GIL while Docker
    works, and at most ``max_concurrent`` executions run at once (the rest wait their turn).

    The **warm pool** (off by default, ``pool_size``) keeps containers created and started
    ahead of demand, per pool key (service image, limits, policy, delivery), with the runtime
    booted and waiting for one job, so a pooled execution returns in milliseconds. Fill it with
    :meth:`prewarm` (otherwise a key's first execution fills it); ``result.container_start``
    says whether an execution ran ``"cold"``, ``"warm"`` or ``"reused"``::

        with ignite_sandbox.Engine(pool_size=2) as engine:
            svc = engine.load("examples/services/hello-quickjs")
            engine.prewarm(svc)
            result = engine.execute(svc, input={"name": "Pool"})  # container_start == "warm"

    Args:
        docker_host: ``"unix:///path/docker.sock"`` or a socket path; default ``$DOCKER_HOST``,
            else ``/var/run/docker.sock``. Only unix sockets are supported.
        max_concurrent: executions that may run at the same time.
        pids_limit: process limit of each container.
        tmpfs_size: size of each container's writable /tmp, e.g. ``"64m"``.
        delivery: ``"auto"`` (default), ``"mount"`` or ``"baked"``; see :class:`CodeDelivery`.
        reap_on_start: on first contact with the daemon, remove containers that dead Ignite
            processes on this host left behind.
        state_dir: where execution history is kept (default ``$IGNITE_STATE_DIR``, else
            ``$XDG_STATE_HOME/ignite``, else ``~/.local/state/ignite``).
        pool_size: ready containers the warm pool keeps per pool key; 0 turns the pool off.
        pool_reuse: jobs of one service that may run one after another in one pooled
            container (a fresh runtime process per job, ``/tmp`` emptied in between);
            service.yaml's ``reuse`` overrides it. 1: each container runs one job.
        pool_idle_expiry_s: a key's ready containers are removed after this many seconds
            unused (rounded up to whole seconds).
        pool_refill_concurrency: containers being started at once, over all keys.
        pool_memory_budget_mb: upper bound on the summed memory limits of ready containers,
            over all keys.
        keep_containers: leave the container of every execution stopped instead of removing
            it (for inspection, as the pytest plugin's ``--ignite-keep`` does);
            :meth:`release_kept` or :meth:`remove_containers` removes them. :meth:`close`
            then leaves them too.
        docker_context, docker_tls_verify, docker_cert_path, allow_plain_tcp, ssh_options: how
            to reach a remote daemon, as the docker CLI does (``tcp://`` with TLS, ``ssh://``,
            docker contexts); see docs/scale-out.md. Plain TCP to an address other than loopback
            needs ``allow_plain_tcp=True``.
        backend: ``"docker"`` or ``"swarm"`` (a Docker Swarm service per execution; the daemon
            must be a swarm manager); default ``$IGNITE_BACKEND``, else ``"docker"``.
        registry: ``HOST:PORT`` of the registry the swarm's nodes pull per-service images from
            (default ``$IGNITE_REGISTRY``); required by the swarm backend.

    Raises:
        ConfigError: ``docker_host`` or the context cannot be used (unknown scheme or context,
            plain TCP to a remote address without ``allow_plain_tcp``, unusable TLS files).
        InvalidArgumentError: a negative or zero count or limit where one is required.
    """

    def __init__(
        self,
        *,
        docker_host: Optional[str] = None,
        max_concurrent: int = 8,
        pids_limit: int = 256,
        tmpfs_size: str = "64m",
        delivery: Union[CodeDelivery, str] = CodeDelivery.AUTO,
        reap_on_start: bool = True,
        state_dir: Optional[StrPath] = None,
        pool_size: int = 0,
        pool_reuse: int = 1,
        pool_idle_expiry_s: float = 300,
        pool_refill_concurrency: int = 2,
        pool_memory_budget_mb: float = 4096,
        keep_containers: bool = False,
        docker_context: Optional[str] = None,
        docker_tls_verify: Optional[bool] = None,
        docker_cert_path: Optional[StrPath] = None,
        allow_plain_tcp: bool = False,
        ssh_options: Optional[Sequence[str]] = None,
        backend: Optional[str] = None,
        registry: Optional[str] = None,
    ) -> None:
        self._closed = True  # until the native engine exists: __del__ must not warn
        self._close_lock = threading.Lock()
        self._keep = bool(keep_containers)
        self._kept: list[str] = []
        self._max_concurrent = max_concurrent
        for name, value, minimum in (
            ("max_concurrent", max_concurrent, 1),
            ("pool_size", pool_size, 0),
            ("pool_reuse", pool_reuse, 1),
            ("pool_refill_concurrency", pool_refill_concurrency, 1),
        ):
            if value < minimum:
                raise InvalidArgumentError(f"{name} must be at least {minimum} (got {value})")
        for name, value in (
            ("pool_idle_expiry_s", pool_idle_expiry_s),
            ("pool_memory_budget_mb", pool_memory_budget_mb),
        ):
            if not math.isfinite(value) or value < 0:
                raise InvalidArgumentError(f"{name} must be finite and at least 0 (got {value})")
        self._core = _core.Engine(
            docker_host=docker_host or "",
            max_concurrent=max_concurrent,
            pids_limit=pids_limit,
            tmpfs_size=tmpfs_size,
            delivery=CodeDelivery._coerce(delivery),
            reap_on_start=reap_on_start,
            state_dir=os.fspath(state_dir) if state_dir is not None else None,
            pool_size=pool_size,
            pool_reuse=pool_reuse,
            pool_idle_expiry_s=math.ceil(pool_idle_expiry_s),
            pool_refill_concurrency=pool_refill_concurrency,
            pool_memory_budget_mb=float(pool_memory_budget_mb),
            keep_containers=self._keep,
            docker_context=docker_context or "",
            docker_tls_verify=docker_tls_verify,
            docker_cert_path=os.fspath(docker_cert_path) if docker_cert_path is not None else None,
            allow_plain_tcp=allow_plain_tcp,
            ssh_options=list(ssh_options or []),
            backend=backend or "",
            registry=registry or "",
        )
        self._session_id: str = self._core.session_id
        self._closed = False

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides: Any) -> "Engine":
        """An Engine configured from environment variables (docker-py's ``from_env()``).

        Reads ``DOCKER_HOST``, ``IGNITE_MAX_CONCURRENT``, ``IGNITE_PIDS_LIMIT``,
        ``IGNITE_TMPFS_SIZE``, ``IGNITE_DELIVERY``, ``IGNITE_STATE_DIR`` and the warm pool's
        ``IGNITE_POOL_SIZE``, ``IGNITE_POOL_REUSE``, ``IGNITE_POOL_IDLE_EXPIRY_S``,
        ``IGNITE_POOL_REFILL_CONCURRENCY`` and ``IGNITE_POOL_MEMORY_BUDGET_MB`` from
        ``environ`` (default ``os.environ``); keyword ``overrides`` win over them.
        """
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        if env.get("DOCKER_HOST"):
            kwargs["docker_host"] = env["DOCKER_HOST"]
        for name, key, conv in (
            ("IGNITE_MAX_CONCURRENT", "max_concurrent", int),
            ("IGNITE_PIDS_LIMIT", "pids_limit", int),
            ("IGNITE_TMPFS_SIZE", "tmpfs_size", str),
            ("IGNITE_DELIVERY", "delivery", str),
            ("IGNITE_STATE_DIR", "state_dir", str),
            ("IGNITE_POOL_SIZE", "pool_size", int),
            ("IGNITE_POOL_REUSE", "pool_reuse", int),
            ("IGNITE_POOL_IDLE_EXPIRY_S", "pool_idle_expiry_s", float),
            ("IGNITE_POOL_REFILL_CONCURRENCY", "pool_refill_concurrency", int),
            ("IGNITE_POOL_MEMORY_BUDGET_MB", "pool_memory_budget_mb", float),
        ):
            if env.get(name):
                try:
                    kwargs[key] = conv(env[name])
                except ValueError:
                    raise _core.ConfigError(f"{name}: not a valid value ({env[name]!r})") from None
        kwargs.update(overrides)
        return cls(**kwargs)

    # -- context manager -----------------------------------------------------------------

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> int:
        """Drains the warm pool, waits for the queued container removals (:meth:`flush`),
        removes every container this engine created that is still there, and releases the
        native engine (its threads end; this runs without the GIL). Returns how many
        containers that removal step found.

        Idempotent: a second call returns 0. Afterwards :attr:`closed` is True and every
        method raises InvalidArgumentError. Called by ``__exit__``. Without a reachable daemon
        there is nothing to remove, so DockerUnavailableError is swallowed here. With
        ``keep_containers`` the containers of executions stay (the pool is still drained).
        """
        with self._close_lock:
            if self._closed:
                return 0
            self._closed = True
        core, self._core = self._core, _ClosedCore()
        removed = 0
        try:
            if self._keep:
                core.drain_pool()
                core.flush()
            else:
                # remove_containers() drains the pool (waiting for containers still being
                # started) and waits for the queued removals first.
                removed = core.remove_containers()
        except DockerUnavailableError:
            pass
        finally:
            del core  # the last reference: ~Engine runs now, with the GIL released
        return removed

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (or ``with`` was left)."""
        return self._closed

    def __del__(self) -> None:
        if getattr(self, "_closed", True):
            return
        # Like an unclosed file: say so. The native engine's destructor (without the GIL)
        # still drains the pool and finishes the queued removals.
        warnings.warn(
            f"unclosed {self!r}: use `with Engine() as engine:` or call close()",
            ResourceWarning,
            source=self,
        )

    def __repr__(self) -> str:
        if self._closed:
            return "<ignite_sandbox.Engine closed>"
        return f"<ignite_sandbox.Engine session={self.session_id}>"

    # -- services ------------------------------------------------------------------------

    @property
    def docker_endpoint(self) -> str:
        """The daemon this engine talks to, as a URL (``unix://``, ``tcp://``, ``ssh://``),
        resolved like the docker CLI: ``docker_host``, ``docker_context``, ``DOCKER_HOST``,
        ``DOCKER_CONTEXT``, the current docker context (docs/scale-out.md)."""
        return self._core.docker_endpoint

    @property
    def docker_is_local(self) -> bool:
        """Whether the daemon is on this host's unix socket (code can be bind-mounted)."""
        return self._core.docker_is_local

    @property
    def session_id(self) -> str:
        """The ``dev.ignite.session`` label value on every container this engine creates (also
        after :meth:`close`)."""
        return self._session_id

    def load(self, path: StrPath) -> Service:
        """Loads and validates the service directory ``path`` (str or :class:`pathlib.Path`).

        Raises:
            ConfigError: service.yaml is invalid (every problem is named in one message).
            ServiceError: the directory, service.yaml or the entry file cannot be read.
        """
        return Service._from_core(self._core.load(os.fspath(path)))

    def _service(self, service: ServiceLike) -> Any:
        if isinstance(service, Service):
            return service._raw
        if isinstance(service, (str, os.PathLike)):
            return self._core.load(os.fspath(service))
        raise TypeError(f"expected an ignite_sandbox.Service or a path (got {type(service).__name__})")

    def execute(
        self,
        service: ServiceLike,
        *,
        input: Any = None,
        input_json: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        timeout: Optional[Timeout] = None,
        timeout_ms: Optional[int] = None,
        memory_mb: Optional[float] = None,
        cpus: Optional[float] = None,
        runtime: Optional[str] = None,
        audit: bool = False,
        output_limit: Optional[int] = None,
        delivery: Union[CodeDelivery, str, None] = None,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
        on_build_output: Optional[OutputCallback] = None,
        stop: Optional[StopSource] = None,
        cpu_time_ms: Optional[float] = None,
    ) -> ExecutionResult:
        """Runs ``service`` once in a fresh container (or a warm one from the pool), waits for
        it and queues the container's removal (finished in the background: :meth:`flush`).

        The service's own failures are data, not exceptions: a non-zero exit, a timeout, the
        memory or output limit, or a cancellation is the result's ``outcome`` (``result.ok``
        is True only for exit code 0).

        Args:
            service: a :class:`Service` from :meth:`load`, or a service directory path.
            input: any JSON-serialisable value (``json.dumps``), delivered on the service's
                stdin and in ``$IGNITE_INPUT`` (when at most 64 KiB). None: no input.
            input_json: the input as JSON text instead of ``input`` (not both).
            env: extra environment variables, added after service.yaml's ``env``.
            timeout: overrides service.yaml's ``timeoutMs``, in seconds (``float``) or as a
                :class:`datetime.timedelta`; the container is killed after it (outcome
                ``"timeout"``).
            timeout_ms: the same in milliseconds (not both).
            memory_mb: overrides ``memoryMb`` (at least 6).
            cpus: overrides ``cpuLimit``.
            runtime: overrides the runtime spec, e.g. ``"node@22"``.
            audit: audit mode: the service's policy file decides network and filesystem
                access, and ``result.audit`` is set.
            output_limit: bytes kept per stream (default 1 MiB); a service printing more is
                killed (outcome ``"output_limit"``).
            delivery: ``"mount"`` or ``"baked"``; overrides the engine's.
            on_stdout: called with each chunk of stdout (``str``) as it arrives; the
                chunks concatenate to ``result.stdout`` (before truncation).
            on_stderr: the same for stderr.
            on_build_output: called with the per-service image build's output, when a build
                happens.
            stop: a :class:`StopSource`; ``stop.request_stop()`` from another thread kills
                the container (outcome ``"cancelled"``).
            cpu_time_ms: overrides ``cpuTimeMs``, the CPU-time limit; the container is killed
                when its CPU time passes it (outcome ``"cpu_limit"``).

        Callbacks run on an Ignite worker thread holding the GIL. If one raises, the run is
        stopped, the container removed, and the exception re-raised here. Ctrl-C
        (KeyboardInterrupt) while a call waits on the main thread does the same, within about
        a second, and works again in the next call. ``result.check()`` turns a failed outcome
        into an :class:`ExecutionFailed` exception. For output as it arrives, see
        :meth:`stream`.

        Returns:
            ExecutionResult: ``outcome``, ``exit_code``, ``stdout``, ``stderr``, timings,
            ``container_start`` (``"cold"``, ``"warm"``, ``"reused"``)...

        Raises:
            InvalidArgumentError: bad input JSON, env name, timeout, memory or cpus.
            RuntimeNotFoundError: unknown runtime or version, or its image is missing.
            DockerUnavailableError: no Docker daemon answers.
            DockerError: the daemon refused a request (``.status_code``).
            BuildError: the per-service image could not be built.
        """
        args = self._execute_args(service, input=input, input_json=input_json, env=env,
                                  timeout=timeout, timeout_ms=timeout_ms, memory_mb=memory_mb,
                                  cpus=cpus, runtime=runtime, audit=audit,
                                  output_limit=output_limit, delivery=delivery,
                                  cpu_time_ms=cpu_time_ms)
        out_cb, out_flush = _text_callback(on_stdout)
        err_cb, err_flush = _text_callback(on_stderr)
        build_cb, build_flush = _text_callback(on_build_output)
        raw = self._core.execute(
            *args.pop("service"),
            **args,
            on_stdout=out_cb,
            on_stderr=err_cb,
            on_build_output=build_cb,
            stop=stop,
        )
        build_flush()
        out_flush()
        err_flush()
        return self._result(raw)

    def _execute_args(
        self,
        service: ServiceLike,
        *,
        input: Any,
        input_json: Optional[str],
        env: Optional[Mapping[str, str]],
        timeout: Optional[Timeout],
        timeout_ms: Optional[int],
        memory_mb: Optional[float],
        cpus: Optional[float],
        runtime: Optional[str],
        audit: bool,
        output_limit: Optional[int],
        delivery: Union[CodeDelivery, str, None],
        cpu_time_ms: Optional[float] = None,
    ) -> dict[str, Any]:
        """The keywords of ``_core.Engine.execute`` but the callbacks and ``stop``, checked
        (``service`` as a 1-tuple, so that the caller can pop it as a positional)."""
        if input is not None and input_json is not None:
            raise InvalidArgumentError("pass either input or input_json, not both")
        text: Optional[str] = input_json
        if input is not None:
            try:
                text = json.dumps(input)
            except (TypeError, ValueError) as e:
                raise InvalidArgumentError(f"input is not JSON-serialisable: {e}") from e
        return dict(
            service=(self._service(service),),
            input=text,
            env=dict(env) if env else {},
            runtime=runtime,
            timeout_ms=_timeout_ms(timeout, timeout_ms),
            memory_mb=memory_mb,
            cpus=cpus,
            output_limit=_core.DEFAULT_OUTPUT_LIMIT if output_limit is None else output_limit,
            delivery=CodeDelivery._coerce(delivery),
            audit=audit,
            cpu_time_ms=cpu_time_ms,
        )

    def _result(self, raw: Any) -> ExecutionResult:
        result = ExecutionResult._from_core(raw)
        if self._keep and result.container_id:
            self._kept.append(result.container_id)
        return result

    def stream(
        self,
        service: ServiceLike,
        *,
        input: Any = None,
        input_json: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        timeout: Optional[Timeout] = None,
        timeout_ms: Optional[int] = None,
        memory_mb: Optional[float] = None,
        cpus: Optional[float] = None,
        runtime: Optional[str] = None,
        audit: bool = False,
        output_limit: Optional[int] = None,
        delivery: Union[CodeDelivery, str, None] = None,
    ) -> ExecutionStream:
        """Runs ``service`` like :meth:`execute` and returns an iterator over its output as it
        arrives, as :class:`OutputChunk` values (``chunk.stream`` is ``"stdout"`` or
        ``"stderr"``, ``chunk.text`` the text)::

            stream = engine.stream(svc, input={"name": "World"})
            for chunk in stream:
                print(chunk.text, end="", file=sys.stderr if chunk.stream == "stderr" else None)
            print(stream.result.outcome)

        Once the iterator is exhausted, ``stream.result`` holds the :class:`ExecutionResult`
        (an error Ignite raised, e.g. DockerUnavailableError, is raised by the iteration
        instead). Leaving early (``break``, an exception, ``stream.close()``, or a ``with``
        block around it) cancels the execution: the container is killed and removed. Ctrl-C
        while waiting for the next chunk does the same and raises KeyboardInterrupt. The
        execution runs on a thread of its own; keywords as for :meth:`execute`.
        """
        args = self._execute_args(service, input=input, input_json=input_json, env=env,
                                  timeout=timeout, timeout_ms=timeout_ms, memory_mb=memory_mb,
                                  cpus=cpus, runtime=runtime, audit=audit,
                                  output_limit=output_limit, delivery=delivery)
        return ExecutionStream(self, args)

    def preflight(
        self,
        service: ServiceLike,
        *,
        build_image: bool = False,
        runtime: Optional[str] = None,
        delivery: Union[CodeDelivery, str, None] = None,
        on_build_output: Optional[OutputCallback] = None,
        stop: Optional[StopSource] = None,
    ) -> PreflightResult:
        """Runs the preflight checks: memory, dependencies, timeout, and image size when the
        service's image exists (or is built first because ``build_image``).

        A failed check is data (``result.overall == "fail"``, ``result.ok`` False), not an
        exception. Without a Docker daemon the image check is left out. Ctrl-C
        (KeyboardInterrupt) or ``stop.request_stop()`` cancels an image build in progress
        (``stop``: CancelledError).
        """
        build_cb, build_flush = _text_callback(on_build_output)
        raw = self._core.preflight(
            self._service(service),
            build_image=build_image,
            runtime=runtime,
            delivery=CodeDelivery._coerce(delivery),
            on_build_output=build_cb,
            stop=stop,
        )
        build_flush()
        return PreflightResult._from_core(raw)

    def report(
        self,
        service: ServiceLike,
        preflight: Optional[PreflightResult] = None,
        execution: Optional[ExecutionResult] = None,
    ) -> ExecutionReport:
        """An :class:`ExecutionReport` (preflight, optional execution, warnings).

        ``preflight`` defaults to a fresh :meth:`preflight` of ``service``. Render it with
        ``report.to_text()`` or ``report.to_dict()``.
        """
        raw_service = self._service(service)
        if preflight is None:
            preflight = PreflightResult._from_core(self._core.preflight(raw_service))
        if not isinstance(preflight, PreflightResult):
            raise TypeError("preflight must be an ignite_sandbox.PreflightResult")
        if execution is not None and not isinstance(execution, ExecutionResult):
            raise TypeError("execution must be an ignite_sandbox.ExecutionResult")
        raw = self._core.report(
            raw_service, preflight._raw, execution._raw if execution is not None else None
        )
        return ExecutionReport._from_core(raw)

    def last_execution_ms(self, service: ServiceLike) -> Optional[int]:
        """Run-phase milliseconds of the service's last recorded execution, or None."""
        return self._core.last_execution_ms(self._service(service))

    # -- warm pool -------------------------------------------------------------------------

    def prewarm(
        self,
        service: ServiceLike,
        *,
        count: int = 0,
        env: Optional[Mapping[str, str]] = None,
        timeout: Optional[Timeout] = None,
        timeout_ms: Optional[int] = None,
        memory_mb: Optional[float] = None,
        cpus: Optional[float] = None,
        runtime: Optional[str] = None,
        audit: bool = False,
        delivery: Union[CodeDelivery, str, None] = None,
        on_build_output: Optional[OutputCallback] = None,
        stop: Optional[StopSource] = None,
    ) -> int:
        """Fills the warm pool for what :meth:`execute` with the same keywords would run, up to
        ``count`` ready containers (0: ``pool_size``), and waits until they are ready (building
        the service's image first when needed). Returns how many are ready.

        The pool key is the container those keywords define (runtime, ``memory_mb``, ``cpus``,
        ``audit``, ``delivery``, with the service's image, env and policy): pass the ones you
        will execute with. ``env`` and ``timeout`` apply per job and do not change the key.
        Runs with the GIL released; Ctrl-C (KeyboardInterrupt) or ``stop.request_stop()``
        (CancelledError) ends the wait and any image build early.

        Raises:
            ConfigError: the pool is off (``pool_size`` 0) or cannot serve this service (its
                policy sets ``allowSpawn: false``, or its runtime has no resident runner).
            InvalidArgumentError: bad env name, timeout, memory or cpus, or a negative count.
            RuntimeNotFoundError, DockerUnavailableError, DockerError, BuildError: as
                :meth:`execute`.
        """
        if count < 0:
            raise InvalidArgumentError(f"count must not be negative (got {count})")
        build_cb, build_flush = _text_callback(on_build_output)
        ready = self._core.prewarm(
            self._service(service),
            count=count,
            env=dict(env) if env else {},
            runtime=runtime,
            timeout_ms=_timeout_ms(timeout, timeout_ms),
            memory_mb=memory_mb,
            cpus=cpus,
            delivery=CodeDelivery._coerce(delivery),
            audit=audit,
            on_build_output=build_cb,
            stop=stop,
        )
        build_flush()
        return ready

    def pool_stats(self) -> PoolStats:
        """The warm pool's counters: ``ready``, ``starting``, ``created``, ``dispatched``,
        ``discarded``, ``expired`` (all 0 before the pool was first used)."""
        return PoolStats._from_core(self._core.pool_stats())

    def drain_pool(self) -> None:
        """Removes every ready container of the warm pool; refilling stops until an execution
        (or :meth:`prewarm`) asks again. :meth:`close` does this too."""
        self._core.drain_pool()

    def flush(self) -> None:
        """Waits until every container removal queued so far is done: :meth:`execute` returns
        before the daemon has deleted its container."""
        self._core.flush()

    # -- ignite.lock -----------------------------------------------------------------------

    def make_lock(self, service: ServiceLike, *, write: bool = False) -> LockManifest:
        """Pins the service's files, runtime and base image; writes ``ignite.lock`` into the
        service directory when ``write``."""
        raw_service = self._service(service)
        raw = self._core.make_lock(raw_service)
        if write:
            _core.write_lock(raw_service.path, raw)
        return LockManifest._from_core(raw)

    def check_lock(self, service: ServiceLike) -> DriftReport:
        """Compares the service with its ``ignite.lock`` (``report.drift``, ``report.details``).

        Raises:
            LockError: ignite.lock exists but is unreadable or malformed.
        """
        return DriftReport._from_core(self._core.check_lock(self._service(service)))

    # -- runtimes --------------------------------------------------------------------------

    def runtimes(self) -> list[Runtime]:
        """The runtimes this engine knows (built-ins plus registered ones), in order."""
        return [Runtime._from_core(r) for r in self._core.runtimes().all()]

    def resolve_runtime(self, spec: str) -> ResolvedRuntime:
        """Resolves ``"name[@version]"`` to an image. Raises RuntimeNotFoundError."""
        return ResolvedRuntime._from_core(self._core.runtimes().resolve(spec))

    def register_runtime(self, runtime: Runtime) -> None:
        """Adds (or replaces, by name) a runtime. Raises ConfigError when incomplete."""
        if not isinstance(runtime, Runtime):
            raise TypeError("runtime must be an ignite_sandbox.Runtime")
        self._core.register_runtime(runtime._to_core())

    def unregister_runtime(self, name: str) -> bool:
        """Removes a runtime by name; False when there was none."""
        return self._core.unregister_runtime(name)

    def load_runtimes_file(self, path: StrPath) -> None:
        """Adds every runtime a runtimes.yaml declares. Raises ConfigError (nothing added)."""
        self._core.load_runtimes_file(os.fspath(path))

    # -- docker ----------------------------------------------------------------------------

    def ping(self) -> bool:
        """True when the daemon answers; raises DockerUnavailableError otherwise."""
        self._core.ping()
        return True

    def gc(self, *, service_images: bool = False) -> GcResult:
        """Removes containers left by dead Ignite processes on this host and, with
        ``service_images``, every per-service image no container uses (a cache) and every
        dangling Ignite image older than 10 minutes (left by an image build that did not
        finish); ``images`` then also counts those the engine's start-up reap removed."""
        raw = self._core.gc(service_images)
        return GcResult(
            containers=raw.containers, images=raw.images, swarm_objects=raw.swarm_objects
        )

    def remove_containers(self) -> int:
        """Removes every container of this engine's session still present (kept ones too);
        returns the count."""
        self._kept.clear()
        return self._core.remove_containers()

    def release_kept(self, container_id: Optional[str] = None) -> int:
        """With ``keep_containers``: queues the removal of the kept container ``container_id``
        (a result's ``container_id``), or of every one kept so far when None. Returns how many
        were released."""
        ids = [container_id] if container_id is not None else list(self._kept)
        released = 0
        for cid in ids:
            if cid in self._kept:
                self._kept.remove(cid)
            released += bool(self._core.release_kept(cid))
        return released

    @property
    def kept_containers(self) -> list[str]:
        """With ``keep_containers``: ids of the containers kept so far (oldest first)."""
        return list(self._kept)
