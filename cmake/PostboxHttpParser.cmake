# Debian's http-parser (libhttp-parser-dev) has neither a CMake config nor a
# pkg-config file: find it by hand as the IMPORTED target HttpParser::HttpParser.
# Guarded, so that several places (the kick webhook driver, the HTTP listener,
# an installed postboxConfig.cmake) may include this file.
if(NOT TARGET HttpParser::HttpParser)
  find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h)
  find_library(HTTP_PARSER_LIBRARY NAMES http_parser)
  if(NOT HTTP_PARSER_INCLUDE_DIR OR NOT HTTP_PARSER_LIBRARY)
    message(FATAL_ERROR "postbox: http-parser not found (Debian: libhttp-parser-dev; "
                        "scripts/deps installs it)")
  endif()
  add_library(HttpParser::HttpParser UNKNOWN IMPORTED)
  set_target_properties(HttpParser::HttpParser PROPERTIES
    IMPORTED_LOCATION "${HTTP_PARSER_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${HTTP_PARSER_INCLUDE_DIR}")
endif()
