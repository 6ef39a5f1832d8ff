#include "core/campaign/space_campaign.h"
#include "core/bo/space_batch.h"
#include "core/campaign/campaign_common.h"
#include "common/error.h"
#include "core/space/design_space_json.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace sozai {

using namespace campaign_detail;

namespace {

torch::Tensor rows_tensor(const std::vector<std::vector<double>>& rows, int64_t width) {
  auto out = torch::empty({static_cast<int64_t>(rows.size()), width}, torch::kFloat64);
  for (size_t r = 0; r < rows.size(); ++r) std::copy(rows[r].begin(), rows[r].end(), out[r].data_ptr<double>());
  return out;
}

bool same_candidate(const double* a, const double* b, int64_t w) {
  for (int64_t i = 0; i < w; ++i)
    if (std::fabs(a[i] - b[i]) > 1e-9 * (1.0 + std::fabs(b[i]))) return false;
  return true;
}

}  // namespace

SpaceCampaign::SpaceCampaign(DesignSpace space, bool maximize, CampaignConfig config)
    : space_(std::move(space)), maximize_(maximize), config_(std::move(config)) {
  SOZAI_CHECK(!space_.parameters().empty(), "SpaceCampaign: the design space has no parameters");
  check_config(config_);
  SOZAI_CHECK(config_.fidelity_costs.empty(), "SpaceCampaign: multi-fidelity campaigns run over pools "
              "(PoolCampaign with fidelity_costs)");
  SOZAI_CHECK(config_.surrogate == "gp" || config_.surrogate == "random", "SpaceCampaign: surrogate must be gp or "
              "random, not '", config_.surrogate, "' (graph surrogates model pools of graphs: PoolCampaign)");
  outcomes_ = campaign_outcomes(config_, maximize_);
}

int64_t SpaceCampaign::find_pending(const double* c) const {
  for (size_t i = 0; i < pending_.size(); ++i)
    if (same_candidate(pending_[i].data(), c, space_.raw_width())) return static_cast<int64_t>(i);
  return -1;
}

torch::Tensor SpaceCampaign::observed_candidates() const { return rows_tensor(observed_, space_.raw_width()); }

torch::Tensor SpaceCampaign::pending() const { return rows_tensor(pending_, space_.raw_width()); }

torch::Tensor SpaceCampaign::observed_outcomes() const {
  return torch::tensor(values_, torch::kFloat64).reshape({num_observed(), num_outcomes()});
}

torch::Tensor SpaceCampaign::random_candidates(int64_t q, uint64_t seed) const {
  try {
    return space_.sample(q, seed, /*sobol=*/true);
  } catch (const InputError&) {
    // An equality constraint has measure zero in the box: project instead.
    auto starts = space_.sample_unconstrained(q, seed);
    std::vector<torch::Tensor> rows;
    for (int64_t i = 0; i < q; ++i) {
      auto c = project_to_space(space_, starts[i]).contiguous();
      const auto why = space_.violation(c.data_ptr<double>());
      SOZAI_CHECK(why.empty(), "SpaceCampaign::ask: found no feasible starting candidate (", why, ")");
      rows.push_back(c);
    }
    return torch::stack(rows);
  }
}

torch::Tensor SpaceCampaign::fit_and_select(int64_t q, uint64_t seed) {
  auto X = observed_candidates();
  auto E = space_.encode(X);
  auto Y = observed_outcomes();
  const auto bounds = space_.encoded_bounds();
  auto fit = fit_outcome_gps(config_, E, Y, hypers_, seed, ask_count_, bounds[0], bounds[1]);
  const auto spec = acquisition_spec(config_, maximize_, seed);
  OptimizeConfig oc = config_.optimizer;
  oc.seed = seed;
  const bool several = num_outcomes() > 1;
  auto picks = select_batch_in_space(space_, fit.models, X, Y, q, spec,
                                     several ? outcomes_ : std::vector<Outcome>{}, config_.ref_point, pending(), oc);
  hypers_ = fit.fitted;
  model_ = fit.gps.front();
  return picks;
}

