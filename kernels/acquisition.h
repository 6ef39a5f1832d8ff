#pragma once
/// Elementwise analytic acquisition values from a posterior mean and
/// variance: EI, LogEI, UCB and PI. CPU reference and CUDA implementation,
/// chosen by the tensors' device.

#include "kernels/acquisition_impl.h"

#include <string>
#include <torch/types.h>

namespace sozai {
namespace kernels {

/// Checks what every acquisition kernel needs (an analytic kind, defined
/// tensors of equal shape, float32/float64, one device; beta >= 0; finite
/// best_f unless UCB);
/// `op` names the caller in the error.
void validate_acquisition_inputs(const torch::Tensor& mean, const torch::Tensor& variance,
                                 const AcquisitionParams& params, const char* op);

/// mean: [*] float32/float64; variance: same shape, dtype and device.
/// Returns [*] acquisition values (larger is better), same dtype/device.
/// Validates once here, then calls analytic_acquisition_cpu or _cuda.
torch::Tensor analytic_acquisition(const torch::Tensor& mean, const torch::Tensor& variance,
                                   const AcquisitionParams& params);

torch::Tensor analytic_acquisition_cpu(const torch::Tensor& mean, const torch::Tensor& variance,
                                       const AcquisitionParams& params);
#ifdef SOZAI_WITH_CUDA
torch::Tensor analytic_acquisition_cuda(const torch::Tensor& mean, const torch::Tensor& variance,
                                        const AcquisitionParams& params);
#endif

}  // namespace kernels
}  // namespace sozai
