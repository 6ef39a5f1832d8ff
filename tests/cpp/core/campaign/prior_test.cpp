// Priors: column alignment by element and by name, refusals with clear
// messages, digests, CSV reading, and pool campaigns that learn from
// priors (the same asks whatever the order of a prior's columns; save,
// load, attach_priors and an identical continuation; prior models fitted
// once per process).
#include "common/error.h"
#include "core/campaign/campaign_common.h"
#include "core/campaign/pool_campaign.h"
#include "core/campaign/prior.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "../../test_util.h"

using namespace sozai;

namespace {

/// Simplex grid over three elements at step 0.1: 66 rows.
torch::Tensor simplex3() {
  std::vector<double> v;
  for (int a = 0; a <= 10; ++a)
    for (int b = 0; a + b <= 10; ++b) v.insert(v.end(), {a / 10.0, b / 10.0, (10 - a - b) / 10.0});
  return torch::tensor(v, torch::kFloat64).reshape({-1, 3});
}

/// An "activity" peaked at a Co-Ni composition; the prior's plate measures the same chemistry.
torch::Tensor activity(const torch::Tensor& co, const torch::Tensor& ni) {
  return -((co - 0.6).pow(2) + (ni - 0.3).pow(2)) * 10.0;
}

Prior related_prior(bool permuted_columns = false) {
  auto g = simplex3();  // Co, Ni, Fe
  auto y = 5.0 * activity(g.select(1, 0), g.select(1, 1)) + 100.0;  // another scale and offset
  if (!permuted_columns) return Prior(g, y, {"Co", "Ni", "Fe"}, true, "plate-a");
  auto p = g.index_select(1, torch::tensor({2, 0, 1}, torch::kInt64));  // Fe, Co, Ni
  return Prior(p, y, {"fe_load", "Co", "Ni"}, true, "plate-a");
}

CampaignConfig small_config() {
  return CampaignConfig::from_json({{"n_init", 2}, {"seed", 3}, {"acquisition", "logei"}, {"gp", {{"restarts", 2}}}});
}

}  // namespace

TEST_CASE("element_of_column reads symbols and share columns", "[prior]") {
  CHECK(element_of_column("Ni") == "Ni");
  CHECK(element_of_column("ni_load") == "Ni");
  CHECK(element_of_column("Co_fraction") == "Co");
  CHECK(element_of_column("MN_frac") == "Mn");
  CHECK(element_of_column("CO").empty());  // symbols are case-sensitive
  CHECK(element_of_column("temperature").empty());
  CHECK(element_of_column("xx_load").empty());
  CHECK(element_of_column("_load").empty());
}

TEST_CASE("a transfer space aligns element shares over the union and other columns by name", "[prior]") {
  auto target = torch::tensor({{2.0, 2.0, 0.0, 400.0}, {1.0, 0.0, 1.0, 350.0}, {0.0, 1.0, 3.0, 300.0}},
                              torch::kFloat64);
  const std::vector<std::string> tcols = {"Co", "Ni", "Sn", "T"};
  auto prior_x = torch::tensor({{300.0, 0.5, 0.25, 0.25}, {320.0, 0.0, 0.5, 0.5}, {310.0, 1.0, 0.0, 0.0}},
                               torch::kFloat64);
  Prior prior(prior_x, torch::tensor({1.0, 2.0, 3.0}, torch::kFloat64), {"T", "Fe", "Ni", "Co"}, true, "p");
  TransferSpace space(tcols, {prior}, target, 2);
  CHECK(space.elements() == std::vector<std::string>{"Fe", "Co", "Ni", "Sn"});  // by atomic number
  REQUIRE(space.columns().size() == 7);
  CHECK(space.columns()[4] == "T");
  CHECK(space.columns()[5] == "pc1");
  auto t = space.encode(target, tcols, "pool");
  CHECK(t[0][0].item<double>() == 0.0);  // no Fe on the target plate
  CHECK(t[0][1].item<double>() == Approx(0.5));  // shares renormalised (2, 2 -> 0.5, 0.5)
  CHECK(t[2][3].item<double>() == Approx(0.75));
  CHECK(t[1][4].item<double>() == 350.0);
  auto p = space.encode(prior.X, prior.columns, "prior");
  CHECK(p[0][0].item<double>() == 0.5);
  CHECK(p[0][3].item<double>() == 0.0);  // no Sn on the prior's plate
  // The same rows with the columns in another order encode identically.
  auto order = torch::tensor({2, 0, 3, 1}, torch::kInt64);
  auto again = space.encode(prior.X.index_select(1, order), {"Ni", "T", "Co", "Fe"}, "prior");
  CHECK(torch::equal(again, p));
  // A row without any element share is named.
  auto empty = torch::tensor({{0.0, 0.0, 0.0, 300.0}}, torch::kFloat64);
  CHECK_THROWS_WITH(space.encode(empty, tcols, "pool"), Catch::Contains("pool: row 0") && Catch::Contains("every element share is 0"));
  CHECK_THROWS_WITH(space.encode(empty, {"Co", "Ni", "Sn", "pressure"}, "pool"),
                    Catch::Contains("column 'pressure' is not in this campaign's space"));
}

