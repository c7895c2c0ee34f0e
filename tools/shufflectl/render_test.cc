// shufflectl's output: units, aligned tables, exit codes, and JSON that parses back.
#include "tools/shufflectl/render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tools/shufflectl/table.h"

namespace shuffle::shufflectl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(TableTest, BytesHaveUnits) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1024), "1.0 KiB");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(uint64_t{12} << 20), "12.0 MiB");
  EXPECT_EQ(FormatBytes(uint64_t{5} << 40), "5.0 TiB");
}

TEST(TableTest, ColumnsAreAligned) {
  Table table;
  table.AddColumn("NAME");
  table.AddColumn("BYTES", Table::Align::kRight);
  table.AddRow({"a", "1.0 KiB"});
  table.AddRow({"longer-name", "12 B"});
  EXPECT_EQ(table.Render(),
            "NAME           BYTES\n"
            "a            1.0 KiB\n"
            "longer-name     12 B\n");
}

proto::GetStatusResponse SampleStatus() {
  proto::GetStatusResponse status;
  status.set_node("node-a");
  status.set_version("0.1.0");
  proto::DirectoryStatus* d = status.add_directories();
  d->set_path("/data/d0");
  d->set_used_bytes(3 << 20);
  d->set_files(3);
  d->set_free_bytes(uint64_t{50} << 30);
  d->set_capacity_bytes(uint64_t{100} << 30);
  proto::ApplicationStatus* a = status.add_applications();
  a->set_app_id("app-1");
  a->set_namespace_("team-a");
  a->set_shuffles(1);
  a->set_bytes(3 << 20);
  a->set_files(3);
  proto::ShuffleStatus* s = a->add_shuffle_details();
  s->set_shuffle_id(7);
  s->set_partitions(8);
  s->set_maps_committed(24);
  s->set_bytes(3 << 20);
  s->set_files(3);
  s->set_sealed(true);
  proto::NamespaceStatus* n = status.add_namespaces();
  n->set_namespace_("team-a");
  n->set_applications(1);
  n->set_stored_bytes(1 << 20);
  n->set_quota_bytes(4 << 20);
  return status;
}

TEST(RenderTest, HumanTables) {
  const proto::GetStatusResponse status = SampleStatus();
  const std::string text = RenderStatus(status, false).text;
  EXPECT_THAT(text, HasSubstr("node node-a  version 0.1.0\n"));
  EXPECT_THAT(text, HasSubstr("1 applications, 1 shuffles, 3.0 MiB in 3 files"));
  EXPECT_THAT(text, HasSubstr("/data/d0   3.0 MiB      3  50.0 GiB  100.0 GiB       50%"));
  EXPECT_THAT(text, HasSubstr("team-a        1      0 B      0  1.0 MiB  4.0 MiB        25%"));
  EXPECT_THAT(RenderApps(status, false).text,
              HasSubstr("app-1   team-a            1  3.0 MiB      3"));
  const std::string shuffles = RenderShuffles(status, "app-1", false).text;
  EXPECT_THAT(shuffles, HasSubstr("application app-1 (namespace team-a): 1 shuffles, 3.0 MiB"));
  EXPECT_THAT(shuffles, HasSubstr("SHUFFLE  PARTITIONS  MAPS COMMITTED  ON DISK  FILES  SEALED"));
  EXPECT_THAT(shuffles, HasSubstr("      7           8              24  3.0 MiB      3  yes"));
  EXPECT_EQ(RenderApps(proto::GetStatusResponse(), false).text, "no applications\n");
  proto::GetStatusResponse draining = status;
  draining.set_draining(true);
  EXPECT_THAT(RenderStatus(draining, false).text, HasSubstr("DRAINING"));
}

TEST(RenderTest, ScrubExitCodeAndCorruptBlocks) {
  proto::ScrubShuffleResponse clean;
  clean.set_maps(2);
  clean.set_expected_blocks(10);
  clean.set_blocks_checked(10);
  clean.set_bytes_checked(5 << 20);
  Output ok = RenderScrub("app-1", 7, clean, false);
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_THAT(ok.text, HasSubstr("scrub of app-1/7: OK: 10 of 10 blocks (5.0 MiB)"));
  EXPECT_THAT(ok.text, Not(HasSubstr("MAP")));

  proto::ScrubShuffleResponse damaged = clean;
  damaged.set_corrupt_blocks(1);
  proto::CorruptBlock* c = damaged.add_corrupt();
  c->set_map_id(3);
  c->set_attempt(1);
  c->set_partition(5);
  c->set_seq(9);
  c->set_file("/data/d1/shuffles/4/data.seg");
  c->set_offset(8192);
  c->set_length(4000);
  c->set_error("block checksum mismatch");
  Output bad = RenderScrub("app-1", 7, damaged, false);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.text, HasSubstr("DAMAGED"));
  EXPECT_THAT(bad.text, HasSubstr("/data/d1/shuffles/4/data.seg    8192    4000  block checksum"));

  proto::ScrubShuffleResponse missing = clean;
  missing.set_blocks_checked(8);
  Output short_read = RenderScrub("app-1", 7, missing, false);
  EXPECT_EQ(short_read.exit_code, 1);
  EXPECT_THAT(short_read.text, HasSubstr("0 corrupt, 2 missing"));

  const Output json = RenderScrub("app-1", 7, damaged, true);
  EXPECT_EQ(json.exit_code, 1);
  const nlohmann::json parsed = nlohmann::json::parse(json.text, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << json.text;
  EXPECT_EQ(parsed["ok"], false);
  EXPECT_EQ(parsed["corrupt"][0]["partition"], 5);
  EXPECT_EQ(parsed["corrupt"][0]["offset"], 8192);
  EXPECT_EQ(parsed["missing_blocks"], 0);
}

