// JNI entry points of dev.shuffle.spark.client.NativeReader: one PartitionReader per reduce task,
// opened from map locations (Spark's map output tracker names the attempt of each map).
#include <jni.h>

#include <memory>
#include <string>
#include <vector>

#include "shuffle/client/partition_reader.h"
#include "spark-shuffle/native/jni_util.h"

using shuffle::jni::FromHandle;
using shuffle::jni::Throw;
using shuffle::jni::ToString;
using Reader = shuffle::client::PartitionReader;

extern "C" {

JNIEXPORT jlong JNICALL Java_dev_shuffle_spark_client_NativeReader_open(
    JNIEnv* env, jclass /*cls*/, jstring app_id, jstring token, jint shuffle_id,
    jint num_partitions, jint partition_begin, jint partition_end, jobjectArray addresses,
    jintArray map_ids, jintArray attempts, jlongArray options, jobjectArray tls) {
  shuffle::client::ClientOptions client_options;
  if (absl::Status st = shuffle::jni::ToOptions(env, options, tls, &client_options); !st.ok()) {
    Throw(env, st);
    return 0;
  }
  const jsize n = env->GetArrayLength(addresses);
  if (env->GetArrayLength(map_ids) != n || env->GetArrayLength(attempts) != n) {
    Throw(env, absl::InvalidArgumentError("NativeReader.open: addresses, map ids and attempts "
                                          "must have the same length"));
    return 0;
  }
  std::vector<jint> maps(static_cast<size_t>(n));
  std::vector<jint> tries(static_cast<size_t>(n));
  env->GetIntArrayRegion(map_ids, 0, n, maps.data());
  env->GetIntArrayRegion(attempts, 0, n, tries.data());
  std::vector<shuffle::client::MapLocation> locations;
  locations.reserve(static_cast<size_t>(n));
  for (jsize i = 0; i < n; ++i) {
    auto address = static_cast<jstring>(env->GetObjectArrayElement(addresses, i));
    locations.push_back(shuffle::client::MapLocation{
        .address = ToString(env, address),
        .map = shuffle::core::MapId(static_cast<uint32_t>(maps[static_cast<size_t>(i)])),
        .attempt = shuffle::core::AttemptId(static_cast<uint32_t>(tries[static_cast<size_t>(i)]))});
    env->DeleteLocalRef(address);
  }
  const shuffle::client::ShuffleHandle handle{
      .app_id = ToString(env, app_id),
      .token = ToString(env, token),
      .shuffle = shuffle::core::ShuffleId(static_cast<uint32_t>(shuffle_id)),
      .num_partitions = static_cast<uint32_t>(num_partitions)};
  auto reader = Reader::Open(
      client_options, handle, shuffle::core::PartitionId(static_cast<uint32_t>(partition_begin)),
      shuffle::core::PartitionId(static_cast<uint32_t>(partition_end)), locations);
  if (!reader.ok()) {
    Throw(env, reader.status());
    return 0;
  }
  return shuffle::jni::ToHandle(reader->release());
}

// The next block as a direct ByteBuffer over the reader's memory (valid until the next call),
// null at the end, or an empty buffer when nothing arrived within wait_ms (the caller checks
// whether its task was killed and calls again).
JNIEXPORT jobject JNICALL Java_dev_shuffle_spark_client_NativeReader_nextBlock(JNIEnv* env,
                                                                               jclass /*cls*/,
                                                                               jlong handle,
                                                                               jlong wait_ms) {
  Reader* r = FromHandle<Reader>(handle);
  std::string_view raw;
  bool timed_out = false;
  absl::StatusOr<bool> next = r->NextBlock(&raw, absl::Milliseconds(wait_ms), &timed_out);
  if (!next.ok()) {
    Throw(env, next.status(), r->failed_server());
    return nullptr;
  }
  if (timed_out) {
    return env->NewDirectByteBuffer(nullptr, 0);
  }
  if (!*next) {
    return nullptr;
  }
  // An empty block still needs a non-null address to be told apart from the timeout's buffer.
  static char empty = 0;
  void* data = raw.empty() ? &empty : const_cast<char*>(raw.data());
  return env->NewDirectByteBuffer(data, static_cast<jlong>(raw.size()));
}

// {blocks, encoded bytes, records, retries}.
JNIEXPORT jlongArray JNICALL Java_dev_shuffle_spark_client_NativeReader_stats(JNIEnv* env,
                                                                              jclass /*cls*/,
                                                                              jlong handle) {
  const Reader::Stats s = FromHandle<Reader>(handle)->stats();
  const jlong values[] = {static_cast<jlong>(s.blocks), static_cast<jlong>(s.bytes),
                          static_cast<jlong>(s.records), static_cast<jlong>(s.retries)};
  jlongArray out = env->NewLongArray(4);
  if (out != nullptr) {
    env->SetLongArrayRegion(out, 0, 4, values);
  }
  return out;
}

JNIEXPORT void JNICALL Java_dev_shuffle_spark_client_NativeReader_close(JNIEnv* /*env*/,
                                                                        jclass /*cls*/,
                                                                        jlong handle) {
  delete FromHandle<Reader>(handle);
}

}  // extern "C"
