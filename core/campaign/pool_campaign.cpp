#include "core/campaign/pool_campaign.h"
#include "common/blas.h"
#include "core/campaign/campaign_common.h"
#include "core/campaign/campaign_io.h"
#include "core/bo/select.h"
#include "common/error.h"
#include "common/files.h"
#include "common/json.h"
#include "common/strings.h"
#include "models/config_json.h"
#include "models/gnn/gnn_surrogate.h"
#include "models/gp/multitask_gp.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace sozai {

using namespace campaign_detail;

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

PoolCampaign::PoolCampaign(const torch::Tensor& pool, CampaignConfig config) : Campaign(std::move(config)) {
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
  config_.validate();
  if (config_.multi_fidelity()) {
    SOZAI_CHECK(pool_.size(1) >= 2, "PoolCampaign: a multi-fidelity pool needs inputs and a last fidelity column");
    const int64_t T = static_cast<int64_t>(config_.acquisition.fidelity.costs.size());
    auto f = pool_.select(1, pool_.size(1) - 1);
    auto bad = (f != f.round()) | (f < 0) | (f >= T);
    if (bad.any().item<bool>()) {
      const auto row = torch::nonzero(bad).index({0, 0}).item<int64_t>();
      throw InputError(str("PoolCampaign: pool row ", row, " has fidelity ", f[row].item<double>(),
                           " in its last column, not an integer in [0, ", T, ")"));
    }
  }
}

PoolCampaign::PoolCampaign(std::shared_ptr<const GraphBatch> graphs, CampaignConfig config)
    : PoolCampaign(row_numbers(graphs), std::move(config)) {
  SOZAI_CHECK(config_.surrogate != "gp", "PoolCampaign: a pool of graphs needs surrogate gnn, gnn-dkl, gp-pretrained or random, "
              "not gp (the GP models feature vectors)");
  graphs_ = std::move(graphs);
}

struct PoolCampaign::Transfer {
  TransferSpace space;
  torch::Tensor pool;  // [N, w] the pool in the transfer space
  std::vector<TransferSource> sources;
  torch::Tensor lo, hi;
  /// Models of the sources, fitted at the first model-based ask.
  mutable std::vector<std::shared_ptr<const Surrogate>> models;
  /// The models' score of every pool row (prior_scores), for prior_belief.
  mutable torch::Tensor scores;
};

PoolCampaign::PoolCampaign(const torch::Tensor& pool, std::vector<std::string> columns, std::vector<Prior> priors,
                           CampaignConfig config)
    : PoolCampaign(pool, std::move(config)) {
  SOZAI_CHECK(columns.empty() || static_cast<int64_t>(columns.size()) == pool_.size(1), "PoolCampaign: ",
              columns.size(), " column names for a pool of ", pool_.size(1), " columns");
  SOZAI_CHECK(priors.empty() || !columns.empty(),
              "PoolCampaign: priors need the names of the pool's columns (columns=[...]) to align with them");
  columns_ = std::move(columns);
  if (priors.empty()) return;
  SOZAI_CHECK(num_outcomes() == 1 && !config_.multi_fidelity() && config_.surrogate == "gp",
              "PoolCampaign: priors inform campaigns of one outcome with surrogate 'gp' and no fidelities (this one has ",
              num_outcomes(), " outcome(s), surrogate '", config_.surrogate, "'",
              config_.multi_fidelity() ? ", fidelities" : "", ")");
  for (const auto& p : priors) prior_records_.push_back(p.describe());
  attach_priors(std::move(priors));
}

void PoolCampaign::attach_priors(std::vector<Prior> priors) {
  check_prior_records(priors, prior_records_, "PoolCampaign::attach_priors");
  // The transfer space now (a prior sharing no column is refused here); asks
  // reuse it. The same priors on the same pool again in this process (a
  // campaign restored from its state: the lab service does so for every
  // ask) take the space computed before.
  static RecentValues<std::shared_ptr<const Transfer>> recent(8);
  const auto key = priors_key({"sozai.pool_transfer.1", join(columns_, "\x1f"), tensor_key(pool_),
                               str(config_.transfer.components, maximize() ? " max" : " min")},
                              prior_records_);
  const auto shared = recent.get_or_put(key, [&] {
    auto t = std::make_shared<Transfer>();
    t->space = TransferSpace(columns_, priors, pool_, config_.transfer.components);
    t->pool = t->space.encode(pool_, columns_, "pool");
    t->sources = transfer_sources(t->space, priors, maximize());
    std::tie(t->lo, t->hi) = transfer_bounds(t->pool, t->sources);
    return std::shared_ptr<const Transfer>(t);
  });
  auto t = std::make_shared<Transfer>(*shared);  // its models are this campaign's own
  priors_ = std::move(priors);
  transfer_ = t;
  // The prior models are fitted now, not at the first ask: a lab controller
  // waits on asks, and creating a campaign is the one-off step.
  transfer();
}

