/// Tests of the CSV reader: RFC-4180 quoting, line numbering that matches an
/// editor, and error messages that name file, row and column.

#include "common/error.h"
#include "datasets/csv.h"


#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../test_util.h"

namespace {

using sozai::test::fixture;
using sozai::test::message_of;

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

/// Writes `bytes` verbatim to a fresh file in a private temporary folder;
/// written at run time (not as a fixture) so that no checkout setting can
/// rewrite the line endings under test.
std::string write_temp(const std::string& name, const std::string& bytes) {
  const std::string path = sozai::test::make_temp_dir("sozai_csv") + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}



}  // namespace

TEST_CASE("read_csv: header, rows and line numbers", "[datasets][csv]") {
  const auto path = write_temp("plain.csv", "a,b,c\n1,2,3\n\n4,5,6\n");
  const auto t = sozai::read_csv(path, true);
  CHECK(t.path == path);
  CHECK(t.header == std::vector<std::string>{"a", "b", "c"});
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[1] == std::vector<std::string>{"4", "5", "6"});
  // The blank line is skipped but still counted: row 2 sits on line 4.
  CHECK(t.line_of_row == std::vector<int>{2, 4});
}

TEST_CASE("read_csv: quoted fields, escaped quotes, embedded newlines", "[datasets][csv]") {
  const auto path = write_temp("quoted.csv",
                               "name,\"note, with comma\"\n"
                               "\"x\"\"y\",\"two\nlines\"\n"
                               "plain,\"\"\n"
                               "last,end\n");
  const auto t = sozai::read_csv(path, true);
  CHECK(t.header == std::vector<std::string>{"name", "note, with comma"});
  REQUIRE(t.rows.size() == 3);
  CHECK(t.rows[0] == std::vector<std::string>{"x\"y", "two\nlines"});
  CHECK(t.rows[1] == std::vector<std::string>{"plain", ""});
  // The quoted line break makes "last" start on file line 5.
  CHECK(t.line_of_row == std::vector<int>{2, 4, 5});
}

TEST_CASE("read_csv: CRLF, BOM, no trailing newline, no header", "[datasets][csv]") {
  const auto path = write_temp("crlf.csv", "\xEF\xBB\xBFSmiles,Eg\r\n*C*,1.5\r\n\"*CC*\",2.5");
  const auto t = sozai::read_csv(path, true);
  CHECK(t.header == std::vector<std::string>{"Smiles", "Eg"});
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0] == std::vector<std::string>{"*C*", "1.5"});
  CHECK(t.rows[1] == std::vector<std::string>{"*CC*", "2.5"});

  const auto raw = sozai::read_csv(write_temp("nohdr.csv", "1,2\r\n3,4\r\n"), false);
  CHECK(raw.header.empty());
  REQUIRE(raw.rows.size() == 2);
  CHECK(raw.rows[0] == std::vector<std::string>{"1", "2"});
  CHECK(raw.line_of_row == std::vector<int>{1, 2});
}

TEST_CASE("read_csv: wrong field count names file, row and column", "[datasets][csv]") {
  const auto msg = message_of<sozai::InputError>(
      [] { sozai::read_csv(fixture("bad_field_count.csv"), true); });
  CHECK_THAT(msg, Contains("bad_field_count.csv") && Contains("row 3") && Contains("'target'") &&
                      Contains("expected 3 fields") && Contains("got 2"));

  const auto extra = message_of<sozai::InputError>(
      [] { sozai::read_csv(write_temp("extra.csv", "a,b\n1,2\n3,4,5\n"), true); });
  CHECK_THAT(extra, Contains("row 3") && Contains("'b'") && Contains("got 3"));
}

TEST_CASE("read_csv: malformed quoting and missing files", "[datasets][csv]") {
  const auto open = message_of<sozai::InputError>(
      [] { sozai::read_csv(write_temp("open.csv", "a,b\n1,\"never closed\n"), true); });
  CHECK_THAT(open, Contains("open.csv") && Contains("row 2") && Contains("'b'"));

  const auto junk = message_of<sozai::InputError>(
      [] { sozai::read_csv(write_temp("junk.csv", "a,b\n\"x\"y,2\n"), true); });
  CHECK_THAT(junk, Contains("row 2") && Contains("'a'"));

  CHECK_THROWS_AS(sozai::read_csv("/nonexistent/sozai/none.csv", true), sozai::StorageError);
  CHECK_THROWS_AS(sozai::read_csv(write_temp("empty.csv", ""), true), sozai::InputError);
  CHECK(sozai::read_csv(write_temp("empty2.csv", "\n\n"), false).rows.empty());
}

TEST_CASE("parse_cell_double: numbers, padding and rejections", "[datasets][csv]") {
  const auto path = write_temp("cells.csv",
                               "v\n1.5\n -2e-3 \n+7\nabc\n\nnan\ninf\n1e999\n3.0x\n");
  const auto t = sozai::read_csv(path, true);
  // Rows: 0 "1.5", 1 " -2e-3 ", 2 "+7", 3 "abc", 4 "nan", 5 "inf", 6 "1e999", 7 "3.0x"
  // (the blank line is skipped).
  REQUIRE(t.rows.size() == 8);
  CHECK(sozai::parse_cell_double(t, 0, 0, "v") == 1.5);
  CHECK(sozai::parse_cell_double(t, 1, 0, "v") == -2e-3);
  CHECK(sozai::parse_cell_double(t, 2, 0, "v") == 7.0);

  const auto abc = message_of<sozai::InputError>([&] { sozai::parse_cell_double(t, 3, 0, "v"); });
  CHECK_THAT(abc, Contains("cells.csv: row 5, column 'v': expected a number, got 'abc'"));
  CHECK_THROWS_AS(sozai::parse_cell_double(t, 4, 0, "v"), sozai::InputError);
  CHECK(std::isnan(sozai::parse_cell_double(t, 4, 0, "v", /*allow_nan=*/true)));
  CHECK_THROWS_AS(sozai::parse_cell_double(t, 5, 0, "v"), sozai::InputError);
  CHECK_THROWS_AS(sozai::parse_cell_double(t, 6, 0, "v"), sozai::InputError);
  CHECK_THROWS_AS(sozai::parse_cell_double(t, 7, 0, "v"), sozai::InputError);

  // An empty cell is "missing": rejected, or NaN when allowed.
  const auto blanks = sozai::read_csv(write_temp("blank.csv", "a,b\n1,\n"), true);
  const auto empty = message_of<sozai::InputError>([&] { sozai::parse_cell_double(blanks, 0, 1, "b"); });
  CHECK_THAT(empty, Contains("row 2") && Contains("column 'b'") && Contains("got ''"));
  CHECK(std::isnan(sozai::parse_cell_double(blanks, 0, 1, "b", true)));
}
