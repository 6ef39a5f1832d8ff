#include <sozai/core/campaign/campaign_io.h>
#include <sozai/core/campaign/pool_campaign.h>
#include <sozai/core/bo/multi_fidelity.h>
#include <sozai/core/bo/pareto.h>
#include <sozai/core/common/error.h>
#include <sozai/core/common/strings.h>
#include <sozai/models/gnn/gnn_surrogate.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

namespace sozai {

namespace {

/// SplitMix64: decorrelates (seed, counter) pairs into independent seeds.
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// Below this many results every ask refits the GP from all restarts: the
/// hyperparameters still move a lot with each new point.
constexpr int64_t kAlwaysFullRefitBelow = 30;

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

}  // namespace

PoolCampaign::PoolCampaign(const torch::Tensor& pool, bool maximize, CampaignConfig config)
    : maximize_(maximize), config_(std::move(config)) {
  SOZAI_CHECK(pool.defined() && pool.dim() == 2 && pool.size(0) >= 1 && pool.size(1) >= 1,
              "PoolCampaign: pool must be a non-empty [N, d] tensor, got ",
              pool.defined() ? pool.sizes() : at::IntArrayRef{});
  SOZAI_CHECK(pool.is_floating_point(), "PoolCampaign: pool must be floating point, got ", pool.scalar_type());
  pool_ = pool.to(torch::kCPU, torch::kFloat64).contiguous();
  auto finite = torch::isfinite(pool_).all(1);
  if (!finite.all().item<bool>()) {
    int64_t bad = torch::nonzero(finite.logical_not()).index({0, 0}).item<int64_t>();
    throw InputError(str("PoolCampaign: pool row ", bad, " has a non-finite value"));
  }
  check_config(config_);
  if (config_.outcomes.empty()) {
    Outcome o;
    o.role = maximize_ ? Outcome::Role::Maximize : Outcome::Role::Minimize;
    outcomes_.push_back(o);
  } else {
    for (size_t i = 0; i < config_.outcomes.size(); ++i)
      outcomes_.push_back(outcome_from_string(config_.outcomes[i], str("outcome ", i)));
    for (const auto& o : outcomes_)
      if (o.is_objective()) {
        maximize_ = o.role == Outcome::Role::Maximize;  // the first objective's direction
        break;
      }
  }
  if (multi_fidelity()) {
    SOZAI_CHECK(pool_.size(1) >= 2, "PoolCampaign: a multi-fidelity pool needs inputs and a last fidelity column");
    const int64_t T = static_cast<int64_t>(config_.fidelity_costs.size());
    auto f = pool_.select(1, pool_.size(1) - 1);
    auto bad = (f != f.round()) | (f < 0) | (f >= T);
    if (bad.any().item<bool>()) {
      const auto row = torch::nonzero(bad).index({0, 0}).item<int64_t>();
      throw InputError(str("PoolCampaign: pool row ", row, " has fidelity ", f[row].item<double>(),
                           " in its last column, not an integer in [0, ", T, ")"));
    }
  }
}

int64_t PoolCampaign::fidelity_of(int64_t row) const {
  return static_cast<int64_t>(pool_[row][pool_.size(1) - 1].item<double>());
}

int64_t PoolCampaign::target_fidelity() const {
  return config_.target_fidelity < 0 ? static_cast<int64_t>(config_.fidelity_costs.size()) - 1
                                     : config_.target_fidelity;
}

double PoolCampaign::cost_spent() const {
  if (!multi_fidelity()) return 0.0;
  double total = 0.0;
  for (auto r : observed_) total += config_.fidelity_costs[fidelity_of(r)];
  return total;
}

std::vector<int64_t> PoolCampaign::fit_and_select_fidelity(int64_t q, uint64_t seed) {
  auto idx = torch::tensor(observed_, torch::kInt64);
  auto X = pool_.index_select(0, idx);
  MultiTaskGPConfig mc;
  mc.num_tasks = static_cast<int64_t>(config_.fidelity_costs.size());
  mc.kernel = config_.gp.kernel;
  mc.restarts = config_.gp.restarts;
  mc.max_iter = config_.gp.max_iter;
  mc.seed = seed;
  auto model = std::make_shared<MultiTaskGP>(mc);
  const int64_t d = pool_.size(1) - 1;
  model->set_input_bounds(std::get<0>(pool_.slice(1, 0, d).min(0)), std::get<0>(pool_.slice(1, 0, d).max(0)));
  model->fit(Dataset{X, torch::tensor(values_, torch::kFloat64)});
  MultiFidelityConfig fc;
  fc.costs = config_.fidelity_costs;
  fc.target = target_fidelity();
  fc.maximize = maximize_;
  auto rows = select_batch_multi_fidelity(*model, pool_, available_mask(), q, X, fc, pending_);
  model_ = model;
  return rows;
}

namespace {
torch::Tensor row_numbers(const std::shared_ptr<const GraphBatch>& graphs) {
  SOZAI_CHECK(graphs && graphs->num_graphs() >= 1, "PoolCampaign: the pool holds no graphs");
  return torch::arange(graphs->num_graphs(), torch::kFloat64).unsqueeze(1);
}

/// The featuriser kind of a GnnEnsemble for a batch of graphs.
std::string ensemble_kind(const CampaignGnnConfig& c, const GraphBatch& g) {
  if (!c.kind.empty()) return c.kind;
  if (g.kind == "crystal" || g.kind == "composition") return g.kind;
  return "polymer";  // polymer, molecule, blend
}
}  // namespace

PoolCampaign::PoolCampaign(std::shared_ptr<const GraphBatch> graphs, bool maximize, CampaignConfig config)
    : PoolCampaign(row_numbers(graphs), maximize, std::move(config)) {
  SOZAI_CHECK(config_.surrogate != "gp", "PoolCampaign: a pool of graphs needs surrogate gnn, gnn-dkl or random, "
              "not gp (the GP models feature vectors)");
  graphs_ = std::move(graphs);
}

void PoolCampaign::attach_graphs(std::shared_ptr<const GraphBatch> graphs) {
  SOZAI_CHECK(graphs && graphs->num_graphs() == pool_.size(0), "PoolCampaign::attach_graphs: the campaign has ",
              pool_.size(0), " rows but ", graphs ? graphs->num_graphs() : 0, " graphs were given");
  graphs_ = std::move(graphs);
}

void PoolCampaign::check_index(int64_t index, const char* what) const {
  SOZAI_CHECK(index >= 0 && index < pool_.size(0), "PoolCampaign::", what, ": row ", index,
              " is outside the pool of ", pool_.size(0), " candidates");
}

uint64_t PoolCampaign::ask_seed() const {
  return splitmix64(splitmix64(config_.seed) ^ static_cast<uint64_t>(ask_count_));
}

torch::Tensor PoolCampaign::available_mask() const {
  auto mask = torch::ones({pool_.size(0)}, torch::kBool);
  auto* m = mask.data_ptr<bool>();
  for (auto i : observed_) m[i] = false;
  for (auto i : pending_) m[i] = false;
  return mask;
}

std::vector<int64_t> PoolCampaign::random_rows(int64_t q, uint64_t seed) const {
  auto mask = available_mask();
  std::vector<int64_t> free;
  for (int64_t i = 0; i < pool_.size(0); ++i)
    if (mask.data_ptr<bool>()[i]) free.push_back(i);
  std::mt19937_64 rng(seed);
  const int64_t k = std::min<int64_t>(q, free.size());
  for (int64_t i = 0; i < k; ++i) {  // partial Fisher-Yates
    std::uniform_int_distribution<int64_t> pick(i, static_cast<int64_t>(free.size()) - 1);
    std::swap(free[i], free[pick(rng)]);
  }
  free.resize(k);
  return free;
}

std::vector<int64_t> PoolCampaign::fit_and_select(Surrogate& model, int64_t q) const {
  auto idx = torch::tensor(observed_, torch::kInt64);
  auto y = torch::tensor(values_, torch::kFloat64);
  auto X = pool_.index_select(0, idx);
  model.fit(Dataset{X, y});
  AcquisitionSpec spec;
  spec.name = config_.acquisition;
  spec.maximize = maximize_;
  spec.beta = config_.ucb_beta;
  spec.mc_samples = config_.mc_samples;
  spec.seed = ask_seed();
  return select_batch(model, pool_, available_mask(), q, X, y, spec, pending_);
}

std::shared_ptr<ExactGP> PoolCampaign::campaign_gp(const GPHyperparameters* warm, uint64_t seed) const {
  ExactGPConfig gpc = config_.gp;
  gpc.seed = seed;
  gpc.warm_start = true;
  // All restarts below 30 results and every full_refit_every asks;
  // otherwise one start from the last fit, which one new result barely moves.
  if (warm && static_cast<int64_t>(observed_.size()) >= kAlwaysFullRefitBelow &&
      ask_count_ % std::max<int64_t>(config_.full_refit_every, 1) != 0)
    gpc.restarts = 1;
  auto gp = std::make_shared<ExactGP>(gpc);
  if (warm) gp->set_hyperparameters(*warm);
  gp->set_input_bounds(std::get<0>(pool_.min(0)), std::get<0>(pool_.max(0)));
  return gp;
}

std::vector<int64_t> PoolCampaign::fit_and_select_multi(int64_t q, uint64_t seed) {
  auto idx = torch::tensor(observed_, torch::kInt64);
  auto X = pool_.index_select(0, idx);
  auto Y = observed_outcomes();
  std::vector<std::shared_ptr<ExactGP>> gps;
  std::vector<const Surrogate*> models;
  std::vector<GPHyperparameters> fitted;
  const bool warm = static_cast<int64_t>(outcome_hypers_.size()) == num_outcomes();
  for (int64_t j = 0; j < num_outcomes(); ++j) {
    auto gp = campaign_gp(warm ? &outcome_hypers_[j] : nullptr, seed + static_cast<uint64_t>(j));
    gp->fit(Dataset{X, Y.select(1, j)});
    fitted.push_back(gp->hyperparameters());
    gps.push_back(gp);
    models.push_back(gp.get());
  }
  outcome_hypers_ = fitted;
  MultiOutcomeConfig mc;
  mc.kind = config_.acquisition;
  mc.outcomes = outcomes_;
  mc.ref_point = config_.ref_point;
  mc.samples = config_.mc_samples;
  mc.seed = seed;
  auto rows = select_batch_multi(models, pool_, available_mask(), q, X, Y, mc, pending_);
  model_ = gps.front();
  return rows;
}

torch::Tensor PoolCampaign::observed_outcomes() const {
  return torch::tensor(values_, torch::kFloat64).reshape({static_cast<int64_t>(observed_.size()), num_outcomes()});
}

std::vector<int64_t> PoolCampaign::ask(int64_t q) {
  SOZAI_CHECK(q >= 1, "PoolCampaign::ask: q must be >= 1, got ", q);
  const uint64_t seed = ask_seed();
  std::vector<int64_t> rows;
  const int64_t n = static_cast<int64_t>(observed_.size());
  if (config_.surrogate == "random" || n < std::max<int64_t>(config_.n_init, 1)) {
    rows = random_rows(q, seed);
  } else if (multi_fidelity()) {
    rows = fit_and_select_fidelity(q, seed);
  } else if (!single_objective()) {
    rows = fit_and_select_multi(q, seed);
  } else if (config_.surrogate == "gnn" || config_.surrogate == "gnn-dkl") {
    SOZAI_CHECK(graphs_, "PoolCampaign::ask: surrogate '", config_.surrogate,
                "' needs the pool's graphs; build the campaign from them or call attach_graphs after load");
    gnn::GnnSurrogateConfig gc;
    gc.kind = config_.surrogate;
    gc.ensemble.kind = ensemble_kind(config_.gnn, *graphs_);
    gc.ensemble.n_members = config_.gnn.n_members;
    gc.ensemble.seed = seed;
    gc.ensemble.model.hidden = gc.ensemble.model.head_hidden = config_.gnn.hidden;
    gc.ensemble.model.layers = config_.gnn.layers;
    gc.ensemble.train.max_epochs = config_.gnn.max_epochs;
    gc.dkl_dims = config_.gnn.dkl_dims;
    gc.gp = config_.gp;
    gc.gp.seed = seed;
    auto model = std::make_shared<gnn::GnnSurrogate>(graphs_, gc);
    rows = fit_and_select(*model, q);
    model_ = model;
  } else {
    auto model = campaign_gp(hyper_ ? &*hyper_ : nullptr, seed);
    rows = fit_and_select(*model, q);
    hyper_ = model->hyperparameters();
    model_ = model;
  }
  pending_.insert(pending_.end(), rows.begin(), rows.end());
  ++ask_count_;
  return rows;
}

void PoolCampaign::tell(const std::vector<int64_t>& indices, const std::vector<double>& values) {
  const size_t k = outcomes_.size();
  SOZAI_CHECK(indices.size() * k == values.size(), "PoolCampaign::tell: ", indices.size(), " indices need ",
              indices.size() * k, " values (", k, " outcome(s) each), got ", values.size());
  std::vector<bool> seen(pool_.size(0), false);
  for (auto i : observed_) seen[i] = true;
  for (size_t r = 0; r < indices.size(); ++r) {
    check_index(indices[r], "tell");
    for (size_t j = 0; j < k; ++j)
      SOZAI_CHECK(std::isfinite(values[r * k + j]), "PoolCampaign::tell: value for row ", indices[r],
                  k > 1 ? str(", outcome ", j) : std::string(), " is not finite (", values[r * k + j], ")");
    SOZAI_CHECK(!seen[indices[r]], "PoolCampaign::tell: row ", indices[r],
                " already has a result; a pool candidate is measured once");
    seen[indices[r]] = true;
  }
  for (size_t r = 0; r < indices.size(); ++r) {
    observed_.push_back(indices[r]);
    values_.insert(values_.end(), values.begin() + r * k, values.begin() + (r + 1) * k);
    pending_.erase(std::remove(pending_.begin(), pending_.end(), indices[r]), pending_.end());
  }
}

void PoolCampaign::tell(int64_t index, double value) {
  SOZAI_CHECK(outcomes_.size() == 1, "PoolCampaign::tell: the campaign has ", outcomes_.size(),
              " outcomes per experiment; tell all of them (tell_outcomes)");
  tell(std::vector<int64_t>{index}, std::vector<double>{value});
}

void PoolCampaign::tell_outcomes(int64_t index, const std::vector<double>& outcomes) {
  tell(std::vector<int64_t>{index}, outcomes);
}

void PoolCampaign::cancel(int64_t index) {
  check_index(index, "cancel");
  auto it = std::find(pending_.begin(), pending_.end(), index);
  SOZAI_CHECK(it != pending_.end(), "PoolCampaign::cancel: row ", index, " is not pending");
  pending_.erase(it);
}

std::vector<int64_t> PoolCampaign::pareto_front() const {
  if (observed_.empty()) return {};
  auto Y = observed_outcomes();
  auto feasible = torch::ones({Y.size(0)}, torch::kBool);
  std::vector<torch::Tensor> obj;
  for (int64_t j = 0; j < num_outcomes(); ++j) {
    const auto& o = outcomes_[j];
    auto col = Y.select(1, j);
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
  for (int64_t i = 0; i < keep.numel(); ++i) out.push_back(observed_[rows[keep[i]].item<int64_t>()]);
  return out;
}

std::pair<int64_t, double> PoolCampaign::best() const {
  SOZAI_CHECK(!observed_.empty(), "PoolCampaign::best: no results have been told yet");
  SOZAI_CHECK(outcomes_.size() == 1, "PoolCampaign::best: the campaign has ", outcomes_.size(),
              " outcomes; use pareto_front()");
  // Multi-fidelity: only results at the target fidelity count.
  auto counts = [&](size_t k) { return !multi_fidelity() || fidelity_of(observed_[k]) == target_fidelity(); };
  int64_t b = -1;
  for (size_t k = 0; k < values_.size(); ++k)
    if (counts(k) && (b < 0 || (maximize_ ? values_[k] > values_[b] : values_[k] < values_[b]))) b = static_cast<int64_t>(k);
  SOZAI_CHECK(b >= 0, "PoolCampaign::best: no result at the target fidelity ", target_fidelity(), " yet");
  return {observed_[b], values_[b]};
}

// ------------------------------------------------------------ persistence

nlohmann::json campaign_state_json(const PoolCampaign& c, const std::optional<GPHyperparameters>& hyper,
                                   bool with_arrays) {
  using nlohmann::json;
  const auto& cfg = c.config();
  json j;
  j["format"] = "sozai.pool_campaign";
  j["version"] = 1;
  j["maximize"] = c.maximize();
  j["ask_count"] = c.ask_count();
  j["config"] = {{"surrogate", cfg.surrogate},
                 {"acquisition", cfg.acquisition},
                 {"ucb_beta", cfg.ucb_beta},
                 {"mc_samples", cfg.mc_samples},
                 {"outcomes", cfg.outcomes},
                 {"ref_point", cfg.ref_point},
                 {"fidelity_costs", cfg.fidelity_costs},
                 {"target_fidelity", cfg.target_fidelity},
                 {"n_init", cfg.n_init},
                 {"seed", cfg.seed},
                 {"full_refit_every", cfg.full_refit_every},
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
                   {"dkl_dims", cfg.gnn.dkl_dims}}}};
  if (hyper) {
    j["hyperparameters"] = {
        {"lengthscale", hyper->lengthscale}, {"outputscale", hyper->outputscale}, {"noise", hyper->noise}};
  } else {
    j["hyperparameters"] = nullptr;
  }
  if (!c.outcome_hyperparameters().empty()) {
    auto arr = json::array();
    for (const auto& h : c.outcome_hyperparameters())
      arr.push_back({{"lengthscale", h.lengthscale}, {"outputscale", h.outputscale}, {"noise", h.noise}});
    j["outcome_hyperparameters"] = arr;
  }
  j["pool_shape"] = {c.pool().size(0), c.pool().size(1)};
  if (with_arrays) {
    const double* p = c.pool().data_ptr<double>();
    j["pool"] = std::vector<double>(p, p + c.pool().numel());
    j["observed_index"] = c.observed_indices();
    j["observed_value"] = c.observed_values();
    j["pending"] = c.pending();
  }
  return j;
}

