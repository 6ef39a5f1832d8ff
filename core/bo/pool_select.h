#pragma once
/// Shared plumbing of the pool batch selectors (internal to core/bo):
/// input checks and the greedy-sequential loop over chunks.

#include <cstdint>
#include <functional>
#include <vector>
#include <torch/types.h>

namespace sozai {
namespace bo_detail {

/// Checks candidates [N, d], available [N] bool, pending rows in range and
/// q >= 1 (errors start with `op`); returns the CPU mask of rows that may
/// be picked (available and not pending).
torch::Tensor free_mask(const torch::Tensor& candidates, const torch::Tensor& available,
                        const std::vector<int64_t>& pending, int64_t q, const char* op);

/// Scores candidates [n, d] -> [n] for one greedy step.
using StepScore = std::function<torch::Tensor(const torch::Tensor&)>;

/// Greedy-sequential batch: for pick j, make_step(members, j) builds the
/// scorer given the fixed members (pending rows, then earlier picks, as
/// candidate rows [k, d]); every free row is scored in chunks and the best
/// (NaN never wins) is picked. Returns up to q rows in the order picked.
std::vector<int64_t> greedy_select(const torch::Tensor& candidates, torch::Tensor free, int64_t q, int64_t chunk,
                                   const std::vector<int64_t>& pending,
                                   const std::function<StepScore(const torch::Tensor&, int64_t)>& make_step);

}  // namespace bo_detail
}  // namespace sozai
