# Helpers that give every component the same shape: a library target `shuffle_<name>` with the
# alias `shuffle::<name>`, and tests registered with ctest labels.
#
#   shuffle_cc_library(NAME core SRCS a.cc HDRS_DIR include DEPS absl::status)
#   shuffle_cc_test(NAME frame_test SRCS frame_test.cc DEPS shuffle::core LABELS unit)
#   shuffle_cc_test(NAME cli_test SRCS cli_test.cc RUNS shuffle-server shufflectl)
# RUNS: programs the test starts; each is built first and its path is the macro
# <NAME>_BINARY (upper case, '-' as '_'): SHUFFLE_SERVER_BINARY, SHUFFLECTL_BINARY.

# The programs `target` starts: each is built first and its path is the macro <NAME>_BINARY
# (see RUNS above). For test executables that are not shuffle_cc_test's.
function(shuffle_target_runs target)
  foreach(_program IN LISTS ARGN)
    string(TOUPPER "${_program}_BINARY" _macro)
    string(REPLACE "-" "_" _macro "${_macro}")
    target_compile_definitions(${target} PRIVATE ${_macro}="$<TARGET_FILE:${_program}>")
    add_dependencies(${target} ${_program})
  endforeach()
endfunction()

function(shuffle_cc_library)
  cmake_parse_arguments(ARG "" "NAME;PUBLIC_INCLUDE_DIR" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  set(_target shuffle_${ARG_NAME})
  add_library(${_target} ${ARG_SRCS})
  add_library(shuffle::${ARG_NAME} ALIAS ${_target})
  if(ARG_PUBLIC_INCLUDE_DIR)
    target_include_directories(${_target} PUBLIC ${ARG_PUBLIC_INCLUDE_DIR})
  endif()
  # Internal headers are included by path from the repository root ("shuffle-server/...").
  target_include_directories(${_target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${_target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# Test executables by label, so sanitizer builds can build just the unit tests
# (`ninja unit_tests`). Each links shuffle::testsupport.
function(shuffle_cc_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS;RUNS" ${ARGN})
  if(NOT SHUFFLE_BUILD_TESTS)
    return()
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  # Every suite has the test support (tests/support: TempDir, ServerProcess, HttpGet...).
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} shuffle::testsupport GTest::gtest
                                            GTest::gmock GTest::gtest_main)
  shuffle_target_runs(${ARG_NAME} ${ARG_RUNS})
  gtest_discover_tests(${ARG_NAME} DISCOVERY_MODE PRE_TEST
                       PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
  # The TLS run: every integration test again with TLS on every server's TCP planes
  # (tests/support/tls_run.h), as "<test>/tls" with the label `tls`.
  if("integration" IN_LIST ARG_LABELS)
    gtest_discover_tests(${ARG_NAME} DISCOVERY_MODE PRE_TEST TEST_SUFFIX "/tls"
                         TEST_LIST ${ARG_NAME}_TLS_TESTS
                         PROPERTIES LABELS tls TIMEOUT ${ARG_TIMEOUT}
                                    ENVIRONMENT SHUFFLE_TEST_TLS=1)
    set_property(GLOBAL APPEND PROPERTY SHUFFLE_TESTS_tls ${ARG_NAME})
    set_property(GLOBAL APPEND PROPERTY SHUFFLE_TEST_LABELS tls)
  endif()
  foreach(_label IN LISTS ARG_LABELS)
    set_property(GLOBAL APPEND PROPERTY SHUFFLE_TESTS_${_label} ${ARG_NAME})
  endforeach()
  set_property(GLOBAL APPEND PROPERTY SHUFFLE_TEST_LABELS ${ARG_LABELS})
endfunction()

# Creates one build target per test label (unit_tests, integration_tests, ...).
function(shuffle_finalize_test_groups)
  get_property(_labels GLOBAL PROPERTY SHUFFLE_TEST_LABELS)
  if(_labels)
    list(REMOVE_DUPLICATES _labels)
  endif()
  foreach(_label IN LISTS _labels)
    get_property(_tests GLOBAL PROPERTY SHUFFLE_TESTS_${_label})
    add_custom_target(${_label}_tests DEPENDS ${_tests})
  endforeach()
endfunction()

# Generated or third-party sources: no project warnings.
function(shuffle_relax_warnings _target)
  target_compile_options(${_target} PRIVATE -w)
endfunction()
