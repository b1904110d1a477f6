# postbox-server: flags, config and signals around postbox::sync::Server.
# Included from server-shim/CMakeLists.txt; paths are relative to server-shim/.
if(TARGET postbox_sync AND TARGET postbox_relay)
  find_package(spdlog CONFIG REQUIRED)
  add_executable(postbox-server server/main.cc server/flags.cc server/kick_flags.cc
                 server/notify.cc)
  target_include_directories(postbox-server PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(postbox-server
    PRIVATE postbox::relay postbox::sync postbox::engine CLI11::CLI11 spdlog::spdlog Threads::Threads)
  # systemd's readiness notification (server/notify.h) when libsystemd is there
  # (Debian's libsystemd-dev, in scripts/deps); without it the server builds
  # and runs the same, and --help says notification is unavailable.
  option(POSTBOX_WITH_SYSTEMD "notify systemd (sd_notify) when libsystemd is found" ON)
  if(POSTBOX_WITH_SYSTEMD)
    find_package(PkgConfig REQUIRED)
    pkg_check_modules(LIBSYSTEMD IMPORTED_TARGET libsystemd)
  endif()
  if(POSTBOX_WITH_SYSTEMD AND LIBSYSTEMD_FOUND)
    target_link_libraries(postbox-server PRIVATE PkgConfig::LIBSYSTEMD)
    target_compile_definitions(postbox-server PRIVATE POSTBOX_HAVE_SYSTEMD=1)
  else()
    message(STATUS "postbox-server: built without systemd notification (no libsystemd)")
  endif()
  install(TARGETS postbox-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# Out-of-range numbers are usage errors (CLI11 would otherwise read "-1" into an
# unsigned as 2^64 - 1 and start a server with absurd limits).
if(TARGET postbox-server AND POSTBOX_BUILD_TESTS)
  foreach(bad "--threads=-1" "--max-connections=0" "--max-connections=-5" "--window=0")
    string(MAKE_C_IDENTIFIER "${bad}" id)
    add_test(NAME server_cli_rejects${id}
             COMMAND postbox-server ${bad} --data ${CMAKE_CURRENT_BINARY_DIR}/never-opened)
    set_tests_properties(server_cli_rejects${id} PROPERTIES
      LABELS integration TIMEOUT 10 PASS_REGULAR_EXPRESSION "not in range|greater than|positive|Run with --help")
  endforeach()
endif()

# --kick specs that cannot work are usage errors, named as such.
if(TARGET postbox-server AND POSTBOX_BUILD_TESTS)
  set(_never ${CMAKE_CURRENT_BINARY_DIR}/never-opened)
  foreach(case
      "unknown_platform|--kick|mars=log:/dev/null|platforms are ios, android and web"
      "unreadable_key|--kick|apns:/nonexistent/AuthKey.p8|cannot read '/nonexistent/AuthKey.p8'"
      "two_for_ios|--kick|ios=log:/dev/null|--kick|ios,web=log:/dev/null|already serves ios"
      "two_defaults|--kick|log:/dev/null|--kick|log:/dev/null|two --kick without platforms")
    string(REPLACE "|" ";" parts "${case}")
    list(POP_FRONT parts name)
    list(POP_BACK parts expected)
    add_test(NAME server_cli_kick_${name} COMMAND postbox-server ${parts} --data ${_never})
    set_tests_properties(server_cli_kick_${name} PROPERTIES
      LABELS integration TIMEOUT 10 PASS_REGULAR_EXPRESSION "${expected}")
  endforeach()
endif()

# Relay flags that cannot work are usage errors, and a bad --relay never echoes
# the secret it was given.
if(TARGET postbox-server AND POSTBOX_BUILD_TESTS)
  set(_never ${CMAKE_CURRENT_BINARY_DIR}/never-opened)
  add_test(NAME server_cli_relay_needs_upstream
           COMMAND postbox-server --relay 000102030405060708090a0b0c0d0e0f:s3cr3t --data ${_never})
  add_test(NAME server_cli_upstream_needs_relay
           COMMAND postbox-server --upstream 127.0.0.1:7420 --data ${_never})
  add_test(NAME server_cli_relay_rejects_a_bad_key
           COMMAND postbox-server --upstream 127.0.0.1:7420 --relay nothex:TOPSECRETVALUE
                   --data ${_never})
  add_test(NAME server_cli_relay_rejects_a_missing_secret
           COMMAND postbox-server --upstream 127.0.0.1:7420
                   --relay 000102030405060708090a0b0c0d0e0f --data ${_never})
  add_test(NAME server_cli_upstream_rejects_port_zero
           COMMAND postbox-server --upstream 127.0.0.1:0
                   --relay 000102030405060708090a0b0c0d0e0f:s3cr3t --data ${_never})
  set_tests_properties(server_cli_relay_needs_upstream PROPERTIES
    PASS_REGULAR_EXPRESSION "--relay needs --upstream")
  set_tests_properties(server_cli_upstream_needs_relay PROPERTIES
    PASS_REGULAR_EXPRESSION "--upstream needs at least one --relay")
  set_tests_properties(server_cli_relay_rejects_a_bad_key PROPERTIES
    PASS_REGULAR_EXPRESSION "expected MKEY:SECRET" FAIL_REGULAR_EXPRESSION "TOPSECRETVALUE")
  set_tests_properties(server_cli_relay_rejects_a_missing_secret PROPERTIES
    PASS_REGULAR_EXPRESSION "expected MKEY:SECRET")
  set_tests_properties(server_cli_upstream_rejects_port_zero PROPERTIES
    PASS_REGULAR_EXPRESSION "port 0 names no server")
  set_tests_properties(server_cli_relay_needs_upstream server_cli_upstream_needs_relay
    server_cli_relay_rejects_a_bad_key server_cli_relay_rejects_a_missing_secret
    server_cli_upstream_rejects_port_zero PROPERTIES LABELS integration TIMEOUT 10)
endif()

# Kick flags that cannot work are usage errors (docs/notifications.md).
if(TARGET postbox-server AND POSTBOX_BUILD_TESTS)
  set(_never ${CMAKE_CURRENT_BINARY_DIR}/never-opened)
  add_test(NAME server_cli_kick_rejects_an_unknown_driver
           COMMAND postbox-server --kick carrier-pigeon:whatever --data ${_never})
  add_test(NAME server_cli_kick_rejects_https
           COMMAND postbox-server --kick webhook:https://gateway.example/kick --data ${_never})
  add_test(NAME server_cli_kick_rejects_a_header_without_colon
           COMMAND postbox-server --kick webhook:http://127.0.0.1:9/kick
                   --kick-webhook-header "Authorization Bearer x" --data ${_never})
  add_test(NAME server_cli_kick_rejects_an_unwritable_log
           COMMAND postbox-server --kick log:/nonexistent-dir/kicks.jsonl --data ${_never})
  set_tests_properties(server_cli_kick_rejects_an_unknown_driver PROPERTIES
    PASS_REGULAR_EXPRESSION "log:PATH, webhook:http://HOST:PORT/PATH, apns:P8_KEY_FILE or fcm:")
  set_tests_properties(server_cli_kick_rejects_https PROPERTIES
    PASS_REGULAR_EXPRESSION "https is not supported")
  set_tests_properties(server_cli_kick_rejects_a_header_without_colon PROPERTIES
    PASS_REGULAR_EXPRESSION "expected 'Name: value'")
  set_tests_properties(server_cli_kick_rejects_an_unwritable_log PROPERTIES
    PASS_REGULAR_EXPRESSION "cannot open kick log")
  set_tests_properties(server_cli_kick_rejects_an_unknown_driver server_cli_kick_rejects_https
    server_cli_kick_rejects_a_header_without_colon server_cli_kick_rejects_an_unwritable_log
    PROPERTIES LABELS integration TIMEOUT 10)
endif()

# --http-listen (docs/http.md) takes HOST:PORT like --listen; anything else is a
# usage error, as are out-of-range HTTP limits.
if(TARGET postbox-server AND POSTBOX_BUILD_TESTS)
  set(_never ${CMAKE_CURRENT_BINARY_DIR}/never-opened)
  foreach(bad "127.0.0.1" "127.0.0.1:99999" "127.0.0.1:http" ":8080" "127.0.0.1:-1")
    string(MAKE_C_IDENTIFIER "${bad}" id)
    add_test(NAME server_cli_http_listen_rejects_${id}
             COMMAND postbox-server --http-listen=${bad} --data ${_never})
    set_tests_properties(server_cli_http_listen_rejects_${id} PROPERTIES LABELS integration
      TIMEOUT 10 PASS_REGULAR_EXPRESSION "--http-listen '.*': expected HOST:PORT")
  endforeach()
  add_test(NAME server_cli_http_listen_rejects_a_bad_host
           COMMAND postbox-server --listen 127.0.0.1:0 --http-listen not-an-ip:0
                   --data ${CMAKE_CURRENT_BINARY_DIR}/http-bad-host-data)
  set_tests_properties(server_cli_http_listen_rejects_a_bad_host PROPERTIES LABELS integration
    TIMEOUT 10 PASS_REGULAR_EXPRESSION "not an IPv4 or IPv6 address literal")
  foreach(bad "--http-max-header-bytes=100" "--http-max-headers=0" "--http-header-timeout=0"
          "--http-max-connections=-1")
    string(MAKE_C_IDENTIFIER "${bad}" id)
    add_test(NAME server_cli_rejects${id}
             COMMAND postbox-server --http-listen 127.0.0.1:0 ${bad} --data ${_never})
    set_tests_properties(server_cli_rejects${id} PROPERTIES LABELS integration TIMEOUT 10
      PASS_REGULAR_EXPRESSION "not in range|greater than|positive|Run with --help")
  endforeach()
endif()

# --event-log (docs/operations.md) that cannot be opened is a usage error, and
# --help says whether this build can notify systemd.
if(TARGET postbox-server AND POSTBOX_BUILD_TESTS)
  add_test(NAME server_cli_event_log_rejects_an_unwritable_path
           COMMAND postbox-server --event-log /nonexistent-dir/events.jsonl
                   --data ${CMAKE_CURRENT_BINARY_DIR}/never-opened)
  set_tests_properties(server_cli_event_log_rejects_an_unwritable_path PROPERTIES
    LABELS integration TIMEOUT 10 PASS_REGULAR_EXPRESSION "--event-log: cannot open event log")
  add_test(NAME server_cli_help_tells_systemd_notification COMMAND postbox-server --help)
  set_tests_properties(server_cli_help_tells_systemd_notification PROPERTIES
    LABELS integration TIMEOUT 10 PASS_REGULAR_EXPRESSION "systemd.*sd_notify")
endif()
