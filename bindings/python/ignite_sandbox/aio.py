"""``ignite_sandbox.AsyncEngine``: the :class:`~ignite_sandbox.Engine` for asyncio.

Every call that may talk to Docker runs on the AsyncEngine's worker threads, never on the event
loop's thread (the native calls release the GIL while Docker works), so many executions on one
loop leave it free to serve everything else. Cancelling the task that awaits an execution
requests stop through a :class:`~ignite_sandbox.StopSource`: the container is killed (and its
removal queued) before :class:`asyncio.CancelledError` reaches the task, within about a
second, also while the daemon does not answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from typing import Any, AsyncIterator, Callable, Mapping, Optional, Union

from ._native import _core
from .engine import Engine, ServiceLike, StrPath, Timeout
from .models import (
    CodeDelivery,
    ExecutionResult,
    PoolStats,
    PreflightResult,
    Service,
)
from .streaming import OutputChunk, _End, run_execution

__all__ = ["AsyncEngine", "AsyncExecutionStream"]


async def _await_cancellable(
    cf: "concurrent.futures.Future[Any]", stop: Optional[Any]
) -> Any:
    """Awaits a worker's future. When the awaiting task is cancelled: a call still queued is
    dropped; a running one is asked to stop and awaited (it ends within the Engine's
    cancellation bound), then CancelledError propagates. A second cancellation while waiting
    for that propagates at once."""
    fut = asyncio.wrap_future(cf)
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        if cf.cancel():
            raise
        if stop is not None:
            stop.request_stop()
        try:
            await asyncio.wait({fut})
        finally:
            if fut.done() and not fut.cancelled():
                fut.exception()  # retrieved: no "exception was never retrieved" warning
        raise


class AsyncEngine:
    """Runs Ignite services from asyncio code: :class:`~ignite_sandbox.Engine`'s methods as
    coroutines, plus an async output iterator::

        async with ignite_sandbox.AsyncEngine() as engine:
            svc = engine.load("examples/services/hello-node")      # no Docker call
            result = await engine.execute(svc, input={"name": "World"}, timeout=5)
            async for chunk in engine.stream(svc, input={"name": "again"}):
                print(chunk.stream, chunk.text, end="")

    Keyword arguments are those of :class:`~ignite_sandbox.Engine` (``pool_size``,
    ``max_concurrent`` ...), plus ``workers``: threads that run the blocking calls (default
    ``max(32, 4 * max_concurrent)``; executions beyond ``max_concurrent`` wait in the engine,
    cancellable). Creating one does not contact Docker.
    """

    def __init__(self, *, workers: Optional[int] = None, **engine_options: Any) -> None:
        self._init(Engine(**engine_options), workers)

    def _init(self, engine: Engine, workers: Optional[int]) -> None:
        self._engine = engine
        max_concurrent = engine._max_concurrent
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers or max(32, 4 * max_concurrent),
            thread_name_prefix="ignite-async",
        )

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, *,
                 workers: Optional[int] = None, **overrides: Any) -> "AsyncEngine":
        """As :meth:`Engine.from_env <ignite_sandbox.Engine.from_env>`."""
        self = cls.__new__(cls)
        self._init(Engine.from_env(environ, **overrides), workers)
        return self

    @property
    def engine(self) -> Engine:
        """The synchronous :class:`~ignite_sandbox.Engine` underneath (same session)."""
        return self._engine

    @property
    def session_id(self) -> str:
        return self._engine.session_id

    @property
    def closed(self) -> bool:
        return self._engine.closed

    def __repr__(self) -> str:
        return "<ignite_sandbox.AsyncEngine " + repr(self._engine)[len("<ignite_sandbox.Engine "):]

    async def _call(self, fn: Callable[..., Any], *args: Any, stop: Optional[Any] = None,
                    **kwargs: Any) -> Any:
        cf = self._executor.submit(functools.partial(fn, *args, **kwargs))
        return await _await_cancellable(cf, stop)

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> "AsyncEngine":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def close(self) -> int:
        """:meth:`Engine.close <ignite_sandbox.Engine.close>` on a worker thread, then stops
        the workers. Idempotent."""
        if self._engine.closed:
            return 0
        loop = asyncio.get_running_loop()
        removed = await loop.run_in_executor(self._executor, self._engine.close)
        self._executor.shutdown(wait=False)
        return removed

    # -- services --------------------------------------------------------------------------

    def load(self, path: StrPath) -> Service:
        """Loads and validates a service directory (reads files; no Docker call)."""
        return self._engine.load(path)

    async def execute(
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
        on_stdout: Optional[Callable[[str], Any]] = None,
        on_stderr: Optional[Callable[[str], Any]] = None,
    ) -> ExecutionResult:
        """:meth:`Engine.execute <ignite_sandbox.Engine.execute>` as a coroutine (same
        keywords). ``on_stdout``/``on_stderr`` are called on the event loop's thread.

        Cancelling the awaiting task kills the container (its removal is queued) and then
        raises :class:`asyncio.CancelledError`, within about a second.
        """
        args = self._engine._execute_args(
            service, input=input, input_json=input_json, env=env, timeout=timeout,
            timeout_ms=timeout_ms, memory_mb=memory_mb, cpus=cpus, runtime=runtime,
            audit=audit, output_limit=output_limit, delivery=delivery)
        loop = asyncio.get_running_loop()
        stop = _core.StopSource()
        callbacks = {"stdout": on_stdout, "stderr": on_stderr}
        for name, fn in callbacks.items():
            if fn is not None and not callable(fn):
                raise TypeError(f"on_{name} must be callable (got {type(fn).__name__})")

        def put(item: Any) -> None:
            if isinstance(item, OutputChunk):
                fn = callbacks[item.stream]
                if fn is not None:
                    loop.call_soon_threadsafe(fn, item.text)
            else:
                ends.append(item)

        ends: list[_End] = []

        def work() -> ExecutionResult:
            run_execution(self._engine._core, args, stop, put)
            end = ends[0]
            if end.error is not None:
                raise end.error
            return self._engine._result(end.raw)

        return await self._call(work, stop=stop)

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
    ) -> "AsyncExecutionStream":
        """An async iterator of :class:`~ignite_sandbox.OutputChunk` as the output arrives;
        ``.result`` once exhausted. The execution starts on the first ``__anext__``. Leaving
        early (``break``, ``await stream.aclose()``, ``async with``) or cancelling the task
        that iterates cancels the execution and kills the container."""
        args = self._engine._execute_args(
            service, input=input, input_json=input_json, env=env, timeout=timeout,
            timeout_ms=timeout_ms, memory_mb=memory_mb, cpus=cpus, runtime=runtime,
            audit=audit, output_limit=output_limit, delivery=delivery)
        return AsyncExecutionStream(self, args)

    async def preflight(
        self,
        service: ServiceLike,
        *,
        build_image: bool = False,
        runtime: Optional[str] = None,
        delivery: Union[CodeDelivery, str, None] = None,
    ) -> PreflightResult:
        """:meth:`Engine.preflight <ignite_sandbox.Engine.preflight>`; cancelling the task
        cancels an image build."""
        stop = _core.StopSource()
        return await self._call(self._engine.preflight, service, build_image=build_image,
                                runtime=runtime, delivery=delivery, stop=stop)

    async def prewarm(self, service: ServiceLike, **options: Any) -> int:
        """:meth:`Engine.prewarm <ignite_sandbox.Engine.prewarm>` (same keywords);
        cancelling the task ends the wait."""
        stop = _core.StopSource()
        return await self._call(self._engine.prewarm, service, stop=stop, **options)

    async def ping(self) -> bool:
        return await self._call(self._engine.ping)

    async def flush(self) -> None:
        await self._call(self._engine.flush)

    async def drain_pool(self) -> None:
        await self._call(self._engine.drain_pool)

    async def pool_stats(self) -> PoolStats:
        return await self._call(self._engine.pool_stats)

    async def remove_containers(self) -> int:
        return await self._call(self._engine.remove_containers)


class AsyncExecutionStream(AsyncIterator[OutputChunk]):
    """Async iterator over an execution's :class:`~ignite_sandbox.OutputChunk` values (from
    :meth:`AsyncEngine.stream`). ``result`` holds the result once exhausted or closed."""

    def __init__(self, engine: AsyncEngine, args: dict[str, Any]) -> None:
        self._engine = engine
        self._args = args
        self._stop = _core.StopSource()
        self._queue: Optional["asyncio.Queue[Any]"] = None
        self._cf: Optional["concurrent.futures.Future[Any]"] = None
        self._result: Optional[ExecutionResult] = None
        self._done = False

    @property
    def result(self) -> Optional[ExecutionResult]:
        return self._result

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        q: "asyncio.Queue[Any]" = asyncio.Queue()
        self._queue = q
        stop = self._stop  # the worker must not keep `self` alive: dropping it cancels

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(q.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody reads any more
                stop.request_stop()

        self._cf = self._engine._executor.submit(
            run_execution, self._engine._engine._core, self._args, stop, put)

    def __aiter__(self) -> "AsyncExecutionStream":
        return self

    async def __anext__(self) -> OutputChunk:
        if self._done:
            raise StopAsyncIteration
        if self._queue is None:
            self._start()
        assert self._queue is not None
        try:
            item = await self._queue.get()
        except asyncio.CancelledError:
            await self._cancel()
            raise
        if isinstance(item, OutputChunk):
            return item
        self._end(item)
        raise StopAsyncIteration

    def _end(self, end: _End) -> None:
        self._done = True
        if end.error is not None:
            raise end.error
        self._result = self._engine._engine._result(end.raw)

    async def _cancel(self) -> None:
        self._stop.request_stop()
        if self._cf is None or self._cf.cancel():
            self._done = True
            return
        await asyncio.wait({asyncio.wrap_future(self._cf)})
        assert self._queue is not None
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, _End):
                try:
                    self._end(item)
                except Exception:
                    pass
                return
        self._done = True

    async def aclose(self) -> None:
        """Cancels the execution if it is still running and waits until its container is
        killed. Idempotent."""
        if not self._done:
            await self._cancel()

    async def __aenter__(self) -> "AsyncExecutionStream":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            self._stop.request_stop()
