"""Run by ctest python.install: the installed package, imported from the
install prefix alone, loads the installed library and works.
Usage: install_smoke.py PREFIX STORE_FOLDER"""

import os
import sys

prefix, folder = (os.path.realpath(a) for a in sys.argv[1:3])
import postbox  # noqa: E402

package = os.path.realpath(os.path.dirname(postbox.__file__))
library = os.path.realpath(postbox.LIBRARY_PATH)
assert package.startswith(prefix + os.sep), "package imported from %s, not %s" % (package, prefix)
assert library.startswith(prefix + os.sep), "library loaded from %s, not %s" % (library, prefix)
assert os.path.exists(os.path.join(package, "py.typed"))
with postbox.Store(folder) as store:
    a, b = store.create_mailbox(), store.create_mailbox()
    store.connect(a.mkey, b.mkey)
    m = store.post_message(a.mkey, b.mkey, b"installed", topic="t")
    assert store.read_blob(b.mkey, m.id) == b"installed"
assert postbox.live_handles() == 0
print("installed postbox %s from %s works" % (postbox.version(), library))
