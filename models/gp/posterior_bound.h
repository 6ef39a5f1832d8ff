#pragma once
/// Cheap enclosures of an ExactGP's latent posterior, for screens that keep
/// only the best few of millions of candidates: most can be dismissed from
/// bounds that cost O(r^2) each instead of the exact O(n^2) variance.
///
/// From the first r points P of a pivoted Cholesky order of the noiseless
/// kernel matrix (greedy, largest residual variance first):
///  - variance: conditioning on fewer observations never lowers the
///    posterior variance, so var(x) <= k(x,x) - k_P(x)^T (K_PP + s2 I)^-1 k_P(x);
///  - mean: the posterior mean m is in the kernel's RKHS, m = sum_i a_i k(., x_i).
///    Its projection m_P onto span{k(., x_p) : p in P} interpolates m on P,
///    m_P(x) = k_P(x)^T K_PP^-1 m(X_P), and by Cauchy-Schwarz
///    |m(x) - m_P(x)| <= ||m - m_P||_H sqrt(k(x,x) - k_P(x)^T K_PP^-1 k_P(x)),
///    with ||m - m_P||_H^2 = a^T K a - m(X_P)^T K_PP^-1 m(X_P).
/// Both bounds are exact in real arithmetic; a slack covers the rounding of
/// the bound and of the exact posterior it is compared with. With the smooth
/// kernels fitted to composition data, r = 32 dismisses over 99 % of a grid.

#include "models/gp/exact_gp.h"

#include <vector>
#include <torch/types.h>

namespace sozai {

class PosteriorBound {
 public:
  /// The GP's training data and hyperparameters (it must be fitted, with a
  /// "matern52" or "rbf" kernel); at most `rank` pivots, fewer when the
  /// noiseless kernel matrix is spanned to rounding before that.
  PosteriorBound(const ExactGP& gp, int64_t rank);

  /// For inputs X [m, d] in the GP's own (unnormalised) units: latent mean
  /// bounds lo <= mean(x) <= hi and var_hi >= variance(x), each [m] float64
  /// on X's device. pivots > 0 uses only the first `pivots` of them: the
  /// pivoted factors are nested, so fewer pivots give looser bounds that are
  /// just as valid, for about (pivots / rank())^2 of the cost (a screen
  /// tries a few pivots first and the rest on what survives).
  void operator()(const torch::Tensor& X, torch::Tensor* mean_lo, torch::Tensor* mean_hi, torch::Tensor* var_hi,
                  int64_t pivots = 0) const;

  /// The pivots used.
  int64_t rank() const { return Xr_.size(0); }

 private:
  const ExactGP* gp_;
  torch::Tensor Xr_;     ///< [r, d] normalised pivot inputs
  /// [r, 2r]: the transposed inverses of the Cholesky factors of K_PP
  /// (noiseless) and of K_PP + s2 I, side by side, so one product with k_P
  /// gives both.
  torch::Tensor factors_;
  torch::Tensor beta_;   ///< [r] (noiseless inverse factor) m(X_P)
  torch::Tensor ls_;
  double os_ = 1.0;
  std::vector<double> h_residual_;  ///< [r + 1]: ||m - m_P||_H on the first q pivots, with its slack
  double slack_mean_ = 0.0, slack_var_ = 0.0;
  int kind_ = 1;  // kernels::KernelKind
};

}  // namespace sozai
