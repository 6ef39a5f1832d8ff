#pragma once
/// Federated averaging (McMahan et al. 2017) of a GnnEnsemble: every party
/// trains copies of the global members on its own rows for a few local
/// epochs, and the coordinator averages their updates, weighted by rows,
/// through secure aggregation (secure_aggregation.h), so that it learns only
/// the sum of the updates. The parties' rows never leave them.
///
/// The training is a fixed sequence of aggregation steps, each a sum over
/// the parties (FederatedParty holds one party's side of all of them):
/// - step 0, in the clear: each party's exponent k of the power of 2 above
///   its largest |target| (and |condition|); the coordinator answers the
///   largest k, nothing more is revealed;
/// - step 1: a secure sum of counts, sums and sums of squares (each divided
///   by 2^k and by a public bound of 10^6 rows per party) gives the targets'
///   and conditions' normalisation;
/// - steps 2 .. rounds + 1: one FedAvg round each; a party sends w u and w
///   (w = its rows / all rows, u its update), so the applied update is
///   sum(w u) / sum(w), right also when parties drop out of a round;
/// - step rounds + 2: secure sums on rows each party kept out of training
///   recalibrate the ensemble's variances.
/// federated_fit() runs all parties in this process (the simulation; its
/// FederatedLog holds what the coordinator received); join()
/// (coordinator.h) runs one party against a coordinator over a transport.

#include "models/gnn/ensemble.h"

#include <nlohmann/json.hpp>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sozai {
namespace federated {

/// One party's table: inputs by the ensemble's kind (formulas, SMILES or
/// structure texts), targets [n] and optional conditions [n, C].
struct PartyData {
  std::vector<std::string> inputs;
  torch::Tensor y;
  torch::Tensor conditions;
};

struct FederatedConfig {
  int64_t rounds = 30;
  int64_t local_epochs = 1;          ///< epochs each party trains per round
  double proximal_mu = 0.0;          ///< FedProx (Li et al. 2020): mu/2 |w - w_global|^2 in the local loss; 0: FedAvg
  /// Server optimiser (FedAvgM, Hsu et al. 2019): the global weights move
  /// by server_lr * v, v = server_momentum * v + the averaged update; 1 and
  /// 0 are plain FedAvg. Every party applies it alike (no extra messages).
  double server_lr = 1.0;
  double server_momentum = 0.0;
  bool secure = true;                ///< false: updates reach the coordinator in the clear (the cost baseline)
  int threshold = 0;                 ///< parties needed to unmask; 0: all but one (at least one)
  double update_clip = 1.0;          ///< fixed-point range of one entry of a row-weighted update
  double calibration_fraction = 0.1; ///< rows each party keeps out of training to recalibrate the variances
  bool keep_messages = false;        ///< FederatedLog::coordinator_received holds every byte (for tests)
  /// Differential privacy (privacy.h), party level: each party clips its
  /// update (all members together) to L2 norm dp_clip before weighting and
  /// adds N(0, (dp_noise_multiplier * dp_clip)^2 / parties) per entry, so
  /// the sum carries noise multiplier dp_noise_multiplier while every party
  /// delivers; FederatedLog reports the (epsilon, dp_delta) of all rounds.
  /// 0: off. It covers the rounds' updates, not the normalisation and
  /// calibration sums or the row counts behind the weights.
  double dp_clip = 0.0;
  double dp_noise_multiplier = 0.0;
  double dp_delta = 1e-5;
};

/// The fields a federation's coordinator stores and hands to every party
/// (keep_messages belongs to the simulation).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FederatedConfig, rounds, local_epochs, proximal_mu, secure, threshold,
                                                update_clip, calibration_fraction, dp_clip, dp_noise_multiplier,
                                                dp_delta, server_lr, server_momentum)

/// InputError naming the setting unless rounds, local_epochs >= 1,
/// proximal_mu >= 0, update_clip > 0, calibration_fraction in [0, 0.5),
/// dp_clip >= 0, dp_noise_multiplier >= 0 (> 0 only with dp_clip > 0),
/// dp_delta in (0, 1).
void check_config(const FederatedConfig& config, const std::string& where);
/// The unmasking threshold of `parties` parties: config.threshold, or all
/// but one (at least one) when that is 0.
int threshold_of(const FederatedConfig& config, int parties);

