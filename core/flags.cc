#include "shuffle/core/flags.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "shuffle/core/logging.h"
#include "shuffle/core/strings.h"

namespace shuffle::core {
namespace {

constexpr size_t kHelpColumn = 30;  // where a flag's help starts
constexpr size_t kWidth = 100;      // the help page's width

// Appends `text` from column `column` (where the line already is) to kWidth, continuing on new
// lines indented to `indent`.
void Wrap(std::string_view text, size_t indent, size_t column, std::string* out) {
  bool first = true;
  for (absl::string_view word : absl::StrSplit(ToAbsl(text), ' ', absl::SkipEmpty())) {
    if (!first && column + 1 + word.size() > kWidth) {
      absl::StrAppend(out, "\n", std::string(indent, ' '));
      column = indent;
    } else if (!first) {
      out->push_back(' ');
      ++column;
    }
    absl::StrAppend(out, word);
    column += word.size();
    first = false;
  }
  out->push_back('\n');
}

// "  HEAD   text", the text wrapped at kWidth from kHelpColumn; a long HEAD puts the text on the
// next line.
void AppendEntry(std::string_view head, std::string_view text, std::string* out) {
  absl::StrAppend(out, "  ", ToAbsl(head));
  size_t column = 2 + head.size();
  if (column + 2 > kHelpColumn) {
    out->push_back('\n');
    column = 0;
  }
  out->append(kHelpColumn - column, ' ');
  Wrap(text, kHelpColumn, kHelpColumn, out);
}

// The item of `items` whose `name` is `name`, or null.
template <typename T>
const T* FindNamed(const std::vector<T>& items, std::string_view name) {
  for (const T& item : items) {
    if (item.name == name) {
      return &item;
    }
  }
  return nullptr;
}

}  // namespace

absl::Status BadFlagValue(std::string_view name, std::string_view value,
                          std::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", ToAbsl(name), "=", ToAbsl(value), ": expected ", ToAbsl(expected)));
}

absl::Status ParseWholeNumber(std::string_view name, std::string_view value, uint64_t min,
                              uint64_t max, uint64_t* out) {
  uint64_t parsed = 0;
  if (value.empty() || value.front() == '-' || value.front() == '+' ||
      !absl::SimpleAtoi(ToAbsl(value), &parsed) || parsed < min || parsed > max) {
    return BadFlagValue(name, value,
                        max == std::numeric_limits<uint64_t>::max() ||
                                max == std::numeric_limits<uint32_t>::max() ||
                                max == static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                            ? absl::StrCat("a whole number of at least ", min)
                            : absl::StrCat("a whole number from ", min, " to ", max));
  }
  *out = parsed;
  return absl::OkStatus();
}

FlagTable& FlagTable::Section(std::string title) {
  section_ = std::move(title);
  return *this;
}

FlagTable& FlagTable::Add(std::string name, std::string value_name, std::string help,
                          std::function<absl::Status(std::string_view value)> set) {
  SHUFFLE_CHECK(Find(name) == nullptr) << "flag --" << name << " defined twice";
  flags_.push_back(Flag{.name = std::move(name),
                        .value_name = std::move(value_name),
                        .help = std::move(help),
                        .set = std::move(set),
                        .section = section_});
  return *this;
}

FlagTable& FlagTable::Switch(std::string name, std::string help, std::function<void()> set) {
  return Add(std::move(name), "", std::move(help), [set = std::move(set)](std::string_view) {
    set();
    return absl::OkStatus();
  });
}

FlagTable& FlagTable::String(std::string name, std::string value_name, std::string help,
                             std::string* target) {
  return Add(std::move(name), std::move(value_name), std::move(help),
             [target](std::string_view value) {
               *target = std::string(value);
               return absl::OkStatus();
             });
}

FlagTable& FlagTable::AddNumber(std::string name, std::string value_name, std::string help,
                                uint64_t min, uint64_t max, std::function<void(uint64_t)> store) {
  std::string flag = name;
  return Add(std::move(name), std::move(value_name), std::move(help),
             [flag = std::move(flag), min, max, store = std::move(store)](std::string_view value) {
               uint64_t parsed = 0;
               absl::Status st = ParseWholeNumber(flag, value, min, max, &parsed);
               if (st.ok()) {
                 store(parsed);
               }
               return st;
             });
}

const Flag* FlagTable::Find(std::string_view name) const { return FindNamed(flags_, name); }

absl::StatusOr<CommandLine> FlagTable::Split(const std::vector<std::string>& args) const {
  CommandLine line;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {  // the rest are arguments, even if they start with '-'
      line.arguments.insert(line.arguments.end(), args.begin() + static_cast<ptrdiff_t>(i) + 1,
                            args.end());
      break;
    }
    if (arg == "--help" || arg == "-h") {
      line.help = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      line.arguments.push_back(arg);
      continue;
    }
    if (arg[1] != '-') {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", arg, " (see --help)"));
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? eq : eq - 2);
    const Flag* flag = Find(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (flag->is_switch()) {
      if (eq != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      }
      line.flags.push_back({flag, ""});
    } else if (eq != std::string::npos) {
      line.flags.push_back({flag, arg.substr(eq + 1)});
    } else if (i + 1 < args.size()) {
      line.flags.push_back({flag, args[++i]});
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " needs a value (", flag->value_name, ")"));
    }
  }
  return line;
}

