#include "core/campaign/campaign_common.h"
#include "core/campaign/campaign.h"
#include "core/bo/pareto.h"
#include "common/error.h"
#include "common/json.h"
#include "common/sha256.h"
#include "models/config_json.h"

#include "common/strings.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sozai {
namespace campaign_detail {

namespace {
/// Below this many results every ask refits the GP from all restarts: the
/// hyperparameters still move a lot with each new point.
constexpr int64_t kAlwaysFullRefitBelow = 30;
}  // namespace

bool full_refit_ask(const CampaignConfig& c, int64_t n_observed, int64_t ask_count) {
  return n_observed < kAlwaysFullRefitBelow || ask_count % std::max<int64_t>(c.refit.full_refit_every, 1) == 0;
}

void describe_picks(Candidates& picks, const std::vector<const Surrogate*>& models, const Acquisition& acquisition,
                    const torch::Tensor& encoded) {
  if (encoded.size(0) == 0) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> means, variances;
  for (const auto* m : models) {
    auto p = m->posterior(encoded);
    means.push_back(p.mean.to(torch::kCPU, torch::kFloat64).reshape({encoded.size(0), -1}));
    variances.push_back(p.variance.to(torch::kCPU, torch::kFloat64).reshape({encoded.size(0), -1}));
  }
  picks.mean = torch::cat(means, 1).contiguous();
  picks.variance = torch::cat(variances, 1).contiguous();
  // [n, 1, d]: each pick as a batch of one, valued beside the pending ones.
  picks.acquisition = acquisition(encoded.unsqueeze(1)).to(torch::kCPU, torch::kFloat64).reshape({-1}).contiguous();
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t ask_seed(uint64_t seed, int64_t ask_count) {
  return splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(ask_count));
}

OutcomeGPs fit_outcome_gps(const CampaignConfig& c, const torch::Tensor& X, const torch::Tensor& Y,
                           const std::vector<GPHyperparameters>& warm, uint64_t seed, int64_t ask_count,
                           const torch::Tensor& lo, const torch::Tensor& hi) {
  OutcomeGPs out;
  const bool has_warm = static_cast<int64_t>(warm.size()) == Y.size(1);
  const bool full = full_refit_ask(c, X.size(0), ask_count);
  const bool condition_only = has_warm && X.size(0) >= c.refit.keep_hyperparameters_from && !full;
  for (int64_t j = 0; j < Y.size(1); ++j) {
    ExactGPConfig gpc = c.gp;
    gpc.seed = seed + static_cast<uint64_t>(j);
    gpc.warm_start = true;
    if (has_warm && !full) gpc.restarts = 1;
    auto gp = std::make_shared<ExactGP>(gpc);
    if (has_warm) gp->set_hyperparameters(warm[j]);
    gp->set_input_bounds(lo, hi);
    const Dataset data{X, Y.select(1, j).contiguous()};
    if (condition_only) gp->set_data(data);
    else gp->fit(data);
    out.fitted.push_back(gp->hyperparameters());
    out.models.push_back(gp.get());
    out.gps.push_back(std::move(gp));
  }
  return out;
}

std::vector<int64_t> feasible_front(const torch::Tensor& Y, const std::vector<Outcome>& outcomes) {
  if (Y.size(0) == 0) return {};
  auto feasible = torch::ones({Y.size(0)}, torch::kBool);
  std::vector<torch::Tensor> obj;
  for (size_t j = 0; j < outcomes.size(); ++j) {
    const auto& o = outcomes[j];
    auto col = Y.select(1, static_cast<int64_t>(j));
    if (o.is_objective())
      obj.push_back(o.maximizes() ? col : -col);
    else
      feasible &= (o.direction == Outcome::Direction::AtMost ? o.limit - col : col - o.limit) >= 0;
  }
  auto rows = torch::nonzero(feasible).reshape({-1});
  if (rows.numel() == 0) return {};
  auto O = torch::stack(obj, 1).index_select(0, rows);
  auto keep = torch::nonzero(non_dominated_mask(O)).reshape({-1});
  std::vector<int64_t> out;
  for (int64_t i = 0; i < keep.numel(); ++i) out.push_back(rows[keep[i]].item<int64_t>());
  return out;
}

int64_t best_position(const std::vector<double>& values, bool maximize, const std::vector<bool>& counts) {
  int64_t b = -1;
  for (size_t k = 0; k < values.size(); ++k) {
    if (!counts.empty() && !counts[k]) continue;
    if (b < 0 || (maximize ? values[k] > values[b] : values[k] < values[b])) b = static_cast<int64_t>(k);
  }
  return b;
}

nlohmann::json hyperparameters_to_json(const std::vector<GPHyperparameters>& hs) { return hs; }

std::vector<GPHyperparameters> hyperparameters_from_json(const nlohmann::json& hs, int64_t d, int64_t outcomes,
                                                         const std::string& origin) {
  if (!hs.is_array()) throw StorageError(str(origin, ": hyperparameters must be an array"));
  std::vector<GPHyperparameters> out;
  for (const auto& h : hs) {
    out.push_back(json_io::read_fields<GPHyperparameters, StorageError>(h, str(origin, ": hyperparameters")));
    if (static_cast<int64_t>(out.back().lengthscale.size()) != d)
      throw StorageError(str(origin, ": ", out.back().lengthscale.size(), " lengthscales for ", d, " input columns"));
  }
  if (!out.empty() && static_cast<int64_t>(out.size()) != outcomes)
    throw StorageError(str(origin, ": ", out.size(), " hyperparameter sets for ", outcomes, " outcomes"));
  return out;
}

int check_state_header(const nlohmann::json& state, const std::string& format, const std::string& origin) {
  json_io::require_object<StorageError>(state, origin);
  const auto f = json_io::required<std::string, StorageError>(state, "format", origin);
  if (f != format) throw StorageError(str(origin, ": not a ", format, " state (format '", f, "')"));
  const int version = json_io::required<int, StorageError>(state, "version", origin);
  if (version != 1 && version != kCampaignStateVersion)
    throw StorageError(str(origin, ": campaign state version ", version, " is not supported (expected 1 or ",
                           kCampaignStateVersion, ")"));
  return version;
}

std::string tensor_bytes(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU, torch::kFloat64).contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.nbytes());
}

