// The shuffle-server's YAML configuration file (--config=PATH): a map whose keys mirror the long
// flags, e.g.
//
//   data-dirs: [/mnt/disk1/shuffle, /mnt/disk2/shuffle]
//   listen: 0.0.0.0:7340
//   memory-budget-mib: 512
//   namespace-quotas: {team-a: 10240, team-b: 2048}   # MiB
//
// Parsing turns the file into the (flag, value) settings the command line would give, so one set
// of rules (server_options.cc) validates both; which keys exist, and whether each takes a single
// value, a list or a map, is the caller's schema. yaml-cpp's exceptions stop here. Pure
// functions; thread-safe.
#ifndef SHUFFLE_SERVER_SERVER_CONFIG_H_
#define SHUFFLE_SERVER_SERVER_CONFIG_H_

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace shuffle::server {

enum class ConfigKind {
  kScalar,  // key: value                 -> one setting
  kList,    // key: [a, b]                -> one setting per item
  kMap,     // key: {name: value, ...}    -> one setting "name=value" per entry
};

struct ConfigKey {
  std::string flag;  // the flag each setting is for (without "--")
  ConfigKind kind = ConfigKind::kScalar;
};

// YAML key -> what it sets.
using ConfigSchema = std::map<std::string, ConfigKey, std::less<>>;

struct ConfigSetting {
  std::string flag;
  std::string value;
  std::string where;  // "config file PATH line N key 'KEY'", for errors about the value
};

// Parses YAML `text`; `origin` (the file's path) names it in errors. INVALID_ARGUMENT naming the
// origin, line and key for a syntax error, a top level that is not a map, an unknown or repeated
// key, or a value of the wrong shape (a list where one value belongs, a missing value, ...).
// An empty document gives no settings.
absl::StatusOr<std::vector<ConfigSetting>> ParseConfigYaml(std::string_view text,
                                                           std::string_view origin,
                                                           const ConfigSchema& schema);

// Reads and parses the file at `path`. NOT_FOUND when it cannot be read.
absl::StatusOr<std::vector<ConfigSetting>> ReadConfigFile(const std::string& path,
                                                          const ConfigSchema& schema);

}  // namespace shuffle::server

#endif  // SHUFFLE_SERVER_SERVER_CONFIG_H_
