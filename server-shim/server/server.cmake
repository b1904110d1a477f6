# postbox-server: flags, config and signals around postbox::sync::Server.
# Included from server-shim/CMakeLists.txt; paths are relative to server-shim/.
if(TARGET postbox_sync)
  find_package(spdlog CONFIG REQUIRED)
  add_executable(postbox-server server/main.cc)
  target_link_libraries(postbox-server
    PRIVATE postbox::sync postbox::engine CLI11::CLI11 spdlog::spdlog Threads::Threads)
  install(TARGETS postbox-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
