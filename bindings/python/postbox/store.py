"""Store (pbx_db): a postbox store in a folder, and Server (pbx_server): the
sync server embedded over a Store. Both are thread-safe handles."""

from __future__ import annotations

import os
from typing import Any, Iterator, List, Optional, Tuple, Union

from . import _runtime, tls as _tls
from ._conv import (c_bytes, c_id, c_id_or_null, c_str, pages, py_id, take_buffer,
                    take_connection_page, take_entry, take_entry_page, take_info, take_message)
from ._ffi import ffi, lib, new_error
from .errors import InvalidArgument, raise_error
from .types import (Connection, ConnectionKind, Credentials, Durability, Entry, IdLike, Info,
                    Message, PostingPolicy, PutResult, Status)

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_PAGE = 256


class Store(_runtime.Handle):
    """A store (pbx_db), opened or created in folder `path`. Thread-safe.
    Use as a context manager or call close() (idempotent)."""

    def __init__(self, path: PathLike, *, durability: Durability = Durability.DURABLE,
                 posting_policy: PostingPolicy = PostingPolicy.CONNECTED,
                 max_map_size: Optional[int] = None, slot_depth: Optional[int] = None,
                 read_only: bool = False) -> None:
        self._h: Any = None
        options = ffi.new("pbx_db_options*")
        lib.pbx_db_options_init(options)
        options.durability = int(durability)
        options.posting_policy = int(posting_policy)
        if max_map_size is not None:
            options.max_map_size = max_map_size
        if slot_depth is not None:
            options.slot_depth = slot_depth
        options.read_only = 1 if read_only else 0
        out = ffi.new("pbx_db**")
        err = new_error()
        rc = lib.pbx_db_open(os.fsencode(path), options, out, err)
        if rc:
            raise_error(rc, err)
        self._h = out[0]
        _runtime.track(self, 2)

    def close(self) -> None:
        """Closes the store. Conflict, and nothing is closed, while a Server
        started on it still runs. Closing twice does nothing."""
        if self._h is None:
            return
        err = new_error()
        rc = lib.pbx_db_close(self._h, err)
        if rc:
            raise_error(rc, err)
        self._h = None
        _runtime.untrack(self, 2)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- Mailboxes and connections

    def create_mailbox(self) -> Credentials:
        """A new mailbox with a random mkey and secret (shown only here)."""
        out = ffi.new("pbx_credentials*")
        err = new_error()
        rc = lib.pbx_db_create_mailbox(self._handle(), out, err)
        if rc:
            raise_error(rc, err)
        return Credentials(py_id(out.mkey), ffi.string(out.secret).decode("ascii"))

    def authenticate(self, mkey: IdLike, secret: str) -> None:
        """Returns if `secret` is the mailbox's; Unauthenticated otherwise."""
        err = new_error()
        rc = lib.pbx_db_authenticate(self._handle(), c_id(mkey), c_str(secret), err)
        if rc:
            raise_error(rc, err)

    def connect(self, a: IdLike, b: IdLike) -> None:
        """The operator's override: connects a and b at once (idempotent).
        NotFound if either is unknown; InvalidArgument if a == b."""
        err = new_error()
        rc = lib.pbx_db_connect(self._handle(), c_id(a), c_id(b), err)
        if rc:
            raise_error(rc, err)

    def disconnect(self, actor: IdLike, peer: IdLike) -> None:
        """`actor` ends its connection with `peer`, withdraws its request and
        declines peer's (idempotent). NotFound if `actor` is unknown."""
        err = new_error()
        rc = lib.pbx_db_disconnect(self._handle(), c_id(actor), c_id(peer), err)
        if rc:
            raise_error(rc, err)

    def list_connections(self, mkey: IdLike, kind: ConnectionKind = ConnectionKind.CONNECTED,
                         start_after: Optional[IdLike] = None,
                         limit: int = 0) -> Tuple[List[Connection], bool]:
        """One page: (connections in peer order after `start_after`, more)."""
        out = ffi.new("pbx_connection_list**")
        err = new_error()
        rc = lib.pbx_db_list_connections(self._handle(), c_id(mkey), int(kind),
                                         c_id_or_null(start_after), limit, out, err)
        if rc:
            raise_error(rc, err)
        return take_connection_page(out[0])

    def connections(self, mkey: IdLike, kind: ConnectionKind = ConnectionKind.CONNECTED, *,
                    page_size: int = DEFAULT_PAGE) -> Iterator[Connection]:
        """Every connection of `kind`, paging until the last page."""
        return pages(lambda after: self.list_connections(mkey, kind, after, page_size),
                      lambda c: c.peer)

    def delete_mailbox(self, mkey: IdLike) -> None:
        """Deletes the mailbox with its entries and messages. NotFound if unknown."""
        err = new_error()
        rc = lib.pbx_db_delete_mailbox(self._handle(), c_id(mkey), err)
        if rc:
            raise_error(rc, err)

    def changes(self, mkey: IdLike, since: int = 0, limit: int = 0) -> Info:
        """The mailbox's feed after cursor `since` (0: everything), at most
        `limit` items (0: no limit). NotFound for an unknown mailbox."""
        out = ffi.new("pbx_info**")
        err = new_error()
        rc = lib.pbx_db_changes(self._handle(), c_id(mkey), since, limit, out, err)
        if rc:
            raise_error(rc, err)
        return take_info(out[0])

    # ---- Entries

    def put_entry(self, mkey: IdLike, key: str, value: bytes, version: int = 0) -> PutResult:
        """Puts `value` at `key` if (version, value) wins the merge; version 0
        means the stored version + 1. TooLarge for a key or value over its limit."""
        value_p, value_len = c_bytes(value)
        out = ffi.new("pbx_put_result*")
        err = new_error()
        rc = lib.pbx_db_put_entry(self._handle(), c_id(mkey), c_str(key), value_p, value_len,
                                  version, out, err)
        if rc:
            raise_error(rc, err)
        return PutResult(bool(out.applied), out.version)

    def delete_entry(self, mkey: IdLike, key: str, version: int = 0) -> PutResult:
        """A versioned tombstone, merged like a put."""
        out = ffi.new("pbx_put_result*")
        err = new_error()
        rc = lib.pbx_db_delete_entry(self._handle(), c_id(mkey), c_str(key), version, out, err)
        if rc:
            raise_error(rc, err)
        return PutResult(bool(out.applied), out.version)

    def get_entry(self, mkey: IdLike, key: str) -> Entry:
        """The entry; NotFound if absent or deleted."""
        out = ffi.new("pbx_entry**")
        err = new_error()
        rc = lib.pbx_db_get_entry(self._handle(), c_id(mkey), c_str(key), out, err)
        if rc:
            raise_error(rc, err)
        return take_entry(out[0])

    def list_entries(self, mkey: IdLike, prefix: str = "", start_after: Optional[str] = None,
                     limit: int = DEFAULT_PAGE) -> Tuple[List[Entry], bool]:
        """One page: (live entries starting with `prefix` after `start_after`, more).
        `limit` 0: every entry in one page."""
        out = ffi.new("pbx_entry_list**")
        err = new_error()
        rc = lib.pbx_db_list_entries(self._handle(), c_id(mkey), c_str(prefix),
                                     c_str(start_after), limit, out, err)
        if rc:
            raise_error(rc, err)
        return take_entry_page(out[0])

    def entries(self, mkey: IdLike, prefix: str = "", *,
                page_size: int = DEFAULT_PAGE) -> Iterator[Entry]:
        """Every live entry starting with `prefix`, in key order, paging with
        start_after until the last page."""
        return pages(lambda after: self.list_entries(mkey, prefix, after, page_size),
                      lambda e: e.key)

    # ---- Messages

    def post_message(self, from_: IdLike, to: IdLike, blob: bytes, topic: str = "",
                     meta: bytes = b"", id: Optional[IdLike] = None) -> Message:
        """Commits a message with its whole blob (`id` None: a random one).
        PermissionDenied if not connected (policy CONNECTED), Conflict for an
        id reused with other content, Gone for a superseded id, TooLarge."""
        meta_p, meta_len = c_bytes(meta)
        blob_p, blob_len = c_bytes(blob)
        out = ffi.new("pbx_message**")
        err = new_error()
        rc = lib.pbx_db_post_message(self._handle(), c_id(from_), c_id(to), c_id_or_null(id),
                                     c_str(topic), meta_p, meta_len, blob_p, blob_len, out, err)
        if rc:
            raise_error(rc, err)
        return take_message(out[0])

    def get_message(self, actor: IdLike, id: IdLike) -> Message:
        """The message as `actor` (a party) sees it. PermissionDenied for
        anyone else, NotFound, Gone."""
        out = ffi.new("pbx_message**")
        err = new_error()
        rc = lib.pbx_db_get_message(self._handle(), c_id(actor), c_id(id), out, err)
        if rc:
            raise_error(rc, err)
        return take_message(out[0])

    def advance_status(self, actor: IdLike, id: IdLike, status: Status) -> Status:
        """Max-merges `status` into the message; returns the status after.
        Only the recipient may (PermissionDenied); NotFound, Gone."""
        out = ffi.new("int*")
        err = new_error()
        rc = lib.pbx_db_advance_status(self._handle(), c_id(actor), c_id(id), int(status), out,
                                       err)
        if rc:
            raise_error(rc, err)
        return Status(out[0])

    def read_blob(self, actor: IdLike, id: IdLike, offset: int = 0,
                  length: Optional[int] = None) -> bytes:
        """Bytes [offset, offset + length) of the blob, clipped to its end
        (length None: to the end). InvalidArgument for an offset past the end."""
        out = ffi.new("uint8_t**")
        out_len = ffi.new("size_t*")
        err = new_error()
        rc = lib.pbx_db_read_blob(self._handle(), c_id(actor), c_id(id), offset,
                                  0xFFFFFFFFFFFFFFFF if length is None else length, out, out_len,
                                  err)
        if rc:
            raise_error(rc, err)
        return take_buffer(out[0], out_len[0])


