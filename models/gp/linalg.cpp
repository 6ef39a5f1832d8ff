#include "common/error.h"
#include "models/gp/linalg.h"

#include <ATen/ATen.h>
#include <torch/optim/lbfgs.h>

#include <cmath>
#include <limits>

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

torch::Tensor gaussian_log_marginal(const torch::Tensor& L, const torch::Tensor& z) {
  constexpr double kLog2Pi = 1.8378770664093454836;
  auto alpha = at::cholesky_solve(z.unsqueeze(1), L);
  const double n = static_cast<double>(z.size(0));
  return -0.5 * (z.unsqueeze(1) * alpha).sum() - L.diagonal().log().sum() - 0.5 * n * kLog2Pi;
}

std::vector<double> minimise_multistart(const std::function<torch::Tensor(const torch::Tensor&)>& loss,
                                        const std::vector<std::vector<double>>& starts, const std::vector<double>& lo,
                                        const std::vector<double>& hi, int max_iter, const torch::TensorOptions& opts,
                                        std::string* last_error) {
  auto lo_t = torch::tensor(lo, torch::kFloat64).to(opts);
  auto hi_t = torch::tensor(hi, torch::kFloat64).to(opts);
  auto clamped_loss = [&](const torch::Tensor& raw) { return loss(torch::max(torch::min(raw, hi_t), lo_t)); };
  double best = std::numeric_limits<double>::infinity();
  std::vector<double> best_raw;
  for (const auto& s : starts) {
    auto raw = torch::tensor(s, torch::kFloat64).to(opts).requires_grad_(true);
    try {
      torch::optim::LBFGS opt({raw}, torch::optim::LBFGSOptions(1.0)
                                         .max_iter(max_iter)
                                         .tolerance_grad(1e-7)
                                         .tolerance_change(1e-10)
                                         .history_size(20)
                                         .line_search_fn("strong_wolfe"));
      auto closure = [&]() -> torch::Tensor {
        opt.zero_grad();
        auto l = clamped_loss(raw);
        l.backward();
        return l;
      };
      opt.step(closure);
      double value;
      {
        torch::NoGradGuard no_grad;
        value = clamped_loss(raw).item<double>();
      }
      if (std::isfinite(value) && value < best) {
        best = value;
        auto c = torch::max(torch::min(raw.detach(), hi_t), lo_t).to(torch::kCPU, torch::kFloat64).contiguous();
        best_raw.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
      }
    } catch (const FittingError& e) {
      if (last_error) *last_error = e.what();
    }
  }
  return best_raw;
}

}  // namespace sozai
