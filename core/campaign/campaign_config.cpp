#include "core/campaign/campaign_config.h"
#include "core/bo/registry.h"
#include "core/bo/select.h"
#include "common/error.h"
#include "common/json.h"
#include "models/config_json.h"
#include "models/gp/covariance.h"
#include "models/gp/outcome_transform.h"

#include <cmath>
#include <set>

namespace sozai {

bool CampaignConfig::maximize() const { return outcomes()[objective_positions(outcomes()).front()].maximizes(); }

namespace {

using nlohmann::json;
using json_io::optional;

const std::set<std::string> kCampaignKeys = {"surrogate", "n_init", "full_refit_every", "keep_hyperparameters_from",
                                             "gp", "gnn", "optimizer", "transfer"};
std::set<std::string> all_keys() {
  auto keys = kCampaignKeys;
  for (const auto& k : acquisition_spec_keys()) keys.insert(k);
  return keys;
}

/// The nested settings `key` of j read over `value` (json_io::read_fields).
template <typename T>
void nested(const json& j, const std::string& key, T& value, const std::string& where) {
  if (j.contains(key) && !j.at(key).is_null()) value = json_io::read_fields(j.at(key), str(where, ": ", key), value);
}

}  // namespace

CampaignConfig CampaignConfig::from_json(const json& j, const std::string& where, const CampaignConfig& base) {
  json_io::only_fields(j, all_keys(), where);
  CampaignConfig c = base;
  // The acquisition keys: absent ones keep base's values, except that an
  // absent acquisition follows the outcomes (qlognehvi for several
  // objectives) unless base named one for the same outcomes.
  const bool same_outcomes = !j.contains("outcomes") || j.at("outcomes").is_null();
  json acq = json::object();
  for (const auto& k : acquisition_spec_keys())
    if (j.contains(k)) acq[k] = j.at(k);
  if (!acq.contains("acquisition") && same_outcomes) acq["acquisition"] = to_string(base.acquisition.kind);
  c.acquisition = acquisition_spec_from_json(acq, where, base.acquisition);
  c.surrogate = optional(j, "surrogate", c.surrogate, where);
  c.n_init = optional(j, "n_init", c.n_init, where);
  c.refit.full_refit_every = optional(j, "full_refit_every", c.refit.full_refit_every, where);
  c.refit.keep_hyperparameters_from = optional(j, "keep_hyperparameters_from", c.refit.keep_hyperparameters_from, where);
  nested(j, "gp", c.gp, where);
  nested(j, "gnn", c.gnn, where);
  nested(j, "optimizer", c.optimizer, where);
  nested(j, "transfer", c.transfer, where);
  c.validate(where);
  return c;
}

CampaignConfig CampaignConfig::from_json(const json& j, const std::string& where) {
  return from_json(j, where, CampaignConfig{});
}

json CampaignConfig::to_json() const {
  json j = acquisition_spec_to_json(acquisition);
  j["surrogate"] = surrogate;
  j["n_init"] = n_init;
  j["full_refit_every"] = refit.full_refit_every;
  j["keep_hyperparameters_from"] = refit.keep_hyperparameters_from;
  j["gp"] = gp;
  j["gnn"] = gnn;
  j["optimizer"] = optimizer;
  j["transfer"] = transfer;
  return j;
}

void CampaignConfig::validate(const std::string& where) const {
  sozai::validate(acquisition, where);
  SOZAI_CHECK(surrogate == "gp" || surrogate == "random" || surrogate == "gnn" || surrogate == "gnn-dkl" ||
                  surrogate == "gp-pretrained",
              where, ": unknown surrogate '", surrogate, "'; expected gp, random, gnn, gnn-dkl or gp-pretrained");
  SOZAI_CHECK(surrogate != "gp-pretrained" || !gnn.pretrained.empty(), where,
              ": surrogate 'gp-pretrained' needs gnn.pretrained, the pretrained network whose embedding the GP ",
              "uses (e.g. \"composition-mp\")");
  SOZAI_CHECK(n_init >= 0, where, ": n_init must be >= 0, got ", n_init);
  SOZAI_CHECK(refit.full_refit_every >= 1 && refit.keep_hyperparameters_from >= 1, where,
              ": full_refit_every and keep_hyperparameters_from must be >= 1, got ", refit.full_refit_every, " and ",
              refit.keep_hyperparameters_from);
  try {
    covariance_kind_from_string(gp.kernel);
    OutcomeTransform check(OutcomeTransformConfig{gp.outcome_transform});
  } catch (const InputError& e) {
    throw InputError(str(where, ": gp: ", e.what()));
  }
  SOZAI_CHECK(gp.restarts >= 1 && gp.max_iter >= 1, where, ": gp: restarts and max_iter must be >= 1");
  SOZAI_CHECK(gp.lengthscale_min > 0 && gp.lengthscale_min < gp.lengthscale_max && gp.outputscale_min > 0 &&
                  gp.outputscale_min < gp.outputscale_max && gp.noise_min > 0 && gp.noise_min < gp.noise_max,
              where, ": gp: each hyperparameter bound must be > 0 and below its maximum");
  SOZAI_CHECK(gnn.n_members >= 1 && gnn.hidden >= 1 && gnn.layers >= 1 && gnn.max_epochs >= 0 && gnn.dkl_dims >= 1,
              where, ": gnn settings: n_members, hidden, layers and dkl_dims must be >= 1 and max_epochs >= 0");
  SOZAI_CHECK(optimizer.restarts >= 1 && optimizer.raw_samples >= 1 && optimizer.max_iter >= 1 &&
                  optimizer.history >= 1 && optimizer.rounds >= 1,
              where, ": optimizer settings: restarts, raw_samples, max_iter, history and rounds must be >= 1");
  transfer.validate(str(where, ": transfer"));
  SOZAI_CHECK(transfer.prior_belief == 0 || weighable_acquisition(acquisition.kind), where,
              ": transfer.prior_belief weighs the acquisition's values by the priors' belief, which needs an ",
              "acquisition whose values are logs (qlognei, logei) or nonnegative (ei, pi), not '",
              to_string(acquisition.kind), "'");
  const bool modelled_per_outcome = surrogate == "gp" || surrogate == "random";
  SOZAI_CHECK(outcomes().size() == 1 || modelled_per_outcome, where, ": a campaign with several outcomes models each "
              "with a GP: surrogate must be gp or random, not '", surrogate, "'");
  SOZAI_CHECK(!multi_fidelity() || modelled_per_outcome, where, ": a multi-fidelity campaign models the fidelities "
              "with a multi-task GP: surrogate must be gp or random, not '", surrogate, "'");
}

CampaignConfig config_from_saved_state(const json& state, int version, const std::string& origin) {
  if (!state.contains("config") || !state.at("config").is_object())
    throw StorageError(str(origin, ": campaign state has no field 'config'"));
  json c = state.at("config");
  if (version == 1) {
    // Version 1 kept outcomes as text and a single objective's direction
    // in the state's "maximize"; it ran plain AEI (no target-first, no cap).
    const bool maximize = json_io::required<bool, StorageError>(state, "maximize", origin);
    json outcomes = json::array();
    try {
      for (const auto& o : json_io::optional<std::vector<std::string>, StorageError>(c, "outcomes", {}, origin))
        outcomes.push_back(outcome_to_json(outcome_from_legacy_text(o, str(origin, ": config.outcomes"))));
    } catch (const InputError& e) {
      throw StorageError(e.what());
    }
    if (outcomes.empty()) outcomes.push_back(outcome_to_json(maximize ? Outcome::maximize() : Outcome::minimize()));
    c["outcomes"] = outcomes;
    if (!c.contains("aei_target_first")) c["aei_target_first"] = false;
    if (!c.contains("aei_max_cheap_share")) c["aei_max_cheap_share"] = 1.0;
    // Settings that version 1 stored but no longer exist.
    if (c.contains("gp")) c["gp"].erase("seed");
  }
  try {
    return CampaignConfig::from_json(c, str(origin, ": config"));
  } catch (const InputError& e) {
    throw StorageError(e.what());
  }
}

}  // namespace sozai
