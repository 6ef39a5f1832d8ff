// Campaign settings: one place for defaults and validation, one JSON form,
// errors that name the setting.
#include "core/campaign/campaign_config.h"
#include "core/bo/registry.h"
#include "common/error.h"

#include <catch2/catch.hpp>

#include "../../test_util.h"

using namespace sozai;
using Catch::Contains;
using nlohmann::json;

TEST_CASE("the defaults live in CampaignConfig and survive a JSON round trip", "[campaign][config]") {
  const CampaignConfig c;
  CHECK(c.outcomes() == std::vector<Outcome>{Outcome::maximize()});
  CHECK(c.acquisition.kind == AcquisitionKind::qLogNEI);
  CHECK(c.surrogate == "gp");
  CHECK(c.n_init == 4);
  CHECK(c.seed() == 0);
  CHECK(CampaignConfig::from_json(json::object()).to_json() == c.to_json());
  // Every key written is read back.
  CampaignConfig d = CampaignConfig::from_json(json{{"acquisition", "ucb"},
                                                    {"ucb_beta", 2.0},
                                                    {"n_init", 7},
                                                    {"seed", 11},
                                                    {"surrogate", "random"},
                                                    {"full_refit_every", 3},
                                                    {"gp", {{"kernel", "rbf"}, {"restarts", 2}}},
                                                    {"optimizer", {{"raw_samples", 64}}},
                                                    {"gnn", {{"hidden", 16}}}});
  CHECK(CampaignConfig::from_json(d.to_json()).to_json() == d.to_json());
  CHECK(d.acquisition.kind == AcquisitionKind::UCB);
  CHECK(d.gp.kernel == "rbf");
  CHECK(d.gp.restarts == 2);
  CHECK(d.gp.max_iter == ExactGPConfig{}.max_iter);
  CHECK(d.optimizer.raw_samples == 64);
  CHECK(d.gnn.hidden == 16);
  CHECK(d.refit.full_refit_every == 3);
  // Several objectives and no acquisition named: the registry's default.
  auto mo = CampaignConfig::from_json(
      json{{"outcomes", json::array({{{"name", "a"}, {"direction", "maximize"}},
                                     {{"name", "b"}, {"direction", "minimize"}},
                                     {{"name", "c"}, {"direction", "at_most"}, {"limit", 2.5}}})}});
  CHECK(mo.acquisition.kind == AcquisitionKind::qLogNEHVI);
  CHECK(mo.outcomes()[2] == Outcome::at_most("c", 2.5));
  // A base with settings of its own keeps them for the keys not given.
  auto later = CampaignConfig::from_json(json{{"seed", 3}}, "settings", d);
  CHECK(later.acquisition.kind == AcquisitionKind::UCB);
  CHECK(later.seed() == 3);
}

TEST_CASE("invalid settings name the setting", "[campaign][config]") {
  auto msg = [](const json& j) { return test::message_of<InputError>([&] { CampaignConfig::from_json(j); }); };
  CHECK_THAT(msg(json{{"n_init", -1}}), Contains("settings: n_init must be >= 0, got -1"));
  CHECK_THAT(msg(json{{"n_init", "four"}}),
             Contains("settings: field 'n_init' has the wrong type: 'n_init' must be a whole number, got string"));
  CHECK_THAT(msg(json{{"acquisition", "qei"}}), Contains("unknown acquisition 'qei'"));
  CHECK_THAT(msg(json{{"acquisiton", "ei"}}), Contains("settings: unknown field 'acquisiton'"));
  CHECK_THAT(msg(json{{"surrogate", "forest"}}), Contains("settings: unknown surrogate 'forest'"));
  CHECK_THAT(msg(json{{"gp", {{"kernel", "periodic"}}}}), Contains("settings: gp: unknown"));
  CHECK_THAT(msg(json{{"gp", {{"restart", 2}}}}), Contains("settings: gp: unknown field 'restart'"));
  CHECK_THAT(msg(json{{"optimizer", {{"restarts", 0}}}}), Contains("optimizer settings"));
  CHECK_THAT(msg(json{{"outcomes", json::array({{{"direction", "up"}}})}}),
             Contains("settings: outcomes[0]: direction must be maximize, minimize, at_most or at_least"));
  CHECK_THAT(msg(json{{"outcomes", json::array({{{"direction", "at_most"}, {"limit", 1}}})}}),
             Contains("at least one outcome must be an objective"));
  CHECK_THAT(msg(json{{"outcomes", json::array({{{"direction", "maximize"}}, {{"direction", "minimize"}}})},
                      {"acquisition", "logei"}}),
             Contains("takes one objective, got 2"));
  CHECK_THAT(msg(json{{"outcomes", json::array({{{"direction", "maximize"}}, {{"direction", "minimize"}}})},
                      {"surrogate", "gnn"}}),
             Contains("models each with a GP"));
  CHECK_THAT(msg(json::array()), Contains("settings: must be a JSON object"));
}

TEST_CASE("settings of format 1 state files still read", "[campaign][config]") {
  json state{{"maximize", false},
             {"config",
              {{"surrogate", "gp"},
               {"acquisition", "ucb"},
               {"ucb_beta", 4.0},
               {"outcomes", json::array()},
               {"n_init", 2},
               {"seed", 3},
               {"full_refit_every", 10},
               {"gp", {{"kernel", "matern52"}, {"restarts", 2}}}}}};
  auto c = config_from_saved_state(state, 1, "old.json");
  CHECK(c.outcomes() == std::vector<Outcome>{Outcome::minimize()});
  CHECK(c.acquisition.kind == AcquisitionKind::UCB);
  CHECK(c.n_init == 2);
  // Version 1 ran plain AEI.
  CHECK(!c.acquisition.fidelity.target_first);
  CHECK(c.acquisition.fidelity.max_cheap_share == 1.0);
  state["config"]["outcomes"] = {"max", "min", "<= 2.5"};
  state["config"]["acquisition"] = "qnehvi";
  auto mo = config_from_saved_state(state, 1, "old.json");
  CHECK(mo.outcomes() ==
        std::vector<Outcome>{Outcome::maximize(), Outcome::minimize(), Outcome::at_most("", 2.5)});
  state["config"]["outcomes"] = {"max", "<= lots"};
  CHECK_THAT(test::message_of<StorageError>([&] { config_from_saved_state(state, 1, "old.json"); }),
             Contains("old.json"));
}
