#pragma once
/// The settings of a campaign, in one place: their defaults, their
/// validation and their JSON form. The command line (flags and
/// --settings), Python (keyword arguments) and the lab service (the
/// campaign description) all build a CampaignConfig through from_json(),
/// so an invalid setting gets the same error text from each:
///   settings: field 'n_init' has the wrong type: 'n_init' must be a whole number, got string
///   settings: acquisition 'logei' cannot weigh 2 objective(s); use qnehvi, qlognehvi or qparego
///
/// JSON form (every key optional; saved state holds all of them):
///   {"outcomes": [{"name", "direction", "limit"}, ...],      (default: one objective, maximised)
///    "acquisition": "qlognei", "ucb_beta": 4, "mc_samples": 128, "ref_point": [...],
///    "fidelity_costs": [...], "target_fidelity": -1, "aei_target_first": true,
///    "aei_max_cheap_share": 0.5,                           (core/bo/acquisition.h)
///    "surrogate": "gp", "n_init": 4, "seed": 0,
///    "full_refit_every": 10, "keep_hyperparameters_from": 1000,
///    "gp": {"kernel", "outcome_transform", "restarts", "max_iter", "lengthscale_min", ...},
///    "gnn": {"kind", "n_members", "hidden", "layers", "max_epochs", "dkl_dims", "pretrained"},
///    "optimizer": {"restarts", "raw_samples", "max_iter", "history", "rounds"},
///    "transfer": {"method", "source_model", "source_rows", "forest_rows", "neighbours", "source_fit_rows",
///                 "mtgp_rows", "mtgp_rank", "rgpe_samples", "auto_methods", "auto_margin", "components",
///                 "initial", "prior_belief"}}
///                                                          (models/gp/transfer.h; campaigns with priors)

#include "core/bo/acquisition.h"
#include "core/bo/optimize.h"
#include "models/gp/exact_gp.h"
#include "models/gp/transfer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sozai {

/// Graph-network surrogates in a pool campaign (surrogate "gnn", "gnn-dkl"
/// or "gp-pretrained"): the ensemble's size and training, and the
/// pretrained network to start from (models/gnn/gnn_surrogate.h).
struct CampaignGnnConfig {
  std::string kind;        ///< polymer, crystal or composition ("": from the pool graphs' kind)
  int64_t n_members = 5;
  int64_t hidden = 64;     ///< width of node states and head
  int64_t layers = 3;      ///< message-passing steps
  int64_t max_epochs = 0;  ///< 0: automatic (TrainConfig)
  int64_t dkl_dims = 8;    ///< gnn-dkl, gp-pretrained: principal components of the embedding the GP sees
  /// A pretrained network (shipped name such as "composition-mp", or a
  /// file): gnn and gnn-dkl fine-tune it, gp-pretrained uses its embedding
  /// as it is (required there). "": none.
  std::string pretrained;
};

/// When an ask fits the GP hyperparameters again.
struct RefitPolicy {
  /// Every this many asks (and while fewer than 30 results are known) the
  /// hyperparameters are fitted from all restarts; in between, from the
  /// previous ones alone, which one new result barely moves.
  int64_t full_refit_every = 10;
  /// From this many results on, the asks between full refits keep the last
  /// hyperparameters and only condition on the data (one Cholesky instead
  /// of an L-BFGS fit of O(n^3) steps).
  int64_t keep_hyperparameters_from = 1000;
};

struct CampaignConfig {
  /// What decides the next experiments: the acquisition, the outcomes it
  /// serves (objectives and constraints, one per measured column) and the
  /// campaign's seed (initial design, GP restarts, each ask's samples).
  AcquisitionSpec acquisition;
  /// "gp" (one ExactGP per outcome on the inputs; a MultiTaskGP over
  /// fidelities), "random" (uniform proposals), "gnn" (a GnnEnsemble) or
  /// "gnn-dkl" (a GP on its embedding) or "gp-pretrained" (a GP on a
  /// pretrained network's embedding, no network training): the graph ones
  /// model a pool of graphs.
  std::string surrogate = "gp";
  int64_t n_init = 4;  ///< random proposals before the first model
  RefitPolicy refit;
  ExactGPConfig gp;         ///< kernel, outcome transform, restarts (also gnn-dkl's GP)
  CampaignGnnConfig gnn;    ///< surrogate gnn / gnn-dkl
  OptimizeConfig optimizer; ///< design-space campaigns: the acquisition optimiser (its seed is each ask's)
  TransferConfig transfer;  ///< campaigns with priors: how they learn from them

  const std::vector<Outcome>& outcomes() const { return acquisition.outcomes; }
  uint64_t seed() const { return acquisition.seed; }
  bool multi_fidelity() const { return !acquisition.fidelity.costs.empty(); }
  /// Whether the first objective is maximised.
  bool maximize() const;

  /// `base` with the keys of j applied, validated; InputError naming
  /// `where` and the key for an unknown key, a wrong type or an invalid
  /// value.
  static CampaignConfig from_json(const nlohmann::json& j, const std::string& where, const CampaignConfig& base);
  static CampaignConfig from_json(const nlohmann::json& j, const std::string& where = "settings");
  nlohmann::json to_json() const;
  /// InputError naming `where` for settings no campaign accepts.
  void validate(const std::string& where = "settings") const;
};

/// The JSON forms of the nested settings (their fields listed once).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CampaignGnnConfig, kind, n_members, hidden, layers, max_epochs, dkl_dims,
                                                pretrained)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(OptimizeConfig, restarts, raw_samples, max_iter, history, rounds)

/// The settings stored in a saved campaign state: the current JSON form, or
/// that of format version 1 (outcomes as text "max" / "<= 2.5", the
/// direction of a single objective in the state's "maximize", plain AEI).
/// StorageError naming origin.
CampaignConfig config_from_saved_state(const nlohmann::json& state, int version, const std::string& origin);

}  // namespace sozai
