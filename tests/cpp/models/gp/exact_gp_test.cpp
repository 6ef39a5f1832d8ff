// ExactGP: posterior against the textbook formulas, marginal-likelihood
// fitting, jitter escalation, outcome transforms and input checks. The
// scikit-learn oracle comparison lives in tests/python/test_gp.py.

#include "common/error.h"
#include "models/gp/exact_gp.h"

#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <cmath>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>
#include "../../test_util.h"

using namespace sozai;

namespace {

torch::Tensor matern52(const torch::Tensor& A, const torch::Tensor& B, const std::vector<double>& ls, double os) {
  // Explicit pairwise loop: independent of the GEMM trick in covariance().
  auto K = torch::empty({A.size(0), B.size(0)}, torch::kFloat64);
  for (int64_t i = 0; i < A.size(0); ++i)
    for (int64_t j = 0; j < B.size(0); ++j) {
      double r2 = 0;
      for (int64_t k = 0; k < A.size(1); ++k) {
        double d = (A[i][k].item<double>() - B[j][k].item<double>()) / ls[k];
        r2 += d * d;
      }
      double r = std::sqrt(r2);
      K[i][j] = os * (1 + std::sqrt(5.0) * r + 5.0 / 3.0 * r2) * std::exp(-std::sqrt(5.0) * r);
    }
  return K;
}

Dataset toy(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  auto X = torch::rand({n, 2}, torch::kFloat64);
  auto y = torch::sin(6.0 * X.select(1, 0)) + 0.05 * torch::randn({n}, torch::kFloat64);
  return {X, y};
}

}  // namespace

TEST_CASE("posterior with fixed hyperparameters equals the textbook formulas", "[models][gp]") {
  auto data = toy(12, 1);
  ExactGPConfig cfg;
  cfg.outcome_transform = "standardize";
  ExactGP gp(cfg);
  gp.set_input_bounds(torch::zeros({2}, torch::kFloat64), torch::ones({2}, torch::kFloat64));
  GPHyperparameters h;
  h.lengthscale = {0.3, 0.7};
  h.outputscale = 1.3;
  h.noise = 0.01;
  gp.set_hyperparameters(h);
  gp.set_data(data);

  auto z = (data.Y - data.Y.mean()) / data.Y.std(false);
  auto K = matern52(data.X, data.X, h.lengthscale, h.outputscale) + h.noise * torch::eye(12, torch::kFloat64);
  auto Xs = torch::rand({7, 2}, torch::kFloat64);
  auto Ks = matern52(Xs, data.X, h.lengthscale, h.outputscale);
  auto Kinv = torch::inverse(K);
  auto mean = at::matmul(Ks, at::matmul(Kinv, z));
  auto var = h.outputscale - (at::matmul(Ks, Kinv) * Ks).sum(1);
  auto post = gp.latent_posterior(Xs);
  CHECK(torch::allclose(post.mean.squeeze(1), mean, 1e-9, 1e-9));
  CHECK(torch::allclose(post.variance.squeeze(1), var, 1e-9, 1e-9));
  // Original units: affine map back.
  auto orig = gp.posterior(Xs);
  const double sd = data.Y.std(false).item<double>();
  CHECK(torch::allclose(orig.mean.squeeze(1), mean * sd + data.Y.mean(), 1e-9, 1e-9));
  CHECK(torch::allclose(orig.variance.squeeze(1), var * sd * sd, 1e-9, 1e-9));
  // log marginal likelihood
  const double n = 12;
  const double mll = (-0.5 * at::dot(z, at::matmul(Kinv, z)) - 0.5 * torch::logdet(K)).item<double>() -
                     0.5 * n * std::log(2 * M_PI);
  CHECK(gp.log_marginal_likelihood() == Approx(mll).epsilon(1e-9));
  // Latent covariance diagonal equals the variance.
  auto C = gp.latent_covariance(Xs, Xs);
  CHECK(torch::allclose(C.diagonal(), var, 1e-9, 1e-9));
}

