# `escrow --version` names the version and the commit it was built from: `git describe` at
# configure time (12-digit hash, "-dirty" for uncommitted changes), "unknown" outside git, or
# -DESCROW_COMMIT=... for builds from a release tarball.
set(ESCROW_COMMIT "" CACHE STRING "commit named by escrow --version (default: git describe at configure time)")
set(ESCROW_GIT_COMMIT "${ESCROW_COMMIT}")
if(NOT ESCROW_GIT_COMMIT)
  find_package(Git QUIET)
  if(GIT_FOUND)
    execute_process(COMMAND ${GIT_EXECUTABLE} -C ${PROJECT_SOURCE_DIR} describe --always --dirty --abbrev=12
      OUTPUT_VARIABLE ESCROW_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
      ERROR_QUIET RESULT_VARIABLE escrow_git_result)
    if(NOT escrow_git_result EQUAL 0)
      set(ESCROW_GIT_COMMIT "")
    endif()
  endif()
  if(NOT ESCROW_GIT_COMMIT)
    set(ESCROW_GIT_COMMIT "unknown")
  endif()
endif()
message(STATUS "escrow ${PROJECT_VERSION}, commit ${ESCROW_GIT_COMMIT}")
configure_file(${PROJECT_SOURCE_DIR}/app/version.cpp.in ${PROJECT_BINARY_DIR}/generated/version.cpp @ONLY)
