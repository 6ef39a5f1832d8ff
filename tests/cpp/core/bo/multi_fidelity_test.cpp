// Cost-aware multi-fidelity selection (augmented EI): a cheap, correlated
// fidelity is used; an unrelated one is not; at the target fidelity the
// value reduces to log EI times the noise factor.
#include "core/bo/analytic.h"
#include "models/gp/multitask_gp.h"
#include "common/error.h"

#include <catch2/catch.hpp>

#include "../../test_util.h"
#include "bo_test_util.h"

using namespace sozai;

namespace {
torch::Tensor with_task(const torch::Tensor& x, int64_t t) {
  return torch::cat({x, torch::full({x.size(0), 1}, static_cast<double>(t), torch::kFloat64)}, 1);
}
torch::Tensor target_fn(const torch::Tensor& x) { return torch::sin(6 * x.select(1, 0)) + x.select(1, 0); }

struct Setup {
  MultiTaskGP model;
  torch::Tensor X_obs, pool, available;
};

Setup setup(bool related) {
  torch::manual_seed(43);
  auto xc = torch::rand({8, 1}, torch::kFloat64);
  auto xt = torch::tensor({0.1, 0.6}, torch::kFloat64).unsqueeze(1);
  auto cheap = related ? 0.9 * target_fn(xc) + 0.1 : torch::cos(23 * xc.select(1, 0)) * torch::sin(11 * xc.select(1, 0));
  Setup s;
  s.X_obs = torch::cat({with_task(xc, 0), with_task(xt, 1)});
  s.model.fit({s.X_obs, torch::cat({cheap, target_fn(xt)})});
  auto grid = torch::linspace(0, 1, 60, torch::kFloat64).unsqueeze(1);
  s.pool = torch::cat({with_task(grid, 0), with_task(grid, 1)});
  s.available = torch::ones({120}, torch::kBool);
  return s;
}

AcquisitionSpec aei(std::vector<double> costs) {
  auto spec = test::spec_for("aei");
  spec.fidelity.costs = std::move(costs);
  return spec;
}

/// Up to q rows of the pool by augmented EI.
std::vector<int64_t> pick(const Setup& s, const AcquisitionSpec& spec, const torch::Tensor& available, int64_t q) {
  return select_from_pool(*make_acquisition(spec, {&s.model}, {s.X_obs}), s.pool, available, q);
}

/// log AEI of candidate rows C [n, d + 1].
torch::Tensor log_aei(const Setup& s, const AcquisitionSpec& spec, const torch::Tensor& C) {
  return test::values_at(*make_acquisition(spec, {&s.model}, {s.X_obs}), C);
}

}  // namespace

TEST_CASE("augmented EI spends on the cheap fidelity when it informs the target", "[bo][multifidelity]") {
  auto cfg = aei({1.0, 10.0});
  auto rel = setup(true);
  auto picks = pick(rel, cfg, rel.available, 4);
  REQUIRE(picks.size() == 4);
  int cheap = 0;
  for (auto r : picks) cheap += r < 60;
  CHECK(picks[0] < 60);
  CHECK(cheap >= 2);
  // Equal costs: the target is worth more than a proxy of it.
  cfg.fidelity.costs = {1.0, 1.0};
  auto v = log_aei(rel, cfg, rel.pool);
  CHECK(v.slice(0, 60, 120).max().item<double>() >= v.slice(0, 0, 60).max().item<double>());

  auto unrel = setup(false);
  cfg.fidelity.costs = {1.0, 10.0};
  auto first = pick(unrel, cfg, unrel.available, 1);
  CHECK(first[0] >= 60);
}

TEST_CASE("at the target fidelity augmented EI is log EI plus the noise factor", "[bo][multifidelity]") {
  auto s = setup(true);
  auto cfg = aei({1.0, 10.0});
  auto C = s.pool.slice(0, 60, 120);
  auto v = log_aei(s, cfg, C);
  auto post = s.model.latent_posterior(C);
  auto obs = s.model.latent_posterior(with_task(s.X_obs.slice(1, 0, 1), 1));
  AcquisitionParams p;
  p.best_f = (obs.mean.squeeze(1) - obs.variance.squeeze(1).sqrt()).max().item<double>();
  auto log_ei = analytic_acquisition_differentiable(post.mean.squeeze(1), post.variance.squeeze(1), p);
  const double sd = std::sqrt(s.model.task_noise(1));
  auto a2 = 1.0 - sd / (post.variance.squeeze(1) + sd * sd).sqrt();
  CHECK(torch::allclose(v, log_ei + torch::log(a2), 1e-6, 1e-9));
  cfg.fidelity.costs = {1.0};
  CHECK_THAT(test::message_of<InputError>([&] { log_aei(s, cfg, C); }),
             Catch::Contains("1 costs for 2 fidelities"));
}

TEST_CASE("target-first AEI measures cheaply only where the target EI is best", "[bo][multifidelity]") {
  auto rel = setup(true);
  auto cfg = aei({1.0, 10.0});
  // The input with the best EI at the target (its target row).
  auto equal = aei({10.0, 10.0});
  auto target_rows = rel.pool.slice(0, 60, 120);
  // At the target fidelity AEI is log EI times the noise factor, the same
  // for every input of one fidelity, so its argmax is the target EI's.
  const auto best_input = log_aei(rel, equal, target_rows).argmax().item<int64_t>();
  auto one = pick(rel, cfg, rel.available, 1);
  REQUIRE(one.size() == 1);
  CHECK(one[0] % 60 == best_input);  // that input, at whichever fidelity is worth more there
  CHECK(one[0] < 60);                // a correlated proxy ten times cheaper is

  // Plain AEI may go anywhere the cheap ratio pays; target-first never
  // leaves the favoured input, and with its cheap row measured (not
  // available) takes the target there.
  auto avail = rel.available.clone();
  avail[one[0]] = false;
  auto next = pick(rel, cfg, avail, 1);
  CHECK(next[0] == best_input + 60);
  cfg.fidelity.target_first = false;
  auto plain = pick(rel, cfg, avail, 1);
  CHECK(plain[0] < 60);  // plain AEI keeps buying cheap rows elsewhere
}