std::string tensor_key(const torch::Tensor& t) {
  if (!t.defined()) return "undefined;";
  std::string key;
  for (auto n : t.sizes()) key += std::to_string(n) + ",";
  return key + ";" + tensor_bytes(t);
}

std::string priors_key(std::vector<std::string> parts, const std::vector<nlohmann::json>& prior_records) {
  for (const auto& r : prior_records) parts.push_back(r.value("digest", std::string()));
  return to_hex(sha256(parts));
}

std::vector<std::shared_ptr<const Surrogate>> source_models(const std::vector<TransferSource>& sources,
                                                            const ExactGPConfig& gp, const TransferConfig& config,
                                                            const torch::Tensor& candidates, const torch::Tensor& lo,
                                                            const torch::Tensor& hi, uint64_t seed, bool tabulate) {
  using Models = std::vector<std::shared_ptr<const Surrogate>>;
  static RecentValues<Models> recent(4);
  std::vector<std::string> parts{"sozai.source_models.1", nlohmann::json(gp).dump(), nlohmann::json(config).dump(),
                                 str(seed, tabulate ? " tabulated" : ""), tensor_key(candidates), tensor_key(lo),
                                 tensor_key(hi)};
  for (const auto& s : sources) {
    parts.push_back(s.name + ";");
    parts.push_back(tensor_key(s.X));
    parts.push_back(tensor_key(s.y));
  }
  return recent.get_or_put(to_hex(sha256(parts)), [&] {
    Models models;  // fitted outside any lock: other campaigns ask meanwhile
    for (auto& m : fit_source_models(sources, gp, config, candidates, lo, hi, seed))
      models.push_back(tabulate ? std::make_shared<TabulatedModel>(std::move(m), candidates) : std::move(m));
    return models;
  });
}

