#include "shuffle-server/storage/sync_sites.h"

#ifdef SHUFFLE_SYNC_REMOVAL
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_split.h"

namespace shuffle::storage {

bool SyncRemoved(SyncSite site) {
  static const std::array<bool, kSyncSiteNames.size()> removed = [] {
    std::array<bool, kSyncSiteNames.size()> out{};
    const char* names = std::getenv("SHUFFLE_REMOVE_SYNC");
    if (names == nullptr) {
      return out;
    }
    for (absl::string_view name : absl::StrSplit(names, ',', absl::SkipEmpty())) {
      bool known = false;
      for (size_t i = 0; i < kSyncSiteNames.size(); ++i) {
        if (kSyncSiteNames[i] == std::string_view(name.data(), name.size())) {
          out[i] = known = true;
        }
      }
      if (!known) {
        std::fprintf(stderr, "SHUFFLE_REMOVE_SYNC: unknown sync site '%s'\n",
                     std::string(name).c_str());
        std::abort();
      }
      std::fprintf(stderr, "sync removal build: skipping sync site %s\n",
                   std::string(name).c_str());
    }
    return out;
  }();
  return removed[static_cast<size_t>(site)];
}

}  // namespace shuffle::storage
#endif  // SHUFFLE_SYNC_REMOVAL
