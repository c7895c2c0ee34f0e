# Warning policy and sanitizer builds, applied to every target of the project.
# Third-party generated code (protobuf) opts out through shuffle_relax_warnings().

add_compile_options(-Wall -Wextra -Wno-unused-parameter -Werror=unused-result
                    -Werror=return-type $<$<COMPILE_LANGUAGE:CXX>:-Werror=non-virtual-dtor>)

if(SHUFFLE_SANITIZER STREQUAL "asan")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  add_compile_definitions(SHUFFLE_SANITIZER_ASAN=1)
elseif(SHUFFLE_SANITIZER STREQUAL "tsan")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
  add_compile_definitions(SHUFFLE_SANITIZER_TSAN=1)
elseif(NOT SHUFFLE_SANITIZER STREQUAL "")
  message(FATAL_ERROR "SHUFFLE_SANITIZER must be '', 'asan' or 'tsan', not '${SHUFFLE_SANITIZER}'")
endif()

# Fuzzing build (tools/fuzz): every target gets libFuzzer's coverage instrumentation and
# ASan+UBSan; only the fuzz executables of tests/fuzz link the libFuzzer runtime and its main().
if(SHUFFLE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "SHUFFLE_FUZZ needs clang (libFuzzer), not ${CMAKE_CXX_COMPILER_ID}: "
                        "configure with CC=clang CXX=clang++ (tools/fuzz does)")
  endif()
  if(NOT SHUFFLE_SANITIZER STREQUAL "")
    message(FATAL_ERROR "SHUFFLE_FUZZ already enables ASan+UBSan; leave SHUFFLE_SANITIZER empty")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
