// Transfer surrogates: leave-one-out against brute force, ranking loss,
// RGPE weights (a permuted source goes to zero, a rescaled related one
// does not), the residual GP's learnt scale and offset, the multi-task
// variant, and auto's choice.
#include "common/error.h"
#include "models/gp/exact_gp.h"
#include "models/gp/transfer.h"
#include "models/forest/random_forest.h"

#include <catch2/catch.hpp>

#include "../../test_util.h"

using namespace sozai;

namespace {

torch::Tensor f(const torch::Tensor& x) { return torch::sin(6 * x.select(1, 0)) + x.select(1, 0); }

torch::Tensor lo1() { return torch::zeros({1}, torch::kFloat64); }
torch::Tensor hi1() { return torch::ones({1}, torch::kFloat64); }

/// A source on 60 points of [0, 1]: a * f + b, or f with its outcomes permuted.
TransferSource source(const std::string& name, double a, double b, bool permute, int64_t seed) {
  torch::manual_seed(seed);
  auto x = torch::rand({60, 1}, torch::kFloat64);
  auto y = a * f(x) + b + 0.01 * torch::randn({60}, torch::kFloat64);
  if (permute) y = y.index_select(0, torch::randperm(60, torch::kInt64));
  return {name, x, y};
}

Dataset target_data(int64_t n, int64_t seed) {
  torch::manual_seed(seed);
  auto x = torch::rand({n, 1}, torch::kFloat64);
  return {x, f(x) + 0.01 * torch::randn({n}, torch::kFloat64)};
}

double mae(const Surrogate& m, const torch::Tensor& x) {
  return (m.posterior(x).mean.reshape({-1}) - f(x)).abs().mean().item<double>();
}

std::vector<std::shared_ptr<const Surrogate>> gps_of(const std::vector<TransferSource>& s) {
  TransferConfig tc;
  tc.source_model = "gp";
  return fit_source_models(s, ExactGPConfig{}, tc, torch::Tensor(), lo1(), hi1(), 3);
}

}  // namespace

TEST_CASE("ranking_loss counts discordant pairs, ties as one half", "[gp][transfer]") {
  auto y = torch::tensor({1.0, 2.0, 3.0, 4.0}, torch::kFloat64);
  CHECK(ranking_loss(y, y) == 0.0);
  CHECK(ranking_loss(-y, y) == 1.0);
  CHECK(ranking_loss(torch::zeros({4}, torch::kFloat64), y) == 0.5);
  CHECK(ranking_loss(torch::tensor({1.0, 2.0, 4.0, 3.0}, torch::kFloat64), y) == Approx(1.0 / 6.0));
  CHECK(ranking_loss(torch::tensor({1.0}, torch::kFloat64), torch::tensor({5.0}, torch::kFloat64)) == 0.0);
  CHECK_THROWS_AS(ranking_loss(y, y.slice(0, 0, 3)), InputError);
}

TEST_CASE("ExactGP leave-one-out predictions equal refitting without each point", "[gp][transfer]") {
  auto d = target_data(12, 5);
  ExactGP gp;
  gp.fit(d);
  auto loo = gp.loo_latent();
  auto z = gp.train_targets();
  auto K = gp.prior_covariance(d.X, d.X) + gp.latent_noise() * torch::eye(12, torch::kFloat64);
  for (int64_t i = 0; i < 12; ++i) {
    std::vector<int64_t> rest;
    for (int64_t j = 0; j < 12; ++j)
      if (j != i) rest.push_back(j);
    auto r = torch::tensor(rest, torch::kInt64);
    auto Krr = K.index_select(0, r).index_select(1, r);
    auto kir = K[i].index_select(0, r);
    auto w = at::linalg_solve(Krr, kir.unsqueeze(1)).squeeze(1);
    const double mean = (w * z.index_select(0, r)).sum().item<double>();
    const double var = (K[i][i] - gp.latent_noise() - (w * kir).sum()).item<double>();
    CHECK(loo.mean[i][0].item<double>() == Approx(mean).margin(1e-6));
    CHECK(loo.variance[i][0].item<double>() == Approx(var).margin(1e-6));
  }
}

TEST_CASE("nearest_rows keeps the source rows closest to the candidates", "[gp][transfer]") {
  auto S = torch::tensor({0.0, 0.5, 1.0, 2.0, 3.0}, torch::kFloat64).unsqueeze(1);
  auto C = torch::tensor({2.1, 0.45}, torch::kFloat64).unsqueeze(1);
  auto w = torch::ones({1}, torch::kFloat64);
  CHECK(nearest_rows(S, C, w, 2, 0) == std::vector<int64_t>{1, 3});
  CHECK(nearest_rows(S, C, w, 10, 0).size() == 5);
  auto r = nearest_rows(S, torch::Tensor(), w, 3, 7);  // no candidates: a seeded random subset
  CHECK(r.size() == 3);
  CHECK(r == nearest_rows(S, torch::Tensor(), w, 3, 7));
}

