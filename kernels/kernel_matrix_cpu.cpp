// CPU reference of the tiled kernel matrix and Tanimoto similarity.
//
// Why the pragma: GCC 12 under its default -ftrapping-math will not
// if-convert the selects of impl::exp_nonpos after other passes push
// arithmetic into their arms, and so leaves the tile loop scalar. Nothing
// in sozai relies on floating-point traps. It comes before every include so
// that all inline functions of this unit carry the same options (GCC
// refuses to inline across mismatched FP options).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "kernels/kernel_matrix.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__GNUC__)
#define SOZAI_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SOZAI_ALWAYS_INLINE inline
#endif

// Runtime-selected clones for x86-64: the default target of a
// distribution compiler is baseline x86-64 (SSE2, no POPCNT, no AVX2), and
// building with -march=native would make binaries that crash on older
// CPUs. So each hot loop is compiled twice, once for baseline and once with
// the extensions, and __builtin_cpu_supports picks one at run time.
#if defined(__x86_64__) && defined(__GNUC__)
#define SOZAI_X86_CLONES 1
#define SOZAI_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define SOZAI_TARGET_POPCNT __attribute__((target("popcnt")))
#endif

namespace sozai {
namespace kernels {
namespace {

constexpr int64_t T = impl::kCpuTile;

// ------------------------------------------------------------ kernel matrix

// sqrt of a tile row. A separate loop because std::sqrt under the default
// -fmath-errno is a call guarded by a branch (errno on negative input), which
// GCC never vectorises, and r2 >= 0 here anyway; SSE2 is part of x86-64.
template <int64_t W>
SOZAI_ALWAYS_INLINE void sqrt_row(const double* in, double* out) {
#if defined(__SSE2__)
  for (int64_t j = 0; j < W; j += 2) _mm_storeu_pd(out + j, _mm_sqrt_pd(_mm_loadu_pd(in + j)));
#else
  for (int64_t j = 0; j < W; ++j) out[j] = std::sqrt(in[j]);
#endif
}
template <int64_t W>
SOZAI_ALWAYS_INLINE void sqrt_row(const float* in, float* out) {
#if defined(__SSE2__)
  for (int64_t j = 0; j < W; j += 4) _mm_storeu_ps(out + j, _mm_sqrt_ps(_mm_loadu_ps(in + j)));
#else
  for (int64_t j = 0; j < W; ++j) out[j] = std::sqrt(in[j]);
#endif
}

template <typename S>
struct KmArgs {
  const S* x1;
  const S* x2;
  const S* ls;  // [d] or [1]
  int64_t ls_stride;  // 1 for ARD, 0 for a shared lengthscale
  S* out;
  int64_t n, m, d;
  S outputscale;
  KernelKind kind;
};

// Tiles [begin, end) of the row-major grid of ceil(n/T) x ceil(m/W) tiles
// (T rows of x1 by W rows of x2). Per tile: x1's rows scaled into A [T, d]
// (kept while consecutive tiles share them), x2's rows scaled and
// transposed into Bt [d, W] with zero padding, so every inner loop runs over
// W contiguous columns and vectorises without a remainder. Workspace:
// (d + 3) W + d T elements.
template <int64_t W, typename S>
SOZAI_ALWAYS_INLINE void km_tiles(const KmArgs<S>& p, int64_t begin, int64_t end) {
  const int64_t d = p.d;
  const int64_t ntj = (p.m + W - 1) / W;
  std::vector<S> A(static_cast<size_t>(T * std::max<int64_t>(d, 1)));
  std::vector<S> Bt(static_cast<size_t>(W * std::max<int64_t>(d, 1)));
  alignas(64) S acc[W];
  alignas(64) S r[W];
  alignas(64) S val[W];
  int64_t cached_ti = -1;
  for (int64_t t = begin; t < end; ++t) {
    const int64_t ti = t / ntj, tj = t % ntj;
    const int64_t i0 = ti * T, ni = std::min(T, p.n - i0);
    const int64_t j0 = tj * W, nj = std::min(W, p.m - j0);
    if (ti != cached_ti) {
      for (int64_t ii = 0; ii < ni; ++ii) {
        const S* row = p.x1 + (i0 + ii) * d;
        for (int64_t k = 0; k < d; ++k) A[ii * d + k] = row[k] / p.ls[k * p.ls_stride];
      }
      cached_ti = ti;
    }
    for (int64_t jj = 0; jj < nj; ++jj) {
      const S* row = p.x2 + (j0 + jj) * d;
      for (int64_t k = 0; k < d; ++k) Bt[k * W + jj] = row[k] / p.ls[k * p.ls_stride];
    }
    for (int64_t k = 0; k < d; ++k)
      for (int64_t jj = nj; jj < W; ++jj) Bt[k * W + jj] = S(0);

    for (int64_t ii = 0; ii < ni; ++ii) {
      for (int64_t jj = 0; jj < W; ++jj) acc[jj] = S(0);
      const S* a = A.data() + ii * d;
      for (int64_t k = 0; k < d; ++k) {
        const S ak = a[k];
        const S* b = Bt.data() + k * W;
        for (int64_t jj = 0; jj < W; ++jj) {
          const S diff = ak - b[jj];
          acc[jj] += diff * diff;
        }
      }
      if (p.kind == KernelKind::RBF) {
        for (int64_t jj = 0; jj < W; ++jj) val[jj] = impl::rbf_value(acc[jj], p.outputscale);
      } else {
        sqrt_row<W>(acc, r);  // hoisted out of the value loop: see sqrt_row
        for (int64_t jj = 0; jj < W; ++jj) val[jj] = impl::matern52_value(r[jj], acc[jj], p.outputscale);
      }
      std::memcpy(p.out + (i0 + ii) * p.m + j0, val, sizeof(S) * static_cast<size_t>(nj));
    }
  }
}

template <int64_t W, typename S>
void km_tiles_default(const KmArgs<S>& p, int64_t begin, int64_t end) {
  km_tiles<W>(p, begin, end);
}
#ifdef SOZAI_X86_CLONES
template <int64_t W, typename S>
SOZAI_TARGET_AVX2 void km_tiles_avx2(const KmArgs<S>& p, int64_t begin, int64_t end) {
  km_tiles<W>(p, begin, end);
}
#endif

template <int64_t W, typename S>
void km_run(const KmArgs<S>& p, int64_t begin, int64_t end) {
#ifdef SOZAI_X86_CLONES
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) return km_tiles_avx2<W>(p, begin, end);
#endif
  km_tiles_default<W>(p, begin, end);
}

/// Columns per tile: the widest of 64, 32 and 16 that pads the m columns by
/// at most an eighth (a screen's bounds against 16 or 48 pivots would
/// otherwise compute 64 columns for 16, or 64 for 48).
int64_t tile_width(int64_t m) {
  for (int64_t w : {int64_t{64}, int64_t{32}}) {
    const int64_t padded = (m + w - 1) / w * w;
    if (8 * (padded - m) <= m) return w;
  }
  return 16;
}

// ----------------------------------------------------------------- Tanimoto

// Tiles as above. Rows of a and b are already contiguous words, so a tile
// needs no copy: the loop order alone keeps T rows of each in cache. The
// union comes from |a| + |b| - |a & b| with per-row counts taken once per
// tile, so the inner loop is one AND and one POPCNT per word.
struct TaniArgs {
  const uint64_t* a;
  const uint64_t* b;
  float* out;
  int64_t n, m, w;
};

SOZAI_ALWAYS_INLINE int64_t row_count(const uint64_t* row, int64_t w) {
  int64_t c = 0;
  for (int64_t k = 0; k < w; ++k) c += __builtin_popcountll(row[k]);
  return c;
}

SOZAI_ALWAYS_INLINE void tani_tiles(const TaniArgs& p, int64_t begin, int64_t end) {
  const int64_t w = p.w;
  const int64_t ntj = (p.m + T - 1) / T;
  int64_t ca[T], cb[T];
  int64_t cached_ti = -1;
  for (int64_t t = begin; t < end; ++t) {
    const int64_t ti = t / ntj, tj = t % ntj;
    const int64_t i0 = ti * T, ni = std::min(T, p.n - i0);
    const int64_t j0 = tj * T, nj = std::min(T, p.m - j0);
    if (ti != cached_ti) {
      for (int64_t ii = 0; ii < ni; ++ii) ca[ii] = row_count(p.a + (i0 + ii) * w, w);
      cached_ti = ti;
    }
    for (int64_t jj = 0; jj < nj; ++jj) cb[jj] = row_count(p.b + (j0 + jj) * w, w);
    for (int64_t ii = 0; ii < ni; ++ii) {
      const uint64_t* ar = p.a + (i0 + ii) * w;
      float* orow = p.out + (i0 + ii) * p.m + j0;
      int64_t jj = 0;
      // Four columns at once: each word of a is loaded once for four
      // popcounts (1.25 loads per AND+POPCNT instead of 2; 1.5x here).
      for (; jj + 4 <= nj; jj += 4) {
        const uint64_t* b0 = p.b + (j0 + jj) * w;
        const uint64_t *b1 = b0 + w, *b2 = b1 + w, *b3 = b2 + w;
        int64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        for (int64_t k = 0; k < w; ++k) {
          const uint64_t av = ar[k];
          c0 += __builtin_popcountll(av & b0[k]);
          c1 += __builtin_popcountll(av & b1[k]);
          c2 += __builtin_popcountll(av & b2[k]);
          c3 += __builtin_popcountll(av & b3[k]);
        }
        orow[jj] = impl::tanimoto_value(c0, ca[ii] + cb[jj] - c0);
        orow[jj + 1] = impl::tanimoto_value(c1, ca[ii] + cb[jj + 1] - c1);
        orow[jj + 2] = impl::tanimoto_value(c2, ca[ii] + cb[jj + 2] - c2);
        orow[jj + 3] = impl::tanimoto_value(c3, ca[ii] + cb[jj + 3] - c3);
      }
      for (; jj < nj; ++jj) {
        const uint64_t* br = p.b + (j0 + jj) * w;
        int64_t both = 0;
        for (int64_t k = 0; k < w; ++k) both += __builtin_popcountll(ar[k] & br[k]);
        orow[jj] = impl::tanimoto_value(both, ca[ii] + cb[jj] - both);
      }
    }
  }
}

// Without -mpopcnt, __builtin_popcountll is a libgcc call (a table/bit
// trick, several times slower than the instruction); the clone below lets
// the same loop use the POPCNT instruction where the CPU has it.
void tani_tiles_default(const TaniArgs& p, int64_t begin, int64_t end) { tani_tiles(p, begin, end); }
#ifdef SOZAI_X86_CLONES
SOZAI_TARGET_POPCNT void tani_tiles_popcnt(const TaniArgs& p, int64_t begin, int64_t end) {
  tani_tiles(p, begin, end);
}
#endif

void tani_run(const TaniArgs& p, int64_t begin, int64_t end) {
#ifdef SOZAI_X86_CLONES
  static const bool popcnt = __builtin_cpu_supports("popcnt");
  if (popcnt) return tani_tiles_popcnt(p, begin, end);
#endif
  tani_tiles_default(p, begin, end);
}

// A large output is written once, page by page; with 4 KiB pages its first
// touch costs one page fault per 4 KiB (32k faults, about a third of the
// time of a 4096 x 4096 float64 matrix here). Asking for transparent huge
// pages on the 2 MiB-aligned interior cuts that to one fault per 2 MiB where
// the system allows THP on request ("madvise" mode); elsewhere it is a no-op.
void advise_huge_pages(const torch::Tensor& out) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(out.data_ptr());
  const uintptr_t end = begin + out.nbytes();
  const uintptr_t lo = (begin + kHuge - 1) & ~(kHuge - 1), hi = end & ~(kHuge - 1);
  if (hi > lo) (void)madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);  // advice only: errors ignored
#endif
}

}  // namespace