const PoolCampaign::Transfer& PoolCampaign::transfer() {
  SOZAI_CHECK(priors_.size() == prior_records_.size(), "PoolCampaign::ask: this campaign learns from ",
              prior_records_.size(), " prior(s) (", [&] {
                std::vector<std::string> names;
                for (const auto& r : prior_records_) names.push_back(r.value("name", std::string("?")));
                return join(names);
              }(), "); give them back with attach_priors after load");
  const auto& t = *transfer_;
  // Fitted once per campaign with its own seed (the same after load, and
  // taken from the process's cache then), tabulated on the pool: every ask
  // evaluates them there.
  if (t.models.empty())
    t.models = source_models(t.sources, config_.gp, config_.transfer, t.pool, t.lo, t.hi,
                             splitmix64(config_.seed() ^ 0x7072696F72ULL), /*tabulate=*/true);
  return t;
}

std::vector<int64_t> PoolCampaign::prior_ranked_rows(int64_t q) {
  const auto& t = transfer();
  auto free = torch::nonzero(available_mask()).reshape({-1});
  const auto score = prior_scores(t.models, t.pool.index_select(0, free), maximize());
  std::vector<int64_t> rows;
  for (auto i : top_positions(score, q)) rows.push_back(free[i].item<int64_t>());
  return rows;
}

Candidates PoolCampaign::rows_of(std::vector<int64_t> rows) const {
  auto X = pool_.index_select(0, torch::tensor(rows, torch::kInt64));
  return Candidates(X, std::move(rows));
}

Candidates PoolCampaign::fit_and_select_transfer(int64_t q, uint64_t seed) {
  const auto& t = transfer();
  const auto obs = torch::tensor(observed_, torch::kInt64);
  auto X = t.pool.index_select(0, obs);
  auto Y = observed_outcomes();
  auto model = fit_transfer_gp(config_, t.sources, t.models, t.lo, t.hi, X, Y.select(1, 0).contiguous(), seed,
                               ask_count_, &transfer_warm_, &transfer_summary_);
  AcquisitionSpec spec = config_.acquisition;
  spec.seed = seed;
  auto acquisition = make_acquisition(spec, {model.get()}, {X, Y, t.pool.index_select(0, torch::tensor(pending_, torch::kInt64))});
  // piBO: the priors' belief in a row, exp(score), to the power
  // prior_belief / n, scaled by how well the score ranks the results so far.
  torch::Tensor log_weight;
  if (config_.transfer.prior_belief > 0) {
    if (!t.scores.defined()) t.scores = prior_scores(t.models, t.pool, maximize());
    const auto y = Y.select(1, 0) * (maximize() ? 1.0 : -1.0);
    const double agreement = std::max(0.0, 1.0 - 2.0 * ranking_loss(t.scores.index_select(0, obs), y));
    const double weight = config_.transfer.prior_belief / static_cast<double>(observed_.size()) * agreement;
    log_weight = t.scores * weight;
    transfer_summary_["prior_belief"] = {{"agreement", agreement}, {"weight", weight}};
  }
  auto picks = rows_of(select_from_pool(*acquisition, t.pool, available_mask(), q, log_weight));
  describe_picks(picks, {model.get()}, *acquisition, t.pool.index_select(0, torch::tensor(picks.rows, torch::kInt64)));
  model_ = model;
  return picks;
}

void PoolCampaign::attach_graphs(std::shared_ptr<const GraphBatch> graphs) {
  SOZAI_CHECK(graphs && graphs->num_graphs() == pool_.size(0), "PoolCampaign::attach_graphs: the campaign has ",
              pool_.size(0), " rows but ", graphs ? graphs->num_graphs() : 0, " graphs were given");
  graphs_ = std::move(graphs);
}

int64_t PoolCampaign::fidelity_of(int64_t row) const {
  return static_cast<int64_t>(pool_[row][pool_.size(1) - 1].item<double>());
}

int64_t PoolCampaign::target_fidelity() const {
  const auto& f = config_.acquisition.fidelity;
  return f.target < 0 ? static_cast<int64_t>(f.costs.size()) - 1 : f.target;
}

