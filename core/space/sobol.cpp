#include "common/error.h"
#include "core/space/sobol.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace sozai {

SobolEngine::SobolEngine(int64_t dimension, bool scramble, uint64_t seed) : dim_(dimension) {
  SOZAI_CHECK(dimension >= 1 && dimension <= kMaxDim, "SobolEngine: dimension must be in [1, ", kMaxDim, "], got ",
              dimension);
  state_ = torch::zeros({dim_, kMaxBit}, torch::kInt64);
  at::_sobol_engine_initialize_state_(state_, dim_);
  torch::Tensor shift = torch::zeros({dim_}, torch::kInt64);
  if (scramble) {
    // The order of the draws below is PyTorch's, so the same seed gives the
    // same points.
    auto gen = at::detail::createCPUGenerator(seed);
    auto shift_bits = at::randint(2, {dim_, kMaxBit}, gen, torch::kInt64);
    shift = at::mv(shift_bits, at::pow(2, at::arange(0, kMaxBit, torch::kInt64)));
    auto ltm = at::randint(2, {dim_, kMaxBit, kMaxBit}, gen, torch::kInt64).tril();
    at::_sobol_engine_scramble_(state_, ltm, dim_);
  }
  quasi_ = shift.clone();
  // PyTorch computes the first point in the default dtype (float32) and
  // promotes it when concatenating; so does this, to give the same points.
  first_ = (quasi_.to(torch::kFloat32) / static_cast<float>(int64_t{1} << kMaxBit)).reshape({1, -1}).to(torch::kFloat64);
}

torch::Tensor SobolEngine::draw(int64_t n) {
  SOZAI_CHECK(n >= 0, "SobolEngine: cannot draw ", n, " points");
  if (n == 0) return torch::empty({0, dim_}, torch::kFloat64);
  torch::Tensor result;
  if (generated_ == 0) {
    if (n == 1) {
      result = first_.clone();
    } else {
      auto drawn = at::_sobol_engine_draw(quasi_, n - 1, state_, dim_, generated_, torch::kFloat64);
      result = torch::cat({first_, std::get<0>(drawn)}, 0);
      quasi_ = std::get<1>(drawn);
    }
  } else {
    auto drawn = at::_sobol_engine_draw(quasi_, n, state_, dim_, generated_ - 1, torch::kFloat64);
    result = std::get<0>(drawn);
    quasi_ = std::get<1>(drawn);
  }
  generated_ += n;
  return result;
}

}  // namespace sozai
