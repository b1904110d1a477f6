"""Every error class, and the code paths postbox.h documents for them, raise
the right exception with the right code, message and retryable flag."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import List

import pytest

import postbox
from postbox import Code, Id, Status
from conftest import RealServer, wait_for

CLASSES = {
    Code.INVALID_ARGUMENT: postbox.InvalidArgument, Code.UNAUTHENTICATED: postbox.Unauthenticated,
    Code.PERMISSION_DENIED: postbox.PermissionDenied, Code.NOT_FOUND: postbox.NotFound,
    Code.CONFLICT: postbox.Conflict, Code.GONE: postbox.Gone, Code.TOO_LARGE: postbox.TooLarge,
    Code.DIGEST_MISMATCH: postbox.DigestMismatch,
    Code.PROTOCOL_UNSUPPORTED: postbox.ProtocolUnsupported, Code.BACK_OFF: postbox.BackOff,
    Code.INTERNAL: postbox.Internal, Code.UNAVAILABLE: postbox.Unavailable,
    Code.RESOURCE_EXHAUSTED: postbox.ResourceExhausted,
}


def test_one_class_per_code() -> None:
    assert set(CLASSES) == set(Code) - {Code.OK}
    for code, cls in CLASSES.items():
        assert postbox.error_class(code) is cls and cls.code == code
        e = postbox.errors.make_error(code, "m")
        assert type(e) is cls and isinstance(e, postbox.PostboxError)
        assert e.http_status == -int(code) and e.message == "m"
        assert e.retryable == (code in (Code.UNAVAILABLE, Code.BACK_OFF))
        # The C library names each code as the class does.
        assert postbox.strerror(code) == cls.__name__
    assert postbox.error_class(-999) is postbox.PostboxError
    assert issubclass(postbox.NotFound, LookupError)
    assert issubclass(postbox.InvalidArgument, ValueError)


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with postbox.Store(tmp_path / "s") as s:
        yield s


def pair(store: postbox.Store):  # type: ignore[no-untyped-def]
    a, b = store.create_mailbox().mkey, store.create_mailbox().mkey
    store.connect(a, b)
    return a, b


def test_not_found(store: postbox.Store) -> None:
    a, b = pair(store)
    with pytest.raises(postbox.NotFound) as e:
        store.get_entry(a, "missing")
    assert e.value.code == Code.NOT_FOUND and "missing" in e.value.message
    assert not e.value.retryable
    with pytest.raises(postbox.NotFound):
        store.get_message(a, Id.random())
    with pytest.raises(postbox.NotFound):
        store.connect(a, Id.random())
    with pytest.raises(postbox.NotFound):
        store.list_connections(Id.random())


def test_gone_after_a_superseding_post(store: postbox.Store) -> None:
    a, b = pair(store)
    first = store.post_message(a, b, b"v1", topic="video")
    second = store.post_message(a, b, b"v2", topic="video")  # same slot: supersedes
    assert store.get_message(b, second.id).id == second.id
    with pytest.raises(postbox.Gone):
        store.get_message(b, first.id)
    with pytest.raises(postbox.Gone):
        store.read_blob(b, first.id)
    with pytest.raises(postbox.Gone):
        store.advance_status(b, first.id, Status.VIEWED)
    with pytest.raises(postbox.Gone):
        store.post_message(a, b, b"v1", topic="video", id=first.id)


def test_permission_denied(store: postbox.Store) -> None:
    a, b = pair(store)
    c = store.create_mailbox().mkey
    m = store.post_message(a, b, b"x")
    with pytest.raises(postbox.PermissionDenied):
        store.get_message(c, m.id)  # not a party
    with pytest.raises(postbox.PermissionDenied):
        store.advance_status(a, m.id, Status.VIEWED)  # the sender, not the recipient
    with pytest.raises(postbox.PermissionDenied):
        store.post_message(a, c, b"x")  # not connected


def test_conflict(store: postbox.Store) -> None:
    a, b = pair(store)
    m = store.post_message(a, b, b"x", topic="t")
    with pytest.raises(postbox.Conflict):
        store.post_message(a, b, b"other bytes", topic="t", id=m.id)


def test_invalid_argument(store: postbox.Store, tmp_path: Path) -> None:
    a, b = pair(store)
    m = store.post_message(a, b, b"four")
    with pytest.raises(postbox.InvalidArgument):
        store.connect(a, a)
    with pytest.raises(postbox.InvalidArgument):
        store.read_blob(b, m.id, offset=5)  # past the end
    with pytest.raises(postbox.InvalidArgument):
        store.advance_status(b, m.id, 9)  # type: ignore[arg-type]
    with pytest.raises(postbox.InvalidArgument):
        postbox.Server(store, host="not-an-address")
    with pytest.raises(postbox.InvalidArgument):
        postbox.Store(tmp_path / "bad", max_map_size=1000)  # under 1 MiB
    with pytest.raises(postbox.InvalidArgument):
        Id.from_hex("0" * 31)
    with pytest.raises(TypeError):
        store.put_entry(a, "k", "a str, not bytes")  # type: ignore[arg-type]
    with pytest.raises(postbox.InvalidArgument, match="NUL"):
        store.put_entry(a, "k\0cut", b"")  # C would see "k"
    with pytest.raises(postbox.NotFound):
        store.get_entry(a, "k")


def test_too_large(store: postbox.Store) -> None:
    a, b = pair(store)
    with pytest.raises(postbox.TooLarge) as e:
        store.put_entry(a, "k" * 257, b"")
    assert "256" in e.value.message
    with pytest.raises(postbox.TooLarge):
        store.put_entry(a, "k", bytes(64 * 1024 + 1))
    with pytest.raises(postbox.TooLarge):
        store.post_message(a, b, b"x", topic="t" * 65)
    with pytest.raises(postbox.TooLarge):
        store.post_message(a, b, b"x", meta=bytes(1025))


def test_resource_exhausted_when_the_map_is_full(tmp_path: Path) -> None:
    with postbox.Store(tmp_path / "small", max_map_size=1 << 20) as s:
        a, b = pair(s)
        with pytest.raises(postbox.ResourceExhausted) as e:
            for i in range(16):
                s.post_message(a, b, bytes(256 << 10), topic="t%d" % i)
        assert "storage full" in e.value.message and not e.value.retryable


def test_unauthenticated_client_with_a_wrong_secret(running: RealServer) -> None:
    alice = running.mailboxes[0]
    wrong = alice.secret[:-2] + ("AA" if not alice.secret.endswith("AA") else "BB")
    with postbox.Client(alice.mkey, wrong, port=running.port) as c:
        with pytest.raises(postbox.Unauthenticated) as e:
            c.connect()
        assert not e.value.retryable


def test_unauthenticated_replica_reports_on_error(running: RealServer, tmp_path: Path) -> None:
    alice = running.mailboxes[0]
    errors: List[postbox.PostboxError] = []
    lock = threading.Lock()

    def on_error(e: postbox.PostboxError) -> None:
        with lock:
            errors.append(e)

    with postbox.Replica(tmp_path / "r", mkey=alice.mkey, secret="x" * 43, port=running.port,
                         on_error=on_error) as r:
        wait_for(lambda: errors)
        assert isinstance(errors[0], postbox.Unauthenticated)
        assert r.state().last_error_code == Code.UNAUTHENTICATED
        with pytest.raises(postbox.Unavailable):
            r.sync(0.2)


def test_server_errors_through_the_client(running: RealServer) -> None:
    alice, bob, dave = running.mailboxes[0], running.mailboxes[1], running.mailboxes[3]
    with running.client(alice) as a, running.client(bob) as b:
        a.connect()
        b.connect()
        with pytest.raises(postbox.NotFound):
            a.get_entry("missing")
        with pytest.raises(postbox.PermissionDenied):
            a.upload(dave.mkey, b"not connected")
        first = a.upload(bob.mkey, b"v1", topic="slot")
        a.upload(bob.mkey, b"v2", topic="slot")
        with pytest.raises(postbox.Gone):
            b.download(first)
        second = a.upload(bob.mkey, b"x", topic="other")
        with pytest.raises(postbox.Conflict):
            a.upload(bob.mkey, b"y", topic="other", id=second)
        with pytest.raises(postbox.PermissionDenied):
            a.update_status(second, Status.VIEWED)  # the sender
        with pytest.raises(postbox.TooLarge):
            a.put_entry("k", bytes(70000))


def test_back_off_past_the_pending_connection_cap(postbox_server: RealServer) -> None:
    (alice,) = postbox_server.create_mailboxes(1)
    postbox_server.start()
    with postbox_server.client(alice) as c:
        c.connect()
        with pytest.raises(postbox.BackOff) as e:
            for _ in range(1001):  # max_pending_connections is 1000
                c.add_connection(Id.random())
        assert e.value.retryable and "max_pending_connections" in e.value.message


def test_replica_checks_made_without_a_server(running: RealServer, tmp_path: Path) -> None:
    alice, bob = running.mailboxes[:2]
    with running.replica(alice, tmp_path / "a", start=False) as a:
        mid = a.post(bob.mkey, b"x")
        with pytest.raises(postbox.InvalidArgument):
            a.post(alice.mkey, b"to myself")
        with pytest.raises(postbox.InvalidArgument):
            a.add_connection(alice.mkey)
        with pytest.raises(postbox.PermissionDenied):
            a.update_status(mid, Status.VIEWED)  # sent, not received
        with pytest.raises(postbox.NotFound):
            a.update_status(Id.random(), Status.VIEWED)
        with pytest.raises(postbox.NotFound):
            a.get_message(Id.random())
        with pytest.raises(postbox.NotFound):
            a.read_blob(mid)  # never requested
        with pytest.raises(postbox.TooLarge):
            a.put_entry("k", bytes(65 * 1024))
        with pytest.raises(postbox.TooLarge):
            a.register_push(postbox.Platform.WEB, "t" * 5000)
        with pytest.raises(postbox.Unavailable):
            a.sync(0.1)  # no network at all