double PoolCampaign::cost_spent() const {
  if (!config_.multi_fidelity()) return 0.0;
  double total = 0.0;
  for (auto r : observed_) total += config_.acquisition.fidelity.costs[fidelity_of(r)];
  return total;
}

void PoolCampaign::check_index(int64_t index, const char* what) const {
  SOZAI_CHECK(index >= 0 && index < pool_.size(0), "PoolCampaign::", what, ": row ", index,
              " is outside the pool of ", pool_.size(0), " candidates");
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

Candidates PoolCampaign::fit_and_select(int64_t q, uint64_t seed) {
  if (!prior_records_.empty()) return fit_and_select_transfer(q, seed);
  auto X = pool_.index_select(0, torch::tensor(observed_, torch::kInt64));
  auto Y = observed_outcomes();
  std::vector<const Surrogate*> models;
  std::vector<std::shared_ptr<Surrogate>> owned;
  if (config_.multi_fidelity()) {
    MultiTaskGPConfig mc;
    mc.num_tasks = static_cast<int64_t>(config_.acquisition.fidelity.costs.size());
    mc.kernel = config_.gp.kernel;
    mc.restarts = config_.gp.restarts;
    mc.max_iter = config_.gp.max_iter;
    mc.seed = seed;
    auto model = std::make_shared<MultiTaskGP>(mc);
    const int64_t d = pool_.size(1) - 1;
    model->set_input_bounds(std::get<0>(pool_.slice(1, 0, d).min(0)), std::get<0>(pool_.slice(1, 0, d).max(0)));
    model->fit(Dataset{X, Y.select(1, 0).contiguous()});
    owned.push_back(model);
  } else if (config_.surrogate == "gnn" || config_.surrogate == "gnn-dkl" || config_.surrogate == "gp-pretrained") {
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
    gc.ensemble.finetune.pretrained = config_.gnn.pretrained;
    gc.gp = config_.gp;
    gc.gp.seed = seed;
    auto model = std::make_shared<gnn::GnnSurrogate>(graphs_, gc);
    model->fit(Dataset{X, Y.select(1, 0).contiguous()});
    owned.push_back(model);
  } else {
    auto fit = fit_outcome_gps(config_, X, Y, hypers_, seed, ask_count_, std::get<0>(pool_.min(0)),
                               std::get<0>(pool_.max(0)));
    hypers_ = fit.fitted;
    owned.assign(fit.gps.begin(), fit.gps.end());
  }
  for (const auto& m : owned) models.push_back(m.get());
  AcquisitionSpec spec = config_.acquisition;
  spec.seed = seed;
  auto acquisition = make_acquisition(spec, models, {X, Y, pool_.index_select(0, torch::tensor(pending_, torch::kInt64))});
  auto picks = rows_of(select_from_pool(*acquisition, pool_, available_mask(), q));
  describe_picks(picks, models, *acquisition, picks.X);
  model_ = owned.front();
  return picks;
}

Candidates PoolCampaign::ask(int64_t q) {
  SOZAI_CHECK(q >= 1, "PoolCampaign::ask: q must be >= 1, got ", q);
  // Small matrices: BLAS threads would cost more than they share out.
  ScopedSingleThreadBlas one_blas_thread(static_cast<int64_t>(observed_.size() + pending_.size()) < kBlasThreadRows);
  const uint64_t seed = ask_seed();
  const int64_t n = static_cast<int64_t>(observed_.size());
  const bool initial = n < std::max<int64_t>(config_.n_init, 1);
  const bool from_priors = initial && !prior_records_.empty() && config_.transfer.initial == "prior";
  auto picks = config_.surrogate == "random" || (initial && !from_priors) ? rows_of(random_rows(q, seed))
               : from_priors                                             ? rows_of(prior_ranked_rows(q))
                                                                         : fit_and_select(q, seed);
  pending_.insert(pending_.end(), picks.rows.begin(), picks.rows.end());
  ++ask_count_;
  return picks;
}

void PoolCampaign::tell(const std::vector<int64_t>& rows, const std::vector<double>& values) {
  const size_t k = outcomes().size();
  SOZAI_CHECK(rows.size() * k == values.size(), "PoolCampaign::tell: ", rows.size(), " rows need ", rows.size() * k,
              " values (", k, " outcome(s) each), got ", values.size());
  std::vector<bool> seen(pool_.size(0), false);
  for (auto i : observed_) seen[i] = true;
  for (size_t r = 0; r < rows.size(); ++r) {
    check_index(rows[r], "tell");
    for (size_t j = 0; j < k; ++j)
      SOZAI_CHECK(std::isfinite(values[r * k + j]), "PoolCampaign::tell: value for row ", rows[r],
                  k > 1 ? str(", outcome ", j) : std::string(), " is not finite (", values[r * k + j], ")");
    SOZAI_CHECK(!seen[rows[r]], "PoolCampaign::tell: row ", rows[r],
                " already has a result; a pool candidate is measured once");
    seen[rows[r]] = true;
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    observed_.push_back(rows[r]);
    values_.insert(values_.end(), values.begin() + r * k, values.begin() + (r + 1) * k);
    pending_.erase(std::remove(pending_.begin(), pending_.end(), rows[r]), pending_.end());
  }
}

void PoolCampaign::tell(const Candidates& candidates, const torch::Tensor& Y) {
  SOZAI_CHECK(!candidates.rows.empty() || candidates.size() == 0,
              "PoolCampaign::tell: a pool campaign records results of pool rows (candidates without rows given)");
  const int64_t n = static_cast<int64_t>(candidates.rows.size());
  auto V = checked_outcomes(Y, n, "PoolCampaign::tell");
  tell(candidates.rows, std::vector<double>(V.data_ptr<double>(), V.data_ptr<double>() + V.numel()));
}

void PoolCampaign::tell(int64_t row, double value) {
  SOZAI_CHECK(outcomes().size() == 1, "PoolCampaign::tell: the campaign has ", outcomes().size(),
              " outcomes per experiment; tell all of them (tell_outcomes)");
  tell(std::vector<int64_t>{row}, std::vector<double>{value});
}

void PoolCampaign::tell_outcomes(int64_t row, const std::vector<double>& outcomes) {
  tell(std::vector<int64_t>{row}, outcomes);
}

void PoolCampaign::cancel(int64_t row) {
  check_index(row, "cancel");
  auto it = std::find(pending_.begin(), pending_.end(), row);
  SOZAI_CHECK(it != pending_.end(), "PoolCampaign::cancel: row ", row, " is not pending");
  pending_.erase(it);
}

void PoolCampaign::cancel(const Candidates& candidates) {
  for (auto r : candidates.rows) {
    check_index(r, "cancel");
    SOZAI_CHECK(std::find(pending_.begin(), pending_.end(), r) != pending_.end(), "PoolCampaign::cancel: row ", r,
                " is not pending");
  }
  for (auto r : candidates.rows) cancel(r);
}

Candidates PoolCampaign::pending() const {
  return Candidates(pool_.index_select(0, torch::tensor(pending_, torch::kInt64)), pending_);
}

Candidates PoolCampaign::observed() const {
  return Candidates(pool_.index_select(0, torch::tensor(observed_, torch::kInt64)), observed_);
}

std::vector<int64_t> PoolCampaign::pareto_front() const {
  std::vector<int64_t> out;
  for (auto k : feasible_front(observed_outcomes(), outcomes())) out.push_back(observed_[k]);
  return out;
}

BestResult PoolCampaign::best() const {
  // Multi-fidelity: only results at the target fidelity count.
  std::vector<bool> counts;
  if (config_.multi_fidelity())
    for (auto r : observed_) counts.push_back(fidelity_of(r) == target_fidelity());
  const int64_t b = best_position("PoolCampaign::best", counts);
  SOZAI_CHECK(b >= 0, "PoolCampaign::best: no result at the target fidelity ", target_fidelity(), " yet");
  return {Candidates(pool_.slice(0, observed_[b], observed_[b] + 1).clone(), {observed_[b]}), values_[b], b};
}

// ------------------------------------------------------------ persistence

nlohmann::json PoolCampaignState::to_json(const PoolCampaign& c, bool with_arrays) {
  using nlohmann::json;
  json j;
  j["format"] = "sozai.pool_campaign";
  j["version"] = kCampaignStateVersion;
  j["ask_count"] = c.ask_count_;
  j["config"] = c.config_.to_json();
  j["outcome_hyperparameters"] = hyperparameters_to_json(c.hypers_);
  j["pool_shape"] = {c.pool_.size(0), c.pool_.size(1)};
  if (!c.columns_.empty()) j["columns"] = c.columns_;
  priors_to_json(j, c.prior_records_, c.transfer_warm_);
  if (with_arrays) {
    const double* p = c.pool_.data_ptr<double>();
    j["pool"] = std::vector<double>(p, p + c.pool_.numel());
    j["observed_index"] = c.observed_;
    j["observed_value"] = c.values_;
    j["pending"] = c.pending_;
  }
  return j;
}

PoolCampaign PoolCampaignState::from_json(const nlohmann::json& j, const torch::Tensor& pool,
                                          const std::vector<int64_t>& observed, const std::vector<double>& values,
                                          const std::vector<int64_t>& pending, const std::string& origin) {
  const int version = check_state_header(j, "sozai.pool_campaign", origin);
  PoolCampaign c(pool, config_from_saved_state(j, version, origin));
  if (observed.size() * c.num_outcomes() != values.size())
    throw StorageError(str(origin, ": ", observed.size(), " observed indices with ", c.num_outcomes(),
                           " outcome(s) each but ", values.size(), " values"));
  try {
    c.tell(observed, values);
  } catch (const InputError& e) {
    throw StorageError(str(origin, ": invalid observations: ", e.what()));
  }
  auto mask = c.available_mask();
  for (auto p : pending) {
    if (p < 0 || p >= c.pool_size() || !mask.data_ptr<bool>()[p])
      throw StorageError(str(origin, ": pending row ", p, " is outside the pool, observed or listed twice"));
    mask.data_ptr<bool>()[p] = false;
  }
  c.pending_ = pending;
  c.ask_count_ = json_io::required<int64_t, StorageError>(j, "ask_count", origin);
  // Version 1 kept a single objective's hyperparameters apart.
  if (version == 1 && j.contains("hyperparameters") && !j.at("hyperparameters").is_null())
    c.hypers_ = hyperparameters_from_json(nlohmann::json::array({j.at("hyperparameters")}), pool.size(1),
                                          c.num_outcomes(), origin);
  if (j.contains("outcome_hyperparameters"))
    c.hypers_ = hyperparameters_from_json(j.at("outcome_hyperparameters"), pool.size(1), c.num_outcomes(), origin);
  c.columns_ = json_io::optional<std::vector<std::string>, StorageError>(j, "columns", {}, origin);
  if (!c.columns_.empty() && static_cast<int64_t>(c.columns_.size()) != pool.size(1))
    throw StorageError(str(origin, ": ", c.columns_.size(), " column names for a pool of ", pool.size(1), " columns"));
  priors_from_json(j, origin, &c.prior_records_, &c.transfer_warm_);
  if (!c.prior_records_.empty() && c.columns_.empty())
    throw StorageError(str(origin, ": a campaign with priors needs its columns"));
  return c;
}

std::string PoolCampaign::to_json() const { return PoolCampaignState::to_json(*this, true).dump(); }

PoolCampaign PoolCampaign::from_json(const std::string& text, const std::string& origin) {
  const auto j = json_io::parse<StorageError>(text, origin);
  json_io::require_object<StorageError>(j, origin);
  auto shape = json_io::required<std::vector<int64_t>, StorageError>(j, "pool_shape", origin);
  auto flat = json_io::required<std::vector<double>, StorageError>(j, "pool", origin);
  if (shape.size() != 2 || shape[0] * shape[1] != static_cast<int64_t>(flat.size()))
    throw StorageError(str(origin, ": pool has ", flat.size(), " values, which does not match pool_shape"));
  auto pool = torch::tensor(flat, torch::kFloat64).reshape({shape[0], shape[1]});
  return PoolCampaignState::from_json(j, pool, json_io::required<std::vector<int64_t>, StorageError>(j, "observed_index", origin),
                                      json_io::required<std::vector<double>, StorageError>(j, "observed_value", origin),
                                      json_io::required<std::vector<int64_t>, StorageError>(j, "pending", origin), origin);
}

void PoolCampaign::save(const std::string& path) const {
  if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) {
    write_atomically(path, [&](const std::string& tmp) {
      save_campaign_hdf5(*this, PoolCampaignState::to_json(*this, false).dump(), tmp);
    });
  } else {
    write_text_atomically(path, to_json());
  }
}

