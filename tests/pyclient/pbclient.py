"""A postbox sync client in Python, written from wire/PROTOCOL.md,
wire/schema/postbox.fbs and docs/*.md alone (never from the C++), so that its
scenarios prove those documents are a contract another team can implement.

It needs the FlatBuffers code that `flatc --python` generates from the schema
(package `postbox.wire.fb`, made at build time into the build tree) and
Debian's python3-flatbuffers, python3-xxhash and python3-zstandard.

Every place where the documents left a choice open is marked "GUESS" below,
with what was found by experiment.
"""

import importlib
import os
import select
import socket
import struct
import time

import flatbuffers
import xxhash
import zstandard

# PROTOCOL.md §3: message type numbers (the frame header's `type`).
TYPES = {
    "Hello": 1, "HelloReply": 2, "Poll": 3, "InfoPacket": 4, "Ack": 5,
    "UploadBegin": 6, "UploadChunk": 7, "UploadQueryOffset": 8, "UploadOffset": 9,
    "UploadCommit": 10, "UploadAbort": 11, "DownloadRequest": 12, "DownloadChunk": 13,
    "StatusUpdate": 14, "EntryGet": 15, "EntryPut": 16, "EntryDelete": 17,
    "EntryList": 18, "EntryListReply": 19, "EntryValue": 20, "ConnectionAdd": 21,
    "ConnectionRemove": 22, "ConnectionList": 23, "ConnectionListReply": 24,
    "PushRegister": 25, "Ping": 26, "Pong": 27, "Error": 28, "Ok": 29,
    # Protocol 3: Web Push endpoints.
    "EndpointRegister": 30, "EndpointReply": 31, "EndpointList": 32,
    "EndpointListReply": 33, "EndpointRevoke": 34,
}
NAMES = {v: k for k, v in TYPES.items()}

# PROTOCOL.md §1: a 16-byte header, little-endian: length u32, type u16,
# flags u8, reserved u8, request_id u64.
HEADER = struct.Struct("<IHBBQ")
FLAG_ZSTD = 0x01
FLAG_DICT1 = 0x02
MAX_PAYLOAD = 1 << 20  # the default `max_payload` (1 MiB)
MAX_CHUNK = 256 * 1024  # "streamed in pieces of at most 256 KiB"

# PROTOCOL.md §3: "send 2". Version 2 added compression negotiation; a
# version-1 Hello declares no compression (PROTOCOL.md §4).
PROTOCOL_VERSION = 2

# Enumerations (PROTOCOL.md §3, "do not renumber").
UNSET, UPLOADED, DOWNLOADED, VIEWED = 0, 1, 2, 3
TOMBSTONE_MESSAGE, TOMBSTONE_ENTRY = 0, 1
CONN_NONE, CONN_REQUESTED, CONN_CONNECTED = 0, 1, 2

# The fields of each message a client sends, in schema order, with their
# kind: "u" a scalar, "b16" a Bytes16 struct, "str" a string, "bytes" a
# [ubyte] vector, "uvec" a [uint] vector.
REQUEST_FIELDS = {
    "Hello": [("protocol_version", "u"), ("mkey", "b16"), ("secret", "str"),
              ("platform", "u"), ("app_version", "str"), ("schema_version", "u"),
              # Protocol 2: the compressions this client reads (issue 11).
              ("accept_zstd", "u"), ("zstd_dictionaries", "uvec")],
    "Poll": [("since", "u"), ("limit", "u")],
    "Ack": [("cursor", "u")],
    "UploadBegin": [("id", "b16"), ("to", "b16"), ("topic", "bytes"), ("meta", "bytes"),
                    ("length", "u"), ("digest", "b16")],
    "UploadChunk": [("id", "b16"), ("offset", "u"), ("data", "bytes")],
    "UploadQueryOffset": [("id", "b16")],
    "UploadCommit": [("id", "b16")],
    "UploadAbort": [("id", "b16")],
    "DownloadRequest": [("id", "b16"), ("offset", "u"), ("length", "u")],
    "StatusUpdate": [("id", "b16"), ("status", "u")],
    "EntryGet": [("key", "bytes")],
    "EntryPut": [("key", "bytes"), ("value", "bytes"), ("version", "u")],
    "EntryDelete": [("key", "bytes"), ("version", "u")],
    "EntryList": [("prefix", "bytes"), ("start_after", "bytes"), ("limit", "u")],
    "ConnectionAdd": [("peer", "b16")],
    "ConnectionRemove": [("peer", "b16")],
    "ConnectionList": [("start_after", "b16"), ("limit", "u"), ("kind", "u")],
    "PushRegister": [("platform", "u"), ("push_token", "bytes")],
    "EndpointRegister": [("app_id", "str"), ("vapid_public_key", "bytes")],
    "EndpointList": [("start_after", "str"), ("limit", "u")],
    "EndpointRevoke": [("token", "str")],
    "Ping": [("nonce", "u")],
    "Pong": [("nonce", "u")],
}


