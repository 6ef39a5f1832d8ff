// Google Benchmark: the periodic neighbour list.
//  - BM_NL_perovskite_batch: batches of 5-atom cubic perovskite-like cells
//    (a ~ 4 A, jittered) at cutoff 8 A, the regime of
//    compare_neighbor_list.py; items = structures.
//  - BM_NL_supercell: one random structure of fixed density and growing size
//    at cutoff 5 A; items = atoms, so a flat rate shows the linear scaling of
//    the cell lists.
//  - the same on a GPU where there is one.
// Correctness is checked before timing against the textbook shell counts
// of a simple cubic crystal.
#include <benchmark/benchmark.h>

#include "kernels/neighbor_list.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <stdexcept>
#include <vector>

namespace {

using sozai::kernels::neighbor_list;

struct Batch {
  torch::Tensor positions, lattices, ptr;
};

/// `count` ABX3-like cells: cubic, a in [3.8, 4.4] A, 5 atoms near the
/// ideal perovskite sites.
Batch perovskites(int64_t count) {
  torch::manual_seed(0);
  auto a = torch::rand({count, 1, 1}, torch::kFloat64) * 0.6 + 3.8;
  auto lattices = torch::eye(3, torch::kFloat64).expand({count, 3, 3}) * a;
  auto ideal = torch::tensor({0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.0, 0.5, 0.0, 0.5, 0.0, 0.5, 0.5},
                             torch::kFloat64)
                   .reshape({1, 5, 3});
  auto frac = ideal + 0.01 * torch::randn({count, 5, 3}, torch::kFloat64);
  auto positions = frac.matmul(lattices).reshape({-1, 3}).contiguous();
  auto ptr = torch::arange(0, 5 * count + 1, 5, torch::kInt64);
  return {positions, lattices.contiguous(), ptr};
}

/// Random atoms at 0.08 per A^3 (a typical solid) in a cube holding n.
Batch supercell(int64_t n) {
  torch::manual_seed(1);
  const double side = std::cbrt(static_cast<double>(n) / 0.08);
  auto lattice = torch::eye(3, torch::kFloat64) * side;
  return {torch::rand({n, 3}, torch::kFloat64) * side, lattice, torch::tensor({int64_t{0}, n})};
}

void check_once() {
  // 10^3 simple cubic supercell: 6 neighbours at a, 18 within 1.5 a.
  std::vector<double> xyz;
  for (int x = 0; x < 10; ++x)
    for (int y = 0; y < 10; ++y)
      for (int z = 0; z < 10; ++z) xyz.insert(xyz.end(), {2.0 * x, 2.0 * y, 2.0 * z});
  auto pos = torch::tensor(xyz, torch::kFloat64).reshape({-1, 3});
  auto lat = torch::eye(3, torch::kFloat64) * 20.0;
  if (neighbor_list(pos, lat, 2.2).distance.size(0) != 6000 || neighbor_list(pos, lat, 3.0).distance.size(0) != 18000)
    throw std::runtime_error("neighbor_list: wrong shell counts on simple cubic");
}

void BM_NL_perovskite_batch(benchmark::State& state) {
  check_once();
  const auto b = perovskites(state.range(0));
  int64_t edges = 0;
  for (auto _ : state) {
    auto out = neighbor_list(b.positions, b.lattices, 8.0, b.ptr);
    edges = out.distance.size(0);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["edges"] = static_cast<double>(edges);
  state.counters["threads"] = at::get_num_threads();
}

void BM_NL_supercell(benchmark::State& state) {
  const auto b = supercell(state.range(0));
  int64_t edges = 0;
  for (auto _ : state) {
    auto out = neighbor_list(b.positions, b.lattices, 5.0, b.ptr);
    edges = out.distance.size(0);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["edges"] = static_cast<double>(edges);
  state.counters["threads"] = at::get_num_threads();
}

// GPU: timings synchronise through .item() on the result.
void BM_NL_perovskite_batch_cuda(benchmark::State& state) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const auto h = perovskites(state.range(0));
  const Batch b{h.positions.cuda(), h.lattices.cuda(), h.ptr.cuda()};
  auto cpu = neighbor_list(h.positions, h.lattices, 8.0, h.ptr);
  auto gpu = neighbor_list(b.positions, b.lattices, 8.0, b.ptr);
  if (!torch::equal(gpu.edge_index.cpu(), cpu.edge_index))
    throw std::runtime_error("neighbor_list: CUDA edges differ from the CPU reference");
  for (auto _ : state) benchmark::DoNotOptimize(neighbor_list(b.positions, b.lattices, 8.0, b.ptr).distance.sum().item<double>());
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

BENCHMARK(BM_NL_perovskite_batch)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NL_supercell)->Arg(1000)->Arg(8000)->Arg(64000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NL_perovskite_batch_cuda)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
