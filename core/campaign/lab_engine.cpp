#include "core/campaign/lab_engine.h"
#include "core/campaign/campaign_common.h"
#include "common/error.h"
#include "core/space/design_space_json.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

namespace sozai {

namespace {

using nlohmann::json;

const std::set<std::string> kDescriptionFields = {"name",     "parameters", "constraints", "forbidden_elements",
                                                  "critical_budget", "objectives", "pool", "surrogate",
                                                  "acquisition", "n_init", "seed", "ref_point", "mc_samples"};

std::string kind_of(const json& v) { return v.type_name(); }

/// The outcome spec string (outcome_from_string) of objectives[i].
std::string outcome_spec(const json& o, const std::string& where, std::string* name) {
  if (!o.is_object()) throw InputError(str(where, ": must be an object {name, direction}, got ", kind_of(o)));
  for (auto it = o.begin(); it != o.end(); ++it)
    if (it.key() != "name" && it.key() != "direction" && it.key() != "limit")
      throw InputError(str(where, ": unknown field '", it.key(), "' (expected name, direction, limit)"));
  if (!o.contains("name") || !o.at("name").is_string() || o.at("name").get<std::string>().empty())
    throw InputError(str(where, ": 'name' must be a non-empty string"));
  *name = o.at("name").get<std::string>();
  const std::string dir = o.contains("direction") && o.at("direction").is_string()
                              ? o.at("direction").get<std::string>() : std::string("?");
  if (dir == "maximize" || dir == "minimize") {
    if (o.contains("limit")) throw InputError(str(where, ": 'limit' belongs to at_most / at_least outcomes"));
    return dir == "maximize" ? "max" : "min";
  }
  if (dir == "at_most" || dir == "at_least") {
    if (!o.contains("limit") || !o.at("limit").is_number() || !std::isfinite(o.at("limit").get<double>()))
      throw InputError(str(where, ": direction '", dir, "' needs a finite number 'limit'"));
    std::ostringstream s;
    s.precision(17);
    s << (dir == "at_most" ? "<= " : ">= ") << o.at("limit").get<double>();
    return s.str();
  }
  throw InputError(str(where, ": direction must be maximize, minimize, at_most or at_least, got ",
                       o.contains("direction") ? o.at("direction").dump() : std::string("nothing")));
}

template <typename T>
T optional_field(const json& d, const std::string& key, const T& fallback, const char* expected) {
  if (!d.contains(key) || d.at(key).is_null()) return fallback;
  try {
    return d.at(key).get<T>();
  } catch (const json::exception&) {
    throw InputError(str("'", key, "' must be ", expected, ", got ", d.at(key).dump()));
  }
}

}  // namespace

void LabEngine::build(const json& d, bool fresh) {
  if (!d.is_object()) throw InputError(str("a campaign must be a JSON object, got ", kind_of(d)));
  for (auto it = d.begin(); it != d.end(); ++it)
    if (!kDescriptionFields.count(it.key())) throw InputError(str("unknown field '", it.key(), "'"));
  if (!d.contains("name") || !d.at("name").is_string() || d.at("name").get<std::string>().empty())
    throw InputError("'name' must be a non-empty string");
  json space_json = json::object();
  for (const char* k : {"parameters", "constraints", "forbidden_elements", "critical_budget"})
    if (d.contains(k)) space_json[k] = d.at(k);
  space_ = space_from_json(space_json, "campaign");

  if (!d.contains("objectives") || !d.at("objectives").is_array() || d.at("objectives").empty())
    throw InputError("'objectives' must be a non-empty array of {name, direction}");
  std::vector<std::string> specs;
  std::set<std::string> seen;
  outcome_names_.clear();
  bool any_objective = false;
  for (size_t i = 0; i < d.at("objectives").size(); ++i) {
    std::string name;
    specs.push_back(outcome_spec(d.at("objectives")[i], str("objectives[", i, "]"), &name));
    if (!seen.insert(name).second) throw InputError(str("objectives[", i, "]: name '", name, "' is used twice"));
    outcome_names_.push_back(name);
    any_objective |= specs.back() == "max" || specs.back() == "min";
  }
  if (!any_objective) throw InputError("'objectives': at least one must be maximize or minimize");

  CampaignConfig cfg;
  const bool single = specs.size() == 1;
  const bool maximize = specs.front() == "max";
  if (!single) cfg.outcomes = specs;
  cfg.surrogate = optional_field<std::string>(d, "surrogate", "gp", "\"gp\" or \"random\"");
  if (cfg.surrogate != "gp" && cfg.surrogate != "random")
    throw InputError(str("'surrogate' must be gp or random, got '", cfg.surrogate, "'"));
  const auto objectives = std::count_if(specs.begin(), specs.end(), [](const std::string& s) {
    return s == "max" || s == "min";
  });
  // Several robots ask at once, and simultaneous asks are answered as one
  // batch: qLogNEI scores a batch jointly (and at q = 16 costs a third of
  // Kriging-believer LogEI in a continuous space).
  const char* default_acquisition = objectives == 1 ? "qlognei" : "qlognehvi";
  cfg.acquisition = optional_field<std::string>(d, "acquisition", default_acquisition, "a string");
  cfg.n_init = optional_field<int64_t>(d, "n_init", 4, "a whole number");
  cfg.seed = optional_field<uint64_t>(d, "seed", 0, "a non-negative whole number");
  cfg.mc_samples = optional_field<int64_t>(d, "mc_samples", 128, "a whole number");
  cfg.ref_point = optional_field<std::vector<double>>(d, "ref_point", {}, "an array of numbers");

  description_ = d;
  description_["surrogate"] = cfg.surrogate;
  description_["acquisition"] = cfg.acquisition;
  description_["n_init"] = cfg.n_init;
  description_["seed"] = cfg.seed;

  pool_raw_.clear();
  if (d.contains("pool") && !d.at("pool").is_null()) {
    const auto& pool = d.at("pool");
    if (!pool.is_array() || pool.empty()) throw InputError("'pool' must be a non-empty array of parameter objects");
    for (size_t i = 0; i < pool.size(); ++i)
      pool_raw_.push_back(candidate_from_json(space_, pool[i], str("pool[", i, "]")));
  }
  if (!fresh) return;
  try {
    if (!pool_raw_.empty()) {
      auto raw = torch::empty({static_cast<int64_t>(pool_raw_.size()), space_.raw_width()}, torch::kFloat64);
      for (size_t r = 0; r < pool_raw_.size(); ++r)
        std::copy(pool_raw_[r].begin(), pool_raw_[r].end(), raw[r].data_ptr<double>());
      pool_ = std::make_unique<PoolCampaign>(space_.encode(raw), maximize, cfg);
    } else {
      campaign_ = std::make_unique<SpaceCampaign>(space_, maximize, cfg);
    }
  } catch (const InputError& e) {
    throw InputError(str("settings: ", e.what()));
  }
}

LabEngine LabEngine::create(const json& description) {
  LabEngine e;
  e.build(description, true);
  return e;
}

std::string LabEngine::state() const {
  json j{{"format", "sozai.lab_engine"}, {"version", 1}, {"description", description_}};
  j["engine"] = json::parse(pool_ ? pool_->to_json() : campaign_->to_json());
  return j.dump();
}

LabEngine LabEngine::from_state(const std::string& text, const std::string& origin) {
  const auto j = campaign_detail::parse_state(text, origin);
  if (!j.is_object() || j.value("format", "") != "sozai.lab_engine")
    throw StorageError(str(origin, ": not a sozai lab campaign state"));
  if (!j.contains("description") || !j.contains("engine"))
    throw StorageError(str(origin, ": lab campaign state needs 'description' and 'engine'"));
  LabEngine e;
  try {
    e.build(j.at("description"), false);
  } catch (const InputError& err) {
    throw StorageError(str(origin, ": saved description: ", err.what()));
  }
  const auto engine = j.at("engine").dump();
  if (e.pool_raw_.empty())
    e.campaign_ = std::make_unique<SpaceCampaign>(SpaceCampaign::from_json(engine, origin));
  else
    e.pool_ = std::make_unique<PoolCampaign>(PoolCampaign::from_json(engine, origin));
  return e;
}

int64_t LabEngine::num_observed() const {
  return pool_ ? static_cast<int64_t>(pool_->observed_indices().size()) : campaign_->num_observed();
}

std::vector<LabProposal> LabEngine::ask(int64_t q) {
  std::vector<LabProposal> out;
  if (pool_) {
    for (auto r : pool_->ask(q)) {
      LabProposal p;
      p.raw = pool_raw_[r];
      p.pool_row = r;
      p.parameters = candidate_to_json(space_, p.raw.data());
      out.push_back(std::move(p));
    }
    return out;
  }
  auto picks = campaign_->ask(q);
  for (int64_t i = 0; i < picks.size(0); ++i) {
    LabProposal p;
    const double* v = picks[i].data_ptr<double>();
    p.raw.assign(v, v + picks.size(1));
    p.parameters = candidate_to_json(space_, v);
    out.push_back(std::move(p));
  }
  return out;
}

void LabEngine::tell(const LabProposal& p, const std::vector<double>& values) {
  if (pool_) {
    SOZAI_CHECK(p.pool_row >= 0, "LabEngine::tell: a pool campaign records results of pool rows");
    pool_->tell(std::vector<int64_t>{p.pool_row}, values);
  } else {
    campaign_->tell_outcomes(p.raw, values);
  }
}

void LabEngine::cancel(const LabProposal& p) {
  if (pool_) pool_->cancel(p.pool_row);
  else campaign_->cancel(p.raw);
}

std::vector<std::string> lab_objective_names(const json& description) {
  std::vector<std::string> out;
  for (const auto& o : description.at("objectives")) out.push_back(o.at("name").get<std::string>());
  return out;
}

std::vector<double> lab_values_from_json(const std::vector<std::string>& names, const json& values,
                                         const std::string& origin) {
  if (!values.is_object())
    throw InputError(str(origin, ": must be an object {objective: number}, got ", kind_of(values)));
  for (auto it = values.begin(); it != values.end(); ++it)
    if (std::find(names.begin(), names.end(), it.key()) == names.end())
      throw InputError(str(origin, ": unknown objective '", it.key(), "'"));
  std::vector<double> out;
  for (const auto& name : names) {
    if (!values.contains(name)) throw InputError(str(origin, ": objective '", name, "' is missing"));
    const auto& v = values.at(name);
    if (!v.is_number()) throw InputError(str(origin, ": '", name, "' must be a number, got ", kind_of(v)));
    const double x = v.get<double>();
    if (!std::isfinite(x)) throw InputError(str(origin, ": '", name, "' is not finite"));
    out.push_back(x);
  }
  return out;
}

json lab_best(const json& description, const std::vector<json>& parameters,
              const std::vector<std::vector<double>>& values) {
  if (values.empty()) return nullptr;
  const auto names = lab_objective_names(description);
  std::vector<Outcome> outcomes;
  for (size_t i = 0; i < names.size(); ++i) {
    std::string name;
    outcomes.push_back(outcome_from_string(outcome_spec(description.at("objectives")[i], "objectives", &name)));
  }
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