PoolCampaign PoolCampaign::load(const std::string& path) {
  if (ends_with(path, ".h5") || ends_with(path, ".hdf5")) return load_campaign_hdf5(path);
  return from_json(read_text(path, "campaign state"), path);
}

// ------------------------------------------------------------ simulation

namespace {

/// Y checked against the pool size and the run's sizes: float64 [n, k], finite.
torch::Tensor checked_oracle(int64_t n, const torch::Tensor& Y, int64_t k, int64_t budget, int64_t q,
                             int64_t n_init) {
  SOZAI_CHECK(Y.defined() && Y.size(0) == n && (Y.dim() == 1 ? k == 1 : Y.dim() == 2 && Y.size(1) == k),
              "pool_campaign: Y must be [n", k > 1 ? str(", ", k) : std::string(), "] (one column per outcome) with n = ",
              n, " rows, got ", Y.defined() ? Y.sizes() : at::IntArrayRef{});
  SOZAI_CHECK(budget >= 1 && budget <= n, "pool_campaign: budget must be in [1, ", n, "], got ", budget);
  SOZAI_CHECK(q >= 1, "pool_campaign: q must be >= 1, got ", q);
  SOZAI_CHECK(n_init >= 1 && n_init <= budget, "pool_campaign: n_init must be in [1, budget=", budget, "], got ",
              n_init);
  auto Yv = Y.reshape({n, k}).to(torch::kCPU, torch::kFloat64).contiguous();
  auto finite = torch::isfinite(Yv).all(1);
  if (!finite.all().item<bool>()) {
    int64_t bad = torch::nonzero(finite.logical_not()).index({0, 0}).item<int64_t>();
    throw InputError(str("pool_campaign: y[", bad, "] is not finite"));
  }
  return Yv;
}

/// n_init random rows, then asks of q until `budget` rows are chosen or
/// `stop` says so; every ask answered from Y [n, k].
std::vector<int64_t> replay_campaign(PoolCampaign& c, const torch::Tensor& Y, int64_t budget, int64_t q,
                                     const std::function<bool(const std::vector<int64_t>&)>& stop) {
  const double* yp = Y.data_ptr<double>();
  const int64_t k = Y.size(1);
  std::vector<int64_t> order;
  auto run = [&](int64_t size) {
    auto rows = c.ask(size).rows;
    SOZAI_ASSERT(!rows.empty());
    std::vector<double> vals;
    for (auto r : rows) vals.insert(vals.end(), yp + r * k, yp + (r + 1) * k);
    c.tell(rows, vals);
    order.insert(order.end(), rows.begin(), rows.end());
  };
  run(c.config().n_init);
  while (static_cast<int64_t>(order.size()) < budget && !(stop && stop(order)))
    run(std::min<int64_t>(q, budget - order.size()));
  return order;
}

}  // namespace

