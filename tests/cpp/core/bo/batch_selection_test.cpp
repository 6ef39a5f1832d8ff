// Batch selection from a pool with a GP of fixed hyperparameters (no fit):
// the first pick is the acquisition's argmax, fantasies collapse the
// variance at the picked points, and unavailable rows are never picked.
#include "common/error.h"
#include "core/bo/analytic.h"
#include "kernels/acquisition.h"
#include "models/gp/exact_gp.h"
#include <torch/autograd.h>

#include <limits>
#include <set>

#include <catch2/catch.hpp>

#include "../../test_util.h"
#include "bo_test_util.h"

using namespace sozai;

namespace {
ExactGP fixed_gp(const torch::Tensor& X, const torch::Tensor& y) {
  ExactGP gp;
  GPHyperparameters h;
  h.lengthscale = {0.2, 0.2};
  h.outputscale = 1.0;
  h.noise = 1e-4;
  gp.set_hyperparameters(h);
  gp.set_input_bounds(torch::zeros({2}, torch::kFloat64), torch::ones({2}, torch::kFloat64));
  gp.set_data({X, y});
  return gp;
}
}  // namespace

TEST_CASE("first pick is the argmax; later picks avoid fantasised points", "[bo]") {
  torch::manual_seed(5);
  auto pool = torch::rand({300, 2}, torch::kFloat64);
  auto f = torch::sin(5 * pool.select(1, 0)) * torch::cos(3 * pool.select(1, 1));
  auto obs = torch::arange(0, 10, torch::kInt64);
  auto gp = fixed_gp(pool.index_select(0, obs), f.index_select(0, obs));
  auto spec = test::spec_for("ucb");
  spec.beta = 9.0;
  const auto Xo = pool.index_select(0, obs), yo = f.index_select(0, obs);
  auto available = torch::ones({300}, torch::kBool);
  available.slice(0, 0, 10).fill_(false);
  auto batch = test::pick_rows(spec, {&gp}, Xo, yo, pool, available, 6);
  REQUIRE(batch.size() == 6);
  auto acq = test::values_at(*make_acquisition(spec, {&gp}, {Xo, yo}), pool)
                 .masked_fill(available.logical_not(), -1e300);
  CHECK(batch[0] == acq.argmax().item<int64_t>());
  std::set<int64_t> unique(batch.begin(), batch.end());
  CHECK(unique.size() == 6);
  for (auto r : batch) CHECK(r >= 10);

  // After fantasising row r, the variance there is at most the noise: an
  // exact conditioning on (r, mean) must agree with the rank-one update.
  auto post = gp.latent_posterior(pool);
  ExactGP cond = gp;
  auto r = batch[0];
  cond.append_latent(pool.slice(0, r, r + 1), post.mean.select(0, r));
  auto v = cond.latent_posterior(pool.slice(0, r, r + 1)).variance.item<double>();
  CHECK(v <= gp.latent_noise() * 1.01);

  // Pending rows are fantasised first: with every row but one pending or
  // observed, that row is the only possible pick.
  std::vector<int64_t> pending;
  for (int64_t i = 10; i < 299; ++i) pending.push_back(i);
  auto mask = torch::zeros({300}, torch::kBool);
  mask[299] = true;
  CHECK(test::pick_rows(spec, {&gp}, Xo, yo, pool, mask, 3, pending) == std::vector<int64_t>{299});
}

TEST_CASE("LogEI batch equals sequential conditioning on believed outcomes", "[bo]") {
  torch::manual_seed(6);
  auto pool = torch::rand({120, 2}, torch::kFloat64);
  auto f = torch::sin(5 * pool.select(1, 0)) + pool.select(1, 1);
  auto obs = torch::arange(0, 8, torch::kInt64);
  auto gp = fixed_gp(pool.index_select(0, obs), f.index_select(0, obs));
  AcquisitionParams p;
  p.kind = AcquisitionKind::LogEI;
  p.best_f = best_latent_value(gp, f.index_select(0, obs), true);
  auto available = torch::ones({120}, torch::kBool);
  available.slice(0, 0, 8).fill_(false);
  auto spec = test::spec_for("logei");
  spec.best_f = p.best_f;
  auto batch = test::pick_rows(spec, {&gp}, pool.index_select(0, obs), f.index_select(0, obs), pool, available, 3);

  // Reference: condition the GP exactly on each pick at its posterior mean
  // (Kriging believer by refitting with fixed hyperparameters).
  ExactGP ref = gp;
  auto mask = available.clone();
  double best = p.best_f;
  for (int j = 0; j < 3; ++j) {
    auto post = ref.latent_posterior(pool);
    AcquisitionParams q = p;
    q.best_f = best;
    auto acq = kernels::analytic_acquisition(post.mean.squeeze(1), post.variance.squeeze(1), q)
                   .masked_fill(mask.logical_not(), -1e300);
    auto pick = acq.argmax().item<int64_t>();
    CHECK(pick == batch[j]);
    mask[pick] = false;
    best = std::max(best, post.mean[pick].item<double>());
    ref.append_latent(pool.slice(0, pick, pick + 1), post.mean.select(0, pick));
  }
}

