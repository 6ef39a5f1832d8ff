/// Tests of the closed-loop pool readers: encoding and averaging on small
/// fixtures, error messages on malformed ones, and the real datasets' sizes
/// and directions when SOZAI_DATA_DIR points at shared/data.

#include "common/error.h"
#include "datasets/closed_loop.h"


#include <cstdlib>
#include <set>
#include <string>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../test_util.h"

namespace {

using sozai::test::fixture;
using sozai::test::message_of;

using Catch::Matchers::Contains;



/// Row `i` of a float64 tensor as a vector, for readable comparisons.
std::vector<double> row(const torch::Tensor& t, int64_t i) {
  const auto r = t[i].contiguous();
  return std::vector<double>(r.data_ptr<double>(), r.data_ptr<double>() + r.numel());
}

/// Sanity shared by every dataset: shapes, dtypes, counts adding up.
void check_consistent(const sozai::ClosedLoopDataset& d) {
  REQUIRE(d.X.dim() == 2);
  REQUIRE(d.Y.dim() == 2);
  CHECK(d.X.scalar_type() == torch::kFloat64);
  CHECK(d.Y.scalar_type() == torch::kFloat64);
  CHECK(d.counts.scalar_type() == torch::kInt64);
  CHECK(d.X.size(0) == d.Y.size(0));
  CHECK(d.counts.size(0) == d.X.size(0));
  CHECK(static_cast<int64_t>(d.input_names.size()) == d.X.size(1));
  CHECK(static_cast<int64_t>(d.objective_names.size()) == d.Y.size(1));
  CHECK(d.maximize.size() == d.objective_names.size());
  CHECK(d.counts.sum().item<int64_t>() == d.raw_rows);
  CHECK(d.X.isfinite().all().item<bool>());
  CHECK(d.Y.isfinite().all().item<bool>());
}

}  // namespace

TEST_CASE("read_pvlab_csv: averages repeats in first-appearance order", "[datasets][closed_loop]") {
  const auto d = sozai::read_pvlab_csv(fixture("pvlab_small.csv"), true);
  check_consistent(d);
  CHECK(d.name == "pvlab_small");
  CHECK(d.input_names == std::vector<std::string>{"Q (%, v/v)", "speed"});
  CHECK(d.objective_names == std::vector<std::string>{"score"});
  CHECK(d.maximize == std::vector<bool>{true});
  CHECK(d.raw_rows == 4);
  REQUIRE(d.X.size(0) == 2);
  // "1,2" and "1.0,2.0" are the same input.
  CHECK(row(d.X, 0) == std::vector<double>{1.0, 2.0});
  CHECK(row(d.X, 1) == std::vector<double>{0.5, 1.0});
  CHECK(row(d.Y, 0) == std::vector<double>{12.0});
  CHECK(row(d.Y, 1) == std::vector<double>{7.0});
  CHECK(d.counts[0].item<int64_t>() == 3);
  CHECK(d.counts[1].item<int64_t>() == 1);
}

TEST_CASE("average_repeats: weighted by counts, so averaging twice changes nothing",
          "[datasets][closed_loop]") {
  sozai::ClosedLoopDataset raw;
  raw.X = torch::tensor({0.0, 1.0, 0.0, -0.0}, torch::kFloat64).reshape({4, 1});
  raw.Y = torch::tensor({1.0, 5.0, 3.0, 8.0}, torch::kFloat64).reshape({4, 1});
  const auto once = sozai::average_repeats(raw);
  REQUIRE(once.X.size(0) == 2);  // 0.0 == -0.0
  CHECK(row(once.Y, 0) == std::vector<double>{4.0});
  CHECK(row(once.Y, 1) == std::vector<double>{5.0});
  CHECK(once.counts[0].item<int64_t>() == 3);
  CHECK(once.raw_rows == 4);
  const auto twice = sozai::average_repeats(once);
  CHECK(torch::equal(twice.X, once.X));
  CHECK(torch::equal(twice.Y, once.Y));
  CHECK(torch::equal(twice.counts, once.counts));

  sozai::ClosedLoopDataset bad;
  bad.X = torch::zeros({3, 2}, torch::kFloat64);
  bad.Y = torch::zeros({2, 1}, torch::kFloat64);
  CHECK_THROWS_AS(sozai::average_repeats(bad), sozai::InputError);
}

TEST_CASE("read_pvlab_csv: bad rows name file, row and column", "[datasets][closed_loop]") {
  const auto count = message_of<sozai::InputError>(
      [] { sozai::read_pvlab_csv(fixture("bad_field_count.csv"), true); });
  CHECK_THAT(count, Contains("bad_field_count.csv") && Contains("row 3") && Contains("'target'"));

  const auto number = message_of<sozai::InputError>(
      [] { sozai::read_pvlab_csv(fixture("bad_number.csv"), true); });
  CHECK_THAT(number, Contains("bad_number.csv") && Contains("row 3") && Contains("column 'x2'") &&
                         Contains("'abc'"));

  const auto nan = message_of<sozai::InputError>(
      [] { sozai::read_pvlab_csv(fixture("nan_target.csv"), false); });
  CHECK_THAT(nan, Contains("nan_target.csv") && Contains("row 3") && Contains("column 'y'") &&
                      Contains("NaN"));

  // The blank line 3 is skipped, so the empty target sits on row 4.
  const auto empty = message_of<sozai::InputError>(
      [] { sozai::read_pvlab_csv(fixture("empty_target.csv"), false); });
  CHECK_THAT(empty, Contains("empty_target.csv") && Contains("row 4") && Contains("column 'y'"));

  CHECK_THROWS_AS(sozai::read_pvlab_csv(fixture("no_such_file.csv"), true), sozai::StorageError);
}

