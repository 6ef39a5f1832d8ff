// Design spaces: grid counts and enumeration against brute force, mixed
// radix order, constraints (linear, forbidden elements, critical budget)
// never violated by enumeration or sampling, Sobol determinism, encoding,
// and input checks.

#include "common/error.h"
#include "core/space/design_space.h"
#include "core/space/sobol.h"
#include "datasets/elements.h"

#include <cmath>
#include <set>
#include <vector>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

#include "../../test_util.h"

using namespace sozai;

namespace {

/// Every composition of k elements on a grid of `units` steps within
/// per-element unit bounds, by brute-force recursion.
void brute(size_t i, int64_t left, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi,
           std::vector<int64_t>& cur, std::set<std::vector<int64_t>>& out) {
  if (i == lo.size()) {
    if (left == 0) out.insert(cur);
    return;
  }
  for (int64_t v = lo[i]; v <= std::min(hi[i], left); ++v) {
    cur[i] = v;
    brute(i + 1, left - v, lo, hi, cur, out);
  }
}

std::vector<int64_t> to_units(const double* v, size_t k, double step) {
  std::vector<int64_t> u(k);
  for (size_t i = 0; i < k; ++i) u[i] = std::llround(v[i] / step);
  return u;
}

}  // namespace

TEST_CASE("composition grids count and enumerate exactly the brute-force points", "[space]") {
  DesignSpace s;
  s.add_composition("alloy", {"Fe", "Co", "Ni", "Cr"}, {0.1, 0.0, 0.0, 0.05}, {0.7, 0.3, 1.0, 0.5}, 0.05);
  std::set<std::vector<int64_t>> expect;
  std::vector<int64_t> cur(4);
  brute(0, 20, {2, 0, 0, 1}, {14, 6, 20, 10}, cur, expect);
  CHECK(s.grid_size() == expect.size());
  std::set<std::vector<int64_t>> seen;
  uint64_t start = 0;
  int64_t last = -1;
  bool done = false;
  while (!done) {
    auto c = s.enumerate(start, 37);  // a chunk size that does not divide the grid
    const auto n = c.values.size(0);
    for (int64_t r = 0; r < n; ++r) {
      CHECK(seen.insert(to_units(c.values[r].data_ptr<double>(), 4, 0.05)).second);
      const int64_t gi = c.grid_index[r].item<int64_t>();
      CHECK(gi > last);  // grid order
      last = gi;
    }
    start = c.next;
    done = c.done;
  }
  CHECK(seen == expect);
}

TEST_CASE("mixed grids run in mixed radix, last parameter fastest", "[space]") {
  DesignSpace s;
  s.add_categorical("route", {"cast", "wrought", "powder"})
      .add_integer("passes", 1, 4)
      .add_continuous("T", 300, 900, false, 3);
  CHECK(s.grid_size() == 3 * 4 * 3);
  auto p = s.grid_point(0);
  CHECK(p == std::vector<double>{0, 1, 300});
  p = s.grid_point(1);
  CHECK(p == std::vector<double>{0, 1, 600});
  p = s.grid_point(3 * 4 * 3 - 1);
  CHECK(p == std::vector<double>{2, 4, 900});
  p = s.grid_point(3 + 2);  // route 0, passes 2, T level 2
  CHECK(p == std::vector<double>{0, 2, 900});
  CHECK_THAT(test::message_of<InputError>([&] { s.grid_point(36); }), Catch::Contains("outside the grid of 36"));
  DesignSpace open;
  open.add_continuous("x", 0, 1);
  CHECK(open.grid_size() == 0);
  CHECK_THAT(test::message_of<InputError>([&] { open.enumerate(0, 10); }), Catch::Contains("cannot be enumerated"));
}

