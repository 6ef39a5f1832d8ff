#pragma once
/// Per-element numerics of the stationary kernels and of Tanimoto
/// similarity, written once for host and device (included by
/// kernel_matrix_cpu.cpp and kernel_matrix_cuda.cu). Only the loops differ.

#include "kernels/host_device.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace sozai {
namespace kernels {

/// Which stationary kernel. Values are stable: they cross the host/device
/// boundary.
enum class KernelKind : int32_t { RBF = 0, Matern52 = 1 };

namespace impl {

constexpr double kSqrt5 = 2.23606797749978969641;

/// Tile edge of the CPU kernels: a 64 x 64 block of the output (32 KiB in
/// double) plus the two scaled input blocks stay in L1/L2, and one
/// parallel task is large enough to amortise its scheduling.
constexpr int64_t kCpuTile = 64;

#if !defined(__CUDA_ARCH__)
// ------------------------------------------------------------------ host exp
// exp of a non-positive argument without a libm call, so that GCC can
// vectorise the whole tile loop (glibc's exp is a scalar call unless
// -ffast-math, which the project does not use). Cody-Waite reduction
// x = n ln2 + r, |r| <= ln2/2, a Taylor polynomial for exp(r) whose
// truncation error is far below one ulp (r^14/14! < 5e-18 in double,
// r^8/8! < 6e-9 in float), and 2^n written into the exponent bits.
// Results that would be subnormal except for the last binade become 0
// (exp(x) < 2^-1022 ~ 2e-308 in double, < 2^-126 ~ 1e-38 in float): a
// kernel value that small is 0 for every use.
//
// Written without branches and with only `a < c ? c : a` selects: under
// the default -ftrapping-math GCC 12 if-converts (and so vectorises) that
// form but not a select whose arm holds arithmetic.

inline double exp_nonpos(double x) {
  constexpr double kLog2e = 1.4426950408889634074;
  constexpr double kLn2Hi = 6.93147180369123816490e-01;  // 32 significant bits: n * hi is exact
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kShift = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double xc = x < -746.0 ? -746.0 : x;    // keeps n and the exponent arithmetic in range
  const double t = xc * kLog2e + kShift;
  const double n = t - kShift;
  const double r = (xc - n * kLn2Hi) - n * kLn2Lo;
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // Biased exponent n + 1023, floored at 0 where 2^n is not normal: an
  // all-zero exponent field (and mantissa) is +0.0, so the product is 0.
  const double nc = n < -1023.0 ? -1023.0 : n;
  const double tc = nc + kShift;
  int64_t tb, sb;
  std::memcpy(&tb, &tc, sizeof tb);
  std::memcpy(&sb, &kShift, sizeof sb);
  const int64_t e = ((tb - sb) + 1023) << 52;
  double scale;
  std::memcpy(&scale, &e, sizeof scale);
  return p * scale;
}

inline float exp_nonpos(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;  // 9 significant bits: n * hi is exact
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kShift = 12582912.0f;  // 1.5 * 2^23
  const float xc = x < -104.0f ? -104.0f : x;
  const float t = xc * kLog2e + kShift;
  const float n = t - kShift;
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float nc = n < -127.0f ? -127.0f : n;
  const float tc = nc + kShift;
  int32_t tb, sb;
  std::memcpy(&tb, &tc, sizeof tb);
  std::memcpy(&sb, &kShift, sizeof sb);
  const int32_t e = ((tb - sb) + 127) << 23;
  float scale;
  std::memcpy(&scale, &e, sizeof scale);
  return p * scale;
}
#endif

/// exp(x) for x <= 0: the device's libm on a GPU, the vectorisable
/// polynomial above on the host.
SOZAI_HOST_DEVICE inline double kernel_exp(double x) {
#if defined(__CUDA_ARCH__)
  return exp(x);
#else
  return exp_nonpos(x);
#endif
}
SOZAI_HOST_DEVICE inline float kernel_exp(float x) {
#if defined(__CUDA_ARCH__)
  return expf(x);
#else
  return exp_nonpos(x);
#endif
}

/// Kernel values from the lengthscale-scaled distance r (r2 = r^2);
/// `outputscale` s multiplies the correlation (it is the signal variance,
/// as in models/gp/covariance). Evaluated in T (float for float32 inputs):
/// every term is positive, so nothing cancels.
///   RBF:        s exp(-r^2 / 2)
template <typename T>
SOZAI_HOST_DEVICE inline T rbf_value(T r2, T outputscale) {
  return outputscale * kernel_exp(T(-0.5) * r2);
}
///   Matern-5/2: s (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r)
template <typename T>
SOZAI_HOST_DEVICE inline T matern52_value(T r, T r2, T outputscale) {
  const T sr = T(kSqrt5) * r;
  return outputscale * (T(1) + sr + T(5.0 / 3.0) * r2) * kernel_exp(-sr);
}

/// Either kernel from r2 >= 0 alone. (The CPU tile loop calls the two
/// functions above itself, with the square roots of a whole row taken
/// first, so that the loop vectorises.)
template <typename T>
SOZAI_HOST_DEVICE inline T kernel_value(T r2, T outputscale, KernelKind kind) {
  if (kind == KernelKind::RBF) return rbf_value(r2, outputscale);
#if defined(__CUDA_ARCH__)
  return matern52_value(sqrt(r2), r2, outputscale);
#else
  return matern52_value(std::sqrt(r2), r2, outputscale);
#endif
}

/// Tanimoto similarity |a & b| / |a | b| from bit counts. Two empty
/// fingerprints (union 0) have similarity 1: they are identical, so
/// T(a, a) = 1 holds for every a, and this is what RDKit's
/// TanimotoSimilarity/BulkTanimotoSimilarity return (checked against
/// RDKit 2022.09). Divided in double and rounded once to float: for
/// counts below 2^24 that equals the correctly rounded float quotient
/// (double rounding is innocuous for division when 53 >= 2*24 + 2), so the
/// result is exactly float32(RDKit's double).
SOZAI_HOST_DEVICE inline float tanimoto_value(int64_t intersection, int64_t union_count) {
  if (union_count == 0) return 1.0f;
  return static_cast<float>(static_cast<double>(intersection) / static_cast<double>(union_count));
}

}  // namespace impl
}  // namespace kernels
}  // namespace sozai
