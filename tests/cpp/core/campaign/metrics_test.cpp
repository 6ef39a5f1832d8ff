
#include "core/campaign/metrics.h"

#include <cmath>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

using namespace sozai;

TEST_CASE("top set, Top% curve, EF and AF by hand", "[campaign][metrics]") {
  // 40 values 0..39: top 5% = {39, 38} when maximising.
  std::vector<double> y;
  for (int i = 0; i < 40; ++i) y.push_back(i);
  auto top = top_set(y, true, 0.05);
  CHECK(top.required == 2);
  CHECK(top.member[39]);
  CHECK(top.member[38]);
  CHECK_FALSE(top.member[37]);
  auto curve = top_fraction_curve({5, 39, 7, 38, 1}, top);
  CHECK(curve == std::vector<double>{0, 0.5, 0.5, 1.0, 1.0});
  auto low = top_set(y, false, 0.05);
  CHECK(low.member[0]);
  CHECK(low.member[1]);

  std::vector<double> bo = {0.0, 0.5, 1.0, 1.0};
  std::vector<double> rnd = {0.0, 0.25, 0.5, 0.75};
  CHECK(enhancement_factor(bo, rnd, 2) == Approx(2.0));
  CHECK(enhancement_factor(bo, rnd, 3) == Approx(2.0));
  CHECK(std::isnan(enhancement_factor(bo, rnd, 1)));
  CHECK(acceleration_factor(bo, rnd, 0.5) == Approx(3.0 / 2.0));
  CHECK(std::isnan(acceleration_factor(bo, rnd, 1.0)));  // random never reaches 1.0
  CHECK(experiments_to_reach(bo, 1.0) == 3);
  CHECK(mean_curve({{0.0, 1.0}, {0.0}}, 3) == std::vector<double>{0.0, 0.5, 0.5});
}

TEST_CASE("ties at the boundary: any k members found complete the set", "[campaign][metrics]") {
  std::vector<double> y = {3, 3, 3, 3, 1, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // k = 1, four 3s tie
  auto top = top_set(y, true, 0.05);
  CHECK(top.required == 1);
  CHECK(top.member[0]);
  CHECK(top.member[3]);
  CHECK(top_fraction_curve({7, 2}, top) == std::vector<double>{0.0, 1.0});
}
