// Human output for shufflectl: byte counts with binary units and aligned text tables. Pure
// functions and a value type; not thread-safe (one Table per output).
#ifndef SHUFFLE_TOOLS_SHUFFLECTL_TABLE_H_
#define SHUFFLE_TOOLS_SHUFFLECTL_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace shuffle::shufflectl {

// "0 B", "999 B", "1.0 KiB", "12.3 MiB", "4.0 GiB", "1.5 TiB": one decimal from KiB up.
std::string FormatBytes(uint64_t bytes);

// Columns separated by two spaces, each as wide as its widest cell; numeric columns are
// right-aligned. Trailing spaces are trimmed.
class Table {
 public:
  enum class Align { kLeft, kRight };

  void AddColumn(std::string header, Align align = Align::kLeft);
  // REQUIRES: as many cells as columns.
  void AddRow(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> aligns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace shuffle::shufflectl

#endif  // SHUFFLE_TOOLS_SHUFFLECTL_TABLE_H_
