#include "spark-shuffle/native/jni_util.h"

#include <cstdlib>

namespace shuffle::jni {
namespace {

Classes g_classes;

jclass GlobalClass(JNIEnv* env, const char* name) {
  jclass local = env->FindClass(name);
  if (local == nullptr) {
    return nullptr;
  }
  auto global = static_cast<jclass>(env->NewGlobalRef(local));
  env->DeleteLocalRef(local);
  return global;
}

}  // namespace

const Classes& classes() { return g_classes; }

void Throw(JNIEnv* env, const absl::Status& status, const std::string& server) {
  if (env->ExceptionCheck()) {
    return;  // a Java exception is already pending: keep it
  }
  jstring message = env->NewStringUTF(std::string(status.message()).c_str());
  jstring where = env->NewStringUTF(server.c_str());
  auto exception =
      static_cast<jthrowable>(env->NewObject(g_classes.exception, g_classes.exception_ctor,
                                             static_cast<jint>(status.code()), message, where));
  if (exception != nullptr) {
    env->Throw(exception);
  }
}

std::string ToString(JNIEnv* env, jstring s) {
  if (s == nullptr) {
    return "";
  }
  const char* chars = env->GetStringUTFChars(s, nullptr);
  std::string out(chars != nullptr ? chars : "");
  if (chars != nullptr) {
    env->ReleaseStringUTFChars(s, chars);
  }
  return out;
}

absl::Status ToTlsOptions(JNIEnv* env, jobjectArray tls, client::ClientOptions* out) {
  if (tls == nullptr || env->GetArrayLength(tls) != 4) {
    return absl::InvalidArgumentError(
        "native client TLS options: expected String[4]; the plugin jar and libshuffle_jni.so do "
        "not match");
  }
  std::string* fields[] = {&out->tls_ca_file, &out->tls_cert_file, &out->tls_key_file,
                           &out->tls_server_name};
  for (jsize i = 0; i < 4; ++i) {
    auto s = static_cast<jstring>(env->GetObjectArrayElement(tls, i));
    *fields[i] = ToString(env, s);
    if (s != nullptr) {
      env->DeleteLocalRef(s);
    }
  }
  return absl::OkStatus();
}

absl::Status ToOptions(JNIEnv* env, jlongArray array, jobjectArray tls,
                       client::ClientOptions* out) {
  if (array == nullptr || env->GetArrayLength(array) != kOptionCount) {
    return absl::InvalidArgumentError(
        "native client options: expected an array of the plugin's own version; the plugin jar "
        "and libshuffle_jni.so do not match");
  }
  jlong v[kOptionCount];
  env->GetLongArrayRegion(array, 0, kOptionCount, v);
  out->compression_level = static_cast<int>(v[kOptionCompressionLevel]);
  out->max_bytes_in_flight = static_cast<uint64_t>(v[kOptionMaxBytesInFlight]);
  out->max_parallel_servers = static_cast<uint32_t>(v[kOptionMaxParallelServers]);
  out->connect_timeout_ms = v[kOptionConnectTimeoutMs];
  out->io_timeout_ms = v[kOptionIoTimeoutMs];
  out->max_retries = static_cast<int>(v[kOptionMaxRetries]);
  out->initial_backoff_ms = v[kOptionInitialBackoffMs];
  out->max_backoff_ms = v[kOptionMaxBackoffMs];
  out->register_shuffle_on_push = v[kOptionRegisterShuffleOnPush] != 0;
  out->writer_waits_for_server = v[kOptionWriterWaitsForServer] != 0;
  out->compression_codec = static_cast<core::Codec>(v[kOptionCompressionCodec]);  // checked at open
  return ToTlsOptions(env, tls, out);
}

}  // namespace shuffle::jni

extern "C" JNIEXPORT jint JNI_OnLoad(JavaVM* vm, void* /*reserved*/) {
  JNIEnv* env = nullptr;
  if (vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_1_8) != JNI_OK) {
    return JNI_ERR;
  }
  using shuffle::jni::g_classes;
  g_classes.exception =
      shuffle::jni::GlobalClass(env, "dev/shuffle/spark/client/ShuffleServiceException");
  g_classes.commit_result =
      shuffle::jni::GlobalClass(env, "dev/shuffle/spark/client/NativeWriter$CommitResult");
  if (g_classes.exception == nullptr || g_classes.commit_result == nullptr) {
    return JNI_ERR;  // a NoClassDefFoundError is pending
  }
  g_classes.exception_ctor =
      env->GetMethodID(g_classes.exception, "<init>", "(ILjava/lang/String;Ljava/lang/String;)V");
  g_classes.commit_result_ctor = env->GetMethodID(
      g_classes.commit_result, "<init>",
      "(ZLjava/lang/String;Ljava/lang/String;Ljava/lang/String;I[JLjava/lang/String;"
      "Ljava/lang/String;Ljava/lang/String;I)V");
  if (g_classes.exception_ctor == nullptr || g_classes.commit_result_ctor == nullptr) {
    return JNI_ERR;
  }
  return JNI_VERSION_1_8;
}
