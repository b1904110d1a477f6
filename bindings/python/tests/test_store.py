"""The Store (pbx_db) and the embedded Server (pbx_server)."""

from __future__ import annotations

from pathlib import Path

import pytest

import postbox
from postbox import ConnectionKind, ConnectionState, Id, Status, TombstoneKind


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with postbox.Store(tmp_path / "store") as s:
        yield s


def test_version_and_codes() -> None:
    assert postbox.version() == "0.3.0"
    assert postbox.version_number() == 300
    assert postbox.strerror(postbox.Code.NOT_FOUND) == "NotFound"
    assert postbox.strerror(-1) == "Unknown"
    assert postbox.code_retryable(postbox.Code.UNAVAILABLE)
    assert postbox.code_retryable(postbox.Code.BACK_OFF)
    assert not postbox.code_retryable(postbox.Code.NOT_FOUND)


def test_id_round_trips_through_hex() -> None:
    a = Id.random()
    assert len(a) == 16 and isinstance(a, bytes)
    assert Id.from_hex(str(a)) == a
    assert Id.from_hex(str(a).upper()) == a
    assert str(Id(bytes(range(16)))) == "000102030405060708090a0b0c0d0e0f"
    assert Id.random() != a
    with pytest.raises(postbox.InvalidArgument):
        Id.from_hex("xyz")
    with pytest.raises(postbox.InvalidArgument):
        Id(b"short")


def test_mailboxes_authenticate(store: postbox.Store) -> None:
    a = store.create_mailbox()
    assert len(a.secret) == 43
    store.authenticate(a.mkey, a.secret)
    with pytest.raises(postbox.Unauthenticated) as e:
        store.authenticate(a.mkey, a.secret[:-1] + ("A" if a.secret[-1] != "A" else "B"))
    assert e.value.code == postbox.Code.UNAUTHENTICATED and not e.value.retryable


def test_entries_put_get_merge_delete(store: postbox.Store) -> None:
    m = store.create_mailbox().mkey
    assert store.put_entry(m, "k", b"one") == postbox.PutResult(True, 1)
    assert store.put_entry(m, "k", b"two") == postbox.PutResult(True, 2)
    # An older version loses the merge and changes nothing.
    assert store.put_entry(m, "k", b"old", version=1) == postbox.PutResult(False, 2)
    e = store.get_entry(m, "k")
    assert (e.key, e.value, e.version) == ("k", b"two", 2)
    # Binary values with NULs survive.
    store.put_entry(m, "bin", b"\x00\x01\x00")
    assert store.get_entry(m, "bin").value == b"\x00\x01\x00"
    assert store.delete_entry(m, "k").applied
    with pytest.raises(postbox.NotFound):
        store.get_entry(m, "k")


def test_entries_iterate_by_pages(store: postbox.Store) -> None:
    m = store.create_mailbox().mkey
    for i in range(7):
        store.put_entry(m, "p/%02d" % i, b"%d" % i)
    store.put_entry(m, "q", b"other")
    page, more = store.list_entries(m, "p/", limit=3)
    assert [e.key for e in page] == ["p/00", "p/01", "p/02"] and more
    got = list(store.entries(m, "p/", page_size=3))
    assert [e.key for e in got] == ["p/%02d" % i for i in range(7)]
    assert [e.value for e in got] == [b"%d" % i for i in range(7)]
    assert [e.key for e in store.entries(m)] == ["p/%02d" % i for i in range(7)] + ["q"]
    # limit 0: everything in one page.
    page, more = store.list_entries(m, limit=0)
    assert [e.key for e in page] == ["p/%02d" % i for i in range(7)] + ["q"] and not more


def test_messages_post_read_status(store: postbox.Store) -> None:
    a, b = store.create_mailbox().mkey, store.create_mailbox().mkey
    store.connect(a, b)
    mid = Id.random()
    m = store.post_message(a, b, b"hello, bob", topic="note", meta=b"\x00meta", id=mid)
    assert (m.id, m.from_, m.to, m.topic, m.meta, m.length) == (mid, a, b, "note", b"\x00meta", 10)
    assert m.status == Status.UPLOADED and len(m.digest) == 16
    assert store.get_message(b, mid).digest == m.digest
    assert store.read_blob(b, mid) == b"hello, bob"
    assert store.read_blob(a, mid, offset=7) == b"bob"
    assert store.read_blob(b, mid, offset=0, length=5) == b"hello"
    assert store.read_blob(b, mid, offset=10) == b""
    assert store.advance_status(b, mid, Status.VIEWED) == Status.VIEWED
    # A max-register: a lower status does not lower it.
    assert store.advance_status(b, mid, Status.DOWNLOADED) == Status.VIEWED
    assert store.get_message(a, mid).status == Status.VIEWED
    # Reposting the same id with the same content is idempotent.
    assert store.post_message(a, b, b"hello, bob", topic="note", meta=b"\x00meta",
                              id=mid).id == mid