TEST_CASE("a prior that shares no column with the campaign is refused, naming both", "[prior]") {
  Prior other(torch::rand({4, 2}, torch::kFloat64), torch::rand({4}, torch::kFloat64), {"La", "pressure"}, true, "far");
  CHECK_THROWS_WITH(TransferSpace({"Co", "Ni", "T"}, {other}, torch::Tensor(), 2),
                    Catch::Contains("prior 'far' shares no column with the campaign") && Catch::Contains("La, pressure") &&
                        Catch::Contains("Co, Ni, T"));
  CHECK_THROWS_AS(PoolCampaign(simplex3(), {"Co", "Ni", "Mn"}, {other}, small_config()), InputError);
}

TEST_CASE("Prior checks its table and names the bad cell", "[prior]") {
  auto X = torch::rand({3, 2}, torch::kFloat64);
  auto y = torch::rand({3}, torch::kFloat64);
  CHECK_THROWS_WITH(Prior(X, y, {"a"}, true, "p"), Catch::Contains("1 column names for 2 input columns"));
  CHECK_THROWS_WITH(Prior(X, y, {"a", "a"}, true, "p"), Catch::Contains("column 'a' appears twice"));
  CHECK_THROWS_WITH(Prior(X, y.slice(0, 0, 2), {"a", "b"}, true, "p"), Catch::Contains("y must be [n] with n = 3"));
  auto bad = X.clone();
  bad[1][1] = std::nan("");
  CHECK_THROWS_WITH(Prior(bad, y, {"a", "b"}, true, "p"), Catch::Contains("Prior 'p': row 1, column 'b'"));
  auto bad_y = y.clone();
  bad_y[2] = INFINITY;
  CHECK_THROWS_WITH(Prior(X, bad_y, {"a", "b"}, true, "p"), Catch::Contains("outcome of row 2"));
  CHECK_THROWS_AS(Prior(X.slice(0, 0, 1), y.slice(0, 0, 1), {"a", "b"}), InputError);
}

TEST_CASE("a prior's digest follows its content, and read_csv reads a file", "[prior]") {
  auto a = related_prior();
  CHECK(a.digest() == related_prior().digest());
  CHECK(a.digest().size() == 64);
  Prior b(a.X, a.y + 1.0, a.columns, true, "plate-a");
  CHECK(b.digest() != a.digest());
  Prior c(a.X, a.y, a.columns, false, "plate-a");
  CHECK(c.digest() != a.digest());

  const auto dir = test::make_temp_dir("sozai_prior_test");
  const auto path = dir + "/plate.csv";
  std::ofstream(path) << "Co,Ni,overpotential\n0.5,0.5,0.31\n1,0,\n0,1,0.42\n0.2,0.8,0.40\n";
  auto p = Prior::read_csv(path, "", false);
  CHECK(p.name == "plate");
  CHECK(p.rows() == 3);  // the row without an outcome is left out
  CHECK(p.columns == std::vector<std::string>{"Co", "Ni"});
  CHECK(p.source == path);
  CHECK_FALSE(p.maximize);
  std::ofstream(path) << "Co,Ni,overpotential\n0.5,abc,0.31\n0.1,0.9,0.3\n";
  CHECK_THROWS_WITH(Prior::read_csv(path), Catch::Contains("row 2") && Catch::Contains("column 'Ni'"));
  test::remove_tree(dir);
}

TEST_CASE("a pool campaign with a prior asks the same whatever the order of the prior's columns", "[prior][campaign]") {
  auto pool = simplex3();  // Co, Ni, Mn
  auto y = activity(pool.select(1, 0), pool.select(1, 1));
  auto run = [&](const Prior& prior) {
    PoolCampaign c(pool, {"Co", "Ni", "Mn"}, {prior}, small_config());
    std::vector<int64_t> order;
    for (int i = 0; i < 6; ++i) {
      auto rows = c.ask(1).rows;
      c.tell(rows[0], y[rows[0]].item<double>());
      order.push_back(rows[0]);
    }
    return std::make_pair(order, c.transfer_summary());
  };
  auto [a, summary] = run(related_prior(false));
  auto [b, unused] = run(related_prior(true));
  CHECK(a == b);
  CHECK(summary.contains("chosen"));
  CHECK(summary.contains("ranking_loss"));
}

