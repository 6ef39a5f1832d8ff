#include "core/campaign/benchmark.h"

#include <cmath>

#include <catch2/catch.hpp>

using namespace sozai;

TEST_CASE("run_pool_benchmark: random arm first, curves, EF and AF", "[campaign][benchmark]") {
  torch::manual_seed(2);
  auto X = torch::rand({80, 2}, torch::kFloat64);
  auto y = -(X.select(1, 0) - 0.3).pow(2) - (X.select(1, 1) - 0.8).pow(2);
  PoolBenchmarkConfig cfg;
  cfg.acquisitions = {"ucb"};
  cfg.seeds = 2;
  cfg.random_seeds = 50;
  cfg.budget = 40;
  cfg.ef_at = {10, 20};
  cfg.campaign.gp.restarts = 2;
  int calls = 0;
  auto r = run_pool_benchmark(X, y, true, cfg, [&](const std::string& arm, int64_t, int64_t, double) {
    CHECK(arm == "gp+ucb");
    ++calls;
  });
  CHECK(calls == 2);
  REQUIRE(r.arms.size() == 2);
  CHECK(r.arms[0].name == "random");
  CHECK(r.arms[0].orders.size() == 50);
  CHECK(r.top.required == 4);
  CHECK(r.arms[0].mean.size() == 80);  // random search runs through the whole pool
  CHECK(r.arms[1].mean.size() == 40);
  for (const auto& a : r.arms) {
    CHECK(a.best_so_far_mean.size() == a.mean.size());
    for (size_t i = 1; i < a.mean.size(); ++i) CHECK(a.mean[i] >= a.mean[i - 1] - 1e-12);
  }
  CHECK(r.arms[0].ef.at(10) == Approx(1.0));
  // A smooth bowl: BO finds the top set far faster than random search.
  CHECK(r.arms[1].ef.at(20) > 1.5);
  CHECK(r.arms[1].mean.back() == Approx(1.0));  // stopped early, held at 1
  CHECK(r.arms[1].af.at(0.5) > 1.0);
}

TEST_CASE("run_pool_benchmark rejects bad settings", "[campaign][benchmark]") {
  auto X = torch::rand({10, 2}, torch::kFloat64);
  auto y = torch::rand({10}, torch::kFloat64);
  PoolBenchmarkConfig cfg;
  cfg.budget = 11;
  CHECK_THROWS_WITH(run_pool_benchmark(X, y, true, cfg), Catch::Contains("exceeds the pool"));
  cfg.budget = 5;
  cfg.seeds = 0;
  CHECK_THROWS_WITH(run_pool_benchmark(X, y, true, cfg), Catch::Contains("seeds"));
}
