"""Web Push: endpoints of a Client and a Replica against a real
postbox-server process, and notifications — stored as the server's HTTP
route stores them, through an embedded server's Store — parsed, listed from
a replica's mirror and consumed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Tuple

import pytest

import postbox
from postbox import Urgency
from conftest import RealServer

TOKEN = "A" * 22
ID1 = "0123456789abcdef" * 2
ID2 = "fedcba9876543210" * 2


def value(id: str, topic: str, received_ms: int, payload: bytes) -> bytes:
    """An entry value as the server stores a notification (postbox/push.h),
    written here by hand: the bindings read the documented format."""
    head = {"id": id, "topic": topic, "urgency": "high", "ttl": 60,
            "received_ms": received_ms, "encoding": "aes128gcm"}
    return json.dumps(head).encode() + b"\n" + payload


def test_parse_push_notification() -> None:
    key = "postbox/push/%s/%s" % (TOKEN, ID1)
    n = postbox.parse_push_notification(key, value(ID1, "", 1767225600000, b"\x00pay\nload"), 7)
    assert n == postbox.PushNotification(
        token=TOKEN, id=ID1, topic="", urgency=Urgency.HIGH, ttl_s=60,
        received_ms=1767225600000, encoding="aes128gcm", payload=b"\x00pay\nload", key=key,
        version=7)
    topical = postbox.parse_push_notification("postbox/push/%s/t.news" % TOKEN,
                                              value(ID2, "news", 5, b""))
    assert (topical.topic, topical.payload, topical.version) == ("news", b"", 0)
    with pytest.raises(AttributeError):
        topical.topic = "other"  # type: ignore[misc]
    with pytest.raises(postbox.InvalidArgument, match="postbox/push/"):
        postbox.parse_push_notification("other/%s/t.news" % TOKEN, value(ID2, "news", 5, b""))
    with pytest.raises(postbox.InvalidArgument):
        postbox.parse_push_notification("postbox/push/%s/t.rain" % TOKEN,
                                        value(ID2, "news", 5, b""))
    with pytest.raises(postbox.InvalidArgument):
        postbox.parse_push_notification("postbox/push/%s/%s" % (TOKEN, ID1), b"no header line")
    with pytest.raises(TypeError):
        postbox.parse_push_notification(key, "not bytes")  # type: ignore[arg-type]


def test_client_endpoints(running: RealServer) -> None:
    alice = running.mailboxes[0]
    with running.client(alice) as c:
        with pytest.raises(postbox.Unavailable):
            c.register_endpoint("app")
        c.connect()
        vapid = b"\x04" + b"v" * 64
        e = c.register_endpoint("org.example.chat", vapid)
        assert len(e.token) == 22 and e.app_id == "org.example.chat"
        assert e.vapid_public_key == vapid and e.created_ms > 0 and e.url == ""
        assert c.register_endpoint("org.example.chat", vapid) == e
        other = c.register_endpoint("org.example.mail")
        assert other.vapid_public_key == b""
        page, more = c.list_endpoints(limit=1)
        assert len(page) == 1 and more
        assert sorted(x.token for x in c.endpoints(page_size=1)) == sorted([e.token, other.token])
        with pytest.raises(postbox.InvalidArgument):
            c.register_endpoint("")
        with pytest.raises(postbox.InvalidArgument):
            c.register_endpoint("app", b"short key")
        c.revoke_endpoint(e.token)
        with pytest.raises(postbox.NotFound):
            c.revoke_endpoint(e.token)
        assert [x.token for x in c.endpoints()] == [other.token]


def test_replica_endpoints_need_a_session(running: RealServer, tmp_path: Path) -> None:
    bob = running.mailboxes[1]
    with running.replica(bob, tmp_path / "b", start=False) as r:
        with pytest.raises(postbox.Unavailable):
            r.register_endpoint("app")
        with pytest.raises(postbox.Unavailable):
            r.list_endpoints()
        with pytest.raises(postbox.Unavailable):
            r.revoke_endpoint(TOKEN)
        r.start()
        r.sync()
        e = r.register_endpoint("app")
        assert r.register_endpoint("app") == e
        assert list(r.endpoints()) == [e]
        r.revoke_endpoint(e.token)
        with pytest.raises(postbox.NotFound):
            r.revoke_endpoint(e.token)
        assert r.list_endpoints() == ([], False)
        assert r.pending_count() == 0  # endpoint calls never go through the outbox


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Tuple[postbox.Store, postbox.Server,
                                               postbox.Credentials]]:
    """A store with one mailbox served in-process: the test writes
    notifications into the store as the server's HTTP route does."""
    with postbox.Store(tmp_path / "server") as store:
        creds = store.create_mailbox()
        with postbox.Server(store, port=0) as server:
            yield store, server, creds


def test_replica_notifications(embedded: Tuple[postbox.Store, postbox.Server,
                                               postbox.Credentials], tmp_path: Path) -> None:
    store, server, creds = embedded
    with postbox.Replica(tmp_path / "app", mkey=creds.mkey, secret=creds.secret,
                         port=server.port, retry_initial=0.02, retry_max=0.5) as r:
        r.sync()
        e = r.register_endpoint("org.example.chat")
        plain = "postbox/push/%s/%s" % (e.token, ID1)
        topical = "postbox/push/%s/t.news" % e.token
        odd = "postbox/push/%s/not-one" % e.token
        store.put_entry(creds.mkey, plain, value(ID1, "", 2000, b"second"), version=1)
        store.put_entry(creds.mkey, topical, value(ID2, "news", 1000, b"first"), version=4)
        store.put_entry(creds.mkey, odd, b"{}\n", version=1)
        r.sync()

        ns = r.push_notifications()
        assert [(n.key, n.version, n.payload) for n in ns] == \
            [(topical, 4, b"first"), (plain, 1, b"second")]  # oldest first
        assert ns[0].urgency == Urgency.HIGH and ns[0].topic == "news"
        assert r.push_notifications(e.token) == ns
        assert r.push_notifications(TOKEN) == []
        assert r.get_entry(odd).value == b"{}\n"  # skipped, still an entry
        with pytest.raises(postbox.InvalidArgument):
            r.push_notifications("a/b")
        # The same notification read from any entry read.
        entry = r.get_entry(plain)
        assert postbox.parse_push_notification(entry.key, entry.value, entry.version) == ns[1]

        item = r.consume_push_notification(ns[0])
        assert item > 0
        assert r.push_notifications() == [ns[1]]  # at once, from the mirror
        r.sync()
        with pytest.raises(postbox.NotFound):
            store.get_entry(creds.mkey, topical)
        assert store.get_entry(creds.mkey, plain).version == 1

        with pytest.raises(postbox.InvalidArgument):
            r.consume_push_notification(postbox.PushNotification(
                token=e.token, id=ID1, topic="", urgency=Urgency.NORMAL, ttl_s=0, received_ms=0,
                encoding="", payload=b"", key=plain, version=0))
        with pytest.raises(postbox.PermissionDenied):
            r.put_entry(plain, b"forged")
        with pytest.raises(postbox.PermissionDenied):
            r.put_entry("postbox/simplepush/" + e.token, b"3")
