#pragma once
/// The analytic acquisitions (EI, LogEI, UCB, PI) on a single-output
/// model's latent Gaussian posterior. Batches are Kriging-believer: each
/// pick is fantasised at its posterior mean before the next (Ginsbourger et
/// al. 2010), so the posterior variance shrinks around earlier picks and a
/// batch spreads out. Over a pool the fantasies are rank-one updates of the
/// pool's posterior variances, O(N n) each instead of a refit; in a design
/// space they condition a copy of the GP.

#include "core/bo/acquisition.h"
#include "models/gp/exact_gp.h"

#include <string>

namespace sozai {

/// The analytic acquisitions in differentiable tensor ops, equal in value to
/// kernels::analytic_acquisition (LogEI through the same stable log h(z)):
/// mean, variance [n] -> [n].
torch::Tensor analytic_acquisition_differentiable(const torch::Tensor& mean, const torch::Tensor& variance,
                                                  const AcquisitionParams& params);

/// The model as an ExactGP; InputError naming the acquisition that needs one
/// (sample paths, believer batches in design spaces).
const ExactGP& require_exact_gp(const Surrogate& model, const std::string& acquisition);

}  // namespace sozai
