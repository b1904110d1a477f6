# cmake -P script: installs BUILD_DIR into WORK_DIR/staging, then moves the tree
# to WORK_DIR/prefix (so nothing may depend on the path it was installed to), and
# builds and runs the consumer (and consumer_c, the C API's) twice against it:
# once through find_package(postbox), once with the compiler alone and the flags of
# `pkg-config --static --cflags --libs postbox-relay postbox-sync postbox-replica` (the libraries
# are static archives unless BUILD_SHARED_LIBS is on, hence --static). Any failing
# step fails the test. CXX, CXX_FLAGS and LINKER_FLAGS are the build's own, so a
# sanitizer build links its consumer with the same runtime.
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/staging)
file(RENAME ${WORK_DIR}/staging ${WORK_DIR}/prefix)
set(prefix ${WORK_DIR}/prefix)

# find_package(postbox)
run(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_CXX_COMPILER=${CXX} "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    -DCMAKE_C_COMPILER=${CC} "-DCMAKE_C_FLAGS=${C_FLAGS}"
    "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer ${WORK_DIR}/store-cmake)
run(${WORK_DIR}/build/consumer_c ${WORK_DIR}/store-cmake-c)

# pkg-config: the .pc files find their prefix from their own location.
file(GLOB pc_dirs ${prefix}/lib*/pkgconfig ${prefix}/lib*/*/pkgconfig)
list(JOIN pc_dirs ":" pc_path)
set(ENV{PKG_CONFIG_PATH} "${pc_path}")
foreach(pc postbox postbox-sync postbox-client postbox-replica postbox-relay)
  execute_process(COMMAND pkg-config --variable=includedir ${pc}
                  OUTPUT_VARIABLE includedir OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT EXISTS "${includedir}/postbox/db.h")
    message(FATAL_ERROR "${pc}.pc: includedir '${includedir}' does not hold postbox/db.h")
  endif()
endforeach()
execute_process(COMMAND pkg-config --static --cflags --libs postbox-relay postbox-sync postbox-replica
                OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --static --cflags --libs postbox-relay postbox-sync postbox-replica failed")
endif()
message(STATUS "pkg-config --static --cflags --libs postbox-relay postbox-sync postbox-replica: ${flags}")
separate_arguments(flags UNIX_COMMAND "${flags}")
separate_arguments(cxx_flags UNIX_COMMAND "${CXX_FLAGS} ${LINKER_FLAGS}")
run(${CXX} -std=c++20 ${cxx_flags} ${CONSUMER_DIR}/main.cc -o ${WORK_DIR}/consumer-pc ${flags})
run(${WORK_DIR}/consumer-pc ${WORK_DIR}/store-pc)

# The C API as an app in C links it: the compiler, pkg-config postbox-c, and
# the shared library found at run time through the prefix's libdir.
execute_process(COMMAND pkg-config --cflags --libs postbox-c
                OUTPUT_VARIABLE cflags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs postbox-c failed")
endif()
execute_process(COMMAND pkg-config --variable=libdir postbox-c
                OUTPUT_VARIABLE c_libdir OUTPUT_STRIP_TRAILING_WHITESPACE)
separate_arguments(cflags UNIX_COMMAND "${cflags}")
separate_arguments(c_flags UNIX_COMMAND "${C_FLAGS} ${LINKER_FLAGS}")
run(${CC} -std=c99 ${c_flags} ${CONSUMER_DIR}/consumer_c.c -o ${WORK_DIR}/consumer-c-pc ${cflags})
run(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${c_libdir} ${WORK_DIR}/consumer-c-pc ${WORK_DIR}/store-pc-c)
