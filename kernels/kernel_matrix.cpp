#include "common/error.h"
#include "common/strings.h"
#include "kernels/kernel_matrix.h"

#include <cmath>

namespace sozai {
namespace kernels {

KernelKind kernel_kind_from_string(const std::string& name) {
  const std::string s = to_lower(name);
  if (s == "rbf" || s == "se" || s == "squared_exponential") return KernelKind::RBF;
  if (s == "matern52" || s == "matern" || s == "matern-5/2" || s == "matern5/2") return KernelKind::Matern52;
  throw InputError(str("unknown kernel '", name, "'; expected rbf or matern52"));
}

std::string to_string(KernelKind kind) { return kind == KernelKind::RBF ? "rbf" : "matern52"; }

torch::Tensor kernel_matrix(const torch::Tensor& x1, const torch::Tensor& x2, const torch::Tensor& lengthscale,
                            double outputscale, KernelKind kind) {
  SOZAI_CHECK(x1.defined() && x2.defined() && lengthscale.defined(),
              "kernel_matrix: x1, x2 and lengthscale must be defined tensors");
  SOZAI_CHECK(x1.dim() == 2, "kernel_matrix: x1 must be [n, d], got ", x1.dim(), "-D ", x1.sizes());
  SOZAI_CHECK(x2.dim() == 2, "kernel_matrix: x2 must be [m, d], got ", x2.dim(), "-D ", x2.sizes());
  const int64_t d = x1.size(1);
  SOZAI_CHECK(x2.size(1) == d, "kernel_matrix: x1 and x2 must have the same number of columns d, got ", d, " and ",
              x2.size(1));
  SOZAI_CHECK(x1.scalar_type() == torch::kFloat32 || x1.scalar_type() == torch::kFloat64,
              "kernel_matrix: x1 must be float32 or float64, got ", x1.scalar_type());
  SOZAI_CHECK(x2.scalar_type() == x1.scalar_type(), "kernel_matrix: x1 and x2 must have the same dtype, got ",
              x1.scalar_type(), " and ", x2.scalar_type());
  SOZAI_CHECK(lengthscale.dim() == 1 && (lengthscale.size(0) == d || lengthscale.size(0) == 1),
              "kernel_matrix: lengthscale must be [d] = [", d, "] or [1], got ", lengthscale.sizes());
  SOZAI_CHECK(lengthscale.is_floating_point(), "kernel_matrix: lengthscale must be floating point, got ",
              lengthscale.scalar_type());
  SOZAI_CHECK_T(DeviceError, x1.device() == x2.device() && x1.device() == lengthscale.device(),
                "kernel_matrix: x1, x2 and lengthscale must be on the same device, got ", x1.device(), ", ",
                x2.device(), " and ", lengthscale.device());
  SOZAI_CHECK(std::isfinite(outputscale) && outputscale > 0.0,
              "kernel_matrix: outputscale must be positive and finite, got ", outputscale);
  // Checked in the dtype the kernel uses: a float64 lengthscale of 1e-50
  // is 0 in float32.
  const auto ls = lengthscale.to(x1.scalar_type()).contiguous();
  const auto ls_host = ls.to(torch::kCPU, torch::kFloat64);
  const double* lv = ls_host.data_ptr<double>();
  for (int64_t k = 0; k < ls_host.numel(); ++k)
    SOZAI_CHECK(std::isfinite(lv[k]) && lv[k] > 0.0, "kernel_matrix: lengthscale must be positive and finite in ",
                x1.scalar_type(), ", got ", lv[k], " at index ", k);
  if (x1.size(0) == 0 || x2.size(0) == 0) return torch::empty({x1.size(0), x2.size(0)}, x1.options());
  if (x1.is_cuda()) {
#ifdef SOZAI_WITH_CUDA
    return kernel_matrix_cuda(x1.contiguous(), x2.contiguous(), ls, outputscale, kind);
#else
    throw DeviceError("kernel_matrix: tensors are on a CUDA device but sozai was built without CUDA "
                      "(configure with -DSOZAI_WITH_CUDA=ON)");
#endif
  }
  SOZAI_CHECK_T(DeviceError, x1.is_cpu(), "kernel_matrix: unsupported device ", x1.device());
  return kernel_matrix_cpu(x1.contiguous(), x2.contiguous(), ls, outputscale, kind);
}

torch::Tensor pack_bits(const torch::Tensor& bits) {
  SOZAI_CHECK(bits.defined(), "pack_bits: bits must be a defined tensor");
  SOZAI_CHECK(bits.dim() == 2, "pack_bits: bits must be [n, nbits], got ", bits.dim(), "-D ", bits.sizes());
  SOZAI_CHECK(bits.scalar_type() == torch::kBool || bits.scalar_type() == torch::kUInt8,
              "pack_bits: bits must be bool or uint8, got ", bits.scalar_type());
  if (bits.is_cpu()) return pack_bits_cpu(bits.contiguous());
  SOZAI_CHECK_T(DeviceError, bits.is_cuda(), "pack_bits: unsupported device ", bits.device());
  return pack_bits_cpu(bits.to(torch::kCPU).contiguous()).to(bits.device());
}

torch::Tensor tanimoto(const torch::Tensor& a, const torch::Tensor& b) {
  SOZAI_CHECK(a.defined() && b.defined(), "tanimoto: a and b must be defined tensors");
  SOZAI_CHECK(a.dim() == 2, "tanimoto: a must be [n, words], got ", a.dim(), "-D ", a.sizes());
  SOZAI_CHECK(b.dim() == 2, "tanimoto: b must be [m, words], got ", b.dim(), "-D ", b.sizes());
  SOZAI_CHECK(a.scalar_type() == torch::kInt64 && b.scalar_type() == torch::kInt64,
              "tanimoto: a and b must be int64 words from pack_bits, got ", a.scalar_type(), " and ",
              b.scalar_type());
  SOZAI_CHECK(a.size(1) == b.size(1), "tanimoto: a and b must have the same number of words, got ", a.size(1),
              " and ", b.size(1));
  SOZAI_CHECK_T(DeviceError, a.device() == b.device(), "tanimoto: a and b must be on the same device, got ",
                a.device(), " and ", b.device());
  if (a.size(0) == 0 || b.size(0) == 0)
    return torch::empty({a.size(0), b.size(0)}, a.options().dtype(torch::kFloat32));
  if (a.is_cuda()) {
#ifdef SOZAI_WITH_CUDA
    return tanimoto_cuda(a.contiguous(), b.contiguous());
#else
    throw DeviceError("tanimoto: tensors are on a CUDA device but sozai was built without CUDA "
                      "(configure with -DSOZAI_WITH_CUDA=ON)");
#endif
  }
  SOZAI_CHECK_T(DeviceError, a.is_cpu(), "tanimoto: unsupported device ", a.device());
  return tanimoto_cpu(a.contiguous(), b.contiguous());
}

}  // namespace kernels
}  // namespace sozai
