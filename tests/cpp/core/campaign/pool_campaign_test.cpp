// Pool campaigns: proposals never repeat observed or pending rows, batches
// differ, save -> load -> continue is identical to running on, and bad
// reports change nothing.

#include "core/campaign/pool_campaign.h"
#include "core/bo/registry.h"
#include "common/build_info.h"
#include "common/error.h"

#include <cstdio>
#include <fstream>
#include <set>
// Catch2 last: torch headers may pull in glog, whose CHECK must not win.
#include <catch2/catch.hpp>

using namespace sozai;

namespace {

struct Pool {
  torch::Tensor X, y;
};

Pool make_pool(int64_t n = 150, uint64_t seed = 0) {
  torch::manual_seed(seed);
  auto X = torch::rand({n, 3}, torch::kFloat64);
  auto y = -(X.select(1, 0) - 0.7).pow(2) - 0.5 * (X.select(1, 1) - 0.2).pow(2) + 0.1 * torch::sin(9 * X.select(1, 2));
  return {X, y};
}

CampaignConfig fast_config(const std::string& acq = "logei", bool maximize = true) {
  CampaignConfig c;
  c.acquisition.kind = acquisition_info(acq).kind;
  c.acquisition.outcomes = {maximize ? Outcome::maximize() : Outcome::minimize()};
  c.n_init = 2;
  c.gp.restarts = 2;
  c.gp.max_iter = 50;
  return c;
}

std::string temp_path(const std::string& name) { return (std::string("/tmp/sozai_test_") + name); }

}  // namespace

TEST_CASE("a campaign never proposes an observed or pending candidate", "[campaign]") {
  auto p = make_pool();
  for (const char* acq : {"logei", "ei", "ucb", "pi"}) {
    PoolCampaign c(p.X, fast_config(acq));
    std::set<int64_t> seen;
    for (int round = 0; round < 6; ++round) {
      auto rows = c.ask(3).rows;
      REQUIRE(rows.size() == 3);
      for (auto r : rows) {
        INFO("acquisition " << acq << " round " << round << " row " << r);
        CHECK(seen.count(r) == 0);  // neither observed nor still pending
        seen.insert(r);
      }
      // Report only the first two: the third stays pending into the next ask.
      c.tell(rows[0], p.y[rows[0]].item<double>());
      c.tell(rows[1], p.y[rows[1]].item<double>());
    }
    CHECK(c.pending_rows().size() == 6);
  }
}

TEST_CASE("batch members differ and spread out", "[campaign]") {
  auto p = make_pool();
  PoolCampaign c(p.X, fast_config("ucb"));
  auto init = c.ask(5).rows;
  std::vector<double> v;
  for (auto r : init) v.push_back(p.y[r].item<double>());
  c.tell(init, v);
  auto batch = c.ask(8).rows;
  std::set<int64_t> unique(batch.begin(), batch.end());
  CHECK(unique.size() == 8);
  // No two batch members are near-identical inputs.
  for (size_t i = 0; i < batch.size(); ++i)
    for (size_t j = i + 1; j < batch.size(); ++j)
      CHECK((p.X[batch[i]] - p.X[batch[j]]).norm().item<double>() > 1e-9);
}

TEST_CASE("the best region is found on a smooth pool", "[campaign]") {
  auto p = make_pool(200, 3);
  auto order = pool_campaign(p.X, p.y, fast_config("logei"), 30, 1);
  const double best_pool = p.y.max().item<double>();
  double best = -1e9;
  for (auto r : order) best = std::max(best, p.y[r].item<double>());
  // Top 2% of this pool within 30 of 200 experiments.
  auto sorted = std::get<0>(p.y.sort(0, true));
  CHECK(best >= sorted[3].item<double>());
  CHECK(best <= best_pool);
}

