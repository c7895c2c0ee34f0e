// JNI entry points of dev.shuffle.spark.client.NativeControl: the Spark driver's calls to a
// server's control plane.
#include <jni.h>

#include <chrono>
#include <string>

#include "shuffle/client/control_client.h"
#include "spark-shuffle/native/jni_util.h"

using shuffle::jni::Throw;
using shuffle::jni::ToString;

namespace {

shuffle::client::ControlClient Client(JNIEnv* env, jstring address, jlong timeout_ms) {
  return shuffle::client::ControlClient(ToString(env, address),
                                        std::chrono::milliseconds(timeout_ms));
}

}  // namespace

extern "C" {

JNIEXPORT jstring JNICALL Java_dev_shuffle_spark_client_NativeControl_registerApplication(
    JNIEnv* env, jclass /*cls*/, jstring address, jlong timeout_ms, jstring app_id,
    jstring namespace_name, jstring identity_token) {
  auto client = Client(env, address, timeout_ms);
  auto token = client.RegisterApplication(ToString(env, app_id), ToString(env, namespace_name),
                                          ToString(env, identity_token));
  if (!token.ok()) {
    Throw(env, token.status(), client.address());
    return nullptr;
  }
  return env->NewStringUTF(token->c_str());
}

JNIEXPORT void JNICALL Java_dev_shuffle_spark_client_NativeControl_sealShuffle(
    JNIEnv* env, jclass /*cls*/, jstring address, jlong timeout_ms, jstring app_id, jstring token,
    jint shuffle_id) {
  auto client = Client(env, address, timeout_ms);
  absl::Status st = client.SealShuffle(ToString(env, app_id), ToString(env, token),
                                       shuffle::core::ShuffleId(static_cast<uint32_t>(shuffle_id)));
  if (!st.ok()) {
    Throw(env, st, client.address());
  }
}

JNIEXPORT jlong JNICALL Java_dev_shuffle_spark_client_NativeControl_removeShuffle(
    JNIEnv* env, jclass /*cls*/, jstring address, jlong timeout_ms, jstring app_id, jstring token,
    jint shuffle_id) {
  auto client = Client(env, address, timeout_ms);
  auto freed = client.RemoveShuffle(ToString(env, app_id), ToString(env, token),
                                    shuffle::core::ShuffleId(static_cast<uint32_t>(shuffle_id)));
  if (!freed.ok()) {
    Throw(env, freed.status(), client.address());
    return 0;
  }
  return static_cast<jlong>(*freed);
}

JNIEXPORT jlong JNICALL Java_dev_shuffle_spark_client_NativeControl_removeApplication(
    JNIEnv* env, jclass /*cls*/, jstring address, jlong timeout_ms, jstring app_id, jstring token) {
  auto client = Client(env, address, timeout_ms);
  auto freed = client.RemoveApplication(ToString(env, app_id), ToString(env, token));
  if (!freed.ok()) {
    Throw(env, freed.status(), client.address());
    return 0;
  }
  return static_cast<jlong>(*freed);
}

}  // extern "C"
