#include "core/campaign/lab_engine.h"
#include "core/bo/registry.h"
#include "core/campaign/campaign_common.h"
#include "core/campaign/pool_campaign.h"
#include "core/campaign/space_campaign.h"
#include "common/error.h"
#include "common/json.h"
#include "core/space/design_space_json.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace sozai {

namespace {

using nlohmann::json;

const std::set<std::string> kSpaceFields = {"parameters", "constraints", "forbidden_elements", "critical_budget"};
/// Description fields that are campaign settings (campaign_config.h).
const std::set<std::string> kSettingFields = {"surrogate", "acquisition", "n_init", "seed", "ref_point", "mc_samples"};

std::set<std::string> description_fields() {
  std::set<std::string> all = {"name", "objectives", "pool"};
  all.insert(kSpaceFields.begin(), kSpaceFields.end());
  all.insert(kSettingFields.begin(), kSettingFields.end());
  return all;
}

}  // namespace

CampaignConfig LabEngine::build(const json& d) {
  json_io::only_fields(d, description_fields(), "campaign");
  if (!d.contains("name") || !d.at("name").is_string() || d.at("name").get<std::string>().empty())
    throw InputError("'name' must be a non-empty string");
  json space_json = json::object();
  for (const auto& k : kSpaceFields)
    if (d.contains(k)) space_json[k] = d.at(k);
  space_ = space_from_json(space_json, "campaign");

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

LabEngine LabEngine::create(const json& description) {
  LabEngine e;
  const auto cfg = e.build(description);
  try {
    if (e.has_pool()) {
      auto raw = torch::empty({static_cast<int64_t>(e.pool_raw_.size()), e.space_.raw_width()}, torch::kFloat64);
      for (size_t r = 0; r < e.pool_raw_.size(); ++r)
        std::copy(e.pool_raw_[r].begin(), e.pool_raw_[r].end(), raw[r].data_ptr<double>());
      e.campaign_ = std::make_unique<PoolCampaign>(e.space_.encode(raw), cfg);
    } else {
      e.campaign_ = std::make_unique<SpaceCampaign>(e.space_, cfg);
    }
  } catch (const InputError& err) {
    throw InputError(str("settings: ", err.what()));
  }
  return e;
}

std::string LabEngine::state() const {
  json j{{"format", "sozai.lab_engine"}, {"version", kCampaignStateVersion}, {"description", description_}};
  j["engine"] = json::parse(campaign_->to_json());
  return j.dump();
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
  return e;
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
