"""Web Push (postbox.h "Web Push"): notifications parsed from the entries
the server stores them as, and the endpoint calls Client and Replica share."""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from ._conv import c_bytes, c_str, py_buffer
from ._ffi import ffi, lib, new_error, string
from .errors import raise_error
from .types import Endpoint, PushNotification, Urgency, _enum


def py_endpoint(e: Any) -> Endpoint:
    return Endpoint(token=string(e.token), app_id=string(e.app_id),
                    vapid_public_key=py_buffer(e.vapid_public_key, e.vapid_public_key_len),
                    created_ms=e.created_ms, url=string(e.url))


def py_push_notification(n: Any) -> PushNotification:
    return PushNotification(token=string(n.token), id=string(n.id), topic=string(n.topic),
                            urgency=_enum(Urgency, n.urgency), ttl_s=n.ttl_s,
                            received_ms=n.received_ms, encoding=string(n.encoding),
                            payload=py_buffer(n.payload, n.payload_len), key=string(n.key),
                            version=n.version)


def parse_push_notification(key: str, value: bytes, version: int = 0) -> PushNotification:
    """Reads a notification from its entry: `key` and `value` as any entry
    read returns them (an Entry's key and value, a pushed Info's entries);
    `version` is the entry's, kept in the result (0 if unknown).
    InvalidArgument if the key is not under postbox/push/ or the value is not
    a notification's."""
    value_p, value_len = c_bytes(value)
    out = ffi.new("pbx_push_notification**")
    err = new_error()
    rc = lib.pbx_push_notification_parse(c_str(key), value_p, value_len, version, out, err)
    if rc:
        raise_error(rc, err)
    try:
        return py_push_notification(out[0])
    finally:
        lib.pbx_push_notification_free(out[0])


def take_push_notification_list(p: Any) -> List[PushNotification]:
    try:
        return [py_push_notification(p.items[i]) for i in range(p.count)]
    finally:
        lib.pbx_push_notification_list_free(p)


# ---- The endpoint calls of a client or a replica: `fn` is the C function
# (pbx_client_... or pbx_replica_...), `handle` its first argument.

def register_endpoint(fn: Any, handle: Any, app_id: str, vapid_public_key: bytes) -> Endpoint:
    key_p, key_len = c_bytes(vapid_public_key)
    out = ffi.new("pbx_endpoint**")
    err = new_error()
    rc = fn(handle, c_str(app_id), key_p, key_len, out, err)
    if rc:
        raise_error(rc, err)
    try:
        return py_endpoint(out[0])
    finally:
        lib.pbx_endpoint_free(out[0])


def list_endpoints(fn: Any, handle: Any, start_after: Optional[str],
                   limit: int) -> Tuple[List[Endpoint], bool]:
    out = ffi.new("pbx_endpoint_list**")
    err = new_error()
    rc = fn(handle, c_str(start_after), limit, out, err)
    if rc:
        raise_error(rc, err)
    p = out[0]
    try:
        return [py_endpoint(p.items[i]) for i in range(p.count)], bool(p.more)
    finally:
        lib.pbx_endpoint_list_free(p)


def revoke_endpoint(fn: Any, handle: Any, token: str) -> None:
    err = new_error()
    rc = fn(handle, c_str(token), err)
    if rc:
        raise_error(rc, err)
