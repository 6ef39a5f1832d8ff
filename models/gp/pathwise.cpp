#include "common/error.h"
#include "models/gp/covariance.h"
#include "models/gp/linalg.h"
#include "models/gp/pathwise.h"

#include <ATen/ATen.h>

#include <cmath>
#include <optional>
#include <vector>

namespace sozai {

GPPathSampler::GPPathSampler(const ExactGP& gp, int64_t paths, uint64_t seed, int64_t features, int64_t first_path)
    : gp_(gp) {
  SOZAI_CHECK(first_path >= 0, "GPPathSampler: first_path must be >= 0, got ", first_path);
  SOZAI_CHECK(paths >= 1 && features >= 1, "GPPathSampler: paths and features must be >= 1, got ", paths, ", ",
              features);
  const auto& Xn = gp.train_inputs();
  SOZAI_CHECK(Xn.defined() && Xn.size(0) >= 1, "GPPathSampler: the GP is not fitted");
  const auto opts = Xn.options();
  const int64_t d = Xn.size(1), n = Xn.size(0);
  const auto& h = gp.hyperparameters();
  ls_ = torch::tensor(h.lengthscale, torch::kFloat64).to(opts);
  os_ = torch::tensor(h.outputscale, torch::kFloat64).to(opts);
  feature_scale_ = std::sqrt(2.0 * h.outputscale / static_cast<double>(features));

  auto gen = at::detail::createCPUGenerator(seed);
  auto cpu = torch::dtype(torch::kFloat64);
  // Spectral frequencies of the unit-lengthscale kernel.
  auto omega = at::normal(0.0, 1.0, {d, features}, gen, cpu);
  if (covariance_kind_from_string(gp.config().kernel) == CovarianceKind::Matern52) {
    // Student-t with 2 nu = 5 degrees of freedom: z / sqrt(chi2_5 / 5).
    auto chi2 = at::normal(0.0, 1.0, {5, features}, gen, cpu).pow(2).sum(0);
    omega = omega / (chi2 / 5.0).sqrt().unsqueeze(0);
  }
  omega_ = omega.to(opts);
  phase_ = (at::rand({features}, gen, cpu) * (2.0 * M_PI)).to(opts);
  // Each path's weights and noise come from its own generator, so path j
  // is the same whatever the number of paths drawn.
  std::vector<torch::Tensor> w, e;
  for (int64_t j = 0; j < paths; ++j) {
    auto gj = at::detail::createCPUGenerator(seed ^ (0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(first_path + j + 1)));
    w.push_back(at::normal(0.0, 1.0, {features}, gj, cpu));
    e.push_back(at::normal(0.0, 1.0, {n}, gj, cpu));
  }
  W_ = torch::stack(w, 1).to(opts);
  auto eps = torch::stack(e, 1).to(opts);

  // Matheron's rule: the update weights (K + s2 I)^-1 (z - f_prior(X) - e).
  const double s2 = gp.latent_noise();
  auto K = covariance(covariance_kind_from_string(gp.config().kernel), Xn, Xn, ls_, os_);
  K = K + s2 * torch::eye(n, opts);
  auto L = cholesky_with_jitter(K, "GP covariance").L;
  auto resid = gp.train_targets().unsqueeze(1) - prior(Xn) - std::sqrt(s2) * eps;
  V_ = at::cholesky_solve(resid, L);
}

torch::Tensor GPPathSampler::prior(const torch::Tensor& Xn) const {
  auto phi = torch::cos(torch::matmul(Xn / ls_, omega_) + phase_) * feature_scale_;  // [n, D]
  return torch::matmul(phi, W_);
}

torch::Tensor GPPathSampler::operator()(const torch::Tensor& X) const {
  std::optional<torch::NoGradGuard> no_grad;  // differentiable in X when X requires grad
  if (!X.requires_grad()) no_grad.emplace();
  auto Xn = gp_.normalize_inputs(X).to(omega_.options());
  auto Kx = covariance(covariance_kind_from_string(gp_.config().kernel), Xn, gp_.train_inputs(), ls_, os_);
  return (prior(Xn) + torch::matmul(Kx, V_)).t();
}

}  // namespace sozai
