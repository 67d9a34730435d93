"""The Pythonic edges: timeout= in seconds or timedelta, result.check() and ExecutionFailed,
close() idempotent with .closed and a ResourceWarning for an engine collected open, the native
destructor running without the GIL, and Ctrl-C in every blocking call, also a second time."""

from __future__ import annotations

import datetime
import gc
import json
import os
import pickle
import signal
import socket
import threading
import time
import urllib.parse
import warnings

import pytest

import ignite_sandbox
from conftest import EXAMPLES, _docker, containers, remove_image, session_containers

main_thread_only = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread only")


# -- timeout= --------------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0.5, datetime.timedelta(milliseconds=500), 1])
def test_timeout_in_seconds_or_timedelta(engine, make_service, timeout):
    svc = engine.load(make_service("os.sleep(20000);", timeout_ms=20000))
    t0 = time.monotonic()
    r = engine.execute(svc, timeout=timeout)
    assert r.outcome == "timeout"
    assert time.monotonic() - t0 < 10


def test_timeout_is_validated(engine):
    hello = EXAMPLES / "hello-quickjs"
    for bad in (0, -1, float("nan"), float("inf"), datetime.timedelta(0)):
        with pytest.raises(ignite_sandbox.InvalidArgumentError, match="timeout"):
            engine.execute(hello, timeout=bad)
    for bad in ("5", True, [5]):
        with pytest.raises(TypeError, match="timeout"):
            engine.execute(hello, timeout=bad)
    with pytest.raises(ignite_sandbox.InvalidArgumentError, match="not both"):
        engine.execute(hello, timeout=1, timeout_ms=1000)
    # A tiny positive timeout is at least 1 ms, never "no timeout".
    assert engine.execute(hello, timeout=0.0001).outcome in ("timeout", "success")


def test_prewarm_takes_timeout_too():
    with ignite_sandbox.Engine(pool_size=1) as engine:
        assert engine.prewarm(EXAMPLES / "hello-quickjs", timeout=datetime.timedelta(seconds=5)) == 1
        with pytest.raises(ignite_sandbox.InvalidArgumentError):
            engine.prewarm(EXAMPLES / "hello-quickjs", timeout=-2)


# -- check() ---------------------------------------------------------------------------------


def test_check_returns_the_result_when_ok(engine):
    r = engine.execute(EXAMPLES / "hello-quickjs")
    assert r.check() is r


def test_check_raises_execution_failed_carrying_the_result(engine, make_service):
    r = engine.execute(make_service("std.err.puts('it broke\\n'); std.exit(4);"))
    with pytest.raises(ignite_sandbox.ExecutionFailed) as info:
        r.check()
    err = info.value
    assert err.result is r and err.result.exit_code == 4
    assert isinstance(err, ignite_sandbox.IgniteError) and err.code == "execution_failed"
    assert "error (exit code 4)" in str(err) and "it broke" in str(err)
    again = pickle.loads(pickle.dumps(err))  # e.g. across multiprocessing: the message stays
    assert str(again) == str(err) and again.result is None
    timed_out = engine.execute(make_service("os.sleep(5000);"), timeout=0.3)
    with pytest.raises(ignite_sandbox.ExecutionFailed, match="timeout"):
        timed_out.check()


# -- close(), closed, ResourceWarning, the destructor ----------------------------------------


def test_close_is_idempotent_and_closed_says_so(make_service):
    engine = ignite_sandbox.Engine()
    assert not engine.closed
    assert engine.execute(EXAMPLES / "hello-quickjs").ok
    sid = engine.session_id
    assert engine.close() == 0
    assert engine.closed
    assert engine.close() == 0
    assert engine.session_id == sid and "closed" in repr(engine)
    with pytest.raises(ignite_sandbox.InvalidArgumentError, match="closed"):
        engine.load(EXAMPLES / "hello-quickjs")
    with engine:  # a with block around a closed engine is harmless
        pass
    assert containers("dev.ignite.session=" + sid) == []


def test_engine_collected_open_warns():
    engine = ignite_sandbox.Engine()
    sid = engine.session_id
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del engine
        gc.collect()
    hits = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert len(hits) == 1 and sid in str(hits[0].message), [str(w.message) for w in caught]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ignite_sandbox.Engine():
            pass
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def _ticks_during(action) -> tuple[float, int]:
    """Runs action() on this thread while another Python thread counts 1 ms sleeps; returns
    (seconds action took, ticks counted meanwhile)."""
    ticks = 0
    stop = threading.Event()

    def ticker():
        nonlocal ticks
        while not stop.is_set():
            time.sleep(0.001)
            ticks += 1

    t = threading.Thread(target=ticker)
    t.start()
    time.sleep(0.05)
    start_ticks = ticks
    t0 = time.monotonic()
    action()
    took = time.monotonic() - t0
    counted = ticks - start_ticks
    stop.set()
    t.join()
    return took, counted


