/// RFC-4180 CSV reader (see csv.h). The whole file is read into memory and
/// parsed with a small state machine so that quoted fields may hold commas,
/// doubled quotes and line breaks (perov_5 stores whole CIF files in one
/// cell), while every row still remembers the editor line it started on.

#include "common/error.h"
#include "datasets/csv.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace sozai {
namespace {

/// Reads a whole file as bytes; a file that cannot be opened is a storage
/// problem (wrong path, permissions), not malformed input.
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw StorageError(str(path, ": cannot open CSV file for reading (", std::strerror(errno), ")"));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw StorageError(str(path, ": read error"));
  return buf.str();
}

/// True for a record that came from a line holding nothing but whitespace:
/// such lines (often a trailing newline or two) are not data.
bool is_blank_record(const std::vector<std::string>& fields, bool any_quoted) {
  if (any_quoted || fields.size() != 1) return false;
  for (char c : fields[0])
    if (c != ' ' && c != '\t' && c != '\r') return false;
  return true;
}

/// Name used in messages for column `j` (0-based): the header name when
/// there is one, else its 1-based position.
std::string column_label(const std::vector<std::string>& header, size_t j) {
  if (j < header.size()) return str("column '", header[j], "'");
  return str("column ", j + 1);
}

}  // namespace

CsvTable read_csv(const std::string& path, bool has_header, bool skip_bad_rows) {
  const std::string text = slurp(path);
  CsvTable table;
  table.path = path;

  size_t pos = 0;
  // Excel and some notebooks prepend a UTF-8 byte-order mark (Eg_Original.csv
  // has one); left in place it would become part of the first column's name.
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) pos = 3;

  int line = 1;           // current 1-based file line
  size_t width = 0;       // fields per row, fixed by the first record
  bool have_width = false;

  std::vector<std::string> fields;
  std::string field;
  const size_t n = text.size();

  while (pos < n) {
    // ---- parse one record starting at `pos`
    const int record_line = line;
    fields.clear();
    bool any_quoted = false;
    bool end_of_record = false;
    while (!end_of_record) {
      field.clear();
      if (pos < n && text[pos] == '"') {
        any_quoted = true;
        ++pos;
        bool closed = false;
        while (pos < n) {
          const char c = text[pos];
          if (c == '"') {
            if (pos + 1 < n && text[pos + 1] == '"') {
              field.push_back('"');
              pos += 2;
            } else {
              ++pos;
              closed = true;
              break;
            }
          } else {
            if (c == '\n') ++line;
            field.push_back(c);
            ++pos;
          }
        }
        SOZAI_CHECK(closed, path, ": row ", record_line, ", ", column_label(table.header, fields.size()),
                    ": expected a closing '\"' for the quoted field, got end of file");
        // After the closing quote only a separator or the end of the line may follow.
        if (pos < n && text[pos] == '\r' && (pos + 1 == n || text[pos + 1] == '\n')) ++pos;
        if (pos < n && text[pos] != ',' && text[pos] != '\n') {
          throw InputError(str(path, ": row ", line, ", ", column_label(table.header, fields.size()),
                               ": expected ',' or end of line after a closing quote, got '",
                               text[pos], "'"));
        }
      } else {
        while (pos < n && text[pos] != ',' && text[pos] != '\n') field.push_back(text[pos++]);
        // CRLF files: the '\r' belongs to the line break, not to the last field.
        if (!field.empty() && field.back() == '\r' && (pos == n || text[pos] == '\n')) field.pop_back();
      }
      fields.push_back(field);
      if (pos >= n) {
        end_of_record = true;
      } else if (text[pos] == ',') {
        ++pos;
      } else {  // '\n'
        ++pos;
        ++line;
        end_of_record = true;
      }
    }

    if (is_blank_record(fields, any_quoted)) continue;

    if (has_header && !have_width) {
      table.header = fields;
      width = fields.size();
      have_width = true;
      continue;
    }
    if (!have_width) {
      width = fields.size();
      have_width = true;
    }
    if (fields.size() != width) {
      const std::string expected =
          str("expected ", width, " fields (", has_header ? "as in the header" : "as in the first row",
              "), got ", fields.size());
      const std::string message =
          fields.size() < width
              ? str(path, ": row ", record_line, ", ", column_label(table.header, fields.size()), ": missing; ",
                    expected)
              : str(path, ": row ", record_line, ", after the last ", column_label(table.header, width - 1), ": ",
                    expected);
      if (!skip_bad_rows) throw InputError(message);
      table.skipped.emplace_back(record_line, message);
      continue;
    }
    table.rows.push_back(fields);
    table.line_of_row.push_back(record_line);
  }

  SOZAI_CHECK(!has_header || have_width, path, ": expected a header row, got an empty file");
  return table;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

double parse_cell_double(const CsvTable& table, size_t row, size_t col,
                         const std::string& column_name, bool allow_nan) {
  SOZAI_ASSERT(row < table.rows.size());
  SOZAI_ASSERT(col < table.rows[row].size());
  const std::string& cell = table.rows[row][col];
  // Builds the one message format every bad cell gets; `why` adds a hint.
  const auto bad = [&](const char* why) {
    return InputError(str(table.path, ": row ", table.line_of_row[row], ", column '", column_name,
                          "': expected a number, got '", cell, "'", why));
  };

  // Spreadsheets pad numbers with spaces; they carry no meaning here.
  size_t b = 0, e = cell.size();
  while (b < e && (cell[b] == ' ' || cell[b] == '\t')) ++b;
  while (e > b && (cell[e - 1] == ' ' || cell[e - 1] == '\t')) --e;
  if (b == e) {
    if (allow_nan) return std::numeric_limits<double>::quiet_NaN();
    throw bad(" (empty cell)");
  }
  // std::from_chars is locale-independent (strtod would read "1,5" under a
  // German locale) but, unlike strtod, does not take a leading '+'.
  if (cell[b] == '+' && e - b > 1 && cell[b + 1] != '-' && cell[b + 1] != '+') ++b;

  double value = 0.0;
  const auto res = std::from_chars(cell.data() + b, cell.data() + e, value);
  if (res.ec == std::errc::result_out_of_range) throw bad(" (out of the range of a double)");
  if (res.ec != std::errc() || res.ptr != cell.data() + e) throw bad("");
  if (!std::isfinite(value) && !allow_nan) throw bad(" (not a finite number)");
  return value;
}

}  // namespace sozai
