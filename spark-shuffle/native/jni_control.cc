// JNI entry points of dev.shuffle.spark.client.NativeControl: the Spark driver's calls to a
// server's control plane.
#include <jni.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "shuffle/client/control_client.h"
#include "spark-shuffle/native/jni_util.h"

using shuffle::jni::Throw;
using shuffle::jni::ToString;

namespace {

// Null, with a Java exception pending, when `tls` is not the plugin's String[4].
std::optional<shuffle::client::ControlClient> Client(JNIEnv* env, jstring address, jlong timeout_ms,
                                                     jobjectArray tls) {
  shuffle::client::ClientOptions options;
  if (absl::Status st = shuffle::jni::ToTlsOptions(env, tls, &options); !st.ok()) {
    Throw(env, st, ToString(env, address));
    return std::nullopt;
  }
  return std::optional<shuffle::client::ControlClient>(
      std::in_place, ToString(env, address), std::chrono::milliseconds(timeout_ms), options);
}

}  // namespace

extern "C" {

JNIEXPORT jstring JNICALL Java_dev_shuffle_spark_client_NativeControl_registerApplication(
    JNIEnv* env, jclass /*cls*/, jstring address, jlong timeout_ms, jobjectArray tls,
    jstring app_id, jstring namespace_name, jstring identity_token) {
  auto client = Client(env, address, timeout_ms, tls);
  if (!client) {
    return nullptr;
  }
  auto token = client->RegisterApplication(ToString(env, app_id), ToString(env, namespace_name),
                                           ToString(env, identity_token));
  if (!token.ok()) {
    Throw(env, token.status(), client->address());
    return nullptr;
  }
  return env->NewStringUTF(token->c_str());
}

JNIEXPORT void JNICALL Java_dev_shuffle_spark_client_NativeControl_sealShuffle(
    JNIEnv* env, jclass /*cls*/, jstring address, jlong timeout_ms, jobjectArray tls,
    jstring app_id, jstring token, jint shuffle_id) {
  auto client = Client(env, address, timeout_ms, tls);
  if (!client) {
    return;
  }
  absl::Status st =
      client->SealShuffle(ToString(env, app_id), ToString(env, token),
                          shuffle::core::ShuffleId(static_cast<uint32_t>(shuffle_id)));
  if (!st.ok()) {
    Throw(env, st, client->address());
  }
}

JNIEXPORT jlong JNICALL Java_dev_shuffle_spark_client_NativeControl_removeShuffle(
    JNIEnv* env, jclass /*cls*/, jstring address, jlong timeout_ms, jobjectArray tls,
    jstring app_id, jstring token, jint shuffle_id) {
  auto client = Client(env, address, timeout_ms, tls);
  if (!client) {
    return 0;
  }
  auto freed = client->RemoveShuffle(ToString(env, app_id), ToString(env, token),
                                     shuffle::core::ShuffleId(static_cast<uint32_t>(shuffle_id)));
  if (!freed.ok()) {
    Throw(env, freed.status(), client->address());
    return 0;
  }
  return static_cast<jlong>(*freed);
}

JNIEXPORT jlong JNICALL Java_dev_shuffle_spark_client_NativeControl_removeApplication(
    JNIEnv* env, jclass /*cls*/, jstring address, jlong timeout_ms, jobjectArray tls,
    jstring app_id, jstring token) {
  auto client = Client(env, address, timeout_ms, tls);
  if (!client) {
    return 0;
  }
  auto freed = client->RemoveApplication(ToString(env, app_id), ToString(env, token));
  if (!freed.ok()) {
    Throw(env, freed.status(), client->address());
    return 0;
  }
  return static_cast<jlong>(*freed);
}

// The moves as strings: the state ("NONE", "RUNNING" or "DONE"), then per moved output its
// shuffle id, map index, attempt, node, data address and control address (NativeControl parses
// them).
JNIEXPORT jobjectArray JNICALL Java_dev_shuffle_spark_client_NativeControl_movedOutputs0(
    JNIEnv* env, jclass /*cls*/, jstring address, jlong timeout_ms, jobjectArray tls,
    jstring app_id, jstring token) {
  auto client = Client(env, address, timeout_ms, tls);
  if (!client) {
    return nullptr;
  }
  auto moves = client->GetMovedOutputs(ToString(env, app_id), ToString(env, token));
  if (!moves.ok()) {
    Throw(env, moves.status(), client->address());
    return nullptr;
  }
  std::vector<std::string> fields;
  fields.push_back(moves->done ? "DONE" : moves->running ? "RUNNING" : "NONE");
  for (const shuffle::client::MapStatus& s : moves->moved) {
    for (std::string field :
         {std::to_string(s.shuffle.value()), std::to_string(s.map.value()),
          std::to_string(s.attempt.value()), s.node, s.address, s.control_address}) {
      fields.push_back(std::move(field));
    }
  }
  jclass string_class = env->FindClass("java/lang/String");
  if (string_class == nullptr) {
    return nullptr;  // NoClassDefFoundError pending
  }
  jobjectArray out = env->NewObjectArray(static_cast<jsize>(fields.size()), string_class, nullptr);
  if (out == nullptr) {
    return nullptr;  // OutOfMemoryError pending
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    jstring s = env->NewStringUTF(fields[i].c_str());
    if (s == nullptr) {
      return nullptr;
    }
    env->SetObjectArrayElement(out, static_cast<jsize>(i), s);
    env->DeleteLocalRef(s);
  }
  return out;
}

JNIEXPORT void JNICALL Java_dev_shuffle_spark_client_NativeControl_probe(
    JNIEnv* env, jclass /*cls*/, jstring address, jlong timeout_ms, jobjectArray tls) {
  auto client = Client(env, address, timeout_ms, tls);
  if (!client) {
    return;
  }
  absl::Status st = client->Probe(std::chrono::milliseconds(timeout_ms));
  if (!st.ok()) {
    Throw(env, st, client->address());
  }
}

}  // extern "C"
