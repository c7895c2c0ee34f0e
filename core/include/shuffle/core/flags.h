// Command lines, table-driven: every binary (shuffle-server, shufflectl, shuffle-driver,
// shuffle-executor, shuffle-bench, shuffle-node-agent) describes its flags in a FlagTable, a list
// of (name, value name, help, setter), and gets the same rules from it:
//   --name=VALUE or --name VALUE; a switch is --name and refuses a value; a flag may repeat (its
//   setter runs once per occurrence, in order); -h and --help ask for the help page; "--" ends
//   the flags; every other word is a positional argument (a subcommand and its arguments);
//   every error names the flag and says what is expected; usage errors exit with code 2.
// The help page is rendered from the same table, so a flag cannot be missing from it. A YAML
// configuration file maps onto the same setters (FlagTable::Set), so one set of rules validates
// both. Subcommands (shufflectl) are a CommandTable: "help COMMAND" and "COMMAND --help" print the
// command's page.
//
// absl's flags library is not used: it has no subcommands or repeatable flags, and its flags are
// process globals, which would keep the parsers from being pure, unit-tested functions.
// A table is built once and then only read; thread-compatible.
#ifndef SHUFFLE_CORE_FLAGS_H_
#define SHUFFLE_CORE_FLAGS_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shuffle::core {

// The exit code of a usage error (a bad flag, value or argument).
inline constexpr int kUsageExitCode = 2;

struct Flag {
  std::string name;        // without "--"
  std::string value_name;  // "N", "PATH", ...; empty for a switch, which takes no value
  std::string help;        // one paragraph; the help page wraps it
  // Runs once per occurrence with the value ("" for a switch). Its error is reported as it is:
  // name the flag and say what is expected (see BadFlagValue).
  std::function<absl::Status(std::string_view value)> set;
  std::string section;  // the heading it is listed under in the help page; "" for none

  bool is_switch() const { return value_name.empty(); }
};

// A flag of the command line and its value, not yet applied.
struct FlagValue {
  const Flag* flag = nullptr;
  std::string value;
};

struct CommandLine {
  std::vector<FlagValue> flags;        // in the order given
  std::vector<std::string> arguments;  // the positional words, in order
  bool help = false;                   // -h or --help was given
};

// INVALID_ARGUMENT "--NAME=VALUE: expected EXPECTED".
absl::Status BadFlagValue(std::string_view name, std::string_view value, std::string_view expected);

class FlagTable {
 public:
  FlagTable() = default;
  FlagTable(FlagTable&&) = default;
  FlagTable& operator=(FlagTable&&) = default;
  FlagTable(const FlagTable&) = delete;
  FlagTable& operator=(const FlagTable&) = delete;

  // Flags added after this are listed under `title` in the help page.
  FlagTable& Section(std::string title);
  // REQUIRES: no flag of that name yet.
  FlagTable& Add(std::string name, std::string value_name, std::string help,
                 std::function<absl::Status(std::string_view value)> set);
  FlagTable& Switch(std::string name, std::string help, std::function<void()> set);
  // Stores the value.
  FlagTable& String(std::string name, std::string value_name, std::string help,
                    std::string* target);
  // Stores a whole number from `min` to `max`, else BadFlagValue.
  template <typename T>
  FlagTable& Number(const std::string& name, const std::string& value_name, const std::string& help,
                    T* target, T min = 0, T max = std::numeric_limits<T>::max());

  FlagTable& AddNumber(std::string name, std::string value_name, std::string help, uint64_t min,
                       uint64_t max, std::function<void(uint64_t)> store);

  const Flag* Find(std::string_view name) const;
  const std::vector<Flag>& flags() const { return flags_; }

  // Splits the arguments after the program name. INVALID_ARGUMENT for an unknown flag (naming
  // it), a flag without its value, or a switch given one.
  absl::StatusOr<CommandLine> Split(const std::vector<std::string>& args) const;
  // Runs the setters of `line`'s flags in order; the first error.
  static absl::Status Apply(const CommandLine& line);
  // Split, then Apply.
  absl::StatusOr<CommandLine> Parse(const std::vector<std::string>& args) const;
  // Sets one flag by name, as a configuration file does.
  absl::Status Set(std::string_view name, std::string_view value) const;

  // The flags part of the help page: "  --name=VALUE   help" under the section headings.
  std::string Help() const;

 private:
  std::vector<Flag> flags_;
  std::string section_;
};

// INVALID_ARGUMENT "unexpected argument 'X'" when `line` has positional arguments.
absl::Status NoArguments(const CommandLine& line);

// Prints "PROGRAM: MESSAGE" and a pointer to --help on stderr; returns kUsageExitCode.
int ReportUsageError(std::string_view program, const absl::Status& status);

// A subcommand: "shufflectl scrub APP_ID SHUFFLE_ID".
struct CommandSpec {
  std::string name;
  std::string arguments;  // for the help pages, e.g. "APP_ID SHUFFLE_ID"
  size_t arity = 0;       // how many positional arguments it takes
  std::string summary;    // one line in the overview
  std::string details;    // its own help page
};

struct CommandChoice {
  const CommandSpec* command = nullptr;  // null: the overview was asked for
  std::vector<std::string> arguments;    // the command's own, `arity` of them (unless help)
  bool help = false;                     // print the help page (of `command`, or the overview)
};

class CommandTable {
 public:
  CommandTable(std::string program, std::vector<CommandSpec> commands)
      : program_(std::move(program)), commands_(std::move(commands)) {}

  // From a split command line: "COMMAND ARGS...", "COMMAND --help", "help [COMMAND]", "--help".
  // INVALID_ARGUMENT for no command, an unknown one, or the wrong number of arguments.
  absl::StatusOr<CommandChoice> Choose(const CommandLine& line) const;
  const CommandSpec* Find(std::string_view name) const;
  const std::vector<CommandSpec>& commands() const { return commands_; }
  // "  NAME ARGS   summary" lines.
  std::string Overview() const;

 private:
  std::string Names() const;  // "status, apps, ... or health"
  std::string program_;
  std::vector<CommandSpec> commands_;
};

// ---- Implementation details ---------------------------------------------------------------

absl::Status ParseWholeNumber(std::string_view name, std::string_view value, uint64_t min,
                              uint64_t max, uint64_t* out);

template <typename T>
FlagTable& FlagTable::Number(const std::string& name, const std::string& value_name,
                             const std::string& help, T* target, T min, T max) {
  static_assert(std::is_integral_v<T> && std::is_unsigned_v<T>);
  return AddNumber(name, value_name, help, min, max,
                   [target](uint64_t value) { *target = static_cast<T>(value); });
}

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_FLAGS_H_
