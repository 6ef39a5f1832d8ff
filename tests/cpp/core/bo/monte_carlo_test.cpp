// Monte-Carlo batch acquisition: qLogNEI and qUCB against their analytic
// q = 1 counterparts, greedy-sequential pool selection against direct
// batch evaluation, pending experiments, seeds and bad input.
#include "core/bo/monte_carlo.h"
#include "common/error.h"
#include "models/gp/exact_gp.h"

#include <algorithm>
#include <set>

#include <catch2/catch.hpp>

#include "../../test_util.h"
#include "bo_test_util.h"

using namespace sozai;

namespace {


torch::Tensor branin_like(const torch::Tensor& X) {
  return torch::sin(6 * X.select(1, 0)) * torch::cos(4 * X.select(1, 1)) + 0.5 * X.select(1, 1);
}

struct Problem {
  torch::Tensor pool, y, obs, available;
};

Problem problem(int64_t n_pool, int64_t n_obs, uint64_t seed) {
  torch::manual_seed(seed);
  Problem p;
  p.pool = torch::rand({n_pool, 2}, torch::kFloat64);
  p.y = branin_like(p.pool);
  p.obs = torch::arange(0, n_obs, torch::kInt64);
  p.available = torch::ones({n_pool}, torch::kBool);
  p.available.slice(0, 0, n_obs).fill_(false);
  return p;
}

}  // namespace

TEST_CASE("qLogNEI with q = 1 and many samples matches analytic LogEI", "[bo][mc]") {
  auto p = problem(200, 12, 1);
  auto Xo = p.pool.index_select(0, p.obs);
  auto gp = test::fixed_gp(Xo, p.y.index_select(0, p.obs));
  // Noise-free observations: the baseline's best sample is the best
  // observation, so noisy EI reduces to EI over the best latent value.
  const auto yo = p.y.index_select(0, p.obs);
  auto X = p.pool.slice(0, 12, 200);
  auto analytic = test::values_at(*make_acquisition(test::spec_for("logei"), {&gp}, {Xo, yo}), X);
  auto mc = test::spec_for("qlognei");
  mc.mc_samples = 4096;
  mc.seed = 3;
  auto sampled = test::values_at(*make_acquisition(mc, {&gp}, {Xo, yo}), X);
  REQUIRE(sampled.sizes() == analytic.sizes());
  // Where the improvement is not negligible, the two agree closely (in log
  // space: a relative error of the expected improvement).
  auto sel = analytic > -6.0;
  REQUIRE(sel.sum().item<int64_t>() >= 10);
  auto err = (sampled - analytic).abs().masked_select(sel);
  CHECK(err.max().item<double>() < 0.05);
  // Everywhere, the order of the best candidates is the same.
  CHECK(sampled.argmax().item<int64_t>() == analytic.argmax().item<int64_t>());
}

TEST_CASE("qUCB with q = 1 matches analytic UCB", "[bo][mc]") {
  auto p = problem(100, 10, 2);
  auto Xo = p.pool.index_select(0, p.obs);
  auto gp = test::fixed_gp(Xo, p.y.index_select(0, p.obs), 1e-3);
  auto ap = test::spec_for("ucb");
  ap.beta = 2.0;
  auto X = p.pool.slice(0, 10, 100);
  auto analytic = test::values_at(*make_acquisition(ap, {&gp}, {Xo}), X);
  auto mc = test::spec_for("qucb");
  mc.beta = 2.0;
  mc.mc_samples = 8192;
  auto sampled = test::values_at(*make_acquisition(mc, {&gp}, {Xo}), X);
  auto sigma = gp.latent_posterior(X).variance.squeeze(1).sqrt();
  CHECK(((sampled - analytic).abs() / sigma).max().item<double>() < 0.03);

  // Minimising: the mirror image, mean - sqrt(beta) sigma, negated.
  ap.outcomes = mc.outcomes = {Outcome::minimize()};
  auto analytic_min = test::values_at(*make_acquisition(ap, {&gp}, {Xo}), X);
  auto sampled_min = test::values_at(*make_acquisition(mc, {&gp}, {Xo}), X);
  CHECK(((sampled_min - analytic_min).abs() / sigma).max().item<double>() < 0.03);
}

TEST_CASE("greedy pool selection scores each pick jointly with pending points and earlier picks", "[bo][mc]") {
  auto p = problem(150, 10, 4);
  auto Xo = p.pool.index_select(0, p.obs);
  auto gp = test::fixed_gp(Xo, p.y.index_select(0, p.obs), 1e-4);
  for (auto kind : {AcquisitionKind::qLogNEI, AcquisitionKind::qUCB}) {
    auto mc = test::spec_for(to_string(kind));
    mc.mc_samples = 64;
    mc.seed = 11;
    mc.sampling.chunk = 37;  // several chunks
    std::vector<int64_t> pending = {20, 21};
    auto batch = test::pick_rows(mc, {&gp}, Xo, {}, p.pool, p.available, 3, pending);
    REQUIRE(batch.size() == 3);
    std::set<int64_t> unique(batch.begin(), batch.end());
    CHECK(unique.size() == 3);
    for (auto r : batch) CHECK((r >= 10 && r != 20 && r != 21));

    // Each pick maximises the value of [pending; earlier picks; x],
    // evaluated directly as q-batches (the same base samples).
    auto rows = torch::nonzero(p.available).reshape({-1});
    auto P = p.pool.index_select(0, torch::tensor(pending, torch::kInt64));
    for (int64_t j = 0; j < 2; ++j) {
      std::vector<int64_t> cand;
      for (int64_t i = 0; i < rows.numel(); ++i) {
        auto r = rows[i].item<int64_t>();
        if (r != 20 && r != 21 && std::find(batch.begin(), batch.begin() + j, r) == batch.begin() + j) cand.push_back(r);
      }
      auto C = p.pool.index_select(0, torch::tensor(cand, torch::kInt64)).unsqueeze(1);
      auto picked = p.pool.index_select(0, torch::tensor(std::vector<int64_t>(batch.begin(), batch.begin() + j),
                                                         torch::kInt64));
      auto Xq = torch::cat({picked.unsqueeze(0).expand({C.size(0), j, 2}), C}, 1);
      auto vals = (*make_acquisition(mc, {&gp}, {Xo, {}, P}))(Xq);
      // The pick attains the largest joint value (up to the smoothing of
      // the maximum over the batch, tau_max).
      const auto at = std::find(cand.begin(), cand.end(), batch[j]) - cand.begin();
      CHECK(vals[at].item<double>() >= vals.max().item<double>() - 0.02);
      if (kind == AcquisitionKind::qUCB) CHECK(cand[vals.argmax().item<int64_t>()] == batch[j]);
    }
    // The first pick does not depend on the batch size.
    CHECK(test::pick_rows(mc, {&gp}, Xo, {}, p.pool, p.available, 1, pending)[0] == batch[0]);
  }
}

