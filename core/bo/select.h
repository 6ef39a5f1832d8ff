#pragma once
/// The two acquisition optimisers (BoTorch's optimize_acqf_discrete and
/// optimize_acqf with sequential greedy batches): each builds a batch one
/// point at a time through the acquisition's batch builder, which decides
/// how earlier picks and pending experiments shape the next pick
/// (registry.h: Kriging believer, joint samples, sample paths).

#include "core/bo/acquisition.h"
#include "core/bo/optimize.h"
#include "core/space/design_space.h"

#include <cstdint>
#include <vector>

namespace sozai {

/// Up to q rows of candidates [N, d] among `available` ([N] bool: neither
/// observed nor pending), in the order picked: each pick is the best row
/// by the acquisition given the earlier picks (NaN never wins; ties go to
/// the lower row). Fewer than q when the available rows run out.
/// log_weight (optional, [N] float64): a weight w_i of each row by which
/// its value is multiplied, given as log w_i (a prior belief, piBO):
/// a log-valued acquisition (qlognei, logei) adds it, a nonnegative one
/// (ei, pi) is multiplied by exp(log w_i); InputError for any other kind
/// (weighable_acquisition).
std::vector<int64_t> select_from_pool(const Acquisition& acquisition, const torch::Tensor& candidates,
                                      const torch::Tensor& available, int64_t q,
                                      const torch::Tensor& log_weight = {});

/// Whether select_from_pool can weigh this acquisition's values: they are
/// logs (qlognei, logei) or nonnegative (ei, pi).
bool weighable_acquisition(AcquisitionKind kind);

/// Up to q new raw candidates [q, raw_width] from a design space, each the
/// acquisition's maximiser (optimize_acquisition: multi-start projected
/// L-BFGS, rounding and discrete search) given the pending experiments and
/// the earlier picks; every one satisfies the space. The acquisition's
/// models see space.encode(raw). Pick j uses optimizer.seed + 7919 j.
torch::Tensor select_in_space(const DesignSpace& space, const Acquisition& acquisition, int64_t q,
                              const OptimizeConfig& optimizer = {});

}  // namespace sozai
