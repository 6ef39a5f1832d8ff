#include "kernels/cuda_check.cuh"
#include "kernels/neighbor_list_cuda_launch.h"
#include "kernels/neighbor_list_impl.h"

namespace sozai {
namespace kernels {
namespace {

/// Structure of atom i: the largest b with ptr[b] <= i (skips empty ones).
__device__ int64_t structure_of(const int64_t* ptr, int64_t batch, int64_t i) {
  int64_t lo = 0, hi = batch;  // invariant: ptr[lo] <= i < ptr[hi]
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (ptr[mid] <= i) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/// One thread per centre. FILL false: counts[i] = its number of edges;
/// FILL true: writes them from offsets[i] on, in (j, S) order. Both passes
/// run the same decisions (nl::pair_distance2, d < cutoff), so the counts
/// match the writes.
template <bool FILL>
__global__ void neighbor_search_kernel(NeighborSearchArgs args, int64_t* counts, const int64_t* offsets,
                                       int64_t* neighbor, int64_t* image, double* distance) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= args.n) return;
  const int64_t b = structure_of(args.ptr, args.batch, i);
  const double* L = args.lattices + 9 * b;
  double inv[9], h[3];
  nl::inverse3(L, inv);  // non-singular: checked by the entry point
  nl::perpendicular_heights(L, h);
  const double* pi = args.positions + 3 * i;
  double fi[3];
  nl::to_fractional(pi, inv, fi);
  bool periodic[3];
  double reach[3];
  for (int k = 0; k < 3; ++k) {
    periodic[k] = (args.periodic_mask >> k) & 1;
    reach[k] = periodic[k] ? args.cutoff / h[k] : 0.0;
  }
  int64_t count = 0;
  const int64_t out = FILL ? offsets[i] : 0;
  for (int64_t j = args.ptr[b]; j < args.ptr[b + 1]; ++j) {
    const double* pj = args.positions + 3 * j;
    double fj[3];
    nl::to_fractional(pj, inv, fj);
    int64_t lo[3], hi[3];
    for (int k = 0; k < 3; ++k) {
      if (periodic[k]) {
        nl::image_range(fj[k] - fi[k], reach[k], &lo[k], &hi[k]);
      } else {
        lo[k] = hi[k] = 0;
      }
    }
    for (int64_t s0 = lo[0]; s0 <= hi[0]; ++s0) {
      for (int64_t s1 = lo[1]; s1 <= hi[1]; ++s1) {
        for (int64_t s2 = lo[2]; s2 <= hi[2]; ++s2) {
          if (j == i && s0 == 0 && s1 == 0 && s2 == 0) continue;
          const double d = sqrt(nl::pair_distance2(pi, pj, s0, s1, s2, L));
          if (!(d < args.cutoff)) continue;
          if (FILL) {
            const int64_t e = out + count;
            neighbor[e] = j;
            image[3 * e] = s0;
            image[3 * e + 1] = s1;
            image[3 * e + 2] = s2;
            distance[e] = d;
          }
          ++count;
        }
      }
    }
  }
  if (!FILL) counts[i] = count;
}

constexpr int kThreads = 128;

int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

}  // namespace

void launch_neighbor_count(const NeighborSearchArgs& args, int64_t* counts, void* stream) {
  if (args.n == 0) return;
  neighbor_search_kernel<false><<<blocks_for(args.n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      args, counts, nullptr, nullptr, nullptr, nullptr);
  SOZAI_CUDA_CHECK_LAUNCH();
}

void launch_neighbor_fill(const NeighborSearchArgs& args, const int64_t* offsets, int64_t* neighbor,
                          int64_t* image, double* distance, void* stream) {
  if (args.n == 0) return;
  neighbor_search_kernel<true><<<blocks_for(args.n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      args, nullptr, offsets, neighbor, image, distance);
  SOZAI_CUDA_CHECK_LAUNCH();
}

}  // namespace kernels
}  // namespace sozai