std::vector<int64_t> pool_campaign(const torch::Tensor& X, const torch::Tensor& Y, const CampaignConfig& config,
                                   int64_t budget, int64_t q,
                                   const std::function<bool(const std::vector<int64_t>&)>& stop) {
  SOZAI_CHECK(X.defined() && X.dim() == 2, "pool_campaign: X must be [n, d], got ",
              X.defined() ? X.sizes() : at::IntArrayRef{});
  const auto Yv = checked_oracle(X.size(0), Y, static_cast<int64_t>(config.outcomes().size()), budget, q,
                                 config.n_init);
  PoolCampaign c(X, config);
  return replay_campaign(c, Yv, budget, q, stop);
}

std::vector<int64_t> pool_campaign(const torch::Tensor& X, const torch::Tensor& Y, const CampaignConfig& config,
                                   int64_t budget, int64_t q, const std::vector<std::string>& columns,
                                   const std::vector<Prior>& priors,
                                   const std::function<bool(const std::vector<int64_t>&)>& stop) {
  SOZAI_CHECK(X.defined() && X.dim() == 2, "pool_campaign: X must be [n, d], got ",
              X.defined() ? X.sizes() : at::IntArrayRef{});
  const auto Yv = checked_oracle(X.size(0), Y, static_cast<int64_t>(config.outcomes().size()), budget, q,
                                 config.n_init);
  PoolCampaign c(X, columns, priors, config);
  return replay_campaign(c, Yv, budget, q, stop);
}

std::vector<int64_t> pool_campaign(std::shared_ptr<const GraphBatch> graphs, const torch::Tensor& y,
                                   const CampaignConfig& config, int64_t budget, int64_t q,
                                   const std::function<bool(const std::vector<int64_t>&)>& stop) {
  const auto rows = row_numbers(graphs);
  const auto Yv = checked_oracle(rows.size(0), y, static_cast<int64_t>(config.outcomes().size()), budget, q,
                                 config.n_init);
  PoolCampaign c(graphs, config);
  return replay_campaign(c, Yv, budget, q, stop);
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
