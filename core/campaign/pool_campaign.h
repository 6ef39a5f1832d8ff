#pragma once
/// A Bayesian-optimisation campaign over a finite pool of candidates
/// (DESIGN.md "campaign" layer): ask(q) proposes pool rows, tell records
/// measured results, and the full state saves to JSON or HDF5 and
/// continues identically after load.

#include "core/bo/acquisition.h"
#include "core/bo/multi_objective.h"
#include "core/bo/optimize.h"
#include "core/bo/select.h"
#include "models/gp/exact_gp.h"
#include "models/gp/multitask_gp.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sozai {

struct GraphBatch;

/// Graph-network surrogates in a campaign (surrogate "gnn" or "gnn-dkl"):
/// the ensemble's size and training (models/gnn/gnn_surrogate.h).
struct CampaignGnnConfig {
  std::string kind;          ///< polymer, crystal or composition ("": from the pool graphs' kind)
  int64_t n_members = 5;
  int64_t hidden = 64;       ///< width of node states and head
  int64_t layers = 3;        ///< message-passing steps
  int64_t max_epochs = 0;    ///< 0: automatic (TrainConfig)
  int64_t dkl_dims = 8;      ///< gnn-dkl: principal components of the embedding the GP sees
};

/// Settings of a pool campaign.
struct CampaignConfig {
  /// "gp" (ExactGP on the pool's feature vectors); "random" proposes
  /// uniformly at random; "gnn" (a GnnEnsemble) and "gnn-dkl" (a GP on the
  /// ensemble's learned embedding) model the pool's graphs and need the
  /// campaign built from them.
  std::string surrogate = "gp";
  /// ei, logei, ucb, pi (analytic, Kriging-believer batches) or qlognei,
  /// qucb (Monte-Carlo, batches scored jointly; core/bo/monte_carlo.h) or
  /// thompson (GP sample paths; core/bo/thompson.h).
  std::string acquisition = "logei";
  double ucb_beta = 4.0;            ///< ucb, qucb: mean + sqrt(beta) sigma, in standardised units
  int64_t mc_samples = 128;         ///< qlognei, qucb: joint posterior samples per ask
  int64_t n_init = 2;               ///< random proposals before the first model
  uint64_t seed = 0;                ///< seeds the initial design and the GP restarts
  /// Every this many asks (and while fewer than 30 results are known) the
  /// GP hyperparameters are fitted from all restarts; in between, from the
  /// previous hyperparameters alone, which one new result barely moves.
  /// Keeps ask latency low without letting the fit drift into a poor optimum.
  int64_t full_refit_every = 10;
  /// From this many results on, the asks between full refits keep the last
  /// GP hyperparameters and only condition on the data (one Cholesky
  /// instead of an L-BFGS fit of O(n^3) steps); below it they are refitted
  /// from the last values.
  int64_t keep_hyperparameters_from = 1000;
  ExactGPConfig gp;                 ///< kernel, outcome transform, restarts (also gnn-dkl's GP)
  CampaignGnnConfig gnn;            ///< surrogate gnn / gnn-dkl
  /// Several measured outcomes per experiment, one entry each: "max",
  /// "min", "<= bound" or ">= bound" (outcome constraints). Empty: one
  /// objective in the campaign's direction. Several objectives need
  /// acquisition qnehvi, qlognehvi or qparego; one objective with
  /// constraints needs qlognei (or those three). Surrogate "gp" (one per
  /// outcome) or "random".
  std::vector<std::string> outcomes;
  /// One per objective, original units: the worst acceptable value
  /// (hypervolume reference). Empty: inferred from the data at each ask.
  std::vector<double> ref_point;
  /// Multi-fidelity: the cost of one experiment at each fidelity. When set,
  /// the pool's last column is the fidelity index (0 .. costs - 1), the
  /// surrogate is a MultiTaskGP over fidelities and the acquisition
  /// augmented EI per unit cost ("aei"; core/bo/multi_fidelity.h).
  std::vector<double> fidelity_costs;
  int64_t target_fidelity = -1;     ///< the fidelity to optimise (-1: the last)
  /// aei: choose the input by target EI, then its fidelity (multi_fidelity.h);
  /// false: plain augmented EI over every (input, fidelity) row.
  bool aei_target_first = true;
  /// aei: the most of the cost that may go to fidelities other than the
  /// target (1: no cap; multi_fidelity.h).
  double aei_max_cheap_share = 0.5;
  /// Space campaigns: the acquisition optimiser's starts, iterations and
  /// rounds (core/bo/optimize.h); its seed is each ask's.
  OptimizeConfig optimizer;
};