torch::Tensor SpaceCampaign::ask(int64_t q) {
  SOZAI_CHECK(q >= 1, "SpaceCampaign::ask: q must be >= 1, got ", q);
  const uint64_t seed = ask_seed(config_.seed, ask_count_);
  torch::Tensor picks;
  if (config_.surrogate == "random" || num_observed() < std::max<int64_t>(config_.n_init, 1))
    picks = random_candidates(q, seed);
  else
    picks = fit_and_select(q, seed);
  picks = picks.to(torch::kFloat64).contiguous();
  for (int64_t i = 0; i < picks.size(0); ++i) {
    const double* p = picks[i].data_ptr<double>();
    pending_.emplace_back(p, p + space_.raw_width());
  }
  ++ask_count_;
  return picks;
}

void SpaceCampaign::tell(const torch::Tensor& candidates, const torch::Tensor& values) {
  const int64_t w = space_.raw_width(), k = num_outcomes();
  SOZAI_CHECK(candidates.defined() && candidates.dim() == 2 && candidates.size(1) == w,
              "SpaceCampaign::tell: candidates must be [n, ", w, "], got ",
              candidates.defined() ? candidates.sizes() : at::IntArrayRef{});
  const int64_t n = candidates.size(0);
  SOZAI_CHECK(values.defined() && values.numel() == n * k && (values.dim() == 2 || k == 1),
              "SpaceCampaign::tell: values must be [", n, k > 1 ? str(", ", k) : std::string(), "] (", k,
              " outcome(s) per candidate), got ", values.defined() ? values.sizes() : at::IntArrayRef{});
  auto C = candidates.to(torch::kCPU, torch::kFloat64).contiguous();
  auto V = values.to(torch::kCPU, torch::kFloat64).reshape({n, k}).contiguous();
  const double* c = C.data_ptr<double>();
  const double* v = V.data_ptr<double>();
  for (int64_t r = 0; r < n; ++r) {
    const auto why = space_.violation(c + r * w);
    SOZAI_CHECK(why.empty(), "SpaceCampaign::tell: candidate ", r, " is outside the design space: ", why);
    for (int64_t j = 0; j < k; ++j)
      SOZAI_CHECK(std::isfinite(v[r * k + j]), "SpaceCampaign::tell: value for candidate ", r,
                  k > 1 ? str(", outcome ", j) : std::string(), " is not finite (", v[r * k + j], ")");
  }
  for (int64_t r = 0; r < n; ++r) {
    observed_.emplace_back(c + r * w, c + (r + 1) * w);
    values_.insert(values_.end(), v + r * k, v + (r + 1) * k);
    const auto p = find_pending(c + r * w);
    if (p >= 0) pending_.erase(pending_.begin() + p);
  }
}

void SpaceCampaign::tell(const std::vector<double>& candidate, double value) {
  SOZAI_CHECK(num_outcomes() == 1, "SpaceCampaign::tell: the campaign has ", num_outcomes(),
              " outcomes per experiment; tell all of them (tell_outcomes)");
  tell_outcomes(candidate, {value});
}

void SpaceCampaign::tell_outcomes(const std::vector<double>& candidate, const std::vector<double>& outcomes) {
  SOZAI_CHECK(static_cast<int64_t>(candidate.size()) == space_.raw_width(), "SpaceCampaign::tell: the candidate has ",
              candidate.size(), " values, the space needs ", space_.raw_width());
  SOZAI_CHECK(static_cast<int64_t>(outcomes.size()) == num_outcomes(), "SpaceCampaign::tell_outcomes: ",
              outcomes.size(), " values for ", num_outcomes(), " outcome(s)");
  tell(torch::tensor(candidate, torch::kFloat64).unsqueeze(0),
       torch::tensor(outcomes, torch::kFloat64).unsqueeze(0));
}

void SpaceCampaign::cancel(const std::vector<double>& candidate) {
  SOZAI_CHECK(static_cast<int64_t>(candidate.size()) == space_.raw_width(), "SpaceCampaign::cancel: the candidate has ",
              candidate.size(), " values, the space needs ", space_.raw_width());
  const auto p = find_pending(candidate.data());
  SOZAI_CHECK(p >= 0, "SpaceCampaign::cancel: the candidate is not pending");
  pending_.erase(pending_.begin() + p);
}

