// Space campaigns: proposals satisfy the space, find the optimum of a
// smooth function, differ within a batch and from pending ones; save ->
// load -> continue is identical to running on; bad reports change nothing.
#include "core/campaign/space_campaign.h"
#include "core/bo/registry.h"
#include "common/error.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <catch2/catch.hpp>

#include "../../test_util.h"

using namespace sozai;

namespace {

DesignSpace mixed_space() {
  DesignSpace s;
  s.add_continuous("T", 0.0, 1.0).add_composition("c", {"Fe", "Co", "Ni"}).add_categorical("route", {"a", "b"});
  s.add_linear_constraint({{{"T", 1.0}, {"c.Co", 1.0}}, 1.2, false});
  return s;
}

/// Peak at T = 0.6, Co = 0.5, route b.
double objective(const double* c) {
  return -(c[0] - 0.6) * (c[0] - 0.6) - (c[2] - 0.5) * (c[2] - 0.5) + (c[4] == 1.0 ? 0.3 : 0.0);
}

CampaignConfig fast_config(const std::string& acq = "logei", bool maximize = true) {
  CampaignConfig cfg;
  cfg.acquisition.kind = acquisition_info(acq).kind;
  cfg.acquisition.outcomes = {maximize ? Outcome::maximize() : Outcome::minimize()};
  cfg.n_init = 4;
  cfg.acquisition.seed = 5;
  cfg.gp.restarts = 2;
  cfg.acquisition.mc_samples = 64;
  cfg.optimizer.restarts = 3;
  cfg.optimizer.raw_samples = 128;
  cfg.optimizer.max_iter = 40;
  cfg.optimizer.rounds = 2;
  return cfg;
}

void answer(SpaceCampaign& c, const torch::Tensor& picks) {
  std::vector<double> v;
  for (int64_t i = 0; i < picks.size(0); ++i) v.push_back(objective(picks[i].data_ptr<double>()));
  c.tell(picks, torch::tensor(v, torch::kFloat64));
}

}  // namespace

TEST_CASE("a space campaign proposes feasible candidates and finds the optimum", "[campaign][space]") {
  auto s = mixed_space();
  SpaceCampaign c(s, fast_config());
  for (int round = 0; round < 8; ++round) {
    auto picks = c.ask(2).X;
    REQUIRE(picks.size(0) == 2);
    REQUIRE(c.pending().X.size(0) == 2);
    for (int64_t i = 0; i < 2; ++i) CHECK(s.violation(picks[i].data_ptr<double>()).empty());
    CHECK((picks[0] - picks[1]).abs().max().item<double>() > 1e-6);
    answer(c, picks);
    CHECK(c.pending().X.size(0) == 0);
  }
  REQUIRE(c.num_observed() == 16);
  CHECK(c.model() != nullptr);
  CHECK(c.outcome_hyperparameters().size() == 1);
  auto best = c.best();
  CHECK(best.value > 0.3 - 0.02);  // optimum 0.3
  CHECK(c.pareto_front() == std::vector<int64_t>{best.position});
}

TEST_CASE("pending candidates move the next proposal", "[campaign][space]") {
  SpaceCampaign c(mixed_space(), fast_config());
  answer(c, c.ask(5).X);
  auto first = c.ask(1).X;
  auto second = c.ask(1).X;
  CHECK((first - second).abs().max().item<double>() > 1e-6);
  c.cancel(std::vector<double>(first[0].data_ptr<double>(), first[0].data_ptr<double>() + first.size(1)));
  CHECK(c.pending().X.size(0) == 1);
  CHECK_THROWS_AS(c.cancel(std::vector<double>(first[0].data_ptr<double>(),
                                               first[0].data_ptr<double>() + first.size(1))),
                  InputError);
}

TEST_CASE("space campaign: save -> load -> continue equals running on", "[campaign][space]") {
  const auto dir = test::make_temp_dir("space_campaign");
  const auto path = dir + "/state.json";
  for (std::string acq : {"logei", "qlognei"}) {
    INFO(acq);
    SpaceCampaign a(mixed_space(), fast_config(acq));
    answer(a, a.ask(4).X);
    answer(a, a.ask(2).X);
    auto held = a.ask(1).X;  // left pending across the save
    a.save(path);
    auto b = SpaceCampaign::load(path);
    CHECK(b.to_json() == a.to_json());
    CHECK(torch::equal(b.pending().X, held));
    for (int round = 0; round < 2; ++round) {
      auto pa = a.ask(2).X, pb = b.ask(2).X;
      CHECK(torch::equal(pa, pb));
      answer(a, pa);
      answer(b, pb);
    }
    CHECK(torch::equal(a.observed_candidates(), b.observed_candidates()));
  }
}

