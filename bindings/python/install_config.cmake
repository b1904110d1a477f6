# Run by `cmake --install` (component python) after the package's files:
# writes postbox/_config.py with the folder of libpostbox_c.so.0, relative to
# the package's folder when both are under the install prefix.
# POSTBOX_PY_PKGDIR, POSTBOX_PY_LIBDIR and POSTBOX_PY_STAGING come from the
# install(CODE) before this script (bindings/python/CMakeLists.txt).
set(pkgdir "${POSTBOX_PY_PKGDIR}")
set(libdir "${POSTBOX_PY_LIBDIR}")
if(NOT IS_ABSOLUTE "${libdir}")
  set(libdir "${CMAKE_INSTALL_PREFIX}/${libdir}")
endif()
if(NOT IS_ABSOLUTE "${pkgdir}")
  set(pkgdir "${CMAKE_INSTALL_PREFIX}/${pkgdir}")
  file(RELATIVE_PATH recorded "${pkgdir}" "${libdir}")
else()
  set(recorded "${libdir}")
endif()
file(WRITE "${POSTBOX_PY_STAGING}/_config.py"
"\"\"\"Written by cmake --install: where the installed package finds libpostbox_c.so.0.\"\"\"

from typing import Optional

# The folder of libpostbox_c.so.0: absolute, or relative to this package's folder.
LIBDIR: Optional[str] = \"${recorded}\"
")
file(INSTALL DESTINATION "${pkgdir}" TYPE FILE FILES "${POSTBOX_PY_STAGING}/_config.py")
