#include "common/error.h"
#include "datasets/pool_csv.h"

#include <fstream>

#include <catch2/catch.hpp>

#include "../test_util.h"

namespace {
std::string write(const std::string& name, const std::string& text) {
  const auto path = sozai::test::make_temp_dir("sozai_pool") + "/" + name;
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST_CASE("read_pool_csv: inputs, measured and unmeasured targets", "[datasets][pool]") {
  auto path = write("pool.csv", "a,y,b\n1,,2\n3,0.5,4\n5,,6\n");
  auto p = sozai::read_pool_csv(path, "y");
  CHECK(p.input_names == std::vector<std::string>{"a", "b"});
  REQUIRE(p.X.sizes() == torch::IntArrayRef({3, 2}));
  CHECK(p.X[2][1].item<double>() == 6.0);
  CHECK(p.measured_rows == std::vector<int64_t>{1});
  CHECK(p.measured_values == std::vector<double>{0.5});
  // Without a target column the empty cells are inputs, and inputs must be numbers.
  auto msg = sozai::test::message_of<sozai::InputError>([&] { sozai::read_pool_csv(path, ""); });
  CHECK_THAT(msg, Catch::Contains("row 2") && Catch::Contains("column 'y'"));
}

TEST_CASE("read_pool_csv: errors name file, row and column", "[datasets][pool]") {
  auto path = write("bad.csv", "a,b\n1,2\n3,x\n");
  auto msg = sozai::test::message_of<sozai::InputError>([&] { sozai::read_pool_csv(path, ""); });
  CHECK_THAT(msg, Catch::Contains("bad.csv") && Catch::Contains("row 3") && Catch::Contains("column 'b'"));
  auto unknown = sozai::test::message_of<sozai::InputError>([&] { sozai::read_pool_csv(path, "yield"); });
  CHECK_THAT(unknown, Catch::Contains("no column 'yield'") && Catch::Contains("a, b"));
  CHECK_THROWS_AS(sozai::read_pool_csv("/nonexistent/pool.csv", ""), sozai::StorageError);
}
