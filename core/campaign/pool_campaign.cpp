#include "core/campaign/campaign_common.h"
#include "core/campaign/campaign_io.h"
#include "core/campaign/pool_campaign.h"
#include "core/bo/multi_fidelity.h"
#include "core/bo/pareto.h"
#include "common/error.h"
#include "common/strings.h"
#include "models/gnn/gnn_surrogate.h"

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

using namespace campaign_detail;

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
  outcomes_ = campaign_outcomes(config_, maximize_);
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
  fc.target_first = config_.aei_target_first;
  fc.max_cheap_share = config_.aei_max_cheap_share;
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

uint64_t PoolCampaign::ask_seed() const { return campaign_detail::ask_seed(config_.seed, ask_count_); }

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

std::vector<int64_t> PoolCampaign::fit_and_select(Surrogate& model, int64_t q, bool condition_only) const {
  auto idx = torch::tensor(observed_, torch::kInt64);
  auto y = torch::tensor(values_, torch::kFloat64);
  auto X = pool_.index_select(0, idx);
  if (condition_only) dynamic_cast<ExactGP&>(model).set_data(Dataset{X, y});
  else model.fit(Dataset{X, y});
  const auto spec = acquisition_spec(config_, maximize_, ask_seed());
  return select_batch(model, pool_, available_mask(), q, X, y, spec, pending_);
}

std::shared_ptr<ExactGP> PoolCampaign::campaign_gp(const GPHyperparameters* warm, uint64_t seed) const {
  return campaign_detail::campaign_gp(config_, warm, seed, static_cast<int64_t>(observed_.size()), ask_count_,
                                      std::get<0>(pool_.min(0)), std::get<0>(pool_.max(0)));
}

std::vector<int64_t> PoolCampaign::fit_and_select_multi(int64_t q, uint64_t seed) {
  auto idx = torch::tensor(observed_, torch::kInt64);
  auto X = pool_.index_select(0, idx);
  auto Y = observed_outcomes();
  auto fit = fit_outcome_gps(config_, X, Y, outcome_hypers_, seed, ask_count_, std::get<0>(pool_.min(0)),
                             std::get<0>(pool_.max(0)));
  outcome_hypers_ = fit.fitted;
  MultiOutcomeConfig mc;
  mc.kind = config_.acquisition;
  mc.outcomes = outcomes_;
  mc.ref_point = config_.ref_point;
  mc.samples = config_.mc_samples;
  mc.seed = seed;
  auto rows = select_batch_multi(fit.models, pool_, available_mask(), q, X, Y, mc, pending_);
  model_ = fit.gps.front();
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
    rows = fit_and_select(*model, q, keep_hyperparameters(config_, hyper_.has_value(),
                                                          static_cast<int64_t>(observed_.size()), ask_count_));
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
  std::vector<int64_t> out;
  for (auto k : feasible_front(observed_outcomes(), outcomes_)) out.push_back(observed_[k]);
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
  j["config"] = config_to_json(cfg);
  if (hyper) {
    j["hyperparameters"] = hyperparameters_to_json(*hyper);
  } else {
    j["hyperparameters"] = nullptr;
  }
  if (!c.outcome_hyperparameters().empty()) {
    auto arr = json::array();
    for (const auto& h : c.outcome_hyperparameters())
      arr.push_back(hyperparameters_to_json(h));
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

PoolCampaign campaign_from_state(const nlohmann::json& j, const torch::Tensor& pool,
                                 const std::vector<int64_t>& observed, const std::vector<double>& values,
                                 const std::vector<int64_t>& pending, const std::string& origin) {
  if (field<std::string>(j, "format", origin) != "sozai.pool_campaign")
    throw StorageError(str(origin, ": not a sozai pool campaign (format '", j.value("format", ""), "')"));
  const int version = field<int>(j, "version", origin);
  if (version != 1) throw StorageError(str(origin, ": campaign state version ", version, " is not supported (expected 1)"));
  if (!j.contains("config")) throw StorageError(str(origin, ": campaign state has no field 'config'"));
  const CampaignConfig cfg = config_from_json(j.at("config"), origin);

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
    restore_campaign_hyperparameters(c, hyperparameters_from_json(j.at("hyperparameters"), pool.size(1), origin));
  }
  if (j.contains("outcome_hyperparameters")) {
    std::vector<GPHyperparameters> hs;
    for (const auto& h : j.at("outcome_hyperparameters")) hs.push_back(hyperparameters_from_json(h, pool.size(1), origin));
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
  const auto j = parse_state(text, origin);
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
  if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) {
    write_atomically(path, [&](const std::string& tmp) {
      save_campaign_hdf5(*this, campaign_state_json(*this, hyper_, false).dump(), tmp);
    });
  } else {
    write_text_atomically(path, to_json());
  }
}

PoolCampaign PoolCampaign::load(const std::string& path) {
  if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) return load_campaign_hdf5(path);
  return from_json(read_text(path), path);
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
