"""ignite_sandbox.AsyncEngine: execute and stream as coroutines, task cancellation that kills the
container within a second, no Docker call on the event loop's thread, and a loop that stays
responsive with 50 executions at once (its worst stall is printed)."""

from __future__ import annotations

import asyncio
import datetime
import threading
import time
from typing import Any

import pytest

import ignite_sandbox
from conftest import EXAMPLES, containers

SLEEPER = "std.out.puts('up\\n'); std.out.flush(); os.sleep(30000);"


def run(coro):
    return asyncio.run(coro)


async def _gone(engine: ignite_sandbox.AsyncEngine, t0: float, limit: float) -> float:
    """Seconds from t0 until the engine's session has no container (polled off the loop)."""
    while True:
        left = await asyncio.to_thread(containers, "dev.ignite.session=" + engine.session_id)
        if not left:
            return time.monotonic() - t0
        assert time.monotonic() - t0 < limit, f"still there after {limit} s: {left}"
        await asyncio.sleep(0.01)


class _ThreadRecorder:
    """Stands in for the native engine and records which thread made each call."""

    def __init__(self, core: Any) -> None:
        self._core = core
        self.calls: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._core, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, threading.get_ident()))
            return attr(*args, **kwargs)

        return call


def test_async_with_execute_and_stream():
    async def main():
        async with ignite_sandbox.AsyncEngine() as engine:
            assert not engine.closed
            svc = engine.load(EXAMPLES / "hello-quickjs")
            assert isinstance(svc, ignite_sandbox.Service)
            result = await engine.execute(svc, input={"name": "Async"},
                                          timeout=datetime.timedelta(seconds=10))
            assert result.check().ok and "Hello, Async!" in result.stdout
            stream = engine.stream(svc, input={"name": "AsyncStream"})
            chunks = [c async for c in stream]
            assert all(isinstance(c, ignite_sandbox.OutputChunk) for c in chunks)
            assert "Hello, AsyncStream!" in "".join(c.text for c in chunks)
            assert stream.result.ok and stream.result.stdout == "".join(c.text for c in chunks)
            sid = engine.session_id
        assert engine.closed
        assert await engine.close() == 0  # idempotent
        assert containers("dev.ignite.session=" + sid) == []

    run(main())


def test_callbacks_run_on_the_loop_thread(make_service):
    svc_dir = make_service("std.out.puts('a\\n'); std.err.puts('b\\n');")

    async def main():
        loop_thread = threading.get_ident()
        seen = []
        async with ignite_sandbox.AsyncEngine() as engine:
            r = await engine.execute(
                svc_dir,
                on_stdout=lambda t: seen.append(("out", t, threading.get_ident())),
                on_stderr=lambda t: seen.append(("err", t, threading.get_ident())))
            await asyncio.sleep(0)  # callbacks scheduled before the result ran already
        assert r.ok
        assert sorted((s, t) for s, t, _ in seen) == [("err", "b\n"), ("out", "a\n")]
        assert all(tid == loop_thread for _, _, tid in seen)

    run(main())


def test_no_docker_call_on_the_loop_thread(make_service):
    async def main():
        async with ignite_sandbox.AsyncEngine(pool_size=1) as engine:
            recorder = _ThreadRecorder(engine.engine._core)
            engine.engine._core = recorder
            loop_thread = threading.get_ident()
            svc = engine.load(EXAMPLES / "hello-quickjs")
            await engine.ping()
            await engine.preflight(svc)
            assert await engine.prewarm(svc) == 1
            assert (await engine.execute(svc)).ok
            async for _ in engine.stream(svc):
                pass
            await engine.flush()
            await engine.pool_stats()
            await engine.drain_pool()
            on_loop = {name for name, tid in recorder.calls if tid == loop_thread}
            # Only load() (reading service.yaml) runs on the loop thread.
            assert on_loop <= {"load"}, on_loop
            off_loop = {name for name, tid in recorder.calls if tid != loop_thread}
            assert {"ping", "preflight", "prewarm", "execute", "flush", "drain_pool"} <= off_loop
            engine.engine._core = recorder._core

    run(main())


def test_cancelling_the_task_kills_and_removes_the_container(make_service):
    svc_dir = make_service(SLEEPER, timeout_ms=60000)

    async def main():
        async with ignite_sandbox.AsyncEngine() as engine:
            svc = engine.load(svc_dir)
            started = asyncio.Event()
            task = asyncio.create_task(engine.execute(svc, on_stdout=lambda t: started.set()))
            await asyncio.wait_for(started.wait(), 30)
            assert len(containers("dev.ignite.session=" + engine.session_id)) == 1
            t0 = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            raised = time.monotonic() - t0
            gone = await _gone(engine, t0, 1.0)
            print(f"\n[measure] asyncio cancel -> CancelledError {raised * 1000:.0f} ms, "
                  f"container gone {gone * 1000:.0f} ms")
            assert raised < 1.0 and gone < 1.0
            # The engine goes on working.
            assert (await engine.execute(EXAMPLES / "hello-quickjs")).ok

    run(main())


