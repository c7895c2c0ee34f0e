// Human output of shufflectl: a line of totals, then aligned tables with units.
#include "tools/shufflectl/render.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "tools/shufflectl/table.h"

namespace shuffle::shufflectl {
namespace {

using Align = Table::Align;

std::string Seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f s", seconds);
  return text;
}

std::string Percent(uint64_t part, uint64_t whole) {
  if (whole == 0) {
    return "-";
  }
  char text[16];
  std::snprintf(text, sizeof(text), "%.0f%%",
                100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return text;
}

std::string DirectoriesTable(const proto::GetStatusResponse& status) {
  Table table;
  table.AddColumn("DIRECTORY");
  table.AddColumn("USED", Align::kRight);
  table.AddColumn("FILES", Align::kRight);
  table.AddColumn("FREE", Align::kRight);
  table.AddColumn("CAPACITY", Align::kRight);
  table.AddColumn("DISK USE", Align::kRight);
  for (const proto::DirectoryStatus& d : status.directories()) {
    table.AddRow({d.path(), FormatBytes(d.used_bytes()), absl::StrCat(d.files()),
                  FormatBytes(d.free_bytes()), FormatBytes(d.capacity_bytes()),
                  Percent(d.capacity_bytes() - d.free_bytes(), d.capacity_bytes())});
  }
  return table.Render();
}

std::string NamespacesTable(const proto::GetStatusResponse& status) {
  Table table;
  table.AddColumn("NAMESPACE");
  table.AddColumn("APPS", Align::kRight);
  table.AddColumn("ON DISK", Align::kRight);
  table.AddColumn("FILES", Align::kRight);
  table.AddColumn("STORED", Align::kRight);
  table.AddColumn("QUOTA", Align::kRight);
  table.AddColumn("QUOTA USE", Align::kRight);
  for (const proto::NamespaceStatus& n : status.namespaces()) {
    const bool limited = n.quota_bytes() > 0;
    table.AddRow({n.namespace_(), absl::StrCat(n.applications()), FormatBytes(n.bytes()),
                  absl::StrCat(n.files()), FormatBytes(n.stored_bytes()),
                  limited ? FormatBytes(n.quota_bytes()) : "unlimited",
                  limited ? Percent(n.stored_bytes(), n.quota_bytes()) : "-"});
  }
  return table.Render();
}

}  // namespace

bool ScrubClean(const proto::ScrubShuffleResponse& scrub) {
  return scrub.corrupt_blocks() == 0 && scrub.blocks_checked() >= scrub.expected_blocks();
}

Output RenderStatus(const proto::GetStatusResponse& status, bool json) {
  if (json) {
    return {StatusJson(status)};
  }
  uint64_t shuffles = 0;
  uint64_t bytes = 0;
  uint64_t files = 0;
  for (const proto::ApplicationStatus& a : status.applications()) {
    shuffles += a.shuffles();
    bytes += a.bytes();
    files += a.files();
  }
  std::string text =
      absl::StrCat("node ", status.node(), "  version ", status.version(),
                   status.draining() ? "  DRAINING (refusing writes)" : "", "\n",
                   status.applications_size(), " applications, ", shuffles, " shuffles, ",
                   FormatBytes(bytes), " in ", files, " files\n\n", DirectoriesTable(status));
  if (status.namespaces_size() > 0) {
    absl::StrAppend(&text, "\n", NamespacesTable(status));
  }
  return {text};
}

Output RenderApps(const proto::GetStatusResponse& status, bool json) {
  if (json) {
    return {AppsJson(status)};
  }
  if (status.applications_size() == 0) {
    return {"no applications\n"};
  }
  Table table;
  table.AddColumn("APP ID");
  table.AddColumn("NAMESPACE");
  table.AddColumn("SHUFFLES", Align::kRight);
  table.AddColumn("ON DISK", Align::kRight);
  table.AddColumn("FILES", Align::kRight);
  for (const proto::ApplicationStatus& a : status.applications()) {
    table.AddRow({a.app_id(), a.namespace_(), absl::StrCat(a.shuffles()), FormatBytes(a.bytes()),
                  absl::StrCat(a.files())});
  }
  return {table.Render()};
}

Output RenderShuffles(const proto::GetStatusResponse& status, const std::string& app_id,
                      bool json) {
  if (json) {
    return {ShufflesJson(status, app_id)};
  }
  std::string text;
  for (const proto::ApplicationStatus& a : status.applications()) {
    if (a.app_id() != app_id) {
      continue;
    }
    absl::StrAppend(&text, "application ", a.app_id(), " (namespace ", a.namespace_(),
                    "): ", a.shuffles(), " shuffles, ", FormatBytes(a.bytes()), "\n");
    if (a.shuffle_details_size() == 0) {
      continue;
    }
    Table table;
    table.AddColumn("SHUFFLE", Align::kRight);
    table.AddColumn("PARTITIONS", Align::kRight);
    table.AddColumn("MAPS COMMITTED", Align::kRight);
    table.AddColumn("ON DISK", Align::kRight);
    table.AddColumn("FILES", Align::kRight);
    table.AddColumn("SEALED");
    for (const proto::ShuffleStatus& s : a.shuffle_details()) {
      table.AddRow({absl::StrCat(s.shuffle_id()), absl::StrCat(s.partitions()),
                    absl::StrCat(s.maps_committed()), FormatBytes(s.bytes()),
                    absl::StrCat(s.files()), s.sealed() ? "yes" : "no"});
    }
    absl::StrAppend(&text, "\n", table.Render());
  }
  return {text};
}

Output RenderRemoved(const std::string& app_id, const proto::RemoveApplicationResponse& removed,
                     bool json) {
  if (json) {
    return {RemovedJson(app_id, removed)};
  }
  return {absl::StrCat("removed application ", app_id, ": freed ",
                       FormatBytes(removed.freed_bytes()), "\n")};
}

Output RenderScrub(const std::string& app_id, uint32_t shuffle_id,
                   const proto::ScrubShuffleResponse& scrub, bool json) {
  const int exit_code = ScrubClean(scrub) ? 0 : 1;
  if (json) {
    return {ScrubJson(app_id, shuffle_id, scrub), exit_code};
  }
  const uint64_t missing = scrub.expected_blocks() > scrub.blocks_checked()
                               ? scrub.expected_blocks() - scrub.blocks_checked()
                               : 0;
  std::string text = absl::StrCat(
      "scrub of ", app_id, "/", shuffle_id, ": ", exit_code == 0 ? "OK" : "DAMAGED", ": ",
      scrub.blocks_checked(), " of ", scrub.expected_blocks(), " blocks (",
      FormatBytes(scrub.bytes_checked()), ") of ", scrub.maps(), " committed maps read in ",
      Seconds(scrub.seconds()), "; ", scrub.corrupt_blocks(), " corrupt, ", missing, " missing\n");
  if (scrub.corrupt_size() > 0) {
    Table table;
    table.AddColumn("MAP", Align::kRight);
    table.AddColumn("ATTEMPT", Align::kRight);
    table.AddColumn("PARTITION", Align::kRight);
    table.AddColumn("SEQ", Align::kRight);
    table.AddColumn("FILE");
    table.AddColumn("OFFSET", Align::kRight);
    table.AddColumn("LENGTH", Align::kRight);
    table.AddColumn("ERROR");
    for (const proto::CorruptBlock& c : scrub.corrupt()) {
      table.AddRow({absl::StrCat(c.map_id()), absl::StrCat(c.attempt()),
                    absl::StrCat(c.partition()), absl::StrCat(c.seq()), c.file(),
                    absl::StrCat(c.offset()), absl::StrCat(c.length()), c.error()});
    }
    absl::StrAppend(&text, "\n", table.Render());
    if (static_cast<uint64_t>(scrub.corrupt_size()) < scrub.corrupt_blocks()) {
      absl::StrAppend(&text, "(the first ", scrub.corrupt_size(), " of ", scrub.corrupt_blocks(),
                      " corrupt blocks)\n");
    }
  }
  if (exit_code != 0) {
    absl::StrAppend(&text,
                    "\nReaders of the damaged partitions will fail with DATA_LOSS; rerun the "
                    "affected maps (or the stage) to rewrite them.\n");
  }
  return {text, exit_code};
}

Output RenderDrain(const std::string& server, const proto::DrainResponse& drain, bool json) {
  if (json) {
    return {DrainJson(server, drain)};
  }
  return {absl::StrCat("drained ", server, " in ", Seconds(drain.seconds()), " (waited for ",
                       drain.commits_waited(),
                       " commits in flight); it refuses writes until it restarts, reads still "
                       "work\n")};
}

Output RenderAdopt(const std::string& server, const proto::AdoptResponse& adoption, bool json) {
  if (json) {
    return {AdoptJson(server, adoption)};
  }
  if (adoption.already_adopted()) {
    return {absl::StrCat("node ", adoption.node(), " was adopted before, by ",
                         adoption.adopted_by(), ": its data is served at ", adoption.data_address(),
                         " (control ", adoption.control_address(), ")\n")};
  }
  return {absl::StrCat(server, " adopted node ", adoption.node(), "'s data (",
                       adoption.commits_recovered(), " map outputs recovered in ",
                       Seconds(adoption.seconds()), "): served at ", adoption.data_address(),
                       " (control ", adoption.control_address(), ")\n")};
}

Output RenderDecommission(const std::string& server, const proto::DecommissionResponse& response,
                          bool json) {
  const int code = response.unmoved_size() == 0 ? 0 : 1;
  if (json) {
    return {DecommissionJson(server, response), code};
  }
  std::string text = absl::StrCat(
      "decommissioned ", server, ": ", response.moved_size(), " of ", response.maps(),
      " map outputs moved (", FormatBytes(response.bytes_moved()), ") in ",
      Seconds(response.seconds()), "; ", response.unmoved_size(),
      " not moved (they fall back to re-runs). The server stays draining until it restarts.\n");
  if (response.moved_size() > 0) {
    Table table;
    table.AddColumn("APP");
    table.AddColumn("SHUFFLE", Align::kRight);
    table.AddColumn("MAP", Align::kRight);
    table.AddColumn("ATTEMPT", Align::kRight);
    table.AddColumn("NOW AT");
    for (const proto::MovedMapOutput& m : response.moved()) {
      table.AddRow({m.app_id(), absl::StrCat(m.status().shuffle_id()),
                    absl::StrCat(m.status().map_id()), absl::StrCat(m.status().attempt()),
                    m.status().address()});
    }
    absl::StrAppend(&text, "\n", table.Render());
  }
  if (response.unmoved_size() > 0) {
    Table table;
    table.AddColumn("APP");
    table.AddColumn("SHUFFLE", Align::kRight);
    table.AddColumn("MAP", Align::kRight);
    table.AddColumn("NOT MOVED BECAUSE");
    for (const proto::UnmovedMapOutput& u : response.unmoved()) {
      table.AddRow({u.app_id(), absl::StrCat(u.shuffle_id()), absl::StrCat(u.map_id()), u.error()});
    }
    absl::StrAppend(&text, "\n", table.Render());
  }
  return {text, code};
}

Output RenderHealth(const std::string& server, const grpc::health::v1::HealthCheckResponse& health,
                    bool json) {
  const std::string status =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(health.status());
  const int code = health.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
  if (json) {
    return {absl::StrCat("{\"server\": \"", server, "\", \"status\": \"", status, "\"}\n"), code};
  }
  return {status + "\n", code};
}

}  // namespace shuffle::shufflectl
