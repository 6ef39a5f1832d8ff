#pragma once
/// A Bayesian-optimisation campaign over a continuous or mixed design
/// space (DESIGN.md "campaign" layer): ask(q) proposes new candidates that
/// satisfy the space (bounds, simplexes, linear constraints, forbidden
/// elements, the critical-element budget), tell records measured results —
/// of proposed candidates or of any other point in the space — and the full
/// state, the space included, saves to JSON and continues identically after
/// load. The pool counterpart is PoolCampaign.

#include "core/campaign/campaign.h"
#include "core/campaign/prior.h"
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
  /// A campaign that also learns from priors (core/campaign/prior.h). The
  /// priors meet the space by the names of natural_columns(space): a
  /// composition's elements by symbol, other parameters by name, a choice
  /// as "name=label". config.transfer chooses the transfer model, which
  /// the acquisition optimiser sees through the space's encoding; with
  /// transfer.initial "prior" the first n_init asks are the best of a
  /// Sobol sample of the space by the prior models. One outcome, surrogate
  /// "gp". InputError for a prior that shares no column with the space or
  /// for other settings.
  /// The prior models are fitted here, so that asks do not wait on them.
  SpaceCampaign(DesignSpace space, std::vector<Prior> priors, CampaignConfig config);
  /// Gives a loaded campaign its priors back (saves keep their digests, not
  /// their rows); InputError naming the prior that differs from the record.
  void attach_priors(std::vector<Prior> priors);
  const std::vector<Prior>& priors() const { return priors_; }
  /// What the campaign records of each prior (Prior::describe()).
  const std::vector<nlohmann::json>& prior_records() const { return prior_records_; }
  /// The transfer model of the last model-based ask (null before).
  const nlohmann::json& transfer_summary() const { return transfer_summary_; }
  /// The names priors meet the space by (natural_columns).
  std::vector<std::string> columns() const { return natural_columns(space_); }

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
  Candidates fit_and_select(int64_t q, uint64_t seed);
  struct Transfer;  // the transfer space, the sources, their models
  const Transfer& transfer();  // InputError when the priors were not given back after load
  torch::Tensor prior_ranked_candidates(int64_t q, uint64_t seed);
  Candidates fit_and_select_transfer(int64_t q, uint64_t seed);
  /// Position in pending_ of a candidate, or -1.
  int64_t find_pending(const double* candidate) const;

  DesignSpace space_;
  std::vector<std::vector<double>> observed_;  // raw candidates
  std::vector<std::vector<double>> pending_;
  std::vector<Prior> priors_;
  std::vector<nlohmann::json> prior_records_;
  TransferWarmStart transfer_warm_;
  nlohmann::json transfer_summary_;
  std::shared_ptr<const Transfer> transfer_;
};

}  // namespace sozai