torch::Tensor kernel_matrix_cpu(const torch::Tensor& x1, const torch::Tensor& x2, const torch::Tensor& lengthscale,
                                double outputscale, KernelKind kind) {
  const int64_t n = x1.size(0), m = x2.size(0), d = x1.size(1);
  auto out = torch::empty({n, m}, x1.options());
  advise_huge_pages(out);
  const int64_t w = tile_width(m);
  const int64_t tiles = ((n + T - 1) / T) * ((m + w - 1) / w);
  AT_DISPATCH_FLOATING_TYPES(x1.scalar_type(), "kernel_matrix_cpu", [&] {
    KmArgs<scalar_t> p{x1.data_ptr<scalar_t>(),
                       x2.data_ptr<scalar_t>(),
                       lengthscale.data_ptr<scalar_t>(),
                       lengthscale.numel() == 1 ? 0 : 1,
                       out.data_ptr<scalar_t>(),
                       n,
                       m,
                       d,
                       static_cast<scalar_t>(outputscale),
                       kind};
    // One tile (64 x 16..64 x d) is already ~10^4-10^5 flops, worth a task of its own.
    at::parallel_for(0, tiles, 1, [&](int64_t begin, int64_t end) {
      if (w == 64) km_run<64>(p, begin, end);
      else if (w == 32) km_run<32>(p, begin, end);
      else km_run<16>(p, begin, end);
    });
  });
  return out;
}