std::pair<torch::Tensor, torch::Tensor> transfer_bounds(const torch::Tensor& candidates,
                                                        const std::vector<TransferSource>& sources) {
  std::vector<torch::Tensor> all = {candidates};
  for (const auto& s : sources) all.push_back(s.X);
  auto cat = torch::cat(all);
  return {std::get<0>(cat.min(0)), std::get<0>(cat.max(0))};
}

std::shared_ptr<TransferGP> fit_transfer_gp(const CampaignConfig& c, const std::vector<TransferSource>& sources,
                                            const std::vector<std::shared_ptr<const Surrogate>>& models,
                                            const torch::Tensor& lo, const torch::Tensor& hi, const torch::Tensor& X,
                                            const torch::Tensor& y, uint64_t seed, int64_t ask_count,
                                            TransferWarmStart* warm, nlohmann::json* summary) {
  auto model = std::make_shared<TransferGP>(c.transfer, c.gp, sources, models, lo, hi, seed);
  TransferFitPolicy policy;
  policy.full_refit = full_refit_ask(c, X.size(0), ask_count);
  policy.condition_only = X.size(0) >= c.refit.keep_hyperparameters_from && !policy.full_refit;
  model->set_warm_start(*warm, policy);
  model->fit(Dataset{X, y});
  *warm = model->warm_start();
  *summary = model->summary();
  return model;
}

void priors_to_json(nlohmann::json& j, const std::vector<nlohmann::json>& records, const TransferWarmStart& warm) {
  if (records.empty()) return;
  j["priors"] = records;
  j["transfer_hyperparameters"] = {{"target", hyperparameters_to_json(warm.target)},
                                   {"residual", hyperparameters_to_json(warm.residual)},
                                   {"residual_coefficient_variances", warm.residual_coefficient_variances}};
}

void priors_from_json(const nlohmann::json& j, const std::string& origin, std::vector<nlohmann::json>* records,
                      TransferWarmStart* warm) {
  if (!j.contains("priors")) return;
  const auto& ps = j.at("priors");
  if (!ps.is_array()) throw StorageError(str(origin, ": priors must be an array"));
  for (const auto& p : ps) {
    json_io::required<std::string, StorageError>(p, "digest", str(origin, ": priors"));
    records->push_back(p);
  }
  const auto th =
      json_io::optional<nlohmann::json, StorageError>(j, "transfer_hyperparameters", nlohmann::json::object(), origin);
  auto read = [&](const char* key) {
    if (!th.contains(key)) return std::vector<GPHyperparameters>{};
    if (!th.at(key).is_array()) throw StorageError(str(origin, ": transfer_hyperparameters.", key, " must be an array"));
    std::vector<GPHyperparameters> out;
    for (const auto& h : th.at(key))
      out.push_back(json_io::read_fields<GPHyperparameters, StorageError>(h, str(origin, ": transfer_hyperparameters")));
    return out;
  };
  warm->target = read("target");
  warm->residual = read("residual");
  warm->residual_coefficient_variances = json_io::optional<std::vector<double>, StorageError>(
      th, "residual_coefficient_variances", {}, str(origin, ": transfer_hyperparameters"));
}

std::vector<int64_t> top_positions(const torch::Tensor& score, int64_t k) {
  auto s = score.to(torch::kCPU, torch::kFloat64).contiguous();
  const double* sp = s.data_ptr<double>();
  std::vector<int64_t> order(s.numel());
  std::iota(order.begin(), order.end(), 0);
  k = std::min<int64_t>(k, s.numel());
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int64_t a, int64_t b) { return sp[a] > sp[b] || (sp[a] == sp[b] && a < b); });
  order.resize(k);
  return order;
}

}  // namespace campaign_detail
}  // namespace sozai
