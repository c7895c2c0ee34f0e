#include "shuffle/core/status_macros.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace shuffle::core {
namespace {

absl::Status FailIf(bool fail) {
  return fail ? absl::NotFoundError("missing thing") : absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<int>> MakeInt(bool fail, int v) {
  if (fail) {
    return absl::InvalidArgumentError("bad int");
  }
  return std::make_unique<int>(v);
}

absl::Status Chain(bool fail_first, bool fail_second, int* steps) {
  SHUFFLE_RETURN_IF_ERROR(FailIf(fail_first));
  ++*steps;
  SHUFFLE_RETURN_IF_ERROR(FailIf(fail_second));
  ++*steps;
  return absl::OkStatus();
}

absl::StatusOr<int> Sum(bool fail_a, bool fail_b) {
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<int> a, MakeInt(fail_a, 2));  // move-only value
  SHUFFLE_ASSIGN_OR_RETURN(std::unique_ptr<int> b, MakeInt(fail_b, 3));
  return *a + *b;
}

TEST(StatusMacrosTest, ReturnIfErrorStopsAtFirstError) {
  int steps = 0;
  EXPECT_TRUE(Chain(false, false, &steps).ok());
  EXPECT_EQ(steps, 2);
  steps = 0;
  absl::Status st = Chain(false, true, &steps);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "missing thing");
  EXPECT_EQ(steps, 1);
  steps = 0;
  EXPECT_FALSE(Chain(true, false, &steps).ok());
  EXPECT_EQ(steps, 0);
}

TEST(StatusMacrosTest, AssignOrReturnPropagatesErrorAndMovesValues) {
  absl::StatusOr<int> ok = Sum(false, false);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 5);
  absl::StatusOr<int> bad = Sum(false, true);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "bad int");
}

TEST(StatusMacrosTest, AnnotateKeepsCodeAndPrefixesContext) {
  absl::Status st = Annotate(absl::DataLossError("checksum mismatch"), "reading block 7");
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(st.message(), "reading block 7: checksum mismatch");
  EXPECT_TRUE(Annotate(absl::OkStatus(), "anything").ok());
}

}  // namespace
}  // namespace shuffle::core
