"""Loads libpostbox_c.so.0 with cffi in ABI mode (no compiler needed at
install or import time) and turns pbx_ return codes into exceptions.

The library is looked for, in order: the file named by the environment
variable POSTBOX_C_LIBRARY (the build tree's tests set it); the folder the
install recorded in _config.py; this package's own folder; the system's
(ctypes.util.find_library, then the plain soname for the dynamic loader).
"""

from __future__ import annotations

import ctypes.util
import os
import threading
from typing import Any, List, Tuple

import cffi

from . import _config
from ._cdef import CDEF

SONAME = "libpostbox_c.so.0"

ffi: Any = cffi.FFI()  # Any: cdata fields are dynamic
ffi.cdef(CDEF)


def _candidates() -> List[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    found: List[str] = []
    env = os.environ.get("POSTBOX_C_LIBRARY")
    if env:
        # Named explicitly: only this one, so a wrong path is an error, not a
        # silent fallback to some other copy.
        return [env]
    if _config.LIBDIR:
        libdir = _config.LIBDIR
        if not os.path.isabs(libdir):
            libdir = os.path.normpath(os.path.join(here, libdir))
        found.append(os.path.join(libdir, SONAME))
    found.append(os.path.join(here, SONAME))
    system = ctypes.util.find_library("postbox_c")
    if system:
        found.append(system)
    found.append(SONAME)
    return found


def _load() -> Tuple[Any, str]:
    errors = []
    for path in _candidates():
        if os.path.isabs(path) and not os.path.exists(path):
            errors.append("%s: no such file" % path)
            continue
        try:
            return ffi.dlopen(path), path
        except OSError as e:
            errors.append("%s: %s" % (path, e))
    raise ImportError("postbox: cannot load %s (set POSTBOX_C_LIBRARY to its path); tried: %s"
                      % (SONAME, "; ".join(errors)))


lib: Any
LIBRARY_PATH: str  # the file (or soname) loaded, for diagnostics
lib, LIBRARY_PATH = _load()


class _Scratch(threading.local):
    """Per-thread out parameters for the hot read paths (get_entry), so a
    call allocates nothing in cffi. Safe because a thread finishes with
    them (copies the result out, or raises) before its next call."""

    def __init__(self) -> None:
        self.err = ffi.new("pbx_error*")
        self.entry = ffi.new("pbx_entry**")


scratch = _Scratch()


def new_error() -> Any:
    """A fresh pbx_error to pass as a call's last argument."""
    return ffi.new("pbx_error*")


def string(p: Any) -> str:
    """A NUL-terminated UTF-8 char* as str ("" for NULL)."""
    if p == ffi.NULL:
        return ""
    return str(ffi.string(p).decode("utf-8", "replace"))
