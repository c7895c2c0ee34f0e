#include "shuffle-server/server_config.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"
#include "shuffle/core/status_macros.h"
#include "shuffle/core/strings.h"

namespace shuffle::server {
namespace {

using core::ToAbsl;

// "config file PATH line N" (YAML marks count from 0).
std::string Where(std::string_view origin, const YAML::Mark& mark) {
  std::string where = absl::StrCat("config file ", ToAbsl(origin));
  if (!mark.is_null()) {
    absl::StrAppend(&where, " line ", mark.line + 1);
  }
  return where;
}

absl::Status Bad(const std::string& where, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", ToAbsl(problem)));
}

std::string ShapeOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a single value";
  }
}

// "; did you mean 'data-dirs'?" when `key` is the flag behind another key (or a flag spelled
// with its dashes); else "".
std::string Suggest(std::string_view key, const ConfigSchema& schema) {
  const std::string_view bare = key.substr(
      key.find_first_not_of('-') == std::string_view::npos ? 0 : key.find_first_not_of('-'));
  for (const auto& [name, spec] : schema) {
    if (name == bare || spec.flag == bare) {
      return absl::StrCat("; did you mean '", name, "'?");
    }
  }
  return "";
}

absl::Status AddSettings(const ConfigKey& spec, const YAML::Node& value, const std::string& where,
                         std::vector<ConfigSetting>* out) {
  auto add = [&](std::string v) { out->push_back({spec.flag, std::move(v), where}); };
  switch (spec.kind) {
    case ConfigKind::kScalar:
      if (value.IsNull()) {
        return Bad(where, "has no value; write \"\" for an empty one");
      }
      if (!value.IsScalar()) {
        return Bad(where, absl::StrCat("expects a single value, not ", ShapeOf(value)));
      }
      add(value.Scalar());
      return absl::OkStatus();
    case ConfigKind::kList:
      if (value.IsScalar()) {  // one item
        add(value.Scalar());
        return absl::OkStatus();
      }
      if (!value.IsSequence()) {
        return Bad(where, absl::StrCat("expects a list, e.g. [a, b], not ", ShapeOf(value)));
      }
      for (const YAML::Node& item : value) {
        if (!item.IsScalar()) {
          return Bad(where, absl::StrCat("list items must be single values, not ", ShapeOf(item)));
        }
        add(item.Scalar());
      }
      return absl::OkStatus();
    case ConfigKind::kMap:
      if (!value.IsMap()) {
        return Bad(where, absl::StrCat("expects a map, e.g. {name: value}, not ", ShapeOf(value)));
      }
      for (const auto& entry : value) {
        if (!entry.first.IsScalar() || !entry.second.IsScalar()) {
          return Bad(where, "map entries must be name: value");
        }
        add(absl::StrCat(entry.first.Scalar(), "=", entry.second.Scalar()));
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ConfigSetting>> Convert(const YAML::Node& root, std::string_view origin,
                                                   const ConfigSchema& schema) {
  std::vector<ConfigSetting> out;
  if (!root.IsDefined() || root.IsNull()) {
    return out;  // an empty file
  }
  if (!root.IsMap()) {
    return Bad(Where(origin, root.Mark()),
               absl::StrCat("expected a map of settings (key: value) at the top level, not ",
                            ShapeOf(root)));
  }
  std::set<std::string> seen;
  for (const auto& entry : root) {
    const std::string at = Where(origin, entry.first.Mark());
    if (!entry.first.IsScalar()) {
      return Bad(at, "keys must be names (the long flags without \"--\")");
    }
    const std::string& key = entry.first.Scalar();
    auto spec = schema.find(key);
    if (spec == schema.end()) {
      return Bad(at, absl::StrCat("unknown key '", key, "'", Suggest(key, schema),
                                  " (keys are the long flags without \"--\"; see "
                                  "shuffle-server --help)"));
    }
    const std::string where = absl::StrCat(at, " key '", key, "'");
    if (!seen.insert(key).second) {
      return Bad(where, "is given twice");
    }
    SHUFFLE_RETURN_IF_ERROR(AddSettings(spec->second, entry.second, where, &out));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<ConfigSetting>> ParseConfigYaml(std::string_view text,
                                                           std::string_view origin,
                                                           const ConfigSchema& schema) {
  // yaml-cpp reports errors by throwing; they stop here.
  try {
    return Convert(YAML::Load(std::string(text)), origin, schema);
  } catch (const YAML::Exception& e) {
    return Bad(Where(origin, e.mark), absl::StrCat("not valid YAML: ", e.msg));
  }
}

absl::StatusOr<std::vector<ConfigSetting>> ReadConfigFile(const std::string& path,
                                                          const ConfigSchema& schema) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", path, " is a directory; --config takes a YAML file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read config file ", path, ": ",
                                            std::strerror(errno), " (check --config)"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::NotFoundError(absl::StrCat("cannot read config file ", path, ": read error"));
  }
  return ParseConfigYaml(text.str(), path, schema);
}

}  // namespace shuffle::server
