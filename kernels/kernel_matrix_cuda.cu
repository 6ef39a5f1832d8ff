// CUDA kernel matrix and Tanimoto similarity. One thread block computes a
// 32 x 32 tile of the output with 32 x 8 threads, 4 rows per thread; the
// inputs pass through shared memory in chunks of 16 features (or 64-bit
// words), so each input element is read from global memory once per tile
// and the lengthscale division happens once per element and tile.
#include "kernels/cuda_check.cuh"
#include "kernels/kernel_matrix_cuda_launch.h"

namespace sozai {
namespace kernels {
namespace {

constexpr int kTile = 32;                           // output tile edge = blockDim.x
constexpr int kRowsPerThread = 4;
constexpr int kThreadsY = kTile / kRowsPerThread;   // blockDim.y
constexpr int kThreads = kTile * kThreadsY;
constexpr int kChunk = 16;                          // features / words per shared-memory stage
constexpr int64_t kMaxGridY = 65535;

// As[r][c]: a warp (fixed threadIdx.y) reads one element, a broadcast.
// Bs[c][r]: a warp reads 32 consecutive elements; the +1 keeps the
// transposing store free of bank conflicts.
template <typename T>
__global__ void kernel_matrix_kernel(const T* __restrict__ x1, const T* __restrict__ x2, const T* __restrict__ ls,
                                     int64_t ls_stride, T* __restrict__ out, int64_t n, int64_t m, int64_t d,
                                     T outputscale, KernelKind kind) {
  __shared__ T As[kTile][kChunk + 1];
  __shared__ T Bs[kChunk][kTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kTile + tx;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * kTile;
  // Grid-stride over row tiles: gridDim.y is capped at 65535.
  for (int64_t i0 = static_cast<int64_t>(blockIdx.y) * kTile; i0 < n; i0 += static_cast<int64_t>(gridDim.y) * kTile) {
    T acc[kRowsPerThread];
#pragma unroll
    for (int q = 0; q < kRowsPerThread; ++q) acc[q] = T(0);
    for (int64_t k0 = 0; k0 < d; k0 += kChunk) {
      for (int e = tid; e < kTile * kChunk; e += kThreads) {
        const int r = e / kChunk, c = e % kChunk;
        const int64_t k = k0 + c, gi = i0 + r, gj = j0 + r;
        // Padding (past n, m or d) is 0 in both: a zero difference.
        T av = T(0), bv = T(0);
        if (k < d) {
          const T l = ls[k * ls_stride];
          if (gi < n) av = x1[gi * d + k] / l;
          if (gj < m) bv = x2[gj * d + k] / l;
        }
        As[r][c] = av;
        Bs[c][r] = bv;
      }
      __syncthreads();
#pragma unroll
      for (int c = 0; c < kChunk; ++c) {
        const T b = Bs[c][tx];
#pragma unroll
        for (int q = 0; q < kRowsPerThread; ++q) {
          const T diff = As[ty + q * kThreadsY][c] - b;
          acc[q] += diff * diff;
        }
      }
      __syncthreads();
    }
    const int64_t gj = j0 + tx;
#pragma unroll
    for (int q = 0; q < kRowsPerThread; ++q) {
      const int64_t gi = i0 + ty + q * kThreadsY;
      if (gi < n && gj < m) out[gi * m + gj] = impl::kernel_value(acc[q], outputscale, kind);
    }
  }
}

__global__ void tanimoto_kernel(const unsigned long long* __restrict__ a, const unsigned long long* __restrict__ b,
                                float* __restrict__ out, int64_t n, int64_t m, int64_t w) {
  __shared__ unsigned long long As[kTile][kChunk + 1];
  __shared__ unsigned long long Bs[kChunk][kTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kTile + tx;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * kTile;
  for (int64_t i0 = static_cast<int64_t>(blockIdx.y) * kTile; i0 < n; i0 += static_cast<int64_t>(gridDim.y) * kTile) {
    int both[kRowsPerThread], any[kRowsPerThread];
#pragma unroll
    for (int q = 0; q < kRowsPerThread; ++q) both[q] = any[q] = 0;
    for (int64_t k0 = 0; k0 < w; k0 += kChunk) {
      for (int e = tid; e < kTile * kChunk; e += kThreads) {
        const int r = e / kChunk, c = e % kChunk;
        const int64_t k = k0 + c, gi = i0 + r, gj = j0 + r;
        // Padding words are 0: they add nothing to either count.
        As[r][c] = (k < w && gi < n) ? a[gi * w + k] : 0ull;
        Bs[c][r] = (k < w && gj < m) ? b[gj * w + k] : 0ull;
      }
      __syncthreads();
#pragma unroll
      for (int c = 0; c < kChunk; ++c) {
        const unsigned long long bv = Bs[c][tx];
#pragma unroll
        for (int q = 0; q < kRowsPerThread; ++q) {
          const unsigned long long av = As[ty + q * kThreadsY][c];
          both[q] += __popcll(av & bv);
          any[q] += __popcll(av | bv);
        }
      }
      __syncthreads();
    }
    const int64_t gj = j0 + tx;
#pragma unroll
    for (int q = 0; q < kRowsPerThread; ++q) {
      const int64_t gi = i0 + ty + q * kThreadsY;
      if (gi < n && gj < m) out[gi * m + gj] = impl::tanimoto_value(both[q], any[q]);
    }
  }
}

dim3 tile_grid(int64_t n, int64_t m) {
  const int64_t gx = (m + kTile - 1) / kTile;
  const int64_t gy = (n + kTile - 1) / kTile;
  return dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy < kMaxGridY ? gy : kMaxGridY));
}

}  // namespace

void launch_kernel_matrix(const void* x1, const void* x2, const void* lengthscale, int64_t ls_stride, void* out,
                          int64_t n, int64_t m, int64_t d, double outputscale, KernelKind kind, bool is_double,
                          void* stream) {
  if (n == 0 || m == 0) return;
  const dim3 block(kTile, kThreadsY);
  const dim3 grid = tile_grid(n, m);
  auto s = static_cast<cudaStream_t>(stream);
  if (is_double) {
    kernel_matrix_kernel<double><<<grid, block, 0, s>>>(
        static_cast<const double*>(x1), static_cast<const double*>(x2), static_cast<const double*>(lengthscale),
        ls_stride, static_cast<double*>(out), n, m, d, outputscale, kind);
  } else {
    kernel_matrix_kernel<float><<<grid, block, 0, s>>>(
        static_cast<const float*>(x1), static_cast<const float*>(x2), static_cast<const float*>(lengthscale),
        ls_stride, static_cast<float*>(out), n, m, d, static_cast<float>(outputscale), kind);
  }
  SOZAI_CUDA_CHECK_LAUNCH();
}

void launch_tanimoto(const uint64_t* a, const uint64_t* b, float* out, int64_t n, int64_t m, int64_t w,
                     void* stream) {
  if (n == 0 || m == 0) return;
  const dim3 block(kTile, kThreadsY);
  tanimoto_kernel<<<tile_grid(n, m), block, 0, static_cast<cudaStream_t>(stream)>>>(
      reinterpret_cast<const unsigned long long*>(a), reinterpret_cast<const unsigned long long*>(b), out, n, m, w);
  SOZAI_CUDA_CHECK_LAUNCH();
}

}  // namespace kernels
}  // namespace sozai