std::pair<int64_t, double> SpaceCampaign::best() const {
  SOZAI_CHECK(!observed_.empty(), "SpaceCampaign::best: no results have been told yet");
  SOZAI_CHECK(num_outcomes() == 1, "SpaceCampaign::best: the campaign has ", num_outcomes(),
              " outcomes; use pareto_front()");
  int64_t b = 0;
  for (size_t k = 1; k < values_.size(); ++k)
    if (maximize_ ? values_[k] > values_[b] : values_[k] < values_[b]) b = static_cast<int64_t>(k);
  return {b, values_[b]};
}

std::vector<int64_t> SpaceCampaign::pareto_front() const { return feasible_front(observed_outcomes(), outcomes_); }

// ------------------------------------------------------------ persistence

std::string SpaceCampaign::to_json() const {
  nlohmann::json j;
  j["format"] = "sozai.space_campaign";
  j["version"] = 1;
  j["maximize"] = maximize_;
  j["ask_count"] = ask_count_;
  j["space"] = space_to_json(space_);
  j["config"] = config_to_json(config_);
  auto hs = nlohmann::json::array();
  for (const auto& h : hypers_) hs.push_back(hyperparameters_to_json(h));
  j["outcome_hyperparameters"] = hs;
  j["observed"] = observed_;
  j["observed_value"] = values_;
  j["pending"] = pending_;
  return j.dump();
}

SpaceCampaign SpaceCampaign::from_json(const std::string& text, const std::string& origin) {
  const auto j = parse_state(text, origin);
  if (field<std::string>(j, "format", origin) != "sozai.space_campaign")
    throw StorageError(str(origin, ": not a sozai space campaign (format '", j.value("format", ""), "')"));
  const int version = field<int>(j, "version", origin);
  if (version != 1)
    throw StorageError(str(origin, ": space campaign state version ", version, " is not supported (expected 1)"));
  if (!j.contains("space") || !j.contains("config"))
    throw StorageError(str(origin, ": space campaign state needs 'space' and 'config'"));
  DesignSpace space;
  try {
    space = space_from_json(j.at("space"), str(origin, ": space"));
  } catch (const InputError& e) {
    throw StorageError(e.what());
  }
  SpaceCampaign c(std::move(space), field<bool>(j, "maximize", origin), config_from_json(j.at("config"), origin));
  const auto observed = field<std::vector<std::vector<double>>>(j, "observed", origin);
  const auto values = field<std::vector<double>>(j, "observed_value", origin);
  const auto pending = field<std::vector<std::vector<double>>>(j, "pending", origin);
  const int64_t w = c.space_.raw_width();
  for (const auto* rows : {&observed, &pending})
    for (const auto& r : *rows)
      if (static_cast<int64_t>(r.size()) != w)
        throw StorageError(str(origin, ": a saved candidate has ", r.size(), " values, the space needs ", w));
  if (observed.size() * c.num_outcomes() != values.size())
    throw StorageError(str(origin, ": ", observed.size(), " observed candidates with ", c.num_outcomes(),
                           " outcome(s) each but ", values.size(), " values"));
  try {
    if (!observed.empty())
      c.tell(rows_tensor(observed, w), torch::tensor(values, torch::kFloat64).reshape({-1, c.num_outcomes()}));
  } catch (const InputError& e) {
    throw StorageError(str(origin, ": invalid observations: ", e.what()));
  }
  c.pending_ = pending;
  c.ask_count_ = field<int64_t>(j, "ask_count", origin);
  for (const auto& h : field<nlohmann::json>(j, "outcome_hyperparameters", origin))
    c.hypers_.push_back(hyperparameters_from_json(h, c.space_.encoded_width(), origin));
  if (!c.hypers_.empty() && static_cast<int64_t>(c.hypers_.size()) != c.num_outcomes())
    throw StorageError(str(origin, ": ", c.hypers_.size(), " hyperparameter sets for ", c.num_outcomes(), " outcomes"));
  return c;
}

void SpaceCampaign::save(const std::string& path) const {
  SOZAI_CHECK(!ends_with(path, ".h5") && !ends_with(path, ".hdf5"), "SpaceCampaign::save: space campaigns save as "
              "JSON; '", path, "' names an HDF5 file");
  write_text_atomically(path, to_json());
}

SpaceCampaign SpaceCampaign::load(const std::string& path) { return from_json(read_text(path), path); }

}  // namespace sozai
