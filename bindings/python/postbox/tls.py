"""TLS options (pbx_tls_client_options, pbx_tls_server_options; docs/tls.md)
and the public-key pin of a certificate file.

    ClientTls     given to Client(tls=...) and Replica(tls=...): TLS to the
                  server, verifying its chain (ca_file, or the system's
                  store), its name (server_name, or the host) and the pins
    ServerTls     given to Server(tls=...): the listener speaks TLS only
    tls_public_key_pin(cert_file)   "sha256/<base64>", for ClientTls.pins

A handshake that fails (an unknown CA, an expired or wrong-host certificate,
a pin that matches no key) makes Client.connect() raise Unavailable whose
message names OpenSSL's reason; a client or replica keeps retrying it as after
any lost connection. Files that cannot be loaded raise InvalidArgument when
the Client, Replica or Server is made. A client without TLS on a listener
that speaks only TLS gets ProtocolUnsupported (426, final).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Union

from ._ffi import ffi, lib, new_error
from .errors import raise_error
from .types import TlsVersion

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class ClientTls:
    """A client's TLS. Every field is optional: ClientTls() verifies the
    server against the system's CA store and the host name it was given.

    ca_file      PEM CA certificates the server's chain must lead to
    server_name  the name the server's certificate must carry (DNS name,
                 also sent as SNI, or IP literal); default: the host
    pins         "sha256/<base64>" public-key pins (tls_public_key_pin):
                 some certificate of the verified chain must have one
    cert_file, key_file   a client certificate and its key (mutual TLS)
    min_version  the oldest version accepted (default TLS 1.3)
    """
    ca_file: Optional[PathLike] = None
    server_name: Optional[str] = None
    pins: Sequence[str] = ()
    cert_file: Optional[PathLike] = None
    key_file: Optional[PathLike] = None
    min_version: TlsVersion = TlsVersion.TLS_1_3


@dataclass(frozen=True)
class ServerTls:
    """A listener's TLS: the certificate chain (the server's certificate
    first) and its unencrypted key, PEM; with client_ca_file, mutual TLS
    (every client must present a certificate from one of those CAs).
    handshake_timeout (seconds): a connection whose handshake has not
    finished this long after it was accepted is closed."""
    cert_file: PathLike
    key_file: PathLike
    client_ca_file: Optional[PathLike] = None
    min_version: TlsVersion = TlsVersion.TLS_1_3
    handshake_timeout: float = 10.0


def tls_public_key_pin(cert_file: PathLike) -> str:
    """The pin of the public key of the first certificate in the PEM file:
    "sha256/" + base64 of the SHA-256 of its DER SubjectPublicKeyInfo.
    NotFound if the file cannot be read; InvalidArgument if it holds no
    certificate."""
    out = ffi.new("char[64]")
    err = new_error()
    rc = lib.pbx_tls_public_key_pin(os.fsencode(cert_file), out, err)
    if rc:
        raise_error(rc, err)
    return str(ffi.string(out).decode("ascii"))


def _path(value: Optional[PathLike], keep: List[Any]) -> Any:
    if value is None:
        return ffi.NULL
    keep.append(ffi.new("char[]", os.fsencode(value)))
    return keep[-1]


def _text(value: Optional[str], what: str, keep: List[Any]) -> Any:
    if value is None:
        return ffi.NULL
    if not isinstance(value, str):
        raise TypeError("%s: expected str, got %s" % (what, type(value).__name__))
    keep.append(ffi.new("char[]", value.encode("utf-8")))
    return keep[-1]


def fill_client(c: Any, tls: Optional[ClientTls], keep: List[Any]) -> None:
    """Writes `tls` into a pbx_tls_client_options (left off for None). The
    buffers it points to are appended to `keep`, which must outlive the call
    that takes the options."""
    if tls is None:
        return
    if not isinstance(tls, ClientTls):
        raise TypeError("tls: expected postbox.ClientTls, got %s" % type(tls).__name__)
    if isinstance(tls.pins, str):
        raise TypeError("tls.pins: expected a sequence of str, got one str")
    c.enabled = 1
    c.ca_file = _path(tls.ca_file, keep)
    c.server_name = _text(tls.server_name, "tls.server_name", keep)
    pins = [_text(p, "tls.pins[%d]" % i, keep) for i, p in enumerate(tls.pins)]
    if pins:
        keep.append(ffi.new("const char*[]", pins))
        c.pins = keep[-1]
        c.pins_count = len(pins)
    c.cert_file = _path(tls.cert_file, keep)
    c.key_file = _path(tls.key_file, keep)
    c.min_version = int(tls.min_version)


def fill_server(c: Any, tls: Optional[ServerTls], keep: List[Any]) -> None:
    """Writes `tls` into a pbx_tls_server_options (left off for None), as
    fill_client."""
    if tls is None:
        return
    if not isinstance(tls, ServerTls):
        raise TypeError("tls: expected postbox.ServerTls, got %s" % type(tls).__name__)
    c.cert_file = _path(tls.cert_file, keep)
    c.key_file = _path(tls.key_file, keep)
    c.client_ca_file = _path(tls.client_ca_file, keep)
    c.min_version = int(tls.min_version)
    c.handshake_timeout_ms = max(1, int(tls.handshake_timeout * 1000))
