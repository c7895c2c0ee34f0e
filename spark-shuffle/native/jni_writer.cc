// JNI entry points of dev.shuffle.spark.client.NativeWriter: one MapOutputWriter per map task.
#include <jni.h>

#include <memory>
#include <string>

#include "shuffle/client/map_output_writer.h"
#include "spark-shuffle/native/jni_util.h"

namespace shuffle::jni {
namespace {

// A writer and the buffer a block is copied into out of the Java array, so the array is never
// held pinned while the writer blocks on the network.
struct Writer {
  std::unique_ptr<client::MapOutputWriter> impl;
  std::string scratch;
};

}  // namespace
}  // namespace shuffle::jni

using shuffle::jni::FromHandle;
using shuffle::jni::Throw;
using shuffle::jni::ToString;
using shuffle::jni::Writer;

extern "C" {

JNIEXPORT jlong JNICALL Java_dev_shuffle_spark_client_NativeWriter_open(
    JNIEnv* env, jclass /*cls*/, jstring server, jstring app_id, jstring token, jint shuffle_id,
    jint num_partitions, jint map_id, jint attempt, jstring replica, jlongArray options,
    jobjectArray tls) {
  shuffle::client::ClientOptions client_options;
  if (absl::Status st = shuffle::jni::ToOptions(env, options, tls, &client_options); !st.ok()) {
    Throw(env, st);
    return 0;
  }
  client_options.server = ToString(env, server);
  client_options.replica_server = ToString(env, replica);
  const shuffle::client::ShuffleHandle handle{
      .app_id = ToString(env, app_id),
      .token = ToString(env, token),
      .shuffle = shuffle::core::ShuffleId(static_cast<uint32_t>(shuffle_id)),
      .num_partitions = static_cast<uint32_t>(num_partitions)};
  auto writer = shuffle::client::MapOutputWriter::Open(
      client_options, handle, shuffle::core::MapId(static_cast<uint32_t>(map_id)),
      shuffle::core::AttemptId(static_cast<uint32_t>(attempt)));
  if (!writer.ok()) {
    const std::string failed = shuffle::client::WriterFailedServer(writer.status());
    Throw(env, writer.status(), failed.empty() ? client_options.server : failed);
    return 0;
  }
  return shuffle::jni::ToHandle(new Writer{.impl = std::move(*writer), .scratch = {}});
}

JNIEXPORT void JNICALL Java_dev_shuffle_spark_client_NativeWriter_writeBlock(
    JNIEnv* env, jclass /*cls*/, jlong handle, jint partition, jbyteArray data, jint offset,
    jint length, jint records) {
  Writer* w = FromHandle<Writer>(handle);
  w->scratch.resize(static_cast<size_t>(length));
  env->GetByteArrayRegion(data, offset, length, reinterpret_cast<jbyte*>(w->scratch.data()));
  if (env->ExceptionCheck()) {
    return;  // ArrayIndexOutOfBoundsException
  }
  absl::Status st =
      w->impl->WriteBlock(shuffle::core::PartitionId(static_cast<uint32_t>(partition)), w->scratch,
                          static_cast<uint32_t>(records));
  if (!st.ok()) {
    Throw(env, st, shuffle::client::WriterFailedServer(st));
  }
}

JNIEXPORT jlong JNICALL Java_dev_shuffle_spark_client_NativeWriter_encodedBytes(JNIEnv* /*env*/,
                                                                                jclass /*cls*/,
                                                                                jlong handle) {
  return static_cast<jlong>(FromHandle<Writer>(handle)->impl->encoded_bytes());
}

JNIEXPORT jobject JNICALL Java_dev_shuffle_spark_client_NativeWriter_commit(JNIEnv* env,
                                                                            jclass /*cls*/,
                                                                            jlong handle) {
  Writer* w = FromHandle<Writer>(handle);
  auto result = w->impl->Commit();
  if (!result.ok()) {
    Throw(env, result.status(), shuffle::client::WriterFailedServer(result.status()));
    return nullptr;
  }
  const shuffle::client::MapStatus& s = result->status;
  jlongArray sizes = env->NewLongArray(static_cast<jsize>(s.partition_bytes.size()));
  if (sizes == nullptr) {
    return nullptr;  // OutOfMemoryError pending
  }
  static_assert(sizeof(jlong) == sizeof(uint64_t));
  env->SetLongArrayRegion(sizes, 0, static_cast<jsize>(s.partition_bytes.size()),
                          reinterpret_cast<const jlong*>(s.partition_bytes.data()));
  // With one copy, the replica's place is three empty strings.
  const shuffle::client::MapStatus none;
  const shuffle::client::MapStatus& r = result->replica.has_value() ? *result->replica : none;
  const shuffle::jni::Classes& c = shuffle::jni::classes();
  return env->NewObject(
      c.commit_result, c.commit_result_ctor, result->won ? JNI_TRUE : JNI_FALSE,
      env->NewStringUTF(s.node.c_str()), env->NewStringUTF(s.address.c_str()),
      env->NewStringUTF(s.control_address.c_str()), static_cast<jint>(s.attempt.value()), sizes,
      env->NewStringUTF(r.node.c_str()), env->NewStringUTF(r.address.c_str()),
      env->NewStringUTF(r.control_address.c_str()), static_cast<jint>(r.attempt.value()));
}

JNIEXPORT void JNICALL Java_dev_shuffle_spark_client_NativeWriter_close(JNIEnv* /*env*/,
                                                                        jclass /*cls*/,
                                                                        jlong handle) {
  delete FromHandle<Writer>(handle);
}

}  // extern "C"