def test_connections_connect_list_disconnect(store: postbox.Store) -> None:
    a = store.create_mailbox().mkey
    peers = sorted(store.create_mailbox().mkey for _ in range(5))
    for p in peers:
        store.connect(a, p)
    page, more = store.list_connections(a, ConnectionKind.CONNECTED, limit=2)
    assert [c.peer for c in page] == peers[:2] and more
    listed = list(store.connections(a, page_size=2))
    assert [c.peer for c in listed] == peers
    assert all(c.state == ConnectionState.CONNECTED for c in listed)
    assert [c.peer for c in store.connections(peers[0])] == [a]
    store.disconnect(a, peers[0])
    assert [c.peer for c in store.connections(a)] == peers[1:]
    assert list(store.connections(a, ConnectionKind.INCOMING)) == []


def test_changes_feed_and_tombstones(store: postbox.Store) -> None:
    a, b = store.create_mailbox().mkey, store.create_mailbox().mkey
    store.connect(a, b)
    store.put_entry(b, "e1", b"v1")
    m = store.post_message(a, b, b"x", topic="t")
    info = store.changes(b)
    assert [x.id for x in info.incoming] == [m.id]
    assert [e.key for e in info.entries] == ["e1"]
    assert info.cursor > 0 and not info.more
    store.delete_entry(b, "e1")
    later = store.changes(b, since=info.cursor)
    assert later.since == info.cursor
    assert [(t.kind, t.key) for t in later.tombstones] == [(TombstoneKind.ENTRY, "e1")]
    assert later.entries == () and later.incoming == ()
    # A limit cuts a page short.
    for i in range(5):
        store.put_entry(b, "n%d" % i, b"")
    first = store.changes(b, since=later.cursor, limit=2)
    assert len(first.entries) == 2 and first.more


def test_delete_mailbox(store: postbox.Store) -> None:
    a, b = store.create_mailbox().mkey, store.create_mailbox().mkey
    store.connect(a, b)
    m = store.post_message(a, b, b"x")
    store.delete_mailbox(b)
    with pytest.raises(postbox.NotFound):
        store.delete_mailbox(b)
    with pytest.raises(postbox.NotFound):
        store.changes(b)
    # The sender learns it as a tombstone of the message.
    assert m.id in [t.id for t in store.changes(a).tombstones
                    if t.kind == TombstoneKind.MESSAGE]


def test_store_persists_and_reopens_read_only(tmp_path: Path) -> None:
    with postbox.Store(tmp_path / "s", durability=postbox.Durability.RELAXED) as s:
        m = s.create_mailbox().mkey
        s.put_entry(m, "k", b"kept")
    with postbox.Store(tmp_path / "s", read_only=True) as s:
        assert s.get_entry(m, "k").value == b"kept"


def test_close_is_idempotent_and_closed_store_refuses(tmp_path: Path) -> None:
    s = postbox.Store(tmp_path / "s")
    s.close()
    s.close()
    assert s.closed
    with pytest.raises(postbox.InvalidArgument, match="closed"):
        s.create_mailbox()


def test_embedded_server_serves_a_client_and_holds_the_store(store: postbox.Store) -> None:
    a = store.create_mailbox()
    with postbox.Server(store, port=0) as server:
        assert server.port > 0
        # The store refuses to close while the server runs.
        with pytest.raises(postbox.Conflict):
            store.close()
        with postbox.Client(a.mkey, a.secret, port=server.port) as c:
            assert c.connect() == postbox.Verdict.CURRENT
            c.put_entry("through", b"server")
        assert store.get_entry(a.mkey, "through").value == b"server"
    server.stop()  # idempotent
    assert server.closed


def test_posting_policy_open(tmp_path: Path) -> None:
    with postbox.Store(tmp_path / "s", posting_policy=postbox.PostingPolicy.OPEN) as s:
        a, b = s.create_mailbox().mkey, s.create_mailbox().mkey
        assert s.post_message(a, b, b"unconnected").to == b
    with postbox.Store(tmp_path / "t") as s:
        a, b = s.create_mailbox().mkey, s.create_mailbox().mkey
        with pytest.raises(postbox.PermissionDenied):
            s.post_message(a, b, b"unconnected")