TEST_CASE("constraints are never violated by enumeration or sampling", "[space]") {
  DesignSpace s;
  s.add_composition("alloy", {"Fe", "Co", "Ni", "Nd"}, {}, {}, 0.1)
      .add_continuous("T", 500, 1500, false, 11)
      .add_linear_constraint({{{"T", 1.0}, {"alloy.Ni", 1000.0}}, 1500.0, false})  // hot runs need little Ni
      .forbid_elements({"Nd"})
      .set_critical_budget(0.2);  // Co is on both critical lists (risk 1)
  const double co_risk = supply_risk("Co");
  REQUIRE(co_risk == 1.0);
  auto check_rows = [&](const torch::Tensor& rows) {
    auto a = rows.accessor<double, 2>();
    for (int64_t r = 0; r < rows.size(0); ++r) {
      CHECK(a[r][1] * co_risk + a[r][0] * supply_risk("Fe") + a[r][2] * supply_risk("Ni") <= 0.2 + 1e-9);
      CHECK(a[r][3] == 0.0);
      CHECK(a[r][4] + 1000.0 * a[r][2] <= 1500.0 + 1e-9);
      CHECK(std::fabs(a[r][0] + a[r][1] + a[r][2] + a[r][3] - 1.0) < 1e-9);
    }
  };
  uint64_t start = 0, total = 0;
  bool done = false;
  while (!done) {
    auto c = s.enumerate(start, 100);
    check_rows(c.values);
    total += static_cast<uint64_t>(c.values.size(0));
    start = c.next;
    done = c.done;
  }
  // Brute force over the same grid.
  uint64_t expect = 0;
  for (uint64_t i = 0; i < s.grid_size(); ++i)
    if (s.violation(s.grid_point(i).data()).empty()) ++expect;
  CHECK(total == expect);
  CHECK(total > 0);
  for (bool sobol : {false, true}) {
    auto x = s.sample(200, 7, sobol);
    CHECK(x.size(0) == 200);
    check_rows(x);
    CHECK(s.feasible(x).all().item<bool>());
  }
  auto crit = s.critical_fraction(s.sample(50, 1));
  CHECK(crit.max().item<double>() <= 0.2 + 1e-9);
}

TEST_CASE("continuous simplex sampling respects bounds and is reproducible", "[space]") {
  DesignSpace s;
  s.add_composition("mix", {"Ba", "Sr", "Ti"}, {0.2, 0.0, 0.1}, {0.6, 0.5, 0.7})
      .add_continuous("time", 0.1, 100.0, /*log=*/true)
      .add_integer("layers", 1, 8);
  auto a = s.sample(500, 3);
  auto b = s.sample(500, 3);
  CHECK(torch::equal(a, b));
  CHECK(!torch::equal(a, s.sample(500, 4)));
  CHECK(s.feasible(a).all().item<bool>());
  // Log scale: about half the draws below the geometric midpoint sqrt(10).
  const double below = (a.select(1, 3) < std::sqrt(10.0)).to(torch::kFloat64).mean().item<double>();
  CHECK(below == Approx(0.5).margin(0.08));
  auto sob = s.sample(256, 0, /*sobol=*/true);
  CHECK(torch::equal(sob, s.sample(256, 0, true)));
  CHECK(s.feasible(sob).all().item<bool>());
}

TEST_CASE("the Sobol engine is deterministic and fills the cube evenly", "[space]") {
  SobolEngine a(5, true, 42), b(5, true, 42);
  auto x = a.draw(1024);
  CHECK(torch::equal(x, torch::cat({b.draw(1), b.draw(1023)})));  // draws continue the sequence
  CHECK(x.min().item<double>() >= 0.0);
  CHECK(x.max().item<double>() < 1.0);
  // Each dimension's first 1024 points fall 64 into each sixteenth.
  auto bins = (x * 16).floor().to(torch::kInt64);
  for (int64_t d = 0; d < 5; ++d) CHECK(torch::bincount(bins.select(1, d), {}, 16).eq(64).all().item<bool>());
  CHECK_THAT(test::message_of<InputError>([] { SobolEngine bad(0); }), Catch::Contains("dimension must be in"));
}

TEST_CASE("encoding scales, one-hots and copies fractions", "[space]") {
  DesignSpace s;
  auto desc = torch::tensor({{1.0, 10.0}, {2.0, 20.0}}, torch::kFloat64);
  s.add_continuous("T", 300, 900)
      .add_continuous("t", 1, 100, true)
      .add_categorical("route", {"cast", "wrought", "powder"})
      .add_categorical("atm", {"air", "argon"}, desc)
      .add_composition("alloy", {"Fe", "Ni"});
  CHECK(s.raw_width() == 6);
  CHECK(s.encoded_width() == 1 + 1 + 3 + 2 + 2);
  CHECK(s.encoded_names() == std::vector<std::string>{"T", "t", "route=cast", "route=wrought", "route=powder",
                                                      "atm.d0", "atm.d1", "alloy.Fe", "alloy.Ni"});
  auto row = torch::tensor({{600.0, 10.0, 2.0, 1.0, 0.25, 0.75}}, torch::kFloat64);
  auto e = s.encode(row);
  auto expect = torch::tensor({{0.5, 0.5, 0.0, 0.0, 1.0, 2.0, 20.0, 0.25, 0.75}}, torch::kFloat64);
  CHECK(torch::allclose(e, expect, 1e-12, 1e-12));
  auto d = s.describe(row.data_ptr<double>());
  CHECK(d["route"] == "powder");
  CHECK(d["alloy"] == "Fe0.25Ni0.75");
  CHECK_THAT(test::message_of<InputError>([&] { s.encode(torch::tensor({{600.0, 10.0, 3.0, 1.0, 0.25, 0.75}}, torch::kFloat64)); }),
             Catch::Contains("'route' has choice index 3"));
}

