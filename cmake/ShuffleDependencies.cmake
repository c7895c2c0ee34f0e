# Every third-party dependency is found once, here. tools/setup installs the Debian packages
# that provide them; a missing one fails configuration with the package to install.

find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

macro(shuffle_require _found _what _package)
  if(NOT ${_found})
    message(FATAL_ERROR "${_what} not found: run tools/setup (installs Debian package ${_package})")
  endif()
endmacro()

find_package(absl CONFIG QUIET)
shuffle_require(absl_FOUND "abseil" libabsl-dev)
find_package(Protobuf QUIET)  # module mode: Debian's protobuf ships no CMake config
shuffle_require(Protobuf_FOUND "Protobuf" "libprotobuf-dev protobuf-compiler")
find_package(gRPC CONFIG QUIET)
shuffle_require(gRPC_FOUND "gRPC" "libgrpc++-dev protobuf-compiler-grpc")
# The Spark listener: zlib (Spark's ADLER32 and CRC32 checksums) and Cyrus SASL (DIGEST-MD5 of
# spark.authenticate; its mechanism plugins come with libsasl2-modules).
find_package(ZLIB QUIET)
shuffle_require(ZLIB_FOUND "zlib" zlib1g-dev)
find_library(SASL2_LIBRARY sasl2)
find_path(SASL2_INCLUDE_DIR sasl/sasl.h)
if(SASL2_LIBRARY AND SASL2_INCLUDE_DIR)
  set(SASL2_FOUND TRUE)
endif()
shuffle_require(SASL2_FOUND "Cyrus SASL" "libsasl2-dev libsasl2-modules")
find_package(RocksDB CONFIG QUIET)
shuffle_require(RocksDB_FOUND "RocksDB" librocksdb-dev)
find_package(zstd CONFIG QUIET)
shuffle_require(zstd_FOUND "zstd" libzstd-dev)
find_package(Boost 1.74 QUIET)
shuffle_require(Boost_FOUND "Boost (Asio, Beast)" libboost-dev)
pkg_check_modules(URING QUIET IMPORTED_TARGET liburing)
shuffle_require(URING_FOUND "liburing" liburing-dev)
find_package(OpenSSL QUIET)
shuffle_require(OpenSSL_FOUND "OpenSSL" libssl-dev)
pkg_check_modules(LZ4 QUIET IMPORTED_TARGET liblz4)
shuffle_require(LZ4_FOUND "LZ4" liblz4-dev)
pkg_check_modules(XXHASH QUIET IMPORTED_TARGET libxxhash)
shuffle_require(XXHASH_FOUND "xxHash" libxxhash-dev)
find_package(yaml-cpp CONFIG QUIET)  # the server's --config file; target yaml-cpp
shuffle_require(yaml-cpp_FOUND "yaml-cpp" libyaml-cpp-dev)
find_package(nlohmann_json 3 CONFIG QUIET)  # shufflectl --json, the Kubernetes backend
shuffle_require(nlohmann_json_FOUND "nlohmann-json" nlohmann-json3-dev)
# The Kubernetes REST client (driver/kube): HTTPS.
find_package(CURL QUIET)
shuffle_require(CURL_FOUND "libcurl (OpenSSL flavour)" libcurl4-openssl-dev)

if(TARGET zstd::libzstd_shared)
  set(SHUFFLE_ZSTD zstd::libzstd_shared)
else()
  set(SHUFFLE_ZSTD zstd::libzstd_static)
endif()
# RocksDB's shared library links much faster than the static one on two cores.
if(TARGET RocksDB::rocksdb-shared)
  set(SHUFFLE_ROCKSDB RocksDB::rocksdb-shared)
else()
  set(SHUFFLE_ROCKSDB RocksDB::rocksdb)
endif()

if(SHUFFLE_BUILD_TESTS)
  find_package(GTest CONFIG QUIET)
  shuffle_require(GTest_FOUND "GoogleTest" "libgtest-dev libgmock-dev")
endif()
if(SHUFFLE_BUILD_BENCHMARKS)
  find_package(benchmark CONFIG QUIET)
  shuffle_require(benchmark_FOUND "Google Benchmark" libbenchmark-dev)
endif()
