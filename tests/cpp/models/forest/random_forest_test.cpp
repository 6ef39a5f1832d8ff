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

// Sparse inputs (element shares: mostly zeros, features constant deep in the
// tree) take the split search's short cuts: rows at a node's lowest value are
// not sorted and a feature constant in a node is skipped in its children.
// A fully grown tree without bootstrap must still fit every distinct row.
TEST_CASE("a random forest grown on sparse inputs fits them exactly", "[forest]") {
  torch::manual_seed(3);
  const int64_t n = 300, d = 12;
  auto X = torch::rand({n, d}, torch::kFloat64) * (torch::rand({n, d}, torch::kFloat64) < 0.2);
  auto y = X.matmul(torch::linspace(-1.0, 2.0, d, torch::kFloat64)) + (X.select(1, 3) > 0).to(torch::kFloat64);
  RandomForestConfig c;
  c.bootstrap = false;
  c.trees = 3;
  for (double mf : {1.0, 0.3}) {
    c.max_features = mf;
    RandomForest rf(c);
    rf.fit({X, y});
    CHECK(torch::allclose(rf.posterior(X).mean.reshape({-1}), y, 1e-9, 1e-9));
  }
  // A step on one sparse feature (zero or not) is found, and the prediction
  // elsewhere is the mean of each side.
  auto step = (X.select(1, 5) > 0).to(torch::kFloat64) * 4.0;
  RandomForest rs(c);
  rs.fit({X, step});
  auto q = torch::zeros({2, d}, torch::kFloat64);
  q[1][5] = 0.5;
  auto p = rs.posterior(q).mean.reshape({-1});
  CHECK(p[0].item<double>() == Approx(0.0).margin(1e-9));
  CHECK(p[1].item<double>() == Approx(4.0).margin(1e-9));
  // Constant targets: one leaf per tree.
  RandomForest flat(c);
  flat.fit({X, torch::full({n}, 2.5, torch::kFloat64)});
  CHECK(torch::allclose(flat.posterior(X).mean.reshape({-1}), torch::full({n}, 2.5, torch::kFloat64)));
}
