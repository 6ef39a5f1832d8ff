#include "core/campaign/campaign_common.h"
#include "core/bo/pareto.h"
#include "common/strings.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace sozai {
namespace campaign_detail {

namespace {
/// Below this many results every ask refits the GP from all restarts: the
/// hyperparameters still move a lot with each new point.
constexpr int64_t kAlwaysFullRefitBelow = 30;

/// Asks that fit the GP from all restarts: below 30 results, and every
/// full_refit_every asks.
bool full_refit_ask(const CampaignConfig& c, int64_t n_observed, int64_t ask_count) {
  return n_observed < kAlwaysFullRefitBelow || ask_count % std::max<int64_t>(c.full_refit_every, 1) == 0;
}
}  // namespace

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t ask_seed(uint64_t seed, int64_t ask_count) {
  return splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(ask_count));
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void check_config(const CampaignConfig& c) {
  SOZAI_CHECK(c.surrogate == "gp" || c.surrogate == "random" || c.surrogate == "gnn" || c.surrogate == "gnn-dkl",
              "unknown surrogate '", c.surrogate, "'; expected gp, random, gnn or gnn-dkl");
  SOZAI_CHECK(c.gnn.n_members >= 1 && c.gnn.hidden >= 1 && c.gnn.layers >= 1 && c.gnn.max_epochs >= 0 &&
                  c.gnn.dkl_dims >= 1,
              "gnn settings: n_members, hidden, layers and dkl_dims must be >= 1 and max_epochs >= 0");
  SOZAI_CHECK(c.mc_samples >= 1, "mc_samples must be >= 1, got ", c.mc_samples);
  SOZAI_CHECK(c.keep_hyperparameters_from >= 1, "keep_hyperparameters_from must be >= 1, got ",
              c.keep_hyperparameters_from);
  SOZAI_CHECK(c.optimizer.restarts >= 1 && c.optimizer.raw_samples >= 1 && c.optimizer.max_iter >= 1 &&
                  c.optimizer.history >= 1 && c.optimizer.rounds >= 1,
              "optimizer settings: restarts, raw_samples, max_iter, history and rounds must be >= 1");
  int64_t objectives = 0;
  for (size_t i = 0; i < c.outcomes.size(); ++i)
    objectives += outcome_from_string(c.outcomes[i], str("outcome ", i)).is_objective();
  SOZAI_CHECK(c.outcomes.empty() || objectives >= 1, "outcomes: at least one must be an objective (max or min), got ",
              c.outcomes.size(), " constraints");
  SOZAI_CHECK(c.ref_point.empty() || static_cast<int64_t>(c.ref_point.size()) == objectives, "ref_point has ",
              c.ref_point.size(), " values for ", objectives, " objectives");
  if (!c.fidelity_costs.empty()) {
    for (size_t i = 0; i < c.fidelity_costs.size(); ++i)
      SOZAI_CHECK(c.fidelity_costs[i] > 0 && std::isfinite(c.fidelity_costs[i]), "fidelity_costs[", i,
                  "] must be > 0, got ", c.fidelity_costs[i]);
    SOZAI_CHECK(c.target_fidelity >= -1 && c.target_fidelity < static_cast<int64_t>(c.fidelity_costs.size()),
                "target_fidelity ", c.target_fidelity, " outside [0, ", c.fidelity_costs.size(), ")");
    SOZAI_CHECK(c.outcomes.size() <= 1, "a multi-fidelity campaign has one objective; got ", c.outcomes.size(),
                " outcomes");
    SOZAI_CHECK(c.surrogate == "gp" || c.surrogate == "random", "a multi-fidelity campaign models the fidelities "
                "with a multi-task GP: surrogate must be gp or random, not '", c.surrogate, "'");
    SOZAI_CHECK(to_lower(c.acquisition) == "aei", "a multi-fidelity campaign chooses by augmented EI per unit "
                "cost: acquisition must be 'aei', not '", c.acquisition, "'");
    SOZAI_CHECK(c.aei_max_cheap_share >= 0 && c.aei_max_cheap_share <= 1, "aei_max_cheap_share must be in [0, 1], "
                "got ", c.aei_max_cheap_share);
    return;
  }
  SOZAI_CHECK(to_lower(c.acquisition) != "aei", "acquisition 'aei' needs fidelity_costs (a multi-fidelity pool)");
  if (c.outcomes.size() > 1) {
    SOZAI_CHECK(c.surrogate == "gp" || c.surrogate == "random", "a campaign with several outcomes models each with "
                "a GP: surrogate must be gp or random, not '", c.surrogate, "'");
    const bool multi = is_multi_objective_acquisition(c.acquisition);
    SOZAI_CHECK(multi || (objectives == 1 && to_lower(c.acquisition) == "qlognei"), "acquisition '", c.acquisition,
                "' cannot weigh ", objectives, " objective(s) with ", c.outcomes.size() - objectives,
                " constraint(s); use qnehvi, qlognehvi or qparego", objectives == 1 ? " (or qlognei)" : "");
  } else {
    check_acquisition_name(c.acquisition);
  }
  covariance_kind_from_string(c.gp.kernel);
  SOZAI_CHECK(c.n_init >= 0, "n_init must be >= 0, got ", c.n_init);
  SOZAI_CHECK(c.ucb_beta >= 0, "ucb_beta must be >= 0, got ", c.ucb_beta);
}

std::vector<Outcome> campaign_outcomes(const CampaignConfig& c, bool& maximize) {
  std::vector<Outcome> out;
  if (c.outcomes.empty()) {
    Outcome o;
    o.role = maximize ? Outcome::Role::Maximize : Outcome::Role::Minimize;
    out.push_back(o);
    return out;
  }
  for (size_t i = 0; i < c.outcomes.size(); ++i) out.push_back(outcome_from_string(c.outcomes[i], str("outcome ", i)));
  for (const auto& o : out)
    if (o.is_objective()) {
      maximize = o.role == Outcome::Role::Maximize;  // the first objective's direction
      break;
    }
  return out;
}

std::shared_ptr<ExactGP> campaign_gp(const CampaignConfig& c, const GPHyperparameters* warm, uint64_t seed,
                                     int64_t n_observed, int64_t ask_count, const torch::Tensor& lo,
                                     const torch::Tensor& hi) {
  ExactGPConfig gpc = c.gp;
  gpc.seed = seed;
  gpc.warm_start = true;
  if (warm && !full_refit_ask(c, n_observed, ask_count)) gpc.restarts = 1;
  auto gp = std::make_shared<ExactGP>(gpc);
  if (warm) gp->set_hyperparameters(*warm);
  gp->set_input_bounds(lo, hi);
  return gp;
}

bool keep_hyperparameters(const CampaignConfig& c, bool warm, int64_t n_observed, int64_t ask_count) {
  return warm && n_observed >= c.keep_hyperparameters_from && !full_refit_ask(c, n_observed, ask_count);
}

OutcomeGPs fit_outcome_gps(const CampaignConfig& c, const torch::Tensor& X, const torch::Tensor& Y,
                           const std::vector<GPHyperparameters>& warm, uint64_t seed, int64_t ask_count,
                           const torch::Tensor& lo, const torch::Tensor& hi) {
  OutcomeGPs out;
  const bool has_warm = static_cast<int64_t>(warm.size()) == Y.size(1);
  for (int64_t j = 0; j < Y.size(1); ++j) {
    auto gp = campaign_gp(c, has_warm ? &warm[j] : nullptr, seed + static_cast<uint64_t>(j), X.size(0), ask_count, lo,
                          hi);
    const Dataset data{X, Y.select(1, j).contiguous()};
    if (keep_hyperparameters(c, has_warm, X.size(0), ask_count)) gp->set_data(data);
    else gp->fit(data);
    out.fitted.push_back(gp->hyperparameters());
    out.models.push_back(gp.get());
    out.gps.push_back(std::move(gp));
  }
  return out;
}

AcquisitionSpec acquisition_spec(const CampaignConfig& c, bool maximize, uint64_t seed) {
  AcquisitionSpec spec;
  spec.name = c.acquisition;
  spec.maximize = maximize;
  spec.beta = c.ucb_beta;
  spec.mc_samples = c.mc_samples;
  spec.seed = seed;
  return spec;
}

std::vector<int64_t> feasible_front(const torch::Tensor& Y, const std::vector<Outcome>& outcomes) {
  if (Y.size(0) == 0) return {};
  auto feasible = torch::ones({Y.size(0)}, torch::kBool);
  std::vector<torch::Tensor> obj;
  for (size_t j = 0; j < outcomes.size(); ++j) {
    const auto& o = outcomes[j];
    auto col = Y.select(1, static_cast<int64_t>(j));
    if (o.is_objective())
      obj.push_back(o.role == Outcome::Role::Maximize ? col : -col);
    else
      feasible &= (o.role == Outcome::Role::AtMost ? o.bound - col : col - o.bound) >= 0;
  }
  auto rows = torch::nonzero(feasible).reshape({-1});
  if (rows.numel() == 0) return {};
  auto O = torch::stack(obj, 1).index_select(0, rows);
  auto keep = torch::nonzero(non_dominated_mask(O)).reshape({-1});
  std::vector<int64_t> out;
  for (int64_t i = 0; i < keep.numel(); ++i) out.push_back(rows[keep[i]].item<int64_t>());
  return out;
}

nlohmann::json config_to_json(const CampaignConfig& cfg) {
  return {{"surrogate", cfg.surrogate},
          {"acquisition", cfg.acquisition},
          {"ucb_beta", cfg.ucb_beta},
          {"mc_samples", cfg.mc_samples},
          {"outcomes", cfg.outcomes},
          {"ref_point", cfg.ref_point},
          {"fidelity_costs", cfg.fidelity_costs},
          {"target_fidelity", cfg.target_fidelity},
          {"aei_target_first", cfg.aei_target_first},
          {"aei_max_cheap_share", cfg.aei_max_cheap_share},
          {"n_init", cfg.n_init},
          {"seed", cfg.seed},
          {"full_refit_every", cfg.full_refit_every},
          {"keep_hyperparameters_from", cfg.keep_hyperparameters_from},
          {"gp",
           {{"kernel", cfg.gp.kernel},
            {"outcome_transform", cfg.gp.outcome_transform},
            {"restarts", cfg.gp.restarts},
            {"max_iter", cfg.gp.max_iter},
            {"lengthscale_min", cfg.gp.lengthscale_min},
            {"lengthscale_max", cfg.gp.lengthscale_max},
            {"outputscale_min", cfg.gp.outputscale_min},
            {"outputscale_max", cfg.gp.outputscale_max},
            {"noise_min", cfg.gp.noise_min},
            {"noise_max", cfg.gp.noise_max}}},
          {"gnn",
           {{"kind", cfg.gnn.kind},
            {"n_members", cfg.gnn.n_members},
            {"hidden", cfg.gnn.hidden},
            {"layers", cfg.gnn.layers},
            {"max_epochs", cfg.gnn.max_epochs},
            {"dkl_dims", cfg.gnn.dkl_dims}}},
          {"optimizer",
           {{"restarts", cfg.optimizer.restarts},
            {"raw_samples", cfg.optimizer.raw_samples},
            {"max_iter", cfg.optimizer.max_iter},
            {"history", cfg.optimizer.history},
            {"rounds", cfg.optimizer.rounds}}}};
}

CampaignConfig config_from_json(const nlohmann::json& jc, const std::string& origin) {
  CampaignConfig cfg;
  cfg.surrogate = field<std::string>(jc, "surrogate", origin);
  cfg.acquisition = field<std::string>(jc, "acquisition", origin);
  cfg.ucb_beta = field<double>(jc, "ucb_beta", origin);
  // Fields added after the first saves are optional.
  if (jc.contains("mc_samples")) cfg.mc_samples = field<int64_t>(jc, "mc_samples", origin);
  if (jc.contains("outcomes")) cfg.outcomes = field<std::vector<std::string>>(jc, "outcomes", origin);
  if (jc.contains("ref_point")) cfg.ref_point = field<std::vector<double>>(jc, "ref_point", origin);
  if (jc.contains("fidelity_costs")) cfg.fidelity_costs = field<std::vector<double>>(jc, "fidelity_costs", origin);
  if (jc.contains("target_fidelity")) cfg.target_fidelity = field<int64_t>(jc, "target_fidelity", origin);
  // Saves from before target-first selection ran plain AEI.
  cfg.aei_target_first = jc.contains("aei_target_first") ? field<bool>(jc, "aei_target_first", origin) : false;
  cfg.aei_max_cheap_share =
      jc.contains("aei_max_cheap_share") ? field<double>(jc, "aei_max_cheap_share", origin) : 1.0;
  cfg.n_init = field<int64_t>(jc, "n_init", origin);
  cfg.seed = field<uint64_t>(jc, "seed", origin);
  cfg.full_refit_every = field<int64_t>(jc, "full_refit_every", origin);
  if (jc.contains("keep_hyperparameters_from"))
    cfg.keep_hyperparameters_from = field<int64_t>(jc, "keep_hyperparameters_from", origin);
  if (!jc.contains("gp")) throw StorageError(str(origin, ": campaign state has no field 'config.gp'"));
  const auto& g = jc.at("gp");
  cfg.gp.kernel = field<std::string>(g, "kernel", origin);
  cfg.gp.outcome_transform = field<std::string>(g, "outcome_transform", origin);
  cfg.gp.restarts = field<int>(g, "restarts", origin);
  cfg.gp.max_iter = field<int>(g, "max_iter", origin);
  cfg.gp.lengthscale_min = field<double>(g, "lengthscale_min", origin);
  cfg.gp.lengthscale_max = field<double>(g, "lengthscale_max", origin);
  cfg.gp.outputscale_min = field<double>(g, "outputscale_min", origin);
  cfg.gp.outputscale_max = field<double>(g, "outputscale_max", origin);
  cfg.gp.noise_min = field<double>(g, "noise_min", origin);
  cfg.gp.noise_max = field<double>(g, "noise_max", origin);
  if (jc.contains("gnn")) {
    const auto& n = jc.at("gnn");
    cfg.gnn.kind = field<std::string>(n, "kind", origin);
    cfg.gnn.n_members = field<int64_t>(n, "n_members", origin);
    cfg.gnn.hidden = field<int64_t>(n, "hidden", origin);
    cfg.gnn.layers = field<int64_t>(n, "layers", origin);
    cfg.gnn.max_epochs = field<int64_t>(n, "max_epochs", origin);
    cfg.gnn.dkl_dims = field<int64_t>(n, "dkl_dims", origin);
  }
  if (jc.contains("optimizer")) {
    const auto& o = jc.at("optimizer");
    cfg.optimizer.restarts = field<int64_t>(o, "restarts", origin);
    cfg.optimizer.raw_samples = field<int64_t>(o, "raw_samples", origin);
    cfg.optimizer.max_iter = field<int64_t>(o, "max_iter", origin);
    cfg.optimizer.history = field<int64_t>(o, "history", origin);
    cfg.optimizer.rounds = field<int64_t>(o, "rounds", origin);
  }
  return cfg;
}

nlohmann::json hyperparameters_to_json(const GPHyperparameters& h) {
  return {{"lengthscale", h.lengthscale}, {"outputscale", h.outputscale}, {"noise", h.noise}};
}

GPHyperparameters hyperparameters_from_json(const nlohmann::json& h, int64_t d, const std::string& origin) {
  GPHyperparameters hp;
  hp.lengthscale = field<std::vector<double>>(h, "lengthscale", origin);
  hp.outputscale = field<double>(h, "outputscale", origin);
  hp.noise = field<double>(h, "noise", origin);
  if (static_cast<int64_t>(hp.lengthscale.size()) != d)
    throw StorageError(str(origin, ": ", hp.lengthscale.size(), " lengthscales for ", d, " input columns"));
  return hp;
}

nlohmann::json parse_state(const std::string& text, const std::string& origin) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw StorageError(str(origin, ": not valid JSON: ", e.what()));
  }
}

void write_atomically(const std::string& path, const std::function<void(const std::string&)>& write) {
  const std::string tmp = path + ".tmp";
  write(tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw StorageError(str("cannot move '", tmp, "' to '", path, "'"));
  }
}

void write_text_atomically(const std::string& path, const std::string& text) {
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw StorageError(str("cannot write campaign state to '", tmp, "'"));
    out << text;
    out.close();
    if (!out) throw StorageError(str("writing campaign state to '", tmp, "' failed (disk full?)"));
  });
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StorageError(str("cannot open campaign state '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace campaign_detail
}  // namespace sozai
