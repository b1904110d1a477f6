"""Conversions between Python values and the C structs: inputs become cffi
objects that live as long as the caller keeps them (for the call); outputs
are copied into the dataclasses of types.py before the C memory is freed."""

from __future__ import annotations

from typing import Any, Callable, Iterator, List, Optional, Tuple

from ._ffi import ffi, lib, string
from .types import (Change, Code, Connection, ConnectionState, Entry, Id, IdLike, Info, Message,
                    OutboxItem, OutboxKind, OutboxOutcome, Platform, ReplicaState, Status,
                    Tombstone, TombstoneKind, _enum)

NULL = ffi.NULL
_ZERO = bytes(16)


def c_id(value: IdLike) -> Any:
    """A new pbx_id* holding `value` (an Id, 16 bytes or 32 hex characters)."""
    p = ffi.new("pbx_id*")
    p.bytes = value if type(value) is Id else Id(value)
    return p


def c_id_or_null(value: Optional[IdLike]) -> Any:
    return NULL if value is None else c_id(value)


def c_str(value: Optional[str]) -> Any:
    """UTF-8 bytes for a char* argument (NULL for None). cffi copies bytes
    into a NUL-terminated buffer for the call."""
    if value is None:
        return NULL
    if not isinstance(value, str):
        raise TypeError("expected str, got %s" % type(value).__name__)
    if "\0" in value:
        # C would see the string cut at the NUL: refuse instead.
        from .errors import InvalidArgument
        raise InvalidArgument(-400, "InvalidArgument: a key, prefix, topic or token cannot "
                              "contain NUL: %r" % value, False)
    return value.encode("utf-8")


def c_bytes(value: Optional[bytes]) -> Tuple[Any, int]:
    """A (const void*, length) pair for a byte buffer argument."""
    if value is None:
        return NULL, 0
    if isinstance(value, str):
        raise TypeError("expected bytes, got str (encode it)")
    value = bytes(value)
    return ffi.from_buffer(value), len(value)


def py_id(cid: Any) -> Id:
    return Id(bytes(cid.bytes))


def py_id_or_none(cid: Any) -> Optional[Id]:
    b = bytes(cid.bytes)
    return None if b == _ZERO else Id(b)


def py_buffer(p: Any, n: int) -> bytes:
    return bytes(ffi.buffer(p, n)) if n else b""


def py_entry(e: Any, key: Optional[str] = None) -> Entry:
    """`key`: the caller's own key, when it asked for one (saves a decode)."""
    n = e.value_len
    return Entry(string(e.key) if key is None else key,
                 ffi.buffer(e.value, n)[:] if n else b"", e.version, e.seq)


def py_message(m: Any) -> Message:
    synced = m.synced_status
    return Message(id=py_id(m.id), from_=py_id(getattr(m, "from")), to=py_id(m.to),
                   topic=string(m.topic), meta=py_buffer(m.meta, m.meta_len), length=m.length,
                   digest=bytes(m.digest), status=_enum(Status, m.status),
                   created_ms=m.created_ms, seq=m.seq, incoming=bool(m.incoming),
                   synced_status=_enum(Status, synced) if synced else None,
                   pending=bool(m.pending))


def py_connection(c: Any) -> Connection:
    return Connection(py_id(c.peer), _enum(ConnectionState, c.state))


def py_tombstone(t: Any) -> Tombstone:
    return Tombstone(_enum(TombstoneKind, t.kind), py_id_or_none(t.id), string(t.key),
                     t.version, t.seq)


def py_info(i: Any) -> Info:
    return Info(cursor=i.cursor, since=i.since, reset=bool(i.reset), more=bool(i.more),
                incoming=tuple(py_message(i.incoming[k]) for k in range(i.incoming_count)),
                outgoing=tuple(py_message(i.outgoing[k]) for k in range(i.outgoing_count)),
                entries=tuple(py_entry(i.entries[k]) for k in range(i.entries_count)),
                tombstones=tuple(py_tombstone(i.tombstones[k])
                                 for k in range(i.tombstones_count)))


def py_change(c: Any) -> Change:
    return Change(
        messages=tuple(py_id(c.messages[k]) for k in range(c.messages_count)),
        messages_removed=tuple(py_id(c.messages_removed[k])
                               for k in range(c.messages_removed_count)),
        entries=tuple(string(c.entries[k]) for k in range(c.entries_count)),
        entries_removed=tuple(string(c.entries_removed[k])
                              for k in range(c.entries_removed_count)),
        reset=bool(c.reset), cursor=c.cursor)


def py_outcome(o: Any) -> OutboxOutcome:
    return OutboxOutcome(item=o.item, kind=_enum(OutboxKind, o.kind),
                         message=py_id_or_none(o.message), key=string(o.key),
                         code=_enum(Code, o.code), message_text=string(o.message_text),
                         cancelled=bool(o.cancelled), applied=bool(o.applied))


def py_outbox_item(o: Any) -> OutboxItem:
    kind = _enum(OutboxKind, o.kind)
    return OutboxItem(item=o.item, kind=kind, created_ms=o.created_ms, attempts=o.attempts,
                      message=py_id_or_none(o.message),
                      status=_enum(Status, o.status) if kind == OutboxKind.STATUS else None,
                      key=string(o.key), version=o.version, peer=py_id_or_none(o.peer),
                      platform=(_enum(Platform, o.platform)
                                if kind == OutboxKind.REGISTER_PUSH else None),
                      length=o.length)


def py_state(s: Any) -> ReplicaState:
    return ReplicaState(connected=bool(s.connected), cursor=s.cursor, pending=s.pending,
                        packets_applied=s.packets_applied, sessions=s.sessions,
                        last_error_code=_enum(Code, s.last_error_code))


# ---- Taking ownership of what the library returned: copy it out, free it.

def take_entry(p: Any, key: Optional[str] = None) -> Entry:
    try:
        return py_entry(p, key)
    finally:
        lib.pbx_entry_free(p)


def take_entry_page(p: Any) -> Tuple[List[Entry], bool]:
    try:
        return [py_entry(p.items[i]) for i in range(p.count)], bool(p.more)
    finally:
        lib.pbx_entry_list_free(p)


def take_message(p: Any) -> Message:
    try:
        return py_message(p)
    finally:
        lib.pbx_message_free(p)


def take_message_list(p: Any) -> List[Message]:
    try:
        return [py_message(p.items[i]) for i in range(p.count)]
    finally:
        lib.pbx_message_list_free(p)


def take_connection_page(p: Any) -> Tuple[List[Connection], bool]:
    try:
        return [py_connection(p.items[i]) for i in range(p.count)], bool(p.more)
    finally:
        lib.pbx_connection_list_free(p)


def take_info(p: Any) -> Info:
    try:
        return py_info(p)
    finally:
        lib.pbx_info_free(p)


def take_outbox_list(p: Any) -> List[OutboxItem]:
    try:
        return [py_outbox_item(p.items[i]) for i in range(p.count)]
    finally:
        lib.pbx_outbox_list_free(p)


def take_buffer(p: Any, n: int) -> bytes:
    try:
        return bytes(ffi.buffer(p, n)) if n else b""
    finally:
        lib.pbx_free(p)


def pages(fetch: Callable[[Any], Tuple[List[Any], bool]],
          last_key: Callable[[Any], Any]) -> Iterator[Any]:
    """Yields the items of fetch(start_after) pages, fetching the next page
    after the last item's key while a page says `more`."""
    after = None
    while True:
        items, more = fetch(after)
        yield from items
        if not more or not items:
            return
        after = last_key(items[-1])
