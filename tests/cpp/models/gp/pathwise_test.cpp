// GP posterior sample paths (random Fourier features + Matheron's rule):
// the paths' mean and covariance match the exact posterior.
#include "models/gp/exact_gp.h"
#include "models/gp/pathwise.h"

#include <catch2/catch.hpp>

using namespace sozai;

namespace {
ExactGP fixed_gp(const std::string& kernel, const torch::Tensor& X, const torch::Tensor& y) {
  ExactGPConfig cfg;
  cfg.kernel = kernel;
  cfg.outcome_transform = "standardize";
  ExactGP gp(cfg);
  GPHyperparameters h;
  h.lengthscale = {0.3, 0.5};
  h.outputscale = 1.5;
  h.noise = 1e-2;
  gp.set_hyperparameters(h);
  gp.set_input_bounds(torch::zeros({2}, torch::kFloat64), torch::ones({2}, torch::kFloat64));
  gp.set_data({X, y});
  return gp;
}
}  // namespace

TEST_CASE("sample paths have the posterior's mean and covariance", "[gp][pathwise]") {
  torch::manual_seed(3);
  auto X = torch::rand({15, 2}, torch::kFloat64);
  auto y = torch::sin(5 * X.select(1, 0)) + X.select(1, 1);
  auto T = torch::rand({6, 2}, torch::kFloat64);
  for (std::string kernel : {"rbf", "matern52"}) {
    INFO(kernel);
    auto gp = fixed_gp(kernel, X, y);
    GPPathSampler paths(gp, 4000, 11, 4096);
    REQUIRE(paths.paths() == 4000);
    auto f = paths(T);  // [S, 6]
    REQUIRE(f.sizes() == torch::IntArrayRef({4000, 6}));
    auto post = gp.latent_posterior(T);
    auto mu = post.mean.squeeze(1);
    auto var = post.variance.squeeze(1);
    auto m = f.mean(0);
    auto centred = f - m;
    auto cov = torch::matmul(centred.t(), centred) / 3999.0;
    auto exact = gp.latent_covariance(T, T);
    // Monte-Carlo error of 4000 paths plus the feature approximation.
    CHECK(((m - mu).abs() / var.sqrt()).max().item<double>() < 0.12);
    CHECK(((cov.diagonal() / var) - 1).abs().max().item<double>() < 0.15);
    const double scale = gp.hyperparameters().outputscale;
    CHECK((cov - exact).abs().max().item<double>() < 0.08 * scale);
    // Same seed, same paths; another seed, other paths.
    CHECK(torch::equal(GPPathSampler(gp, 3, 5)(T), GPPathSampler(gp, 3, 5)(T)));
    CHECK(!torch::equal(GPPathSampler(gp, 3, 5)(T), GPPathSampler(gp, 3, 6)(T)));
  }
}