TEST_CASE("differentiable analytic acquisitions equal the kernels and have correct gradients", "[bo]") {
  auto mean = torch::linspace(-40.0, 3.0, 400, torch::kFloat64);
  auto var = torch::full({400}, 0.7, torch::kFloat64);
  for (auto kind : {AcquisitionKind::EI, AcquisitionKind::LogEI, AcquisitionKind::UCB, AcquisitionKind::PI}) {
    for (bool maximize : {true, false}) {
      AcquisitionParams p;
      p.kind = kind;
      p.maximize = maximize;
      p.best_f = maximize ? 0.5 : -30.0;
      auto ref = kernels::analytic_acquisition(mean, var, p);
      auto val = analytic_acquisition_differentiable(mean, var, p);
      INFO(to_string(kind) << " maximize " << maximize);
      CHECK(torch::allclose(val, ref, 1e-9, 1e-300));
      // Gradient in the mean against central differences, where finite.
      auto m = mean.clone().requires_grad_(true);
      auto g = torch::autograd::grad({analytic_acquisition_differentiable(m, var, p).sum()}, {m})[0];
      CHECK(torch::isfinite(g).all().item<bool>());
      const double h = 1e-6;
      auto fd = (analytic_acquisition_differentiable(mean + h, var, p) - analytic_acquisition_differentiable(mean - h, var, p)) / (2 * h);
      auto sel = fd.abs() > 1e-8;
      CHECK(torch::allclose(g.masked_select(sel), fd.masked_select(sel), 1e-4, 1e-8));
    }
  }
}

TEST_CASE("a row weight (piBO) is added to log values and multiplies nonnegative ones; other kinds refuse it",
          "[bo]") {
  torch::manual_seed(21);
  auto pool = torch::rand({300, 2}, torch::kFloat64);
  auto y = torch::sin(5 * pool.select(1, 0)) + pool.select(1, 1);
  auto gp = fixed_gp(pool.slice(0, 0, 8), y.slice(0, 0, 8));
  auto available = torch::ones({300}, torch::kBool);
  available.slice(0, 0, 8).fill_(false);
  const auto Xo = pool.slice(0, 0, 8), Yo = y.slice(0, 0, 8).unsqueeze(1);
  for (const auto* name : {"logei", "ei", "qlognei"}) {
    INFO(name);
    auto acq = make_acquisition(test::spec_for(name), {&gp}, {Xo, Yo, {}});
    const bool log_valued = std::string(name) != "ei";
    // The pick with the weight is the argmax of the weighted values (the
    // analytic kinds score pool rows as their values; qlognei's pool batch
    // draws its own samples).
    auto values = test::values_at(*acq, pool).to(torch::kFloat64);
    auto w = 0.5 * torch::randn({300}, torch::kFloat64);
    auto weighted = log_valued ? values + w : values * w.exp();
    weighted.masked_fill_(available.logical_not(), -1e300);
    auto picks = select_from_pool(*acq, pool, available, 1, w);
    REQUIRE(picks.size() == 1);
    if (std::string(name) != "qlognei") CHECK(picks[0] == weighted.argmax().item<int64_t>());
    // A weight of zero (log 0) changes nothing; one row far above the others wins.
    CHECK(select_from_pool(*acq, pool, available, 3, torch::zeros({300}, torch::kFloat64)) ==
          select_from_pool(*acq, pool, available, 3));
    auto strong = torch::zeros({300}, torch::kFloat64);
    strong[123] = 1e4;  // exp(1e4) overflows: ei's weighted values are compared as logs
    CHECK(select_from_pool(*acq, pool, available, 1, strong)[0] == 123);
    CHECK_THAT(test::message_of<InputError>([&] { select_from_pool(*acq, pool, available, 1, torch::zeros({5})); }),
               Catch::Contains("log_weight must be [300]"));
    auto bad = torch::zeros({300}, torch::kFloat64);
    bad[4] = std::numeric_limits<double>::quiet_NaN();
    CHECK_THAT(test::message_of<InputError>([&] { select_from_pool(*acq, pool, available, 1, bad); }),
               Catch::Contains("non-finite"));
  }
  auto ucb = make_acquisition(test::spec_for("ucb"), {&gp}, {Xo, Yo, {}});
  CHECK_THAT(test::message_of<InputError>(
                 [&] { select_from_pool(*ucb, pool, available, 1, torch::zeros({300}, torch::kFloat64)); }),
             Catch::Contains("logs (qlognei, logei) or nonnegative (ei, pi), not 'ucb'"));
  CHECK(weighable_acquisition(AcquisitionKind::PI));
  CHECK_FALSE(weighable_acquisition(AcquisitionKind::Thompson));
}
