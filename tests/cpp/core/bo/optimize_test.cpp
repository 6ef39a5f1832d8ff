// Acquisition optimisation over design spaces: projections onto simplexes
// and linear constraints, known optima of smooth functions, rounding of
// integers, categorical search, and never an infeasible answer.
#include "core/bo/optimize.h"
#include "common/error.h"

#include <catch2/catch.hpp>

#include "../../test_util.h"

using namespace sozai;

namespace {
/// -|X - target|^2 over encoded columns (larger is better).
EncodedAcquisition bowl(const std::vector<double>& target) {
  auto t = torch::tensor(target, torch::kFloat64);
  return [t](const torch::Tensor& X) { return -(X - t).pow(2).sum(1); };
}
}  // namespace

TEST_CASE("projection onto a composition simplex with bounds and a linear constraint", "[bo][optimize]") {
  DesignSpace s;
  s.add_composition("alloy", {"Fe", "Ni", "Co"}, {0.0, 0.1, 0.0}, {1.0, 0.6, 0.3});
  // No bound active: the projection subtracts the mean excess.
  auto p = project_to_space(s, torch::tensor({0.5, 0.4, 0.2}, torch::kFloat64));
  CHECK(p[0].item<double>() == Approx(0.5 - 0.1 / 3));
  CHECK(p[1].item<double>() == Approx(0.4 - 0.1 / 3));
  CHECK(p[2].item<double>() == Approx(0.2 - 0.1 / 3));
  // Bounds active: Co capped at 0.3, Ni raised to 0.1.
  auto q = project_to_space(s, torch::tensor({0.2, -0.5, 0.9}, torch::kFloat64));
  CHECK(q.sum().item<double>() == Approx(1.0));
  CHECK(q[1].item<double>() == Approx(0.1));
  CHECK(q[2].item<double>() == Approx(0.3));
  CHECK(s.violation(q.data_ptr<double>()).empty());
  // A linear constraint on top: Fe <= 0.4 moves the excess equally to Ni and Co.
  s.add_linear_constraint({{{"alloy.Fe", 1.0}}, 0.4, false});
  auto r = project_to_space(s, torch::tensor({0.8, 0.1, 0.1}, torch::kFloat64));
  CHECK(s.violation(r.data_ptr<double>()).empty());
  CHECK(r[0].item<double>() == Approx(0.4).margin(1e-9));
  CHECK(r[1].item<double>() == Approx(0.3).margin(1e-9));
  CHECK(r[2].item<double>() == Approx(0.3).margin(1e-9));
}

TEST_CASE("continuous optima: interior, on a constraint, on a simplex", "[bo][optimize]") {
  DesignSpace box;
  box.add_continuous("T", 300.0, 900.0).add_continuous("t", 1.0, 100.0, /*log_scale=*/true);
  OptimizeConfig cfg;
  cfg.seed = 1;
  auto in = optimize_acquisition(box, bowl({0.3, 0.7}), cfg);
  CHECK(in.candidate[0].item<double>() == Approx(300.0 + 0.3 * 600.0).margin(1e-3));
  CHECK(in.candidate[1].item<double>() == Approx(std::pow(100.0, 0.7)).epsilon(1e-4));
  CHECK(in.value == Approx(0.0).margin(1e-8));

  // The optimum lies beyond T + 10 t <= 700: the answer is on the line, at
  // the projection of the target onto it (in encoded = unit units here).
  DesignSpace lin;
  lin.add_continuous("a", 0.0, 1.0).add_continuous("b", 0.0, 1.0);
  lin.add_linear_constraint({{{"a", 1.0}, {"b", 1.0}}, 1.0, false});
  auto on = optimize_acquisition(lin, bowl({0.9, 0.7}), cfg);
  CHECK(on.candidate[0].item<double>() == Approx(0.6).margin(1e-5));
  CHECK(on.candidate[1].item<double>() == Approx(0.4).margin(1e-5));
  CHECK(lin.violation(on.candidate.data_ptr<double>()).empty());

  DesignSpace comp;
  comp.add_composition("c", {"Fe", "Ni", "Co", "Cr"}, {0.0, 0.0, 0.0, 0.0}, {1.0, 1.0, 0.2, 1.0});
  auto sx = optimize_acquisition(comp, bowl({0.1, 0.2, 0.6, 0.3}), cfg);
  // Projection of the target onto {sum 1, Co <= 0.2}: Co at 0.2, the rest shifted equally.
  CHECK(sx.candidate[2].item<double>() == Approx(0.2).margin(1e-6));
  CHECK(sx.candidate[0].item<double>() == Approx(0.1 + 0.2 / 3).margin(1e-5));
  CHECK(sx.candidate.sum().item<double>() == Approx(1.0).margin(1e-9));
}

