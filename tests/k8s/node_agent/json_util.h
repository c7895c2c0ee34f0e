// Non-throwing accessors for JSON objects from the API server: a missing or mistyped field reads
// as absent. Pure functions.
#ifndef SHUFFLE_TESTS_K8S_NODE_AGENT_JSON_UTIL_H_
#define SHUFFLE_TESTS_K8S_NODE_AGENT_JSON_UTIL_H_

#include <cstdint>
#include <initializer_list>
#include <string>

#include "driver/kube/client.h"

namespace shuffle::node_agent {

// The value at a path of object keys, or nullptr.
inline const kube::Json* At(const kube::Json& json, std::initializer_list<const char*> path) {
  const kube::Json* node = &json;
  for (const char* key : path) {
    if (!node->is_object()) {
      return nullptr;
    }
    const auto it = node->find(key);
    if (it == node->end()) {
      return nullptr;
    }
    node = &*it;
  }
  return node;
}

inline std::string Str(const kube::Json& json, std::initializer_list<const char*> path) {
  const kube::Json* v = At(json, path);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

inline int64_t Int(const kube::Json& json, std::initializer_list<const char*> path,
                   int64_t fallback) {
  const kube::Json* v = At(json, path);
  return v != nullptr && v->is_number_integer() ? v->get<int64_t>() : fallback;
}

// The array at a path, or an empty array.
inline const kube::Json& Arr(const kube::Json& json, std::initializer_list<const char*> path) {
  static const kube::Json* const empty_array = new kube::Json(kube::Json::array());
  const kube::Json* v = At(json, path);
  return v != nullptr && v->is_array() ? *v : *empty_array;
}

}  // namespace shuffle::node_agent

#endif  // SHUFFLE_TESTS_K8S_NODE_AGENT_JSON_UTIL_H_