@pytest.mark.parametrize("how", ["close", "collected"])
def test_native_destructor_runs_without_the_gil(how):
    """~Engine drains a warm pool of 3 and waits for the removals: other Python threads run
    meanwhile, whether it runs from close() or from garbage collection."""
    holder = {"engine": ignite_sandbox.Engine(pool_size=3)}
    engine = holder["engine"]
    assert engine.prewarm(EXAMPLES / "hello-quickjs") == 3
    sid = engine.session_id
    del engine
    if how == "close":
        took, ticks = _ticks_during(holder["engine"].close)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            took, ticks = _ticks_during(lambda: holder.pop("engine"))
    print(f"\n[measure] engine teardown ({how}) {took * 1000:.0f} ms, other thread ticked {ticks}x")
    assert took > 0.05, "the destructor had nothing to wait for: the test proves nothing"
    # With the GIL held the ticker could not run at all; 1 ms sleeps give ~1 tick per 1-2 ms.
    assert ticks >= took * 1000 / 10, (took, ticks)
    assert containers("dev.ignite.session=" + sid) == []


# -- Ctrl-C -----------------------------------------------------------------------------------


def _sigint_after(seconds: float) -> list[float]:
    sent: list[float] = []

    def fire():
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Timer(seconds, fire).start()
    return sent


@main_thread_only
def test_ctrl_c_in_prewarm():
    engine = ignite_sandbox.Engine(pool_size=4, pool_refill_concurrency=1)
    try:
        svc = engine.load(EXAMPLES / "hello-node")
        sent = _sigint_after(0.3)
        with pytest.raises(KeyboardInterrupt):
            engine.prewarm(svc)  # 4 node containers one at a time: seconds
        assert time.monotonic() - sent[0] < 1.0
        assert engine.prewarm(svc, count=1) >= 1  # the engine goes on working
    finally:
        sid = engine.session_id
        engine.close()
    assert containers("dev.ignite.session=" + sid) == []


@main_thread_only
def test_prewarm_stop_source_cancels():
    with ignite_sandbox.Engine(pool_size=4, pool_refill_concurrency=1) as engine:
        stop = ignite_sandbox.StopSource()
        threading.Timer(0.3, stop.request_stop).start()
        t0 = time.monotonic()
        with pytest.raises(ignite_sandbox.CancelledError):
            engine.prewarm(EXAMPLES / "hello-node", stop=stop)
        assert time.monotonic() - t0 < 1.5


@main_thread_only
def test_ctrl_c_in_preflight_image_build(make_service):
    """A baked build of 100 MB takes seconds; Ctrl-C half a second in cancels it."""
    d = make_service("print(1);", name=f"py-big-{os.getpid()}")
    with open(d / "blob.bin", "wb") as f:
        f.write(os.urandom(1 << 20) * 100)
    (d / "blob.bin").chmod(0o644)
    with ignite_sandbox.Engine() as engine:
        svc = engine.load(d)
        sent = _sigint_after(0.5)
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            engine.preflight(svc, build_image=True, delivery="baked")
        assert time.monotonic() - sent[0] < 1.0, time.monotonic() - t0
        # The checks without a build still answer at once.
        assert engine.preflight(svc).checks
    # Had the build finished anyway, its image goes (this test's own name).
    status, body = _docker("GET", "/images/json?" + urllib.parse.urlencode(
        {"filters": json.dumps({"reference": [f"ignite-svc/py-big-{os.getpid()}"]})}))
    made = [t for i in json.loads(body) for t in i.get("RepoTags") or []]
    for ref in made:
        remove_image(ref)
    assert made == [], "the build was not cancelled"


@main_thread_only
def test_second_ctrl_c_during_execute_and_in_the_next_call(engine, make_service):
    """A second Ctrl-C while the first one's clean-up runs folds into the one KeyboardInterrupt
    (none is left pending to break the next call), and Ctrl-C works in the next call again.

    The signals are sent from the output callback, which the execution waits for. os.kill()
    returning does not mean Python's C-level handler has run (the kernel may deliver the signal
    to another thread, scheduled later): the callback returns only once the handler has written
    the second signal to the wakeup fd, so the second one certainly arrives while the call is
    still winding down."""
    svc = engine.load(make_service("std.out.puts('up\\n'); std.out.flush(); os.sleep(30000);",
                                   timeout_ms=60000))
    seen, wakeup = socket.socketpair()
    wakeup.setblocking(False)
    old_wakeup = signal.set_wakeup_fd(wakeup.fileno(), warn_on_full_buffer=False)
    try:
        for round_ in range(2):
            sent = threading.Event()

            def on_stdout(_text: str) -> None:
                if sent.is_set():
                    return
                sent.set()
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.3)  # the main thread takes the first one meanwhile (50 ms polls)
                os.kill(os.getpid(), signal.SIGINT)
                handled = 0
                seen.settimeout(10)
                while handled < 2:  # one byte per signal whose C handler has run
                    handled += len(seen.recv(2 - handled))

            t0 = time.monotonic()
            with pytest.raises(KeyboardInterrupt):
                engine.execute(svc, on_stdout=on_stdout)
            assert time.monotonic() - t0 < 10
            # Nothing pending: plain Python and a plain call right after run undisturbed.
            time.sleep(0.2)
            assert engine.execute(EXAMPLES / "hello-quickjs").ok, round_
    finally:
        signal.set_wakeup_fd(old_wakeup)
        seen.close()
        wakeup.close()
    assert session_containers(engine) == []
