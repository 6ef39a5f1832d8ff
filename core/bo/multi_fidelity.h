#pragma once
/// Cost-aware multi-fidelity selection: a cheap fidelity (simulation, quick
/// screen) is used where it says enough about the expensive target
/// (experiment). Augmented expected improvement (Huang, Allen, Notz & Miller
/// 2006, "Sequential kriging optimization using multiple-fidelity
/// evaluations"), on a MultiTaskGP whose last input column is the fidelity:
///   AEI(x, l) = EI_target(x) * corr[f_l(x), f_target(x)]
///               * (1 - sigma_l / sqrt(s_l^2(x) + sigma_l^2)) * cost_target / cost_l,
/// EI over the effective best max_x (mu_target(x) - sigma_target(x)) of the
/// observed inputs (min of mu + sigma when minimising), sigma_l^2 the noise
/// of fidelity l, s_l^2(x) its posterior variance: value per unit cost of
/// information about the target. Evaluated in log space.
///
/// Plain AEI compares every input at every fidelity, and a cost ratio of 10
/// lets cheap measurements of inputs with a tenth of the best target EI win
/// over and over: the budget drains into the cheap fidelity (measured on
/// photo_pce10). Target-first selection (the default) first chooses the
/// input by its EI at the target, then the fidelity at that input by AEI:
/// a cheap measurement is made only where the expensive one would be, and
/// once it is made its posterior correlation with the target falls, so the
/// next choice there is the target itself unless the cheap result moved the
/// input out of favour.

#include "models/gp/multitask_gp.h"

#include <cstdint>
#include <vector>

namespace sozai {

struct MultiFidelityConfig {
  int64_t target = -1;        ///< fidelity (task) to optimise; -1: the last
  std::vector<double> costs;  ///< cost of one experiment at each fidelity (> 0)
  bool maximize = true;
  /// Choose the input by target EI, then its fidelity by AEI (see above);
  /// false: plain AEI over every (input, fidelity) row.
  bool target_first = true;
  /// At most this share of the cost (observed, pending and the batch so
  /// far) goes to fidelities other than the target; 1: no cap. A cheap
  /// proxy keeps looking ten times cheaper however little it has left to
  /// say, so without a cap it can take the whole budget (measured).
  double max_cheap_share = 0.5;
};

/// log AEI of candidates [n, d + 1] (fidelity last); X_observed [m, d + 1]
/// gives the effective best. Larger is better.
torch::Tensor log_augmented_ei(const MultiTaskGP& model, const torch::Tensor& candidates,
                               const torch::Tensor& X_observed, const MultiFidelityConfig& config);

/// Up to q pool rows (each an input at a fidelity), greedily by log AEI,
/// each pick fantasised at its posterior mean before the next (Kriging
/// believer); pending rows are fantasised first and never picked.
std::vector<int64_t> select_batch_multi_fidelity(const MultiTaskGP& model, const torch::Tensor& candidates,
                                                 const torch::Tensor& available, int64_t q,
                                                 const torch::Tensor& X_observed, const MultiFidelityConfig& config,
                                                 const std::vector<int64_t>& pending = {});

}  // namespace sozai
