#include "core/campaign/lab_engine.h"
#include "core/bo/registry.h"
#include "core/campaign/campaign_common.h"
#include "core/campaign/pool_campaign.h"
#include "core/campaign/space_campaign.h"
#include "common/error.h"
#include "common/json.h"
#include "common/strings.h"
#include "core/space/design_space_json.h"

#include <algorithm>
#include <map>
#include <cmath>
#include <set>

namespace sozai {

namespace {

using nlohmann::json;

const std::set<std::string> kSpaceFields = {"parameters", "constraints", "forbidden_elements", "critical_budget"};
/// Description fields that are campaign settings (campaign_config.h).
const std::set<std::string> kSettingFields = {"surrogate", "acquisition", "n_init", "seed", "ref_point", "mc_samples",
                                              "transfer"};

std::set<std::string> description_fields() {
  std::set<std::string> all = {"name", "objectives", "pool", "priors"};
  all.insert(kSpaceFields.begin(), kSpaceFields.end());
  all.insert(kSettingFields.begin(), kSettingFields.end());
  return all;
}

/// The ids a description's "priors" names; InputError for anything but an
/// array of distinct non-empty strings.
std::vector<std::string> prior_ids(const json& d) {
  std::vector<std::string> ids;
  if (!d.contains("priors") || d.at("priors").is_null()) return ids;
  const auto& p = d.at("priors");
  if (!p.is_array()) throw InputError(str("'priors' must be an array of campaign ids, got ", p.type_name()));
  for (size_t i = 0; i < p.size(); ++i) {
    if (!p[i].is_string() || p[i].get<std::string>().empty())
      throw InputError(str("priors[", i, "]: must be a campaign id (a non-empty string), got ", p[i].type_name()));
    const auto id = p[i].get<std::string>();
    if (std::find(ids.begin(), ids.end(), id) != ids.end())
      throw InputError(str("priors[", i, "]: campaign '", id, "' is named twice"));
    ids.push_back(id);
  }
  return ids;
}

json space_fields(const json& d) {
  json space_json = json::object();
  for (const auto& k : kSpaceFields)
    if (d.contains(k)) space_json[k] = d.at(k);
  return space_json;
}

/// The results of an earlier campaign as a Prior of `objective`: the
/// objective of that name, or its only objective.
Prior prior_of(const LabPriorSource& src, const std::string& objective) {
  const std::string who = str("priors: campaign '", src.id, "'");
  const auto space = space_from_json(space_fields(src.description), who);
  const auto outcomes = outcomes_from_json(src.description.at("objectives"), who, true);
  const Outcome* use = nullptr;
  for (const auto& o : outcomes)
    if (o.name == objective) use = &o;
  if (!use && outcomes.size() == 1) use = &outcomes.front();
  if (!use) {
    std::vector<std::string> names;
    for (const auto& o : outcomes) names.push_back(o.name);
    throw InputError(str(who, " has objectives ", join(names), "; none is named '", objective, "'"));
  }
  if (!use->is_objective())
    throw InputError(str(who, ": '", use->name, "' is a limit (", to_string(use->direction), "), not an objective"));
  const int64_t n = static_cast<int64_t>(src.parameters.size());
  if (n < 2) throw InputError(str(who, " has ", n, " completed result(s); a prior needs at least 2"));
  auto raw = torch::empty({n, space.raw_width()}, torch::kFloat64);
  std::vector<double> y;
  for (int64_t r = 0; r < n; ++r) {
    const auto v = candidate_from_json(space, src.parameters[r], str(who, " result ", r));
    std::copy(v.begin(), v.end(), raw[r].data_ptr<double>());
    y.push_back(src.values[r].at(use->name).get<double>());
  }
  const auto names = natural_columns(space);
  const auto X = natural_table(space, raw);
  return Prior(X, torch::tensor(y, torch::kFloat64), names, use->maximizes(), "lab:" + src.id);
}

json prior_to_json(const Prior& p) {
  json rows = json::array();
  for (int64_t r = 0; r < p.rows(); ++r)
    rows.push_back(std::vector<double>(p.X[r].data_ptr<double>(), p.X[r].data_ptr<double>() + p.X.size(1)));
  return {{"name", p.name},
          {"columns", p.columns},
          {"maximize", p.maximize},
          {"X", rows},
          {"y", std::vector<double>(p.y.data_ptr<double>(), p.y.data_ptr<double>() + p.rows())}};
}

Prior prior_from_json(const json& j, const std::string& origin) {
  try {
    const auto rows = j.at("X").get<std::vector<std::vector<double>>>();
    const auto columns = j.at("columns").get<std::vector<std::string>>();
    auto X = torch::empty({static_cast<int64_t>(rows.size()), static_cast<int64_t>(columns.size())}, torch::kFloat64);
    for (size_t r = 0; r < rows.size(); ++r) {
      if (rows[r].size() != columns.size()) throw StorageError(str(origin, ": prior row ", r, " has the wrong width"));
      std::copy(rows[r].begin(), rows[r].end(), X[r].data_ptr<double>());
    }
    return Prior(X, torch::tensor(j.at("y").get<std::vector<double>>(), torch::kFloat64), columns,
                 j.at("maximize").get<bool>(), j.at("name").get<std::string>());
  } catch (const json::exception& e) {
    throw StorageError(str(origin, ": saved prior: ", e.what()));
  } catch (const InputError& e) {
    throw StorageError(str(origin, ": saved prior: ", e.what()));
  }
}

}  // namespace

CampaignConfig LabEngine::build(const json& d) {
  json_io::only_fields(d, description_fields(), "campaign");
  if (!d.contains("name") || !d.at("name").is_string() || d.at("name").get<std::string>().empty())
    throw InputError("'name' must be a non-empty string");
  space_ = space_from_json(space_fields(d), "campaign");

  if (!d.contains("objectives")) throw InputError("'objectives' must be a non-empty array of {name, direction}");
  const auto outcomes = outcomes_from_json(d.at("objectives"), "objectives", /*require_name=*/true);
  outcome_names_.clear();
  for (const auto& o : outcomes) outcome_names_.push_back(o.name);

  json settings{{"outcomes", outcomes_to_json(outcomes)}};
  for (const auto& k : kSettingFields)
    if (d.contains(k) && !d.at(k).is_null()) settings[k] = d.at(k);
  const auto cfg = CampaignConfig::from_json(settings, "settings");
  if (cfg.surrogate != "gp" && cfg.surrogate != "random")
    throw InputError(str("settings: a lab campaign's surrogate must be gp or random, got '", cfg.surrogate, "'"));

  description_ = d;
  description_["surrogate"] = cfg.surrogate;
  description_["acquisition"] = to_string(cfg.acquisition.kind);
  description_["n_init"] = cfg.n_init;
  description_["seed"] = cfg.seed();

  pool_raw_.clear();
  if (d.contains("pool") && !d.at("pool").is_null()) {
    const auto& pool = d.at("pool");
    if (!pool.is_array() || pool.empty()) throw InputError("'pool' must be a non-empty array of parameter objects");
    for (size_t i = 0; i < pool.size(); ++i)
      pool_raw_.push_back(candidate_from_json(space_, pool[i], str("pool[", i, "]")));
  }
  return cfg;
}

LabEngine LabEngine::create(const json& description, const std::vector<LabPriorSource>& priors) {
  LabEngine e;
  const auto cfg = e.build(description);
  const auto ids = prior_ids(description);
  SOZAI_CHECK(ids.size() == priors.size(), "priors: ", ids.size(), " campaign id(s) named, ", priors.size(),
              " resolved");
  std::vector<Prior> tables;  // a snapshot of the prior campaigns' results; the state keeps it
  if (!ids.empty()) {
    if (e.outcome_names_.size() != 1 || cfg.surrogate != "gp")
      throw InputError("priors: inform campaigns of one objective with surrogate gp");
    for (size_t k = 0; k < ids.size(); ++k) {
      SOZAI_CHECK(priors[k].id == ids[k], "priors[", k, "]: resolved campaign '", priors[k].id, "' for '", ids[k], "'");
      tables.push_back(prior_of(priors[k], e.outcome_names_.front()));
    }
  }
  try {
    if (e.has_pool()) {
      auto raw = torch::empty({static_cast<int64_t>(e.pool_raw_.size()), e.space_.raw_width()}, torch::kFloat64);
      for (size_t r = 0; r < e.pool_raw_.size(); ++r)
        std::copy(e.pool_raw_[r].begin(), e.pool_raw_[r].end(), raw[r].data_ptr<double>());
      if (tables.empty()) {
        e.campaign_ = std::make_unique<PoolCampaign>(e.space_.encode(raw), cfg);
      } else {  // natural units on both sides; the transfer models normalise the inputs themselves
        e.campaign_ = std::make_unique<PoolCampaign>(natural_table(e.space_, raw), natural_columns(e.space_),
                                                      std::move(tables), cfg);
      }
    } else {
      e.campaign_ = std::make_unique<SpaceCampaign>(e.space_, std::move(tables), cfg);
    }
  } catch (const InputError& err) {
    throw InputError(str("settings: ", err.what()));
  }
  return e;
}

std::string LabEngine::state() const {
  // The text json::dump writes for {"description", "engine", "format",
  // "priors", "version"} (keys in its order), put together from parts: the
  // description and the prior tables never change after creation and are
  // written once, and the campaign's own text goes in as it is (a lab
  // service writes the state after every ask; with two 2000-row priors,
  // parsing and writing it all again took longer than the ask's model fit).
  if (description_text_.empty()) description_text_ = description_.dump();
  const auto& priors = this->priors();
  if (!priors.empty() && priors_text_.empty()) {
    json tables = json::array();
    for (const auto& p : priors) tables.push_back(prior_to_json(p));
    priors_text_ = tables.dump();
  }
  const std::string engine = campaign_->to_json();
  std::string out;
  out.reserve(description_text_.size() + engine.size() + priors_text_.size() + 96);
  out += "{\"description\":";
  out += description_text_;
  out += ",\"engine\":";
  out += engine;
  out += ",\"format\":\"sozai.lab_engine\"";
  if (!priors.empty()) {
    out += ",\"priors\":";
    out += priors_text_;
  }
  out += ",\"version\":" + std::to_string(kCampaignStateVersion) + "}";
  return out;
}

LabEngine LabEngine::from_state(const std::string& text, const std::string& origin) {
  const auto j = json_io::parse<StorageError>(text, origin);
  if (!j.is_object() || j.value("format", "") != "sozai.lab_engine")
    throw StorageError(str(origin, ": not a sozai lab campaign state"));
  if (!j.contains("description") || !j.contains("engine"))
    throw StorageError(str(origin, ": lab campaign state needs 'description' and 'engine'"));
  LabEngine e;
  try {
    e.build(j.at("description"));
  } catch (const InputError& err) {
    throw StorageError(str(origin, ": saved description: ", err.what()));
  }
  e.campaign_ = Campaign::from_json(j.at("engine").dump(), origin);
  if (j.contains("priors")) {
    if (!j.at("priors").is_array()) throw StorageError(str(origin, ": priors must be an array"));
    std::vector<Prior> tables;
    for (const auto& p : j.at("priors")) tables.push_back(prior_from_json(p, origin));
    try {
      if (auto* pool = dynamic_cast<PoolCampaign*>(e.campaign_.get()))
        pool->attach_priors(std::move(tables));
      else
        dynamic_cast<SpaceCampaign&>(*e.campaign_).attach_priors(std::move(tables));
    } catch (const InputError& err) {
      throw StorageError(str(origin, ": ", err.what()));
    }
  }
  return e;
}

const std::vector<Prior>& LabEngine::priors() const {
  static const std::vector<Prior> none;
  if (const auto* pool = dynamic_cast<const PoolCampaign*>(campaign_.get())) return pool->priors();
  if (const auto* space = dynamic_cast<const SpaceCampaign*>(campaign_.get())) return space->priors();
  return none;
}

Candidates LabEngine::candidates_of(const LabProposal& p) const {
  auto raw = torch::tensor(p.raw, torch::kFloat64).unsqueeze(0);
  if (has_pool()) {
    SOZAI_CHECK(p.pool_row >= 0, "LabEngine: a pool campaign records results of pool rows");
    return Candidates(space_.encode(raw), {p.pool_row});
  }
  return Candidates(raw);
}

std::vector<LabProposal> LabEngine::ask(int64_t q) {
  const auto picks = campaign_->ask(q);
  std::vector<LabProposal> out;
  for (int64_t i = 0; i < picks.size(); ++i) {
    LabProposal p;
    if (has_pool()) {
      p.pool_row = picks.rows[i];
      p.raw = pool_raw_[p.pool_row];
    } else {
      const double* v = picks.X[i].data_ptr<double>();
      p.raw.assign(v, v + picks.X.size(1));
    }
    p.parameters = candidate_to_json(space_, p.raw.data());
    out.push_back(std::move(p));
  }
  return out;
}

void LabEngine::tell(const LabProposal& p, const std::vector<double>& values) {
  campaign_->tell(candidates_of(p), torch::tensor(values, torch::kFloat64).unsqueeze(0));
}

void LabEngine::cancel(const LabProposal& p) { campaign_->cancel(candidates_of(p)); }

std::vector<std::string> lab_objective_names(const json& description) {
  std::vector<std::string> out;
  for (const auto& o : description.at("objectives")) out.push_back(o.at("name").get<std::string>());
  return out;
}

std::vector<double> lab_values_from_json(const std::vector<std::string>& names, const json& values,
                                         const std::string& origin) {
  if (!values.is_object())
    throw InputError(str(origin, ": must be an object {objective: number}, got ", values.type_name()));
  for (auto it = values.begin(); it != values.end(); ++it)
    if (std::find(names.begin(), names.end(), it.key()) == names.end())
      throw InputError(str(origin, ": unknown objective '", it.key(), "'"));
  std::vector<double> out;
  for (const auto& name : names) {
    if (!values.contains(name)) throw InputError(str(origin, ": objective '", name, "' is missing"));
    const auto& v = values.at(name);
    if (!v.is_number()) throw InputError(str(origin, ": '", name, "' must be a number, got ", v.type_name()));
    const double x = v.get<double>();
    if (!std::isfinite(x)) throw InputError(str(origin, ": '", name, "' is not finite"));
    out.push_back(x);
  }
  return out;
}

json lab_best(const json& description, const std::vector<json>& parameters,
              const std::vector<std::vector<double>>& values) {
  if (values.empty()) return nullptr;
  const auto outcomes = outcomes_from_json(description.at("objectives"), "objectives", true);
  const auto names = lab_objective_names(description);
  auto Y = torch::empty({static_cast<int64_t>(values.size()), static_cast<int64_t>(names.size())}, torch::kFloat64);
  for (size_t r = 0; r < values.size(); ++r) std::copy(values[r].begin(), values[r].end(), Y[r].data_ptr<double>());
  auto rows = campaign_detail::feasible_front(Y, outcomes);
  if (rows.empty()) return nullptr;
  json out = json::array();
  for (auto k : rows) {
    json v = json::object();
    for (size_t j = 0; j < names.size(); ++j) v[names[j]] = values[k][j];
    out.push_back({{"parameters", parameters[k]}, {"values", v}});
    if (names.size() == 1) return out.front();  // one objective: the first best row
  }
  return out;
}

}  // namespace sozai
