# postbox-server: flags, config and signals around postbox::sync::Server.
# Included from server-shim/CMakeLists.txt; paths are relative to server-shim/.
if(TARGET postbox_sync)
  find_package(spdlog CONFIG REQUIRED)
  add_executable(postbox-server server/main.cc server/flags.cc)
  target_include_directories(postbox-server PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(postbox-server
    PRIVATE postbox::sync postbox::engine CLI11::CLI11 spdlog::spdlog Threads::Threads)
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
