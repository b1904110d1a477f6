"""The Replica (pbx_replica) against a real postbox-server process: two
apps exchanging a blob, the outbox and its outcomes, offline work and
restarts."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import List

import pytest

import postbox
from postbox import ConnectionState, OutboxKind, Platform, Status
from conftest import RealServer, wait_for


class Recorder:
    """Collects a replica's callbacks, thread-safely."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changes: List[postbox.Change] = []
        self.outcomes: List[postbox.OutboxOutcome] = []
        self.errors: List[postbox.PostboxError] = []

    def on_change(self, c: postbox.Change) -> None:
        with self.lock:
            self.changes.append(c)

    def on_outbox(self, o: postbox.OutboxOutcome) -> None:
        with self.lock:
            self.outcomes.append(o)

    def on_error(self, e: postbox.PostboxError) -> None:
        with self.lock:
            self.errors.append(e)

    def callbacks(self) -> dict:  # type: ignore[type-arg]
        return dict(on_change=self.on_change, on_outbox=self.on_outbox, on_error=self.on_error)

    def outcome(self, item: int) -> postbox.OutboxOutcome:
        return wait_for(lambda: next((o for o in list(self.outcomes) if o.item == item), None))


def test_two_replicas_blob_and_viewed(running: RealServer, tmp_path: Path) -> None:
    alice, bob = running.mailboxes[:2]
    ra, rb = Recorder(), Recorder()
    with running.replica(alice, tmp_path / "a", **ra.callbacks()) as a, \
            running.replica(bob, tmp_path / "b", **rb.callbacks()) as b:
        blob = b"hello, bob" * 5000
        mid = a.post(bob.mkey, blob, topic="note", meta=b"\x01")
        a.sync()
        # Alice's outbox acknowledged the post (on_outbox has run: sync flushes).
        posted = [o for o in ra.outcomes if o.kind == OutboxKind.POST]
        assert [(o.message, o.key, o.code, o.ok) for o in posted] == \
            [(mid, "note", postbox.Code.OK, True)]
        assert a.get_message(mid).synced_status == Status.UPLOADED
        assert [m.id for m in a.sent()] == [mid]

        b.sync()
        inbox = list(b.inbox())
        assert [m.id for m in inbox] == [mid]
        assert inbox[0].incoming and inbox[0].length == len(blob) and inbox[0].meta == b"\x01"
        assert any(mid in c.messages for c in rb.changes)
        b.request_blob(mid)
        got = wait_for(lambda: _try_read(b, mid), timeout=20)
        assert got == blob
        item = b.update_status(mid, Status.VIEWED)
        assert rb.outcome(item).code == postbox.Code.OK
        b.sync()

        wait_for(lambda: a.sync() or a.get_message(mid).status == Status.VIEWED, timeout=20)
        assert a.get_message(mid).synced_status == Status.VIEWED
        assert ra.errors == [] and rb.errors == []


def _try_read(r: postbox.Replica, mid: postbox.Id) -> bytes:
    try:
        return r.read_blob(mid)
    except postbox.Unavailable:
        return b""


def test_outbox_outcomes_for_entries_and_a_refused_post(running: RealServer,
                                                         tmp_path: Path) -> None:
    alice, dave = running.mailboxes[0], running.mailboxes[3]  # not connected
    rec = Recorder()
    with running.replica(alice, tmp_path / "a", **rec.callbacks()) as a:
        put = a.put_entry("k", b"v1")
        o = rec.outcome(put)
        assert (o.kind, o.key, o.code, o.applied, o.cancelled) == \
            (OutboxKind.PUT_ENTRY, "k", postbox.Code.OK, True, False)
        deleted = a.delete_entry("k")
        assert rec.outcome(deleted).kind == OutboxKind.DELETE_ENTRY
        with pytest.raises(postbox.NotFound):
            a.get_entry("k")

        # A post to a mailbox not connected is refused for good: the outcome
        # carries 403 and the effect is rolled back.
        mid = a.post(dave.mkey, b"nope", topic="t")
        refused = wait_for(lambda: next((o for o in list(rec.outcomes)
                                         if o.kind == OutboxKind.POST), None))
        assert refused.message == mid and refused.code == postbox.Code.PERMISSION_DENIED
        assert isinstance(refused.error(), postbox.PermissionDenied) and refused.message_text
        wait_for(lambda: mid not in [m.id for m in a.sent()])
        assert any(mid in c.messages_removed for c in rec.changes)


