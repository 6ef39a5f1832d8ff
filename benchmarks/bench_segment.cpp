// Google Benchmark: segment (CSR) and scatter (unsorted index) sum, mean and
// max against LibTorch's own index_add_ and scatter_reduce on the same
// inputs, on CPU and (when present) CUDA. Shapes follow message passing:
// E edges of F float32 features reduced into E/16 nodes. Results are
// checked against the baseline before timing.
#include <benchmark/benchmark.h>

#include "kernels/segment.h"

#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <map>
#include <stdexcept>
#include <string>
#include <tuple>

namespace {

using sozai::kernels::Reduce;

struct Inputs {
  torch::Tensor src, ptr, sorted_index, shuffled_src, shuffled_index, expand_sorted, expand_shuffled;
  int64_t nodes = 0;
};

/// One set of inputs per (E, F, device), built once: building 10^7 x 64
/// tensors takes longer than timing them.
const Inputs& inputs(int64_t E, int64_t F, bool cuda) {
  static std::map<std::tuple<int64_t, int64_t, bool>, Inputs> cache;
  auto key = std::make_tuple(E, F, cuda);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() > 1) cache.clear();  // keep at most two large sets alive
  Inputs in;
  in.nodes = E / 16;
  torch::manual_seed(0);
  auto index = torch::randint(0, in.nodes, {E}, torch::kInt64);
  in.sorted_index = std::get<0>(torch::sort(index));
  auto counts = torch::bincount(in.sorted_index, {}, in.nodes);
  in.ptr = torch::cat({torch::zeros({1}, torch::kInt64), counts.cumsum(0)});
  in.src = torch::randn({E, F}, torch::kFloat32);
  auto perm = torch::randperm(E, torch::kInt64);
  in.shuffled_src = in.src.index_select(0, perm);
  in.shuffled_index = in.sorted_index.index_select(0, perm);
  if (cuda) {
    for (auto* t : {&in.src, &in.ptr, &in.sorted_index, &in.shuffled_src, &in.shuffled_index}) *t = t->cuda();
  }
  in.expand_sorted = in.sorted_index.view({E, 1}).expand({E, F});
  in.expand_shuffled = in.shuffled_index.view({E, 1}).expand({E, F});
  return cache.emplace(key, std::move(in)).first->second;
}

void sync(bool cuda) {
  if (cuda) torch::cuda::synchronize();
}

torch::Tensor torch_baseline(const Inputs& in, Reduce reduce, bool shuffled) {
  const auto& src = shuffled ? in.shuffled_src : in.src;
  const auto& index = shuffled ? in.shuffled_index : in.sorted_index;
  auto out = torch::zeros({in.nodes, src.size(1)}, src.options());
  if (reduce == Reduce::Sum) return out.index_add_(0, index, src);
  const auto& expanded = shuffled ? in.expand_shuffled : in.expand_sorted;
  return out.scatter_reduce(0, expanded, src, reduce == Reduce::Mean ? "mean" : "amax", /*include_self=*/false);
}

torch::Tensor sozai_op(const Inputs& in, Reduce reduce, bool shuffled) {
  if (shuffled) return std::get<0>(sozai::kernels::scatter_reduce(in.shuffled_src, in.shuffled_index, in.nodes, reduce));
  return std::get<0>(sozai::kernels::segment_reduce(in.src, in.ptr, reduce));
}

/// range(0) = E, range(1) = F, range(2) = reduce, range(3) = 1 for scatter
/// (unsorted index), range(4) = 1 for CUDA.
template <bool Sozai>
void BM_Reduce(benchmark::State& state) {
  const bool cuda = state.range(4) == 1;
  if (cuda && !torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const auto reduce = static_cast<Reduce>(state.range(2));
  const bool shuffled = state.range(3) == 1;
  const auto& in = inputs(state.range(0), state.range(1), cuda);
  auto mine = sozai_op(in, reduce, shuffled);
  auto ref = torch_baseline(in, reduce, shuffled);
  if (!torch::allclose(mine, ref, 1e-4, 1e-4)) throw std::runtime_error("sozai and torch reductions disagree");
  for (auto _ : state) {
    benchmark::DoNotOptimize(Sozai ? sozai_op(in, reduce, shuffled) : torch_baseline(in, reduce, shuffled));
    sync(cuda);
  }
  const int64_t values = in.src.numel();
  state.SetItemsProcessed(state.iterations() * values);
  state.SetBytesProcessed(state.iterations() * values * static_cast<int64_t>(sizeof(float)));
}

}  // namespace

// Registered shape by shape, sozai then torch, so each input set is built
// once. 10^6 x {64, 256} and 10^7 x 64: 10^7 x 256 float32 would be 10 GB.
int main(int argc, char** argv) {
  const std::vector<std::pair<int64_t, int64_t>> ef = {{1000000, 64}, {1000000, 256}, {10000000, 64}};
  for (int64_t cuda = 0; cuda < 2; ++cuda) {
    if (cuda == 1 && !torch::cuda::is_available()) break;
    for (auto [E, F] : ef) {
      for (int64_t r = 0; r < 3; ++r) {
        for (int64_t scatter = 0; scatter < 2; ++scatter) {
          for (bool mine : {true, false}) {
            const std::string name = std::string(mine ? "sozai" : "torch") + (scatter ? "/scatter_" : "/segment_") +
                                     sozai::kernels::to_string(static_cast<Reduce>(r)) + (cuda ? "/cuda" : "/cpu");
            benchmark::RegisterBenchmark(name.c_str(), mine ? BM_Reduce<true> : BM_Reduce<false>)
                ->Args({E, F, r, scatter, cuda})
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime()
                ->MinTime(0.3);
          }
        }
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
