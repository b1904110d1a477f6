"""The cost of one Replica.get_entry from Python: the C API call (a read of
the replica's local store) plus the binding's conversions. Opens a replica
with start=False (no network) in a temporary folder, puts "k" (100 bytes),
warms up, then times N get_entry("k") calls and prints exactly one line:

    python ns_per_call=<float>

Usage: python_get_entry.py [N]   (default 200000). Needs the postbox package
importable and libpostbox_c.so.0 findable: from a build tree,
PYTHONPATH=bindings/python POSTBOX_C_LIBRARY=build/dev/bindings/c/libpostbox_c.so.0;
without them it tries this source tree's bindings/python and build/*/.
"""

import glob
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _import_postbox():  # type: ignore[no-untyped-def]
    try:
        import postbox
        return postbox
    except ImportError:
        pass
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    if not os.environ.get("POSTBOX_C_LIBRARY"):
        built = sorted(glob.glob(os.path.join(ROOT, "build", "*", "bindings", "c",
                                              "libpostbox_c.so.0")))
        release = [p for p in built if "/build/release/" in p]
        if release or built:
            os.environ["POSTBOX_C_LIBRARY"] = (release or built)[0]
    import postbox
    return postbox


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    postbox = _import_postbox()
    with tempfile.TemporaryDirectory(prefix="postbox-bench-py.") as folder:
        with postbox.Replica(folder, mkey=postbox.Id.random(), secret="x" * 43, port=1,
                             start=False) as replica:
            replica.put_entry("k", bytes(100))
            get = replica.get_entry
            for _ in range(min(n, 20000)):
                get("k")
            assert get("k").value == bytes(100)
            start = time.perf_counter_ns()
            for _ in range(n):
                get("k")
            elapsed = time.perf_counter_ns() - start
    print("python ns_per_call=%.1f" % (elapsed / n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