class Server(_runtime.Handle):
    """The sync server (pbx_server) embedded over `store`, listening on
    host:port (port 0: an ephemeral one, see .port). The store cannot close
    before the server stops. Use as a context manager or call close() /
    stop() (idempotent; returns within about 2 s).

    tls: a postbox.ServerTls to listen with TLS only (None: plain TCP);
    InvalidArgument names a certificate or key that cannot be loaded."""

    def __init__(self, store: Store, *, host: str = "127.0.0.1", port: int = 0,
                 threads: int = 1, tls: Optional[_tls.ServerTls] = None) -> None:
        self._h: Any = None
        options = ffi.new("pbx_server_options*")
        lib.pbx_server_options_init(options)
        host_c = ffi.new("char[]", host.encode("utf-8"))
        options.host = host_c
        options.port = port
        options.threads = threads
        keep: List[Any] = []
        _tls.fill_server(options.tls, tls, keep)
        out = ffi.new("pbx_server**")
        err = new_error()
        rc = lib.pbx_server_start(store._handle(), options, out, err)
        if rc:
            raise_error(rc, err)
        self._h = out[0]
        self.store = store  # keeps the Store alive while the server runs
        port_out = ffi.new("uint16_t*")
        rc = lib.pbx_server_port(self._h, port_out, err)
        if rc:
            lib.pbx_server_stop(self._h)
            self._h = None
            raise_error(rc, err)
        self.port: int = port_out[0]
        self.host = host
        self.tls = tls
        _runtime.track(self, 1)

    def reload_tls(self) -> None:
        """Reads the certificate, key and client CA files again (as
        postbox-server does on SIGHUP): connections accepted from now on use
        them; open sessions are not interrupted. On an error
        (InvalidArgument naming the file) nothing changes. Does nothing for
        a server without TLS."""
        err = new_error()
        rc = lib.pbx_server_reload_tls(self._handle(), err)
        if rc:
            raise_error(rc, err)

    def close(self) -> None:
        """Stops gracefully (queued writes are committed and answered)."""
        if self._h is None:
            return
        h, self._h = self._h, None
        lib.pbx_server_stop(h)
        _runtime.untrack(self, 1)

    stop = close

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
