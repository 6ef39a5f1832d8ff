#pragma once
/// Thompson sampling from a pool of any size: each pick of a batch is the
/// maximiser of its own posterior sample path (models/gp/pathwise.h),
/// scored over the pool in chunks with a running top-k, so memory depends
/// on the chunk and the batch size, not the pool. Large batches stay
/// diverse because every pick follows a different sample.

#include "models/gp/exact_gp.h"

#include <cstdint>
#include <vector>

namespace sozai {

struct ThompsonConfig {
  bool maximize = true;
  uint64_t seed = 0;       ///< seeds the sample paths
  int64_t features = 1024; ///< random Fourier features of each prior path
  int64_t chunk = 16384;   ///< candidates scored per block
};

/// Up to q pool rows, the j-th the best available row of path j that no
/// earlier path took. candidates: [N, d]; available: [N] bool; pending rows
/// are never picked (their outcomes do not condition the paths).
std::vector<int64_t> select_batch_thompson(const ExactGP& model, const torch::Tensor& candidates,
                                           const torch::Tensor& available, int64_t q, const ThompsonConfig& config,
                                           const std::vector<int64_t>& pending = {});

}  // namespace sozai