def test_cancelling_an_execution_waiting_for_a_slot(make_service):
    """With max_concurrent=1 the second execution waits for the first: cancelling it ends at
    once, and the first runs on."""
    svc_dir = make_service("std.out.puts('up\\n'); std.out.flush(); os.sleep(1500);")

    async def main():
        async with ignite_sandbox.AsyncEngine(max_concurrent=1) as engine:
            started = asyncio.Event()
            first = asyncio.create_task(engine.execute(svc_dir, on_stdout=lambda t: started.set()))
            await asyncio.wait_for(started.wait(), 30)
            second = asyncio.create_task(engine.execute(EXAMPLES / "hello-quickjs"))
            await asyncio.sleep(0.2)
            t0 = time.monotonic()
            second.cancel()
            with pytest.raises(asyncio.CancelledError):
                await second
            assert time.monotonic() - t0 < 1.0
            assert (await first).ok

    run(main())


def test_async_stream_break_and_aclose_cancel(make_service):
    svc_dir = make_service(SLEEPER, timeout_ms=60000)

    async def main():
        async with ignite_sandbox.AsyncEngine() as engine:
            svc = engine.load(svc_dir)
            async for chunk in engine.stream(svc):
                assert chunk == ignite_sandbox.OutputChunk("stdout", "up\n")
                break
            await _gone(engine, time.monotonic(), 3.0)
            stream = engine.stream(svc)
            assert (await stream.__anext__()).text == "up\n"
            t0 = time.monotonic()
            await stream.aclose()
            assert time.monotonic() - t0 < 1.0
            assert stream.result.outcome == "cancelled"
            await _gone(engine, t0, 1.0)
            async with engine.stream(svc) as s:
                async for _ in s:
                    break
            assert s.result.outcome == "cancelled"

    run(main())


def test_cancelling_a_task_iterating_a_stream(make_service):
    svc_dir = make_service(SLEEPER, timeout_ms=60000)

    async def main():
        async with ignite_sandbox.AsyncEngine() as engine:
            got = asyncio.Event()

            async def consume():
                async for _ in engine.stream(svc_dir):
                    got.set()

            task = asyncio.create_task(consume())
            await asyncio.wait_for(got.wait(), 30)
            t0 = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - t0 < 1.0
            await _gone(engine, t0, 1.0)

    run(main())


def test_fifty_concurrent_executions_keep_the_loop_responsive():
    """50 executions on one loop (the engine runs 8 at a time): a ticker that asks for 5 ms
    sleeps measures the loop's worst stall, which is printed."""

    async def main():
        async with ignite_sandbox.AsyncEngine() as engine:
            svc = engine.load(EXAMPLES / "hello-quickjs")
            assert (await engine.execute(svc)).ok  # image checked, client connected
            stalls: list[float] = []
            done = asyncio.Event()

            async def ticker():
                while not done.is_set():
                    t = time.perf_counter()
                    await asyncio.sleep(0.005)
                    stalls.append(time.perf_counter() - t - 0.005)

            tick = asyncio.create_task(ticker())
            t0 = time.monotonic()
            results = await asyncio.gather(
                *(engine.execute(svc, input={"name": f"n{i}"}, timeout=30) for i in range(50)))
            wall = time.monotonic() - t0
            done.set()
            await tick
            assert all(r.ok for r in results), [r.outcome for r in results if not r.ok]
            assert sorted(r.stdout.split("!")[0] for r in results) == sorted(
                f"Hello, n{i}" for i in range(50))
            worst = max(stalls)
            stalls.sort()
            p99 = stalls[int(len(stalls) * 0.99)]
            print(f"\n[measure] 50 concurrent async executions in {wall:.2f} s: loop worst stall "
                  f"{worst * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, {len(stalls)} ticks")
            # A blocking call on the loop would stall it for a whole execution (>= 100 ms).
            assert worst < 0.25, worst
            assert len(stalls) > wall / 0.05  # the loop kept ticking all along

    run(main())


def test_async_errors_and_arguments(tmp_path):
    async def main():
        async with ignite_sandbox.AsyncEngine(docker_host=f"unix://{tmp_path}/none.sock") as e:
            with pytest.raises(ignite_sandbox.DockerUnavailableError):
                await e.execute(EXAMPLES / "hello-quickjs")
            with pytest.raises(ignite_sandbox.DockerUnavailableError):
                async for _ in e.stream(EXAMPLES / "hello-quickjs"):
                    pass
            with pytest.raises(ignite_sandbox.InvalidArgumentError):
                await e.execute(EXAMPLES / "hello-quickjs", timeout=0)
            with pytest.raises(TypeError):
                await e.execute(EXAMPLES / "hello-quickjs", timeout="5s")
        with pytest.raises(ignite_sandbox.InvalidArgumentError, match="closed"):
            await e.execute(EXAMPLES / "hello-quickjs")
        f = ignite_sandbox.AsyncEngine.from_env({"IGNITE_MAX_CONCURRENT": "3"})
        assert f.engine._max_concurrent == 3
        await f.close()

    run(main())
