"""A stalled Docker daemon never stalls the caller (Python): with the suite's dockerd frozen
(SIGSTOP, always thawed: on leaving the block, and by a watchdog process if this one dies), a
stop request and Ctrl-C both end an execution whose Engine API call is in flight within a
second, and nothing is left once the daemon is back."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import ignite_sandbox
from conftest import session_containers


@contextlib.contextmanager
def frozen_daemon():
    try:
        with open("/var/run/docker.pid") as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        pytest.fail("no dockerd pid in /var/run/docker.pid")
    # Thaws the daemon when its stdin closes (the block ended, or this process died) or after 60 s.
    watchdog = subprocess.Popen(
        [sys.executable, "-c",
         "import os, select, signal, sys; select.select([sys.stdin], [], [], 60); "
         f"os.kill({pid}, signal.SIGCONT)"],
        stdin=subprocess.PIPE)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
        watchdog.stdin.close()
        watchdog.wait(timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with ignite_sandbox.Engine() as probe:
                    probe.ping()
                break
            except ignite_sandbox.DockerUnavailableError:
                time.sleep(0.1)


def _nothing_left(engine):
    engine.flush()
    deadline = time.monotonic() + 20
    while session_containers(engine) and time.monotonic() < deadline:
        time.sleep(0.1)
    return session_containers(engine) == []


def test_stop_source_cancels_a_call_in_flight(engine, make_service):
    svc = engine.load(make_service("print('ran');"))
    engine.execute(svc)  # the image exists, the client is connected
    with frozen_daemon():
        stop = ignite_sandbox.StopSource()
        results = []
        t = threading.Thread(target=lambda: results.append(engine.execute(svc, stop=stop)))
        t.start()
        t.join(0.5)
        assert t.is_alive(), "an execution returned on a frozen daemon"
        t0 = time.monotonic()
        stop.request_stop()
        t.join(5)
        assert not t.is_alive()
        assert time.monotonic() - t0 < 1.0
        assert results[0].outcome == "cancelled"
    assert _nothing_left(engine)


def test_ctrl_c_cancels_a_call_in_flight(engine, make_service):
    svc = engine.load(make_service("print('ran');"))
    engine.execute(svc)
    sent = []

    def interrupt():
        time.sleep(0.5)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    with frozen_daemon():
        threading.Thread(target=interrupt, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            engine.execute(svc)  # on the main thread, blocked in create
        assert time.monotonic() - sent[0] < 1.0
    assert _nothing_left(engine)


def test_asyncio_cancellation_during_a_frozen_daemon(make_service):
    """A task awaiting AsyncEngine.execute whose Engine API call hangs on the frozen daemon:
    cancelling it raises CancelledError within a second; after the thaw the same AsyncEngine
    executes normally and nothing of the session is left."""
    import asyncio

    svc_dir = make_service("print('ran');")

    async def main():
        async with ignite_sandbox.AsyncEngine() as engine:
            svc = engine.load(svc_dir)
            assert (await engine.execute(svc)).ok  # the image exists, the client is connected
            with frozen_daemon():
                task = asyncio.create_task(engine.execute(svc))
                done, _ = await asyncio.wait({task}, timeout=0.5)
                assert not done, "an execution returned on a frozen daemon"
                t0 = time.monotonic()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                took = time.monotonic() - t0
                print(f"\n[measure] asyncio cancel on a frozen daemon -> CancelledError "
                      f"{took * 1000:.0f} ms")
                assert took < 1.0
            result = await engine.execute(svc, timeout=30)
            assert result.ok and result.stdout == "ran\n"
            assert await asyncio.to_thread(_nothing_left, engine.engine)

    asyncio.run(main())