TEST_CASE("save -> load -> continue gives the same sequence as no save", "[campaign]") {
  auto p = make_pool();
  std::vector<std::string> paths = {temp_path("campaign.json")};
#ifdef SOZAI_WITH_HDF5
  paths.push_back(temp_path("campaign.h5"));
#endif
  for (const auto& path : paths) {
    INFO(path);
    auto run = [&](PoolCampaign& c, int rounds) {
      std::vector<int64_t> out;
      for (int i = 0; i < rounds; ++i) {
        auto rows = c.ask(2).rows;
        c.tell(rows[0], p.y[rows[0]].item<double>());  // rows[1] stays pending
        out.insert(out.end(), rows.begin(), rows.end());
      }
      return out;
    };
    PoolCampaign straight(p.X, fast_config("logei", false));
    auto a1 = run(straight, 4);
    auto a2 = run(straight, 4);

    PoolCampaign first(p.X, fast_config("logei", false));
    auto b1 = run(first, 4);
    first.save(path);
    auto loaded = PoolCampaign::load(path);
    CHECK(loaded.pending_rows() == first.pending_rows());
    CHECK(loaded.observed_indices() == first.observed_indices());
    CHECK(loaded.observed_values() == first.observed_values());
    auto b2 = run(loaded, 4);
    CHECK(a1 == b1);
    CHECK(a2 == b2);
    std::remove(path.c_str());
  }
}

TEST_CASE("bad reports give clear errors and change nothing", "[campaign]") {
  auto p = make_pool(20);
  PoolCampaign c(p.X, fast_config());
  auto rows = c.ask(2).rows;
  c.tell(rows[0], 1.0);
  CHECK_THROWS_WITH(c.tell(rows[0], 2.0), Catch::Contains("already has a result"));
  CHECK_THROWS_WITH(c.tell(99, 2.0), Catch::Contains("row 99 is outside the pool of 20"));
  CHECK_THROWS_WITH(c.tell(rows[1], NAN), Catch::Contains("not finite"));
  // A batch with one bad entry stores none of it.
  CHECK_THROWS(c.tell({rows[1], 55}, {1.0, 2.0}));
  CHECK(c.observed_indices().size() == 1);
  CHECK(c.pending_rows() == std::vector<int64_t>{rows[1]});
  CHECK_THROWS_WITH(c.cancel(rows[0]), Catch::Contains("not pending"));
  c.cancel(rows[1]);
  CHECK(c.pending_rows().empty());
  CHECK_THROWS_AS(c.ask(0), InputError);
  CampaignConfig forest;
  forest.surrogate = "forest";
  CHECK_THROWS_AS(PoolCampaign(p.X, forest), InputError);
}

TEST_CASE("loading a damaged state file fails clearly and leaves the file alone", "[campaign]") {
  const auto path = temp_path("damaged.json");
  {
    std::ofstream(path) << R"({"format": "sozai.pool_campaign", "version": 1, "maximize": true})";
  }
  CHECK_THROWS_AS(PoolCampaign::load(path), StorageError);
  CHECK_THROWS_WITH(PoolCampaign::load(path), Catch::Contains("pool_shape"));
  {
    std::ofstream(path) << "{not json";
  }
  CHECK_THROWS_WITH(PoolCampaign::load(path), Catch::Contains("not valid JSON"));
  CHECK_THROWS_AS(PoolCampaign::load(temp_path("missing.json")), StorageError);
  std::remove(path.c_str());
}

TEST_CASE("pool_campaign returns the budget in order, first n_init random by seed", "[campaign]") {
  auto p = make_pool(60);
  auto ucb = fast_config("ucb");
  ucb.acquisition.seed = 7;
  auto a = pool_campaign(p.X, p.y, ucb, 10, 3);
  auto b = pool_campaign(p.X, p.y, ucb, 10, 3);
  CHECK(a.size() == 10);
  CHECK(std::set<int64_t>(a.begin(), a.end()).size() == 10);
  CHECK(a == b);
  auto rnd = fast_config("logei");
  rnd.surrogate = "random";
  rnd.acquisition.seed = 1;
  auto r = pool_campaign(p.X, p.y, rnd, 60, 1);
  CHECK(std::set<int64_t>(r.begin(), r.end()).size() == 60);
  CHECK_THROWS_WITH(pool_campaign(p.X, p.y, CampaignConfig{}, 61), Catch::Contains("budget"));
  auto rb = random_baseline(60, 60, 3);
  CHECK(std::set<int64_t>(rb.begin(), rb.end()).size() == 60);
}