TEST_CASE("space campaigns over several outcomes keep a feasible Pareto front", "[campaign][space][mo]") {
  DesignSpace s;
  s.add_continuous("x", 0.0, 1.0).add_continuous("y", 0.0, 1.0);
  CampaignConfig cfg = fast_config("qnehvi");
  cfg.acquisition.outcomes = {Outcome::maximize(), Outcome::maximize(), Outcome::at_most("", 1.2)};
  SpaceCampaign c(s, cfg);
  auto report = [&](const torch::Tensor& picks) {
    for (int64_t i = 0; i < picks.size(0); ++i) {
      const double x = picks[i][0].item<double>(), y = picks[i][1].item<double>();
      c.tell_outcomes({x, y}, {x, y, x + y});
    }
  };
  for (int round = 0; round < 4; ++round) report(c.ask(2).X);
  CHECK_THROWS_AS(c.best(), InputError);
  auto front = c.pareto_front();
  REQUIRE_FALSE(front.empty());
  auto Y = c.observed_outcomes();
  for (auto r : front) CHECK(Y[r][2].item<double>() <= 1.2);
  // Once the constraint's GP has seen an infeasible corner, the picks sit
  // on the edge x + y = 1.2 where the front lies.
  auto last = c.observed_outcomes().slice(0, 6);
  INFO(last);
  CHECK((last.select(1, 2) - 1.2).abs().max().item<double>() < 0.1);
  auto back = SpaceCampaign::from_json(c.to_json());
  CHECK(back.pareto_front() == front);
  CHECK(back.outcome_hyperparameters().size() == 3);
}

TEST_CASE("space campaign: bad reports and damaged state are refused clearly", "[campaign][space]") {
  SpaceCampaign c(mixed_space(), fast_config());
  auto picks = c.ask(2).X;
  const auto before = c.to_json();
  using Catch::Matchers::Contains;
  std::vector<double> outside = {2.0, 0.2, 0.3, 0.5, 0.0};
  CHECK_THAT(test::message_of<InputError>([&] { c.tell(outside, 1.0); }), Contains("outside the design space"));
  std::vector<double> ok(picks[0].data_ptr<double>(), picks[0].data_ptr<double>() + 5);
  CHECK_THAT(test::message_of<InputError>([&] { c.tell(ok, std::nan("")); }), Contains("not finite"));
  CHECK_THAT(test::message_of<InputError>([&] { c.tell({0.5, 1.0}, 1.0); }), Contains("needs 5"));
  CHECK_THAT(test::message_of<InputError>([&] {
               c.tell(picks, torch::tensor({1.0, std::nan("")}, torch::kFloat64));
             }),
             Contains("candidate 1"));
  CHECK(c.to_json() == before);  // nothing stored, nothing cleared
  CHECK_THROWS_AS(c.save("/tmp/x.h5"), InputError);

  CampaignConfig gnn = fast_config();
  gnn.surrogate = "gnn";
  CHECK_THROWS_AS(SpaceCampaign(mixed_space(), gnn), InputError);
  CampaignConfig fid = fast_config();
  fid.acquisition.kind = AcquisitionKind::AEI;
  fid.acquisition.fidelity.costs = {1.0, 10.0};
  CHECK_THROWS_AS(SpaceCampaign(mixed_space(), fid), InputError);

  auto text = c.to_json();
  CHECK_THAT(test::message_of<StorageError>([&] { SpaceCampaign::from_json(text.substr(0, text.size() / 2)); }),
             Contains("not valid JSON"));
  auto j = nlohmann::json::parse(text);
  j["observed_value"] = {1.0};
  CHECK_THAT(test::message_of<StorageError>([&] { SpaceCampaign::from_json(j.dump(), "s.json"); }),
             Contains("s.json"));
  j = nlohmann::json::parse(text);
  j["space"]["parameters"][0]["high"] = -1;
  CHECK_THAT(test::message_of<StorageError>([&] { SpaceCampaign::from_json(j.dump(), "s.json"); }),
             Contains("parameters[0]"));
}

