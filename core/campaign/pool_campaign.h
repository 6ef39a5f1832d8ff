#pragma once
/// A Bayesian-optimisation campaign over a finite pool of candidates
/// (DESIGN.md "campaign" layer): ask(q) proposes pool rows, tell records
/// measured results, and the full state saves to JSON or HDF5 and
/// continues identically after load.

#include "core/campaign/campaign.h"
#include "core/campaign/prior.h"
#include "models/gp/exact_gp.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sozai {

struct GraphBatch;

class PoolCampaign : public Campaign {
 public:
  /// pool: [N, d] candidate inputs (any float dtype; stored as float64 on
  /// the CPU). A multi-fidelity pool (config.acquisition.fidelity.costs)
  /// has the fidelity index in its last column.
  explicit PoolCampaign(const torch::Tensor& pool, CampaignConfig config = {});
  /// A pool of materials as graphs (one per candidate; surrogate "gnn" or
  /// "gnn-dkl"): the campaign's rows are the graphs' positions, and its
  /// stored pool is the column 0..N-1.
  PoolCampaign(std::shared_ptr<const GraphBatch> graphs, CampaignConfig config);
  /// Gives a loaded graph campaign its graphs back (saves keep rows, not
  /// graphs). InputError when their number differs from the pool's.
  void attach_graphs(std::shared_ptr<const GraphBatch> graphs);
  /// A campaign that also learns from priors (core/campaign/prior.h):
  /// `columns` names the pool's columns (element symbols for element
  /// shares), and config.transfer chooses the transfer model
  /// (models/gp/transfer.h). One outcome, surrogate "gp", no fidelities.
  /// InputError for a prior that shares no column with the pool, for
  /// columns that do not match the pool's width, or for such settings.
  /// The prior models are fitted here (about 2 s for two 2,000-row
  /// priors), so that asks do not wait on them.
  PoolCampaign(const torch::Tensor& pool, std::vector<std::string> columns, std::vector<Prior> priors,
               CampaignConfig config = {});
  /// Gives a loaded campaign its priors back (saves keep their digests, not
  /// their rows), in the order they were given; InputError naming the prior
  /// whose number, name or digest differs from the saved record.
  /// Refits the prior models unless this process already holds them.
  void attach_priors(std::vector<Prior> priors);
  const std::vector<Prior>& priors() const { return priors_; }
  /// Names of the pool's columns (empty when none were given).
  const std::vector<std::string>& columns() const { return columns_; }
  /// What the campaign records of each prior ({"name", "digest", "rows",
  /// "columns", "maximize", "source"}), also after load before
  /// attach_priors.
  const std::vector<nlohmann::json>& prior_records() const { return prior_records_; }
  /// The transfer model of the last model-based ask: the method chosen,
  /// the leave-one-out ranking losses, RGPE weights, residual coefficients
  /// (null before the first).
  const nlohmann::json& transfer_summary() const { return transfer_summary_; }

  /// Up to q pool rows that are neither observed nor pending, marked
  /// pending: random while fewer than n_init results are known, then the
  /// acquisition's choice (core/bo/select.h).
  Candidates ask(int64_t q = 1) override;
  /// Records results of candidates.rows.
  void tell(const Candidates& candidates, const torch::Tensor& Y) override;
  /// Records results by pool row; values holds num_outcomes() per row, row
  /// by row. InputError, with nothing stored, for a row outside the pool,
  /// a row already observed or a non-finite value.
  void tell(const std::vector<int64_t>& rows, const std::vector<double>& values);
  void tell(int64_t row, double value);
  /// Records every outcome of one experiment (num_outcomes() values).
  void tell_outcomes(int64_t row, const std::vector<double>& outcomes);
  void cancel(const Candidates& candidates) override;
  /// Withdraws a pending row (it becomes available again).
  void cancel(int64_t row);
  Candidates pending() const override;
  Candidates observed() const override;
  BestResult best() const override;
  std::string to_json() const override;
  /// ".h5"/".hdf5" -> HDF5 (needs SOZAI_WITH_HDF5), anything else -> JSON.
  void save(const std::string& path) const override;
  /// Loads a campaign saved by save(); StorageError naming the file and the
  /// missing or malformed field.
  static PoolCampaign load(const std::string& path);
  static PoolCampaign from_json(const std::string& text, const std::string& origin = "<string>");

