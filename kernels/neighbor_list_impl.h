#pragma once
/// Geometry of the periodic neighbour list, written once for host and
/// device (included by neighbor_list.cpp, neighbor_list_cpu.cpp and
/// neighbor_list_cuda.cu).
///
/// Conventions: a lattice is 9 doubles, row-major, rows = lattice vectors
/// a0, a1, a2; a cartesian point is r = f . L (f fractional, a row vector),
/// so f = r . L^-1. All geometry is evaluated in double whatever the storage
/// type of the positions, so that the CPU and CUDA paths (and float32 and
/// float64 inputs holding the same values) decide the same edges.

#include "kernels/host_device.h"

#include <cmath>
#include <cstdint>

namespace sozai {
namespace kernels {
namespace nl {

/// Relative slack of the candidate screens (bin reach, per-pair image
/// range): they may only ever admit too much, never too little; the exact
/// test d < cutoff on pair_distance decides.
constexpr double kScreenSlack = 1e-9;

SOZAI_HOST_DEVICE inline double dot3(const double* a, const double* b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

SOZAI_HOST_DEVICE inline void cross3(const double* a, const double* b, double* out) {
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}

SOZAI_HOST_DEVICE inline double norm3(const double* a) { return sqrt(dot3(a, a)); }

/// det of the row-major 3x3 matrix L (= a0 . (a1 x a2)).
SOZAI_HOST_DEVICE inline double det3(const double* L) {
  double c[3];
  cross3(L + 3, L + 6, c);
  return dot3(L, c);
}

/// Replaces the lattice vectors of non-periodic axes by unit vectors
/// orthogonal to the periodic ones, so that a slab or a molecule needs no
/// meaningful (or non-singular) vector along its open axes: no image is ever
/// taken along them, and an orthonormal completion keeps the fractional
/// coordinates well conditioned (they are then cartesian lengths).
/// With no periodic axis the result is the identity.
/// L, out: 9 doubles (may not alias); periodic: 3 flags.
SOZAI_HOST_DEVICE inline void effective_lattice(const double* L, const bool* periodic, double* out) {
  int np = 0;
  for (int k = 0; k < 3; ++k) np += periodic[k] ? 1 : 0;
  for (int k = 0; k < 9; ++k) out[k] = L[k];
  if (np == 3) return;
  if (np == 0) {
    for (int k = 0; k < 9; ++k) out[k] = (k % 4 == 0) ? 1.0 : 0.0;
    return;
  }
  if (np == 2) {
    int open = periodic[0] ? (periodic[1] ? 2 : 1) : 0;
    double n[3];
    cross3(L + 3 * ((open + 1) % 3), L + 3 * ((open + 2) % 3), n);
    const double len = norm3(n);
    // A degenerate periodic pair is reported by the caller (zero height);
    // any unit vector keeps the matrix finite meanwhile.
    for (int c = 0; c < 3; ++c) out[3 * open + c] = len > 0 ? n[c] / len : (c == open ? 1.0 : 0.0);
    return;
  }
  // One periodic axis p: complete its direction u with two orthonormal
  // vectors, in cyclic order so the completed basis stays right-handed.
  int p = periodic[0] ? 0 : (periodic[1] ? 1 : 2);
  const double* a = L + 3 * p;
  const double len = norm3(a);
  double u[3] = {1.0, 0.0, 0.0};
  if (len > 0) {
    for (int c = 0; c < 3; ++c) u[c] = a[c] / len;
  }
  // Helper axis: the cartesian axis least aligned with u.
  double e[3] = {0.0, 0.0, 0.0};
  int m = 0;
  for (int c = 1; c < 3; ++c) {
    if (fabs(u[c]) < fabs(u[m])) m = c;
  }
  e[m] = 1.0;
  double v[3], w[3];
  cross3(u, e, v);
  const double lv = norm3(v);
  for (int c = 0; c < 3; ++c) v[c] /= lv;
  cross3(u, v, w);
  const int q1 = (p + 1) % 3, q2 = (p + 2) % 3;
  for (int c = 0; c < 3; ++c) {
    out[3 * q1 + c] = v[c];
    out[3 * q2 + c] = w[c];
  }
}

/// inv = L^-1 (row-major), by the adjugate; returns false when det == 0.
SOZAI_HOST_DEVICE inline bool inverse3(const double* L, double* inv) {
  const double det = det3(L);
  if (det == 0.0) return false;
  const double r = 1.0 / det;
  inv[0] = (L[4] * L[8] - L[5] * L[7]) * r;
  inv[1] = (L[2] * L[7] - L[1] * L[8]) * r;
  inv[2] = (L[1] * L[5] - L[2] * L[4]) * r;
  inv[3] = (L[5] * L[6] - L[3] * L[8]) * r;
  inv[4] = (L[0] * L[8] - L[2] * L[6]) * r;
  inv[5] = (L[2] * L[3] - L[0] * L[5]) * r;
  inv[6] = (L[3] * L[7] - L[4] * L[6]) * r;
  inv[7] = (L[1] * L[6] - L[0] * L[7]) * r;
  inv[8] = (L[0] * L[4] - L[1] * L[3]) * r;
  return true;
}

/// f = r . inv (r cartesian, f fractional).
SOZAI_HOST_DEVICE inline void to_fractional(const double* r, const double* inv, double* f) {
  for (int c = 0; c < 3; ++c) f[c] = r[0] * inv[c] + r[1] * inv[3 + c] + r[2] * inv[6 + c];
}

/// r = f . L.
SOZAI_HOST_DEVICE inline void to_cartesian(const double* f, const double* L, double* r) {
  for (int c = 0; c < 3; ++c) r[c] = f[0] * L[c] + f[1] * L[3 + c] + f[2] * L[6 + c];
}

/// Perpendicular heights: h[k] = |det L| / |a_{k+1} x a_{k+2}|, the distance
/// between neighbouring lattice planes spanned by the two other vectors.
/// Two points closer than d differ in fractional coordinate k by less than
/// d / h[k], for any skew: this is what bounds the search.
SOZAI_HOST_DEVICE inline void perpendicular_heights(const double* L, double* h) {
  const double vol = fabs(det3(L));
  for (int k = 0; k < 3; ++k) {
    double c[3];
    cross3(L + 3 * ((k + 1) % 3), L + 3 * ((k + 2) % 3), c);
    const double area = norm3(c);
    h[k] = area > 0 ? vol / area : 0.0;
  }
}

/// Integer shifts s with |df + s| <= reach (reach = cutoff / height, in
/// fractional units), padded by kScreenSlack: [lo, hi], empty when lo > hi.
SOZAI_HOST_DEVICE inline void image_range(double df, double reach, int64_t* lo, int64_t* hi) {
  const double r = reach * (1.0 + kScreenSlack) + kScreenSlack;
  *lo = static_cast<int64_t>(ceil(-df - r));
  *hi = static_cast<int64_t>(floor(-df + r));
}

/// a * b rounded on its own. nvcc contracts a * b + c into one fma by
/// default (the host compiler does not on plain x86-64), which would let the
/// CPU and CUDA paths disagree in the last bit about an edge at the cutoff.
SOZAI_HOST_DEVICE inline double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

/// Squared length of pos_j + S . L - pos_i: the one formula that decides
/// every edge and gives its reported distance, on every path. The shift is
/// summed before the difference is added so that the result depends only on
/// (i, j, S), never on how the candidate was found.
SOZAI_HOST_DEVICE inline double pair_distance2(const double* pi, const double* pj, int64_t s0, int64_t s1,
                                               int64_t s2, const double* L) {
  const double f0 = static_cast<double>(s0), f1 = static_cast<double>(s1), f2 = static_cast<double>(s2);
  double d2 = 0.0;
  for (int c = 0; c < 3; ++c) {
    const double shift = (mul_rn(f0, L[c]) + mul_rn(f1, L[3 + c])) + mul_rn(f2, L[6 + c]);
    const double v = (pj[c] - pi[c]) + shift;
    d2 = d2 + mul_rn(v, v);
  }
  return d2;
}

/// Floor division for possibly negative t and positive n.
SOZAI_HOST_DEVICE inline int64_t floor_div(int64_t t, int64_t n) {
  const int64_t q = t / n;
  return (t % n != 0 && ((t < 0) != (n < 0))) ? q - 1 : q;
}

}  // namespace nl
}  // namespace kernels
}  // namespace sozai