TEST_CASE("an equality constraint still gets feasible initial points", "[campaign][space]") {
  DesignSpace s;
  s.add_continuous("a", 0.0, 1.0).add_continuous("b", 0.0, 1.0);
  LinearConstraint eq{{{"a", 1.0}, {"b", 2.0}}, 1.0, true, 1e-9};
  s.add_linear_constraint(eq);
  SpaceCampaign c(s, fast_config("logei", false));
  auto picks = c.ask(3).X;
  REQUIRE(picks.size(0) == 3);
  for (int64_t i = 0; i < 3; ++i) CHECK(s.violation(picks[i].data_ptr<double>()).empty());
}

TEST_CASE("a minimising space campaign minimises", "[campaign][space]") {
  // Without outcomes the direction is the campaign's (this once maximised).
  DesignSpace s;
  s.add_continuous("x", 0.0, 1.0);
  SpaceCampaign c(s, fast_config("logei", false));
  for (int round = 0; round < 6; ++round) {
    auto picks = c.ask(1).X;
    const double x = picks[0][0].item<double>();
    c.tell({x}, (x - 0.3) * (x - 0.3));
  }
  CHECK(c.best().value < 0.01);
  CHECK(std::fabs(c.observed_candidates()[5][0].item<double>() - 0.3) < 0.1);
}

TEST_CASE("with many results, asks between full refits keep the hyperparameters", "[campaign][space]") {
  DesignSpace s;
  s.add_continuous("x", 0.0, 1.0).add_continuous("y", 0.0, 1.0);
  auto run = [&](int64_t keep_from) {
    CampaignConfig cfg = fast_config();
    cfg.n_init = 30;
    cfg.refit.full_refit_every = 100;
    cfg.refit.keep_hyperparameters_from = keep_from;
    SpaceCampaign c(s, cfg);
    auto X = c.ask(30).X;
    c.tell(X, -(X - 0.4).pow(2).sum(1));
    std::vector<GPHyperparameters> hs;
    for (int round = 0; round < 3; ++round) {
      auto p = c.ask(1).X;
      c.tell(p, -(p - 0.4).pow(2).sum(1));
      hs.push_back(c.outcome_hyperparameters()[0]);
    }
    return hs;
  };
  auto kept = run(31);     // the first model ask (30 results) fits; the next two only condition
  CHECK(kept[1].lengthscale == kept[0].lengthscale);
  CHECK(kept[2].noise == kept[0].noise);
  auto refit = run(1000);  // below the threshold every ask refits from the last values
  CHECK(refit[1].lengthscale != refit[0].lengthscale);
}

// ------------------------------------------------------------ priors

namespace {

/// An earlier campaign over the same chemistry, measured on another scale,
/// its columns in another order and named as a lab would (natural units).
Prior space_prior(const DesignSpace& s, double scale = 3.0, bool permute_outcomes = false) {
  auto raw = s.sample(300, 17);
  std::vector<double> y;
  for (int64_t i = 0; i < raw.size(0); ++i) y.push_back(scale * objective(raw[i].data_ptr<double>()) + 10.0);
  auto Y = torch::tensor(y, torch::kFloat64);
  if (permute_outcomes) Y = Y.index_select(0, torch::randperm(Y.size(0), at::TensorOptions().dtype(torch::kInt64)));
  auto natural = natural_table(s, raw);  // T, Fe, Co, Ni, route=a, route=b
  auto X = natural.index_select(1, torch::tensor({3, 5, 0, 2, 1, 4}, torch::kInt64));
  return Prior(X, Y, {"Ni", "route=b", "T", "Co", "Fe", "route=a"}, true, "earlier-plate");
}

}  // namespace

