"""Where the installed package finds libpostbox_c.so.0.

In the source tree this says nothing (LIBDIR is None): the build passes
POSTBOX_C_LIBRARY instead. `cmake --install` writes its own _config.py with
the library folder relative to this package's folder, so a moved prefix
(`cmake --install --prefix`, DESTDIR) still works.
"""

from typing import Optional

# The folder of libpostbox_c.so.0: absolute, or relative to this package's folder.
LIBDIR: Optional[str] = None
