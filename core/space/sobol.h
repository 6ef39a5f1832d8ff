#pragma once
/// Scrambled Sobol sequences, the same points as PyTorch's
/// torch.quasirandom.SobolEngine(dimension, scramble, seed) (built on the
/// same ATen kernels: direction numbers of Joe & Kuo, random linear matrix
/// scrambling and digital shift), so BoTorch users get identical designs.

#include <cstdint>
#include <torch/types.h>

namespace sozai {

class SobolEngine {
 public:
  static constexpr int64_t kMaxBit = 30;
  static constexpr int64_t kMaxDim = 21201;

  SobolEngine(int64_t dimension, bool scramble = true, uint64_t seed = 0);
  /// n points [n, dimension] in [0, 1), float64.
  torch::Tensor draw(int64_t n);
  int64_t dimension() const { return dim_; }
  int64_t num_generated() const { return generated_; }

 private:
  int64_t dim_;
  int64_t generated_ = 0;
  torch::Tensor state_, quasi_, first_;
};

}  // namespace sozai