TEST_CASE("a space campaign with a prior starts where the prior's model is best", "[campaign][space][prior]") {
  auto s = mixed_space();
  auto cfg = fast_config();
  SpaceCampaign c(s, {space_prior(s)}, cfg);
  CHECK(c.columns() == std::vector<std::string>{"T", "Fe", "Co", "Ni", "route=a", "route=b"});
  auto pick = c.ask(1).X;
  REQUIRE(s.violation(pick[0].data_ptr<double>()).empty());
  // Among the best tenth of the space: random starts land there one time in ten.
  auto sample = s.sample(2000, 99);
  std::vector<double> v;
  for (int64_t i = 0; i < sample.size(0); ++i) v.push_back(objective(sample[i].data_ptr<double>()));
  std::sort(v.begin(), v.end());
  CHECK(objective(pick[0].data_ptr<double>()) > v[static_cast<size_t>(0.9 * v.size())]);

  // With transfer.initial "random" the first asks are the plain campaign's Sobol points.
  auto rcfg = cfg;
  rcfg.transfer.initial = "random";
  SpaceCampaign r(s, {space_prior(s)}, rcfg), plain(s, cfg);
  CHECK(torch::allclose(r.ask(2).X, plain.ask(2).X));
}

TEST_CASE("a space campaign with a prior asks through the transfer model, saves the prior's digest and continues "
          "identically after load",
          "[campaign][space][prior]") {
  auto s = mixed_space();
  auto cfg = fast_config();
  cfg.transfer.method = "residual";
  SpaceCampaign c(s, {space_prior(s)}, cfg);
  for (int i = 0; i < 3; ++i) answer(c, c.ask(2).X);
  CHECK(c.transfer_summary().value("chosen", std::string()) == "residual");
  auto last = c.observed_candidates();
  for (int64_t i = 0; i < last.size(0); ++i) CHECK(s.violation(last[i].data_ptr<double>()).empty());

  auto loaded = SpaceCampaign::from_json(c.to_json(), "saved.json");
  REQUIRE(loaded.prior_records().size() == 1);
  CHECK(loaded.prior_records()[0]["digest"] == space_prior(s).digest());
  CHECK_THROWS_WITH(loaded.ask(1), Catch::Contains("attach_priors"));
  CHECK_THROWS_WITH(loaded.attach_priors({space_prior(s, 4.0)}), Catch::Contains("is not the table"));
  loaded.attach_priors({space_prior(s)});
  auto a = c.ask(1).X, b = loaded.ask(1).X;
  CHECK(torch::allclose(a, b, 0.0, 1e-12));
  answer(c, a);
  answer(loaded, b);
  CHECK(loaded.to_json() == c.to_json());
}

TEST_CASE("a space campaign refuses priors it cannot use", "[campaign][space][prior]") {
  auto s = mixed_space();
  Prior unrelated(torch::rand({5, 1}, torch::kFloat64), torch::rand({5}, torch::kFloat64), {"pressure"}, true, "other");
  CHECK_THROWS_WITH(SpaceCampaign(s, {unrelated}, fast_config()), Catch::Contains("other"));
  auto weighted = fast_config();
  weighted.transfer.prior_belief = 5.0;  // piBO weighs a pool's rows
  CHECK_THROWS_WITH(SpaceCampaign(s, {space_prior(s)}, weighted), Catch::Contains("prior_belief") &&
                                                                      Catch::Contains("pool campaign"));
  auto two = fast_config();
  two.acquisition.kind = acquisition_info("qlognehvi").kind;
  two.acquisition.outcomes = {Outcome::maximize(), Outcome::maximize()};
  two.acquisition.ref_point = {0.0, 0.0};
  CHECK_THROWS_WITH(SpaceCampaign(s, {space_prior(s)}, two), Catch::Contains("one outcome"));
}

TEST_CASE("a space campaign's ask says what the model predicted for its picks", "[campaign][space]") {
  auto s = mixed_space();
  SpaceCampaign c(s, fast_config());
  auto first = c.ask(4);  // n_init = 4: random picks
  CHECK_FALSE(first.mean.defined());
  answer(c, first.X);
  auto picks = c.ask(2);
  REQUIRE(picks.mean.sizes() == torch::IntArrayRef({2, 1}));
  REQUIRE(picks.acquisition.sizes() == torch::IntArrayRef({2}));
  auto post = c.model()->posterior(s.encode(picks.X));
  CHECK(torch::allclose(picks.mean, post.mean.reshape({2, 1}), 1e-12, 1e-12));
  CHECK(torch::allclose(picks.variance, post.variance.reshape({2, 1}), 1e-12, 1e-12));
  CHECK(torch::isfinite(picks.acquisition).all().item<bool>());
}
