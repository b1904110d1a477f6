"""One exception class per pbx_code. Every failing pbx_ call raises the
class of its code, carrying the code, the library's message and whether a
retry may succeed (pbx_error.retryable)."""

from __future__ import annotations

from typing import Any, Dict, NoReturn, Optional, Type

from ._ffi import ffi, lib
from .types import Code


class PostboxError(Exception):
    """Base of every error the library reports.

    code: the Code (the C API's negative pbx_code: Code.NOT_FOUND is -404).
    http_status: the protocol's positive code (404).
    message: the library's message ("NotFound: no entry \\"a\\"").
    retryable: True if the same call may succeed when simply tried again later.
    """

    code: Code = Code.INTERNAL

    def __init__(self, code: int, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        try:
            self.code = Code(code)
        except ValueError:
            self.code = code  # type: ignore[assignment]  # unknown to this version
        self.message = message
        self.retryable = bool(retryable)

    @property
    def http_status(self) -> int:
        return -int(self.code)

    def __repr__(self) -> str:
        return "%s(%d, %r, retryable=%s)" % (type(self).__name__, int(self.code), self.message,
                                             self.retryable)


class InvalidArgument(PostboxError, ValueError):
    """400: malformed input, a bad handle, a call not allowed here."""
    code = Code.INVALID_ARGUMENT


class Unauthenticated(PostboxError):
    """401: an unknown mailbox or a wrong secret."""
    code = Code.UNAUTHENTICATED


class PermissionDenied(PostboxError):
    """403: not connected, not the recipient, not a party."""
    code = Code.PERMISSION_DENIED


class NotFound(PostboxError, LookupError):
    """404: an unknown id, key or mailbox."""
    code = Code.NOT_FOUND


class Conflict(PostboxError):
    """409: an id reused with other content; a handle still in use."""
    code = Code.CONFLICT


class Gone(PostboxError):
    """410: a superseded or deleted message."""
    code = Code.GONE


class TooLarge(PostboxError):
    """413: a key, value, topic, meta or blob over its limit."""
    code = Code.TOO_LARGE


class DigestMismatch(PostboxError):
    """422: blob bytes that do not match their digest."""
    code = Code.DIGEST_MISMATCH


class ProtocolUnsupported(PostboxError):
    """426: the server speaks no protocol version this library does."""
    code = Code.PROTOCOL_UNSUPPORTED


class BackOff(PostboxError):
    """429: too many requests; retry later."""
    code = Code.BACK_OFF


class Internal(PostboxError):
    """500: a bug, a corrupted store."""
    code = Code.INTERNAL


class Unavailable(PostboxError):
    """503: network down, timeout, shutting down, I/O error."""
    code = Code.UNAVAILABLE


class ResourceExhausted(PostboxError):
    """507: storage full."""
    code = Code.RESOURCE_EXHAUSTED


_BY_CODE: Dict[int, Type[PostboxError]] = {
    cls.code: cls
    for cls in (InvalidArgument, Unauthenticated, PermissionDenied, NotFound, Conflict, Gone,
                TooLarge, DigestMismatch, ProtocolUnsupported, BackOff, Internal, Unavailable,
                ResourceExhausted)
}


def error_class(code: int) -> Type[PostboxError]:
    """The exception class of `code` (PostboxError for one not in the list)."""
    return _BY_CODE.get(int(code), PostboxError)


def make_error(code: int, message: str, retryable: Optional[bool] = None) -> PostboxError:
    if retryable is None:
        retryable = bool(lib.pbx_code_retryable(code))
    return error_class(code)(code, message, retryable)


def from_c(err: Any) -> PostboxError:
    """The exception for a filled pbx_error (borrowed: copied here)."""
    return make_error(err.code, ffi.string(err.message).decode("utf-8", "replace"),
                      bool(err.retryable))


def raise_error(rc: int, err: Any) -> NoReturn:
    """Raises the exception of a failed call's `rc` and its pbx_error."""
    if err.code == rc:
        raise from_c(err)
    # The header promises err is filled on failure; say so if it was not.
    raise make_error(rc, "%s (pbx_error not filled)" % ffi.string(lib.pbx_strerror(rc)).decode())
