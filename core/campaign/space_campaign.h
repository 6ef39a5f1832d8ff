#pragma once
/// A Bayesian-optimisation campaign over a continuous or mixed design
/// space (DESIGN.md "campaign" layer): ask(q) proposes new candidates that
/// satisfy the space (bounds, simplexes, linear constraints, forbidden
/// elements, the critical-element budget), tell records measured results —
/// of proposed candidates or of any other point in the space — and the full
/// state, the space included, saves to JSON and continues identically after
/// load. The pool counterpart is PoolCampaign.

#include "core/campaign/campaign.h"
#include "core/space/design_space.h"
#include "models/gp/exact_gp.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sozai {

class SpaceCampaign : public Campaign {
 public:
  /// config: surrogate "gp" (one ExactGP per outcome on space.encode()) or
  /// "random" (Sobol points); any acquisition that can be optimised over a
  /// design space (registry.h); config.optimizer sets the optimiser.
  /// Multi-fidelity settings and graph surrogates belong to pool campaigns.
  explicit SpaceCampaign(DesignSpace space, CampaignConfig config = {});

  /// Up to q raw candidates [<= q, raw_width], marked pending: scrambled
  /// Sobol points while fewer than n_init results are known, then the
  /// acquisition's maximisers given the pending ones.
  Candidates ask(int64_t q = 1) override;
  /// Records results: candidates.X [n, raw_width] (raw values), Y [n] or
  /// [n, num_outcomes()]. A candidate equal to a pending one (within 1e-9)
  /// clears it. InputError, with nothing stored, for a candidate outside the
  /// space or a non-finite value.
  void tell(const Candidates& candidates, const torch::Tensor& Y) override;
  void tell(const torch::Tensor& candidates, const torch::Tensor& Y);
  void tell(const std::vector<double>& candidate, double value);
  /// Records every outcome of one experiment (num_outcomes() values).
  void tell_outcomes(const std::vector<double>& candidate, const std::vector<double>& outcomes);
  void cancel(const Candidates& candidates) override;
  /// Withdraws a pending candidate; InputError if none matches.
  void cancel(const std::vector<double>& candidate);
  Candidates pending() const override;
  Candidates observed() const override;
  BestResult best() const override;
  std::string to_json() const override;
  /// Saves the full state as JSON (written to a temporary file and renamed).
  void save(const std::string& path) const override;
  /// StorageError naming the file and the missing or malformed field.
  static SpaceCampaign load(const std::string& path);
  static SpaceCampaign from_json(const std::string& text, const std::string& origin = "<string>");

  const DesignSpace& space() const { return space_; }
  /// Told candidates [n, raw_width] in the order told.
  torch::Tensor observed_candidates() const { return observed().X; }
  /// Rows of observed_candidates() that satisfy every outcome constraint and
  /// that no other such row dominates (one objective: the best rows).
  std::vector<int64_t> pareto_front() const;

 private:
  torch::Tensor random_candidates(int64_t q, uint64_t seed) const;
  torch::Tensor fit_and_select(int64_t q, uint64_t seed);
  /// Position in pending_ of a candidate, or -1.
  int64_t find_pending(const double* candidate) const;

  DesignSpace space_;
  std::vector<std::vector<double>> observed_;  // raw candidates
  std::vector<std::vector<double>> pending_;
};

}  // namespace sozai
