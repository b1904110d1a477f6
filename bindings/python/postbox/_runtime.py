"""What the handle classes share: the closed-handle check, closing what is
still open at interpreter exit, reporting exceptions raised by user
callbacks, and the dispatcher thread that runs callbacks in Python.

Threading model. The library calls back on its own native threads (the
replica's sync thread, the client's thread). Those threads must never run
application code: they may hold locks a call into the library would need,
and the header asks them to return quickly. So the native callback only
copies what it was given (or takes the replica's pbx_task) and hands it to
a Python thread: by default a Dispatcher, one daemon thread per handle that
runs callbacks one at a time in the order they came; or an executor the
application passes (e.g. an asyncio loop's call_soon_threadsafe), which
must only queue the callable and return.
"""

from __future__ import annotations

import atexit
import queue
import sys
import threading
import types
from typing import Any, Callable, Dict, Optional, Set

from ._ffi import lib
from .errors import InvalidArgument

Executor = Callable[[Callable[[], None]], Any]


def report_callback_error(exc: BaseException, where: str, obj: Any = None) -> None:
    """Reports an exception a user callback raised through sys.unraisablehook
    (by default printed to stderr; tests and apps may replace the hook). The
    library and the dispatcher carry on."""
    try:
        sys.unraisablehook(types.SimpleNamespace(  # type: ignore[arg-type]
            exc_type=type(exc), exc_value=exc, exc_traceback=exc.__traceback__,
            err_msg="Exception ignored in postbox callback %s" % where, object=obj))
    except BaseException:  # noqa: BLE001 -- a broken hook must not kill a library thread
        pass


def closed_error(what: str) -> InvalidArgument:
    return InvalidArgument(-400, "InvalidArgument: the %s is closed" % what, False)


class Handle:
    """A C handle in `_h` (None once closed); a call on a closed one raises
    InvalidArgument naming the class."""

    _h: Any = None

    def _handle(self) -> Any:
        h = self._h
        if h is None:
            raise closed_error(type(self).__name__)
        return h

    @property
    def closed(self) -> bool:
        return self._h is None


# Handles still open, held strongly until closed: a replica or client
# dropped without close() must not be garbage-collected (with the cffi
# callbacks its native threads still call). Closed at interpreter exit,
# before the interpreter stops running Python code on other threads (a native
# thread calling into a finalizing interpreter would crash the process):
# replicas and clients first, then servers, then stores (a store refuses to
# close under a running server).
_lock = threading.Lock()
_open: Dict[int, Set[Any]] = {0: set(), 1: set(), 2: set()}


def track(obj: Any, rank: int) -> None:
    with _lock:
        _open[rank].add(obj)


def untrack(obj: Any, rank: int) -> None:
    with _lock:
        _open[rank].discard(obj)


@atexit.register
def _close_all() -> None:
    for rank in (0, 1, 2):
        with _lock:
            objs = list(_open[rank])
        for obj in objs:
            try:
                obj.close()
            except BaseException as e:  # noqa: BLE001
                report_callback_error(e, "close at exit", obj)


class Dispatcher:
    """A daemon thread that runs submitted callables one at a time, in order.
    An exception a callable raises is reported and the thread carries on."""

    def __init__(self, name: str) -> None:
        self._queue: "queue.SimpleQueue[Optional[Callable[[], None]]]" = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def submit(self, fn: Callable[[], None]) -> None:
        self._queue.put(fn)

    def _loop(self) -> None:
        while True:
            fn = self._queue.get()
            if fn is None:
                return
            try:
                fn()
            except BaseException as e:  # noqa: BLE001
                report_callback_error(e, "(dispatcher)", fn)

    def flush(self, timeout: Optional[float]) -> bool:
        """Waits until what was submitted before has run (False on timeout).
        From the dispatcher's own thread it returns at once: waiting there
        would wait for itself."""
        if threading.current_thread() is self.thread:
            return True
        done = threading.Event()
        self._queue.put(done.set)
        return done.wait(timeout)

    def stop(self) -> None:
        """Runs what is queued, then ends the thread (joined unless called on it)."""
        self._queue.put(None)
        if threading.current_thread() is not self.thread:
            self.thread.join()


class TaskQueue:
    """The replica's pbx_tasks between the executor callback (a replica
    thread hands a task over) and the Python thread that runs it.

    pbx_task_run must be called exactly once per task, one at a time, in
    order (postbox.h). Tasks wait here, in order, until the executor runs
    them; close() runs whatever an executor did not (a stopped event loop)
    so none is leaked. `run_lock` makes runs one at a time, also between an
    executor's thread and close()."""

    def __init__(self, submit: Executor) -> None:
        self._submit = submit
        self._lock = threading.Lock()  # guards _pending and _next
        self.run_lock = threading.Lock()
        self._pending: Dict[int, Any] = {}  # hand-over number -> pbx_task*, in order
        self._next = 0
        self._local = threading.local()

    def hand_over(self, task: Any) -> None:
        """On a replica thread: queue `task` and return."""
        with self._lock:
            seq = self._next
            self._next += 1
            self._pending[seq] = task
        try:
            self._submit(lambda: self.run(seq))
        except BaseException as e:  # noqa: BLE001 -- the task stays pending; close() runs it
            report_callback_error(e, "executor", self._submit)

    def run(self, seq: int) -> None:
        """Runs task `seq` and every task handed over before it that has not
        run yet (an executor that dropped one must not reorder them)."""
        with self.run_lock:
            while True:
                with self._lock:
                    if not self._pending:
                        return
                    first = next(iter(self._pending))
                    if first > seq:
                        return
                    task = self._pending.pop(first)
                self._local.active = True
                try:
                    lib.pbx_task_run(task)
                finally:
                    self._local.active = False

    def in_task(self) -> bool:
        """True on a thread that is running one of this replica's callbacks."""
        return getattr(self._local, "active", False)

    def drain(self) -> None:
        """Runs every task not yet run (after the replica closed)."""
        self.run(sys.maxsize)
