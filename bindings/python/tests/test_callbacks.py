"""Callbacks run on the documented Python thread, may call back into the
replica, survive exceptions, integrate with asyncio, and every task the
replica hands over is run (the no_leaks fixture checks pbx_live_handles)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, List

import pytest

import postbox
from postbox import OutboxKind
from conftest import RealServer, wait_for


def capture_unraisable(monkeypatch: pytest.MonkeyPatch) -> List[Any]:
    """What reaches sys.unraisablehook from now on in the test. (Called in
    the test's body: pytest installs its own hook around the call.)"""
    seen: List[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def test_replica_callbacks_run_on_its_dispatcher_thread(running: RealServer,
                                                         tmp_path: Path) -> None:
    alice = running.mailboxes[0]
    threads: List[threading.Thread] = []
    outcomes: List[postbox.OutboxOutcome] = []

    def on_change(c: postbox.Change) -> None:
        threads.append(threading.current_thread())

    def on_outbox(o: postbox.OutboxOutcome) -> None:
        threads.append(threading.current_thread())
        outcomes.append(o)

    with running.replica(alice, tmp_path / "a", on_change=on_change, on_outbox=on_outbox) as r:
        items = [r.put_entry("k%d" % i, b"v") for i in range(5)]
        r.sync()
        # sync() returned after the callbacks queued by then ran.
        assert sorted(o.item for o in outcomes) == items
        assert threads and all(t is r.callback_thread for t in threads)
        assert r.callback_thread is not threading.main_thread()
        assert r.callback_thread.name == "postbox-replica-callbacks"
    assert not r.callback_thread.is_alive()  # joined by close()


def test_callbacks_may_call_the_replica_while_another_thread_writes(running: RealServer,
                                                                    tmp_path: Path) -> None:
    alice = running.mailboxes[0]
    seen: List[bytes] = []
    done = threading.Event()
    box: List[postbox.Replica] = []

    def on_change(c: postbox.Change) -> None:
        # Reads and writes from inside a callback: no deadlock with the
        # replica's own threads or with the main thread's writes.
        for key in c.entries:
            try:
                seen.append(box[0].get_entry(key).value)
            except postbox.NotFound:
                pass
        box[0].pending_count()
        box[0].sync(5)  # allowed off the replica's own thread; must not wait for itself
        if "last" in c.entries:
            done.set()

    with running.replica(alice, tmp_path / "a", on_change=on_change) as r:
        box.append(r)
        for i in range(50):
            r.put_entry("k%d" % i, b"%d" % i)
        r.put_entry("last", b"end")
        assert done.wait(20)
        assert b"end" in seen and len(seen) >= 10


def test_close_from_a_callback_is_refused(running: RealServer, tmp_path: Path) -> None:
    alice = running.mailboxes[0]
    refused: List[BaseException] = []
    box: List[postbox.Replica] = []

    def on_outbox(o: postbox.OutboxOutcome) -> None:
        try:
            box[0].close()
        except postbox.InvalidArgument as e:
            refused.append(e)

    with running.replica(alice, tmp_path / "a", on_outbox=on_outbox) as r:
        box.append(r)
        r.put_entry("k", b"v")
        r.sync()
        assert refused and "callback" in str(refused[0])
        assert not r.closed


def test_exceptions_in_callbacks_are_reported_not_fatal(running: RealServer, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    unraisable = capture_unraisable(monkeypatch)
    alice = running.mailboxes[0]
    calls: List[int] = []

    def on_outbox(o: postbox.OutboxOutcome) -> None:
        calls.append(o.item)
        raise RuntimeError("boom %d" % o.item)

    with running.replica(alice, tmp_path / "a", on_outbox=on_outbox) as r:
        first = r.put_entry("a", b"1")
        second = r.put_entry("b", b"2")
        r.sync()
        assert calls == [first, second]  # the second still came after the first raised
        assert [str(u.exc_value) for u in unraisable] == ["boom %d" % first, "boom %d" % second]
        assert all(isinstance(u.exc_value, RuntimeError) for u in unraisable)
        assert "postbox callback" in unraisable[0].err_msg
        assert r.get_entry("b").value == b"2"  # still usable


def test_client_on_push_exception_is_reported_and_pushes_continue(
        running: RealServer, monkeypatch: pytest.MonkeyPatch) -> None:
    unraisable = capture_unraisable(monkeypatch)
    alice, bob = running.mailboxes[:2]
    got: List[postbox.Id] = []

    def on_push(info: postbox.Info) -> None:
        got.extend(m.id for m in info.incoming)
        if info.incoming:
            raise ValueError("bad push handler")

    with running.client(bob, on_push=on_push) as b, running.client(alice) as a:
        b.connect()
        a.connect()
        m1 = a.upload(bob.mkey, b"1", topic="one")
        wait_for(lambda: m1 in got)
        m2 = a.upload(bob.mkey, b"2", topic="two")
        wait_for(lambda: m2 in got)
        wait_for(lambda: len(unraisable) >= 2)
        assert all(isinstance(u.exc_value, ValueError) for u in unraisable)


def test_asyncio_executor_runs_callbacks_on_the_loop(running: RealServer,
                                                     tmp_path: Path) -> None:
    alice, bob = running.mailboxes[:2]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop_thread = threading.current_thread()
        outcome: "asyncio.Future[postbox.OutboxOutcome]" = loop.create_future()
        pushed: "asyncio.Queue[postbox.Info]" = asyncio.Queue()
        threads: List[threading.Thread] = []

        def on_outbox(o: postbox.OutboxOutcome) -> None:
            threads.append(threading.current_thread())
            if not outcome.done():
                outcome.set_result(o)

        def on_push(info: postbox.Info) -> None:
            threads.append(threading.current_thread())
            pushed.put_nowait(info)  # safe: we are on the loop's thread

        r = running.replica(alice, tmp_path / "a", on_outbox=on_outbox,
                            executor=loop.call_soon_threadsafe)
        c = running.client(bob, on_push=on_push, executor=loop.call_soon_threadsafe)
        try:
            assert r.callback_thread is None and c.push_thread is None
            await loop.run_in_executor(None, c.connect)
            mid = r.post(bob.mkey, b"via asyncio", topic="t")
            o = await asyncio.wait_for(outcome, 20)
            assert o.kind == OutboxKind.POST and o.message == mid and o.ok
            while True:
                info = await asyncio.wait_for(pushed.get(), 20)
                if any(m.id == mid for m in info.incoming):
                    break
            assert threads and all(t is loop_thread for t in threads)
        finally:
            r.close()
            c.close()

    asyncio.run(main())


def test_tasks_an_executor_never_ran_are_run_at_close(running: RealServer,
                                                      tmp_path: Path) -> None:
    # An executor that only collects (an event loop that stopped): close()
    # must still run every task (pbx_task_run releases it), without calling
    # the application's callbacks on a closed replica.
    alice = running.mailboxes[0]
    held: List[Callable[[], None]] = []
    calls: List[postbox.OutboxOutcome] = []
    r = running.replica(alice, tmp_path / "a", on_outbox=calls.append, executor=held.append)
    try:
        r.put_entry("k", b"v")
        r.sync()
        wait_for(lambda: held)
        assert calls == []  # nothing ran them yet
        # A task the executor does run calls back, on the calling thread.
        held[0]()
        assert len(calls) == 1
    finally:
        r.close()
    handed = len(held)
    for late in held:  # a loop running them after close: no-ops
        late()
    assert len(calls) == 1 and handed >= 1


def test_a_failing_executor_does_not_lose_tasks(running: RealServer, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    unraisable = capture_unraisable(monkeypatch)
    alice = running.mailboxes[0]

    def broken(fn: Callable[[], None]) -> None:
        raise RuntimeError("executor is shut down")

    with running.replica(alice, tmp_path / "a", on_outbox=lambda o: None,
                         executor=broken) as r:
        r.put_entry("k", b"v")
        r.sync()
        wait_for(lambda: unraisable)
    # The no_leaks fixture checks every task was run and released by close().
    assert all("executor is shut down" in str(u.exc_value) for u in unraisable)


def test_slow_callbacks_do_not_block_the_replica(running: RealServer, tmp_path: Path) -> None:
    alice = running.mailboxes[0]
    release = threading.Event()

    def on_outbox(o: postbox.OutboxOutcome) -> None:
        release.wait(10)

    with running.replica(alice, tmp_path / "a", on_outbox=on_outbox) as r:
        start = time.monotonic()
        for i in range(5):
            r.put_entry("k%d" % i, b"v")
        # While the dispatcher is stuck in a callback, the replica still syncs.
        wait_for(lambda: r.pending_count() == 0, timeout=10)
        assert time.monotonic() - start < 10
        release.set()


def test_handles_left_open_are_closed_at_exit(running: RealServer, tmp_path: Path) -> None:
    # A program that forgets close() and drops its replica: the replica must
    # not be collected under its native threads, and the exit must be clean
    # (the atexit hook closes it before the interpreter finalizes).
    alice = running.mailboxes[0]
    program = """
import gc, sys, postbox
seen = []
r = postbox.Replica(sys.argv[1], mkey=sys.argv[2], secret=sys.argv[3], port=int(sys.argv[4]),
                    on_change=seen.append, on_outbox=seen.append)
r.put_entry("k", b"v")
r.sync()
del r
gc.collect()
postbox.Replica  # still importable; the replica lives on in the registry
assert postbox.live_handles() >= 1
print("exiting with", len(seen) > 0)
"""
    out = subprocess.run([sys.executable, "-c", program, str(tmp_path / "a"), str(alice.mkey),
                          alice.secret, str(running.port)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "exiting with True"
