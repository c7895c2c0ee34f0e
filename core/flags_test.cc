#include "shuffle/core/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace shuffle::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Options {
  std::vector<std::string> dirs;
  std::string name = "default";
  uint32_t count = 1;
  bool verbose = false;
};

FlagTable Table(Options* o) {
  FlagTable table;
  table.Section("Storage")
      .Add("dir", "DIR", "A directory; repeat for several.",
           [o](std::string_view v) {
             o->dirs.emplace_back(v);
             return absl::OkStatus();
           })
      .String("name", "NAME", "A name.", &o->name)
      .Section("Other")
      .Number<uint32_t>("count", "N", "How many, from 1 to 10.", &o->count, 1, 10)
      .Switch("verbose", "Say more.", [o] { o->verbose = true; });
  return table;
}

std::string Error(const std::vector<std::string>& args) {
  Options o;
  absl::StatusOr<CommandLine> line = Table(&o).Parse(args);
  EXPECT_FALSE(line.ok());
  EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(line.status().message());
}

TEST(FlagTableTest, BothValueFormsRepeatedFlagsSwitchesAndArguments) {
  Options o;
  FlagTable table = Table(&o);
  absl::StatusOr<CommandLine> line = table.Parse(
      {"--dir=/a", "run", "--dir", "/b", "--verbose", "--count=3", "--", "--not-a-flag"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(o.dirs, ElementsAre("/a", "/b"));
  EXPECT_EQ(o.count, 3u);
  EXPECT_TRUE(o.verbose);
  EXPECT_EQ(o.name, "default");
  EXPECT_THAT(line->arguments, ElementsAre("run", "--not-a-flag"));
  EXPECT_FALSE(line->help);
  EXPECT_TRUE(table.Parse({"-h"})->help);
  EXPECT_TRUE(table.Parse({"--dir=/c", "--help"})->help);
  EXPECT_TRUE(NoArguments(*table.Parse({"--name=x"})).ok());
  EXPECT_THAT(std::string(NoArguments(*line).message()), HasSubstr("unexpected argument 'run'"));
}

TEST(FlagTableTest, SplitLeavesValuesForLaterAndSetWorksByName) {
  Options o;
  FlagTable table = Table(&o);
  absl::StatusOr<CommandLine> line = table.Split({"--name", "x", "--count=99"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(o.name, "default");  // not applied yet
  ASSERT_EQ(line->flags.size(), 2u);
  EXPECT_EQ(line->flags[0].flag->name, "name");
  EXPECT_EQ(line->flags[0].value, "x");
  EXPECT_TRUE(table.Set("name", "from-config").ok());
  EXPECT_EQ(o.name, "from-config");
  EXPECT_THAT(std::string(table.Set("nope", "1").message()), HasSubstr("unknown flag --nope"));
  EXPECT_THAT(std::string(FlagTable::Apply(*line).message()),
              HasSubstr("--count=99: expected a whole number from 1 to 10"));
  EXPECT_EQ(o.name, "x");  // applied in order up to the error
}

TEST(FlagTableTest, ErrorsNameTheFlag) {
  EXPECT_THAT(Error({"--bogus"}), HasSubstr("unknown flag --bogus"));
  EXPECT_THAT(Error({"--bogus=1"}), HasSubstr("unknown flag --bogus"));
  EXPECT_THAT(Error({"-x"}), HasSubstr("unknown flag -x"));
  EXPECT_THAT(Error({"--name"}), HasSubstr("--name needs a value (NAME)"));
  EXPECT_THAT(Error({"--verbose=yes"}), HasSubstr("--verbose takes no value"));
  EXPECT_THAT(Error({"--count=lots"}), HasSubstr("--count=lots: expected a whole number"));
  EXPECT_THAT(Error({"--count=-1"}), HasSubstr("--count=-1"));
  EXPECT_THAT(Error({"--count=0"}), HasSubstr("from 1 to 10"));
}

TEST(FlagTableTest, HelpListsEveryFlagUnderItsSection) {
  Options o;
  const std::string help = Table(&o).Help();
  EXPECT_THAT(help, HasSubstr("Storage:\n  --dir=DIR                   A directory; repeat"));
  EXPECT_THAT(help, HasSubstr("\n\nOther:\n  --count=N"));
  EXPECT_THAT(help, HasSubstr("  --verbose                   Say more.\n"));
  EXPECT_THAT(help, HasSubstr("  --help"));
  FlagTable wide;
  wide.Add("a-very-long-flag-name-indeed", "VALUE",
           std::string(30, 'x') + " " + std::string(80, 'y'),
           [](std::string_view) { return absl::OkStatus(); });
  EXPECT_THAT(wide.Help(), HasSubstr("--a-very-long-flag-name-indeed=VALUE\n" +
                                     std::string(30, ' ') + std::string(30, 'x') + "\n"));
}

TEST(CommandTableTest, ChoosesTheCommandAndChecksItsArguments) {
  CommandTable commands("ctl", {{.name = "status",
                                 .arguments = "",
                                 .arity = 0,
                                 .summary = "the node",
                                 .details = "Shows the node."},
                                {.name = "scrub",
                                 .arguments = "APP SHUFFLE",
                                 .arity = 2,
                                 .summary = "verify a shuffle",
                                 .details = "Reads every block back."}});
  FlagTable flags;
  auto choose = [&](const std::vector<std::string>& args) {
    return commands.Choose(*flags.Split(args));
  };
  absl::StatusOr<CommandChoice> scrub = choose({"scrub", "app", "7"});
  ASSERT_TRUE(scrub.ok()) << scrub.status();
  EXPECT_EQ(scrub->command->name, "scrub");
  EXPECT_THAT(scrub->arguments, ElementsAre("app", "7"));
  EXPECT_FALSE(scrub->help);
  EXPECT_EQ(choose({"scrub", "--help"})->command->name, "scrub");
  EXPECT_TRUE(choose({"scrub", "--help"})->help);
  EXPECT_EQ(choose({"help", "status"})->command->name, "status");
  EXPECT_TRUE(choose({"--help"})->help);
  EXPECT_EQ(choose({"--help"})->command, nullptr);

  auto error = [&](const std::vector<std::string>& args) {
    return std::string(choose(args).status().message());
  };
  EXPECT_THAT(error({}), HasSubstr("no command given: expected status or scrub"));
  EXPECT_THAT(error({"stat"}), HasSubstr("unknown command 'stat'"));
  EXPECT_THAT(error({"scrub", "app"}), HasSubstr("scrub needs APP SHUFFLE (see ctl scrub --help)"));
  EXPECT_THAT(error({"status", "x"}), HasSubstr("unexpected argument 'x' for status"));
  EXPECT_THAT(error({"help", "a", "b"}), HasSubstr("help takes at most one command"));
  EXPECT_THAT(commands.Overview(), HasSubstr("  scrub APP SHUFFLE           verify a shuffle\n"));
}

}  // namespace
}  // namespace shuffle::core
