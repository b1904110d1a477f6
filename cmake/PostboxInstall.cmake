# install(EXPORT) + postboxConfig.cmake + postbox.pc, so host servers can
# find_package(postbox) and link postbox::engine (or use pkg-config postbox).
include(CMakePackageConfigHelpers)

set(POSTBOX_INSTALL_TARGETS postbox_engine postbox_wire)
set(POSTBOX_HAS_SYNC OFF)
foreach(t postbox_sync postbox_client)
  if(TARGET ${t})
    list(APPEND POSTBOX_INSTALL_TARGETS ${t})
    set(POSTBOX_HAS_SYNC ON)
  endif()
endforeach()
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
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/postbox)

configure_file(engine/cmake/postbox.pc.in ${CMAKE_CURRENT_BINARY_DIR}/postbox.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/postbox.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

if(POSTBOX_BUILD_TOOLS)
  install(TARGETS postbox-admin RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
