#include "driver/podmanager/pod_watcher.h"

#include <deque>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shuffle::podmanager {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

json Pod(const std::string& name, const std::string& phase, const std::string& rv) {
  return {
      {"metadata", {{"name", name}, {"resourceVersion", rv}, {"labels", {{"executor-id", name}}}}},
      {"status", {{"phase", phase}}}};
}

// A source that plays a script: each list and each watch takes the next step.
class ScriptedSource : public PodSource {
 public:
  struct WatchStep {
    std::vector<std::pair<std::string, json>> events;
    absl::Status end;
  };
  std::deque<absl::StatusOr<List>> lists;
  std::deque<WatchStep> watches;
  std::vector<std::string> watched_from;
  PodWatcher* watcher = nullptr;

  absl::StatusOr<List> ListPods(const std::string& selector) override {
    EXPECT_EQ(selector, "app=a,role=executor");
    if (lists.empty()) {
      watcher->Stop();
      return absl::UnavailableError("script over");
    }
    auto next = lists.front();
    lists.pop_front();
    return next;
  }
  absl::Status WatchPods(const std::string& selector, const std::string& rv,
                         const OnEvent& on_event) override {
    watched_from.push_back(rv);
    if (watches.empty()) {
      watcher->Stop();
      return absl::OkStatus();
    }
    WatchStep step = watches.front();
    watches.pop_front();
    for (const auto& [type, object] : step.events) {
      if (!on_event(type, object)) {
        break;
      }
    }
    return step.end;
  }
};

TEST(PodWatcherTest, ListsWatchesFollowsBookmarksResumesAndRelistsOnGone) {
  ScriptedSource source;
  source.lists.push_back(
      PodSource::List{{Pod("a1", "Running", "8"), Pod("a2", "Running", "9")}, "10"});
  source.watches.push_back({{{"MODIFIED", Pod("a2", "Failed", "11")},
                             {"BOOKMARK", json{{"metadata", {{"resourceVersion", "15"}}}}}},
                            absl::OkStatus()});
  source.watches.push_back({{}, absl::UnavailableError("connection reset")});
  source.watches.push_back({{}, absl::OutOfRangeError("too old resource version: 15 (40)")});
  // After the relist a1 is gone: it was deleted while the watch was broken.
  source.lists.push_back(PodSource::List{{Pod("a3", "Pending", "41")}, "42"});
  source.watches.push_back({{{"DELETED", Pod("a3", "Running", "43")}}, absl::OkStatus()});

  std::vector<std::string> changes;
  PodWatcher watcher(&source,
                     {.selector = "app=a,role=executor",
                      .initial_backoff = std::chrono::milliseconds(1),
                      .max_backoff = std::chrono::milliseconds(2)},
                     [&](const PodState& s) {
                       changes.push_back(s.executor_id + (s.ended ? ":ended:" + s.detail : ":up"));
                     });
  source.watcher = &watcher;
  watcher.Run();

  EXPECT_THAT(source.watched_from, ElementsAre("10", "15", "15", "42", "43"));
  EXPECT_THAT(changes, ElementsAre("a1:up", "a2:up", "a2:ended:pod Failed", "a3:up",
                                   "a1:ended:pod deleted", "a3:ended:pod deleted"));
  PodWatcher::Stats stats = watcher.stats();
  EXPECT_EQ(stats.lists, 2u);
  EXPECT_EQ(stats.bookmarks, 1u);
  EXPECT_EQ(stats.relists_after_gone, 1u);
  EXPECT_EQ(stats.errors, 1u);
}

TEST(PodWatcherTest, AWatchThatKeepsFailingIsGivenUpForAList) {
  ScriptedSource source;
  source.lists.push_back(PodSource::List{{}, "7"});
  for (int i = 0; i < 3; ++i) {
    source.watches.push_back({{}, absl::UnavailableError("500: PrevKv=nil")});
  }
  source.lists.push_back(PodSource::List{{}, "9"});
  PodWatcher watcher(&source,
                     {.selector = "app=a,role=executor",
                      .initial_backoff = std::chrono::milliseconds(1),
                      .max_backoff = std::chrono::milliseconds(1)},
                     [](const PodState&) {});
  source.watcher = &watcher;
  watcher.Run();
  EXPECT_THAT(source.watched_from, ElementsAre("7", "7", "7", "9"));
  EXPECT_EQ(watcher.stats().lists, 2u);
}

TEST(PodWatcherTest, APodEndsOnlyOnce) {
  ScriptedSource source;
  source.lists.push_back(PodSource::List{{Pod("a1", "Running", "1")}, "1"});
  source.watches.push_back(
      {{{"MODIFIED", Pod("a1", "Failed", "2")}, {"DELETED", Pod("a1", "Failed", "3")}},
       absl::OkStatus()});
  int ended = 0;
  PodWatcher watcher(&source, {.selector = "app=a,role=executor"},
                     [&](const PodState& s) { ended += s.ended ? 1 : 0; });
  source.watcher = &watcher;
  watcher.Run();
  EXPECT_EQ(ended, 1);
}

TEST(PodWatcherTest, AFailingListIsRetriedWithBackoff) {
  ScriptedSource source;
  source.lists.push_back(absl::PermissionDeniedError("pods is forbidden"));
  source.lists.push_back(PodSource::List{{}, "5"});
  PodWatcher watcher(
      &source, {.selector = "app=a,role=executor", .initial_backoff = std::chrono::milliseconds(1)},
      [](const PodState&) {});
  source.watcher = &watcher;
  watcher.Run();
  EXPECT_EQ(watcher.stats().errors, 1u);
  EXPECT_EQ(watcher.stats().lists, 1u);
  EXPECT_THAT(source.watched_from, ElementsAre("5"));
}

}  // namespace
}  // namespace shuffle::podmanager