def _fb(name):
    """The generated module of table `name` (flatc --python output)."""
    return importlib.import_module("postbox.wire.fb." + name)


def _camel(field):
    return "".join(part[:1].upper() + part[1:] for part in field.split("_"))


def blob_digest(data):
    """XXH3-128 (seed 0) of a whole blob, as the 16 bytes of the wire.

    GUESS: PROTOCOL.md says "All integers are little-endian" and calls the
    digest "XXH3-128 of the blob" in a 16-byte struct, without a byte order.
    The canonical (big-endian) form, xxhash's digest(), is what the server
    accepts (an UploadCommit with it is Ok; the little-endian form gets 422),
    and what postbox-admin prints as hex.
    """
    return xxhash.xxh3_128(data).digest()


def chunk_digest(data):
    """XXH3-64 (seed 0) of a download chunk's data, as the u64 of the wire."""
    return xxhash.xxh3_64_intdigest(data)


class ProtocolError(Exception):
    """The peer broke the protocol, or the connection was lost."""


class ErrorReply(Exception):
    """An `Error` frame answered a request (or preceded a close)."""

    def __init__(self, code, message, request_id, min_version=0, max_version=0):
        super().__init__("Error %d on request %d: %s" % (code, request_id, message))
        self.code = code
        self.message = message
        self.request_id = request_id
        self.min_version = min_version
        self.max_version = max_version


class Frame:
    """One decoded frame: its header fields and its payload as a dict."""

    def __init__(self, type_, flags, request_id, msg):
        self.type = type_
        self.name = NAMES.get(type_, "?%d" % type_)
        self.flags = flags
        self.request_id = request_id
        self.msg = msg

    def __repr__(self):
        return "Frame(%s, flags=%d, rid=%d, %r)" % (self.name, self.flags, self.request_id, self.msg)


# ---------------------------------------------------------------- encoding

def encode(name, fields):
    """The FlatBuffer payload of request `name` with `fields` (absent or None
    fields are left out, i.e. read as the schema default)."""
    mod = _fb(name)
    spec = REQUEST_FIELDS[name]
    b = flatbuffers.Builder(256)
    offsets = {}
    # Strings and vectors must be built before the table is started.
    for field, kind in spec:
        value = fields.get(field)
        if value is None:
            continue
        if kind == "str":
            offsets[field] = b.CreateString(value)
        elif kind == "bytes":
            offsets[field] = b.CreateByteVector(bytes(value))
        elif kind == "uvec":
            b.StartVector(4, len(value), 4)
            for v in reversed(value):
                b.PrependUint32(v)
            offsets[field] = b.EndVector()
    mod.Start(b)
    for field, kind in spec:
        value = fields.get(field)
        if value is None:
            continue
        add = getattr(mod, "Add" + _camel(field))
        if kind == "b16":
            value = bytes(value)
            if len(value) != 16:
                raise ValueError("%s.%s must be 16 bytes" % (name, field))
            # Structs are written inline, inside the table being built.
            add(b, _fb("Bytes16").CreateBytes16(b, list(value)))
        elif kind in ("str", "bytes", "uvec"):
            add(b, offsets[field])
        else:
            add(b, int(value))
    b.Finish(mod.End(b))
    return bytes(b.Output())