struct FederatedLog {
  std::vector<double> round_seconds;
  std::vector<int64_t> round_bytes;     ///< bytes the coordinator received per round (join: this party sent)
  std::vector<double> round_update_norm;  ///< L2 norm of the averaged update applied in each round
  /// Local training loss per round (Gaussian NLL or MSE, standardised):
  /// simulate: the parties' row-weighted mean; join: this party's own.
  std::vector<double> round_loss;
  int64_t coordinator_bytes = 0;        ///< all of it, set-up and calibration included
  std::vector<uint8_t> coordinator_received;  ///< with keep_messages
  int64_t clipped_entries = 0;          ///< update entries the parties clipped to update_clip
  double max_quantisation_error = 0;    ///< bound per entry of an averaged update
  double variance_scale = 1.0;          ///< from the parties' calibration rows
  double dp_epsilon = 0;                ///< with dp_noise_multiplier > 0: the epsilon of all rounds at dp_delta
  double dp_delta = 0;
  /// federated_fit with a checkpoint: false when the call stopped at
  /// max_hours (the model is then the global one as it stands, its
  /// variances not recalibrated); the rounds an earlier call had run.
  bool finished = true;
  int64_t resumed_rounds = 0;
};

/// Where federated_fit keeps its progress, so that a simulation of many
/// rounds (hours on a few cores) goes on across calls.
struct SimulationCheckpoint {
  /// Written after a round when checkpoint_minutes have passed since the
  /// last write, and when the call stops at max_hours; a call with the
  /// same settings and parties resumes from it and ends with the same
  /// model as an uninterrupted run (on the same hardware and threads;
  /// differential privacy's noise and dropout draw afresh, so with either
  /// the resumed run is another draw of the same training).
  /// Removed when the run finishes. Empty: none.
  std::string path;
  double checkpoint_minutes = 5.0;
  /// Stop after the round that passes this many hours of this call. 0: no limit.
  double max_hours = 0.0;
};

/// One party's side of a federated training: its rows, its copy of the
/// global members and its local trainers. Call in this order: bound_exponents,
/// statistics, start, then update + apply once per round, calibration, finish.
class FederatedParty {
 public:
  /// index: 0-based position of the party (its seeds derive from it and
  /// like.seed), of `parties`. InputError naming the party for empty or
  /// malformed data.
  FederatedParty(const gnn::GnnEnsembleConfig& like, const PartyData& data, int index, int parties,
                 const FederatedConfig& config);
  ~FederatedParty();
  FederatedParty(FederatedParty&&) noexcept;

  /// Step 0 (revealed): log2 of the power of 2 above max |y|, then of each
  /// condition column's max |c|.
  std::vector<double> bound_exponents() const;
  /// Step 1: the party's counts and sums, given the largest exponents.
  std::vector<double> statistics(const std::vector<double>& max_exponents);
  /// From the summed statistics: the normalisation and the initial members
  /// (the same in every party, drawn from like.seed).
  void start(const std::vector<double>& statistics_sum);
  /// One round: local epochs from the global weights; returns w u then w.
  std::vector<double> update();
  /// Moves the global weights by the averaged update sum(w u) / sum(w)
  /// (through the server optimiser); returns the applied step's L2 norm.
  double apply(const std::vector<double>& update_sum);
  /// The last step: the party's calibration statistics under the global model.
  std::vector<double> calibration();
  /// The trained global ensemble, its variances recalibrated from the sum.
  gnn::GnnEnsemble finish(const std::vector<double>& calibration_sum);
  /// This party's side after a round, for a checkpoint: its copy of the
  /// global members, the server optimiser's momentum, its local trainers
  /// and its count of clipped entries. load() after start() on the same
  /// rows and settings goes on from there.
  void save(torch::serialize::OutputArchive& archive);
  void load(torch::serialize::InputArchive& archive);

  int64_t condition_width() const;
  int64_t clipped_entries() const;
  /// The last round's local training loss (the members' mean, standardised units).
  double last_loss() const;
  /// This party's share of all training rows (after start()).
  double weight() const;
  /// The range of each step's vector entries (the fixed-point clip).
  double update_clip() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The (epsilon, delta) a configuration's rounds spend (privacy.h); zeros
/// when differential privacy is off.
void record_privacy(const FederatedConfig& config, FederatedLog& log);

/// Trains an ensemble of `like`'s configuration (kind, members, seed,
/// architecture, training settings, pretrained start) over the parties, all
/// in this process. InputError naming the party for empty or malformed
/// data, for parties whose conditions differ in width, or for fewer than 2
/// parties; with a checkpoint, also for one written for other settings
/// or parties (StorageError for one that cannot be read).
gnn::GnnEnsemble federated_fit(const gnn::GnnEnsembleConfig& like, const std::vector<PartyData>& parties,
                               const FederatedConfig& config, FederatedLog* log = nullptr,
                               const SimulationCheckpoint& checkpoint = {});

}  // namespace federated
}  // namespace sozai