def test_pending_and_cancel_offline(running: RealServer, tmp_path: Path) -> None:
    alice, bob = running.mailboxes[:2]
    rec = Recorder()
    with running.replica(alice, tmp_path / "a", start=False, **rec.callbacks()) as a:
        i1 = a.put_entry("k", b"v", version=7)
        mid = a.post(bob.mkey, b"12345", topic="t")
        i3 = a.add_connection(running.mailboxes[3].mkey)
        i4 = a.register_push(Platform.IOS, "tok")
        i5 = a.remove_connection(running.mailboxes[2].mkey)
        i6 = a.delete_entry("gone", version=3)
        pending = a.pending()
        assert [p.kind for p in pending] == [
            OutboxKind.PUT_ENTRY, OutboxKind.POST, OutboxKind.ADD_CONNECTION,
            OutboxKind.REGISTER_PUSH, OutboxKind.REMOVE_CONNECTION, OutboxKind.DELETE_ENTRY]
        assert [p.item for p in pending] == sorted(p.item for p in pending)
        assert pending[0].item == i1 and (pending[0].key, pending[0].version) == ("k", 7)
        post = pending[1]
        assert (post.message, post.peer, post.key, post.length) == (mid, bob.mkey, "t", 5)
        assert pending[2].item == i3 and pending[2].peer == running.mailboxes[3].mkey
        assert pending[3].item == i4 and pending[3].platform == Platform.IOS
        assert pending[4].item == i5 and pending[5].item == i6
        assert a.pending_count() == 6
        state = a.state()
        assert state.pending == 6 and not state.connected and state.sessions == 0

        # Reads show the writes at once (offline).
        assert a.get_entry("k").value == b"v"
        sent = a.get_message(mid)
        assert sent.pending and sent.synced_status is None

        a.cancel(i1)
        o = rec.outcome(i1)
        assert o.cancelled and o.kind == OutboxKind.PUT_ENTRY
        with pytest.raises(postbox.NotFound):
            a.get_entry("k")  # rolled back
        with pytest.raises(postbox.NotFound):
            a.cancel(i1)  # ended
        assert a.pending_count() == 5 and i1 not in [p.item for p in a.pending()]


def test_offline_writes_sync_after_restart(running: RealServer, tmp_path: Path) -> None:
    alice, bob = running.mailboxes[:2]
    folder = tmp_path / "a"
    with running.replica(alice, folder, start=False) as a:
        mid = a.post(bob.mkey, b"written offline", topic="t")
        a.put_entry("offline", b"yes")
        before = [(p.item, p.kind) for p in a.pending()]
        assert len(before) == 2
    # The outbox survives the restart, still offline.
    with running.replica(alice, folder, start=False) as a:
        assert [(p.item, p.kind) for p in a.pending()] == before
        assert a.get_entry("offline").value == b"yes"
        with pytest.raises(postbox.Unavailable):
            a.sync(0.2)  # not started: nothing is sent
    # Online (started after opening), it drains.
    with running.replica(alice, folder, start=False) as a, \
            running.replica(bob, tmp_path / "b") as b:
        a.start()
        a.start()  # idempotent
        a.sync(20)
        assert a.pending_count() == 0 and a.pending() == []
        st = a.state()
        assert st.connected and st.sessions >= 1 and st.packets_applied >= 1
        assert st.last_error_code == postbox.Code.OK
        b.sync(20)
        assert [m.id for m in b.inbox()] == [mid]
    with running.client(alice) as c:
        c.connect()
        assert c.get_entry("offline").value == b"yes"


def test_entries_connections_and_inbox_paging(running: RealServer, tmp_path: Path) -> None:
    alice, bob, carol, dave = running.mailboxes
    with running.replica(alice, tmp_path / "a") as a, running.replica(bob, tmp_path / "b") as b:
        for i in range(5):
            a.put_entry("e/%d" % i, b"%d" % i)
        # Distinct topics: one live message per (from, to, topic) by default.
        ids = [a.post(bob.mkey, b"m%d" % i, topic="t%d" % i) for i in range(5)]
        a.sync(20)
        assert [e.key for e in a.entries("e/", page_size=2)] == ["e/%d" % i for i in range(5)]
        page, more = a.list_entries("e/", limit=2)
        assert len(page) == 2 and more
        assert [m.id for m in a.sent(page_size=2)] == ids
        b.sync(20)
        assert [m.id for m in b.inbox(page_size=2)] == ids
        assert [m.id for m in b.list_inbox(start_after=ids[1], limit=2)] == ids[2:4]
        assert [m.id for m in b.list_sent()] == []

        peers = {c.peer: c.state for c in a.connections()}
        assert peers == {bob.mkey: ConnectionState.CONNECTED,
                         carol.mkey: ConnectionState.CONNECTED}
        a.add_connection(dave.mkey)
        assert {c.peer: c.state for c in a.connections()}[dave.mkey] == \
            ConnectionState.REQUESTED
        a.remove_connection(carol.mkey)
        a.sync(20)
        assert carol.mkey not in {c.peer for c in a.connections()}


def test_replica_of_another_mailbox_in_the_folder_is_conflict(running: RealServer,
                                                               tmp_path: Path) -> None:
    alice, bob = running.mailboxes[:2]
    with running.replica(alice, tmp_path / "a", start=False):
        pass
    with pytest.raises(postbox.Conflict):
        running.replica(bob, tmp_path / "a", start=False)
