// Thompson sampling over a pool: distinct available picks, seeds, chunking
// that does not change the answer, and picks that follow the sample paths.
#include "core/bo/select.h"
#include "common/error.h"
#include "models/gp/pathwise.h"

#include <set>

#include <catch2/catch.hpp>

#include "../../test_util.h"
#include "bo_test_util.h"

using namespace sozai;

namespace {
ExactGP fitted_gp(const torch::Tensor& X, const torch::Tensor& y) {
  ExactGPConfig cfg;
  cfg.restarts = 2;
  ExactGP gp(cfg);
  gp.set_input_bounds(torch::zeros({2}, torch::kFloat64), torch::ones({2}, torch::kFloat64));
  gp.fit({X, y});
  return gp;
}
}  // namespace

TEST_CASE("Thompson batches are distinct available rows, each the best of its path", "[bo][thompson]") {
  torch::manual_seed(12);
  auto pool = torch::rand({20000, 2}, torch::kFloat64);
  auto y = torch::sin(6 * pool.select(1, 0)) * torch::cos(3 * pool.select(1, 1));
  auto gp = fitted_gp(pool.slice(0, 0, 15), y.slice(0, 0, 15));
  auto available = torch::ones({20000}, torch::kBool);
  available.slice(0, 0, 15).fill_(false);
  auto tc = test::spec_for("thompson");
  tc.seed = 4;
  tc.sampling.chunk = 3000;
  const auto Xo = pool.slice(0, 0, 15);
  const std::vector<int64_t> pending = {100, 200};
  auto batch = test::pick_rows(tc, {&gp}, Xo, {}, pool, available, 16, pending);
  REQUIRE(batch.size() == 16);
  std::set<int64_t> unique(batch.begin(), batch.end());
  CHECK(unique.size() == 16);
  for (auto r : batch) CHECK((r >= 15 && r != 100 && r != 200));

  // One chunk or many: the same batch.
  auto whole = tc;
  whole.sampling.chunk = 1 << 20;
  CHECK(test::pick_rows(whole, {&gp}, Xo, {}, pool, available, 16, pending) == batch);
  // The first pick is the argmax of the first path over the free rows.
  GPPathSampler paths(gp, 16, tc.seed, tc.sampling.path_features);
  auto f = paths(pool)[0].clone();
  auto free = available.clone();
  for (auto p : pending) free[p] = false;
  f.masked_fill_(free.logical_not(), -1e300);
  CHECK(batch[0] == f.argmax().item<int64_t>());
  // Path j does not depend on the number of paths: a batch of one starts
  // like a batch of 16.
  CHECK(test::pick_rows(tc, {&gp}, Xo, {}, pool, available, 1, pending)[0] == batch[0]);
  // Minimising follows the paths' minima.
  tc.outcomes = {Outcome::minimize()};
  auto low = test::pick_rows(tc, {&gp}, Xo, {}, pool, available, 1);
  auto g = paths(pool)[0].clone().masked_fill_(available.logical_not(), 1e300);
  CHECK(low[0] == g.argmin().item<int64_t>());
}

TEST_CASE("Thompson sampling through the registry and select_from_pool, and its errors", "[bo][thompson]") {
  torch::manual_seed(13);
  auto pool = torch::rand({500, 2}, torch::kFloat64);
  auto y = pool.select(1, 0) - pool.select(1, 1);
  auto gp = fitted_gp(pool.slice(0, 0, 10), y.slice(0, 0, 10));
  auto available = torch::ones({500}, torch::kBool);
  available.slice(0, 0, 10).fill_(false);
  auto spec = test::spec_for("Thompson");
  spec.seed = 9;
  const auto Xo = pool.slice(0, 0, 10), yo = y.slice(0, 0, 10);
  auto a = test::pick_rows(spec, {&gp}, Xo, yo, pool, available, 5);
  auto b = test::pick_rows(spec, {&gp}, Xo, yo, pool, available, 5);
  CHECK(a == b);
  CHECK(a.size() == 5);
  // Where the optimum is obvious (corner x0 = 1, x1 = 0), most picks are near it.
  int near = 0;
  for (auto r : a) near += (pool[r][0].item<double>() > 0.6 && pool[r][1].item<double>() < 0.4);
  CHECK(near >= 3);
  // Fewer free rows than q: every free row, once.
  auto few = torch::zeros({500}, torch::kBool);
  few.slice(0, 20, 23).fill_(true);
  auto all = test::pick_rows(spec, {&gp}, Xo, yo, pool, few, 8);
  CHECK(std::set<int64_t>(all.begin(), all.end()) == std::set<int64_t>{20, 21, 22});
  CHECK_THAT(test::message_of<InputError>([&] { test::pick_rows(spec, {&gp}, Xo, yo, pool, available, 0); }),
             Catch::Contains("q must be >= 1"));
  CHECK_THAT(test::message_of<InputError>([&] { acquisition_info("thompsen"); }), Catch::Contains("thompson"));
}
