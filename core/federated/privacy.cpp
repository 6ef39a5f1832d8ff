#include "core/federated/privacy.h"

#include "common/error.h"
#include "common/sha256.h"
#include "core/federated/secure_aggregation.h"

#include <cmath>
#include <limits>

namespace sozai {
namespace federated {

PrivacySpent gaussian_privacy(double noise_multiplier, int64_t rounds, double delta) {
  SOZAI_CHECK(std::isfinite(noise_multiplier) && noise_multiplier > 0, "gaussian_privacy: noise_multiplier must be > 0, got ",
              noise_multiplier);
  SOZAI_CHECK(rounds >= 1, "gaussian_privacy: rounds must be >= 1, got ", rounds);
  SOZAI_CHECK(delta > 0 && delta < 1, "gaussian_privacy: delta must be in (0, 1), got ", delta);
  const double per_order = static_cast<double>(rounds) / (2.0 * noise_multiplier * noise_multiplier);
  PrivacySpent best{std::numeric_limits<double>::infinity(), delta, 0};
  // Orders from 1.01 to 10^5 on a fine logarithmic grid (the bound is
  // smooth in alpha; the grid costs nothing).
  for (int i = 0; i <= 4000; ++i) {
    const double alpha = 1.0 + 0.01 * std::pow(1e7, i / 4000.0);
    const double eps = per_order * alpha + std::log((alpha - 1) / alpha) - (std::log(delta) + std::log(alpha)) / (alpha - 1);
    if (eps < best.epsilon) {
      best.epsilon = eps;
      best.best_order = alpha;
    }
  }
  best.epsilon = std::max(best.epsilon, 0.0);
  return best;
}

std::vector<double> clip_and_noise(const std::vector<double>& update, double clip_norm, double noise_sd) {
  SOZAI_CHECK(std::isfinite(clip_norm) && clip_norm > 0, "clip_and_noise: clip_norm must be > 0, got ", clip_norm);
  SOZAI_CHECK(std::isfinite(noise_sd) && noise_sd >= 0, "clip_and_noise: noise_sd must be >= 0, got ", noise_sd);
  double sq = 0;
  for (size_t i = 0; i < update.size(); ++i) {
    SOZAI_CHECK(std::isfinite(update[i]), "clip_and_noise: entry ", i, " is ", update[i], ", not a finite number");
    sq += update[i] * update[i];
  }
  const double norm = std::sqrt(sq), factor = norm > clip_norm ? clip_norm / norm : 1.0;
  std::vector<double> out(update.size());
  for (size_t i = 0; i < update.size(); ++i) out[i] = update[i] * factor;
  if (noise_sd == 0 || update.empty()) return out;
  const Bytes seed = random_bytes(32);
  const auto n = static_cast<int64_t>(update.size());
  const auto words = prg_words(seed, 4 * ((n + 1) / 2));  // two 53-bit uniforms per pair of entries
  auto uniform = [&](int64_t k) {  // in (0, 1]
    const uint64_t bits = (static_cast<uint64_t>(words[2 * k]) << 21) ^ (words[2 * k + 1] >> 11);
    return (static_cast<double>(bits & ((1ULL << 53) - 1)) + 1.0) / 9007199254740992.0;
  };
  for (int64_t p = 0; 2 * p < n; ++p) {  // Box-Muller: two normals per pair of uniforms
    const double r = std::sqrt(-2.0 * std::log(uniform(2 * p))), th = 2.0 * M_PI * uniform(2 * p + 1);
    out[2 * p] += noise_sd * r * std::cos(th);
    if (2 * p + 1 < n) out[2 * p + 1] += noise_sd * r * std::sin(th);
  }
  return out;
}

}  // namespace federated
}  // namespace sozai
