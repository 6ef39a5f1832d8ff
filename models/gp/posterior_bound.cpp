#include "models/gp/posterior_bound.h"

#include "common/error.h"
#include "kernels/kernel_matrix.h"
#include "models/gp/covariance.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace sozai {

namespace {
/// Pivoting stops when the largest residual variance falls below this share
/// of the outputscale: the rest is rounding, and K_PP would be singular.
constexpr double kResidualFloor = 1e-9;
constexpr double kEps = std::numeric_limits<double>::epsilon();
}  // namespace

PosteriorBound::PosteriorBound(const ExactGP& gp, int64_t rank) : gp_(&gp) {
  SOZAI_CHECK(gp.train_inputs().defined() && gp.train_inputs().size(0) > 0,
              "PosteriorBound: the GP has no data; fit it first");
  SOZAI_CHECK(rank >= 1, "PosteriorBound: rank must be >= 1, got ", rank);
  kind_ = static_cast<int>(covariance_kind_from_string(gp.config().kernel) == CovarianceKind::RBF
                               ? kernels::KernelKind::RBF
                               : kernels::KernelKind::Matern52);
  const auto kind = static_cast<kernels::KernelKind>(kind_);
  torch::NoGradGuard no_grad;
  const auto X = gp.train_inputs().to(torch::kCPU, torch::kFloat64).contiguous();
  const auto z = gp.train_targets().to(torch::kCPU, torch::kFloat64).reshape({-1});
  const auto& h = gp.hyperparameters();
  os_ = h.outputscale;
  ls_ = torch::tensor(h.lengthscale, torch::kFloat64);
  const double s2 = gp.latent_noise();
  const int64_t n = X.size(0);

  // The posterior mean's weights a = (K + s2 I)^-1 z, its values at the data and its RKHS norm^2 a^T K a.
  const auto K = kernels::kernel_matrix(X, X, ls_, os_, kind);  // noiseless [n, n]
  const auto eye = torch::eye(n, torch::kFloat64);
  const auto L = at::linalg_cholesky(K + s2 * eye);
  const auto a = at::cholesky_solve(z.unsqueeze(1), L).squeeze(1);
  const auto mX = K.matmul(a);
  const double norm2 = std::max(a.dot(mX).item<double>(), 0.0);

  // Greedy pivoted Cholesky of K: G G^T reproduces K on the pivots.
  const int64_t rmax = std::min(rank, n);
  auto G = torch::zeros({n, rmax}, torch::kFloat64);
  auto d = K.diagonal().clone();
  auto* dp = d.data_ptr<double>();
  std::vector<int64_t> piv;
  std::vector<bool> used(static_cast<size_t>(n), false);
  for (int64_t j = 0; j < rmax; ++j) {
    int64_t p = -1;
    for (int64_t i = 0; i < n; ++i)
      if (!used[i] && (p < 0 || dp[i] > dp[p])) p = i;
    if (p < 0 || dp[p] <= kResidualFloor * os_) break;
    auto col = K.select(1, p).clone();
    if (j > 0) col -= G.slice(1, 0, j).matmul(G[p].slice(0, 0, j));
    col /= std::sqrt(dp[p]);
    G.select(1, j).copy_(col);
    d -= col * col;
    used[p] = true;
    piv.push_back(p);
  }
  const int64_t r = static_cast<int64_t>(piv.size());
  SOZAI_ASSERT(r >= 1);
  const auto P = torch::tensor(piv, torch::kInt64);
  const auto Lnl = G.index_select(0, P).slice(1, 0, r).tril().contiguous();  // chol(K_PP)
  const auto eye_r = torch::eye(r, torch::kFloat64);
  const auto Anl = at::linalg_solve_triangular(Lnl, eye_r, /*upper=*/false);
  const auto Kpp = K.index_select(0, P).index_select(1, P);
  const auto Anoisy = at::linalg_solve_triangular(at::linalg_cholesky(Kpp + s2 * eye_r), eye_r, /*upper=*/false);
  factors_ = torch::cat({Anl, Anoisy}, 0).transpose(0, 1).contiguous();
  beta_ = Anl.matmul(mX.index_select(0, P));
  // ||m - m_P||_H^2 = norm2 - |beta_{1..q}|^2 on the first q pivots. Both squared norms carry rounding of a few
  // ulps of norm2 (times the factor's conditioning): 1e-8 covers it.
  const auto beta2 = (beta_ * beta_).cumsum(0);
  h_residual_.assign(1, std::sqrt(norm2 + 1e-8 * norm2));
  for (int64_t q = 0; q < r; ++q)
    h_residual_.push_back(std::sqrt(std::max(norm2 - beta2[q].item<double>(), 0.0) + 1e-8 * norm2));
  Xr_ = X.index_select(0, P).contiguous();
  // What the exact posterior's own rounding may move it by: its variance is os - |L^-1 k|^2 (a few ulps of os
  // per term), its mean a sum of n products bounded by os |a|_1, and a solve's relative error on a.
  slack_var_ = 1e-8 * os_;
  slack_mean_ = 64.0 * static_cast<double>(n) * kEps * os_ * a.abs().sum().item<double>() +
                1e-7 * std::sqrt(norm2 * os_);
}

void PosteriorBound::operator()(const torch::Tensor& X, torch::Tensor* mean_lo, torch::Tensor* mean_hi,
                                torch::Tensor* var_hi, int64_t pivots) const {
  torch::NoGradGuard no_grad;
  const auto dev = X.device();
  const auto Xn = gp_->normalize_inputs(X.to(torch::kFloat64)).contiguous();
  const int64_t m = Xn.size(0), all = Xr_.size(0);
  const int64_t r = pivots > 0 ? std::min(pivots, all) : all;
  // The inverse factors are triangular, so the first r pivots' factors are the leading r x r blocks.
  const auto Xr = Xr_.slice(0, 0, r).to(dev), ls = ls_.to(dev), beta = beta_.slice(0, 0, r).to(dev);
  const auto A = (r == all ? factors_
                           : torch::cat({factors_.slice(0, 0, r).slice(1, 0, r), factors_.slice(0, 0, r).slice(1, all, all + r)}, 1))
                     .to(dev)
                     .contiguous();
  const double h_residual = h_residual_[static_cast<size_t>(r)];
  *mean_lo = torch::empty({m}, Xn.options());
  *mean_hi = torch::empty({m}, Xn.options());
  *var_hi = torch::empty({m}, Xn.options());
  // Pieces of 4096 rows keep the temporaries in cache (fresh pages each block cost more than the arithmetic).
  for (int64_t s = 0; s < m; s += 4096) {
    const int64_t e = std::min(m, s + 4096);
    const auto Kr = kernels::kernel_matrix(Xn.slice(0, s, e), Xr, ls, os_, static_cast<kernels::KernelKind>(kind_));
    const auto QV = Kr.matmul(A);  // [c, 2r]: Q (noiseless) and V (noisy)
    const auto Q = QV.slice(1, 0, r), V = QV.slice(1, r, 2 * r);
    // The noiseless residual variance, with a slack for the rounding of os - |Q|^2.
    const auto resid = (os_ - (Q * Q).sum(1)).clamp_min(0.0) + 1e-10 * os_;
    const auto centre = Q.matmul(beta);
    const auto half = resid.sqrt() * h_residual + slack_mean_;
    mean_lo->slice(0, s, e).copy_(centre - half);
    mean_hi->slice(0, s, e).copy_(centre + half);
    var_hi->slice(0, s, e).copy_((os_ - (V * V).sum(1)).clamp_min(0.0) + slack_var_);
  }
}

}  // namespace sozai