TEST_CASE("nearest_rows with neighbours keeps each candidate's nearest rows, best rank first", "[gp][transfer]") {
  // Candidates at 0 and 10; source rows around both, and one far away.
  auto S = torch::tensor({0.1, 0.3, 9.8, 50.0, -0.2, 10.5, 0.9, 11.0}, torch::kFloat64).unsqueeze(1);
  auto C = torch::tensor({0.0, 10.0}, torch::kFloat64).unsqueeze(1);
  auto w = torch::ones({1}, torch::kFloat64);
  // 1 neighbour each: rows 0 (0.1 from 0) and 2 (0.2 from 10), nearer first.
  CHECK(nearest_rows(S, C, w, 7, 0, 1) == std::vector<int64_t>{0, 2});
  // 2 each: rank 0 rows, then rank 1 rows (4: 0.2 from 0; 5: 0.5 from 10).
  CHECK(nearest_rows(S, C, w, 7, 0, 2) == std::vector<int64_t>{0, 2, 4, 5});
  CHECK(nearest_rows(S, C, w, 3, 0, 2) == std::vector<int64_t>{0, 2, 4});  // at most m
  // The far row is in nobody's neighbourhood until k reaches it.
  auto all = nearest_rows(S, C, w, 7, 0, 4);
  CHECK(std::find(all.begin(), all.end(), 3) == all.end());
  CHECK(all.size() == 7);
  // A column scaled by its width: the same rows when everything is scaled.
  CHECK(nearest_rows(S * 3.0, C * 3.0, w * 3.0, 7, 0, 2) == std::vector<int64_t>{0, 2, 4, 5});
  TransferConfig bad;
  bad.neighbours = -1;
  CHECK_THROWS_AS(bad.validate(), InputError);
}

TEST_CASE("RGPE weights a permuted source down to zero and keeps a rescaled related one", "[gp][transfer]") {
  std::vector<TransferSource> sources = {source("related", 3.0, 10.0, false, 1), source("permuted", 1.0, 0.0, true, 2)};
  auto gps = gps_of(sources);
  auto target = std::make_shared<ExactGP>();
  target->set_input_bounds(lo1(), hi1());
  RankingWeightedGP rgpe(gps, target, 256, 0);
  rgpe.fit(target_data(10, 11));
  const auto& w = rgpe.weights();
  REQUIRE(w.size() == 3);
  CHECK(w[0] + w[1] + w[2] == Approx(1.0));
  CHECK(w[1] == 0.0);   // the permuted source ranks the target's results badly
  CHECK(w[0] > 0.3);    // the related one ranks them well whatever its scale
  // Predictions follow the weights: better than the target GP alone on few points.
  auto xs = torch::linspace(0, 1, 101, torch::kFloat64).unsqueeze(1);
  auto small = target_data(4, 12);
  auto t2 = std::make_shared<ExactGP>();
  t2->set_input_bounds(lo1(), hi1());
  RankingWeightedGP few(gps, t2, 256, 0);
  few.fit(small);
  ExactGP alone;
  alone.set_input_bounds(lo1(), hi1());
  alone.fit(small);
  const auto zs = few.latent_posterior(xs).mean.reshape({-1});
  CHECK(ranking_loss(zs, f(xs)) < ranking_loss(alone.latent_posterior(xs).mean, f(xs)));
  // The covariance agrees with the variance.
  auto C = few.latent_covariance(xs.slice(0, 0, 5), xs.slice(0, 0, 5));
  CHECK(torch::allclose(C.diagonal(), few.latent_posterior(xs.slice(0, 0, 5)).variance.reshape({-1}), 1e-6, 1e-8));
}

