"""The Client (pbx_client) against a real postbox-server process."""

from __future__ import annotations

import threading
from typing import List

import pytest

import postbox
from postbox import ConnectionKind, ConnectionState, Id, Platform, Status
from conftest import RealServer, wait_for


def test_connect_entries_and_paging(running: RealServer) -> None:
    alice = running.mailboxes[0]
    with running.client(alice, app_version="1.0") as c:
        assert c.connect() == postbox.Verdict.CURRENT
        c.ping()
        assert c.put_entry("a/1", b"one") == postbox.PutResult(True, 1)
        assert c.put_entry("a/1", b"uno", version=5) == postbox.PutResult(True, 5)
        assert c.put_entry("a/1", b"old", version=2).applied is False
        assert c.get_entry("a/1").value == b"uno"
        for i in range(2, 6):
            c.put_entry("a/%d" % i, b"%d" % i)
        c.put_entry("b", b"other")
        page, more = c.list_entries("a/", limit=2)
        assert [e.key for e in page] == ["a/1", "a/2"] and more
        assert [e.key for e in c.entries("a/", page_size=2)] == ["a/%d" % i for i in range(1, 6)]
        r = c.delete_entry("a/1")
        assert r.applied and r.version == 6
        with pytest.raises(postbox.NotFound):
            c.get_entry("a/1")
        assert [e.key for e in c.entries("a/")] == ["a/%d" % i for i in range(2, 6)]


def test_upload_download_status(running: RealServer) -> None:
    alice, bob = running.mailboxes[:2]
    blob = bytes(range(256)) * 1000  # 256 kB: several frames
    with running.client(alice) as a, running.client(bob) as b:
        a.connect()
        b.connect()
        mid = a.upload(bob.mkey, blob, topic="video", meta=b"m")
        # An identical resend is accepted.
        assert a.upload(bob.mkey, blob, topic="video", meta=b"m", id=mid) == mid
        assert b.download(mid) == blob
        assert a.download(mid) == blob  # the sender is a party too
        assert b.update_status(mid, Status.DOWNLOADED) == (Status.DOWNLOADED, True)
        assert b.update_status(mid, Status.VIEWED) == (Status.VIEWED, True)
        assert b.update_status(mid, Status.DOWNLOADED) == (Status.VIEWED, False)
        info = a.poll()
        sent = [m for m in info.outgoing if m.id == mid]
        assert sent and sent[0].status == Status.VIEWED and sent[0].length == len(blob)


def test_connections_by_consent(running: RealServer) -> None:
    # dave is connected to nobody: alice asks, dave sees the request, asks back.
    alice, dave = running.mailboxes[0], running.mailboxes[3]
    with running.client(alice) as a, running.client(dave) as d:
        a.connect()
        d.connect()
        assert a.add_connection(dave.mkey) == ConnectionState.REQUESTED
        assert [c.peer for c in a.connections(ConnectionKind.REQUESTED)] == [dave.mkey]
        assert [c.peer for c in d.connections(ConnectionKind.INCOMING)] == [alice.mkey]
        assert d.add_connection(alice.mkey) == ConnectionState.CONNECTED
        connected = {c.peer for c in a.connections(ConnectionKind.CONNECTED, page_size=1)}
        assert connected == {m.mkey for m in running.mailboxes[1:]}
        a.remove_connection(dave.mkey)
        assert dave.mkey not in {c.peer for c in a.connections()}
        a.remove_connection(dave.mkey)  # idempotent


def test_register_push(running: RealServer) -> None:
    with running.client(running.mailboxes[0]) as c:
        c.connect()
        c.register_push(Platform.ANDROID, "token-1")
        c.register_push(Platform.NONE, "")
        with pytest.raises(postbox.InvalidArgument):
            c.register_push(99, "x")  # type: ignore[arg-type]


def test_poll_and_ack(running: RealServer) -> None:
    alice, bob = running.mailboxes[:2]
    with running.client(alice) as a, running.client(bob) as b:
        a.connect()
        b.connect()
        first = b.poll()
        mid = a.upload(bob.mkey, b"x", topic="t")
        b.put_entry("k", b"v")
        info = b.poll(since=first.cursor)
        assert info.since == first.cursor and info.cursor > first.cursor
        assert [m.id for m in info.incoming] == [mid]
        assert [e.key for e in info.entries] == ["k"]
        b.ack(info.cursor)
        assert b.poll(since=info.cursor).incoming == ()


def test_on_push_delivers_packets_on_the_dispatcher_thread(running: RealServer) -> None:
    alice, bob = running.mailboxes[:2]
    got: List[postbox.Info] = []
    threads: List[threading.Thread] = []
    lock = threading.Lock()

    def on_push(info: postbox.Info) -> None:
        with lock:
            got.append(info)
            threads.append(threading.current_thread())

    with running.client(bob, on_push=on_push) as b, running.client(alice) as a:
        b.connect()
        a.connect()
        mid = a.upload(bob.mkey, b"pushed", topic="t")
        wait_for(lambda: any(m.id == mid for i in list(got) for m in i.incoming))
        assert all(t is b.push_thread for t in threads)
        assert b.push_thread is not threading.current_thread()


def test_wrong_port_is_unavailable(running: RealServer) -> None:
    alice = running.mailboxes[0]
    # A port nothing listens on (the server's own, once stopped).
    port = running.port
    running.stop()
    with postbox.Client(alice.mkey, alice.secret, port=port, request_timeout=1.0,
                        reconnect=False) as c:
        with pytest.raises(postbox.Unavailable) as e:
            c.connect()
        assert e.value.retryable


def test_closed_client_refuses_and_close_is_idempotent(running: RealServer) -> None:
    c = running.client(running.mailboxes[0])
    c.connect()
    c.close()
    c.close()
    with pytest.raises(postbox.InvalidArgument, match="closed"):
        c.ping()


def test_client_ids_accept_hex(running: RealServer) -> None:
    alice, bob = running.mailboxes[:2]
    with postbox.Client(str(alice.mkey), alice.secret, port=running.port) as a:
        a.connect()
        mid = a.upload(str(bob.mkey), b"hex ids", id=str(Id(bytes(16 * [7]))))
        assert mid == Id(bytes(16 * [7]))