namespace {

template <typename T>
T field(const nlohmann::json& j, const std::string& key, const std::string& origin) {
  if (!j.contains(key)) throw StorageError(str(origin, ": campaign state has no field '", key, "'"));
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw StorageError(str(origin, ": campaign state field '", key, "' has the wrong type: ", e.what()));
  }
}

/// GP hyperparameters saved as {lengthscale, outputscale, noise} for a pool of d columns.
GPHyperparameters hyperparameters_field(const nlohmann::json& h, int64_t d, const std::string& origin) {
  GPHyperparameters hp;
  hp.lengthscale = field<std::vector<double>>(h, "lengthscale", origin);
  hp.outputscale = field<double>(h, "outputscale", origin);
  hp.noise = field<double>(h, "noise", origin);
  if (static_cast<int64_t>(hp.lengthscale.size()) != d)
    throw StorageError(str(origin, ": ", hp.lengthscale.size(), " lengthscales for a pool of ", d, " columns"));
  return hp;
}

}  // namespace

PoolCampaign campaign_from_state(const nlohmann::json& j, const torch::Tensor& pool,
                                 const std::vector<int64_t>& observed, const std::vector<double>& values,
                                 const std::vector<int64_t>& pending, const std::string& origin) {
  if (field<std::string>(j, "format", origin) != "sozai.pool_campaign")
    throw StorageError(str(origin, ": not a sozai pool campaign (format '", j.value("format", ""), "')"));
  const int version = field<int>(j, "version", origin);
  if (version != 1) throw StorageError(str(origin, ": campaign state version ", version, " is not supported (expected 1)"));
  const auto& jc = j.at("config");
  CampaignConfig cfg;
  cfg.surrogate = field<std::string>(jc, "surrogate", origin);
  cfg.acquisition = field<std::string>(jc, "acquisition", origin);
  cfg.ucb_beta = field<double>(jc, "ucb_beta", origin);
  if (jc.contains("mc_samples")) cfg.mc_samples = field<int64_t>(jc, "mc_samples", origin);  // saved since qlognei/qucb
  if (jc.contains("outcomes")) cfg.outcomes = field<std::vector<std::string>>(jc, "outcomes", origin);
  if (jc.contains("ref_point")) cfg.ref_point = field<std::vector<double>>(jc, "ref_point", origin);
  if (jc.contains("fidelity_costs")) cfg.fidelity_costs = field<std::vector<double>>(jc, "fidelity_costs", origin);
  if (jc.contains("target_fidelity")) cfg.target_fidelity = field<int64_t>(jc, "target_fidelity", origin);
  cfg.n_init = field<int64_t>(jc, "n_init", origin);
  cfg.seed = field<uint64_t>(jc, "seed", origin);
  cfg.full_refit_every = field<int64_t>(jc, "full_refit_every", origin);
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
  if (jc.contains("gnn")) {  // saved since graph surrogates exist
    const auto& n = jc.at("gnn");
    cfg.gnn.kind = field<std::string>(n, "kind", origin);
    cfg.gnn.n_members = field<int64_t>(n, "n_members", origin);
    cfg.gnn.hidden = field<int64_t>(n, "hidden", origin);
    cfg.gnn.layers = field<int64_t>(n, "layers", origin);
    cfg.gnn.max_epochs = field<int64_t>(n, "max_epochs", origin);
    cfg.gnn.dkl_dims = field<int64_t>(n, "dkl_dims", origin);
  }

  PoolCampaign c(pool, field<bool>(j, "maximize", origin), cfg);
  if (observed.size() * c.num_outcomes() != values.size())
    throw StorageError(str(origin, ": ", observed.size(), " observed indices with ", c.num_outcomes(),
                           " outcome(s) each but ", values.size(), " values"));
  try {
    c.tell(observed, values);
  } catch (const InputError& e) {
    throw StorageError(str(origin, ": invalid observations: ", e.what()));
  }
  restore_campaign_counters(c, pending, field<int64_t>(j, "ask_count", origin), origin);
  if (j.contains("hyperparameters") && !j.at("hyperparameters").is_null()) {
    restore_campaign_hyperparameters(c, hyperparameters_field(j.at("hyperparameters"), pool.size(1), origin));
  }
  if (j.contains("outcome_hyperparameters")) {
    std::vector<GPHyperparameters> hs;
    for (const auto& h : j.at("outcome_hyperparameters")) hs.push_back(hyperparameters_field(h, pool.size(1), origin));
    if (static_cast<int64_t>(hs.size()) != c.num_outcomes())
      throw StorageError(str(origin, ": ", hs.size(), " outcome hyperparameter sets for ", c.num_outcomes(),
                             " outcomes"));
    restore_campaign_outcome_hyperparameters(c, hs);
  }
  return c;
}

