"""engine.stream(): output chunks as they arrive, .result once exhausted, and cancellation when
the iteration is left early (break, close(), with, an exception, Ctrl-C)."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time

import pytest

import ignite_sandbox
from conftest import EXAMPLES, containers, session_containers

# Prints on both streams, in turns, with pauses, so the chunks arrive one by one.
TICKS = """
for (let i = 0; i < 3; i++) {
  std.out.puts('out ' + i + '\\n'); std.out.flush();
  os.sleep(150);
  std.err.puts('err ' + i + '\\n'); std.err.flush();
  os.sleep(150);
}
"""

SLEEPER = "std.out.puts('up\\n'); std.out.flush(); os.sleep(30000);"


def _gone_within(engine, seconds: float) -> float:
    """Seconds until the engine's session has no container left (fails after `seconds`)."""
    t0 = time.monotonic()
    while containers("dev.ignite.session=" + engine.session_id):
        assert time.monotonic() - t0 < seconds, "container still there"
        time.sleep(0.02)
    return time.monotonic() - t0


def test_stream_yields_chunks_as_they_arrive(engine, make_service):
    svc = engine.load(make_service(TICKS))
    stream = engine.stream(svc, timeout=20)
    assert stream.result is None
    seen = []
    for chunk in stream:
        assert isinstance(chunk, ignite_sandbox.OutputChunk)
        seen.append((time.monotonic(), chunk.stream, chunk.text))
    streams = [s for _, s, _ in seen]
    assert streams == ["stdout", "stderr"] * 3, seen
    assert [t for _, _, t in seen] == [f"{s} {i}\n" for i in range(3) for s in ("out", "err")]
    # As they arrive: the first and the last chunk are most of the run apart, not one batch.
    assert seen[-1][0] - seen[0][0] > 0.5
    result = stream.result
    assert isinstance(result, ignite_sandbox.ExecutionResult) and result.ok
    assert result.stdout == "out 0\nout 1\nout 2\n"
    assert result.stderr == "err 0\nerr 1\nerr 2\n"
    assert list(stream) == []  # exhausted stays exhausted
    assert session_containers(engine) == []


def test_stream_result_of_a_failing_service(engine, make_service):
    svc = engine.load(make_service("std.err.puts('bad\\n'); std.exit(3);"))
    stream = engine.stream(svc)
    chunks = list(stream)
    assert chunks == [ignite_sandbox.OutputChunk("stderr", "bad\n")]
    assert stream.result.outcome == "error" and stream.result.exit_code == 3


def test_stream_of_hello_example_with_input(engine):
    stream = engine.stream(EXAMPLES / "hello-quickjs", input={"name": "Stream"})
    text = "".join(c.text for c in stream if c.stream == "stdout")
    assert "Hello, Stream!" in text
    assert stream.result.stdout == text


def test_break_cancels_and_removes_the_container(engine, make_service):
    svc = engine.load(make_service(SLEEPER, timeout_ms=60000))
    t0 = time.monotonic()
    for chunk in engine.stream(svc):
        assert chunk.text == "up\n"
        break  # the stream (referenced by nothing else) goes: the execution is cancelled
    took = _gone_within(engine, 3)
    assert time.monotonic() - t0 < 10
    print(f"\n[measure] sync stream break -> container gone: {took * 1000:.0f} ms")


def test_close_cancels_and_the_result_says_cancelled(engine, make_service):
    svc = engine.load(make_service(SLEEPER, timeout_ms=60000))
    stream = engine.stream(svc)
    assert next(stream).text == "up\n"
    t0 = time.monotonic()
    stream.close()
    assert time.monotonic() - t0 < 2
    assert stream.result.outcome == "cancelled"
    stream.close()  # idempotent
    with pytest.raises(StopIteration):
        next(stream)
    _gone_within(engine, 2)


def test_with_block_cancels_on_exception(engine, make_service):
    svc = engine.load(make_service(SLEEPER, timeout_ms=60000))
    with pytest.raises(ZeroDivisionError):
        with engine.stream(svc) as stream:
            for _ in stream:
                1 / 0
    assert stream.result.outcome == "cancelled"
    _gone_within(engine, 2)


def test_garbage_collected_stream_cancels(engine, make_service):
    svc = engine.load(make_service(SLEEPER, timeout_ms=60000))
    stream = engine.stream(svc)
    next(stream)
    del stream
    gc.collect()
    _gone_within(engine, 3)


def test_stream_errors_are_raised_by_the_iteration(tmp_path, example):
    with ignite_sandbox.Engine(docker_host=f"unix://{tmp_path}/none.sock") as e:
        stream = e.stream(example("hello-quickjs"))
        with pytest.raises(ignite_sandbox.DockerUnavailableError):
            list(stream)


def test_stream_checks_its_arguments_at_once(engine):
    with pytest.raises(ignite_sandbox.InvalidArgumentError):
        engine.stream(EXAMPLES / "hello-quickjs", input=object())
    with pytest.raises(ignite_sandbox.InvalidArgumentError):
        engine.stream(EXAMPLES / "hello-quickjs", timeout=-1)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="main thread only")
def test_ctrl_c_while_waiting_for_a_chunk(engine, make_service):
    svc = engine.load(make_service(SLEEPER, timeout_ms=60000))
    stream = engine.stream(svc)
    assert next(stream).text == "up\n"
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        next(stream)  # blocks: the service prints nothing more
    assert time.monotonic() - t0 < 2
    assert stream.result.outcome == "cancelled"
    _gone_within(engine, 2)
