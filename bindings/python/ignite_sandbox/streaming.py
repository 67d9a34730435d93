"""Output as it arrives: :class:`OutputChunk` and the iterator :meth:`Engine.stream` returns.

The execution runs on a thread of its own (the native call releases the GIL); its output
callbacks put chunks on a queue that the iterator reads. Leaving the iteration early cancels
the execution through a :class:`StopSource`, so the container is killed and removed.
"""

from __future__ import annotations

import codecs
import dataclasses
import queue
import threading
import weakref
from typing import Any, Callable, Iterator, Optional

from ._native import _core
from .models import ExecutionResult

__all__ = ["ExecutionStream", "OutputChunk"]


@dataclasses.dataclass(frozen=True)
class OutputChunk:
    """A piece of a service's output, in the order it arrived."""

    stream: str  #: ``"stdout"`` or ``"stderr"``
    text: str  #: decoded as UTF-8 (a character split across reads arrives whole)


class _End:
    """The worker's last queue item: the raw result, or the exception the call raised."""

    __slots__ = ("raw", "error")

    def __init__(self, raw: Any = None, error: Optional[BaseException] = None) -> None:
        self.raw = raw
        self.error = error


def decoders(put: Callable[[OutputChunk], None]) -> tuple[Any, Any, Callable[[], None]]:
    """(on_stdout, on_stderr, flush) byte callbacks for _core that turn output into chunks."""
    made = []

    def one(name: str) -> Any:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        made.append((name, decoder))

        def on_bytes(data: bytes) -> None:
            text = decoder.decode(data)
            if text:
                put(OutputChunk(name, text))

        return on_bytes

    out, err = one("stdout"), one("stderr")

    def flush() -> None:
        for name, decoder in made:
            tail = decoder.decode(b"", final=True)
            if tail:
                put(OutputChunk(name, tail))

    return out, err, flush


def run_execution(core: Any, args: dict[str, Any], stop: Any,
                  put: Callable[[Any], None]) -> None:
    """Runs ``core.execute`` (on the calling worker thread), putting chunks, then an _End."""
    args = dict(args)
    service = args.pop("service")
    out, err, flush = decoders(put)
    try:
        raw = core.execute(*service, **args, on_stdout=out, on_stderr=err, stop=stop)
        flush()
        put(_End(raw=raw))
    except BaseException as e:  # handed to the consumer, which raises it
        put(_End(error=e))


# Streams still running when the interpreter exits are cancelled before it waits for their
# threads (threading joins non-daemon threads before atexit handlers run).
_live: "weakref.WeakSet[Any]" = weakref.WeakSet()


def _stop_live() -> None:
    for s in list(_live):
        s._stop.request_stop()


if hasattr(threading, "_register_atexit"):
    threading._register_atexit(_stop_live)  # type: ignore[attr-defined]


class ExecutionStream(Iterator[OutputChunk]):
    """Iterator over an execution's :class:`OutputChunk` values (from :meth:`Engine.stream`).

    ``result`` is the :class:`ExecutionResult` once the iterator is exhausted (None before).
    ``close()`` (also ``with stream:``, ``break`` out of a ``for`` loop over a stream nothing
    else refers to, or the stream being garbage-collected) cancels an execution still running:
    the container is killed and removed, and ``result.outcome`` is ``"cancelled"``.
    """

    def __init__(self, engine: Any, args: dict[str, Any]) -> None:
        self._engine = engine
        self._stop = _core.StopSource()
        self._queue: "queue.Queue[Any]" = queue.Queue()
        self._result: Optional[ExecutionResult] = None
        self._done = False
        self._thread = threading.Thread(
            target=run_execution,
            args=(engine._core, args, self._stop, self._queue.put),
            name="ignite-stream",
        )
        self._thread.start()
        _live.add(self)

    @property
    def result(self) -> Optional[ExecutionResult]:
        """The execution's result once the stream is exhausted or closed, else None."""
        return self._result

    def __iter__(self) -> "ExecutionStream":
        return self

    def __next__(self) -> OutputChunk:
        if self._done:
            raise StopIteration
        try:
            item = self._queue.get()
        except BaseException:  # KeyboardInterrupt while waiting: cancel, then propagate
            self.close()
            raise
        if isinstance(item, OutputChunk):
            return item
        self._finish(item)
        raise StopIteration

    def _finish(self, end: _End) -> None:
        self._done = True
        self._thread.join()
        _live.discard(self)
        if end.error is not None:
            raise end.error
        self._result = self._engine._result(end.raw)

    def close(self) -> None:
        """Cancels the execution if it is still running and waits until its container is
        killed (its removal is queued). Idempotent."""
        if self._done:
            return
        self._stop.request_stop()
        self._thread.join()
        while True:  # the chunks nobody read, then the end
            item = self._queue.get_nowait()
            if isinstance(item, _End):
                break
        try:
            self._finish(item)
        except Exception:
            pass  # an error after cancellation is not the caller's concern any more

    def __enter__(self) -> "ExecutionStream":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        # Dropped unfinished (a `break` out of `for chunk in engine.stream(...)`): cancel
        # without blocking the garbage collector; the worker finishes the clean-up.
        if not getattr(self, "_done", True):
            self._stop.request_stop()
