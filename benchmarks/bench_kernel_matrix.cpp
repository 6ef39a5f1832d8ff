// Google Benchmark: the tiled kernel matrix against the same Matern-5/2 /
// RBF written as LibTorch ops (torch::cdist + exp, the baseline), and the
// bit-packed Tanimoto similarity; CPU, plus the CUDA kernels where a GPU
// exists. items_per_second = matrix entries per second. Correctness is
// checked before timing; counter "threads" is at::get_num_threads().
#include <benchmark/benchmark.h>

#include "kernels/kernel_matrix.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <cmath>
#include <stdexcept>

namespace {

using sozai::kernels::KernelKind;

torch::Tensor torch_ops_kernel(const torch::Tensor& x1, const torch::Tensor& x2, const torch::Tensor& ls, double s,
                               KernelKind kind) {
  auto r = torch::cdist(x1 / ls, x2 / ls);  // default mode: GEMM expansion beyond 25 rows
  if (kind == KernelKind::RBF) return s * torch::exp(-0.5 * r * r);
  const double sqrt5 = std::sqrt(5.0);
  return s * (1.0 + sqrt5 * r + (5.0 / 3.0) * r * r) * torch::exp(-sqrt5 * r);
}

void check_kernel_once(torch::ScalarType dt, KernelKind kind) {
  auto x1 = torch::randn({300, 8}, torch::kFloat64).to(dt);
  auto x2 = torch::randn({200, 8}, torch::kFloat64).to(dt);
  auto ls = torch::rand({8}, torch::kFloat64).to(dt) + 0.5;
  auto a = sozai::kernels::kernel_matrix(x1, x2, ls, 1.3, kind);
  auto b = torch_ops_kernel(x1, x2, ls, 1.3, kind);
  const double tol = dt == torch::kFloat64 ? 1e-9 : 1e-4;
  if (!torch::allclose(a, b, tol, tol)) throw std::runtime_error("kernel_matrix disagrees with the torch-ops baseline");
}

void check_tanimoto_once() {
  auto bits = torch::rand({100, 2048}) < 0.05;
  auto w = sozai::kernels::pack_bits(bits);
  auto t = sozai::kernels::tanimoto(w, w);
  auto f = bits.to(torch::kFloat64);
  auto both = at::matmul(f, f.t());
  auto cnt = f.sum(1);
  auto ref = (both / (cnt.unsqueeze(1) + cnt.unsqueeze(0) - both)).to(torch::kFloat32);
  if (!torch::equal(t, ref)) throw std::runtime_error("tanimoto disagrees with the dense reference");
}

torch::ScalarType dtype_of(int64_t code) { return code == 64 ? torch::kFloat64 : torch::kFloat32; }

// Args: n (= m), d, dtype bits (32/64), kind (0 RBF, 1 Matern52).
void BM_KernelMatrix_sozai(benchmark::State& state) {
  const int64_t n = state.range(0), d = state.range(1);
  const auto dt = dtype_of(state.range(2));
  const auto kind = static_cast<KernelKind>(state.range(3));
  check_kernel_once(dt, kind);
  auto x1 = torch::randn({n, d}, torch::kFloat64).to(dt);
  auto x2 = torch::randn({n, d}, torch::kFloat64).to(dt);
  auto ls = torch::rand({d}, torch::kFloat64).to(dt) + 0.5;
  for (auto _ : state) benchmark::DoNotOptimize(sozai::kernels::kernel_matrix(x1, x2, ls, 1.3, kind));
  state.SetItemsProcessed(state.iterations() * n * n);
  state.counters["threads"] = at::get_num_threads();
}

void BM_KernelMatrix_torch_ops(benchmark::State& state) {
  const int64_t n = state.range(0), d = state.range(1);
  const auto dt = dtype_of(state.range(2));
  const auto kind = static_cast<KernelKind>(state.range(3));
  auto x1 = torch::randn({n, d}, torch::kFloat64).to(dt);
  auto x2 = torch::randn({n, d}, torch::kFloat64).to(dt);
  auto ls = torch::rand({d}, torch::kFloat64).to(dt) + 0.5;
  for (auto _ : state) benchmark::DoNotOptimize(torch_ops_kernel(x1, x2, ls, 1.3, kind));
  state.SetItemsProcessed(state.iterations() * n * n);
  state.counters["threads"] = at::get_num_threads();
}

// Args: n (= m), fingerprint bits.
void BM_Tanimoto_sozai(benchmark::State& state) {
  const int64_t n = state.range(0), nbits = state.range(1);
  check_tanimoto_once();
  auto w = sozai::kernels::pack_bits(torch::rand({n, nbits}) < 0.05);
  for (auto _ : state) benchmark::DoNotOptimize(sozai::kernels::tanimoto(w, w));
  state.SetItemsProcessed(state.iterations() * n * n);
  state.counters["threads"] = at::get_num_threads();
}

void BM_PackBits(benchmark::State& state) {
  const int64_t n = state.range(0), nbits = state.range(1);
  auto bits = torch::rand({n, nbits}) < 0.05;
  for (auto _ : state) benchmark::DoNotOptimize(sozai::kernels::pack_bits(bits));
  state.SetItemsProcessed(state.iterations() * n);  // fingerprints per second
}

// GPU versions (skipped where there is none); .item() synchronises so the
// time covers the launch and the work.
void BM_KernelMatrix_sozai_cuda(benchmark::State& state) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t n = state.range(0), d = state.range(1);
  const auto dt = dtype_of(state.range(2));
  const auto kind = static_cast<KernelKind>(state.range(3));
  auto x1 = torch::randn({n, d}, torch::kFloat64).to(dt);
  auto x2 = torch::randn({n, d}, torch::kFloat64).to(dt);
  auto ls = torch::rand({d}, torch::kFloat64).to(dt) + 0.5;
  auto cpu = sozai::kernels::kernel_matrix(x1.narrow(0, 0, 100), x2.narrow(0, 0, 100), ls, 1.3, kind);
  const auto dev = torch::Device(torch::kCUDA);
  x1 = x1.to(dev);
  x2 = x2.to(dev);
  ls = ls.to(dev);
  auto gpu = sozai::kernels::kernel_matrix(x1.narrow(0, 0, 100), x2.narrow(0, 0, 100), ls, 1.3, kind).cpu();
  if (!torch::allclose(gpu, cpu, 1e-4, 1e-5)) throw std::runtime_error("CUDA kernel_matrix disagrees with the CPU");
  for (auto _ : state) {
    auto K = sozai::kernels::kernel_matrix(x1, x2, ls, 1.3, kind);
    benchmark::DoNotOptimize(K[0][0].item<double>());
  }
  state.SetItemsProcessed(state.iterations() * n * n);
}

