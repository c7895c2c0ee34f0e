# The micro_benchmarks test: runs every benchmark of each binary once with a tiny minimum time
# (about a second in all) and fails when a binary exits non-zero, which it does when a benchmark
# reported an error.
#   cmake -P smoke_test.cmake -- <benchmark binary>...
# Google Benchmark 1.7 takes --benchmark_min_time in seconds, without a unit.
set(_binaries)
set(_after_separator FALSE)
math(EXPR _last "${CMAKE_ARGC} - 1")
foreach(_i RANGE ${_last})
  if(_after_separator)
    list(APPEND _binaries "${CMAKE_ARGV${_i}}")
  elseif(CMAKE_ARGV${_i} STREQUAL "--")
    set(_after_separator TRUE)
  endif()
endforeach()
if(NOT _binaries)
  message(FATAL_ERROR "usage: cmake -P smoke_test.cmake -- <benchmark binary>...")
endif()
foreach(_binary IN LISTS _binaries)
  execute_process(COMMAND ${_binary} --benchmark_min_time=0.01 RESULT_VARIABLE _result)
  if(NOT _result EQUAL 0)
    message(FATAL_ERROR "${_binary} --benchmark_min_time=0.01 failed (${_result})")
  endif()
endforeach()
