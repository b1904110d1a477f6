# cmake -P script for ctest python.install: installs BUILD_DIR into
# WORK_DIR/prefix, then runs SMOKE with PYTHON, only the installed package's
# folder on PYTHONPATH and no POSTBOX_C_LIBRARY, so the package must find the
# installed libpostbox_c.so.0 through its generated _config.py.
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
set(pkg "${PKGDIR}")
if(NOT IS_ABSOLUTE "${pkg}")
  set(pkg "${WORK_DIR}/prefix/${pkg}")
endif()
run(${CMAKE_COMMAND} -E env --unset=POSTBOX_C_LIBRARY PYTHONPATH=${pkg} PYTHONDONTWRITEBYTECODE=1
    ${PYTHON} ${SMOKE} ${WORK_DIR}/prefix ${WORK_DIR}/store)
file(REMOVE_RECURSE ${WORK_DIR})
