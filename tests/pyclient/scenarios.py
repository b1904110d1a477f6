"""Seed scenarios of the Python client against a real postbox-server
(issue 11, "A second implementation in CI"). Each test class starts its own
server on 127.0.0.1 with a fresh store and stops it by its pid afterwards.

Run one: POSTBOX_SERVER_BIN=… POSTBOX_ADMIN_BIN=… PYTHONPATH=build/…/generated:tests/pyclient \
    python3 -m unittest -v scenarios.ReplacedVideoTest
"""

import os
import sys
import time
import unittest

import hashlib
import re

import xxhash

import harness
import pbclient as pb

TOPIC = b"video"


class ServerCase(unittest.TestCase):
    """A server with two mailboxes, alice and bob, made before it starts."""

    server_args = ()

    def setUp(self):
        self.server = harness.Server(self.server_args)
        self.addCleanup(self._stop_server)
        self.alice, self.alice_secret = self.server.mailbox()
        self.bob, self.bob_secret = self.server.mailbox()
        self.server.start()
        self.sessions = []

    def _stop_server(self):
        for s in self.sessions:
            s.close()
        log = self.server.log()
        self.server.stop()
        # Warnings and errors only (--log-level warn); ctest shows them when a
        # test fails.
        if log.strip():
            sys.stderr.write("postbox-server log:\n" + log)

    def session(self, mkey, secret, **hello):
        s = pb.connect(self.server.port, mkey, secret, **hello)
        self.sessions.append(s)
        return s

    def connected_pair(self):
        """Sessions of alice and bob, connected by consent: each asks."""
        a = self.session(self.alice, self.alice_secret)
        b = self.session(self.bob, self.bob_secret)
        self.assertEqual(a.connection_add(self.bob), pb.CONN_REQUESTED)
        self.assertEqual(b.connection_add(self.alice), pb.CONN_CONNECTED)
        return a, b

    def push_until(self, session, predicate, timeout=10.0):
        """Takes pushes (acking each, which reopens the window) until one
        satisfies `predicate`; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            packet = session.wait_push(timeout=max(0.0, deadline - time.monotonic()))
            session.ack(packet["cursor"])
            if predicate(packet):
                return packet


def find(items, msg_id):
    return next((m for m in items if m["id"] == msg_id), None)


class ReplacedVideoTest(ServerCase):
    """SPEC §1: a client that asks for a replaced video learns at once that it
    is gone (410), and never hangs on a download.