void restore_campaign_counters(PoolCampaign& c, const std::vector<int64_t>& pending, int64_t ask_count,
                               const std::string& origin) {
  auto mask = c.available_mask();
  for (auto p : pending) {
    if (p < 0 || p >= c.pool_size() || !mask.data_ptr<bool>()[p])
      throw StorageError(str(origin, ": pending row ", p, " is outside the pool, observed or listed twice"));
    mask.data_ptr<bool>()[p] = false;
  }
  c.pending_ = pending;
  c.ask_count_ = ask_count;
}

void restore_campaign_hyperparameters(PoolCampaign& c, const GPHyperparameters& h) { c.hyper_ = h; }

void restore_campaign_outcome_hyperparameters(PoolCampaign& c, const std::vector<GPHyperparameters>& h) {
  c.outcome_hypers_ = h;
}

std::string PoolCampaign::to_json() const { return campaign_state_json(*this, hyper_, true).dump(); }

PoolCampaign PoolCampaign::from_json(const std::string& text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw StorageError(str(origin, ": not valid JSON: ", e.what()));
  }
  auto shape = field<std::vector<int64_t>>(j, "pool_shape", origin);
  auto flat = field<std::vector<double>>(j, "pool", origin);
  if (shape.size() != 2 || shape[0] * shape[1] != static_cast<int64_t>(flat.size()))
    throw StorageError(str(origin, ": pool has ", flat.size(), " values, which does not match pool_shape"));
  auto pool = torch::tensor(flat, torch::kFloat64).reshape({shape[0], shape[1]});
  return campaign_from_state(j, pool, field<std::vector<int64_t>>(j, "observed_index", origin),
                             field<std::vector<double>>(j, "observed_value", origin),
                             field<std::vector<int64_t>>(j, "pending", origin), origin);
}

