#pragma once
/// Numerics of the analytic acquisition functions, written once for host
/// and device (included by acquisition_cpu.cpp and acquisition_cuda.cu).
///
/// Everything is evaluated in double whatever the storage type: LogEI's
/// tail needs erfc/exp of arguments that overflow float.

#include "kernels/host_device.h"

#include <cmath>
#include <cstdint>

namespace sozai {
namespace kernels {

/// Every acquisition sozai knows, one enum for all (core/bo/registry.h
/// parses the names and says what each supports). The kernels here
/// evaluate the analytic four, EI .. PI; the others are sampled in
/// core/bo. Values are stable: they cross the host/device boundary.
enum class AcquisitionKind : int32_t {
  EI = 0,
  LogEI = 1,
  UCB = 2,
  PI = 3,
  qLogNEI = 4,
  qUCB = 5,
  Thompson = 6,
  qNEHVI = 7,
  qLogNEHVI = 8,
  qParEGO = 9,
  AEI = 10,
};

/// Whether the kernels here evaluate `kind` (EI, LogEI, UCB, PI).
SOZAI_HOST_DEVICE inline bool is_analytic(AcquisitionKind kind) {
  return static_cast<int32_t>(kind) >= 0 && static_cast<int32_t>(kind) <= 3;
}

/// Parameters shared by every element.
struct AcquisitionParams {
  AcquisitionKind kind = AcquisitionKind::LogEI;
  double best_f = 0.0;    ///< incumbent, in the units of mean
  double beta = 4.0;      ///< UCB exploration weight: mean + sqrt(beta) * sigma
  bool maximize = true;   ///< false: improvement means going below best_f
};

namespace impl {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kLogSqrt2Pi = 0.91893853320467274178;
constexpr double kLogSqrtPiDiv2 = 0.22579135264472743236;  // log(sqrt(pi/2))
constexpr double kInvSqrtPi = 0.56418958354775628695;
/// Below this z the asymptotic form of log h(z) is exact to double precision.
constexpr double kNegInvSqrtEps = -1e6;
/// Variances are floored here so sigma is never 0 (EI's z would be inf/nan).
constexpr double kMinVariance = 1e-30;

SOZAI_HOST_DEVICE inline double normal_pdf(double z) { return kInvSqrt2Pi * exp(-0.5 * z * z); }
SOZAI_HOST_DEVICE inline double normal_cdf(double z) { return 0.5 * erfc(-z * kInvSqrt2); }

/// Scaled complementary error function exp(x^2) erfc(x) for x >= 0.
/// Direct product while exp(x^2) is finite; the asymptotic series (error
/// below 1e-13 relative for x > 26) beyond.
SOZAI_HOST_DEVICE inline double erfcx_nonneg(double x) {
  if (x < 26.0) return exp(x * x) * erfc(x);
  const double inv2 = 1.0 / (2.0 * x * x);
  // 1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6) + 105/(16x^8)
  const double series = 1.0 - inv2 * (1.0 - 3.0 * inv2 * (1.0 - 5.0 * inv2 * (1.0 - 7.0 * inv2)));
  return kInvSqrtPi / x * series;
}

/// log(1 - exp(w)) for w < 0, accurate at both ends (Maechler 2012).
SOZAI_HOST_DEVICE inline double log1mexp(double w) {
  return w > -0.6931471805599453 ? log(-expm1(w)) : log1p(-exp(w));
}

/// h(z) = phi(z) + z Phi(z) by its direct formula; cancels badly for z < -1.
SOZAI_HOST_DEVICE inline double ei_h_direct(double z) { return normal_pdf(z) + z * normal_cdf(z); }

/// log h(z), finite and monotone for every finite z (Ament et al. 2023,
/// "Unexpected improvements to expected improvement", eq. 9): the direct
/// form above z = -1; below, log phi(z) + log1mexp(log(|z| erfcx(-z/sqrt2)
/// sqrt(pi/2))), which avoids the cancellation in phi + z Phi; below
/// -1/sqrt(eps) the ratio term is -2 log|z| to double precision.
SOZAI_HOST_DEVICE inline double log_ei_h(double z) {
  if (z > -1.0) return log(ei_h_direct(z));
  const double log_phi = -0.5 * z * z - kLogSqrt2Pi;
  if (z > kNegInvSqrtEps) {
    const double w = log(erfcx_nonneg(-z * kInvSqrt2) * fabs(z)) + kLogSqrtPiDiv2;
    return log_phi + log1mexp(w);
  }
  return log_phi - 2.0 * log(fabs(z));
}

/// h(z) = phi(z) + z Phi(z): expected improvement of a unit normal over 0,
/// through log_ei_h below z = -1 so the tail keeps full relative precision.
SOZAI_HOST_DEVICE inline double ei_h(double z) { return z > -1.0 ? ei_h_direct(z) : exp(log_ei_h(z)); }

/// Acquisition value of one candidate with posterior mean and variance.
/// Larger is better for every kind and direction.
SOZAI_HOST_DEVICE inline double acquisition_value(double mean, double variance,
                                                  const AcquisitionParams& p) {
  const double sigma = sqrt(variance > kMinVariance ? variance : kMinVariance);
  const double sign = p.maximize ? 1.0 : -1.0;
  switch (p.kind) {
    case AcquisitionKind::UCB:
      // For minimisation this is minus the lower confidence bound.
      return sign * mean + sqrt(p.beta) * sigma;
    case AcquisitionKind::PI:
      return normal_cdf(sign * (mean - p.best_f) / sigma);
    case AcquisitionKind::EI:
      return sigma * ei_h(sign * (mean - p.best_f) / sigma);
    case AcquisitionKind::LogEI:
    default:
      return log(sigma) + log_ei_h(sign * (mean - p.best_f) / sigma);
  }
}

/// An upper bound on the log of the acquisition value (for LogEI, on the
/// value itself) that costs no transcendental function, or +inf where there
/// is none (UCB, candidates above the incumbent). Screening uses it to skip
/// the exact value of candidates that cannot enter the top k. It rests on
/// log sigma <= (sigma^2 - 1) / 2, log h(z) <= log phi(z) for z <= 0
/// (h = phi + z Phi), and Phi(z) <= phi(z) / |z| <= phi(z) for z <= -1.
SOZAI_HOST_DEVICE inline double log_upper_bound(double mean, double variance, const AcquisitionParams& p) {
  const double inf = 1.0 / 0.0;
  if (p.kind == AcquisitionKind::UCB) return inf;
  const double v = variance > kMinVariance ? variance : kMinVariance;
  const double d = p.maximize ? mean - p.best_f : p.best_f - mean;
  if (!(d <= 0.0)) return inf;  // also NaN: no bound
  const double half_z2 = 0.5 * d * d / v;
  switch (p.kind) {
    case AcquisitionKind::PI:
      return half_z2 >= 0.5 ? -half_z2 - kLogSqrt2Pi : inf;
    case AcquisitionKind::EI:
    case AcquisitionKind::LogEI:
    default:
      return 0.5 * (v - 1.0) - half_z2 - kLogSqrt2Pi;
  }
}

}  // namespace impl
}  // namespace kernels
}  // namespace sozai
