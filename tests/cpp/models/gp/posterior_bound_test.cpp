// PosteriorBound: its mean interval and variance bound enclose the GP's own
// posterior (latent_posterior_direct and latent_posterior) at every point,
// for both kernels, rough and smooth hyperparameters, tiny and large noise
// and every rank; with more pivots the bounds only tighten in practice.

#include "common/error.h"
#include "models/gp/exact_gp.h"
#include "models/gp/posterior_bound.h"

#include <ATen/ATen.h>

#include <cmath>
#include <catch2/catch.hpp>

using namespace sozai;

namespace {

ExactGP conditioned(const std::string& kernel, double ls, double os, double noise, int64_t n, int64_t d,
                    uint64_t seed) {
  torch::manual_seed(seed);
  auto X = torch::rand({n, d}, torch::kFloat64);
  auto y = torch::sin(3.0 * X.select(1, 0)) + X.select(1, d - 1).pow(2) + 0.05 * torch::randn({n}, torch::kFloat64);
  ExactGPConfig c;
  c.kernel = kernel;
  c.outcome_transform = "standardize";
  ExactGP gp(c);
  gp.set_input_bounds(torch::zeros({d}, torch::kFloat64), torch::ones({d}, torch::kFloat64));
  GPHyperparameters h;
  h.lengthscale.assign(static_cast<size_t>(d), ls);
  h.outputscale = os;
  h.noise = noise;
  gp.set_hyperparameters(h);
  gp.set_data(Dataset{X, y});
  return gp;
}

}  // namespace

TEST_CASE("PosteriorBound encloses the exact latent posterior", "[gp][bound]") {
  for (const char* kernel : {"matern52", "rbf"})
    for (double ls : {0.15, 1.0, 12.0})
      for (double noise : {1e-6, 1e-3, 0.2})
        for (double os : {1.0, 1e4}) {
          auto gp = conditioned(kernel, ls, os, noise, 120, 4, 7);
          torch::manual_seed(11);
          // Inside the data's box and beyond it.
          auto Xq = torch::rand({1500, 4}, torch::kFloat64) * 1.6 - 0.3;
          auto exact = gp.latent_posterior_direct(Xq);
          auto mean = exact.mean.reshape({-1}), var = exact.variance.reshape({-1});
          auto other = gp.latent_posterior(Xq);
          for (int64_t rank : {1, 5, 32, 120}) {
            INFO(kernel << " lengthscale " << ls << " noise " << noise << " outputscale " << os << " rank " << rank);
            PosteriorBound b(gp, rank);
            REQUIRE(b.rank() >= 1);
            REQUIRE(b.rank() <= rank);
            torch::Tensor lo, hi, vh;
            b(Xq, &lo, &hi, &vh);
            CHECK((lo <= mean).all().item<bool>());
            CHECK((mean <= hi).all().item<bool>());
            CHECK((var <= vh).all().item<bool>());
            CHECK((other.mean.reshape({-1}) >= lo).all().item<bool>());
            CHECK((other.mean.reshape({-1}) <= hi).all().item<bool>());
            CHECK((other.variance.reshape({-1}) <= vh).all().item<bool>());
          }
        }
}

TEST_CASE("PosteriorBound tightens with pivots and pins the mean on the data", "[gp][bound]") {
  auto gp = conditioned("matern52", 2.0, 1.0, 1e-3, 150, 3, 3);
  torch::manual_seed(5);
  auto Xq = torch::rand({3000, 3}, torch::kFloat64);
  torch::Tensor lo4, hi4, v4, lo32, hi32, v32, lo_all, hi_all, v_all;
  PosteriorBound(gp, 4)(Xq, &lo4, &hi4, &v4);
  PosteriorBound(gp, 32)(Xq, &lo32, &hi32, &v32);
  CHECK((hi32 - lo32).mean().item<double>() < (hi4 - lo4).mean().item<double>());
  CHECK(v32.mean().item<double>() < v4.mean().item<double>());
  // With every point a pivot (or spanned to rounding), the mean is pinned at the data.
  const auto X = gp.train_inputs();  // normalised to the unit box = the raw inputs here
  PosteriorBound all(gp, 150);
  all(X, &lo_all, &hi_all, &v_all);
  auto exact = gp.latent_posterior_direct(X);
  const double spread = (exact.mean.max() - exact.mean.min()).item<double>();
  CHECK((hi_all - lo_all).max().item<double>() < 1e-3 * spread);
}

TEST_CASE("PosteriorBound on its first pivots is a looser bound that still encloses", "[gp][bound]") {
  // The screen's first pass: the factors are nested, so the first q pivots of a rank-48 bound are the bound a
  // rank-q PosteriorBound would build, to rounding.
  for (const char* kernel : {"matern52", "rbf"}) {
    auto gp = conditioned(kernel, 0.8, 2.0, 1e-4, 160, 5, 9);
    torch::manual_seed(13);
    auto Xq = torch::rand({2000, 5}, torch::kFloat64) * 1.2 - 0.1;
    auto exact = gp.latent_posterior_direct(Xq);
    auto mean = exact.mean.reshape({-1}), var = exact.variance.reshape({-1});
    PosteriorBound all(gp, 48);
    REQUIRE(all.rank() == 48);
    torch::Tensor lo, hi, vh;
    all(Xq, &lo, &hi, &vh);
    for (int64_t q : {1, 7, 16, 47}) {
      INFO(kernel << " first " << q << " pivots");
      torch::Tensor l, h, v, l_own, h_own, v_own;
      all(Xq, &l, &h, &v, q);
      CHECK((l <= mean).all().item<bool>());
      CHECK((mean <= h).all().item<bool>());
      CHECK((var <= v).all().item<bool>());
      // Looser than all 48 on average (rounding aside, at every point).
      CHECK((h - l).mean().item<double>() > (hi - lo).mean().item<double>());
      CHECK((v >= vh - 1e-9 * 2.0).all().item<bool>());
      PosteriorBound own(gp, q);
      own(Xq, &l_own, &h_own, &v_own);
      CHECK(torch::allclose(l, l_own, 1e-6, 1e-9));
      CHECK(torch::allclose(h, h_own, 1e-6, 1e-9));
      CHECK(torch::allclose(v, v_own, 1e-6, 1e-9));
    }
    // 0 and more pivots than there are: all of them.
    torch::Tensor l0, h0, v0, lbig, hbig, vbig;
    all(Xq, &l0, &h0, &v0, 0);
    all(Xq, &lbig, &hbig, &vbig, 1000);
    CHECK(torch::equal(l0, lo));
    CHECK(torch::equal(hbig, hi));
    CHECK(torch::equal(vbig, vh));
  }
}

TEST_CASE("PosteriorBound refuses a GP without data", "[gp][bound]") {
  ExactGP gp;
  CHECK_THROWS_AS(PosteriorBound(gp, 8), Error);
}
