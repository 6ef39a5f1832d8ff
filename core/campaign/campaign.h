#pragma once
/// A Bayesian-optimisation campaign (DESIGN.md "campaign" layer): ask for
/// the next experiments, tell their results, withdraw the ones that failed,
/// save, and continue after load exactly as if it had never stopped.
/// PoolCampaign chooses among the rows of a finite pool; SpaceCampaign
/// proposes new candidates in a continuous or mixed design space. The lab
/// service, the command line and the benchmarks drive either through this
/// interface.

#include "core/campaign/campaign_config.h"
#include "models/gp/exact_gp.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sozai {

/// Candidates of a campaign: their inputs and, in a pool campaign, the pool
/// rows they are.
struct Candidates {
  Candidates() = default;
  explicit Candidates(torch::Tensor X, std::vector<int64_t> rows = {}) : X(std::move(X)), rows(std::move(rows)) {}
  /// [n, w] float64 on the CPU: a pool's feature rows, or a design space's
  /// raw candidates (DesignSpace conventions).
  torch::Tensor X;
  /// Pool campaigns: the pool row of each candidate; empty otherwise.
  std::vector<int64_t> rows;
  /// What the model said of them when an ask chose them (undefined for
  /// random and prior-ranked picks): each outcome's posterior mean and
  /// variance [n, num_outcomes] in the outcome's own units, and the
  /// acquisition value [n] of each candidate on its own (q = 1) given the
  /// experiments pending before the ask (log-scale for the log kinds).
  torch::Tensor mean, variance, acquisition;
  int64_t size() const { return X.defined() ? X.size(0) : static_cast<int64_t>(rows.size()); }
};

/// The best result so far.
struct BestResult {
  Candidates candidate;  ///< one candidate
  double value = 0.0;
  int64_t position = 0;  ///< its place among observed()
};

class Campaign {
 public:
  virtual ~Campaign() = default;

  /// Up to q new candidates that are neither observed nor pending, marked
  /// pending (fewer when a pool runs out): random ones while fewer than
  /// n_init results are known, then the acquisition's choice given the
  /// pending ones.
  virtual Candidates ask(int64_t q = 1) = 0;
  /// Records outcomes Y ([n] for one outcome, or [n, num_outcomes()]) of
  /// candidates (a pool campaign reads their rows, a design-space campaign
  /// their values). All are validated before any is stored: InputError,
  /// with nothing changed, for an unknown or repeated candidate or a
  /// non-finite value. A pending candidate stops being pending.
  virtual void tell(const Candidates& candidates, const torch::Tensor& Y) = 0;
  /// Withdraws pending candidates (failed or cancelled experiments); they
  /// may be proposed again. InputError, with nothing changed, for one that
  /// is not pending.
  virtual void cancel(const Candidates& candidates) = 0;
  virtual Candidates pending() const = 0;
  /// Every told candidate, in the order told.
  virtual Candidates observed() const = 0;
  /// Their outcomes, [n, num_outcomes()] float64.
  torch::Tensor observed_outcomes() const;
  /// The best result in the objective's direction (multi-fidelity pools:
  /// at the target fidelity); InputError when nothing qualifies or the
  /// campaign has several outcomes (see pareto_front).
  virtual BestResult best() const = 0;
  /// Positions among observed() of the results that meet every outcome
  /// constraint and that no other such result dominates.
  virtual std::vector<int64_t> pareto_front() const = 0;
  /// The full state as JSON text (what save writes for .json).
  virtual std::string to_json() const = 0;
  /// Saves the full state, written to a temporary file and renamed, so an
  /// existing save is never left half-written.
  virtual void save(const std::string& path) const = 0;

  const CampaignConfig& config() const { return config_; }
  const std::vector<Outcome>& outcomes() const { return config_.outcomes(); }
  int64_t num_outcomes() const { return static_cast<int64_t>(config_.outcomes().size()); }
  /// Whether the (first) objective is maximised.
  bool maximize() const;
  int64_t ask_count() const { return ask_count_; }
  int64_t num_observed() const { return static_cast<int64_t>(values_.size()) / num_outcomes(); }
  /// The GP hyperparameters of each outcome's last fit (warm starts of the
  /// next; empty before the first model-based ask).
  const std::vector<GPHyperparameters>& outcome_hyperparameters() const { return hypers_; }
  /// The surrogate of the (first) outcome at the last model-based ask.
  const Surrogate* model() const { return model_.get(); }

  /// A campaign of either kind from its saved state (the file's "format"
  /// decides; .h5/.hdf5 files hold pool campaigns). StorageError naming the
  /// file and the missing or malformed field.
  static std::unique_ptr<Campaign> load(const std::string& path);
  static std::unique_ptr<Campaign> from_json(const std::string& text, const std::string& origin = "<string>");

 protected:
  explicit Campaign(CampaignConfig config) : config_(std::move(config)) {}
  /// The seed of the next ask.
  uint64_t ask_seed() const;
  /// Outcomes Y of n candidates as [n, num_outcomes()] float64, checked finite.
  torch::Tensor checked_outcomes(const torch::Tensor& Y, int64_t n, const char* op) const;
  /// The position among the results of the best one in the objective's
  /// direction, among those `counts` marks (all when empty); InputError
  /// naming `op` when nothing is told, nothing counts, or the campaign has
  /// several outcomes.
  int64_t best_position(const char* op, const std::vector<bool>& counts = {}) const;

  CampaignConfig config_;
  int64_t ask_count_ = 0;
  std::vector<double> values_;              ///< num_outcomes() per result, result by result
  std::vector<GPHyperparameters> hypers_;   ///< last fitted per outcome
  std::shared_ptr<Surrogate> model_;
};

/// The current format version of saved campaign state (1: before outcomes
/// were data; still read).
constexpr int kCampaignStateVersion = 2;

}  // namespace sozai
