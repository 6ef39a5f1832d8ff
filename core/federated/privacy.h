#pragma once
/// Differential privacy for federated rounds: each party clips its update to
/// an L2 norm and Gaussian noise is added to the sum (the Gaussian mechanism,
/// sensitivity = the clip norm), and a Rényi-DP accountant reports the
/// (epsilon, delta) of the whole training.
///
/// With secure aggregation the coordinator sees only the sum, so the noise
/// is added by the parties: each adds N(0, (z C)^2 / n) for noise multiplier
/// z, clip norm C and n parties, and the sum carries N(0, (z C)^2) - as
/// long as all n parties deliver (a round with dropouts carries less noise;
/// the parties may add for the smallest number of survivors they accept).

#include <cstdint>
#include <vector>

namespace sozai {
namespace federated {

/// The privacy spent by `rounds` releases of a Gaussian mechanism with noise
/// multiplier z (noise sd / sensitivity), every party in every round.
struct PrivacySpent {
  double epsilon = 0;     ///< of (epsilon, delta)-DP, an upper bound
  double delta = 0;       ///< as asked
  double best_order = 0;  ///< the Rényi order alpha that gave epsilon
};

/// RDP of one round alpha / (2 z^2) (Mironov 2017, Prop. 7), composed over
/// rounds, converted to (epsilon, delta) by Canonne, Kamath and Steinke
/// (2020, Prop. 12): eps = rdp + log((alpha - 1) / alpha) - (log delta +
/// log alpha) / (alpha - 1), minimised over alpha. InputError unless z > 0,
/// rounds >= 1 and 0 < delta < 1.
PrivacySpent gaussian_privacy(double noise_multiplier, int64_t rounds, double delta);

/// `update` scaled down to L2 norm at most clip_norm, plus Gaussian noise of
/// standard deviation noise_sd per entry drawn from a cryptographic stream
/// (ChaCha20 keyed by OpenSSL's RNG; Box-Muller). InputError on a non-finite
/// entry (naming it), clip_norm <= 0 or noise_sd < 0.
std::vector<double> clip_and_noise(const std::vector<double>& update, double clip_norm, double noise_sd);

}  // namespace federated
}  // namespace sozai
