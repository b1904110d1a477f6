"""postbox: Python bindings over the C API (postbox.h, libpostbox_c.so.0),
loaded with cffi in ABI mode.

    Store    a store in a folder (pbx_db)
    Server   the sync server embedded over a Store (pbx_server)
    Client   one mailbox's blocking requests to a server (pbx_client)
    Replica  an app's mailbox, offline-first, syncing in the background (pbx_replica)
    ClientTls, ServerTls   TLS for the client and replica, and the server (tls.py)

Ids are Id (a bytes subclass of 16 bytes whose str() is hex); binary data is
bytes; keys and topics are str. Failures raise a PostboxError subclass per
error code (errors.py). Callbacks run on Python threads (see Replica, Client
and README.md). live_handles() counts what the library has not released.
"""

from __future__ import annotations

from ._ffi import LIBRARY_PATH, lib, string as _string
from .client import Client
from .errors import (BackOff, Conflict, DigestMismatch, Gone, Internal, InvalidArgument, NotFound,
                     PermissionDenied, PostboxError, ProtocolUnsupported, ResourceExhausted,
                     TooLarge, Unauthenticated, Unavailable, error_class)
from .push import parse_push_notification
from .replica import Replica
from .store import Server, Store
from .tls import ClientTls, ServerTls, tls_public_key_pin
from .types import (Change, Code, Connection, ConnectionKind, ConnectionState, Credentials,
                    Durability, Endpoint, Entry, Id, Info, Message, OutboxItem, OutboxKind,
                    OutboxOutcome, Platform, PostingPolicy, PushNotification, PutResult,
                    ReplicaState, Status, TlsVersion, Tombstone, TombstoneKind, Urgency,
                    Verdict)

__version__ = "0.3.0"


def version() -> str:
    """The C library's version as linked ("0.3.0")."""
    return _string(lib.pbx_version())


def version_number() -> int:
    """MAJOR * 10000 + MINOR * 100 + PATCH of the linked library."""
    return int(lib.pbx_version_number())


def live_handles() -> int:
    """Handles and returned objects the library has not released, process-wide."""
    return int(lib.pbx_live_handles())


def strerror(code: int) -> str:
    """A short name for a code ("NotFound"; "Unknown" for one not in the list)."""
    return _string(lib.pbx_strerror(int(code)))


def code_retryable(code: int) -> bool:
    """True if `code` is transient (Unavailable, BackOff)."""
    return bool(lib.pbx_code_retryable(int(code)))


__all__ = [
    "BackOff", "Change", "Client", "ClientTls", "Code", "Conflict", "Connection", "ConnectionKind",
    "ConnectionState", "Credentials", "DigestMismatch", "Durability", "Endpoint", "Entry", "Gone",
    "Id", "Info", "Internal", "InvalidArgument", "LIBRARY_PATH", "Message", "NotFound",
    "OutboxItem", "OutboxKind", "OutboxOutcome", "PermissionDenied", "Platform", "PostboxError",
    "PostingPolicy", "ProtocolUnsupported", "PushNotification", "PutResult", "Replica",
    "ReplicaState", "ResourceExhausted", "Server", "ServerTls", "Status", "Store", "TlsVersion",
    "Tombstone", "TombstoneKind", "TooLarge", "Unauthenticated", "Unavailable", "Urgency",
    "Verdict", "code_retryable", "error_class", "live_handles", "parse_push_notification",
    "strerror", "tls_public_key_pin", "version", "version_number",
]