TEST_CASE("the residual GP learns a related prior's scale and offset and ignores an unrelated one",
          "[gp][transfer]") {
  auto related = gps_of({source("related", 1.0, 0.0, false, 1)});
  auto xs = torch::linspace(0, 1, 101, torch::kFloat64).unsqueeze(1);
  // Target: 3 f - 2 on 6 points.
  auto d = target_data(6, 21);
  d.Y = 3.0 * d.Y - 2.0;
  ResidualGP r({related[0]}, ExactGPConfig{});
  r.residual().set_input_bounds(lo1(), hi1());
  r.fit(d);
  auto b = r.coefficients();
  CHECK(b.size(0) == 2);
  CHECK(b[1].item<double>() > 0.5);  // a positive scale on the prior, in standardised units
  ExactGP alone;
  alone.set_input_bounds(lo1(), hi1());
  alone.fit(d);
  auto err = [&](const Surrogate& m) {
    return (m.posterior(xs).mean.reshape({-1}) - (3.0 * f(xs) - 2.0)).abs().mean().item<double>();
  };
  CHECK(err(r) < 0.5 * err(alone));
  auto C = r.latent_covariance(xs.slice(0, 0, 4), xs.slice(0, 0, 4));
  CHECK(torch::allclose(C.diagonal(), r.latent_posterior(xs.slice(0, 0, 4)).variance.reshape({-1}), 1e-6, 1e-8));
  CHECK(r.loo_mean().size(0) == 6);

  // An unrelated prior (permuted) gets a small coefficient and the model
  // stays close to the target GP alone on plenty of data.
  auto unrelated = gps_of({source("permuted", 1.0, 0.0, true, 2)});
  auto many = target_data(25, 22);
  ResidualGP u({unrelated[0]}, ExactGPConfig{});
  u.residual().set_input_bounds(lo1(), hi1());
  u.fit(many);
  CHECK(std::abs(u.coefficients()[1].item<double>()) < 0.3);
  ExactGP plain;
  plain.set_input_bounds(lo1(), hi1());
  plain.fit(many);
  CHECK(mae(u, xs) < 1.5 * mae(plain, xs) + 0.02);
}

TEST_CASE("the multi-task transfer GP lends a related source's strength to the target", "[gp][transfer]") {
  std::vector<TransferSource> sources = {source("related", -2.0, 4.0, false, 1)};  // anti-scaled: a negative task correlation
  MultiTaskGPConfig mc;
  MultiTaskTransferGP mt(sources, mc, lo1(), hi1());
  auto d = target_data(5, 31);
  mt.fit(d);
  ExactGP alone;
  alone.set_input_bounds(lo1(), hi1());
  alone.fit(d);
  auto xs = torch::linspace(0, 1, 101, torch::kFloat64).unsqueeze(1);
  CHECK(mae(mt, xs) < 0.6 * mae(alone, xs));
  CHECK(mt.model().task_correlation(0, 1) < -0.5);
  CHECK(mt.loo_mean().size(0) == 5);
  auto z = mt.transform_outcome(d.Y);
  CHECK(torch::allclose(mt.untransform_outcome(z), d.Y, 1e-9, 1e-9));
}

TEST_CASE("TransferGP by name and auto; settings are validated", "[gp][transfer]") {
  std::vector<TransferSource> related = {source("related", 3.0, 10.0, false, 1)};
  auto gps = gps_of(related);
  auto d = target_data(8, 41);
  for (const std::string method : {"none", "rgpe", "residual", "mtgp", "auto"}) {
    TransferConfig tc;
    tc.method = method;
    TransferGP t(tc, ExactGPConfig{}, related, gps, lo1(), hi1(), 0);
    t.fit(d);
    if (method != "auto") CHECK(t.chosen() == method);
    auto p = t.posterior(d.X);
    CHECK(torch::isfinite(p.mean).all().item<bool>());
    CHECK(t.summary()["chosen"] == t.chosen());
  }
  TransferConfig tc;
  TransferGP t(tc, ExactGPConfig{}, related, gps, lo1(), hi1(), 0);
  t.fit(d);
  CHECK(t.chosen() != "none");  // a related source ranks the target's results better than its own 8 points
  CHECK(t.ranking_losses().count("none") == 1);
  CHECK(t.ranking_losses().at(t.chosen()) <= t.ranking_losses().at("none"));

  // A permuted source: auto falls back to no transfer, or to an RGPE that
  // gives the source no weight.
  std::vector<TransferSource> permuted = {source("permuted", 1.0, 0.0, true, 2)};
  TransferGP p(tc, ExactGPConfig{}, permuted, gps_of(permuted), lo1(), hi1(), 0);
  p.fit(target_data(20, 42));
  if (p.chosen() == "rgpe") CHECK(p.rgpe_weights()[0] < 0.2);
  else CHECK((p.chosen() == "none" || p.chosen() == "residual"));

  TransferConfig bad;
  bad.method = "magic";
  CHECK_THROWS_WITH(bad.validate("settings: transfer"),
                    Catch::Contains("unknown transfer method 'magic'") && Catch::Contains("rgpe"));
  bad.method = "auto";
  bad.auto_methods = {"none"};
  CHECK_THROWS_AS(bad.validate(), InputError);
}

