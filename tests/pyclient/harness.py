"""A real postbox-server for the Python client's scenarios: on 127.0.0.1 with
an ephemeral port and a store in a fresh temporary folder, mailboxes made
with postbox-admin (docs/admin.md: provisioning is outside the protocol),
stopped by its pid at the end, also when a scenario fails.

The build passes the binaries' paths in POSTBOX_SERVER_BIN and
POSTBOX_ADMIN_BIN (tests/pyclient/CMakeLists.txt).
"""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import server_process  # bindings/testing: start, read the port, stop by pid


def _binary(var):
    path = os.environ.get(var)
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("%s must name the built binary (got %r)" % (var, path))
    return path


class Server:
    """Use as a context manager, or call stop() (idempotent)."""

    def __init__(self, extra_args=()):
        self.server_bin = _binary("POSTBOX_SERVER_BIN")
        self.admin_bin = _binary("POSTBOX_ADMIN_BIN")
        self.tmp = tempfile.mkdtemp(prefix="postbox-pyclient.")
        self.data = os.path.join(self.tmp, "data")
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.admin("init")

    def admin(self, *args):
        """Runs postbox-admin on this store and returns its JSON document."""
        out = subprocess.run([self.admin_bin, "--data", self.data, "--json", *args],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("postbox-admin %s: exit %d: %s %s"
                               % (" ".join(args), out.returncode, out.stdout, out.stderr))
        return json.loads(out.stdout)

    def mailbox(self):
        """A new mailbox: (mkey as 16 bytes, secret as printed)."""
        doc = self.admin("mailbox", "create")
        return bytes.fromhex(doc["mkey"]), doc["secret"]

    def start(self):
        log = Path(self.tmp) / "server.log"
        self.proc = server_process.start(
            self.server_bin, ["--listen", "127.0.0.1:0", "--data", self.data, "--threads", "1",
                              "--log-level", "warn", *self.extra_args], log)
        try:
            self.port = server_process.read_port(self.proc, server_process.SYNC_LINE, log)
        except RuntimeError:
            self.stop()
            raise
        return self

    def log(self):
        try:
            with open(os.path.join(self.tmp, "server.log"), "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """SIGTERM by pid, SIGKILL if it does not exit in time; then the
        temporary folder goes."""
        server_process.stop(self.proc)
        self.proc = None
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
