#pragma once
/// The decisions behind one lab campaign (DESIGN.md: core/lab stores and
/// serves what core/campaign decides): a campaign described as the lab
/// service's JSON — parameters, objectives, an optional finite pool,
/// surrogate, acquisition, n_init, seed — becomes one Campaign: a
/// SpaceCampaign (no pool) or a PoolCampaign over the encoded pool, its
/// settings read by CampaignConfig::from_json like every other campaign's;
/// proposals come back as named
/// parameter values, results go in by objective name, and the whole state
/// is one JSON text the lab store keeps.
///
/// Campaign description:
///   {"name": "...",
///    "parameters": [{"name", "type": "continuous|integer|categorical|composition|...", "low", "high",
///                    "choices", ...}],                      (design_space_json.h)
///    "constraints": [...], "forbidden_elements": [...], "critical_budget": {...}   (optional)
///    "objectives": [{"name", "direction": "maximize|minimize"}]
///                  or {"name", "direction": "at_most|at_least", "limit": b} (an outcome constraint),
///    "pool": [{param: value, ...}, ...]                     (optional),
///    "surrogate": "gp|random", "acquisition": "...", "n_init": 4, "seed": 0, "ref_point": [...],
///    "priors": ["c0123...", ...], "transfer": {...}}         (optional; campaigns of one objective)
/// "priors" names earlier lab campaigns whose results inform this one
/// (core/campaign/prior.h): the service resolves the ids (LabPriorSource)
/// and the engine keeps a snapshot of their results in its state, so a
/// prior campaign that goes on does not change this one. Both sides meet
/// in natural units: a continuous or integer parameter is a column of its
/// name, a categorical one a column "name=choice" per choice, and a
/// composition a column per element named by its symbol (so different
/// composition parameters meet by element).
/// The default acquisition is the registry's: qlognei for one objective
/// (asks that arrive together are answered as one jointly scored batch)
/// and qlognehvi for several.

#include "core/campaign/campaign.h"
#include "core/campaign/prior.h"
#include "core/space/design_space.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sozai {

/// One proposed experiment: its named parameters, raw values, and pool row
/// (-1 for a design-space campaign).
struct LabProposal {
  nlohmann::json parameters;
  std::vector<double> raw;
  int64_t pool_row = -1;
};

/// The outcome names of a campaign description, in order.
std::vector<std::string> lab_objective_names(const nlohmann::json& description);
/// Outcome values from {"name": number, ...}: every outcome present, finite
/// numbers, no unknown names; InputError naming the field.
std::vector<double> lab_values_from_json(const std::vector<std::string>& names, const nlohmann::json& values,
                                         const std::string& origin = "values");
/// The best results of a campaign described by `description`: for one
/// objective {"parameters", "values"} of the best row, for several the
/// feasible Pareto front as a list of them; null when no row qualifies.
/// values: one row per result, in lab_objective_names order.
nlohmann::json lab_best(const nlohmann::json& description, const std::vector<nlohmann::json>& parameters,
                        const std::vector<std::vector<double>>& values);

/// An earlier lab campaign used as a prior: its id, description and
/// completed results (named parameters, {objective: value}).
struct LabPriorSource {
  std::string id;
  nlohmann::json description;
  std::vector<nlohmann::json> parameters;
  std::vector<nlohmann::json> values;
};

class LabEngine {
 public:
  /// InputError naming the field (e.g. "objectives[1]: direction must be
  /// ...", "pool[17]: parameter 'T' ...", "settings: n_init must be >= 0")
  /// for a bad description.
  /// `priors`: the campaigns the description's "priors" names, in its
  /// order (InputError naming the prior for one that does not fit).
  static LabEngine create(const nlohmann::json& description, const std::vector<LabPriorSource>& priors = {});
  /// StorageError when the text is not a saved engine state (this version's
  /// or that of campaign state format 1).
  static LabEngine from_state(const std::string& text, const std::string& origin = "campaign state");
  std::string state() const;

  /// The description, normalised: every default filled in.
  const nlohmann::json& description() const { return description_; }
  const DesignSpace& space() const { return space_; }
  const std::vector<std::string>& objective_names() const { return outcome_names_; }
  bool has_pool() const { return !pool_raw_.empty(); }
  int64_t num_observed() const { return campaign_->num_observed(); }
  const Campaign& campaign() const { return *campaign_; }
  /// The prior tables the campaign learns from (a snapshot of the prior
  /// campaigns' results when it was created); empty without priors.
  const std::vector<Prior>& priors() const;

  /// Up to q new proposals, marked pending (fewer when a pool runs out).
  std::vector<LabProposal> ask(int64_t q);
  /// Records the outcome values (num objectives, in objective_names order)
  /// of a proposal made earlier or of any point of the space.
  void tell(const LabProposal& p, const std::vector<double>& values);
  /// Withdraws a pending proposal (failed or cancelled experiment).
  void cancel(const LabProposal& p);

 private:
  LabEngine() = default;
  /// Reads the description; the campaign settings it names, checked.
  CampaignConfig build(const nlohmann::json& description);
  /// The campaign's view of a proposal: pool row and encoded inputs, or
  /// raw design-space values.
  Candidates candidates_of(const LabProposal& p) const;

  nlohmann::json description_;
  DesignSpace space_;
  std::vector<std::string> outcome_names_;
  std::vector<std::vector<double>> pool_raw_;  // pool campaigns: raw rows
  std::unique_ptr<Campaign> campaign_;
  /// The description's and the prior tables' JSON text, written by the
  /// first state() (neither changes after creation).
  mutable std::string description_text_, priors_text_;
};

}  // namespace sozai
