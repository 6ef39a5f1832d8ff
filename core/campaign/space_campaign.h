#pragma once
/// A Bayesian-optimisation campaign over a continuous or mixed design
/// space (DESIGN.md "campaign" layer): ask(q) proposes new candidates that
/// satisfy the space (bounds, simplexes, linear constraints, forbidden
/// elements, the critical-element budget), tell records measured results —
/// of proposed candidates or of any other point in the space — and the full
/// state, the space included, saves to JSON and continues identically after
/// load. The pool counterpart is PoolCampaign.

#include "core/campaign/pool_campaign.h"
#include "core/space/design_space.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sozai {

class SpaceCampaign {
 public:
  /// config: surrogate "gp" (one ExactGP per outcome on space.encode()) or
  /// "random" (Sobol points); any acquisition of select.h, or for several
  /// outcomes qnehvi, qlognehvi, qparego (qlognei for one objective with
  /// constraints); config.optimizer sets the acquisition optimiser.
  /// Multi-fidelity settings and graph surrogates belong to pool campaigns.
  SpaceCampaign(DesignSpace space, bool maximize, CampaignConfig config = {});

  /// Proposes up to q raw candidates [<= q, raw_width] and marks them
  /// pending: scrambled Sobol points while fewer than n_init results are
  /// known, then the acquisition's maximisers given the pending ones.
  torch::Tensor ask(int64_t q = 1);
  /// Records results: candidates [n, raw_width] (raw values), values [n] or
  /// [n, num_outcomes()]. A candidate equal to a pending one (within 1e-9)
  /// clears it. InputError, with nothing stored, for a candidate outside the
  /// space or a non-finite value.
  void tell(const torch::Tensor& candidates, const torch::Tensor& values);
  void tell(const std::vector<double>& candidate, double value);
  /// Records every outcome of one experiment (num_outcomes() values).
  void tell_outcomes(const std::vector<double>& candidate, const std::vector<double>& outcomes);
  /// Withdraws a pending candidate; InputError if none matches.
  void cancel(const std::vector<double>& candidate);

  const DesignSpace& space() const { return space_; }
  /// Told candidates [n, raw_width] in the order told.
  torch::Tensor observed_candidates() const;
  /// Told outcomes [n, num_outcomes()] float64.
  torch::Tensor observed_outcomes() const;
  int64_t num_observed() const { return static_cast<int64_t>(observed_.size()); }
  /// Pending candidates [p, raw_width].
  torch::Tensor pending() const;
  int64_t num_outcomes() const { return static_cast<int64_t>(outcomes_.size()); }
  const std::vector<Outcome>& outcomes() const { return outcomes_; }
  bool maximize() const { return maximize_; }
  const CampaignConfig& config() const { return config_; }
  int64_t ask_count() const { return ask_count_; }
  /// Best (row of observed_candidates(), value) in the campaign's direction;
  /// InputError if nothing is told or the campaign has several outcomes.
  std::pair<int64_t, double> best() const;
  /// Rows of observed_candidates() that satisfy every outcome constraint and
  /// that no other such row dominates (one objective: the best rows).
  std::vector<int64_t> pareto_front() const;
  /// The GP hyperparameters of each outcome's last fit (empty before the
  /// first model-based ask); warm starts of the next.
  const std::vector<GPHyperparameters>& outcome_hyperparameters() const { return hypers_; }
  /// The surrogate of the first outcome at the last model-based ask.
  const Surrogate* model() const { return model_.get(); }

  /// Saves the full state as JSON (written to a temporary file and renamed).
  void save(const std::string& path) const;
  /// StorageError naming the file and the missing or malformed field.
  static SpaceCampaign load(const std::string& path);
  std::string to_json() const;
  static SpaceCampaign from_json(const std::string& text, const std::string& origin = "<string>");

 private:
  torch::Tensor random_candidates(int64_t q, uint64_t seed) const;
  torch::Tensor fit_and_select(int64_t q, uint64_t seed);
  /// Position in pending_ of a candidate, or -1.
  int64_t find_pending(const double* candidate) const;

  DesignSpace space_;
  bool maximize_;
  CampaignConfig config_;
  std::vector<Outcome> outcomes_;
  std::vector<std::vector<double>> observed_;  // raw candidates
  std::vector<double> values_;                 // num_outcomes() per observed row
  std::vector<std::vector<double>> pending_;
  int64_t ask_count_ = 0;
  std::vector<GPHyperparameters> hypers_;
  std::shared_ptr<Surrogate> model_;
};

}  // namespace sozai
