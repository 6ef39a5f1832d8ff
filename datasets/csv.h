#pragma once
/// Minimal RFC-4180 CSV reading with errors that name file, row and column.

#include <string>
#include <utility>
#include <vector>

namespace sozai {

/// A parsed CSV table. Rows are 1-based in messages, counting the header
/// line as row 1 when there is one (so messages match what an editor shows).
struct CsvTable {
  std::string path;                          ///< file it came from (for messages)
  std::vector<std::string> header;           ///< empty when read without header
  std::vector<std::vector<std::string>> rows;///< data rows, all of header's width
  std::vector<int> line_of_row;              ///< 1-based file line of each data row
  /// Rows left out by a lenient read: (file line, why).
  std::vector<std::pair<int, std::string>> skipped;
};

/// Reads a CSV file. Quoted fields ("a,b", "" escapes) are supported; blank
/// lines are skipped; CRLF is accepted. Every data row must have the same
/// number of fields as the first row (or header), else InputError naming
/// the file, line and counts. Missing file → StorageError.
/// skip_bad_rows: a row with the wrong number of fields is recorded in
/// `skipped` (with the same message) and reading carries on, for imports
/// that keep the good rows of a damaged file.
CsvTable read_csv(const std::string& path, bool has_header, bool skip_bad_rows = false);

/// A field as written to CSV: quoted (with "" for each quote) when it holds
/// a comma, quote or line break, as read_csv reads it back.
std::string csv_field(const std::string& s);
/// Parses a CSV cell as a finite double. On failure throws InputError
/// "<file>: row <line>, column '<name>': expected a number, got '<cell>'";
/// NaN/inf (including empty cells) are rejected in the same way unless
/// allow_nan is true.
double parse_cell_double(const CsvTable& table, size_t row, size_t col,
                         const std::string& column_name, bool allow_nan = false);

}  // namespace sozai
