// Random forest: fits a step function exactly, extrapolates flat, spreads
// its trees where the data disagree, and its covariance matches its variance.
#include "common/error.h"
#include "models/forest/random_forest.h"

#include <catch2/catch.hpp>

using namespace sozai;

TEST_CASE("a random forest fits, extrapolates flat and reports its trees' spread", "[forest]") {
  torch::manual_seed(1);
  auto x = torch::rand({200, 2}, torch::kFloat64);
  auto y = torch::where(x.select(1, 0) > 0.5, torch::full({200}, 3.0, torch::kFloat64),
                        torch::full({200}, -1.0, torch::kFloat64));
  RandomForest rf;
  rf.fit({x, y});
  auto q = torch::tensor({{0.2, 0.5}, {0.8, 0.5}, {5.0, 0.5}, {-5.0, 0.5}}, torch::kFloat64);
  auto p = rf.posterior(q);
  CHECK(p.mean[0][0].item<double>() == Approx(-1.0).margin(0.05));
  CHECK(p.mean[1][0].item<double>() == Approx(3.0).margin(0.05));
  CHECK(p.mean[2][0].item<double>() == Approx(3.0).margin(0.05));   // flat beyond the data
  CHECK(p.mean[3][0].item<double>() == Approx(-1.0).margin(0.05));
  CHECK(rf.latent_noise() < 0.05);                                  // out-of-bag error of a clean step
  auto C = rf.latent_covariance(q, q);
  CHECK(torch::allclose(C.diagonal(), rf.latent_posterior(q).variance.reshape({-1}), 1e-9, 1e-9));
  CHECK(rf.tree_predictions(q).size(0) == 100);

  // Noisy targets: trees disagree, so the variance is larger.
  auto noisy = y + torch::randn({200}, torch::kFloat64);
  RandomForest rn;
  rn.fit({x, noisy});
  CHECK(rn.latent_posterior(q).variance.mean().item<double>() > rf.latent_posterior(q).variance.mean().item<double>());
  // Seeded: the same forest twice.
  RandomForest again;
  again.fit({x, noisy});
  CHECK(torch::equal(again.tree_predictions(q), rn.tree_predictions(q)));
  CHECK_THROWS_AS(rf.fit({x, y.slice(0, 0, 10)}), InputError);
  RandomForestConfig bad;
  bad.max_features = 0.0;
  CHECK_THROWS_AS(RandomForest(bad), InputError);
}

TEST_CASE("a random forest splits between adjacent doubles without looping", "[forest]") {
  const double a = 0.1, b = std::nextafter(0.1, 1.0);
  auto x = torch::tensor({a, b, a, b, a, b}, torch::kFloat64).unsqueeze(1);
  auto y = torch::tensor({0.0, 1.0, 0.0, 1.0, 0.0, 1.0}, torch::kFloat64);
  RandomForestConfig c;
  c.bootstrap = false;
  RandomForest rf(c);
  rf.fit({x, y});
  auto p = rf.posterior(x).mean.reshape({-1});
  CHECK(torch::allclose(p, y, 1e-9, 1e-9));
}
