// Campaign state written before objectives became data (format 1, saved by
// sozai 0.1 at 870aef1: tests/fixtures/campaign_state_v1) still loads with
// nothing told, pending or set lost, saves in the current format, and goes
// on; the Campaign interface drives both kinds of campaign alike.
#include "core/campaign/pool_campaign.h"
#include "core/campaign/space_campaign.h"
#include "core/bo/registry.h"
#include "common/build_info.h"
#include "common/error.h"
#include "common/files.h"

#include <cstdio>
#include <set>

#include <catch2/catch.hpp>

#include "../../test_util.h"

using namespace sozai;
using nlohmann::json;

namespace {

std::string v1(const std::string& name) { return std::string(SOZAI_TEST_FIXTURES) + "/campaign_state_v1/" + name; }

json expected() { return json::parse(read_text(v1("expected.json"))); }

/// The state saved in the current format and loaded again asks the same.
template <typename C>
void round_trip_asks_alike(C& loaded, int64_t q) {
  auto again = C::from_json(loaded.to_json(), "round trip");
  CHECK(json::parse(again.to_json()) == json::parse(loaded.to_json()));
  auto a = loaded.ask(q), b = again.ask(q);
  CHECK(torch::equal(a.X, b.X));
  CHECK(a.rows == b.rows);
}

}  // namespace

TEST_CASE("a pool campaign saved in format 1 loads whole", "[campaign][state]") {
  const auto e = expected().at("pool_single");
  std::vector<std::string> files = {v1("pool_single.json")};
  if (build_info().at("hdf5") != "none") files.push_back(v1("pool_single.h5"));
  for (const auto& f : files) {
    INFO(f);
    auto c = PoolCampaign::load(f);
    CHECK(c.observed_indices() == e.at("observed").get<std::vector<int64_t>>());
    CHECK(c.observed_values() == e.at("values").get<std::vector<double>>());
    CHECK(c.pending_rows() == e.at("pending").get<std::vector<int64_t>>());
    CHECK(c.ask_count() == e.at("ask_count").get<int64_t>());
    CHECK(!c.maximize());
    CHECK(c.outcomes() == std::vector<Outcome>{Outcome::minimize()});
    CHECK(c.config().acquisition.kind == AcquisitionKind::UCB);
    CHECK(c.config().n_init == 2);
    CHECK(c.config().seed() == 3);
    CHECK(c.config().gp.restarts == 2);
    // The single objective's hyperparameters are the next fit's warm start.
    REQUIRE(c.outcome_hyperparameters().size() == 1);
    CHECK(c.outcome_hyperparameters()[0].noise == Approx(0.01002148238785058));
    // Saved again in the current format: outcomes as data, no "maximize".
    auto now = json::parse(c.to_json());
    CHECK(now.at("version") == kCampaignStateVersion);
    CHECK(!now.contains("maximize"));
    CHECK(now.at("config").at("outcomes") == json::array({{{"direction", "minimize"}}}));
    auto next = c.ask(2).rows;
    REQUIRE(next.size() == 2);
    std::set<int64_t> taken(c.observed_indices().begin(), c.observed_indices().end());
    for (auto p : e.at("pending")) taken.insert(p.get<int64_t>());
    for (auto r : next) CHECK(taken.count(r) == 0);
  }
  auto c = PoolCampaign::load(v1("pool_single.json"));
  round_trip_asks_alike(c, 2);
}

TEST_CASE("a multi-outcome pool campaign and a space campaign saved in format 1 load whole", "[campaign][state]") {
  const auto e = expected();
  auto m = PoolCampaign::load(v1("pool_outcomes.json"));
  CHECK(m.observed_indices() == e.at("pool_outcomes").at("observed").get<std::vector<int64_t>>());
  CHECK(m.outcomes() == std::vector<Outcome>{Outcome::maximize(), Outcome::minimize(), Outcome::at_most("", 1.2)});
  CHECK(m.config().acquisition.kind == AcquisitionKind::qLogNEHVI);
  CHECK(m.config().acquisition.ref_point == std::vector<double>{0.0, -1.0});
  CHECK(m.outcome_hyperparameters().size() == 3);
  round_trip_asks_alike(m, 2);

  auto s = SpaceCampaign::load(v1("space.json"));
  const auto obs = e.at("space").at("observed").get<std::vector<std::vector<double>>>();
  REQUIRE(s.num_observed() == static_cast<int64_t>(obs.size()));
  for (size_t i = 0; i < obs.size(); ++i)
    for (size_t j = 0; j < obs[i].size(); ++j) CHECK(s.observed_candidates()[i][j].item<double>() == obs[i][j]);
  CHECK(s.maximize());
  CHECK(s.config().acquisition.kind == AcquisitionKind::qLogNEI);
  CHECK(s.config().optimizer.raw_samples == 32);
  round_trip_asks_alike(s, 1);
}

TEST_CASE("the Campaign interface drives pool and space campaigns alike", "[campaign][state]") {
  torch::manual_seed(2);
  auto X = torch::rand({30, 2}, torch::kFloat64);
  DesignSpace space;
  space.add_continuous("a", 0.0, 1.0).add_continuous("b", 0.0, 1.0);
  CampaignConfig cfg;
  cfg.n_init = 2;
  cfg.gp.restarts = 2;
  cfg.optimizer.raw_samples = 32;
  cfg.optimizer.restarts = 2;
  std::vector<std::unique_ptr<Campaign>> campaigns;
  campaigns.push_back(std::make_unique<PoolCampaign>(X, cfg));
  campaigns.push_back(std::make_unique<SpaceCampaign>(space, cfg));
  const std::string path = test::make_temp_dir("sozai_campaign") + "/state.json";
  for (auto& c : campaigns) {
    auto f = [](const torch::Tensor& x) { return -(x.select(1, 0) - 0.4).pow(2) - (x.select(1, 1) - 0.6).pow(2); };
    for (int round = 0; round < 3; ++round) {
      auto picks = c->ask(2);
      REQUIRE(picks.size() == 2);
      CHECK(c->pending().size() == 2);
      c->tell(picks, f(picks.X));
      CHECK(c->pending().size() == 0);
    }
    auto held = c->ask(1);
    CHECK_THROWS_AS(c->cancel(c->best().candidate), InputError);  // not pending
    c->save(path);
    auto back = Campaign::load(path);
    CHECK(back->to_json() == c->to_json());
    CHECK(back->num_observed() == 6);
    back->cancel(held);
    CHECK(back->pending().size() == 0);
    const auto best = back->best();
    CHECK(best.value == Approx(f(back->observed().X).max().item<double>()));
    CHECK(torch::equal(best.candidate.X[0], back->observed().X[best.position]));
    // A report with a bad value stores nothing.
    auto more = back->ask(1);
    const auto before = back->to_json();
    CHECK_THROWS_AS(back->tell(more, torch::tensor({NAN}, torch::kFloat64)), InputError);
    CHECK(back->to_json() == before);
  }
  std::remove(path.c_str());
}
