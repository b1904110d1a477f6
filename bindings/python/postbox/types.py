"""The data model: Id, the IntEnums of postbox.h (same numbers as C) and
frozen dataclasses copied out of the library's structs (nothing here points
into C memory)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional, Tuple, Type, TypeVar, Union

from ._ffi import ffi, lib


class Id(bytes):
    """A 16-byte identifier (a mailbox key or a message id). It is bytes, so
    it hashes, compares and packs like bytes; str() is its 32 hex characters.
    Every function taking an id accepts an Id, 16 bytes, or 32 hex characters."""

    __slots__ = ()

    def __new__(cls, value: Union[bytes, bytearray, memoryview, str]) -> "Id":
        if isinstance(value, str):
            return cls.from_hex(value)
        value = bytes(value)
        if len(value) != 16:
            from .errors import InvalidArgument
            raise InvalidArgument(-400, "InvalidArgument: an id is 16 bytes, got %d" % len(value),
                                  False)
        return super().__new__(cls, value)

    @classmethod
    def from_hex(cls, text: str) -> "Id":
        """Exactly 32 hex characters, either case (pbx_id_from_hex);
        InvalidArgument otherwise."""
        out = ffi.new("pbx_id*")
        err = ffi.new("pbx_error*")
        rc = lib.pbx_id_from_hex(text.encode("utf-8"), out, err)
        if rc != 0:
            from .errors import raise_error
            raise_error(rc, err)
        return cls(bytes(out.bytes))

    @classmethod
    def random(cls) -> "Id":
        """16 bytes from a cryptographically secure generator (pbx_id_random)."""
        out = ffi.new("pbx_id*")
        err = ffi.new("pbx_error*")
        rc = lib.pbx_id_random(out, err)
        if rc != 0:
            from .errors import raise_error
            raise_error(rc, err)
        return cls(bytes(out.bytes))

    def __str__(self) -> str:
        """The 32 lowercase hex characters (pbx_id_to_hex)."""
        cid = ffi.new("pbx_id*")
        cid.bytes = self
        out = ffi.new("char[33]")
        lib.pbx_id_to_hex(cid, out, ffi.NULL)
        return str(ffi.string(out).decode("ascii"))

    def __repr__(self) -> str:
        return "Id(%r)" % self.hex()


IdLike = Union[Id, bytes, str]

ZERO_ID = Id(bytes(16))


class Code(enum.IntEnum):
    """pbx_code: the protocol's codes, negated (NOT_FOUND is -404)."""
    OK = 0
    INVALID_ARGUMENT = -400
    UNAUTHENTICATED = -401
    PERMISSION_DENIED = -403
    NOT_FOUND = -404
    CONFLICT = -409
    GONE = -410
    TOO_LARGE = -413
    DIGEST_MISMATCH = -422
    PROTOCOL_UNSUPPORTED = -426
    BACK_OFF = -429
    INTERNAL = -500
    UNAVAILABLE = -503
    RESOURCE_EXHAUSTED = -507


class Status(enum.IntEnum):
    """A message's status; it only rises."""
    UPLOADED = 1
    DOWNLOADED = 2
    VIEWED = 3


class Platform(enum.IntEnum):
    NONE = 0  # registering it clears the registration
    IOS = 1
    ANDROID = 2
    WEB = 3


class ConnectionState(enum.IntEnum):
    NONE = 0
    REQUESTED = 1  # this mailbox asked; the peer has not asked back
    CONNECTED = 2


class ConnectionKind(enum.IntEnum):
    CONNECTED = 0  # mailboxes connected to this one
    REQUESTED = 1  # this mailbox's requests not yet answered
    INCOMING = 2   # requests other mailboxes made to this one


class TombstoneKind(enum.IntEnum):
    MESSAGE = 1
    ENTRY = 2


class OutboxKind(enum.IntEnum):
    STATUS = 1
    PUT_ENTRY = 2
    DELETE_ENTRY = 3
    POST = 4
    ADD_CONNECTION = 5
    REMOVE_CONNECTION = 6
    REGISTER_PUSH = 7


class Urgency(enum.IntEnum):
    """A Web Push notification's urgency (RFC 8030 section 5.3), lowest first."""
    VERY_LOW = 0
    LOW = 1
    NORMAL = 2
    HIGH = 3


class Verdict(enum.IntEnum):
    """A Hello's verdict on the app's version."""
    CURRENT = 0
    UPDATE_OPTIONAL = 1
    UPDATE_REQUIRED = 2
    UPDATE_SCHEMA_REQUIRED = 3


class TlsVersion(enum.IntEnum):
    """The oldest TLS version a side accepts (pbx_tls_version)."""
    TLS_1_2 = 12
    TLS_1_3 = 13


class Durability(enum.IntEnum):
    DURABLE = 0  # every write synced before it returns
    RELAXED = 1  # a system crash may undo the last write


class PostingPolicy(enum.IntEnum):
    CONNECTED = 0  # posting needs a connection
    OPEN = 1       # anyone who knows an mkey may post to it


E = TypeVar("E", bound=enum.IntEnum)


