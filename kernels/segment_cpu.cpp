// CPU reference of the segment and scatter reductions. Segments are
// independent, so they run in parallel; scatter rows collide, so scatter
// splits the feature columns between threads instead (every thread walks
// all rows but writes only its own columns: no atomics, no races).
#include "kernels/segment.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

namespace sozai {
namespace kernels {
namespace {

template <typename T>
void segment_rows(const T* src, const int64_t* ptr, T* out, int64_t* arg, int64_t b, int64_t F, int64_t E,
                  Reduce reduce) {
  const int64_t begin = ptr[b], end = ptr[b + 1];
  T* o = out + b * F;
  if (reduce == Reduce::Max) {
    int64_t* a = arg + b * F;
    if (begin == end) {
      std::fill(o, o + F, T(0));
      std::fill(a, a + F, E);
      return;
    }
    std::copy(src + begin * F, src + (begin + 1) * F, o);
    std::fill(a, a + F, begin);
    for (int64_t e = begin + 1; e < end; ++e) {
      const T* s = src + e * F;
      // Branch-free selects, so the loop vectorises.
      for (int64_t f = 0; f < F; ++f) {
        const bool take = impl::max_replaces(s[f], o[f]);
        o[f] = take ? s[f] : o[f];
        a[f] = take ? e : a[f];
      }
    }
    return;
  }
  std::fill(o, o + F, T(0));
  for (int64_t e = begin; e < end; ++e) {
    const T* s = src + e * F;
    for (int64_t f = 0; f < F; ++f) o[f] += s[f];
  }
  if (reduce == Reduce::Mean && end > begin) {
    const T inv = T(1) / static_cast<T>(end - begin);
    for (int64_t f = 0; f < F; ++f) o[f] *= inv;
  }
}

}  // namespace

std::tuple<torch::Tensor, torch::Tensor> segment_csr_cpu(const torch::Tensor& src, const torch::Tensor& ptr,
                                                         Reduce reduce) {
  const int64_t E = src.size(0), F = src.size(1), B = ptr.numel() - 1;
  auto out = torch::empty({B, F}, src.options());
  torch::Tensor arg;
  if (reduce == Reduce::Max) arg = torch::empty({B, F}, src.options().dtype(torch::kInt64));
  const int64_t* p = ptr.data_ptr<int64_t>();
  int64_t* a = arg.defined() ? arg.data_ptr<int64_t>() : nullptr;
  // Grain: enough segments that a task touches ~32k values.
  const int64_t avg = B > 0 ? std::max<int64_t>(1, E * F / B) : 1;
  const int64_t grain = std::max<int64_t>(1, 32768 / avg);
  AT_DISPATCH_FLOATING_TYPES(src.scalar_type(), "segment_csr_cpu", [&] {
    const scalar_t* s = src.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) segment_rows(s, p, o, a, b, F, E, reduce);
    });
  });
  return {out, arg};
}

std::tuple<torch::Tensor, torch::Tensor> scatter_cpu(const torch::Tensor& src, const torch::Tensor& index,
                                                     int64_t dim_size, Reduce reduce) {
  const int64_t E = src.size(0), F = src.size(1), D = dim_size;
  auto out = torch::zeros({D, F}, src.options());
  torch::Tensor arg;
  if (reduce == Reduce::Max) arg = torch::full({D, F}, -1, src.options().dtype(torch::kInt64));
  const int64_t* idx = index.data_ptr<int64_t>();
  int64_t* a = arg.defined() ? arg.data_ptr<int64_t>() : nullptr;
  // Column blocks of at least 16 values (a cache line of float) per task.
  const int64_t grain = F < 32 ? F : 16;
  AT_DISPATCH_FLOATING_TYPES(src.scalar_type(), "scatter_cpu", [&] {
    const scalar_t* s = src.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    at::parallel_for(0, F, grain, [&](int64_t f0, int64_t f1) {
      if (reduce == Reduce::Max) {
        for (int64_t e = 0; e < E; ++e) {
          const scalar_t* se = s + e * F;
          scalar_t* od = o + idx[e] * F;
          int64_t* ad = a + idx[e] * F;
          for (int64_t f = f0; f < f1; ++f) {
            const bool take = ad[f] < 0 || impl::max_replaces(se[f], od[f]);
            od[f] = take ? se[f] : od[f];
            ad[f] = take ? e : ad[f];
          }
        }
        for (int64_t d = 0; d < D; ++d) {
          for (int64_t f = f0; f < f1; ++f) {
            if (a[d * F + f] < 0) a[d * F + f] = E;  // empty: value stays 0
          }
        }
      } else {
        for (int64_t e = 0; e < E; ++e) {
          const scalar_t* se = s + e * F;
          scalar_t* od = o + idx[e] * F;
          for (int64_t f = f0; f < f1; ++f) od[f] += se[f];
        }
      }
    });
    if (reduce == Reduce::Mean) {
      std::vector<int64_t> count(static_cast<size_t>(D), 0);
      for (int64_t e = 0; e < E; ++e) ++count[static_cast<size_t>(idx[e])];
      at::parallel_for(0, D, std::max<int64_t>(1, 32768 / std::max<int64_t>(F, 1)), [&](int64_t d0, int64_t d1) {
        for (int64_t d = d0; d < d1; ++d) {
          if (count[d] == 0) continue;
          const scalar_t inv = scalar_t(1) / static_cast<scalar_t>(count[d]);
          for (int64_t f = 0; f < F; ++f) o[d * F + f] *= inv;
        }
      });
    }
  });
  return {out, arg};
}

}  // namespace kernels
}  // namespace sozai