def frame_bytes(type_, payload, request_id, flags=0):
    """Header + payload. Raw payloads are padded with zeros to a multiple of 8
    (PROTOCOL.md §1 "should"); a compressed payload is exactly one zstd frame."""
    if flags == 0 and len(payload) % 8:
        payload += b"\0" * (8 - len(payload) % 8)
    return HEADER.pack(len(payload), type_, flags, 0, request_id) + payload


# ---------------------------------------------------------------- decoding

def _b16(struct_obj):
    return None if struct_obj is None else bytes(struct_obj.V())


def _bytes(table_obj, slot):
    """A [ubyte] field (slot number in schema order) as bytes, read in place."""
    tab = table_obj._tab
    o = tab.Offset(4 + 2 * slot)
    if o == 0:
        return b""
    start = tab.Vector(o)
    return bytes(tab.Bytes[start:start + tab.VectorLen(o)])


def _str(value):
    return None if value is None else value.decode("utf-8", "replace")


def _message_info(m):
    # flatc --python names the accessor of `from` From_ (a Python keyword).
    return {"id": _b16(m.Id()), "from": _b16(m.From_()), "to": _b16(m.To()),
            "topic": _bytes(m, 3), "meta": _bytes(m, 4), "length": m.Length(),
            "digest": _b16(m.Digest()), "status": m.Status(),
            "created_ms": m.CreatedMs(), "seq": m.Seq()}


def _entry(e):
    return {"key": _bytes(e, 0), "value": _bytes(e, 1), "version": e.Version(), "seq": e.Seq()}


def _tombstone(t):
    return {"kind": t.Kind(), "id": _b16(t.Id()), "key": _bytes(t, 2),
            "version": t.Version(), "seq": t.Seq()}


def _endpoint(e):
    return {"token": _str(e.Token()), "app_id": _str(e.AppId()),
            "vapid_public_key": _bytes(e, 2), "created_ms": e.CreatedMs(), "url": _str(e.Url())}


def _list(obj, field, conv):
    n = getattr(obj, field + "Length")()
    get = getattr(obj, field)
    return [conv(get(i)) for i in range(n)]


def _decode_hello_reply(r):
    out = {"verdict": r.Verdict(), "protocol_version": r.ProtocolVersion(),
           "detail": _str(r.Detail())}
    # Protocol 2: what the session agreed (absent from a version-1 reply).
    out["zstd"] = r.Zstd()
    out["zstd_dictionary"] = r.ZstdDictionary()
    return out


DECODERS = {
    "HelloReply": _decode_hello_reply,
    "InfoPacket": lambda p: {
        "cursor": p.Cursor(), "since": p.Since(), "reset": p.Reset(), "more": p.More(),
        "incoming": _list(p, "Incoming", _message_info),
        "outgoing": _list(p, "Outgoing", _message_info),
        "entries": _list(p, "Entries", _entry),
        "tombstones": _list(p, "Tombstones", _tombstone)},
    "UploadOffset": lambda u: {"id": _b16(u.Id()), "committed": u.Committed(), "length": u.Length()},
    "DownloadChunk": lambda c: {
        "id": _b16(c.Id()), "offset": c.Offset(), "total_length": c.TotalLength(),
        "data": _bytes(c, 3), "xxh3_64": c.Xxh364(), "digest": _b16(c.Digest())},
    "EntryListReply": lambda r: {"entries": _list(r, "Entries", _entry), "more": r.More()},
    "EntryValue": lambda v: {"entry": _entry(v.Entry())},
    "ConnectionListReply": lambda r: {"peers": _list(r, "Peers", _b16), "more": r.More()},
    "EndpointReply": lambda r: {"endpoint": _endpoint(r.Endpoint())},
    "EndpointListReply": lambda r: {"endpoints": _list(r, "Endpoints", _endpoint),
                                    "more": r.More()},
    "Ping": lambda p: {"nonce": p.Nonce()},
    "Pong": lambda p: {"nonce": p.Nonce()},
    "Error": lambda e: {"code": e.Code(), "message": _str(e.Message()),
                        "min_version": e.MinVersion(), "max_version": e.MaxVersion()},
    "Ok": lambda o: {"version": o.Version(), "status": o.Status(),
                     "connection": o.Connection(),
                     # `applied` (issue 11) where the schema has it.
                     **({"applied": o.Applied()} if hasattr(o, "Applied") else {})},
}