class PoolCampaign {
 public:
  /// pool: [N, d] candidate inputs (any float dtype; stored as float64 on
  /// the CPU, modelled on pool.device()). maximize: objective direction.
  PoolCampaign(const torch::Tensor& pool, bool maximize, CampaignConfig config = {});
  /// A pool of materials as graphs (one per candidate; surrogate "gnn" or
  /// "gnn-dkl"): the campaign's rows are the graphs' positions, and its
  /// stored pool is the column 0..N-1.
  PoolCampaign(std::shared_ptr<const GraphBatch> graphs, bool maximize, CampaignConfig config);
  /// Gives a loaded graph campaign its graphs back (saves keep rows, not
  /// graphs). InputError when their number differs from the pool's.
  void attach_graphs(std::shared_ptr<const GraphBatch> graphs);

  /// Proposes up to q pool rows that are neither observed nor pending and
  /// marks them pending. Random while fewer than n_init results are known;
  /// then fits the surrogate and selects a Kriging-believer batch.
  std::vector<int64_t> ask(int64_t q = 1);
  /// Records the measured value of pool row `index` (pending or not).
  /// InputError for an index outside the pool, a row already observed, or
  /// a non-finite value; nothing is changed when it throws.
  void tell(int64_t index, double value);
  /// Records several results; all are validated before any is stored.
  /// With several outcomes, values holds num_outcomes() per index, row by row.
  void tell(const std::vector<int64_t>& indices, const std::vector<double>& values);
  /// Records every outcome of one experiment (num_outcomes() values).
  void tell_outcomes(int64_t index, const std::vector<double>& outcomes);
  /// Withdraws a pending experiment (it becomes available again).
  void cancel(int64_t index);

  const std::vector<int64_t>& observed_indices() const { return observed_; }
  /// Observed values, num_outcomes() per observed row, row by row.
  const std::vector<double>& observed_values() const { return values_; }
  /// Observed outcomes as [n, num_outcomes()] float64.
  torch::Tensor observed_outcomes() const;
  int64_t num_outcomes() const { return static_cast<int64_t>(outcomes_.size()); }
  /// What each outcome is for (one objective when config.outcomes is empty).
  const std::vector<Outcome>& outcomes() const { return outcomes_; }
  const std::vector<int64_t>& pending() const { return pending_; }
  int64_t pool_size() const { return pool_.size(0); }
  bool maximize() const { return maximize_; }
  const CampaignConfig& config() const { return config_; }
  const torch::Tensor& pool() const { return pool_; }
  int64_t ask_count() const { return ask_count_; }
  /// Best observed (index, value) in the campaign's direction; InputError if
  /// none, or if the campaign has several outcomes (see pareto_front).
  std::pair<int64_t, double> best() const;
  /// Multi-fidelity campaigns: total cost of the results told so far
  /// (0 for other campaigns).
  double cost_spent() const;
  /// Observed rows that satisfy every outcome constraint and that no other
  /// such row dominates in the objectives (one objective: the best rows).
  std::vector<int64_t> pareto_front() const;
  /// Several outcomes: the GP hyperparameters of each outcome's last fit
  /// (warm starts of the next; empty before the first model-based ask).
  const std::vector<GPHyperparameters>& outcome_hyperparameters() const { return outcome_hypers_; }
  /// The surrogate fitted at the last model-based ask (nullptr before).
  const Surrogate* model() const { return model_.get(); }

  /// Saves the full state; ".h5"/".hdf5" -> HDF5 (needs SOZAI_WITH_HDF5),
  /// anything else -> JSON. Written to a temporary file and renamed, so an
  /// existing save is never left half-written.
  void save(const std::string& path) const;
  /// Loads a campaign saved by save(); StorageError naming the file and the
  /// missing or malformed field.
  static PoolCampaign load(const std::string& path);

  /// JSON text of the full state (what save() writes for .json).
  std::string to_json() const;
  static PoolCampaign from_json(const std::string& text, const std::string& origin = "<string>");

