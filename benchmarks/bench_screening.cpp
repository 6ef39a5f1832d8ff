// Google Benchmark: screening throughput against the machine's memory
// bandwidth, measured in the same run.
//  - memory/read: the bandwidth bound (a parallel sum over 1 GiB, or a
//    device copy on CUDA);
//  - topk/*: the fused acquisition + top-k against the unfused LibTorch
//    baseline (acquisition values materialised, then torch::topk);
//  - kernel_matrix: a Matérn-5/2 cross-covariance block (candidates x
//    training points), the first step of every GP posterior;
//  - screen: a whole GP screening pass over a library generated chunk by
//    chunk (cross-covariance, posterior mean and variance, fused top-k),
//    memory independent of the library size.
// Counters: candidates/s ("items_per_second") and bytes/s where a byte count
// is meaningful, so the report can divide by the bandwidth.
#include <benchmark/benchmark.h>

#include "kernels/acquisition_topk.h"
#include "kernels/kernel_matrix.h"

#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <stdexcept>
#include <string>

namespace {

using namespace sozai::kernels;

bool device_ok(benchmark::State& state, bool cuda) {
  if (cuda && !torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return false;
  }
  return true;
}

torch::Device dev(bool cuda) { return cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU); }
void sync(bool cuda) {
  if (cuda) torch::cuda::synchronize();
}

AcquisitionParams logei() {
  AcquisitionParams p;
  p.kind = AcquisitionKind::LogEI;
  p.best_f = 2.0;
  return p;
}

/// Read bandwidth: 1 GiB of float32 summed (CPU) or copied (CUDA: bytes
/// read + written, as a device-to-device copy reports it).
void BM_memory_read(benchmark::State& state) {
  const bool cuda = state.range(0) == 1;
  if (!device_ok(state, cuda)) return;
  const int64_t n = int64_t(1) << 28;
  auto x = torch::rand({n}, torch::TensorOptions().dtype(torch::kFloat32).device(dev(cuda)));
  auto y = torch::empty_like(x);
  for (auto _ : state) {
    if (cuda) {
      y.copy_(x);
    } else {
      benchmark::DoNotOptimize(x.sum());
    }
    sync(cuda);
  }
  state.SetBytesProcessed(state.iterations() * n * 4 * (cuda ? 2 : 1));
}

/// range(0): candidates per chunk; range(1): 1 = CUDA.
template <bool Fused>
void BM_topk(benchmark::State& state) {
  const bool cuda = state.range(1) == 1;
  if (!device_ok(state, cuda)) return;
  const int64_t n = state.range(0), k = 100;
  auto opt = torch::TensorOptions().dtype(torch::kFloat32).device(dev(cuda));
  torch::manual_seed(0);
  auto mean = torch::randn({n}, opt);
  auto var = torch::rand({n}, opt) + 0.01;
  const auto p = logei();
  auto fused = acquisition_topk(mean, var, p, k);
  auto plain = std::get<1>(torch::topk(analytic_acquisition(mean, var, p), k));
  if (!torch::equal(fused.indices.cpu(), plain.cpu())) throw std::runtime_error("fused top-k disagrees with topk");
  for (auto _ : state) {
    if (Fused) {
      benchmark::DoNotOptimize(acquisition_topk(mean, var, p, k).indices);
    } else {
      benchmark::DoNotOptimize(torch::topk(analytic_acquisition(mean, var, p), k));
    }
    sync(cuda);
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * 8);  // mean + variance, float32
}

/// Cross-covariance of range(0) candidates with range(1) training points in
/// d = 8, float32.
void BM_kernel_matrix(benchmark::State& state) {
  const bool cuda = state.range(2) == 1;
  if (!device_ok(state, cuda)) return;
  const int64_t c = state.range(0), n = state.range(1), d = 8;
  auto opt = torch::TensorOptions().dtype(torch::kFloat32).device(dev(cuda));
  auto x = torch::rand({c, d}, opt), train = torch::rand({n, d}, opt);
  auto ls = torch::full({d}, 0.3, opt);
  for (auto _ : state) {
    benchmark::DoNotOptimize(kernel_matrix(x, train, ls, 1.0, KernelKind::Matern52));
    sync(cuda);
  }
  state.SetItemsProcessed(state.iterations() * c);
  state.SetBytesProcessed(state.iterations() * c * (n + d) * 4);  // output written + inputs read
}

