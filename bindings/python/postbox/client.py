"""Client (pbx_client): one mailbox's requests to a postbox server, each a
blocking call (the GIL is released while it waits). Thread-safe handle."""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterator, List, Optional, Tuple

from . import _runtime, push, tls as _tls
from ._conv import (c_bytes, c_id, c_id_or_null, c_str, pages, py_info, take_buffer,
                    take_connection_page, take_entry, take_entry_page, take_info)
from ._ffi import ffi, lib, new_error
from .errors import raise_error
from .types import (Connection, ConnectionKind, ConnectionState, Endpoint, Entry, Id, IdLike,
                    Info, Platform, PutResult, Status, Verdict, _enum)

PushCallback = Callable[[Info], Any]


class Client(_runtime.Handle):
    """A client of the server at host:port for mailbox `mkey` (created
    without connecting: call connect()). Use as a context manager or call
    close() (idempotent; calls in progress on other threads raise
    Unavailable, and close returns after them).

    on_push(info) receives pushed info packets (and, after each (re)connect,
    the packets of the poll from the last acknowledged cursor, start_cursor
    the first time), in order. It runs on a Python thread, never on the
    client's native thread: on this client's dispatcher thread, or through
    `executor` (a callable taking a zero-argument callable, such as
    loop.call_soon_threadsafe) if given. It may call this client's methods.
    A packet is acknowledged to the server after on_push returned (or
    raised), so one the app has not processed when the session is lost is
    delivered again after the reconnect: at least once.
    An exception in on_push goes to sys.unraisablehook. No callback runs
    once close() has begun.

    tls: a postbox.ClientTls to speak TLS to the server (None: plain TCP).
    A failed handshake makes connect() raise Unavailable naming OpenSSL's
    reason; files that cannot be loaded raise InvalidArgument here.
    """

    def __init__(self, mkey: IdLike, secret: str, *, host: str = "127.0.0.1", port: int = 7420,
                 app_version: Optional[str] = None, request_timeout: float = 5.0,
                 reconnect: bool = True, on_push: Optional[PushCallback] = None,
                 start_cursor: int = 0,
                 executor: Optional[_runtime.Executor] = None,
                 tls: Optional[_tls.ClientTls] = None) -> None:
        self._h: Any = None
        self._deliver = True
        self._dispatcher: Optional[_runtime.Dispatcher] = None
        self._callback: Any = None
        self._ack_lock = threading.Lock()
        options = ffi.new("pbx_client_options*")
        lib.pbx_client_options_init(options)
        keep = [ffi.new("char[]", host.encode("utf-8")), ffi.new("char[]", secret.encode("utf-8"))]
        options.host, options.secret = keep
        if app_version is not None:
            keep.append(ffi.new("char[]", app_version.encode("utf-8")))
            options.app_version = keep[-1]
        options.port = port
        options.mkey = c_id(mkey)[0]
        options.request_timeout_ms = max(1, int(request_timeout * 1000))
        options.reconnect = 1 if reconnect else 0
        options.start_cursor = start_cursor
        _tls.fill_client(options.tls, tls, keep)
        if on_push is not None:
            if executor is None:
                self._dispatcher = _runtime.Dispatcher("postbox-client-push")
                submit: _runtime.Executor = self._dispatcher.submit
            else:
                submit = executor
            self._on_push = on_push
            self._submit = submit
            self._callback = ffi.callback("void(void*, const pbx_info*)", self._native_push)
            options.on_push = self._callback
            options.manual_ack = 1  # acknowledged in _deliver_push, after on_push ran
        self.mkey = Id(mkey)
        out = ffi.new("pbx_client**")
        err = new_error()
        rc = lib.pbx_client_create(options, out, err)
        if rc:
            if self._dispatcher is not None:
                self._dispatcher.stop()
            raise_error(rc, err)
        self._h = out[0]
        _runtime.track(self, 0)

    def _native_push(self, _context: Any, info: Any) -> None:
        # On the client's native thread: copy the borrowed packet, queue the
        # Python callback, return.
        try:
            if not self._deliver:
                return
            packet = py_info(info)
            self._submit(lambda: self._deliver_push(packet))
        except BaseException as e:  # noqa: BLE001
            _runtime.report_callback_error(e, "on_push", self)

    def _deliver_push(self, packet: Info) -> None:
        if not self._deliver:
            return
        try:
            self._on_push(packet)
        except BaseException as e:  # noqa: BLE001
            _runtime.report_callback_error(e, "on_push", self._on_push)
        with self._ack_lock:  # close() does not release the handle under an ack
            if self._h is not None and self._deliver:
                # Unavailable (the session is gone: the packet comes again
                # after the reconnect) and InvalidArgument (a packet of an
                # earlier session) need nothing done.
                lib.pbx_client_ack(self._h, packet.cursor, ffi.NULL)

    @property
    def push_thread(self) -> Any:
        """The dispatcher thread on_push runs on (None with an executor or no on_push)."""
        return None if self._dispatcher is None else self._dispatcher.thread

    def close(self) -> None:
        """Ends the session, joins the client's thread and releases it. Calls in
        progress on other threads raise Unavailable; close returns after them."""
        if self._h is None:
            return
        with self._ack_lock:
            self._deliver = False
            h, self._h = self._h, None
        lib.pbx_client_close(h)
        if self._dispatcher is not None:
            self._dispatcher.stop()
        _runtime.untrack(self, 0)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def connect(self) -> Verdict:
        """Connects and says Hello; returns the server's verdict on
        app_version. Unauthenticated, ProtocolUnsupported, Unavailable."""
        verdict = ffi.new("int*")
        err = new_error()
        rc = lib.pbx_client_connect(self._handle(), verdict, err)
        if rc:
            raise_error(rc, err)
        return _enum(Verdict, verdict[0])

    def ping(self) -> None:
        """A round trip to the server (Unavailable if none within the timeout)."""
        err = new_error()
        rc = lib.pbx_client_ping(self._handle(), err)
        if rc:
            raise_error(rc, err)

    # ---- Entries

    def put_entry(self, key: str, value: bytes, version: int = 0) -> PutResult:
        value_p, value_len = c_bytes(value)
        out = ffi.new("pbx_put_result*")
        err = new_error()
        rc = lib.pbx_client_put_entry(self._handle(), c_str(key), value_p, value_len, version,
                                      out, err)
        if rc:
            raise_error(rc, err)
        return PutResult(bool(out.applied), out.version)

    def get_entry(self, key: str) -> Entry:
        """NotFound if absent."""
        out = ffi.new("pbx_entry**")
        err = new_error()
        rc = lib.pbx_client_get_entry(self._handle(), c_str(key), out, err)
        if rc:
            raise_error(rc, err)
        return take_entry(out[0])

    def delete_entry(self, key: str, version: int = 0) -> PutResult:
        out = ffi.new("pbx_put_result*")
        err = new_error()
        rc = lib.pbx_client_delete_entry(self._handle(), c_str(key), version, out, err)
        if rc:
            raise_error(rc, err)
        return PutResult(bool(out.applied), out.version)

    def list_entries(self, prefix: str = "", start_after: Optional[str] = None,
                     limit: int = 0) -> Tuple[List[Entry], bool]:
        """One page (limit 0: the server's page): (entries, more)."""
        out = ffi.new("pbx_entry_list**")
        err = new_error()
        rc = lib.pbx_client_list_entries(self._handle(), c_str(prefix), c_str(start_after),
                                         limit, out, err)
        if rc:
            raise_error(rc, err)
        return take_entry_page(out[0])

    def entries(self, prefix: str = "", *, page_size: int = 0) -> Iterator[Entry]:
        """Every live entry starting with `prefix`, paging until the last page."""
        return pages(lambda after: self.list_entries(prefix, after, page_size), lambda e: e.key)

    # ---- Connections and push

    def add_connection(self, peer: IdLike) -> ConnectionState:
        """Asks to connect: CONNECTED once the peer asked too, else REQUESTED
        (also for an unknown mailbox). BackOff past the server's cap."""
        state = ffi.new("int*")
        err = new_error()
        rc = lib.pbx_client_add_connection(self._handle(), c_id(peer), state, err)
        if rc:
            raise_error(rc, err)
        return _enum(ConnectionState, state[0])

    def remove_connection(self, peer: IdLike) -> None:
        """Ends the connection, withdraws the request or declines the peer's."""
        err = new_error()
        rc = lib.pbx_client_remove_connection(self._handle(), c_id(peer), err)
        if rc:
            raise_error(rc, err)

    def list_connections(self, kind: ConnectionKind = ConnectionKind.CONNECTED,
                         start_after: Optional[IdLike] = None,
                         limit: int = 0) -> Tuple[List[Connection], bool]:
        out = ffi.new("pbx_connection_list**")
        err = new_error()
        rc = lib.pbx_client_list_connections(self._handle(), int(kind),
                                             c_id_or_null(start_after), limit, out, err)
        if rc:
            raise_error(rc, err)
        return take_connection_page(out[0])

    def connections(self, kind: ConnectionKind = ConnectionKind.CONNECTED, *,
                    page_size: int = 0) -> Iterator[Connection]:
        return pages(lambda after: self.list_connections(kind, after, page_size),
                     lambda c: c.peer)

    def register_push(self, platform: Platform, token: str) -> None:
        """Registers the device's push token (Platform.NONE clears it)."""
        err = new_error()
        rc = lib.pbx_client_register_push(self._handle(), int(platform), c_str(token), err)
        if rc:
            raise_error(rc, err)

    # ---- Web Push endpoints (protocol 3: ProtocolUnsupported from an older server)

    def register_endpoint(self, app_id: str, vapid_public_key: bytes = b"") -> Endpoint:
        """The mailbox's endpoint for `app_id` with this VAPID public key
        (empty, or a 65-byte uncompressed P-256 point): the same one when
        registered again, a new one (the old revoked) for a new key.
        InvalidArgument for a bad app id or key, BackOff past the server's cap
        on live endpoints (64 by default), Unavailable."""
        return push.register_endpoint(lib.pbx_client_register_endpoint, self._handle(), app_id,
                                      vapid_public_key)

    def list_endpoints(self, start_after: Optional[str] = None,
                       limit: int = 0) -> Tuple[List[Endpoint], bool]:
        """One page of live endpoints in token order (limit 0: the server's
        page): (endpoints, more)."""
        return push.list_endpoints(lib.pbx_client_list_endpoints, self._handle(), start_after,
                                   limit)

    def endpoints(self, *, page_size: int = 0) -> Iterator[Endpoint]:
        """Every live endpoint, paging until the last page."""
        return pages(lambda after: self.list_endpoints(after, page_size), lambda e: e.token)

    def revoke_endpoint(self, token: str) -> None:
        """App servers get 410 from it afterwards. NotFound unless it is a
        live endpoint of this mailbox."""
        push.revoke_endpoint(lib.pbx_client_revoke_endpoint, self._handle(), token)

    # ---- The feed

    def poll(self, since: int = 0, limit: int = 0) -> Info:
        """The feed after cursor `since`, at most `limit` items (0: the server's page)."""
        out = ffi.new("pbx_info**")
        err = new_error()
        rc = lib.pbx_client_poll(self._handle(), since, limit, out, err)
        if rc:
            raise_error(rc, err)
        return take_info(out[0])

    def ack(self, cursor: int) -> None:
        """Acknowledges the feed up to `cursor`: the server may push what follows."""
        err = new_error()
        rc = lib.pbx_client_ack(self._handle(), cursor, err)
        if rc:
            raise_error(rc, err)

    # ---- Messages

    def update_status(self, id: IdLike, status: Status) -> Tuple[Status, bool]:
        """Raises the status; returns (status after, whether this call raised
        it). NotFound, Gone, PermissionDenied (not the recipient)."""
        status_out = ffi.new("int*")
        applied = ffi.new("int*")
        err = new_error()
        rc = lib.pbx_client_update_status(self._handle(), c_id(id), int(status), status_out,
                                          applied, err)
        if rc:
            raise_error(rc, err)
        return _enum(Status, status_out[0]), bool(applied[0])

    def upload(self, to: IdLike, blob: bytes, topic: str = "", meta: bytes = b"",
               id: Optional[IdLike] = None) -> Id:
        """Uploads `blob` as message `id` (None: a random one) to `to`;
        returns the id once committed. PermissionDenied, Conflict, Gone,
        TooLarge, Unavailable."""
        mid = Id.random() if id is None else Id(id)
        meta_p, meta_len = c_bytes(meta)
        blob_p, blob_len = c_bytes(blob)
        err = new_error()
        rc = lib.pbx_client_upload(self._handle(), c_id(to), c_id(mid), c_str(topic), meta_p,
                                   meta_len, blob_p, blob_len, err)
        if rc:
            raise_error(rc, err)
        return mid

    def download(self, id: IdLike) -> bytes:
        """The whole blob, verified. Gone, NotFound, PermissionDenied,
        DigestMismatch, Unavailable."""
        out = ffi.new("uint8_t**")
        out_len = ffi.new("size_t*")
        err = new_error()
        rc = lib.pbx_client_download(self._handle(), c_id(id), out, out_len, err)
        if rc:
            raise_error(rc, err)
        return take_buffer(out[0], out_len[0])
