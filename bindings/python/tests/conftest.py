"""Fixtures of the postbox package's tests.

`no_leaks` (every test): the library's live handle count is 0 before and
after the test — every handle closed, every returned object freed.

`postbox_server`: a real postbox-server process (POSTBOX_SERVER_BIN, passed by
CMake) on 127.0.0.1 with an ephemeral port, over a store whose mailboxes the
test asked for, made with postbox.Store before the server starts (the server
holds the store while it runs). It is stopped by its pid when the test ends,
also when it fails (bindings/testing/server_process.py).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

import postbox
import server_process  # bindings/testing


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    assert postbox.live_handles() == 0, "a previous test leaked"
    yield
    assert postbox.live_handles() == 0, "this test leaked %d handles" % postbox.live_handles()


class RealServer:
    """A postbox-server process over `data`. start() and stop() may repeat
    (the store stays); the port is a new ephemeral one each start."""

    def __init__(self, data: Path, log: Path) -> None:
        self.binary = os.environ.get("POSTBOX_SERVER_BIN", "")
        self.data = data
        self.log = log
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.port = 0
        self.mailboxes: List[postbox.Credentials] = []

    def create_mailboxes(self, count: int, connect: bool = True) -> List[postbox.Credentials]:
        """New mailboxes (all pairs connected if `connect`); the server must be stopped."""
        assert self.proc is None, "create mailboxes before start()"
        with postbox.Store(self.data) as store:
            made = [store.create_mailbox() for _ in range(count)]
            if connect:
                for i, a in enumerate(made):
                    for b in made[i + 1:]:
                        store.connect(a.mkey, b.mkey)
        self.mailboxes.extend(made)
        return made

    def start(self) -> "RealServer":
        self.proc = server_process.start(
            self.binary, ["--listen", "127.0.0.1:0", "--data", str(self.data),
                          "--threads", "1", "--log-level", "warn"], self.log)
        try:
            self.port = server_process.read_port(self.proc, server_process.SYNC_LINE, self.log)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM by pid, SIGKILL if it does not exit in time."""
        proc, self.proc = self.proc, None
        server_process.stop(proc)

    def replica(self, creds: postbox.Credentials, folder: Path, **kw: object) -> postbox.Replica:
        """A replica of `creds` syncing with this server, with fast retries."""
        kw.setdefault("retry_initial", 0.02)
        kw.setdefault("retry_max", 0.5)
        return postbox.Replica(folder, mkey=creds.mkey, secret=creds.secret, port=self.port,
                               **kw)  # type: ignore[arg-type]

    def client(self, creds: postbox.Credentials, **kw: object) -> postbox.Client:
        return postbox.Client(creds.mkey, creds.secret, port=self.port,
                              **kw)  # type: ignore[arg-type]


@pytest.fixture
def postbox_server(tmp_path: Path) -> Iterator[RealServer]:
    """A RealServer not yet started: create mailboxes, then start()."""
    server = RealServer(tmp_path / "server", tmp_path / "server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def running(postbox_server: RealServer) -> RealServer:
    """A started RealServer with three connected mailboxes (alice, bob,
    carol) and a fourth (dave) connected to nobody."""
    postbox_server.create_mailboxes(3, connect=True)
    postbox_server.create_mailboxes(1, connect=False)
    return postbox_server.start()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.01):  # type: ignore[no-untyped-def]
    """Polls `predicate` until it returns a true value (returned) or fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %r" % (timeout, predicate))
        time.sleep(interval)
