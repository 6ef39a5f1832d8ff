// Pareto fronts and hypervolumes against brute force (inclusion-exclusion
// over every subset of points) on small fronts.
#include "core/bo/pareto.h"
#include "common/error.h"

#include <cmath>

#include <catch2/catch.hpp>

#include "../../test_util.h"

using namespace sozai;

namespace {
/// Volume of the union of boxes [ref, y_i] by inclusion-exclusion.
double brute_force_hv(const torch::Tensor& Y, const torch::Tensor& ref) {
  const int64_t n = Y.size(0), m = Y.size(1);
  double total = 0.0;
  for (int64_t s = 1; s < (int64_t{1} << n); ++s) {
    double vol = 1.0;
    int bits = 0;
    for (int64_t j = 0; j < m; ++j) {
      double lo = std::numeric_limits<double>::infinity();
      for (int64_t i = 0; i < n; ++i)
        if (s & (int64_t{1} << i)) lo = std::min(lo, Y[i][j].item<double>());
      vol *= std::max(0.0, lo - ref[j].item<double>());
    }
    for (int64_t i = 0; i < n; ++i) bits += (s >> i) & 1;
    total += (bits % 2 ? 1.0 : -1.0) * vol;
  }
  return total;
}
}  // namespace

TEST_CASE("non-dominated rows", "[bo][pareto]") {
  auto Y = torch::tensor({1.0, 5.0, 2.0, 4.0, 1.5, 3.0, 3.0, 1.0, 2.0, 4.0, 0.5, 0.5}, torch::kFloat64).reshape({6, 2});
  auto mask = non_dominated_mask(Y);
  // (1.5, 3) is dominated by (2, 4); the second (2, 4) is a duplicate; (0.5, 0.5) is dominated.
  std::vector<bool> expected = {true, true, false, true, false, false};
  for (int64_t i = 0; i < 6; ++i) CHECK(mask[i].item<bool>() == expected[i]);
  CHECK(non_dominated_mask(torch::zeros({0, 3}, torch::kFloat64)).numel() == 0);
}

TEST_CASE("exact hypervolume equals inclusion-exclusion on small fronts", "[bo][pareto]") {
  torch::manual_seed(21);
  for (int64_t m = 1; m <= 4; ++m) {
    for (int trial = 0; trial < 5; ++trial) {
      const int64_t n = 1 + trial * 2;
      auto Y = torch::rand({n, m}, torch::kFloat64);
      auto ref = torch::full({m}, 0.1, torch::kFloat64);
      INFO("m=" << m << " n=" << n);
      CHECK(hypervolume(Y, ref) == Approx(brute_force_hv(Y, ref)).margin(1e-12));
    }
  }
  // Points not better than ref in every objective add nothing.
  auto Y = torch::tensor({0.5, 0.5, 2.0, -1.0}, torch::kFloat64).reshape({2, 2});
  CHECK(hypervolume(Y, torch::zeros({2}, torch::kFloat64)) == Approx(0.25));
}

TEST_CASE("box decomposition gives the hypervolume improvement", "[bo][pareto]") {
  torch::manual_seed(22);
  for (int64_t m : {2, 3}) {
    auto Y = torch::rand({9, m}, torch::kFloat64);
    auto front = Y.index({non_dominated_mask(Y)});
    auto ref = torch::zeros({m}, torch::kFloat64);
    auto boxes = non_dominated_boxes(front, ref);
    const int64_t k = front.size(0);
    CHECK(boxes.lower.size(0) == static_cast<int64_t>(std::pow(k + 1, m - 1)));
    auto cand = torch::rand({40, m}, torch::kFloat64) * 1.2 - 0.1;
    auto hvi = hypervolume_improvement(boxes, cand);
    const double base = hypervolume(front, ref);
    for (int64_t i = 0; i < 40; ++i) {
      auto joined = torch::cat({front, cand.slice(0, i, i + 1)}, 0);
      CHECK(hvi[i].item<double>() == Approx(hypervolume(joined, ref) - base).margin(1e-12));
    }
    // The smooth log agrees where the improvement is clear, and orders the rest.
    auto log_hvi = log_hypervolume_improvement(boxes, cand, 1e-6);
    for (int64_t i = 0; i < 40; ++i)
      if (hvi[i].item<double>() > 1e-3) CHECK(log_hvi[i].item<double>() == Approx(std::log(hvi[i].item<double>())).epsilon(1e-3));
    CHECK(torch::isfinite(log_hypervolume_improvement(boxes, cand, 1e-3)).all().item<bool>());
    // A point the front dominates scores lower the deeper it is.
    auto inside = front.slice(0, 0, 1) * torch::tensor({0.9, 0.5}, torch::kFloat64).reshape({2, 1});
    auto deep = log_hypervolume_improvement(boxes, inside, 1e-2);
    CHECK(deep[0].item<double>() > deep[1].item<double>());
  }
}

TEST_CASE("hypervolume rejects bad input", "[bo][pareto]") {
  auto Y = torch::rand({3, 2}, torch::kFloat64);
  CHECK_THAT(test::message_of<InputError>([&] { hypervolume(Y, torch::zeros({3}, torch::kFloat64)); }),
             Catch::Contains("ref must be [2]"));
  CHECK_THAT(test::message_of<InputError>([&] { hypervolume(Y, torch::full({2}, NAN, torch::kFloat64)); }),
             Catch::Contains("finite"));
}
