"""Replica (pbx_replica): an app's mailbox, offline-first. Reads come from a
local mirror; writes go to a durable outbox that syncs in the background.
Thread-safe handle."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, List, Optional, Tuple

from . import _runtime, push, tls as _tls
from ._conv import (c_bytes, c_id, c_id_or_null, c_str, pages, py_change, py_id, py_outcome,
                    take_buffer, take_connection_page, take_entry, take_entry_page,
                    take_message, take_message_list, take_outbox_list, py_state)
from ._ffi import ffi, lib, new_error, scratch
from .errors import InvalidArgument, PostboxError, from_c, raise_error
from .types import (Change, Connection, Durability, Endpoint, Entry, Id, IdLike, Message,
                    OutboxItem, OutboxOutcome, Platform, PushNotification, ReplicaState, Status)

ChangeCallback = Callable[[Change], Any]
OutboxCallback = Callable[[OutboxOutcome], Any]
ErrorCallback = Callable[[PostboxError], Any]

DEFAULT_PAGE = 256


class Replica(_runtime.Handle):
    """The replica of mailbox `mkey` in `folder` (created if missing),
    syncing with the server at host:port in the background when `start`
    (else no network at all). Opening never blocks on the network. Use as a
    context manager or call close() (idempotent): writes already returned
    stay in the outbox for the next open.

    Callbacks (each optional): on_change(Change) after a local transaction
    changed what the app sees; on_outbox(OutboxOutcome) when an outbox item
    ended (at least once: tell repeats by .item); on_error(PostboxError)
    when syncing hit an error a retry will not fix (401, 426, the store).
    They run one at a time, in order, on a Python thread — never on the
    replica's own threads: on this replica's dispatcher thread
    (.callback_thread), or wherever `executor` runs what it is given if one
    is passed (a callable taking a zero-argument callable and only queueing
    it, e.g. an asyncio loop's call_soon_threadsafe). Callbacks may call any
    method of this replica except close(). An exception they raise goes to
    sys.unraisablehook. No callback runs once close() has begun; tasks still
    queued then are released without calling them.

    tls: a postbox.ClientTls to sync over TLS (None: plain TCP). A server
    that fails the handshake (wrong CA, pin or name) is retried like an
    unreachable one: the replica stays offline and state.connected false.
    """

    def __init__(self, folder: "str | os.PathLike[str]", *, mkey: IdLike, secret: str,
                 host: str = "127.0.0.1", port: int = 7420, app_version: Optional[str] = None,
                 request_timeout: float = 5.0, durability: Durability = Durability.DURABLE,
                 poll_interval: Optional[float] = None, retry_initial: Optional[float] = None,
                 retry_max: Optional[float] = None, start: bool = True,
                 on_change: Optional[ChangeCallback] = None,
                 on_outbox: Optional[OutboxCallback] = None,
                 on_error: Optional[ErrorCallback] = None,
                 executor: Optional[_runtime.Executor] = None,
                 tls: Optional[_tls.ClientTls] = None) -> None:
        self._h: Any = None
        self._deliver = True
        self.mkey = Id(mkey)
        self._on_change, self._on_outbox, self._on_error = on_change, on_outbox, on_error
        options = ffi.new("pbx_replica_options*")
        lib.pbx_replica_options_init(options)
        keep = [ffi.new("char[]", os.fsencode(folder)), ffi.new("char[]", host.encode("utf-8")),
                ffi.new("char[]", secret.encode("utf-8"))]
        options.folder, options.client.host, options.client.secret = keep
        if app_version is not None:
            keep.append(ffi.new("char[]", app_version.encode("utf-8")))
            options.client.app_version = keep[-1]
        options.client.port = port
        options.client.mkey = c_id(mkey)[0]
        options.client.request_timeout_ms = _ms(request_timeout)
        _tls.fill_client(options.client.tls, tls, keep)
        options.durability = int(durability)
        if poll_interval is not None:
            options.poll_interval_ms = _ms(poll_interval)
        if retry_initial is not None:
            options.retry_initial_ms = _ms(retry_initial)
        if retry_max is not None:
            options.retry_max_ms = _ms(retry_max)
        options.start = 1 if start else 0

        # Every callback goes through the host executor, so no Python code runs
        # on the replica's threads beyond queueing a task.
        self._dispatcher: Optional[_runtime.Dispatcher] = None
        if executor is None:
            self._dispatcher = _runtime.Dispatcher("postbox-replica-callbacks")
            executor = self._dispatcher.submit
        self._tasks = _runtime.TaskQueue(executor)
        self._callbacks = [ffi.callback("void(void*, pbx_task*)", self._native_executor)]
        options.executor = self._callbacks[0]
        if on_change is not None:
            self._callbacks.append(ffi.callback("pbx_change_fn", self._native_change))
            options.on_change = self._callbacks[-1]
        if on_outbox is not None:
            self._callbacks.append(ffi.callback("pbx_outbox_fn", self._native_outbox))
            options.on_outbox = self._callbacks[-1]
        if on_error is not None:
            self._callbacks.append(ffi.callback("pbx_error_fn", self._native_error))
            options.on_error = self._callbacks[-1]

        out = ffi.new("pbx_replica**")
        err = new_error()
        rc = lib.pbx_replica_open(options, out, err)
        if rc:
            self._tasks.drain()
            if self._dispatcher is not None:
                self._dispatcher.stop()
            raise_error(rc, err)
        self._h = out[0]
        _runtime.track(self, 0)

    # ---- Callbacks. _native_executor runs on a replica thread; the others
    # run inside pbx_task_run on the thread the executor chose.

    def _native_executor(self, _context: Any, task: Any) -> None:
        self._tasks.hand_over(task)

    def _native_change(self, _context: Any, change: Any) -> None:
        if self._deliver:
            self._call(self._on_change, py_change(change))

    def _native_outbox(self, _context: Any, outcome: Any) -> None:
        if self._deliver:
            self._call(self._on_outbox, py_outcome(outcome))

    def _native_error(self, _context: Any, error: Any) -> None:
        if self._deliver:
            self._call(self._on_error, from_c(error))

    def _call(self, fn: Any, arg: Any) -> None:
        try:
            fn(arg)
        except BaseException as e:  # noqa: BLE001
            _runtime.report_callback_error(e, getattr(fn, "__name__", "callback"), fn)

    @property
    def callback_thread(self) -> Any:
        """The dispatcher thread callbacks run on (None with an executor)."""
        return None if self._dispatcher is None else self._dispatcher.thread

    # ---- Lifetime

    def close(self) -> None:
        """Stops syncing and releases the replica. InvalidArgument from a callback."""
        if self._h is None:
            return
        if self._tasks.in_task():
            raise InvalidArgument(
                -400, "InvalidArgument: Replica.close() from one of its callbacks", False)
        self._deliver = False
        # No task runs while the handle closes (a callback may be using it).
        with self._tasks.run_lock:
            h, self._h = self._h, None
            lib.pbx_replica_close(h)
        # pbx_task_run must still be called for every task handed over.
        self._tasks.drain()
        if self._dispatcher is not None:
            self._dispatcher.stop()
        _runtime.untrack(self, 0)

    def __enter__(self) -> "Replica":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> None:
        """Starts syncing a replica opened with start=False (idempotent)."""
        err = new_error()
        rc = lib.pbx_replica_start(self._handle(), err)
        if rc:
            raise_error(rc, err)

    def sync(self, timeout: float = 10.0) -> None:
        """Waits until the outbox is empty and the mirror caught up with the
        server (Unavailable after `timeout` seconds), then, with the default
        dispatcher, until the callbacks queued by then have run (not when
        called from a callback)."""
        err = new_error()
        rc = lib.pbx_replica_sync(self._handle(), _ms(timeout), err)
        if rc:
            raise_error(rc, err)
        if self._dispatcher is not None and not self._tasks.in_task():
            self._dispatcher.flush(timeout)

    # ---- Reads, from the mirror

    def pending_count(self) -> int:
        """Outbox items not yet ended."""
        out = ffi.new("uint64_t*")
        err = new_error()
        rc = lib.pbx_replica_pending_count(self._handle(), out, err)
        if rc:
            raise_error(rc, err)
        return int(out[0])

    def pending(self) -> List[OutboxItem]:
        """The outbox items not yet ended, in write order."""
        out = ffi.new("pbx_outbox_list**")
        err = new_error()
        rc = lib.pbx_replica_pending(self._handle(), out, err)
        if rc:
            raise_error(rc, err)
        return take_outbox_list(out[0])

    def state(self) -> ReplicaState:
        out = ffi.new("pbx_replica_state*")
        err = new_error()
        rc = lib.pbx_replica_get_state(self._handle(), out, err)
        if rc:
            raise_error(rc, err)
        return py_state(out)

    def _messages(self, fn: Any, start_after: Optional[IdLike], limit: int) -> List[Message]:
        out = ffi.new("pbx_message_list**")
        err = new_error()
        rc = fn(self._handle(), c_id_or_null(start_after), limit, out, err)
        if rc:
            raise_error(rc, err)
        return take_message_list(out[0])

    def list_inbox(self, start_after: Optional[IdLike] = None, limit: int = 0) -> List[Message]:
        """Messages received, oldest first, after `start_after` (limit 0: all)."""
        return self._messages(lib.pbx_replica_inbox, start_after, limit)

    def list_sent(self, start_after: Optional[IdLike] = None, limit: int = 0) -> List[Message]:
        """Messages sent, oldest first, after `start_after` (limit 0: all)."""
        return self._messages(lib.pbx_replica_sent, start_after, limit)

    def inbox(self, *, page_size: int = DEFAULT_PAGE) -> Iterator[Message]:
        """Every message received, oldest first, page by page."""
        return pages(lambda after: _full(self.list_inbox(after, page_size), page_size),
                     lambda m: m.id)

    def sent(self, *, page_size: int = DEFAULT_PAGE) -> Iterator[Message]:
        """Every message sent, oldest first, page by page."""
        return pages(lambda after: _full(self.list_sent(after, page_size), page_size),
                     lambda m: m.id)

    def get_message(self, id: IdLike) -> Message:
        """NotFound if the mirror lacks it."""
        out = ffi.new("pbx_message**")
        err = new_error()
        rc = lib.pbx_replica_get_message(self._handle(), c_id(id), out, err)
        if rc:
            raise_error(rc, err)
        return take_message(out[0])

    def get_entry(self, key: str) -> Entry:
        """The entry as the app sees it; NotFound."""
        h = self._h
        if h is None:
            raise _runtime.closed_error("Replica")
        s = scratch  # per-thread out parameters: this is the hot read path
        rc = lib.pbx_replica_get_entry(h, c_str(key), s.entry, s.err)
        if rc:
            raise_error(rc, s.err)
        return take_entry(s.entry[0], key)

    def list_entries(self, prefix: str = "", start_after: Optional[str] = None,
                     limit: int = 0) -> Tuple[List[Entry], bool]:
        """One page (limit 0: all): (entries as the app sees them, more)."""
        out = ffi.new("pbx_entry_list**")
        err = new_error()
        rc = lib.pbx_replica_list_entries(self._handle(), c_str(prefix), c_str(start_after),
                                          limit, out, err)
        if rc:
            raise_error(rc, err)
        return take_entry_page(out[0])

    def entries(self, prefix: str = "", *, page_size: int = DEFAULT_PAGE) -> Iterator[Entry]:
        return pages(lambda after: self.list_entries(prefix, after, page_size), lambda e: e.key)

    def connections(self) -> List[Connection]:
        """Peers connected or asked by this mailbox, as last synced with the
        pending changes applied."""
        out = ffi.new("pbx_connection_list**")
        err = new_error()
        rc = lib.pbx_replica_connections(self._handle(), out, err)
        if rc:
            raise_error(rc, err)
        return take_connection_page(out[0])[0]

    def read_blob(self, id: IdLike) -> bytes:
        """The whole blob once downloaded. Unavailable before it is complete;
        NotFound if never requested."""
        out = ffi.new("uint8_t**")
        out_len = ffi.new("size_t*")
        err = new_error()
        rc = lib.pbx_replica_read_blob(self._handle(), c_id(id), out, out_len, err)
        if rc:
            raise_error(rc, err)
        return take_buffer(out[0], out_len[0])

    # ---- Writes: durable in the outbox when they return; each returns the
    # outbox item's id, whose verdict comes later through on_outbox.

    def update_status(self, id: IdLike, status: Status) -> int:
        """NotFound for a message the mirror lacks, PermissionDenied for one
        this mailbox did not receive, InvalidArgument for a bad status."""
        item = ffi.new("uint64_t*")
        err = new_error()
        rc = lib.pbx_replica_update_status(self._handle(), c_id(id), int(status), item, err)
        if rc:
            raise_error(rc, err)
        return int(item[0])

    def put_entry(self, key: str, value: bytes, version: int = 0) -> int:
        """version 0: one above what the mirror shows. TooLarge."""
        value_p, value_len = c_bytes(value)
        item = ffi.new("uint64_t*")
        err = new_error()
        rc = lib.pbx_replica_put_entry(self._handle(), c_str(key), value_p, value_len, version,
                                       item, err)
        if rc:
            raise_error(rc, err)
        return int(item[0])

    def delete_entry(self, key: str, version: int = 0) -> int:
        item = ffi.new("uint64_t*")
        err = new_error()
        rc = lib.pbx_replica_delete_entry(self._handle(), c_str(key), version, item, err)
        if rc:
            raise_error(rc, err)
        return int(item[0])

    def add_connection(self, peer: IdLike) -> int:
        """InvalidArgument for this mailbox itself."""
        item = ffi.new("uint64_t*")
        err = new_error()
        rc = lib.pbx_replica_add_connection(self._handle(), c_id(peer), item, err)
        if rc:
            raise_error(rc, err)
        return int(item[0])

    def remove_connection(self, peer: IdLike) -> int:
        item = ffi.new("uint64_t*")
        err = new_error()
        rc = lib.pbx_replica_remove_connection(self._handle(), c_id(peer), item, err)
        if rc:
            raise_error(rc, err)
        return int(item[0])

    def register_push(self, platform: Platform, token: str) -> int:
        item = ffi.new("uint64_t*")
        err = new_error()
        rc = lib.pbx_replica_register_push(self._handle(), int(platform), c_str(token), item,
                                           err)
        if rc:
            raise_error(rc, err)
        return int(item[0])

    def post(self, to: IdLike, blob: bytes, topic: str = "", meta: bytes = b"",
             id: Optional[IdLike] = None) -> Id:
        """Posts `blob` (copied into the replica's folder until acknowledged)
        as message `id` (None: a random one) to `to`; returns the id.
        InvalidArgument (posting to itself), TooLarge."""
        blob_p, blob_len = c_bytes(blob)
        meta_p, meta_len = c_bytes(meta)
        id_out = ffi.new("pbx_id*")
        err = new_error()
        rc = lib.pbx_replica_post(self._handle(), c_id(to), blob_p, blob_len, c_str(topic),
                                  meta_p, meta_len, c_id_or_null(id), id_out, err)
        if rc:
            raise_error(rc, err)
        return py_id(id_out)

    def request_blob(self, id: IdLike) -> None:
        """Asks for the blob to be downloaded (resumably, when connected).
        NotFound, Gone."""
        err = new_error()
        rc = lib.pbx_replica_request_blob(self._handle(), c_id(id), err)
        if rc:
            raise_error(rc, err)

    # ---- Web Push (docs/replica.md "Web Push endpoints and notifications")

    def register_endpoint(self, app_id: str, vapid_public_key: bytes = b"") -> Endpoint:
        """As Client.register_endpoint, at once through the replica's session
        (endpoints are the server's, not mirrored; never queued): Unavailable
        while the replica has no session (offline, not started,
        reconnecting). Register at each start once sync() succeeded."""
        return push.register_endpoint(lib.pbx_replica_register_endpoint, self._handle(), app_id,
                                      vapid_public_key)

    def list_endpoints(self, start_after: Optional[str] = None,
                       limit: int = 0) -> Tuple[List[Endpoint], bool]:
        """As Client.list_endpoints, through the session (Unavailable without one)."""
        return push.list_endpoints(lib.pbx_replica_list_endpoints, self._handle(), start_after,
                                   limit)

    def endpoints(self, *, page_size: int = 0) -> Iterator[Endpoint]:
        """Every live endpoint, paging until the last page."""
        return pages(lambda after: self.list_endpoints(after, page_size), lambda e: e.token)

    def revoke_endpoint(self, token: str) -> None:
        """As Client.revoke_endpoint, through the session (Unavailable without one)."""
        push.revoke_endpoint(lib.pbx_replica_revoke_endpoint, self._handle(), token)

    def push_notifications(self, token: Optional[str] = None) -> List[PushNotification]:
        """The notifications in the mirror (offline too; consumptions still in
        the outbox already applied) of endpoint `token`, or of every endpoint
        (None), oldest first. Entries under postbox/push/ that do not parse are
        skipped (list_entries still shows them). InvalidArgument for a token
        that is not base64url."""
        out = ffi.new("pbx_push_notification_list**")
        err = new_error()
        rc = lib.pbx_replica_push_notifications(self._handle(), c_str(token), out, err)
        if rc:
            raise_error(rc, err)
        return push.take_push_notification_list(out[0])

    def consume_push_notification(self, notification: PushNotification) -> int:
        """Deletes the notification's entry at its version through the outbox
        (a newer one of the same topic survives); returns the outbox item.
        InvalidArgument for a key not under postbox/push/ or version 0."""
        n = ffi.new("pbx_push_notification*")
        key = ffi.new("char[]", c_str(notification.key))
        n.key = key
        n.version = notification.version
        item = ffi.new("uint64_t*")
        err = new_error()
        rc = lib.pbx_replica_consume_push_notification(self._handle(), n, item, err)
        if rc:
            raise_error(rc, err)
        return int(item[0])

    def cancel(self, item: int) -> None:
        """Removes a pending item and rolls its effect back; on_outbox reports
        it with cancelled set. NotFound if it has ended; Conflict while it is
        being sent (its outcome will follow)."""
        err = new_error()
        rc = lib.pbx_replica_cancel(self._handle(), item, err)
        if rc:
            raise_error(rc, err)


def _ms(seconds: float) -> int:
    return max(0, min(0xFFFFFFFF, int(round(seconds * 1000))))


def _full(items: List[Message], page_size: int) -> Tuple[List[Message], bool]:
    # Message lists carry no `more`: a full page means there may be another.
    return items, page_size > 0 and len(items) == page_size