def _enum(cls: Type[E], value: int) -> E:
    """value as `cls`, or the plain int if this version of the package does
    not know it (a newer library): typed as `cls` since it compares like one."""
    try:
        return cls(value)
    except ValueError:
        return value  # type: ignore[return-value]


@dataclass(frozen=True)
class Credentials:
    mkey: Id
    secret: str  # shown only once, by Store.create_mailbox


@dataclass(frozen=True)
class Entry:
    key: str
    value: bytes
    version: int
    seq: int = 0  # position in the feed (0 outside a feed)


@dataclass(frozen=True)
class PutResult:
    applied: bool  # False: the stored state won the merge and is unchanged
    version: int   # the stored version after the call


@dataclass(frozen=True)
class Message:
    id: Id
    from_: Id
    to: Id
    topic: str
    meta: bytes
    length: int    # the blob's length
    digest: bytes  # the blob's XXH3-128, big-endian (16 bytes)
    status: Status
    created_ms: int
    seq: int
    # Set only by the replica's reads:
    incoming: bool = False           # this mailbox is the recipient
    synced_status: Optional[Status] = None  # what the server confirmed; None: post not acknowledged
    pending: bool = False            # a post or status raise still in the outbox


@dataclass(frozen=True)
class Connection:
    peer: Id
    state: ConnectionState


@dataclass(frozen=True)
class Tombstone:
    kind: TombstoneKind
    id: Optional[Id]  # MESSAGE: the message
    key: str          # ENTRY: the entry key
    version: int      # ENTRY: the delete's version
    seq: int


@dataclass(frozen=True)
class Info:
    """An info packet: a poll reply (Store.changes, Client.poll) or a push."""
    cursor: int   # pass as `since` next time
    since: int
    reset: bool   # a full snapshot: items not in it are gone
    more: bool    # the limit cut it short: poll again from cursor
    incoming: Tuple[Message, ...]
    outgoing: Tuple[Message, ...]
    entries: Tuple[Entry, ...]
    tombstones: Tuple[Tombstone, ...]


@dataclass(frozen=True)
class Change:
    """What one local transaction of a replica changed in what the app sees."""
    messages: Tuple[Id, ...]          # added or changed
    messages_removed: Tuple[Id, ...]  # superseded, deleted, rolled back
    entries: Tuple[str, ...]          # keys put
    entries_removed: Tuple[str, ...]
    reset: bool                       # a full snapshot rebuilt the mirror
    cursor: int


@dataclass(frozen=True)
class OutboxOutcome:
    """How an outbox item ended (Replica on_outbox)."""
    item: int
    kind: OutboxKind
    message: Optional[Id]  # STATUS, POST
    key: str               # PUT_ENTRY, DELETE_ENTRY: the key; POST: the topic
    code: Code             # Code.OK: acknowledged; else the permanent error, effect rolled back
    message_text: str
    cancelled: bool
    applied: bool          # False: acknowledged but the server's state won the merge

    @property
    def ok(self) -> bool:
        return self.code == Code.OK

    def error(self) -> Optional[Exception]:
        """The exception for a refused item (None if acknowledged)."""
        if self.code == Code.OK:
            return None
        from .errors import make_error
        return make_error(self.code, self.message_text)


@dataclass(frozen=True)
class OutboxItem:
    """An outbox item not yet ended (Replica.pending)."""
    item: int
    kind: OutboxKind
    created_ms: int
    attempts: int
    message: Optional[Id]       # STATUS, POST
    status: Optional[Status]    # STATUS: the status asked
    key: str                    # PUT_ENTRY, DELETE_ENTRY: the key; POST: the topic
    version: int                # PUT_ENTRY, DELETE_ENTRY
    peer: Optional[Id]          # POST: the recipient; ADD_/REMOVE_CONNECTION: the peer
    platform: Optional[Platform]  # REGISTER_PUSH
    length: int                 # POST: the blob's length


@dataclass(frozen=True)
class ReplicaState:
    connected: bool
    cursor: int
    pending: int
    packets_applied: int
    sessions: int
    last_error_code: Code  # Code.OK: none


@dataclass(frozen=True)
class Endpoint:
    """A Web Push endpoint of a mailbox (Client/Replica.register_endpoint)."""
    token: str               # 22 characters of base64url
    app_id: str
    vapid_public_key: bytes  # empty or 65 bytes
    created_ms: int
    url: str                 # where app servers send; "" if the server has no public URL set


@dataclass(frozen=True)
class PushNotification:
    """A Web Push notification as the server stores it: an entry of the
    mailbox under postbox/push/<token>/ (parse_push_notification,
    Replica.push_notifications). Consumed by deleting that entry."""
    token: str        # the endpoint's token
    id: str           # 32 lowercase hex characters, unique per notification
    topic: str        # "" or 1..32 characters of base64url
    urgency: Urgency
    ttl_s: int        # seconds the app server asked it be kept
    received_ms: int  # when the server stored it
    encoding: str     # the Content-Encoding sent ("aes128gcm"), or ""
    payload: bytes    # as the app server sent it
    key: str          # the entry key it is stored under
    version: int      # the entry's version (what consuming deletes); 0 if not known