TEST_CASE("pending experiments change the proposal; seeds repeat batches", "[bo][mc]") {
  auto p = problem(300, 10, 7);
  auto Xo = p.pool.index_select(0, p.obs);
  auto gp = test::fixed_gp(Xo, p.y.index_select(0, p.obs), 1e-4);
  for (auto kind : {AcquisitionKind::qLogNEI, AcquisitionKind::qUCB}) {
    auto mc = test::spec_for(to_string(kind));
    mc.seed = 5;
    auto alone = test::pick_rows(mc, {&gp}, Xo, {}, p.pool, p.available, 1);
    // Without the pending experiment's influence the proposal would be the
    // runner-up of the scores alone, a close neighbour of the best in a
    // dense pool; scored jointly with the pending best it moves elsewhere.
    auto rows = torch::nonzero(p.available).reshape({-1});
    auto scores = test::values_at(*make_acquisition(mc, {&gp}, {Xo}), p.pool.index_select(0, rows));
    auto top2 = std::get<1>(scores.topk(2));
    REQUIRE(rows[top2[0]].item<int64_t>() == alone[0]);
    auto runner_up = rows[top2[1]].item<int64_t>();
    CHECK((p.pool[runner_up] - p.pool[alone[0]]).norm().item<double>() < 0.1);
    auto with_pending = test::pick_rows(mc, {&gp}, Xo, {}, p.pool, p.available, 1, {alone[0]});
    CHECK(with_pending[0] != runner_up);
    CHECK((p.pool[with_pending[0]] - p.pool[alone[0]]).norm().item<double>() > 0.1);

    auto b1 = test::pick_rows(mc, {&gp}, Xo, {}, p.pool, p.available, 4);
    auto b2 = test::pick_rows(mc, {&gp}, Xo, {}, p.pool, p.available, 4);
    CHECK(b1 == b2);
    CHECK(b1[0] == alone[0]);
  }
}

TEST_CASE("baseline pruning keeps the points that can be the best", "[bo][mc]") {
  auto p = problem(60, 40, 8);
  auto Xo = p.pool.index_select(0, p.obs);
  auto yo = p.y.index_select(0, p.obs);
  auto gp = test::fixed_gp(Xo, yo, 1e-6);
  auto mc = test::spec_for("qlognei");
  auto kept = prune_baseline(gp, Xo, mc);
  // Noise-free: only the best observation is ever the best sample.
  REQUIRE(kept.size(0) == 1);
  CHECK(torch::allclose(kept[0], Xo[yo.argmax().item<int64_t>()]));
  mc.outcomes = {Outcome::minimize()};
  CHECK(torch::allclose(prune_baseline(gp, Xo, mc)[0], Xo[yo.argmin().item<int64_t>()]));
}

TEST_CASE("Monte-Carlo acquisition rejects bad input with clear errors", "[bo][mc]") {
  auto p = problem(40, 6, 9);
  auto Xo = p.pool.index_select(0, p.obs);
  auto gp = test::fixed_gp(Xo, p.y.index_select(0, p.obs));
  auto mc = test::spec_for("qlognei");
  // The registry parses every name (one error listing them all).
  CHECK_THAT(test::message_of<InputError>([] { acquisition_info("qfoo"); }),
             Catch::Contains("unknown acquisition 'qfoo'"));
  CHECK(acquisition_info("qLogNEI").kind == AcquisitionKind::qLogNEI);
  CHECK(acquisition_info("qLogNEI").joint);
  CHECK(!acquisition_info("logei").joint);
  CHECK_THAT(test::message_of<InputError>([&] { test::pick_rows(mc, {&gp}, Xo, {}, p.pool, p.available, 0); }),
             Catch::Contains("q must be >= 1"));
  CHECK_THAT(test::message_of<InputError>([&] {
               test::pick_rows(mc, {&gp}, Xo.slice(1, 0, 1), {}, p.pool, p.available, 2);
             }),
             Catch::Contains("X_observed"));
  CHECK_THAT(test::message_of<InputError>([&] {
               make_acquisition(mc, {&gp}, {Xo, {}, p.pool.slice(1, 0, 1)});
             }),
             Catch::Contains("X_pending must be [p, 2]"));
  CHECK_THAT(test::message_of<InputError>([&] { (*make_acquisition(mc, {&gp}, {Xo}))(p.pool); }),
             Catch::Contains("[b, q, d]"));
  mc.mc_samples = 0;
  CHECK_THAT(test::message_of<InputError>([&] { make_acquisition(mc, {&gp}, {Xo}); }),
             Catch::Contains("samples must be >= 1"));
}