TEST_CASE("a grid of 10^10 points streams in bounded chunks", "[space]") {
  DesignSpace s;
  s.add_composition("hea", {"Al", "Co", "Cr", "Fe", "Ni", "Ti", "Mn", "Cu"}, {}, {}, 0.01);
  // C(107, 7) compositions of 8 elements in steps of 0.01.
  CHECK(s.grid_size() == 26075972546ULL);
  auto c = s.enumerate(12345678901ULL, 1000);
  CHECK(c.values.size(0) == 1000);
  CHECK(c.next == 12345678901ULL + 1000);
  CHECK(torch::allclose(c.values.sum(1), torch::ones({1000}, torch::kFloat64), 0, 1e-9));
  // Lexicographic in the units of the first element: the grid starts with
  // all of the last element and ends with all of the first.
  CHECK(s.grid_point(0).back() == Approx(1.0));
  CHECK(s.grid_point(s.grid_size() - 1).front() == Approx(1.0));
}

TEST_CASE("design space inputs are checked", "[space]") {
  using test::message_of;
  DesignSpace s;
  s.add_continuous("T", 0, 1);
  CHECK_THAT(message_of<InputError>([&] { s.add_integer("T", 0, 3); }), Catch::Contains("already exists"));
  CHECK_THAT(message_of<InputError>([&] { s.add_continuous("x", 2, 1); }), Catch::Contains("low < high"));
  CHECK_THAT(message_of<InputError>([&] { s.add_continuous("x", 0, 1, true); }), Catch::Contains("log scale"));
  CHECK_THAT(message_of<InputError>([&] { s.add_composition("c", {"Fe", "Xx"}); }),
             Catch::Contains("unknown element 'Xx'"));
  CHECK_THAT(message_of<InputError>([&] { s.add_composition("c", {"Fe", "Ni"}, {0.6, 0.6}, {1, 1}); }),
             Catch::Contains("cannot sum to 1"));
  CHECK_THAT(message_of<InputError>([&] { s.add_composition("c", {"Fe", "Ni"}, {}, {}, 0.03); }),
             Catch::Contains("step must divide 1"));
  CHECK_THAT(message_of<InputError>([&] { s.add_categorical("r", {"a", "b", "a"}); }), Catch::Contains("twice"));
  CHECK_THAT(message_of<InputError>([&] { s.add_linear_constraint({{{"nope", 1.0}}, 1.0, false}); }),
             Catch::Contains("no parameter named 'nope'"));
  s.add_composition("alloy", {"Fe", "Ni"});
  CHECK_THAT(message_of<InputError>([&] { s.add_linear_constraint({{{"alloy.Co", 1.0}}, 1.0, false}); }),
             Catch::Contains("has no element Co"));
  CHECK_THAT(message_of<InputError>([&] { s.set_critical_budget(1.5); }), Catch::Contains("in [0, 1]"));
  // A budget nothing satisfies: sampling says so instead of looping.
  s.set_critical_budget(0.0, {{"Fe", 1.0}, {"Ni", 1.0}});
  CHECK_THAT(message_of<InputError>([&] { s.sample(10, 0, false, 5); }), Catch::Contains("found only 0 feasible"));
}

TEST_CASE("sampling a continuous composition gives forbidden elements no share", "[space]") {
  DesignSpace s;
  s.add_composition("c", {"Fe", "Co", "Ni"}).forbid_elements({"Ni"});
  auto X = s.sample(100, 3);
  CHECK(X.select(1, 2).abs().max().item<double>() == 0.0);
  CHECK(s.feasible(X).all().item<bool>());
  CHECK(X.select(1, 1).max().item<double>() > 0.5);  // the others still span the simplex
}
