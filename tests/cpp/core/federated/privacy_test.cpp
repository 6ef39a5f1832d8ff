// Differential privacy: the RDP accountant against the exact privacy curve
// of the Gaussian mechanism (an independent formula), and clipping + noise.
#include "common/error.h"
#include "core/federated/privacy.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace sozai;
using namespace sozai::federated;

namespace {

double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

/// The exact epsilon of a Gaussian mechanism composed `rounds` times (a
/// mu-GDP mechanism, mu = sqrt(rounds) / z; Balle & Wang 2018, Dong et al.
/// 2019): the root of delta(eps) = Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2).
double exact_epsilon(double z, int64_t rounds, double delta) {
  const double mu = std::sqrt(static_cast<double>(rounds)) / z;
  auto d = [&](double eps) { return Phi(-eps / mu + mu / 2) - std::exp(eps) * Phi(-eps / mu - mu / 2); };
  double lo = 0, hi = 1000;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (d(mid) > delta ? lo : hi) = mid;
  }
  return hi;
}

}  // namespace

TEST_CASE("gaussian_privacy bounds the exact privacy of the Gaussian mechanism from above, tightly", "[federated]") {
  for (double z : {0.8, 1.0, 2.0, 5.0})
    for (int64_t rounds : {1, 10, 100})
      for (double delta : {1e-5, 1e-3}) {
        const auto p = gaussian_privacy(z, rounds, delta);
        const double exact = exact_epsilon(z, rounds, delta);
        INFO("z " << z << ", rounds " << rounds << ", delta " << delta << ": RDP " << p.epsilon << ", exact " << exact);
        CHECK(p.epsilon >= exact);         // a bound, never an understatement
        CHECK(p.epsilon <= 1.25 * exact + 0.05);  // and not a loose one
        CHECK(p.best_order > 1);
        CHECK(p.delta == delta);
      }
  CHECK(gaussian_privacy(1.0, 10, 1e-5).epsilon > gaussian_privacy(2.0, 10, 1e-5).epsilon);   // more noise: less
  CHECK(gaussian_privacy(1.0, 10, 1e-5).epsilon < gaussian_privacy(1.0, 100, 1e-5).epsilon);  // more rounds: more
  CHECK_THROWS_WITH(gaussian_privacy(0.0, 1, 1e-5), Catch::Contains("noise_multiplier"));
  CHECK_THROWS_WITH(gaussian_privacy(1.0, 0, 1e-5), Catch::Contains("rounds"));
  CHECK_THROWS_WITH(gaussian_privacy(1.0, 1, 1.0), Catch::Contains("delta"));
}

TEST_CASE("clip_and_noise clips to the norm and adds noise of the asked spread", "[federated]") {
  const std::vector<double> u{3.0, 4.0};  // norm 5
  const auto c = clip_and_noise(u, 1.0, 0.0);
  CHECK(c[0] == Approx(0.6));
  CHECK(c[1] == Approx(0.8));
  CHECK(clip_and_noise(u, 10.0, 0.0) == u);  // inside the ball: unchanged
  std::vector<double> zeros(200001, 0.0);
  const auto noisy = clip_and_noise(zeros, 1.0, 0.5);
  double s = 0, s2 = 0;
  for (double x : noisy) {
    s += x;
    s2 += x * x;
  }
  const double n = static_cast<double>(noisy.size()), mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
  CHECK(std::abs(mean) < 0.01);           // ~9 standard errors
  CHECK(sd == Approx(0.5).epsilon(0.01));  // sd of the sd estimate ~0.16 %
  CHECK(clip_and_noise(zeros, 1.0, 0.5) != noisy);  // fresh noise every call
  CHECK_THROWS_WITH(clip_and_noise({0.0, INFINITY}, 1.0, 0.1), Catch::Contains("entry 1"));
  CHECK_THROWS_WITH(clip_and_noise(u, 0.0, 0.1), Catch::Contains("clip_norm"));
}
