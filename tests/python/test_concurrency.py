"""GIL release, parallel executions from threads, output callbacks and cancellation."""

from __future__ import annotations

import _thread
import os
import signal
import threading
import time

import pytest

import ignite_sandbox
from conftest import EXAMPLES, session_containers


def _run_in_threads(n, fn):
    results, errors = [None] * n, []
    barrier = threading.Barrier(n)

    def work(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_parallel_executions_overlap(engine, make_service):
    """Four threads run a service that sleeps 1 s at once: each call spans the others' (they ran
    together, not one after another), so the four together take far less than four runs."""
    d = make_service(
        "os.sleep(1000); const i = JSON.parse(std.in.readAsString()); print(`Hello, ${i.name}!`);"
    )
    svc = engine.load(d)
    engine.execute(svc, input={"name": "warm"})  # the per-service image exists

    def run(i):
        t0 = time.monotonic()
        r = engine.execute(svc, input={"name": f"t{i}"})
        return t0, time.monotonic(), r

    runs = _run_in_threads(4, run)
    for i, (_, _, r) in enumerate(runs):
        assert r.ok, r.stderr
        assert f"Hello, t{i}!" in r.stdout
    starts = [s for s, _, _ in runs]
    ends = [e for _, e, _ in runs]
    # Every call started before any call finished: all four were in flight together.
    assert max(starts) < min(ends)
    # Serialised calls would take at least the sum of the calls' own durations (>= 4 s of
    # sleeping); overlapping ones about one call's. Half the sum is room for a loaded host.
    wall = max(ends) - min(starts)
    assert wall < 0.5 * sum(r.duration_ms for _, _, r in runs) / 1000.0
    assert session_containers(engine) == []


def test_parallel_containers_run_simultaneously(engine, make_service):
    """Stronger: each service sleeps; the containers' run phases (start .. exit, derived from
    each result's phase timings) all overlap, which is impossible if the GIL were held."""
    d = make_service("os.sleep(1500); print('done');")
    svc = engine.load(d)
    engine.execute(svc)  # warm

    def run(i):
        r = engine.execute(svc)
        end = time.monotonic()
        run_end = end - r.phases.cleanup_ms / 1000.0
        return run_end - r.phases.run_ms / 1000.0, run_end, r

    runs = _run_in_threads(4, run)
    assert all(r.ok and r.stdout == "done\n" for _, _, r in runs)
    assert all(r.phases.run_ms >= 1400 for _, _, r in runs)
    assert max(s for s, _, _ in runs) < min(e for _, e, _ in runs)


def test_python_keeps_running_while_a_container_runs(engine, make_service):
    d = make_service("os.sleep(1000); print('ok');")
    svc = engine.load(d)
    engine.execute(svc)
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    before = ticks
    try:
        r = engine.execute(svc)
    finally:
        done.set()
        counter.join()
    assert r.ok
    assert ticks - before > 100  # the counter thread ran throughout (~1 s of 1 ms ticks)


# -- callbacks -------------------------------------------------------------------------------


def test_callbacks_stream_and_concatenate(engine, make_service):
    d = make_service(
        """
        for (let i = 0; i < 5; i++) {
          std.out.puts(`line ${i} \u00e9\u4e16\\n`); std.out.flush();
          std.err.puts(`err ${i}\\n`); std.err.flush();
          os.sleep(50);
        }
        """
    )
    out, err = [], []
    r = engine.execute(d, on_stdout=out.append, on_stderr=err.append)
    assert r.ok, r.stderr
    assert all(isinstance(c, str) for c in out + err)
    assert "".join(out) == r.stdout
    assert "".join(err) == r.stderr
    assert r.stdout.count("\n") == 5 and "\u00e9\u4e16" in r.stdout
    assert len(out) >= 2  # it streamed, rather than arriving once at the end


def test_callbacks_run_with_the_gil_from_an_ignite_thread(engine):
    seen = []
    r = engine.execute(
        EXAMPLES / "hello-quickjs",
        on_stdout=lambda chunk: seen.append((threading.get_ident(), chunk)),
    )
    assert r.ok
    assert seen and all(tid != threading.get_ident() for tid, _ in seen)


def test_exception_in_callback_cancels_and_reraises(engine, make_service):
    d = make_service("std.out.puts('first\\n'); std.out.flush(); os.sleep(30000);", timeout_ms=60000)

    class Stop(Exception):
        pass

    def on_stdout(chunk):
        raise Stop(chunk)

    t0 = time.monotonic()
    with pytest.raises(Stop) as info:
        engine.execute(d, on_stdout=on_stdout)
    assert time.monotonic() - t0 < 15
    assert info.value.args == ("first\n",)
    assert session_containers(engine) == []


def test_exception_in_stderr_callback_cancels(engine, make_service):
    d = make_service("std.err.puts('oops\\n'); std.err.flush(); os.sleep(30000);", timeout_ms=60000)
    with pytest.raises(ZeroDivisionError):
        engine.execute(d, on_stderr=lambda chunk: 1 / 0)
    assert session_containers(engine) == []


def test_non_callable_callback_is_rejected(engine):
    with pytest.raises(TypeError):
        engine.execute(EXAMPLES / "hello-quickjs", on_stdout="print")


# -- KeyboardInterrupt -----------------------------------------------------------------------


def _interrupt_after_output(engine, make_service, send):
    d = make_service("std.out.puts('up\\n'); std.out.flush(); os.sleep(30000);", timeout_ms=60000)
    svc = engine.load(d)
    running = threading.Event()

    def interrupter():
        if running.wait(30):
            send()

    t = threading.Thread(target=interrupter)
    t.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.execute(svc, on_stdout=lambda chunk: running.set())
    finally:
        running.set()
        t.join()
    elapsed = time.monotonic() - t0
    assert elapsed < 15, f"KeyboardInterrupt took {elapsed:.1f}s against a 30 s service"
    assert session_containers(engine) == []


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="main thread only")
def test_keyboard_interrupt_via_interrupt_main(engine, make_service):
    _interrupt_after_output(engine, make_service, _thread.interrupt_main)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="main thread only")
def test_keyboard_interrupt_via_sigint(engine, make_service):
    _interrupt_after_output(engine, make_service, lambda: os.kill(os.getpid(), signal.SIGINT))


def test_engine_still_works_after_interrupt(engine):
    assert engine.execute(EXAMPLES / "hello-quickjs").ok
