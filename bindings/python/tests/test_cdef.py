"""The hand-kept cdef (postbox/_cdef.py) matches postbox.h, the library
exports every function in it, and the package wraps every one of them.

The header is parsed by cffi after the same mechanical clean-up a
generated cdef would need (comments, preprocessor lines, PBX_EXPORT and
extern "C" removed, integer macros substituted); then functions, structs
(field names, types, offsets, sizes) and enums (names and values) are
compared one by one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict

import cffi
import pytest

import postbox
from postbox import _cdef, _ffi

HERE = Path(__file__).resolve().parent
HEADER = Path(os.environ.get("POSTBOX_C_HEADER",
                             HERE.parent.parent / "c" / "include" / "postbox.h"))
PACKAGE = HERE.parent / "postbox"


def strip_header(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    defines: Dict[str, str] = {}
    out, skip = [], False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#"):
            m = re.match(r"#\s*define\s+(\w+)\s+(\d+)\s*$", s)
            if m:
                defines[m.group(1)] = m.group(2)
            if re.match(r"#\s*ifdef\s+__cplusplus", s):
                skip = True
            elif re.match(r"#\s*endif", s) and skip:
                skip = False
            continue
        if not skip:
            out.append(line)
    body = "\n".join(out).replace("PBX_EXPORT ", "")
    for name, value in defines.items():
        body = re.sub(r"\b%s\b" % name, value, body)
    return body


def declarations(ffi: Any) -> Dict[str, Any]:
    # cffi's parsed declarations: "function NAME", "struct NAME", "enum NAME", "typedef NAME".
    return dict(ffi._parser._declarations)


@pytest.fixture(scope="module")
def header_ffi() -> Any:
    ffi = cffi.FFI()
    ffi.cdef(strip_header(HEADER.read_text()))
    return ffi


def functions(ffi: Any) -> Dict[str, str]:
    return {k.split(" ", 1)[1]: v[0]._get_c_name() for k, v in declarations(ffi).items()
            if k.startswith("function ")}


def test_every_header_function_is_in_the_cdef_with_its_signature(header_ffi: Any) -> None:
    exported = set(re.findall(r"PBX_EXPORT[^;]*?\b(pbx_\w+)\s*\(", HEADER.read_text()))
    ours, theirs = functions(_ffi.ffi), functions(header_ffi)
    assert set(theirs) == exported and len(exported) >= 80
    assert set(ours) == set(theirs), "cdef and header differ: %s" % (set(ours) ^ set(theirs))
    for name, signature in theirs.items():
        assert ours[name] == signature, name


def test_structs_and_enums_match(header_ffi: Any) -> None:
    ours, theirs = declarations(_ffi.ffi), declarations(header_ffi)
    kinds = [k for k in theirs if k.startswith(("struct ", "enum ", "typedef "))]
    assert set(k for k in ours if k.startswith(("struct ", "enum ", "typedef "))) == set(kinds)
    for key in kinds:
        name = key.split(" ", 1)[1]
        if key.startswith("enum "):
            assert _ffi.ffi.typeof("enum " + name).relements == \
                header_ffi.typeof("enum " + name).relements, name
        elif key.startswith("struct "):
            a, b = _ffi.ffi.typeof("struct " + name), header_ffi.typeof("struct " + name)
            if b.fields is None:  # opaque handle
                assert a.fields is None, name
                continue
            assert [(f, t.type.cname, t.offset) for f, t in a.fields] == \
                [(f, t.type.cname, t.offset) for f, t in b.fields], name
            assert _ffi.ffi.sizeof(a) == header_ffi.sizeof(b), name
        else:
            assert _ffi.ffi.typeof(name).cname == header_ffi.typeof(name).cname, name


def test_the_cdef_is_what_the_header_says_not_a_copy_of_a_parse_of_it() -> None:
    # Guard against the comparison passing vacuously: a real layout fact.
    assert _ffi.ffi.sizeof("pbx_error") == 4 + 4 + 512
    assert _ffi.ffi.offsetof("pbx_message", "digest") > _ffi.ffi.offsetof("pbx_message", "length")
    assert "pbx_replica_cancel" in _cdef.CDEF


def test_the_library_exports_every_cdef_function() -> None:
    missing = [name for name in functions(_ffi.ffi) if not _has(name)]
    assert missing == []
    nm = shutil.which("nm")
    if nm and os.path.isabs(postbox.LIBRARY_PATH):
        out = subprocess.run([nm, "-D", "--defined-only", postbox.LIBRARY_PATH],
                             capture_output=True, text=True, check=True).stdout
        exported = {line.split()[-1].split("@")[0] for line in out.splitlines()
                    if " T " in line}
        assert {s for s in exported if s.startswith("pbx_")} == set(functions(_ffi.ffi))


def _has(name: str) -> bool:
    try:
        getattr(_ffi.lib, name)
        return True
    except AttributeError:
        return False


def test_the_package_wraps_every_function() -> None:
    source = "\n".join(p.read_text() for p in PACKAGE.glob("*.py") if p.name != "_cdef.py")
    unused = [n for n in functions(_ffi.ffi) if not re.search(r"\blib\.%s\b" % n, source)]
    assert unused == []