def decode(type_, payload):
    name = NAMES.get(type_)
    if name not in DECODERS:
        raise ProtocolError("a server sent type %r, which only clients send or nobody knows" % type_)
    mod = _fb(name)
    root = getattr(mod, name).GetRootAs(payload, 0)
    return DECODERS[name](root)


# ---------------------------------------------------------------- the session

class Session:
    """One TCP connection to a postbox server: frames in and out, request ids,
    pushes kept aside, Pings answered."""

    def __init__(self, host, port, timeout=10.0, dictionaries=None, rcvbuf=None):
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connect, so the window is small from the start: a slow reader.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.next_id = 1
        self.pushes = []  # InfoPackets with request id 0, oldest first
        self.server_errors = []  # Error frames with request id 0
        self.frames_by_flags = {}  # flags -> count of frames received, for tests
        # Dictionary id -> raw bytes of a zstd dictionary this client can read.
        self.dictionaries = dict(dictionaries or {})
        self._ddicts = {}
        self.hello_reply = None
        # What this session agreed (PROTOCOL.md §4 "Compression negotiation"):
        # nothing until HelloReply says otherwise.
        self.agreed_zstd = False
        self.agreed_dictionary = 0
        self.closed = False

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- raw frames

    def new_request_id(self):
        # GUESS: PROTOCOL.md does not say whether 0 is a valid request id;
        # pushes use 0, so this client never does.
        rid = self.next_id
        self.next_id += 1
        return rid

    def send(self, name, fields=None, request_id=None, flags=0, payload=None):
        """Sends one frame and returns its request id. `flags` 1 or 3
        compresses the payload (plain zstd, or the session's dictionary) even
        if the session did not agree on it, so tests can send what a server
        must refuse."""
        if request_id is None:
            request_id = self.new_request_id()
        if payload is None:
            payload = encode(name, fields or {})
        if flags & FLAG_ZSTD:
            payload = self._compress(flags, payload)
        self.sock.sendall(frame_bytes(TYPES[name], payload, request_id, flags))
        return request_id

    def _dictionary(self, dict_id):
        if dict_id not in self.dictionaries:
            raise ProtocolError("dictionary %d, which this client does not have" % dict_id)
        d = self._ddicts.get(dict_id)
        if d is None:
            d = self._ddicts[dict_id] = zstandard.ZstdCompressionDict(self.dictionaries[dict_id])
        return d

    def _compress(self, flags, payload):
        # One zstd frame that declares its content size, no checksum and no
        # dictionary id field (both optional, PROTOCOL.md §1), level 1 (§4).
        kwargs = {"level": 1, "write_checksum": False, "write_content_size": True,
                  "write_dict_id": False}
        if flags & FLAG_DICT1:
            kwargs["dict_data"] = self._dictionary(self.agreed_dictionary or 1)
        return zstandard.ZstdCompressor(**kwargs).compress(payload)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no frame from the server in time")
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            raise TimeoutError("no frame from the server in time")
        data = self.sock.recv(1 << 20)
        if not data:
            raise ProtocolError("the server closed the connection")
        self.buf += data

    def _decompress(self, flags, payload):
        # A peer sends only what the other declared it reads; anything else
        # is a malformed stream (PROTOCOL.md §4 "Compression negotiation").
        if flags & FLAG_DICT1:
            if not self.agreed_dictionary:
                raise ProtocolError("a frame with flags 3 in a session that agreed no dictionary")
            dctx = zstandard.ZstdDecompressor(dict_data=self._dictionary(self.agreed_dictionary))
        else:
            if not self.agreed_zstd:
                raise ProtocolError("a frame with flags 1 in a session that agreed no plain zstd")
            dctx = zstandard.ZstdDecompressor()
        size = zstandard.frame_content_size(payload)
        # §1 Receiving step 3: refuse a frame without a declared size or a bomb.
        if size < 0 or size > MAX_PAYLOAD:
            raise ProtocolError("compressed frame without a usable content size (%d)" % size)
        out = dctx.decompress(payload, max_output_size=size)
        if len(out) != size:
            raise ProtocolError("decompressed %d bytes, declared %d" % (len(out), size))
        return out

    def read_frame(self, timeout=None):
        """The next frame, whatever it is (Pings are not answered here)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.buf) < HEADER.size:
            self._fill(deadline)
        length, type_, flags, reserved, rid = HEADER.unpack_from(self.buf, 0)
        if reserved != 0 or length > MAX_PAYLOAD or flags not in (0, 1, 3):
            raise ProtocolError("bad header: length %d type %d flags %d reserved %d"
                                % (length, type_, flags, reserved))
        while len(self.buf) < HEADER.size + length:
            self._fill(deadline)
        payload = bytes(self.buf[HEADER.size:HEADER.size + length])
        del self.buf[:HEADER.size + length]
        self.frames_by_flags[flags] = self.frames_by_flags.get(flags, 0) + 1
        if flags & FLAG_ZSTD:
            payload = self._decompress(flags, payload)
        return Frame(type_, flags, rid, decode(type_, payload))

    def next_for(self, request_id, timeout=None):
        """The next frame carrying `request_id`. Frames the server starts
        itself (request id 0) are handled on the way: pushes are kept in
        self.pushes, Pings answered, an Error raised."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            frame = self.read_frame(timeout=max(0.0, deadline - time.monotonic()))
            if frame.request_id == request_id and request_id != 0:
                return frame
            self._server_frame(frame)

    def _server_frame(self, frame):
        if frame.name == "Ping":
            # Either side must answer a Ping with a Pong echoing its nonce.
            # GUESS: the Pong carries the Ping's request id (0 for the
            # server's own Pings); PROTOCOL.md does not say.
            self.send("Pong", {"nonce": frame.msg["nonce"]}, request_id=frame.request_id)
        elif frame.name == "InfoPacket" and frame.request_id == 0:
            self.pushes.append(frame.msg)
        elif frame.name == "Error" and frame.request_id == 0:
            self.server_errors.append(frame.msg)
            raise ErrorReply(frame.msg["code"], frame.msg["message"], 0)
        else:
            raise ProtocolError("unexpected frame %r" % frame)

    def call(self, name, fields=None, expect=None, timeout=None):
        """Sends a request and returns its reply's payload; an Error reply
        raises ErrorReply."""
        rid = self.send(name, fields)
        frame = self.next_for(rid, timeout)
        if frame.name == "Error":
            m = frame.msg
            raise ErrorReply(m["code"], m["message"], rid, m["min_version"], m["max_version"])
        if expect is not None and frame.name != expect:
            raise ProtocolError("%s answered with %s, expected %s" % (name, frame.name, expect))
        return frame.msg

    def wait_push(self, timeout=None):
        """The oldest push not yet taken, waiting for one if needed."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.pushes:
            self._server_frame(self.read_frame(timeout=max(0.0, deadline - time.monotonic())))
        return self.pushes.pop(0)

    # -- the protocol's operations

    def hello(self, mkey, secret, platform=0, app_version="1.0", schema_version=1,
              protocol_version=PROTOCOL_VERSION, **extra):
        """Authenticates. GUESS: `secret` is the base64url text printed by
        `postbox-admin mailbox create`, sent as the string as it is (the field
        is a string; PROTOCOL.md does not say which form). Works."""
        fields = {"protocol_version": protocol_version, "mkey": mkey, "secret": secret,
                  "platform": platform, "app_version": app_version,
                  "schema_version": schema_version}
        fields.update(extra)
        reply = self.call("Hello", fields, expect="HelloReply")
        if reply["protocol_version"] >= 2:
            self.agreed_zstd = bool(reply.get("zstd"))
            self.agreed_dictionary = reply.get("zstd_dictionary") or 0
        elif protocol_version >= 2:
            # A version-1 server compresses as it likes: read flags 1 and 3
            # (dictionary 1) from it, send raw (PROTOCOL.md §4).
            self.agreed_zstd = True
            self.agreed_dictionary = 1 if 1 in self.dictionaries else 0
        self.hello_reply = reply
        return reply

    def poll(self, since=0, limit=0):
        return self.call("Poll", {"since": since, "limit": limit}, expect="InfoPacket")

    def poll_all(self, since=0, limit=0):
        """Polls until `more` is false; returns the packets."""
        packets = []
        while True:
            p = self.poll(since, limit)
            packets.append(p)
            since = p["cursor"]
            if not p["more"]:
                return packets

    def ack(self, cursor):
        """Ack has no reply (PROTOCOL.md §3)."""
        self.send("Ack", {"cursor": cursor})

    def connection_add(self, peer):
        return self.call("ConnectionAdd", {"peer": peer}, expect="Ok")["connection"]

    def upload(self, msg_id, to, data, topic=b"", meta=b"", chunk=MAX_CHUNK):
        """Begin, chunks (one at a time), commit. Returns the commit's Ok."""
        begin = self.call("UploadBegin", {"id": msg_id, "to": to, "topic": topic, "meta": meta,
                                          "length": len(data), "digest": blob_digest(data)},
                          expect="UploadOffset")
        offset = begin["committed"]
        while offset < len(data):
            reply = self.call("UploadChunk", {"id": msg_id, "offset": offset,
                                              "data": data[offset:offset + chunk]},
                              expect="UploadOffset")
            if reply["committed"] <= offset:
                raise ProtocolError("upload did not advance at %d" % offset)
            offset = reply["committed"]
        return self.call("UploadCommit", {"id": msg_id}, expect="Ok")

    def download(self, msg_id, offset=0, length=0, timeout=None):
        """The blob's bytes from one DownloadRequest stream, each chunk's
        XXH3-64 checked and, for a whole blob, the XXH3-128 too. An Error on
        the stream raises ErrorReply."""
        rid = self.send("DownloadRequest", {"id": msg_id, "offset": offset, "length": length})
        out = bytearray()
        pos = offset
        while True:
            frame = self.next_for(rid, timeout)
            if frame.name == "Error":
                m = frame.msg
                raise ErrorReply(m["code"], m["message"], rid)
            if frame.name != "DownloadChunk":
                raise ProtocolError("DownloadRequest answered with %s" % frame.name)
            c = frame.msg
            if c["offset"] != pos:
                raise ProtocolError("chunk at %d, expected %d" % (c["offset"], pos))
            if chunk_digest(c["data"]) != c["xxh3_64"]:
                raise ProtocolError("chunk at %d fails its XXH3-64" % pos)
            out += c["data"]
            pos += len(c["data"])
            end = c["total_length"] if length == 0 else min(offset + length, c["total_length"])
            if pos >= end:
                break
        if offset == 0 and length == 0 and blob_digest(bytes(out)) != c["digest"]:
            raise ProtocolError("the blob fails its XXH3-128")
        return bytes(out)

    def status_update(self, msg_id, status):
        return self.call("StatusUpdate", {"id": msg_id, "status": status}, expect="Ok")["status"]


def load_dictionary(wire_dir, dict_id):
    """The published dictionary `dict_id` (wire/dictionaries/ID.zdict)."""
    with open(os.path.join(wire_dir, "dictionaries", "%d.zdict" % dict_id), "rb") as f:
        return f.read()


def connect(port, mkey, secret, host="127.0.0.1", **hello_fields):
    """A session that said Hello and got CURRENT (or UPDATE_OPTIONAL)."""
    s = Session(host, port, dictionaries=hello_fields.pop("dictionaries", None),
                rcvbuf=hello_fields.pop("rcvbuf", None))
    try:
        reply = s.hello(mkey, secret, **hello_fields)
        if reply["verdict"] not in (0, 1):
            raise ProtocolError("Hello verdict %d" % reply["verdict"])
    except BaseException:
        s.close()
        raise
    return s


def random_id():
    return os.urandom(16)