TEST_CASE("auto fits its residual GP beside the target GP; the models equal those fitted alone", "[gp][transfer]") {
  std::vector<TransferSource> related = {source("related", 3.0, 10.0, false, 1)};
  auto gps = gps_of(related);
  auto d = target_data(12, 43);
  auto x = torch::linspace(0, 1, 41, torch::kFloat64).unsqueeze(1);
  auto fitted = [&](const std::string& method) {
    TransferConfig tc;
    tc.method = method;
    if (method == "auto") tc.auto_methods = {"rgpe", "residual"};
    auto t = std::make_shared<TransferGP>(tc, ExactGPConfig{}, related, gps, lo1(), hi1(), 7);
    t->fit(d);
    return t;
  };
  auto both = fitted("auto");
  auto residual = fitted("residual");
  auto rgpe = fitted("rgpe");
  // Bit for bit: each model seeds its own draws, whichever thread fits it.
  CHECK(both->summary()["residual_coefficients"] == residual->summary()["residual_coefficients"]);
  CHECK(both->summary()["rgpe_weights"] == rgpe->summary()["rgpe_weights"]);
  const auto& chosen = both->chosen() == "residual" ? *residual : both->chosen() == "rgpe" ? *rgpe : *both;
  if (both->chosen() != "none") CHECK(torch::equal(both->posterior(x).mean, chosen.posterior(x).mean));
}

TEST_CASE("a source GP ignores the inputs its data never vary", "[gp][transfer]") {
  // The source knows x0 only (x1 is always 0: an element it lacks).
  torch::manual_seed(3);
  auto x0 = torch::rand({40, 1}, torch::kFloat64);
  auto X = torch::cat({x0, torch::zeros({40, 1}, torch::kFloat64)}, 1);
  TransferSource s{"one-element", X, f(x0)};
  TransferConfig tc;
  tc.source_model = "gp";
  auto lo = torch::zeros({2}, torch::kFloat64), hi = torch::ones({2}, torch::kFloat64);
  auto gps = fit_source_models({s}, ExactGPConfig{}, tc, torch::Tensor(), lo, hi, 0);
  auto gp = std::dynamic_pointer_cast<const ExactGP>(gps[0]);
  REQUIRE(gp);
  CHECK(gp->hyperparameters().lengthscale[1] == ExactGPConfig{}.lengthscale_max);
  // A target row that varies x1 is predicted from x0 alone, as confidently as at x1 = 0.
  auto at0 = torch::tensor({{0.3, 0.0}, {0.7, 0.0}}, torch::kFloat64);
  auto at1 = torch::tensor({{0.3, 0.9}, {0.7, 0.9}}, torch::kFloat64);
  auto a = gps[0]->latent_posterior(at0), b = gps[0]->latent_posterior(at1);
  CHECK(torch::allclose(a.mean, b.mean, 1e-6, 1e-6));
  CHECK(torch::allclose(a.variance, b.variance, 1e-6, 1e-6));
}

TEST_CASE("a tabulated model answers its rows from the table and any other row from the model", "[gp][transfer]") {
  torch::manual_seed(5);
  auto X = torch::rand({60, 3}, torch::kFloat64);
  auto y = X.select(1, 0) * 2.0 - X.select(1, 2);
  auto forest = std::make_shared<RandomForest>();
  forest->fit({X, y});
  auto rows = torch::rand({40, 3}, torch::kFloat64);
  TabulatedModel tab(forest, rows);
  auto other = torch::rand({5, 3}, torch::kFloat64);
  // Table rows, other rows and a mix in any order: the model's own answers
  // (up to the rounding of its mean over trees, which may depend on how
  // many rows it is asked at once).
  auto mixed = torch::cat({rows.slice(0, 10, 13), other, rows.slice(0, 0, 2)});
  for (const auto& Q : {rows, other, mixed}) {
    auto a = tab.latent_posterior(Q), b = forest->latent_posterior(Q);
    CHECK(a.mean.sizes() == b.mean.sizes());
    CHECK(torch::allclose(a.mean, b.mean, 1e-12, 1e-12));
    CHECK(torch::allclose(a.variance, b.variance, 1e-12, 1e-12));
  }
  CHECK(torch::equal(tab.posterior(mixed).mean, forest->posterior(mixed).mean));
  CHECK(torch::equal(tab.latent_covariance(mixed, rows), forest->latent_covariance(mixed, rows)));
  CHECK(tab.name() == forest->name());
  CHECK_THROWS_AS(tab.fit({X, y}), InputError);
}
