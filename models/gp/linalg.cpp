#include <sozai/core/common/error.h>
#include <sozai/models/gp/linalg.h>

#include <ATen/ATen.h>

namespace sozai {

namespace {
/// Jitter ladder (absolute, latent units) tried when K is not numerically PD.
const double kJitters[] = {0.0, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4};
}  // namespace

CholeskyFactor cholesky_with_jitter(const torch::Tensor& K, const char* what) {
  const auto n = K.size(0);
  auto eye = torch::eye(n, K.options().requires_grad(false));
  for (double j : kJitters) {
    auto res = at::linalg_cholesky_ex(j > 0 ? K + j * eye : K);
    if (std::get<1>(res).item<int64_t>() == 0) return {std::get<0>(res), j};
  }
  throw FittingError(str(what, " of ", n, " points is not positive definite even with jitter ",
                         kJitters[sizeof(kJitters) / sizeof(double) - 1],
                         "; check for duplicated inputs with different targets or non-finite values"));
}

}  // namespace sozai
