# Third-party dependencies, all from Debian's packages. Packages without a CMake
# config (LMDB, xxHash, libuv, zstd) come in through pkg-config as IMPORTED targets;
# engine/cmake/postboxConfig.cmake.in repeats these lookups for find_package users.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
find_package(OpenSSL REQUIRED)
find_package(Threads REQUIRED)
find_package(FlatBuffers CONFIG REQUIRED)
# http-parser (Debian's libhttp-parser-dev): the sync server's HTTP listener
# (docs/http.md) and the kick drivers' webhook (docs/notifications.md).
include(${CMAKE_CURRENT_LIST_DIR}/PostboxHttpParser.cmake)
