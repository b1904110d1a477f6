"""postbox-server as a child process of a Python test: started on 127.0.0.1,
its ports read from the lines it prints once listening (docs/server.md), and
stopped by its pid. Shared by the Python binding's tests and the web
console's browser test (tests/browser); each puts this folder on PYTHONPATH."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import List, Optional

START_TIMEOUT = 30.0  # seconds; generous for the sanitizer builds
STOP_TIMEOUT = 15.0
SYNC_LINE = b"postbox-server listening on 127.0.0.1:"
HTTP_LINE = b"postbox-server http listening on 127.0.0.1:"


def start(binary: str, args: List[str], log: Path) -> "subprocess.Popen[bytes]":
    """Runs `binary` with `args`, stdout piped (for read_port), stderr to `log`."""
    if not binary or not os.access(binary, os.X_OK):
        raise RuntimeError("POSTBOX_SERVER_BIN must name the built postbox-server (got %r)"
                           % binary)
    with open(log, "ab") as err:
        return subprocess.Popen([binary, *args], stdout=subprocess.PIPE, stderr=err)


def read_port(proc: "subprocess.Popen[bytes]", prefix: bytes, log: Optional[Path] = None,
              timeout: float = START_TIMEOUT) -> int:
    """The port of the next line the server prints, which must start with
    `prefix` (SYNC_LINE, then HTTP_LINE when it has an HTTP listener).
    RuntimeError (with the log, if given) if it exits, prints something else,
    or says nothing within `timeout`; the caller stops it then."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise RuntimeError("postbox-server did not listen within %.0f s" % timeout)
        byte = os.read(proc.stdout.fileno(), 1)
        if not byte:
            text = log.read_text(errors="replace") if log is not None else ""
            raise RuntimeError("postbox-server exited (%s) before listening: %s"
                               % (proc.wait(), text))
        line += byte
    if not line.startswith(prefix):
        raise RuntimeError("expected %r from postbox-server, got %r" % (prefix, line))
    return int(line[len(prefix):].split()[0])


def stop(proc: Optional["subprocess.Popen[bytes]"], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM by pid, SIGKILL if it does not exit within `timeout`."""
    if proc is None:
        return
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
