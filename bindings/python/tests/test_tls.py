"""TLS through the binding: the embedded Server with ServerTls, a Client and a
Replica with ClientTls syncing over it, and the failures an app must be able
to tell apart (wrong CA, wrong pin, wrong name, plain TCP to a TLS server, a
missing client certificate), each a clear error. The certificates are made
once per session by bindings/testing/make_tls_certs.sh (openssl CLI)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Iterator, Tuple

import pytest

import postbox
from postbox import ClientTls, ServerTls, Status, TlsVersion
from conftest import wait_for

HERE = Path(__file__).resolve().parent
MAKE_CERTS = HERE.parent.parent / "testing" / "make_tls_certs.sh"


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command line")
    out = tmp_path_factory.mktemp("certs")
    subprocess.run(["bash", str(MAKE_CERTS), str(out)], check=True)
    return out


class Fixture:
    """A store with alice and bob (connected) and a TLS server over it."""

    def __init__(self, tmp: Path, certs: Path, **server_tls: object) -> None:
        self.certs = certs
        self.store = postbox.Store(tmp / "store")
        self.alice = self.store.create_mailbox()
        self.bob = self.store.create_mailbox()
        self.store.connect(self.alice.mkey, self.bob.mkey)
        tls = ServerTls(certs / "server.pem", certs / "server.key", **server_tls)  # type: ignore[arg-type]
        self.server = postbox.Server(self.store, tls=tls)

    def tls(self, **kw: object) -> ClientTls:
        kw.setdefault("ca_file", self.certs / "ca.pem")
        return ClientTls(**kw)  # type: ignore[arg-type]

    def client(self, creds: postbox.Credentials, tls: object, **kw: object) -> postbox.Client:
        kw.setdefault("request_timeout", 5.0)
        return postbox.Client(creds.mkey, creds.secret, port=self.server.port, tls=tls,
                              **kw)  # type: ignore[arg-type]

    def close(self) -> None:
        self.server.close()
        self.store.close()


@pytest.fixture
def fx(tmp_path: Path, certs: Path) -> Iterator[Fixture]:
    f = Fixture(tmp_path, certs)
    try:
        yield f
    finally:
        f.close()


def openssl_pin(cert: Path) -> str:
    """The pin as the README computes it, with the openssl command line."""
    pub = subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         check=True, capture_output=True).stdout
    return "sha256/" + base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


def test_public_key_pin_is_the_sha256_of_the_spki(certs: Path) -> None:
    pin = postbox.tls_public_key_pin(certs / "server.pem")
    assert pin == openssl_pin(certs / "server.pem")
    assert pin.startswith("sha256/") and len(pin) == 7 + 44
    assert postbox.tls_public_key_pin(str(certs / "ca.pem")) != pin
    with pytest.raises(postbox.NotFound):
        postbox.tls_public_key_pin(certs / "no-such.pem")
    with pytest.raises(postbox.InvalidArgument):
        postbox.tls_public_key_pin(certs / "server.key")  # a key, no certificate


def test_client_syncs_over_tls(fx: Fixture) -> None:
    blob = bytes(range(256)) * 2048  # 512 KiB: many records
    with fx.client(fx.alice, fx.tls()) as a, fx.client(fx.bob, fx.tls()) as b:
        assert a.connect() == postbox.Verdict.CURRENT
        b.connect()
        a.ping()
        assert a.put_entry("k", b"over tls") == postbox.PutResult(True, 1)
        assert a.get_entry("k").value == b"over tls"
        mid = a.upload(fx.bob.mkey, blob, topic="video")
        assert b.download(mid) == blob
        assert b.update_status(mid, Status.VIEWED) == (Status.VIEWED, True)
        assert [m.status for m in a.poll().outgoing if m.id == mid] == [Status.VIEWED]


def test_pins_server_name_and_tls12(fx: Fixture) -> None:
    pin = postbox.tls_public_key_pin(fx.certs / "server.pem")
    ca_pin = postbox.tls_public_key_pin(fx.certs / "ca.pem")
    # A pin of the server's key, or of another certificate of the verified
    # chain (the CA's), both pass; so does the DNS name on the certificate.
    for tls in (fx.tls(pins=[pin]), fx.tls(pins=["sha256/" + "A" * 43 + "=", ca_pin]),
                fx.tls(server_name="localhost"), fx.tls(min_version=TlsVersion.TLS_1_2)):
        with fx.client(fx.alice, tls) as c:
            c.connect()
            c.ping()


def _refused(fx: Fixture, tls: object) -> postbox.Unavailable:
    with fx.client(fx.alice, tls, reconnect=False, request_timeout=3.0) as c:
        with pytest.raises(postbox.Unavailable) as e:
            c.connect()
    assert e.value.retryable
    return e.value


def test_wrong_ca_is_a_clear_error(fx: Fixture) -> None:
    e = _refused(fx, fx.tls(ca_file=fx.certs / "other-ca.pem"))
    assert "certificate" in str(e).lower(), str(e)


def test_wrong_pin_is_a_clear_error(fx: Fixture) -> None:
    wrong = postbox.tls_public_key_pin(fx.certs / "other-ca.pem")
    e = _refused(fx, fx.tls(pins=[wrong]))
    assert "pin" in str(e).lower(), str(e)


def test_wrong_host_name_is_a_clear_error(fx: Fixture) -> None:
    e = _refused(fx, fx.tls(server_name="example.com"))
    assert "certificate" in str(e).lower() or "host" in str(e).lower(), str(e)


def test_plain_client_gets_told_the_listener_speaks_tls(fx: Fixture) -> None:
    # The listener answers a plain Hello in plain: 426, which is final.
    with fx.client(fx.alice, None, reconnect=False, request_timeout=3.0) as c:
        with pytest.raises(postbox.ProtocolUnsupported, match="TLS") as e:
            c.connect()
    assert not e.value.retryable


def test_bad_options_are_invalid_argument(fx: Fixture, tmp_path: Path) -> None:
    with pytest.raises(postbox.InvalidArgument, match="key_file"):
        fx.client(fx.alice, fx.tls(cert_file=fx.certs / "client.pem"))
    with pytest.raises(postbox.InvalidArgument):
        fx.client(fx.alice, fx.tls(ca_file=tmp_path / "missing.pem")).close()
    with pytest.raises(TypeError):
        fx.client(fx.alice, fx.tls(pins="sha256/x"))
    with postbox.Store(tmp_path / "other") as store:
        with pytest.raises(postbox.InvalidArgument, match="missing.pem"):
            postbox.Server(store, tls=ServerTls(tmp_path / "missing.pem", fx.certs / "server.key"))
        with pytest.raises(postbox.InvalidArgument):  # a key that is not the certificate's
            postbox.Server(store, tls=ServerTls(fx.certs / "server.pem", fx.certs / "client.key"))


def test_reload_tls_keeps_sessions_and_refuses_bad_files(tmp_path: Path, certs: Path) -> None:
    # The server reads copies, so the test can spoil them.
    live = tmp_path / "live"
    live.mkdir()
    for name in ("server.pem", "server.key"):
        shutil.copy(certs / name, live / name)
    f = Fixture(tmp_path, live)
    try:
        tls = ClientTls(ca_file=certs / "ca.pem")
        with f.client(f.alice, tls) as before:
            before.connect()
            f.server.reload_tls()
            (live / "server.pem").write_text("not a certificate\n")
            with pytest.raises(postbox.InvalidArgument, match="server.pem"):
                f.server.reload_tls()
            before.ping()  # the open session goes on
            with f.client(f.bob, tls) as after:  # the old certificate still serves
                after.connect()
    finally:
        f.close()


def test_mutual_tls(tmp_path: Path, certs: Path) -> None:
    f = Fixture(tmp_path, certs, client_ca_file=certs / "ca.pem")
    try:
        _refused(f, f.tls())  # no client certificate
        with f.client(f.alice, f.tls(cert_file=certs / "client.pem",
                                     key_file=certs / "client.key")) as c:
            c.connect()
            c.put_entry("m", b"mtls")
    finally:
        f.close()


def test_replicas_sync_over_tls(fx: Fixture, tmp_path: Path) -> None:
    def replica(creds: postbox.Credentials, folder: str, tls: object) -> postbox.Replica:
        return postbox.Replica(tmp_path / folder, mkey=creds.mkey, secret=creds.secret,
                               port=fx.server.port, tls=tls, retry_initial=0.02,
                               retry_max=0.5)  # type: ignore[arg-type]

    with replica(fx.alice, "a", fx.tls()) as a, replica(fx.bob, "b", fx.tls()) as b:
        blob = b"tls replica " * 10000
        mid = a.post(fx.bob.mkey, blob, topic="t")
        a.put_entry("profile", b"alice")
        a.sync()
        b.sync()
        assert [m.id for m in b.inbox()] == [mid]
        b.request_blob(mid)
        assert wait_for(lambda: _read(b, mid), timeout=20) == blob
        assert b.state().connected and b.state().sessions >= 1

    # A replica that trusts another CA never gets a session; it stays usable
    # offline and its writes wait in the outbox.
    with replica(fx.alice, "c", fx.tls(ca_file=fx.certs / "other-ca.pem")) as c:
        c.put_entry("offline", b"queued")
        with pytest.raises(postbox.Unavailable):
            c.sync(timeout=1.0)
        state = c.state()
        assert not state.connected and state.sessions == 0 and state.pending == 1


def _read(r: postbox.Replica, mid: postbox.Id) -> bytes:
    try:
        return r.read_blob(mid)
    except postbox.Unavailable:
        return b""