TEST_CASE("a pool campaign with priors saves their digests, refuses to ask until they are back, and continues "
          "identically",
          "[prior][campaign]") {
  auto pool = simplex3();
  auto y = activity(pool.select(1, 0), pool.select(1, 1));
  PoolCampaign c(pool, {"Co", "Ni", "Mn"}, {related_prior()}, small_config());
  for (int i = 0; i < 4; ++i) {
    auto r = c.ask(1).rows[0];
    c.tell(r, y[r].item<double>());
  }
  const auto text = c.to_json();
  auto loaded = PoolCampaign::from_json(text, "saved.json");
  CHECK(loaded.columns() == c.columns());
  REQUIRE(loaded.prior_records().size() == 1);
  CHECK(loaded.prior_records()[0]["digest"] == related_prior().digest());
  CHECK(loaded.priors().empty());
  CHECK_THROWS_WITH(loaded.ask(1), Catch::Contains("plate-a") && Catch::Contains("attach_priors"));
  Prior wrong(related_prior().X, related_prior().y * 2.0, related_prior().columns, true, "plate-a");
  CHECK_THROWS_WITH(loaded.attach_priors({wrong}), Catch::Contains("is not the table the campaign was created with"));
  CHECK_THROWS_AS(loaded.attach_priors({}), InputError);
  loaded.attach_priors({related_prior()});
  for (int i = 0; i < 3; ++i) {
    auto a = c.ask(1).rows[0], b = loaded.ask(1).rows[0];
    CHECK(a == b);
    c.tell(a, y[a].item<double>());
    loaded.tell(b, y[b].item<double>());
  }
  CHECK(loaded.to_json() == c.to_json());
}

TEST_CASE("prior models are fitted once per process for the same inputs; a refit gives the same models",
          "[prior][campaign]") {
  using campaign_detail::source_models;
  torch::manual_seed(5);
  TransferSource s{"plate", torch::rand({60, 3}, torch::kFloat64), torch::randn({60}, torch::kFloat64)};
  const auto cand = torch::rand({25, 3}, torch::kFloat64);
  const auto [lo, hi] = campaign_detail::transfer_bounds(cand, {s});
  const ExactGPConfig gp;
  TransferConfig tc;
  const auto a = source_models({s}, gp, tc, cand, lo, hi, 7, true);
  REQUIRE(a.size() == 1);
  CHECK(dynamic_cast<const TabulatedModel*>(a[0].get()) != nullptr);
  CHECK(source_models({s}, gp, tc, cand, lo, hi, 7, true)[0] == a[0]);  // the same object: not refitted
  CHECK(source_models({s}, gp, tc, cand, lo, hi, 8, true)[0] != a[0]);  // another seed
  CHECK(dynamic_cast<const TabulatedModel*>(source_models({s}, gp, tc, cand, lo, hi, 7, false)[0].get()) == nullptr);
  auto other = s;
  other.y = s.y.clone();
  other.y[3] += 1.0;  // one outcome differs
  CHECK(source_models({other}, gp, tc, cand, lo, hi, 7, true)[0] != a[0]);
  tc.neighbours = 8;  // other settings
  CHECK(source_models({s}, gp, tc, cand, lo, hi, 7, true)[0] != a[0]);
  // What a process that never saw them fits: the same numbers.
  tc = TransferConfig();
  for (const auto* kind : {"forest", "gp"}) {
    tc.source_model = kind;
    INFO("source model " << kind);
    const auto f1 = fit_source_models({s}, gp, tc, cand, lo, hi, 7), f2 = fit_source_models({s}, gp, tc, cand, lo, hi, 7);
    const auto p1 = f1[0]->latent_posterior(cand), p2 = f2[0]->latent_posterior(cand);
    CHECK(torch::equal(p1.mean, p2.mean));
    CHECK(torch::equal(p1.variance, p2.variance));
    const auto cached = source_models({s}, gp, tc, cand, lo, hi, 7, true)[0]->latent_posterior(cand);
    CHECK(torch::equal(cached.mean.reshape({-1}), p1.mean.reshape({-1}).to(torch::kFloat64)));
  }
}

TEST_CASE("priors need columns, one outcome and a GP", "[prior][campaign]") {
  auto pool = simplex3();
  CHECK_THROWS_WITH(PoolCampaign(pool, {}, {related_prior()}, small_config()), Catch::Contains("columns"));
  CHECK_THROWS_WITH(PoolCampaign(pool, {"Co", "Ni"}, {related_prior()}, small_config()),
                    Catch::Contains("2 column names for a pool of 3 columns"));
  auto two = CampaignConfig::from_json(
      {{"outcomes", {{{"direction", "maximize"}}, {{"direction", "maximize"}}}}, {"n_init", 2}});
  CHECK_THROWS_WITH(PoolCampaign(pool, {"Co", "Ni", "Mn"}, {related_prior()}, two),
                    Catch::Contains("priors inform campaigns of one outcome"));
  // A campaign given columns but no priors behaves as one without either.
  auto y = activity(pool.select(1, 0), pool.select(1, 1));
  auto plain = pool_campaign(pool, y, small_config(), 6, 1);
  auto named = pool_campaign(pool, y, small_config(), 6, 1, {"Co", "Ni", "Mn"}, {});
  CHECK(plain == named);
}