  const std::vector<int64_t>& observed_indices() const { return observed_; }
  /// Observed values, num_outcomes() per observed row, row by row.
  const std::vector<double>& observed_values() const { return values_; }
  const std::vector<int64_t>& pending_rows() const { return pending_; }
  int64_t pool_size() const { return pool_.size(0); }
  const torch::Tensor& pool() const { return pool_; }
  /// Multi-fidelity campaigns: total cost of the results told so far
  /// (0 for other campaigns).
  double cost_spent() const;
  /// Observed rows that satisfy every outcome constraint and that no other
  /// such row dominates in the objectives (one objective: the best rows).
  std::vector<int64_t> pareto_front() const;

 private:
  friend struct PoolCampaignState;
  Candidates fit_and_select(int64_t q, uint64_t seed);
  int64_t fidelity_of(int64_t row) const;
  int64_t target_fidelity() const;
  std::vector<int64_t> random_rows(int64_t q, uint64_t seed) const;
  torch::Tensor available_mask() const;
  void check_index(int64_t index, const char* what) const;

  struct Transfer;  // the transfer space, the pool in it, the sources' GPs
  Candidates fit_and_select_transfer(int64_t q, uint64_t seed);
  /// The pool rows `rows` as candidates.
  Candidates rows_of(std::vector<int64_t> rows) const;
  std::vector<int64_t> prior_ranked_rows(int64_t q);
  const Transfer& transfer();  // InputError when the priors were not given back after load

  torch::Tensor pool_;  // [N, d] float64, CPU
  std::vector<int64_t> observed_;
  std::vector<int64_t> pending_;
  std::shared_ptr<const GraphBatch> graphs_;  // surrogate gnn / gnn-dkl
  std::vector<std::string> columns_;
  std::vector<Prior> priors_;
  std::vector<nlohmann::json> prior_records_;
  TransferWarmStart transfer_warm_;
  nlohmann::json transfer_summary_;
  std::shared_ptr<const Transfer> transfer_;
};

/// Replays a campaign over the rows of X with the measured Y as the
/// oracle: n_init random rows (config.seed), then asks of q until `budget`
/// rows are chosen, or until `stop(order)` returns true after a batch.
/// Returns the rows in the order chosen. X: [n, d]; Y: [n] or [n, k] (one
/// column per outcome of config).
std::vector<int64_t> pool_campaign(const torch::Tensor& X, const torch::Tensor& Y, const CampaignConfig& config,
                                   int64_t budget, int64_t q = 1,
                                   const std::function<bool(const std::vector<int64_t>&)>& stop = nullptr);
/// The same with priors: `columns` names the columns of X (see the
/// PoolCampaign constructor that takes priors).
std::vector<int64_t> pool_campaign(const torch::Tensor& X, const torch::Tensor& Y, const CampaignConfig& config,
                                   int64_t budget, int64_t q, const std::vector<std::string>& columns,
                                   const std::vector<Prior>& priors,
                                   const std::function<bool(const std::vector<int64_t>&)>& stop = nullptr);
/// The same over a pool of graphs (one per row of y) with surrogate "gnn"
/// or "gnn-dkl".
std::vector<int64_t> pool_campaign(std::shared_ptr<const GraphBatch> graphs, const torch::Tensor& y,
                                   const CampaignConfig& config, int64_t budget, int64_t q = 1,
                                   const std::function<bool(const std::vector<int64_t>&)>& stop = nullptr);

/// Random search: the first `budget` rows of a uniformly random permutation
/// of n rows (seeded).
std::vector<int64_t> random_baseline(int64_t n, int64_t budget, uint64_t seed = 0);

}  // namespace sozai