absl::Status FlagTable::Apply(const CommandLine& line) {
  for (const FlagValue& f : line.flags) {
    if (absl::Status st = f.flag->set(f.value); !st.ok()) {
      return st;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CommandLine> FlagTable::Parse(const std::vector<std::string>& args) const {
  absl::StatusOr<CommandLine> line = Split(args);
  if (!line.ok()) {
    return line.status();
  }
  if (absl::Status st = Apply(*line); !st.ok()) {
    return st;
  }
  return line;
}

absl::Status FlagTable::Set(std::string_view name, std::string_view value) const {
  const Flag* flag = Find(name);
  if (flag == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown flag --", ToAbsl(name)));
  }
  return flag->set(value);
}

std::string FlagTable::Help() const {
  std::string out;
  std::string section;
  for (const Flag& flag : flags_) {
    if (flag.section != section) {
      section = flag.section;
      absl::StrAppend(&out, out.empty() ? "" : "\n", section, ":\n");
    }
    const std::string head = flag.is_switch() ? absl::StrCat("--", flag.name)
                                              : absl::StrCat("--", flag.name, "=", flag.value_name);
    AppendEntry(head, flag.help, &out);
  }
  AppendEntry("--help", "Print this help and exit.", &out);
  return out;
}

absl::Status NoArguments(const CommandLine& line) {
  if (line.arguments.empty()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", line.arguments.front(),
                                                 "': settings are --flags (see --help)"));
}

int ReportUsageError(std::string_view program, const absl::Status& status) {
  const std::string text = absl::StrCat(ToAbsl(program), ": ", status.message(), "\nRun '",
                                        ToAbsl(program), " --help' for usage.\n");
  std::fputs(text.c_str(), stderr);
  return kUsageExitCode;
}

const CommandSpec* CommandTable::Find(std::string_view name) const {
  return FindNamed(commands_, name);
}

std::string CommandTable::Names() const {
  std::string names;
  for (size_t i = 0; i < commands_.size(); ++i) {
    absl::StrAppend(&names,
                    i == 0                      ? ""
                    : i + 1 == commands_.size() ? " or "
                                                : ", ",
                    commands_[i].name);
  }
  return names;
}

absl::StatusOr<CommandChoice> CommandTable::Choose(const CommandLine& line) const {
  CommandChoice choice;
  choice.help = line.help;
  std::vector<std::string> words = line.arguments;
  if (!words.empty() && words[0] == "help" && Find("help") == nullptr) {  // help [COMMAND]
    choice.help = true;
    words.erase(words.begin());
    if (words.size() > 1) {
      return absl::InvalidArgumentError("help takes at most one command");
    }
  }
  if (words.empty()) {
    if (choice.help) {
      return choice;
    }
    return absl::InvalidArgumentError(absl::StrCat("no command given: expected ", Names()));
  }
  choice.command = Find(words[0]);
  if (choice.command == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown command '", words[0], "': expected ", Names()));
  }
  if (choice.help) {
    return choice;
  }
  const CommandSpec& spec = *choice.command;
  words.erase(words.begin());
  if (words.size() < spec.arity) {
    return absl::InvalidArgumentError(absl::StrCat(spec.name, " needs ", spec.arguments, " (see ",
                                                   program_, " ", spec.name, " --help)"));
  }
  if (words.size() > spec.arity) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", words[spec.arity], "' for ", spec.name));
  }
  choice.arguments = std::move(words);
  return choice;
}

std::string CommandTable::Overview() const {
  std::string out;
  for (const CommandSpec& spec : commands_) {
    AppendEntry(absl::StrCat(spec.name, spec.arguments.empty() ? "" : " ", spec.arguments),
                spec.summary, &out);
  }
  return out;
}

}  // namespace shuffle::core