TEST_CASE("mixed spaces: integers rounded, categories searched", "[bo][optimize]") {
  DesignSpace s;
  s.add_continuous("x", 0.0, 1.0).add_integer("layers", 1, 9).add_categorical("route", {"cast", "forge", "am"});
  // Encoded: x, (layers-1)/8, one-hot route. Best: x = 0.25, layers near
  // 1 + 8 * 0.3 = 3.4 -> 3, route forge (+0.5).
  EncodedAcquisition acq = [](const torch::Tensor& X) {
    return -(X.select(1, 0) - 0.25).pow(2) - (X.select(1, 1) - 0.3).pow(2) + 0.5 * X.select(1, 3);
  };
  OptimizeConfig cfg;
  cfg.seed = 2;
  auto r = optimize_acquisition(s, acq, cfg);
  CHECK(r.candidate[0].item<double>() == Approx(0.25).margin(1e-4));
  CHECK(r.candidate[1].item<double>() == 3.0);
  CHECK(r.candidate[2].item<double>() == 1.0);
  CHECK(s.violation(r.candidate.data_ptr<double>()).empty());
}

TEST_CASE("never an answer that violates a known linear constraint", "[bo][optimize]") {
  DesignSpace s;
  s.add_composition("c", {"Fe", "Ni", "Co"}, {0.0, 0.0, 0.0}, {1.0, 1.0, 1.0}, 0.05)
      .add_continuous("T", 500.0, 1500.0)
      .add_integer("n", 0, 5)
      .add_linear_constraint({{{"T", 1.0}, {"c.Ni", 1000.0}}, 1200.0, false})
      .add_linear_constraint({{{"c.Co", 1.0}, {"n", -0.1}}, 0.1, false})
      .set_critical_budget(0.5, {{"Co", 1.0}, {"Ni", 0.5}});
  torch::manual_seed(3);
  for (int trial = 0; trial < 6; ++trial) {
    auto target = torch::rand({s.encoded_width()}, torch::kFloat64) * 1.4 - 0.2;
    auto w = torch::rand({s.encoded_width()}, torch::kFloat64) + 0.1;
    EncodedAcquisition acq = [target, w](const torch::Tensor& X) { return -(w * (X - target).pow(2)).sum(1); };
    OptimizeConfig cfg;
    cfg.seed = static_cast<uint64_t>(trial);
    cfg.restarts = 3;
    auto r = optimize_acquisition(s, acq, cfg);
    INFO("trial " << trial << ": " << s.violation(r.candidate.data_ptr<double>()));
    CHECK(s.violation(r.candidate.data_ptr<double>()).empty());
    // On the grid of 0.05.
    for (int e = 0; e < 3; ++e) {
      const double u = r.candidate[e].item<double>() / 0.05;
      CHECK(u == Approx(std::round(u)).margin(1e-9));
    }
    // No worse than the best of the raw samples it started from.
    auto raw = s.sample(cfg.raw_samples, cfg.seed, true);
    CHECK(r.value >= acq(s.encode(raw)).max().item<double>() - 1e-12);
  }
  CHECK_THAT(test::message_of<InputError>([&] {
               OptimizeConfig bad;
               bad.restarts = 0;
               optimize_acquisition(s, bowl({0, 0, 0, 0, 0}), bad);
             }),
             Catch::Contains("restarts"));
}

TEST_CASE("an equality constraint on continuous parameters: starts by projection", "[bo][optimize]") {
  // Rejection sampling never lands on x0 + x1 + x2 = 1; the optimiser
  // projects box points onto it instead.
  DesignSpace s;
  s.add_continuous("x0", 0.0, 1.0).add_continuous("x1", 0.0, 1.0).add_continuous("x2", 0.0, 1.0);
  s.add_linear_constraint({{{"x0", 1.0}, {"x1", 1.0}, {"x2", 1.0}}, 1.0, true, 1e-9});
  CHECK_THROWS_AS(s.sample(10, 0, true, 20), InputError);
  CHECK(s.sample_unconstrained(10, 0).size(0) == 10);
  auto r = optimize_acquisition(s, bowl({0.5, 0.5, 0.3}));
  CHECK(s.violation(r.candidate.data_ptr<double>()).empty());
  CHECK(r.candidate[0].item<double>() == Approx(0.5 - 0.3 / 3).margin(1e-6));
  CHECK(r.candidate[2].item<double>() == Approx(0.3 - 0.3 / 3).margin(1e-6));
}