/// A GP screening pass: range(0) candidates in chunks of 65536, n = 256
/// training points, d = 8. Posterior mean = K a, variance = s^2 - |K L^-T|^2
/// per row, then the fused top-k; the library is generated chunk by chunk
/// from a seed, so nothing of size range(0) ever exists.
void BM_screen(benchmark::State& state) {
  const bool cuda = state.range(1) == 1;
  if (!device_ok(state, cuda)) return;
  const int64_t total = state.range(0), chunk = 65536, n = 256, d = 8, k = 100;
  auto opt = torch::TensorOptions().dtype(torch::kFloat32).device(dev(cuda));
  torch::manual_seed(1);
  auto train = torch::rand({n, d}, opt);
  auto ls = torch::full({d}, 0.3, opt);
  auto K = kernel_matrix(train, train, ls, 1.0, KernelKind::Matern52) + 1e-3 * torch::eye(n, opt);
  auto L = torch::linalg_cholesky(K);
  auto y = torch::randn({n, 1}, opt);
  auto alpha = torch::cholesky_solve(y, L);
  auto Linv_t = torch::linalg_solve_triangular(L, torch::eye(n, opt), /*upper=*/false).t().contiguous();
  const auto p = logei();
  for (auto _ : state) {
    RunningTopK best(k);
    for (int64_t start = 0; start < total; start += chunk) {
      const int64_t m = std::min(chunk, total - start);
      auto x = torch::rand({m, d}, opt);
      auto ks = kernel_matrix(x, train, ls, 1.0, KernelKind::Matern52);
      auto mean = ks.mm(alpha).squeeze(1);
      auto var = (1.0 - ks.mm(Linv_t).pow(2).sum(1)).clamp_min(1e-9);
      best.push_acquisition(mean, var, p, start);
    }
    benchmark::DoNotOptimize(best.best().indices);
    sync(cuda);
  }
  state.SetItemsProcessed(state.iterations() * total);
}

}  // namespace

BENCHMARK(BM_memory_read)->Name("memory/read/cpu")->Arg(0)->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.1)->UseRealTime();
BENCHMARK(BM_memory_read)->Name("memory/read/cuda")->Arg(1)->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.1)->UseRealTime();
BENCHMARK_TEMPLATE(BM_topk, true)->Name("topk/fused/cpu")->Args({1 << 24, 0})->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.1)->UseRealTime();
BENCHMARK_TEMPLATE(BM_topk, false)->Name("topk/torch/cpu")->Args({1 << 24, 0})->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.1)->UseRealTime();
BENCHMARK_TEMPLATE(BM_topk, true)->Name("topk/fused/cuda")->Args({1 << 26, 1})->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.1)->UseRealTime();
BENCHMARK_TEMPLATE(BM_topk, false)->Name("topk/torch/cuda")->Args({1 << 26, 1})->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.1)->UseRealTime();
BENCHMARK(BM_kernel_matrix)->Name("kernel_matrix/cpu")->Args({65536, 256, 0})->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.1)->UseRealTime();
BENCHMARK(BM_kernel_matrix)->Name("kernel_matrix/cuda")->Args({1 << 20, 256, 1})->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.1)->UseRealTime();
BENCHMARK(BM_screen)->Name("screen/cpu")->Args({1 << 20, 0})->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.1)->UseRealTime();
BENCHMARK(BM_screen)->Name("screen/cuda")->Args({1 << 24, 1})->Unit(benchmark::kMillisecond)->MinWarmUpTime(0.1)->UseRealTime();

BENCHMARK_MAIN();
