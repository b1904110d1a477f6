# install(EXPORT) + postboxConfig.cmake + pkg-config files, so host servers can
# find_package(postbox) and link postbox::engine, postbox::sync, postbox::client,
# postbox::replica, postbox::relay, postbox::c (or use pkg-config postbox,
# postbox-sync, postbox-client, postbox-replica, postbox-relay, postbox-c).
include(CMakePackageConfigHelpers)

set(POSTBOX_INSTALL_TARGETS postbox_engine postbox_wire)
set(POSTBOX_HAS_SYNC OFF)
foreach(t postbox_sync postbox_client postbox_replica postbox_relay)
  if(TARGET ${t})
    list(APPEND POSTBOX_INSTALL_TARGETS ${t})
    set(POSTBOX_HAS_SYNC ON)
  endif()
endforeach()
list(APPEND POSTBOX_INSTALL_TARGETS ${POSTBOX_C_TARGETS})
install(TARGETS ${POSTBOX_INSTALL_TARGETS}
        EXPORT postboxTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY engine/include/postbox DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY wire/include/postbox DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT postboxTargets NAMESPACE postbox::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/postbox)

configure_package_config_file(engine/cmake/postboxConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/postboxConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/postbox)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/postboxConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/postboxConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/postboxConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/PostboxHttpParser.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/postbox)

# pkg-config files: postbox (engine + wire), postbox-sync, postbox-client. Their
# prefix is ${pcfiledir} walked up to the install prefix, so nothing of this
# configure's CMAKE_INSTALL_PREFIX is baked in (`cmake --install --prefix` and a
# moved tree work). Private dependencies are what a static link needs
# (`pkg-config --static`); the libraries are static archives unless BUILD_SHARED_LIBS.
set(_pc_up "\${pcfiledir}")
string(REPLACE "/" ";" _pc_parts "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
foreach(_part IN LISTS _pc_parts)
  if(NOT _part STREQUAL "" AND NOT _part STREQUAL ".")
    string(APPEND _pc_up "/..")
  endif()
endforeach()
set(POSTBOX_PC_PREFIX "${_pc_up}")
foreach(_kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_kind}}")
    set(POSTBOX_PC_${_kind} "${CMAKE_INSTALL_${_kind}}")
  else()
    set(POSTBOX_PC_${_kind} "\${prefix}/${CMAKE_INSTALL_${_kind}}")
  endif()
endforeach()
set(_pc_files postbox)
if(TARGET postbox_sync)
  list(APPEND _pc_files postbox-sync)
endif()
if(TARGET postbox_client)
  list(APPEND _pc_files postbox-client)
endif()
if(TARGET postbox_replica)
  list(APPEND _pc_files postbox-replica)
endif()
if(TARGET postbox_relay)
  list(APPEND _pc_files postbox-relay)
endif()
if(TARGET postbox_c)
  list(APPEND _pc_files postbox-c)
endif()
foreach(_pc IN LISTS _pc_files)
  configure_file(engine/cmake/${_pc}.pc.in ${CMAKE_CURRENT_BINARY_DIR}/${_pc}.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/${_pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

if(POSTBOX_BUILD_TOOLS)
  install(TARGETS postbox-admin RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