"""

    def test_replaced_video_answers_410_at_once(self):
        a, b = self.connected_pair()
        first, second = pb.random_id(), pb.random_id()
        data1, data2 = os.urandom(300 * 1024), os.urandom(70 * 1024)
        a.upload(first, self.bob, data1, topic=TOPIC)
        packets = b.poll_all(limit=1)
        cursor = packets[-1]["cursor"]
        seen = [m for p in packets for m in p["incoming"]]
        self.assertIsNotNone(find(seen, first))
        b.close()  # bob goes away knowing of the first video

        # A newer video from alice to bob in the same slot replaces it.
        a.upload(second, self.bob, data2, topic=TOPIC)
        b = self.session(self.bob, self.bob_secret)
        started = time.monotonic()
        with self.assertRaises(pb.ErrorReply) as err:
            b.download(first)
        self.assertEqual(err.exception.code, 410)
        # "At once": generous for loaded and sanitizer builds, but no hang.
        self.assertLess(time.monotonic() - started, 5.0)

        # Its id answers 410 to the other requests on it too.
        with self.assertRaises(pb.ErrorReply) as err:
            b.status_update(first, pb.DOWNLOADED)
        self.assertEqual(err.exception.code, 410)

        # Bob's feed says why: a tombstone for the old one, the new one incoming.
        packets = b.poll_all(since=cursor, limit=1)
        tombstones = [t for p in packets for t in p["tombstones"]]
        incoming = [m for p in packets for m in p["incoming"]]
        self.assertTrue(any(t["kind"] == pb.TOMBSTONE_MESSAGE and t["id"] == first
                            for t in tombstones), tombstones)
        self.assertIsNotNone(find(incoming, second))
        self.assertIsNone(find(incoming, first))
        self.assertEqual(b.download(second), data2)

    def test_replaced_during_download_ends_the_stream_with_410(self):
        a, b = self.connected_pair()
        first, second = pb.random_id(), pb.random_id()
        # 48 chunks: far more than the server's 512 KiB of output plus what
        # the kernel buffers (a 4 MiB send buffer, a 32 KiB receive buffer).
        data = os.urandom(12 * 1024 * 1024)
        a.upload(first, self.bob, data, topic=TOPIC)
        seen = [m for p in b.poll_all(limit=1) for m in p["incoming"]]
        self.assertIsNotNone(find(seen, first))
        slow = self.session(self.bob, self.bob_secret, rcvbuf=32 * 1024)
        rid = slow.send("DownloadRequest", {"id": first, "offset": 0, "length": 0})
        chunk = slow.next_for(rid)
        self.assertEqual(chunk.name, "DownloadChunk")
        self.assertEqual(chunk.msg["offset"], 0)
        a.upload(second, self.bob, b"newer", topic=TOPIC)
        # The stream ends with Error 410 on its request id before the end.
        received = len(chunk.msg["data"])
        while True:
            frame = slow.next_for(rid)
            if frame.name == "Error":
                self.assertEqual(frame.msg["code"], 410)
                break
            self.assertEqual(frame.name, "DownloadChunk")
            self.assertEqual(frame.msg["offset"], received)
            received += len(frame.msg["data"])
            self.assertLess(received, len(data), "the whole replaced blob was streamed")


class StatusPushTest(ServerCase):
    """SPEC §1: the sender sees DOWNLOADED and VIEWED by push."""

    def test_sender_sees_downloaded_and_viewed_by_push(self):
        a, b = self.connected_pair()
        # Pushes start once the server knows the cursor: after a complete poll.
        a.poll_all()
        msg_id, data = pb.random_id(), os.urandom(5000)
        a.upload(msg_id, self.bob, data, topic=TOPIC)

        def outgoing_status(status):
            def check(packet):
                m = find(packet["outgoing"], msg_id)
                return m is not None and m["status"] == status
            return check

        self.push_until(a, outgoing_status(pb.UPLOADED))
        self.assertEqual(b.download(msg_id), data)
        self.assertEqual(b.status_update(msg_id, pb.DOWNLOADED), pb.DOWNLOADED)
        self.push_until(a, outgoing_status(pb.DOWNLOADED))
        self.assertEqual(b.status_update(msg_id, pb.VIEWED), pb.VIEWED)
        self.push_until(a, outgoing_status(pb.VIEWED))

        # A max-register: a lower status succeeds and answers the current one.
        self.assertEqual(b.status_update(msg_id, pb.DOWNLOADED), pb.VIEWED)
        # Only the recipient advances a message.
        with self.assertRaises(pb.ErrorReply) as err:
            a.status_update(msg_id, pb.VIEWED)
        self.assertEqual(err.exception.code, 403)


class OfflinePollTest(ServerCase):
    """SPEC §3: a client that was offline polls from its cursor and gets
    every change it missed, paged with `more`."""

    def test_poll_after_missed_pushes_returns_everything(self):
        a, b = self.connected_pair()
        cursor = b.poll_all()[-1]["cursor"]
        b.close()  # bob goes offline and misses every push below

        ids = {}
        for i in range(5):
            topic = b"t%d" % i
            ids[topic] = pb.random_id()
            a.upload(ids[topic], self.bob, os.urandom(100 + i), topic=topic)
        replaced = ids[b"t0"]
        ids[b"t0"] = pb.random_id()
        a.upload(ids[b"t0"], self.bob, b"newer", topic=b"t0")
        # Bob's other device writes entries meanwhile.
        other = self.session(self.bob, self.bob_secret)
        for key in (b"k1", b"k2", b"k3"):
            other.call("EntryPut", {"key": key, "value": b"v-" + key, "version": 0}, expect="Ok")
        other.call("EntryDelete", {"key": b"k2", "version": 0}, expect="Ok")
        other.close()

        b = self.session(self.bob, self.bob_secret)
        packets = b.poll_all(since=cursor, limit=1)
        self.assertGreater(len(packets), 1, "a limit of 1 must page")
        cursors = [p["cursor"] for p in packets]
        self.assertEqual(cursors, sorted(cursors))
        self.assertFalse(any(p["reset"] for p in packets))
        incoming = [m for p in packets for m in p["incoming"]]
        tombstones = [t for p in packets for t in p["tombstones"]]
        entries = [e for p in packets for e in p["entries"]]
        self.assertEqual({m["id"] for m in incoming}, set(ids.values()))
        for m in incoming:
            self.assertEqual(m["from"], self.alice)
            self.assertEqual(m["to"], self.bob)
            self.assertEqual(m["status"], pb.UPLOADED)
        self.assertIn(replaced, {t["id"] for t in tombstones if t["kind"] == pb.TOMBSTONE_MESSAGE})
        self.assertEqual({e["key"]: e["value"] for e in entries},
                         {b"k1": b"v-k1", b"k3": b"v-k3"})
        self.assertIn(b"k2", {t["key"] for t in tombstones if t["kind"] == pb.TOMBSTONE_ENTRY})
        seqs = [x["seq"] for x in incoming + entries + tombstones]
        self.assertEqual(len(seqs), len(set(seqs)), "the feed keeps one change per item")

        # The poll reached the end, so pushes start: a new message arrives by push.
        late = pb.random_id()
        a.upload(late, self.bob, b"late", topic=b"t9")
        packet = self.push_until(b, lambda p: find(p["incoming"], late) is not None)
        self.assertGreater(packet["cursor"], cursors[-1])


class CompressionTest(ServerCase):
    """PROTOCOL.md §4 "Compression negotiation": compressed frames only as
    the session agreed, decoded with the published dictionary."""

    def setUp(self):
        super().setUp()
        self.wire_dir = os.environ["POSTBOX_WIRE_DIR"]
        self.dictionary = pb.load_dictionary(self.wire_dir, 1)

    def published_hashes(self, dict_id):
        """(XXH3-64, SHA-256) from PROTOCOL.md's table of dictionaries."""
        with open(os.path.join(self.wire_dir, "PROTOCOL.md"), encoding="utf-8") as f:
            text = f.read()
        row = re.search(r"^\| %d \| `wire/dictionaries/%d\.zdict` \|[^|]*\| `([0-9a-f]{16})` \| "
                        r"`([0-9a-f]{64})` \|$" % (dict_id, dict_id), text, re.M)
        self.assertIsNotNone(row, "PROTOCOL.md publishes no hashes for dictionary %d" % dict_id)
        return row.group(1), row.group(2)

    def fill_bobs_feed(self, alice, count=30):
        """Messages from alice to bob with meta alike, as an app's would be:
        bob's poll from 0 is then several KiB."""
        ids = []
        for i in range(count):
            msg_id = pb.random_id()
            meta = b'{"type":"video/mp4","duration_ms":%d,"width":720,"height":1280}' % (1000 + i)
            alice.upload(msg_id, self.bob, b"clip %d" % i, topic=b"topic-%02d" % i, meta=meta)
            ids.append(msg_id)
        return ids

    def incoming_ids(self, packets):
        return {m["id"] for p in packets for m in p["incoming"]}

    def test_published_dictionary_matches_its_hashes(self):
        xxh, sha = self.published_hashes(1)
        self.assertEqual(xxhash.xxh3_64_hexdigest(self.dictionary), xxh)
        self.assertEqual(hashlib.sha256(self.dictionary).hexdigest(), sha)
        self.assertEqual(self.dictionary[:4], bytes.fromhex("37a430ec"))  # magic 0xEC30A437

    def test_compressed_frames_decode_after_negotiation(self):
        a, _ = self.connected_pair()
        ids = self.fill_bobs_feed(a)
        z = self.session(self.bob, self.bob_secret, accept_zstd=True, zstd_dictionaries=[1],
                         dictionaries={1: self.dictionary})
        self.assertGreaterEqual(z.hello_reply["protocol_version"], 2)  # the server's: 2 or later
        self.assertTrue(z.hello_reply["zstd"])
        self.assertEqual(z.hello_reply["zstd_dictionary"], 1)
        packets = z.poll_all()
        self.assertGreater(z.frames_by_flags.get(3, 0), 0, z.frames_by_flags)
        self.assertEqual(self.incoming_ids(packets), set(ids))
        for p in packets:
            for m in p["incoming"]:
                self.assertTrue(m["meta"].startswith(b'{"type":"video/mp4"'))

        # A push of a large change arrives compressed too.
        late = pb.random_id()
        a.upload(late, self.bob, b"late", topic=b"late", meta=b"x" * 600)
        before = z.frames_by_flags.get(3, 0)
        self.push_until(z, lambda p: find(p["incoming"], late) is not None)
        self.assertGreater(z.frames_by_flags.get(3, 0), before)

        # The agreement holds both ways: the server reads this client's
        # frames compressed with the dictionary and with plain zstd.
        rid = z.send("Poll", {"since": 0, "limit": 0}, flags=3)
        reply = z.next_for(rid)
        self.assertEqual(reply.name, "InfoPacket")
        self.assertEqual(self.incoming_ids([reply.msg]), set(ids) | {late})
        rid = z.send("EntryPut", {"key": b"k", "value": b"v" * 2000, "version": 0}, flags=1)
        reply = z.next_for(rid)
        self.assertEqual(reply.name, "Ok", reply)

    def test_plain_zstd_without_a_dictionary(self):
        a, _ = self.connected_pair()
        ids = self.fill_bobs_feed(a)
        z = self.session(self.bob, self.bob_secret, accept_zstd=True)
        self.assertTrue(z.hello_reply["zstd"])
        self.assertEqual(z.hello_reply["zstd_dictionary"], 0)
        self.assertEqual(self.incoming_ids(z.poll_all()), set(ids))
        self.assertGreater(z.frames_by_flags.get(1, 0), 0, z.frames_by_flags)
        self.assertEqual(z.frames_by_flags.get(3, 0), 0)

    def test_a_session_that_declared_nothing_is_raw_both_ways(self):
        a, _ = self.connected_pair()
        ids = self.fill_bobs_feed(a)
        for version in (1, 2):
            s = self.session(self.bob, self.bob_secret, protocol_version=version)
            self.assertEqual(self.incoming_ids(s.poll_all()), set(ids))
            self.assertEqual(set(s.frames_by_flags), {0}, (version, s.frames_by_flags))
        # A compressed frame it did not declare is malformed: Error 400 with
        # that frame's request id, then close.
        rid = s.send("Poll", {"since": 0}, flags=1)
        frame = s.next_for(rid)
        self.assertEqual(frame.name, "Error", frame)
        self.assertEqual(frame.msg["code"], 400)
        with self.assertRaises(pb.ProtocolError):
            s.read_frame(timeout=5.0)