TEST_CASE("campaigns over several outcomes: tell, Pareto front, save -> load -> continue", "[campaign][mo]") {
  auto p = make_pool(120, 3);
  // Outcomes: the pool objective (max), a conflicting one (min) and a cap.
  auto Y = torch::stack({p.y, p.X.select(1, 0) * 2 - p.X.select(1, 1), p.X.sum(1)}, 1);
  for (std::string acq : {"qlognehvi", "qparego"}) {
    INFO(acq);
    auto cfg = fast_config(acq);
    cfg.acquisition.outcomes = {Outcome::maximize(), Outcome::minimize(), Outcome::at_most("", 2.0)};
    cfg.acquisition.mc_samples = 32;
    std::vector<std::string> paths = {temp_path("mo.json")};
#ifdef SOZAI_WITH_HDF5
    paths.push_back(temp_path("mo.h5"));
#endif
    for (const auto& path : paths) {
      INFO(path);
      auto run = [&](PoolCampaign& c, int rounds) {
        std::vector<int64_t> out;
        for (int i = 0; i < rounds; ++i) {
          auto rows = c.ask(2).rows;
          auto v = Y[rows[0]];
          c.tell_outcomes(rows[0], {v[0].item<double>(), v[1].item<double>(), v[2].item<double>()});
          out.insert(out.end(), rows.begin(), rows.end());
        }
        return out;
      };
      PoolCampaign straight(p.X, cfg);
      auto a = run(straight, 6);
      PoolCampaign first(p.X, cfg);
      auto b = run(first, 3);
      first.save(path);
      auto loaded = PoolCampaign::load(path);
      CHECK(loaded.num_outcomes() == 3);
      CHECK(loaded.observed_values() == first.observed_values());
      auto b2 = run(loaded, 3);
      b.insert(b.end(), b2.begin(), b2.end());
      CHECK(a == b);
      std::remove(path.c_str());

      // The Pareto front: feasible, and nothing observed and feasible dominates it.
      auto front = straight.pareto_front();
      REQUIRE(!front.empty());
      auto obs = straight.observed_indices();
      for (auto r : front) {
        CHECK(Y[r][2].item<double>() <= 2.0);
        for (auto s : obs) {
          if (Y[s][2].item<double>() > 2.0) continue;
          const bool dominates = Y[s][0].item<double>() >= Y[r][0].item<double>() &&
                                 Y[s][1].item<double>() <= Y[r][1].item<double>() &&
                                 (Y[s][0].item<double>() > Y[r][0].item<double>() ||
                                  Y[s][1].item<double>() < Y[r][1].item<double>());
          CHECK(!dominates);
        }
      }
    }
  }
  auto cfg = fast_config("qnehvi");
  cfg.acquisition.outcomes = {Outcome::maximize(), Outcome::minimize()};
  PoolCampaign c(p.X, cfg);
  CHECK_THROWS_AS(c.tell(0, 1.0), InputError);
  CHECK_THROWS_AS(c.tell_outcomes(0, {1.0}), InputError);
  CHECK_THROWS_AS(c.tell_outcomes(0, {1.0, NAN}), InputError);
  CHECK(c.observed_indices().empty());
  c.tell_outcomes(0, {1.0, 2.0});
  CHECK_THROWS_AS(c.best(), InputError);
  cfg.acquisition.kind = AcquisitionKind::LogEI;
  CHECK_THROWS_AS(cfg.validate(), InputError);
  cfg.acquisition.kind = AcquisitionKind::qNEHVI;
  cfg.surrogate = "gnn";
  CHECK_THROWS_AS(PoolCampaign(p.X, cfg), InputError);
}