torch::Tensor tanimoto_cpu(const torch::Tensor& a, const torch::Tensor& b) {
  const int64_t n = a.size(0), m = b.size(0), w = a.size(1);
  auto out = torch::empty({n, m}, a.options().dtype(torch::kFloat32));
  advise_huge_pages(out);
  const int64_t tiles = ((n + T - 1) / T) * ((m + T - 1) / T);
  // int64 words reinterpreted as unsigned: popcount and & are bitwise.
  TaniArgs p{reinterpret_cast<const uint64_t*>(a.data_ptr<int64_t>()),
             reinterpret_cast<const uint64_t*>(b.data_ptr<int64_t>()), out.data_ptr<float>(), n, m, w};
  at::parallel_for(0, tiles, 1, [&](int64_t begin, int64_t end) { tani_run(p, begin, end); });
  return out;
}

torch::Tensor pack_bits_cpu(const torch::Tensor& bits) {
  const int64_t n = bits.size(0), nbits = bits.size(1);
  const int64_t w = (nbits + 63) / 64;
  auto out = torch::empty({n, w}, bits.options().dtype(torch::kInt64));
  // bool and uint8 are both one byte per element; bool holds 0 or 1.
  const uint8_t* src = static_cast<const uint8_t*>(bits.data_ptr());
  uint64_t* dst = reinterpret_cast<uint64_t*>(out.data_ptr<int64_t>());
  at::parallel_for(0, n, 256, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const uint8_t* row = src + i * nbits;
      for (int64_t k = 0; k < w; ++k) {
        const int64_t lo = k * 64, hi = std::min(nbits, lo + 64);
        uint64_t word = 0;
        for (int64_t bit = lo; bit < hi; ++bit) word |= static_cast<uint64_t>(row[bit] != 0) << (bit - lo);
        dst[i * w + k] = word;
      }
    }
  });
  return out;
}

}  // namespace kernels
}  // namespace sozai