void BM_KernelMatrix_torch_ops_cuda(benchmark::State& state) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t n = state.range(0), d = state.range(1);
  const auto dt = dtype_of(state.range(2));
  const auto kind = static_cast<KernelKind>(state.range(3));
  const auto dev = torch::Device(torch::kCUDA);
  auto x1 = torch::randn({n, d}, torch::kFloat64).to(dt).to(dev);
  auto x2 = torch::randn({n, d}, torch::kFloat64).to(dt).to(dev);
  auto ls = (torch::rand({d}, torch::kFloat64).to(dt) + 0.5).to(dev);
  for (auto _ : state) {
    auto K = torch_ops_kernel(x1, x2, ls, 1.3, kind);
    benchmark::DoNotOptimize(K[0][0].item<double>());
  }
  state.SetItemsProcessed(state.iterations() * n * n);
}

void BM_Tanimoto_sozai_cuda(benchmark::State& state) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t n = state.range(0), nbits = state.range(1);
  auto w = sozai::kernels::pack_bits(torch::rand({n, nbits}) < 0.05);
  auto cpu = sozai::kernels::tanimoto(w.narrow(0, 0, 100), w);
  w = w.to(torch::Device(torch::kCUDA));
  if (!torch::equal(sozai::kernels::tanimoto(w.narrow(0, 0, 100), w).cpu(), cpu))
    throw std::runtime_error("CUDA tanimoto disagrees with the CPU");
  for (auto _ : state) {
    auto T = sozai::kernels::tanimoto(w, w);
    benchmark::DoNotOptimize(T[0][0].item<float>());
  }
  state.SetItemsProcessed(state.iterations() * n * n);
}

void kernel_args(benchmark::internal::Benchmark* b) {
  for (int64_t kind : {1, 0})
    for (int64_t dt : {64, 32})
      for (int64_t n : {512, 4096}) b->Args({n, 8, dt, kind});
  b->Args({2048, 64, 64, 1});
  b->Unit(benchmark::kMillisecond);
}

void kernel_args_cuda(benchmark::internal::Benchmark* b) {
  for (int64_t dt : {64, 32}) b->Args({16384, 8, dt, 1});
  b->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_KernelMatrix_sozai)->Apply(kernel_args);
BENCHMARK(BM_KernelMatrix_torch_ops)->Apply(kernel_args);
BENCHMARK(BM_Tanimoto_sozai)->Args({1024, 2048})->Args({4096, 2048})->Args({4096, 1024})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PackBits)->Args({7000, 2048})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KernelMatrix_sozai_cuda)->Apply(kernel_args_cuda);
BENCHMARK(BM_KernelMatrix_torch_ops_cuda)->Apply(kernel_args_cuda);
BENCHMARK(BM_Tanimoto_sozai_cuda)->Args({16384, 2048})->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