void PoolCampaign::save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) {
    save_campaign_hdf5(*this, campaign_state_json(*this, hyper_, false).dump(), tmp);
  } else {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw StorageError(str("cannot write campaign state to '", tmp, "'"));
    out << to_json();
    out.close();
    if (!out) throw StorageError(str("writing campaign state to '", tmp, "' failed (disk full?)"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw StorageError(str("cannot move '", tmp, "' to '", path, "'"));
  }
}

PoolCampaign PoolCampaign::load(const std::string& path) {
  if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) return load_campaign_hdf5(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StorageError(str("cannot open campaign state '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json(ss.str(), path);
}

// ------------------------------------------------------------ simulation

namespace {

/// y checked against the pool X and the run's sizes: float64 [n], finite.
torch::Tensor checked_oracle(const torch::Tensor& X, const torch::Tensor& y, int64_t budget, int64_t q,
                             int64_t n_init) {
  SOZAI_CHECK(X.defined() && X.dim() == 2, "pool_campaign: X must be [n, d], got ",
              X.defined() ? X.sizes() : at::IntArrayRef{});
  SOZAI_CHECK(y.defined() && y.numel() == X.size(0) && (y.dim() == 1 || (y.dim() == 2 && y.size(1) == 1)),
              "pool_campaign: y must be [", X.size(0), "], got ", y.defined() ? y.sizes() : at::IntArrayRef{});
  SOZAI_CHECK(budget >= 1 && budget <= X.size(0), "pool_campaign: budget must be in [1, ", X.size(0), "], got ", budget);
  SOZAI_CHECK(q >= 1, "pool_campaign: q must be >= 1, got ", q);
  SOZAI_CHECK(n_init >= 1 && n_init <= budget, "pool_campaign: n_init must be in [1, budget=", budget, "], got ",
              n_init);
  auto yv = y.reshape({-1}).to(torch::kCPU, torch::kFloat64).contiguous();
  auto finite = torch::isfinite(yv);
  if (!finite.all().item<bool>()) {
    int64_t bad = torch::nonzero(finite.logical_not()).index({0, 0}).item<int64_t>();
    throw InputError(str("pool_campaign: y[", bad, "] is not finite"));
  }
  return yv;
}

/// n_init random rows, then asks of q until `budget` rows are chosen or
/// `stop` says so; every ask answered from yv ([n], or [n, k] for k outcomes).
std::vector<int64_t> replay_campaign(PoolCampaign& c, const torch::Tensor& yv, int64_t budget, int64_t q,
                                     int64_t n_init, const std::function<bool(const std::vector<int64_t>&)>& stop) {
  const double* yp = yv.data_ptr<double>();
  const int64_t k_out = yv.dim() == 2 ? yv.size(1) : 1;  // outcomes per row
  std::vector<int64_t> order;
  auto run = [&](int64_t k) {
    auto rows = c.ask(k);
    SOZAI_ASSERT(!rows.empty());
    std::vector<double> vals;
    for (auto r : rows) vals.insert(vals.end(), yp + r * k_out, yp + (r + 1) * k_out);
    c.tell(rows, vals);
    order.insert(order.end(), rows.begin(), rows.end());
  };
  run(n_init);
  while (static_cast<int64_t>(order.size()) < budget && !(stop && stop(order)))
    run(std::min<int64_t>(q, budget - order.size()));
  return order;
}

CampaignConfig simulation_config(const CampaignConfig* base, const std::string& surrogate,
                                 const std::string& acquisition, uint64_t seed, int64_t n_init) {
  CampaignConfig cfg = base ? *base : CampaignConfig{};
  cfg.surrogate = surrogate;
  cfg.acquisition = acquisition;
  cfg.seed = seed;
  cfg.n_init = n_init;
  return cfg;
}

}  // namespace

std::vector<int64_t> pool_campaign(const torch::Tensor& X, const torch::Tensor& y, bool maximize, int64_t budget,
                                   uint64_t seed, const std::string& surrogate, const std::string& acquisition,
                                   int64_t q, int64_t n_init, const CampaignConfig* base_config,
                                   const std::function<bool(const std::vector<int64_t>&)>& stop) {
  const auto yv = checked_oracle(X, y, budget, q, n_init);
  const CampaignConfig cfg = simulation_config(base_config, surrogate, acquisition, seed, n_init);
  PoolCampaign c(X, maximize, cfg);
  return replay_campaign(c, yv, budget, q, n_init, stop);
}

std::vector<int64_t> pool_campaign_outcomes(const torch::Tensor& X, const torch::Tensor& Y,
                                            const std::vector<std::string>& outcomes, int64_t budget, uint64_t seed,
                                            const std::string& acquisition, int64_t q, int64_t n_init,
                                            const CampaignConfig* base_config,
                                            const std::function<bool(const std::vector<int64_t>&)>& stop) {
  SOZAI_CHECK(Y.defined() && Y.dim() == 2 && Y.size(1) == static_cast<int64_t>(outcomes.size()),
              "pool_campaign_outcomes: Y must be [n, ", outcomes.size(), "] (one column per outcome), got ",
              Y.defined() ? Y.sizes() : at::IntArrayRef{});
  auto Yv = Y.to(torch::kCPU, torch::kFloat64).contiguous();
  for (int64_t j = 0; j < Yv.size(1); ++j) checked_oracle(X, Yv.select(1, j).contiguous(), budget, q, n_init);
  CampaignConfig cfg = simulation_config(base_config, "gp", acquisition, seed, n_init);
  if (base_config && base_config->surrogate == "random") cfg.surrogate = "random";
  cfg.outcomes = outcomes;
  PoolCampaign c(X, true, cfg);
  return replay_campaign(c, Yv, budget, q, n_init, stop);
}

std::vector<int64_t> pool_campaign(std::shared_ptr<const GraphBatch> graphs, const torch::Tensor& y, bool maximize,
                                   int64_t budget, uint64_t seed, const std::string& surrogate,
                                   const std::string& acquisition, int64_t q, int64_t n_init,
                                   const CampaignConfig* base_config,
                                   const std::function<bool(const std::vector<int64_t>&)>& stop) {
  const auto rows = row_numbers(graphs);
  const auto yv = checked_oracle(rows, y, budget, q, n_init);
  const CampaignConfig cfg = simulation_config(base_config, surrogate, acquisition, seed, n_init);
  PoolCampaign c(graphs, maximize, cfg);
  return replay_campaign(c, yv, budget, q, n_init, stop);
}

std::vector<int64_t> random_baseline(int64_t n, int64_t budget, uint64_t seed) {
  SOZAI_CHECK(n >= 1, "random_baseline: n must be >= 1, got ", n);
  SOZAI_CHECK(budget >= 0 && budget <= n, "random_baseline: budget must be in [0, ", n, "], got ", budget);
  std::vector<int64_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937_64 rng(splitmix64(seed));
  for (int64_t i = 0; i < budget; ++i) {
    std::uniform_int_distribution<int64_t> pick(i, n - 1);
    std::swap(perm[i], perm[pick(rng)]);
  }
  perm.resize(budget);
  return perm;
}

}  // namespace sozai
