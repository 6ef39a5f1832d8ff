// CUDA segment and scatter reductions. Segments: one thread per output
// element walks its segment (neighbouring threads read neighbouring
// features, so loads coalesce). Scatter: one thread per source element with
// atomics; max is a compare-and-swap maximum followed by a pass that picks
// the lowest row holding it, so the argmax matches the CPU reference.
#include "kernels/cuda_check.cuh"
#include "kernels/segment_cuda_launch.h"

namespace sozai {
namespace kernels {
namespace {

constexpr int kThreads = 256;

inline int blocks_for(int64_t n) {
  const int64_t wanted = (n + kThreads - 1) / kThreads;
  return static_cast<int>(wanted < 65535 ? wanted : 65535);
}

template <typename T>
__global__ void segment_csr_kernel(const T* __restrict__ src, const int64_t* __restrict__ ptr, T* __restrict__ out,
                                   int64_t* __restrict__ arg, int64_t E, int64_t F, int64_t B, Reduce reduce) {
  const int64_t n = B * F;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t b = i / F, f = i % F;
    impl::Reducer<T> r(reduce);
    for (int64_t e = ptr[b]; e < ptr[b + 1]; ++e) r.update(src[e * F + f], e);
    out[i] = r.result();
    if (arg != nullptr) arg[i] = r.result_arg(E);
  }
}

__device__ inline void atomic_max(float* address, float v) {
  int* a = reinterpret_cast<int*>(address);
  int old = *a, assumed;
  do {
    assumed = old;
    if (!impl::max_replaces(v, __int_as_float(assumed))) return;
    old = atomicCAS(a, assumed, __float_as_int(v));
  } while (assumed != old);
}

__device__ inline void atomic_max(double* address, double v) {
  auto* a = reinterpret_cast<unsigned long long*>(address);
  unsigned long long old = *a, assumed;
  do {
    assumed = old;
    if (!impl::max_replaces(v, __longlong_as_double(static_cast<long long>(assumed)))) return;
    old = atomicCAS(a, assumed, static_cast<unsigned long long>(__double_as_longlong(v)));
  } while (assumed != old);
}

template <typename T>
__global__ void scatter_accumulate_kernel(const T* __restrict__ src, const int64_t* __restrict__ index,
                                          T* __restrict__ out, int64_t* __restrict__ count, int64_t E, int64_t F,
                                          Reduce reduce) {
  const int64_t n = E * F;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t e = i / F, f = i % F;
    const int64_t d = index[e];
    if (reduce == Reduce::Max) {
      atomic_max(&out[d * F + f], src[i]);
    } else {
      atomicAdd(&out[d * F + f], src[i]);
      if (count != nullptr && f == 0) {
        atomicAdd(reinterpret_cast<unsigned long long*>(&count[d]), 1ull);
      }
    }
  }
}

template <typename T>
__global__ void scatter_argmax_kernel(const T* __restrict__ src, const int64_t* __restrict__ index,
                                      const T* __restrict__ out, int64_t* __restrict__ arg, int64_t E, int64_t F) {
  const int64_t n = E * F;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t e = i / F, f = i % F;
    const int64_t j = index[e] * F + f;
    const T v = src[i], m = out[j];
    if (v == m || (v != v && m != m)) {
      atomicMin(reinterpret_cast<unsigned long long*>(&arg[j]), static_cast<unsigned long long>(e));
    }
  }
}

/// Rows nothing was scattered into: 0 (max: still -inf with argmax E);
/// mean: divide by the count.
template <typename T>
__global__ void scatter_finish_kernel(T* __restrict__ out, const int64_t* __restrict__ arg,
                                      const int64_t* __restrict__ count, int64_t E, int64_t F, int64_t D,
                                      Reduce reduce) {
  const int64_t n = D * F;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    if (reduce == Reduce::Max) {
      if (arg[i] == E) out[i] = T(0);
    } else if (reduce == Reduce::Mean) {
      const int64_t c = count[i / F];
      if (c > 0) out[i] = out[i] / static_cast<T>(c);
    }
  }
}

template <typename T>
void scatter_typed(const T* src, const int64_t* index, T* out, int64_t* arg, int64_t* count, int64_t E, int64_t F,
                   int64_t D, Reduce reduce, cudaStream_t s) {
  if (E * F > 0) {
    scatter_accumulate_kernel<T><<<blocks_for(E * F), kThreads, 0, s>>>(src, index, out, count, E, F, reduce);
    SOZAI_CUDA_CHECK_LAUNCH();
    if (reduce == Reduce::Max) {
      scatter_argmax_kernel<T><<<blocks_for(E * F), kThreads, 0, s>>>(src, index, out, arg, E, F);
      SOZAI_CUDA_CHECK_LAUNCH();
    }
  }
  if (reduce != Reduce::Sum && D * F > 0) {
    scatter_finish_kernel<T><<<blocks_for(D * F), kThreads, 0, s>>>(out, arg, count, E, F, D, reduce);
    SOZAI_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace

void launch_segment_csr(const void* src, const int64_t* ptr, void* out, int64_t* arg, int64_t E, int64_t F,
                        int64_t B, bool is_double, Reduce reduce, void* stream) {
  if (B * F == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (is_double) {
    segment_csr_kernel<double><<<blocks_for(B * F), kThreads, 0, s>>>(
        static_cast<const double*>(src), ptr, static_cast<double*>(out), arg, E, F, B, reduce);
  } else {
    segment_csr_kernel<float><<<blocks_for(B * F), kThreads, 0, s>>>(
        static_cast<const float*>(src), ptr, static_cast<float*>(out), arg, E, F, B, reduce);
  }
  SOZAI_CUDA_CHECK_LAUNCH();
}

void launch_scatter(const void* src, const int64_t* index, void* out, int64_t* arg, int64_t* count, int64_t E,
                    int64_t F, int64_t D, bool is_double, Reduce reduce, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  if (is_double) {
    scatter_typed<double>(static_cast<const double*>(src), index, static_cast<double*>(out), arg, count, E, F, D,
                          reduce, s);
  } else {
    scatter_typed<float>(static_cast<const float*>(src), index, static_cast<float*>(out), arg, count, E, F, D,
                         reduce, s);
  }
}

}  // namespace kernels
}  // namespace sozai