TEST_CASE("prior_belief (piBO) pulls the picks to the prior's best rows when the prior agrees with the results",
          "[prior][campaign]") {
  auto pool = simplex3();  // Co, Ni, Mn
  auto y = activity(pool.select(1, 0), pool.select(1, 1));
  auto g = simplex3();     // Co, Ni, Fe
  const auto co = g.select(1, 0), ni = g.select(1, 1);
  // A related prior without ties (a slight tilt), and one that ranks the pool the other way round.
  Prior related(g, 5.0 * activity(co, ni) + 0.37 * co + 0.11 * ni + 100.0, {"Co", "Ni", "Fe"}, true, "plate-a");
  Prior wrong(g, -activity(co, ni), {"Co", "Ni", "Fe"}, true, "wrong-plate");
  auto run = [&](const Prior& prior, double belief, int asks, nlohmann::json* summary = nullptr) {
    auto cfg = small_config();
    cfg.transfer.method = "none";
    cfg.transfer.prior_belief = belief;
    PoolCampaign c(pool, {"Co", "Ni", "Mn"}, {prior}, cfg);
    std::vector<int64_t> order;
    for (int i = 0; i < asks; ++i) {
      auto r = c.ask(1).rows[0];
      c.tell(r, y[r].item<double>());
      order.push_back(r);
    }
    if (summary) *summary = c.transfer_summary();
    return order;
  };
  // The prior's ranking: the initial design of a campaign whose n_init covers 8 picks.
  auto ranked_cfg = small_config();
  ranked_cfg.n_init = 8;
  const auto prior_order = PoolCampaign(pool, {"Co", "Ni", "Mn"}, {related}, ranked_cfg).ask(8).rows;
  // An overwhelming belief in a prior that agrees follows its ranking past the initial design.
  nlohmann::json summary;
  CHECK(run(related, 1e6, 8, &summary) == prior_order);
  const double agreement = summary["prior_belief"]["agreement"].get<double>();
  CHECK(agreement > 0.0);  // better than chance on its own best rows, where the target's differences are small
  CHECK(summary["prior_belief"]["weight"].get<double>() == Approx(1e6 / 7 * agreement));  // asked with 7 results
  // Without the belief the GP leaves the prior's ranking.
  CHECK(run(related, 0.0, 8) != prior_order);
  // A prior that ranks the results the wrong way round pulls nowhere: the picks are those without a belief.
  CHECK(run(wrong, 1e6, 10, &summary) == run(wrong, 0.0, 10));
  CHECK(summary["prior_belief"]["agreement"].get<double>() == 0.0);
  // Settings it cannot serve are refused when the settings are read.
  CHECK_THROWS_WITH(CampaignConfig::from_json({{"acquisition", "ucb"}, {"transfer", {{"prior_belief", 1.0}}}}),
                    Catch::Contains("not 'ucb'"));
  CHECK_THROWS_WITH(CampaignConfig::from_json({{"transfer", {{"prior_belief", -1.0}}}}),
                    Catch::Contains("prior_belief must be a finite number >= 0"));
}

TEST_CASE("a design space meets priors in natural units; the map from its encoding is differentiable", "[prior]") {
  DesignSpace s;
  s.add_continuous("T", 300.0, 900.0).add_continuous("t", 1.0, 100.0, /*log_scale=*/true);
  s.add_composition("c", {"Fe", "Ni"}).add_categorical("route", {"cast", "wrought"});
  CHECK(natural_columns(s) == std::vector<std::string>{"T", "t", "Fe", "Ni", "route=cast", "route=wrought"});
  auto raw = torch::tensor({{400.0, 10.0, 0.25, 0.75, 1.0}, {900.0, 1.0, 1.0, 0.0, 0.0}}, torch::kFloat64);
  auto natural = natural_table(s, raw);
  auto expected = torch::tensor({{400.0, 10.0, 0.25, 0.75, 0.0, 1.0}, {900.0, 1.0, 1.0, 0.0, 1.0, 0.0}}, torch::kFloat64);
  CHECK(torch::allclose(natural, expected));
  auto E = s.encode(raw).requires_grad_(true);
  auto back = natural_from_encoded(s, E);
  CHECK(torch::allclose(back, expected, 1e-12, 1e-9));
  back.select(1, 0).sum().backward();
  CHECK(E.grad()[0][0].item<double>() == Approx(600.0));  // dT/dz = high - low
}
