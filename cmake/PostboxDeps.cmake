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
# http-parser (Debian's libhttp-parser-dev) ships neither a CMake config nor a
# pkg-config file: a plain header and library lookup, as an IMPORTED target.
# The sync server's HTTP listener parses requests with it (docs/http.md).
find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h)
find_library(HTTP_PARSER_LIBRARY NAMES http_parser)
if(NOT HTTP_PARSER_INCLUDE_DIR OR NOT HTTP_PARSER_LIBRARY)
  message(FATAL_ERROR "postbox: http-parser not found (Debian: libhttp-parser-dev; scripts/deps "
                      "installs it)")
endif()
if(NOT TARGET HttpParser::HttpParser)
  add_library(HttpParser::HttpParser UNKNOWN IMPORTED)
  set_target_properties(HttpParser::HttpParser PROPERTIES
    IMPORTED_LOCATION "${HTTP_PARSER_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${HTTP_PARSER_INCLUDE_DIR}")
endif()