TEST_CASE("read_olympus_dir: numbers, descriptors, one-hot, ordinal, goals", "[datasets][closed_loop]") {
  const auto d = sozai::read_olympus_dir(fixture("olympus_small"));
  check_consistent(d);
  CHECK(d.name == "olympus_small");
  CHECK(d.input_names == std::vector<std::string>{"temperature", "time", "salt[0]", "salt[1]",
                                                  "solvent=water", "solvent=ethanol", "solvent=dmso"});
  CHECK(d.objective_names == std::vector<std::string>{"quality", "cost"});
  CHECK(d.maximize == std::vector<bool>{true, false});
  CHECK(d.raw_rows == 4);
  REQUIRE(d.X.size(0) == 3);
  CHECK(row(d.X, 0) == std::vector<double>{25, 1, 1, 2, 1, 0, 0});
  CHECK(row(d.X, 1) == std::vector<double>{30, 2, 3, 4, 0, 0, 1});
  CHECK(row(d.X, 2) == std::vector<double>{40, 4, 3, 4, 0, 1, 0});
  // Rows 1 and 3 repeat: quality good(2) and ok(1), cost 3 and 4.
  CHECK(row(d.Y, 0) == std::vector<double>{1.5, 3.5});
  CHECK(row(d.Y, 1) == std::vector<double>{0.0, 5.0});
  CHECK(row(d.Y, 2) == std::vector<double>{1.0, 2.5});
  CHECK(d.counts[0].item<int64_t>() == 2);
}

TEST_CASE("read_olympus_dir: unknown categorical option names file, row and column",
          "[datasets][closed_loop]") {
  const auto msg = message_of<sozai::InputError>(
      [] { sozai::read_olympus_dir(fixture("olympus_bad_option")); });
  CHECK_THAT(msg, Contains("olympus_bad_option/data.csv") && Contains("row 2") &&
                      Contains("column 'solvent'") && Contains("'acetone'") && Contains("'ethanol'"));
  CHECK_THROWS_AS(sozai::read_olympus_dir(fixture("no_such_dir")), sozai::StorageError);
}

TEST_CASE("load_closed_loop: property datasets are refused", "[datasets][closed_loop]") {
  const auto msg = message_of<sozai::InputError>([] { sozai::load_closed_loop("magpie_elements"); });
  CHECK_THAT(msg, Contains("magpie_elements") && Contains("closed-loop"));
  CHECK_THROWS_AS(sozai::load_closed_loop("not_a_dataset"), sozai::InputError);
}

TEST_CASE("load_closed_loop: real PV-Lab and Olympus pools", "[datasets][closed_loop][data]") {
  SOZAI_REQUIRE_DATA_DIR(dir);
  struct Expected {
    const char* name;
    int64_t raw_rows;
    int64_t unique;
    int64_t inputs;
    std::vector<bool> maximize;
  };
  // Raw rows are the data lines of each file (the PV-Lab CSVs end without a
  // newline, so `wc -l` reports one fewer). Unique counts are those of Liang
  // et al. (2021) for the PV-Lab sets.
  const std::vector<Expected> expected = {
      {"p3ht", 233, 178, 5, {true}},
      {"agnp", 3295, 164, 5, {false}},
      {"crossed_barrel", 1800, 600, 4, {true}},
      {"autoam", 100, 100, 4, {true}},
      {"oer_plate_3496", 2121, 2121, 6, {false}},
      {"oer_plate_4098", 2121, 2121, 6, {false}},
      {"photo_pce10", 1040, 1020, 4, {false}},
      // Inputs: 4 one-number descriptors + 3 one-hot lipids.
      {"lnp3", 768, 768, 7, {true, true, false}},
      // Inputs: 17 + 3 one-hot + 6 continuous + 2 discrete.
      {"vapdiff_crystal", 918, 918, 28, {true}},
  };
  for (const auto& e : expected) {
    INFO(e.name);
    const auto d = sozai::load_closed_loop(e.name);
    check_consistent(d);
    CHECK(d.name == e.name);
    CHECK(d.raw_rows == e.raw_rows);
    CHECK(d.X.size(0) == e.unique);
    CHECK(d.X.size(1) == e.inputs);
    CHECK(d.maximize == e.maximize);
  }

  const auto lnp3 = sozai::load_closed_loop("lnp3");
  CHECK(lnp3.objective_names == std::vector<std::string>{"drug_loading", "encap_efficiency", "particle_diameter"});
  CHECK(lnp3.input_names.front() == "drug_input[0]");

  // The ordinal crystal score takes its four levels 0..3.
  const auto vap = sozai::load_closed_loop("vapdiff_crystal");
  std::set<double> levels;
  for (int64_t i = 0; i < vap.Y.size(0); ++i) levels.insert(vap.Y[i][0].item<double>());
  CHECK(levels == std::set<double>{0.0, 1.0, 2.0, 3.0});
  CHECK(vap.input_names.front() == "organic=Ethylammonium Iodide");

  // The raw-file reader agrees with the registry path.
  const auto p3ht = sozai::read_pvlab_csv(std::string(dir) + "/pvlab-benchmarking/P3HT_dataset.csv", true);
  CHECK(p3ht.name == "P3HT_dataset");
  CHECK(p3ht.input_names.front() == "P3HT content (%)");
  CHECK(p3ht.objective_names == std::vector<std::string>{"Conductivity (measured) (S/cm)"});
  CHECK(p3ht.X.size(0) == 178);
}
