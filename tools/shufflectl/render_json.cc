// JSON output of shufflectl (--json), with nlohmann-json. Field names follow control.proto;
// byte counts are plain numbers of bytes.
#include <nlohmann/json.hpp>

#include "tools/shufflectl/render.h"

namespace shuffle::shufflectl {
namespace {

using nlohmann::json;

std::string Dump(const json& j) {
  // Replace, never throw, on invalid UTF-8 (an app id is any bytes the client sent).
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

json ShuffleJson(const proto::ShuffleStatus& s) {
  return {{"shuffle_id", s.shuffle_id()},
          {"partitions", s.partitions()},
          {"maps_committed", s.maps_committed()},
          {"bytes", s.bytes()},
          {"files", s.files()},
          {"sealed", s.sealed()},
          {"stored_bytes", s.stored_bytes()},
          {"created_unix_ms", s.created_unix_ms()}};
}

json AppJson(const proto::ApplicationStatus& a, bool with_shuffles) {
  json j = {{"app_id", a.app_id()},
            {"namespace", a.namespace_()},
            {"shuffles", a.shuffles()},
            {"bytes", a.bytes()},
            {"files", a.files()}};
  if (with_shuffles) {
    json shuffles = json::array();
    for (const proto::ShuffleStatus& s : a.shuffle_details()) {
      shuffles.push_back(ShuffleJson(s));
    }
    j["shuffle_details"] = std::move(shuffles);
  }
  return j;
}

}  // namespace

std::string StatusJson(const proto::GetStatusResponse& status) {
  json dirs = json::array();
  for (const proto::DirectoryStatus& d : status.directories()) {
    dirs.push_back({{"path", d.path()},
                    {"used_bytes", d.used_bytes()},
                    {"files", d.files()},
                    {"free_bytes", d.free_bytes()},
                    {"capacity_bytes", d.capacity_bytes()}});
  }
  json namespaces = json::array();
  for (const proto::NamespaceStatus& n : status.namespaces()) {
    namespaces.push_back({{"namespace", n.namespace_()},
                          {"applications", n.applications()},
                          {"bytes", n.bytes()},
                          {"files", n.files()},
                          {"stored_bytes", n.stored_bytes()},
                          {"quota_bytes", n.quota_bytes()}});
  }
  json apps = json::array();
  for (const proto::ApplicationStatus& a : status.applications()) {
    apps.push_back(AppJson(a, /*with_shuffles=*/true));
  }
  return Dump({{"node", status.node()},
               {"version", status.version()},
               {"draining", status.draining()},
               {"directories", std::move(dirs)},
               {"namespaces", std::move(namespaces)},
               {"applications", std::move(apps)}});
}

std::string AppsJson(const proto::GetStatusResponse& status) {
  json apps = json::array();
  for (const proto::ApplicationStatus& a : status.applications()) {
    apps.push_back(AppJson(a, /*with_shuffles=*/false));
  }
  return Dump({{"applications", std::move(apps)}});
}

std::string ShufflesJson(const proto::GetStatusResponse& status, const std::string& app_id) {
  json shuffles = json::array();
  std::string ns;
  for (const proto::ApplicationStatus& a : status.applications()) {
    if (a.app_id() == app_id) {
      ns = a.namespace_();
      for (const proto::ShuffleStatus& s : a.shuffle_details()) {
        shuffles.push_back(ShuffleJson(s));
      }
    }
  }
  return Dump({{"app_id", app_id}, {"namespace", ns}, {"shuffles", std::move(shuffles)}});
}

std::string RemovedJson(const std::string& app_id,
                        const proto::RemoveApplicationResponse& removed) {
  return Dump({{"app_id", app_id}, {"removed", true}, {"freed_bytes", removed.freed_bytes()}});
}

std::string ScrubJson(const std::string& app_id, uint32_t shuffle_id,
                      const proto::ScrubShuffleResponse& scrub) {
  json corrupt = json::array();
  for (const proto::CorruptBlock& c : scrub.corrupt()) {
    corrupt.push_back({{"map_id", c.map_id()},
                       {"attempt", c.attempt()},
                       {"partition", c.partition()},
                       {"seq", c.seq()},
                       {"file", c.file()},
                       {"offset", c.offset()},
                       {"length", c.length()},
                       {"error", c.error()}});
  }
  const uint64_t missing = scrub.expected_blocks() > scrub.blocks_checked()
                               ? scrub.expected_blocks() - scrub.blocks_checked()
                               : 0;
  return Dump({{"app_id", app_id},
               {"shuffle_id", shuffle_id},
               {"ok", ScrubClean(scrub)},
               {"maps", scrub.maps()},
               {"expected_blocks", scrub.expected_blocks()},
               {"expected_bytes", scrub.expected_bytes()},
               {"blocks_checked", scrub.blocks_checked()},
               {"bytes_checked", scrub.bytes_checked()},
               {"corrupt_blocks", scrub.corrupt_blocks()},
               {"missing_blocks", missing},
               {"corrupt", std::move(corrupt)},
               {"seconds", scrub.seconds()}});
}

std::string DrainJson(const std::string& server, const proto::DrainResponse& drain) {
  return Dump({{"server", server},
               {"drained", true},
               {"commits_waited", drain.commits_waited()},
               {"seconds", drain.seconds()}});
}

std::string AdoptJson(const std::string& server, const proto::AdoptResponse& adoption) {
  return Dump({{"server", server},
               {"node", adoption.node()},
               {"data_address", adoption.data_address()},
               {"control_address", adoption.control_address()},
               {"adopted_by", adoption.adopted_by()},
               {"already_adopted", adoption.already_adopted()},
               {"commits_recovered", adoption.commits_recovered()},
               {"seconds", adoption.seconds()}});
}

std::string DecommissionJson(const std::string& server,
                             const proto::DecommissionResponse& response) {
  nlohmann::json moved = nlohmann::json::array();
  for (const proto::MovedMapOutput& m : response.moved()) {
    moved.push_back({{"app_id", m.app_id()},
                     {"shuffle_id", m.status().shuffle_id()},
                     {"map_id", m.status().map_id()},
                     {"attempt", m.status().attempt()},
                     {"address", m.status().address()},
                     {"node", m.status().node()}});
  }
  nlohmann::json unmoved = nlohmann::json::array();
  for (const proto::UnmovedMapOutput& u : response.unmoved()) {
    unmoved.push_back({{"app_id", u.app_id()},
                       {"shuffle_id", u.shuffle_id()},
                       {"map_id", u.map_id()},
                       {"error", u.error()}});
  }
  return Dump({{"server", server},
               {"maps", response.maps()},
               {"moved", moved},
               {"unmoved", unmoved},
               {"bytes_moved", response.bytes_moved()},
               {"seconds", response.seconds()}});
}

}  // namespace shuffle::shufflectl
