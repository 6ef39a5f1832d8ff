// Multi-task GP: one task reduces to ExactGP; correlated fidelities are
// learned as such and lend strength to the scarce target; unrelated ones
// are not; covariances agree with each other; bad task indices are named.
#include "common/error.h"
#include "models/gp/exact_gp.h"
#include "models/gp/multitask_gp.h"

#include <catch2/catch.hpp>

#include "../../test_util.h"

using namespace sozai;

namespace {
torch::Tensor with_task(const torch::Tensor& x, int64_t t) {
  return torch::cat({x, torch::full({x.size(0), 1}, static_cast<double>(t), torch::kFloat64)}, 1);
}
torch::Tensor target_fn(const torch::Tensor& x) { return torch::sin(6 * x.select(1, 0)) + x.select(1, 0); }
}  // namespace

TEST_CASE("a one-task MultiTaskGP predicts as ExactGP", "[gp][multitask]") {
  torch::manual_seed(41);
  auto x = torch::rand({25, 1}, torch::kFloat64);
  auto y = target_fn(x) + 0.01 * torch::randn({25}, torch::kFloat64);
  MultiTaskGPConfig mc;
  mc.num_tasks = 1;
  MultiTaskGP mt(mc);
  mt.fit({with_task(x, 0), y});
  ExactGPConfig ec;
  ec.outcome_transform = "standardize";
  ExactGP gp(ec);
  gp.fit({x, y});
  auto xs = torch::linspace(0, 1, 50, torch::kFloat64).unsqueeze(1);
  auto a = mt.posterior(with_task(xs, 0)), b = gp.posterior(xs);
  CHECK((a.mean - b.mean).abs().max().item<double>() < 0.02);
  CHECK((a.variance.sqrt() - b.variance.sqrt()).abs().max().item<double>() < 0.02);
}

TEST_CASE("a correlated cheap fidelity lends strength to the target; an unrelated one does not", "[gp][multitask]") {
  torch::manual_seed(42);
  auto xc = torch::rand({30, 1}, torch::kFloat64);
  auto xt = torch::tensor({0.05, 0.4, 0.7, 0.95}, torch::kFloat64).unsqueeze(1);
  auto yt = target_fn(xt);
  auto xs = torch::linspace(0, 1, 80, torch::kFloat64).unsqueeze(1);
  auto truth = target_fn(xs);

  auto cheap = 0.9 * target_fn(xc) + 0.1;  // a biased, correlated simulation
  MultiTaskGP mt;
  mt.fit({torch::cat({with_task(xc, 0), with_task(xt, 1)}), torch::cat({cheap, yt})});
  CHECK(mt.task_correlation(0, 1) > 0.9);
  ExactGP alone;
  alone.fit({xt, yt});
  const double rmse_mt = (mt.posterior(with_task(xs, 1)).mean.squeeze(1) - truth).pow(2).mean().sqrt().item<double>();
  const double rmse_gp = (alone.posterior(xs).mean.squeeze(1) - truth).pow(2).mean().sqrt().item<double>();
  CHECK(rmse_mt < 0.5 * rmse_gp);

  // Row-wise cross covariance = diagonal of the full posterior covariance.
  auto A = with_task(xs.slice(0, 0, 10), 0), B = with_task(xs.slice(0, 0, 10), 1);
  CHECK(torch::allclose(mt.latent_cross_covariance(A, B), mt.latent_covariance(A, B).diagonal(), 1e-8, 1e-10));

  // Unrelatedness needs evidence: a dozen target points.
  MultiTaskGP unrelated;
  auto other = torch::cos(9 * xc.select(1, 0) + 1.0) - 2 * xc.select(1, 0);
  auto xt12 = torch::linspace(0.02, 0.98, 12, torch::kFloat64).unsqueeze(1);
  unrelated.fit({torch::cat({with_task(xc, 0), with_task(xt12, 1)}), torch::cat({other, target_fn(xt12)})});
  CHECK(std::abs(unrelated.task_correlation(0, 1)) < 0.6);

  CHECK_THAT(test::message_of<InputError>([&] { mt.posterior(with_task(xs, 2)); }),
             Catch::Contains("row 0 has task 2"));
}
