// Google Benchmark: the analytic-acquisition kernel against the same
// formula written as LibTorch tensor ops (the baseline), both on CPU.
// Correctness is checked before timing.
#include <benchmark/benchmark.h>

#include "kernels/acquisition.h"

#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <cmath>
#include <stdexcept>

namespace {

torch::Tensor ei_torch_ops(const torch::Tensor& mean, const torch::Tensor& var, double best) {
  auto sigma = var.clamp_min(1e-30).sqrt();
  auto z = (mean - best) / sigma;
  auto pdf = torch::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
  auto cdf = 0.5 * torch::erfc(-z / std::sqrt(2.0));
  return sigma * (pdf + z * cdf);
}

void check_once(int64_t n) {
  auto mean = torch::randn({n}, torch::kFloat64);
  auto var = torch::rand({n}, torch::kFloat64) + 0.01;
  sozai::kernels::AcquisitionParams p;
  p.kind = sozai::kernels::AcquisitionKind::EI;
  p.best_f = 0.5;
  auto a = sozai::kernels::analytic_acquisition(mean, var, p);
  auto b = ei_torch_ops(mean, var, 0.5);
  if (!torch::allclose(a, b, 1e-10, 1e-12)) throw std::runtime_error("EI kernel disagrees with the torch-ops baseline");
}

void BM_EI_sozai(benchmark::State& state) {
  const int64_t n = state.range(0);
  check_once(1000);
  auto mean = torch::randn({n}, torch::kFloat64);
  auto var = torch::rand({n}, torch::kFloat64) + 0.01;
  sozai::kernels::AcquisitionParams p;
  p.kind = sozai::kernels::AcquisitionKind::EI;
  p.best_f = 0.5;
  for (auto _ : state) benchmark::DoNotOptimize(sozai::kernels::analytic_acquisition(mean, var, p));
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_EI_torch_ops(benchmark::State& state) {
  const int64_t n = state.range(0);
  auto mean = torch::randn({n}, torch::kFloat64);
  auto var = torch::rand({n}, torch::kFloat64) + 0.01;
  for (auto _ : state) benchmark::DoNotOptimize(ei_torch_ops(mean, var, 0.5));
  state.SetItemsProcessed(state.iterations() * n);
}

// The same kernel on a GPU (skipped where there is none); results synchronise
// through .item() so the timing covers the launch and the work.
void BM_EI_sozai_cuda(benchmark::State& state) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t n = state.range(0);
  auto mean = torch::randn({n}, torch::kFloat64).cuda();
  auto var = (torch::rand({n}, torch::kFloat64) + 0.01).cuda();
  sozai::kernels::AcquisitionParams p;
  p.kind = sozai::kernels::AcquisitionKind::EI;
  p.best_f = 0.5;
  for (auto _ : state) benchmark::DoNotOptimize(sozai::kernels::analytic_acquisition(mean, var, p).sum().item<double>());
  state.SetItemsProcessed(state.iterations() * n);
}

BENCHMARK(BM_EI_sozai)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(BM_EI_torch_ops)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(BM_EI_sozai_cuda)->Arg(1 << 20)->Arg(1 << 24);

}  // namespace

BENCHMARK_MAIN();