TEST(RenderTest, JsonParsesBack) {
  const proto::GetStatusResponse status = SampleStatus();
  const nlohmann::json all = nlohmann::json::parse(RenderStatus(status, true).text);
  EXPECT_EQ(all["node"], "node-a");
  EXPECT_EQ(all["directories"][0]["used_bytes"], 3 << 20);
  EXPECT_EQ(all["applications"][0]["shuffle_details"][0]["sealed"], true);
  EXPECT_EQ(all["namespaces"][0]["quota_bytes"], 4 << 20);
  const nlohmann::json apps = nlohmann::json::parse(RenderApps(status, true).text);
  EXPECT_EQ(apps["applications"][0]["app_id"], "app-1");
  const nlohmann::json shuffles = nlohmann::json::parse(RenderShuffles(status, "app-1", true).text);
  EXPECT_EQ(shuffles["shuffles"][0]["maps_committed"], 24);
  proto::RemoveApplicationResponse removed;
  removed.set_freed_bytes(123);
  EXPECT_EQ(nlohmann::json::parse(RenderRemoved("app-1", removed, true).text)["freed_bytes"], 123);
  proto::DrainResponse drain;
  drain.set_commits_waited(2);
  EXPECT_EQ(nlohmann::json::parse(RenderDrain("h:1", drain, true).text)["commits_waited"], 2);
  // An app id that is not UTF-8 still gives valid JSON.
  proto::GetStatusResponse odd;
  odd.add_applications()->set_app_id(std::string("bad\xff", 4));
  EXPECT_FALSE(nlohmann::json::parse(RenderApps(odd, true).text, nullptr, false).is_discarded());
}

TEST(RenderTest, AdoptSaysWhereTheNodesDataIsServed) {
  proto::AdoptResponse adoption;
  adoption.set_node("n0");
  adoption.set_data_address("10.1.0.5:40001");
  adoption.set_control_address("10.1.0.5:40002");
  adoption.set_adopted_by("n1");
  adoption.set_commits_recovered(12);
  adoption.set_seconds(0.25);
  const Output fresh = RenderAdopt("10.0.0.6:7338", adoption, false);
  EXPECT_EQ(fresh.exit_code, 0);
  EXPECT_THAT(fresh.text, HasSubstr("adopted node n0's data (12 map outputs recovered"));
  EXPECT_THAT(fresh.text, HasSubstr("served at 10.1.0.5:40001 (control 10.1.0.5:40002)"));
  adoption.set_already_adopted(true);
  EXPECT_THAT(RenderAdopt("10.0.0.6:7338", adoption, false).text,
              HasSubstr("node n0 was adopted before, by n1"));
  const nlohmann::json json =
      nlohmann::json::parse(RenderAdopt("10.0.0.6:7338", adoption, true).text);
  EXPECT_EQ(json["already_adopted"], true);
  EXPECT_EQ(json["commits_recovered"], 12);
}

TEST(RenderTest, DecommissionSaysWhereEachOutputWentAndWhatStayed) {
  proto::DecommissionResponse response;
  response.set_maps(2);
  response.set_bytes_moved(3 << 20);
  response.set_seconds(1.5);
  proto::MovedMapOutput* moved = response.add_moved();
  moved->set_app_id("app-1");
  moved->mutable_status()->set_shuffle_id(4);
  moved->mutable_status()->set_map_id(7);
  moved->mutable_status()->set_attempt(107);
  moved->mutable_status()->set_address("10.0.0.8:7340");
  Output all = RenderDecommission("h:1", response, false);
  EXPECT_EQ(all.exit_code, 0);
  EXPECT_THAT(all.text, HasSubstr("1 of 2 map outputs moved (3.0 MiB)"));
  EXPECT_THAT(all.text, HasSubstr("10.0.0.8:7340"));
  EXPECT_THAT(all.text, Not(HasSubstr("NOT MOVED BECAUSE")));

  proto::UnmovedMapOutput* unmoved = response.add_unmoved();
  unmoved->set_app_id("app-1");
  unmoved->set_shuffle_id(4);
  unmoved->set_map_id(8);
  unmoved->set_error("DEADLINE_EXCEEDED: the hand-over's deadline passed");
  Output some = RenderDecommission("h:1", response, false);
  EXPECT_EQ(some.exit_code, 1);
  EXPECT_THAT(some.text, HasSubstr("the hand-over's deadline passed"));
  const nlohmann::json json = nlohmann::json::parse(RenderDecommission("h:1", response, true).text);
  EXPECT_EQ(json["moved"][0]["map_id"], 7);
  EXPECT_EQ(json["moved"][0]["address"], "10.0.0.8:7340");
  EXPECT_EQ(json["unmoved"][0]["map_id"], 8);
  EXPECT_EQ(RenderDecommission("h:1", response, true).exit_code, 1);
}

}  // namespace
}  // namespace shuffle::shufflectl
