#include "kernels/acquisition.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

namespace sozai {
namespace kernels {

torch::Tensor analytic_acquisition_cpu(const torch::Tensor& mean, const torch::Tensor& variance,
                                       const AcquisitionParams& params) {
  auto out = torch::empty_like(mean);
  const int64_t n = mean.numel();
  AT_DISPATCH_FLOATING_TYPES(mean.scalar_type(), "analytic_acquisition_cpu", [&] {
    const scalar_t* m = mean.data_ptr<scalar_t>();
    const scalar_t* v = variance.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        o[i] = static_cast<scalar_t>(impl::acquisition_value(m[i], v[i], params));
      }
    });
  });
  return out;
}

}  // namespace kernels
}  // namespace sozai