TEST_CASE("multi-fidelity campaigns spend on the cheap fidelity, count only the target, and save", "[campaign][multifidelity]") {
  // Fidelity 0: a cheap, biased simulation of fidelity 1 (the experiment).
  auto grid = torch::linspace(0, 1, 40, torch::kFloat64).unsqueeze(1);
  auto f = torch::sin(6 * grid.select(1, 0)) + grid.select(1, 0);
  auto pool = torch::cat({torch::cat({grid, torch::zeros({40, 1}, torch::kFloat64)}, 1),
                          torch::cat({grid, torch::ones({40, 1}, torch::kFloat64)}, 1)});
  auto y = torch::cat({0.9 * f + 0.1, f});
  auto cfg = fast_config("qlognei");
  cfg.acquisition.kind = AcquisitionKind::AEI;
  cfg.acquisition.fidelity.costs = {1.0, 10.0};
  cfg.n_init = 4;
  auto run = [&](PoolCampaign& c, int rounds) {
    std::vector<int64_t> out;
    for (int i = 0; i < rounds; ++i) {
      auto rows = c.ask(i == 0 && c.observed_indices().empty() ? 4 : 2).rows;
      for (auto r : rows) c.tell(r, y[r].item<double>());
      out.insert(out.end(), rows.begin(), rows.end());
    }
    return out;
  };
  PoolCampaign a(pool, cfg);
  auto seq = run(a, 5);
  int cheap = 0;
  for (size_t i = 4; i < seq.size(); ++i) cheap += seq[i] < 40;
  CHECK(cheap >= 2);  // model-based picks use the cheap fidelity
  double cost = 0;
  for (auto r : seq) cost += r < 40 ? 1.0 : 10.0;
  CHECK(a.cost_spent() == Approx(cost));
  const auto path = temp_path("mf.json");
  PoolCampaign b(pool, cfg);
  auto s1 = run(b, 3);
  b.save(path);
  auto loaded = PoolCampaign::load(path);
  auto s2 = run(loaded, 2);
  s1.insert(s1.end(), s2.begin(), s2.end());
  CHECK(s1 == seq);
  std::remove(path.c_str());
  // best() counts the target fidelity only.
  PoolCampaign c(pool, cfg);
  c.tell(5, 100.0);  // a cheap row with a huge value
  CHECK_THROWS_AS(c.best(), InputError);
  c.tell(45, 1.0);
  CHECK(c.best().candidate.rows.front() == 45);
  // Bad fidelity column and acquisition.
  auto bad = pool.clone();
  bad[3][1] = 2.0;
  CHECK_THROWS_WITH(PoolCampaign(bad, cfg), Catch::Contains("pool row 3 has fidelity 2"));
  cfg.acquisition.kind = AcquisitionKind::LogEI;
  CHECK_THROWS_WITH(PoolCampaign(pool, cfg), Catch::Contains("must be 'aei'"));
}

TEST_CASE("an ask says what the model predicted for its picks", "[campaign]") {
  auto p = make_pool();
  PoolCampaign c(p.X, fast_config("logei"));
  auto first = c.ask(2);  // n_init = 2: random picks, no model
  CHECK_FALSE(first.mean.defined());
  CHECK_FALSE(first.acquisition.defined());
  c.tell(first.rows, {p.y[first.rows[0]].item<double>(), p.y[first.rows[1]].item<double>()});
  for (int round = 0; round < 3; ++round) {
    auto picks = c.ask(3);
    REQUIRE(picks.mean.defined());
    REQUIRE(picks.mean.sizes() == torch::IntArrayRef({3, 1}));
    REQUIRE(picks.variance.sizes() == torch::IntArrayRef({3, 1}));
    REQUIRE(picks.acquisition.sizes() == torch::IntArrayRef({3}));
    // The same numbers as the campaign's model says of those rows now.
    auto post = c.model()->posterior(picks.X);
    CHECK(torch::allclose(picks.mean, post.mean.reshape({3, 1}), 1e-12, 1e-12));
    CHECK(torch::allclose(picks.variance, post.variance.reshape({3, 1}), 1e-12, 1e-12));
    CHECK((picks.variance > 0).all().item<bool>());
    // The first pick maximises LogEI on its own over the free rows; the
    // later ones were chosen beside it, so none is worth more alone.
    auto acq = picks.acquisition.accessor<double, 1>();
    CHECK(std::isfinite(acq[0]));
    CHECK(acq[0] >= acq[1] - 1e-9);
    CHECK(acq[0] >= acq[2] - 1e-9);
    std::vector<double> y;
    for (auto r : picks.rows) y.push_back(p.y[r].item<double>());
    c.tell(picks.rows, y);
  }
}
