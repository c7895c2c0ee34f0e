// Helpers shared by the JNI entry points of libshuffle_jni (the Spark plugin's binding of the
// client library): Java exceptions from absl statuses, string conversion, handle casts, and the
// classes the library constructs, looked up once in JNI_OnLoad.
//
// Every function here runs on the calling Java thread; the cached class references are global
// and immutable after JNI_OnLoad, so they are safe from any thread.
#ifndef SHUFFLE_SPARK_NATIVE_JNI_UTIL_H_
#define SHUFFLE_SPARK_NATIVE_JNI_UTIL_H_

#include <jni.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "shuffle/client/options.h"

namespace shuffle::jni {

// Classes of the plugin (package dev.shuffle.spark.client), resolved in JNI_OnLoad.
struct Classes {
  jclass exception = nullptr;  // ShuffleServiceException(int code, String message, String server)
  jmethodID exception_ctor = nullptr;
  jclass commit_result = nullptr;  // NativeWriter.CommitResult(boolean won, String node,
                                   // String address, String controlAddress, int attempt,
                                   // long[] partitionBytes, String replicaNode,
                                   // String replicaAddress, String replicaControlAddress,
                                   // int replicaAttempt)
  jmethodID commit_result_ctor = nullptr;
};
const Classes& classes();

// Throws a ShuffleServiceException carrying the status code, its message and the server it
// concerns ("" when none). REQUIRES: !status.ok().
void Throw(JNIEnv* env, const absl::Status& status, const std::string& server = "");

// Java String to UTF-8 (a null reference gives "").
std::string ToString(JNIEnv* env, jstring s);

// Client options from the long[] the Java side builds (NativeOptions.toArray(); the order is
// fixed by kOption* below). INVALID_ARGUMENT for a wrong length.
// `tls`: String[4] of the TLS files (CA, certificate, key, server name; null entries are empty).
absl::Status ToOptions(JNIEnv* env, jlongArray array, jobjectArray tls, client::ClientOptions* out);
// Only the TLS files of `out`, from `tls` as above.
absl::Status ToTlsOptions(JNIEnv* env, jobjectArray tls, client::ClientOptions* out);

inline constexpr int kOptionCompressionLevel = 0;
inline constexpr int kOptionMaxBytesInFlight = 1;
inline constexpr int kOptionMaxParallelServers = 2;
inline constexpr int kOptionConnectTimeoutMs = 3;
inline constexpr int kOptionIoTimeoutMs = 4;
inline constexpr int kOptionMaxRetries = 5;
inline constexpr int kOptionInitialBackoffMs = 6;
inline constexpr int kOptionMaxBackoffMs = 7;
inline constexpr int kOptionRegisterShuffleOnPush = 8;
inline constexpr int kOptionWriterWaitsForServer = 9;
inline constexpr int kOptionCompressionCodec = 10;
inline constexpr int kOptionCount = 11;

template <typename T>
T* FromHandle(jlong handle) {
  return reinterpret_cast<T*>(static_cast<intptr_t>(handle));
}
template <typename T>
jlong ToHandle(T* p) {
  return static_cast<jlong>(reinterpret_cast<intptr_t>(p));
}

}  // namespace shuffle::jni

#endif  // SHUFFLE_SPARK_NATIVE_JNI_UTIL_H_