class EndpointTest(ServerCase):
    """PROTOCOL.md "Endpoint" (protocol 3): register, list, revoke, from the
    document alone."""

    def test_register_list_revoke(self):
        s = self.session(self.alice, self.alice_secret)
        key = b"\x04" + bytes(range(64))
        first = s.call("EndpointRegister", {"app_id": "org.example.chat",
                                            "vapid_public_key": key},
                       expect="EndpointReply")["endpoint"]
        self.assertEqual(len(first["token"]), 22)
        self.assertEqual(first["app_id"], "org.example.chat")
        self.assertEqual(first["vapid_public_key"], key)
        again = s.call("EndpointRegister", {"app_id": "org.example.chat",
                                            "vapid_public_key": key},
                       expect="EndpointReply")["endpoint"]
        self.assertEqual(again, first)
        listed = s.call("EndpointList", {}, expect="EndpointListReply")
        self.assertEqual(listed["endpoints"], [first])
        self.assertFalse(listed["more"])
        s.call("EndpointRevoke", {"token": first["token"]}, expect="Ok")
        with self.assertRaises(pb.ErrorReply) as err:
            s.call("EndpointRevoke", {"token": first["token"]}, expect="Ok")
        self.assertEqual(err.exception.code, 404)
        with self.assertRaises(pb.ErrorReply) as err:
            s.call("EndpointRegister", {"app_id": ""}, expect="EndpointReply")
        self.assertEqual(err.exception.code, 400)
        self.assertEqual(s.call("EndpointList", {}, expect="EndpointListReply")["endpoints"], [])


class HelloTest(ServerCase):
    """PROTOCOL.md "Session rules": the answers to a bad Hello."""

    def test_wrong_secret_is_401_and_closes(self):
        s = pb.Session("127.0.0.1", self.server.port)
        self.sessions.append(s)
        with self.assertRaises(pb.ErrorReply) as err:
            s.hello(self.alice, self.bob_secret)
        self.assertEqual(err.exception.code, 401)
        with self.assertRaises(pb.ProtocolError):
            s.read_frame(timeout=5.0)

    def test_unsupported_protocol_version_is_426_with_the_range(self):
        s = pb.Session("127.0.0.1", self.server.port)
        self.sessions.append(s)
        with self.assertRaises(pb.ErrorReply) as err:
            s.hello(self.alice, self.alice_secret, protocol_version=1000)
        self.assertEqual(err.exception.code, 426)
        self.assertGreaterEqual(err.exception.min_version, 1)
        self.assertGreaterEqual(err.exception.max_version, err.exception.min_version)
        self.assertLess(err.exception.max_version, 1000)


if __name__ == "__main__":
    unittest.main()
