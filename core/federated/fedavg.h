#pragma once
/// Federated averaging (McMahan et al. 2017) of a GnnEnsemble: every party
/// trains copies of the global members on its own rows for a few local
/// epochs, and the coordinator averages their updates, weighted by rows,
/// through secure aggregation (secure_aggregation.h), so that it learns only
/// the sum of the updates. The parties' rows never leave them.
///
/// Before the rounds the parties agree on the targets' (and conditions')
/// normalisation by secure sums of counts, sums and sums of squares, each
/// divided by a public bound: 2^k at least the largest |value| any party
/// holds, where each party reveals its own k (the order of magnitude of its
/// largest value, nothing more), and 10^6 rows per party. After the rounds
/// the ensemble's variances are recalibrated on rows each party kept out of
/// training, again by secure sums. This is a simulation: all parties run in
/// this process, and FederatedLog holds what the coordinator received. With
/// like.train.progress a line per round on stderr (round, seconds, bytes, ETA).

#include "models/gnn/ensemble.h"

#include <cstdint>
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
  bool secure = true;                ///< false: updates reach the coordinator in the clear (the cost baseline)
  int threshold = 0;                 ///< parties needed to unmask; 0: all but one (at least one)
  double update_clip = 1.0;          ///< fixed-point range of one entry of a row-weighted update
  double calibration_fraction = 0.1; ///< rows each party keeps out of training to recalibrate the variances
  bool keep_messages = false;        ///< FederatedLog::coordinator_received holds every byte (for tests)
};

struct FederatedLog {
  std::vector<double> round_seconds;
  std::vector<int64_t> round_bytes;     ///< bytes the coordinator received per round
  std::vector<double> round_update_norm;  ///< L2 norm of the averaged update applied in each round
  int64_t coordinator_bytes = 0;        ///< all of it, set-up and calibration included
  std::vector<uint8_t> coordinator_received;  ///< with keep_messages
  int64_t clipped_entries = 0;          ///< update entries the parties clipped to update_clip
  double max_quantisation_error = 0;    ///< bound per entry of an averaged update
  double variance_scale = 1.0;          ///< from the parties' calibration rows
};

/// Trains an ensemble of `like`'s configuration (kind, members, seed,
/// architecture, training settings, pretrained start) over the parties.
/// InputError naming the party for empty or malformed data, for parties
/// whose conditions differ in width, or for fewer than 2 parties.
gnn::GnnEnsemble federated_fit(const gnn::GnnEnsembleConfig& like, const std::vector<PartyData>& parties,
                               const FederatedConfig& config, FederatedLog* log = nullptr);

}  // namespace federated
}  // namespace sozai