TEST_CASE("fitting raises the marginal likelihood and finds the relevant input", "[models][gp]") {
  auto data = toy(40, 2);
  ExactGP gp;
  gp.fit(data);
  const double fitted = gp.log_marginal_likelihood();
  ExactGP ref;
  GPHyperparameters h;
  h.lengthscale = {0.5, 0.5};
  h.outputscale = 1.0;
  h.noise = 1e-2;
  ref.set_hyperparameters(h);
  ref.set_data(data);
  CHECK(fitted >= ref.log_marginal_likelihood());
  // y depends on x0 only: its lengthscale is the shorter one.
  const auto& ls = gp.hyperparameters().lengthscale;
  CHECK(ls[0] < ls[1]);
  // Fitted model interpolates the training data closely.
  auto post = gp.posterior(data.X);
  CHECK((post.mean.squeeze(1) - data.Y).abs().max().item<double>() < 0.2);
}

TEST_CASE("RBF kernel and float32 inputs work", "[models][gp]") {
  auto data = toy(20, 3);
  ExactGPConfig cfg;
  cfg.kernel = "rbf";
  cfg.restarts = 2;
  ExactGP gp(cfg);
  gp.fit({data.X.to(torch::kFloat32), data.Y.to(torch::kFloat32)});
  auto post = gp.posterior(data.X.to(torch::kFloat32));
  CHECK(post.mean.scalar_type() == torch::kFloat32);
  CHECK(torch::isfinite(post.variance).all().item<bool>());
}

TEST_CASE("duplicated inputs escalate the jitter instead of failing", "[models][gp]") {
  auto X = torch::tensor({0.1, 0.1, 0.1, 0.5, 0.9}, torch::kFloat64).unsqueeze(1);
  auto y = torch::tensor({1.0, 1.0, 1.0, 0.0, 2.0}, torch::kFloat64);
  ExactGP gp;
  GPHyperparameters h;
  h.lengthscale = {100.0};
  h.outputscale = 1.0;
  h.noise = 1e-300;  // vanishes next to 1: identical rows make K exactly singular
  gp.set_hyperparameters(h);
  gp.set_data({X, y});
  CHECK(gp.jitter() > 0.0);
  CHECK(std::isfinite(gp.log_marginal_likelihood()));
  ExactGP fitted;
  CHECK_NOTHROW(fitted.fit({X, y}));
}

