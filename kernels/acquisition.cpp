#include "common/error.h"
#include "kernels/acquisition.h"

#include <cctype>

namespace sozai {
namespace kernels {

void validate_acquisition_inputs(const torch::Tensor& mean, const torch::Tensor& variance,
                                 const AcquisitionParams& params, const char* op) {
  SOZAI_CHECK(is_analytic(params.kind), op, ": the kernels evaluate ei, logei, ucb and pi, not acquisition kind ",
              static_cast<int>(params.kind));
  SOZAI_CHECK(mean.defined() && variance.defined(), op, ": mean and variance must be defined tensors");
  SOZAI_CHECK(mean.sizes() == variance.sizes(), op, ": mean and variance must have the same shape, got ",
              mean.sizes(), " and ", variance.sizes());
  SOZAI_CHECK(mean.scalar_type() == variance.scalar_type(),
              op, ": mean and variance must have the same dtype, got ", mean.scalar_type(), " and ",
              variance.scalar_type());
  SOZAI_CHECK(mean.scalar_type() == torch::kFloat64 || mean.scalar_type() == torch::kFloat32,
              op, ": expected float32 or float64 tensors, got ", mean.scalar_type());
  SOZAI_CHECK_T(DeviceError, mean.device() == variance.device(),
                op, ": mean and variance must be on the same device, got ", mean.device(), " and ",
                variance.device());
  SOZAI_CHECK(params.kind != AcquisitionKind::UCB || params.beta >= 0.0,
              op, ": UCB beta must be >= 0, got ", params.beta);
  SOZAI_CHECK(std::isfinite(params.best_f) || params.kind == AcquisitionKind::UCB,
              op, ": best_f must be finite, got ", params.best_f);
}

torch::Tensor analytic_acquisition(const torch::Tensor& mean, const torch::Tensor& variance,
                                   const AcquisitionParams& params) {
  validate_acquisition_inputs(mean, variance, params, "analytic_acquisition");
  if (mean.is_cuda()) {
#ifdef SOZAI_WITH_CUDA
    return analytic_acquisition_cuda(mean.contiguous(), variance.contiguous(), params);
#else
    throw DeviceError("analytic_acquisition: tensors are on a CUDA device but sozai was built without CUDA "
                      "(configure with -DSOZAI_WITH_CUDA=ON)");
#endif
  }
  SOZAI_CHECK_T(DeviceError, mean.is_cpu(), "analytic_acquisition: unsupported device ", mean.device());
  return analytic_acquisition_cpu(mean.contiguous(), variance.contiguous(), params);
}

}  // namespace kernels
}  // namespace sozai