 private:
  friend void restore_campaign_counters(PoolCampaign&, const std::vector<int64_t>&, int64_t, const std::string&);
  friend void restore_campaign_hyperparameters(PoolCampaign&, const GPHyperparameters&);
  friend void restore_campaign_outcome_hyperparameters(PoolCampaign&, const std::vector<GPHyperparameters>&);
  uint64_t ask_seed() const;
  /// Fits `model` to the observations (or only conditions it, keeping its
  /// hyperparameters) and picks q available rows.
  std::vector<int64_t> fit_and_select(Surrogate& model, int64_t q, bool condition_only = false) const;
  /// The GP of an ask, on the pool's bounds, warm-started from `warm` when
  /// given (then from one start between full refits).
  std::shared_ptr<ExactGP> campaign_gp(const GPHyperparameters* warm, uint64_t seed) const;
  /// Several outcomes: one GP per outcome, then select_batch_multi.
  std::vector<int64_t> fit_and_select_multi(int64_t q, uint64_t seed);
  /// Multi-fidelity: a MultiTaskGP over the fidelities, then augmented EI.
  std::vector<int64_t> fit_and_select_fidelity(int64_t q, uint64_t seed);
  bool multi_fidelity() const { return !config_.fidelity_costs.empty(); }
  int64_t fidelity_of(int64_t row) const;
  int64_t target_fidelity() const;
  bool single_objective() const { return outcomes_.size() == 1; }
  std::vector<int64_t> random_rows(int64_t q, uint64_t seed) const;
  torch::Tensor available_mask() const;
  void check_index(int64_t index, const char* what) const;

  torch::Tensor pool_;  // [N, d] float64, CPU
  bool maximize_;
  CampaignConfig config_;
  std::vector<int64_t> observed_;
  std::vector<double> values_;   // num_outcomes() per observed row
  std::vector<Outcome> outcomes_;
  std::vector<int64_t> pending_;
  int64_t ask_count_ = 0;
  std::optional<GPHyperparameters> hyper_;  // last fitted, warm start of the next fit
  std::vector<GPHyperparameters> outcome_hypers_;  // several outcomes: one per outcome, as hyper_
  std::shared_ptr<Surrogate> model_;
  std::shared_ptr<const GraphBatch> graphs_;  // surrogate gnn / gnn-dkl
};

/// Runs a campaign over the rows of X with the measured y as the oracle:
/// n_init random rows (by seed), then asks of q until `budget` rows are
/// chosen, or until `stop(order)` returns true after a batch. Returns the
/// rows in the order chosen. X: [n, d]; y: [n]. surrogate: "gp" or
/// "random". base_config supplies every other setting (kernel, beta, ...).
std::vector<int64_t> pool_campaign(const torch::Tensor& X, const torch::Tensor& y, bool maximize, int64_t budget,
                                   uint64_t seed = 0, const std::string& surrogate = "gp",
                                   const std::string& acquisition = "logei", int64_t q = 1, int64_t n_init = 2,
                                   const CampaignConfig* base_config = nullptr,
                                   const std::function<bool(const std::vector<int64_t>&)>& stop = nullptr);

/// A campaign over several outcomes: Y [n, k] measured outcomes, one entry
/// of `outcomes` per column ("max", "min", "<= b", ">= b"); acquisition
/// qnehvi, qlognehvi, qparego (or qlognei for one objective with
/// constraints). base_config supplies ref_point and every other setting.
std::vector<int64_t> pool_campaign_outcomes(const torch::Tensor& X, const torch::Tensor& Y,
                                            const std::vector<std::string>& outcomes, int64_t budget,
                                            uint64_t seed = 0, const std::string& acquisition = "qlognehvi",
                                            int64_t q = 1, int64_t n_init = 2,
                                            const CampaignConfig* base_config = nullptr,
                                            const std::function<bool(const std::vector<int64_t>&)>& stop = nullptr);

/// The same over a pool of graphs (one per row of y) with surrogate "gnn"
/// or "gnn-dkl"; base_config->gnn sets the ensemble.
std::vector<int64_t> pool_campaign(std::shared_ptr<const GraphBatch> graphs, const torch::Tensor& y, bool maximize,
                                   int64_t budget, uint64_t seed = 0, const std::string& surrogate = "gnn",
                                   const std::string& acquisition = "logei", int64_t q = 1, int64_t n_init = 2,
                                   const CampaignConfig* base_config = nullptr,
                                   const std::function<bool(const std::vector<int64_t>&)>& stop = nullptr);

/// Random search: the first `budget` rows of a uniformly random permutation
/// of n rows (seeded).
std::vector<int64_t> random_baseline(int64_t n, int64_t budget, uint64_t seed = 0);

}  // namespace sozai