TEST_CASE("outcome transforms", "[models][gp][transform]") {
  SECTION("Yeo-Johnson inverse undoes the forward map for any lambda") {
    auto y = torch::linspace(-5, 5, 41, torch::kFloat64);
    for (double lam : {-1.5, 0.0, 0.5, 1.0, 2.0, 3.0}) {
      INFO("lambda=" << lam);
      CHECK(torch::allclose(yeo_johnson_inverse(yeo_johnson(y, lam), lam), y, 1e-9, 1e-9));
    }
  }
  SECTION("beyond the image of the map the inverse is inf, or saturates when asked") {
    auto z = torch::tensor({5.0}, torch::kFloat64);  // lambda = -1: image of y >= 0 is [0, 1)
    CHECK(std::isinf(yeo_johnson_inverse(z, -1.0).item<double>()));
    CHECK(yeo_johnson_inverse(z, -1.0, 100.0).item<double>() == Approx(100.0));
    CHECK(yeo_johnson_inverse(-z, 3.0, 100.0).item<double>() == Approx(-100.0));
  }
  SECTION("lambda is recovered from data that a Yeo-Johnson map makes normal") {
    torch::manual_seed(0);
    for (double lam : {-0.5, 0.5, 1.5}) {
      auto y = yeo_johnson_inverse(0.5 * torch::randn({4000}, torch::kFloat64), lam);
      INFO("lambda=" << lam);
      CHECK(std::fabs(fit_yeo_johnson_lambda(y) - lam) < 0.15);
    }
  }
  SECTION("auto picks log for positive targets spanning decades") {
    OutcomeTransform t;
    t.fit(torch::tensor({0.01, 0.1, 1.0, 10.0}, torch::kFloat64));
    CHECK(t.resolved_kind() == "log");
    t.fit(torch::tensor({1.0, 2.0, 3.0}, torch::kFloat64));
    CHECK(t.resolved_kind() == "standardize");
  }
  SECTION("log of a non-positive target names it") {
    OutcomeTransform t(OutcomeTransformConfig{"log"});
    CHECK_THROWS_WITH(t.fit(torch::tensor({1.0, -2.0, 3.0}, torch::kFloat64)), Catch::Contains("target 1"));
  }
  SECTION("moments in original units match sampling") {
    for (const char* kind : {"log", "yeo-johnson"}) {
      OutcomeTransform t(OutcomeTransformConfig{kind});
      torch::manual_seed(1);
      t.fit(torch::exp(torch::randn({200}, torch::kFloat64)));
      auto m = torch::tensor({0.3}, torch::kFloat64), v = torch::tensor({0.2}, torch::kFloat64);
      torch::Tensor om, ov;
      t.untransform_moments(m, v, &om, &ov);
      auto samples = t.inverse(m + v.sqrt() * torch::randn({400000}, torch::kFloat64));
      INFO(kind);
      CHECK(om.item<double>() == Approx(samples.mean().item<double>()).epsilon(0.01));
      CHECK(ov.item<double>() == Approx(samples.var().item<double>()).epsilon(0.05));
    }
  }
}

TEST_CASE("bad GP input gives clear errors", "[models][gp]") {
  ExactGP gp;
  CHECK_THROWS_WITH(gp.posterior(torch::zeros({2, 2}, torch::kFloat64)), Catch::Contains("no data yet"));
  auto X = torch::rand({5, 2}, torch::kFloat64);
  CHECK_THROWS_WITH(gp.fit({X, torch::rand({5, 2}, torch::kFloat64)}), Catch::Contains("one objective"));
  CHECK_THROWS_WITH(gp.fit({X, torch::rand({4}, torch::kFloat64)}), Catch::Contains("5 rows but Y has 4"));
  auto Xbad = X.clone();
  Xbad[3][1] = NAN;
  CHECK_THROWS_WITH(gp.fit({Xbad, torch::rand({5}, torch::kFloat64)}), Catch::Contains("row 3"));
  auto ybad = torch::rand({5}, torch::kFloat64);
  ybad[2] = INFINITY;
  CHECK_THROWS_WITH(gp.fit({X, ybad}), Catch::Contains("target 2"));
  gp.fit({X, torch::rand({5}, torch::kFloat64)});
  CHECK_THROWS_WITH(gp.posterior(torch::zeros({2, 3}, torch::kFloat64)), Catch::Contains("[n, 2]"));
  CHECK_THROWS_AS(ExactGP(ExactGPConfig{"laplace"}), InputError);
}

TEST_CASE("GP on CUDA matches the CPU", "[models][gp][cuda]") {
  if (!torch::cuda::is_available()) SOZAI_SKIP("no CUDA device");
  auto data = toy(30, 4);
  ExactGP cpu, gpu;
  GPHyperparameters h;
  h.lengthscale = {0.3, 0.6};
  h.outputscale = 1.0;
  h.noise = 1e-3;
  cpu.set_hyperparameters(h);
  gpu.set_hyperparameters(h);
  cpu.set_data(data);
  gpu.set_data({data.X.cuda(), data.Y.cuda()});
  auto Xs = torch::rand({50, 2}, torch::kFloat64);
  auto a = cpu.posterior(Xs), b = gpu.posterior(Xs.cuda());
  CHECK(torch::allclose(b.mean.cpu(), a.mean, 1e-8, 1e-8));
  CHECK(torch::allclose(b.variance.cpu(), a.variance, 1e-8, 1e-8));
}
