// Google Benchmark: graph-network training steps and inference, graphs per
// second, for the three architectures on CPU and (when present) CUDA. The
// same inputs on both devices, built without data files or RDKit (a GPU
// machine may have neither):
//  - polymer: repeat-unit-like graphs of 12..40 atoms (a chain with a ring
//    every 6 atoms and the periodic bond), both bond directions stored as
//    k, k^1, random 60 atom and 15 bond features;
//  - crystal: 5-atom perovskite-like cells, 12 neighbours each (Gaussian
//    distance features);
//  - composition: 2..6 elements, complete element graphs, fractions.
// Training step = forward on a minibatch of 64, Gaussian NLL, backward,
// AdamW step; inference = forward on 512 graphs without gradients. Each case
// warms up for 0.2 s first: on a GPU the first steps pay for lazy set-up
// (cuBLAS handles, kernel loading; 0.47 s in the first train step measured
// on an H200 without it). The CPU number is the one Python comparisons use
// (benchmarks/compare_gnn.py compares with Python PyTorch); the CUDA number
// comes from scripts/gpu-check.sh.
#include <benchmark/benchmark.h>

#include "datasets/graph.h"
#include "models/gnn/graph_model.h"

#include <torch/cuda.h>
#include <torch/optim/adamw.h>

#include <map>
#include <random>
#include <string>

namespace {

using sozai::GraphBatch;
using sozai::MaterialGraph;

/// Appends the directed pair (a -> b, b -> a) at k, k^1.
void bond(std::vector<int64_t>& src, std::vector<int64_t>& dst, int64_t a, int64_t b) {
  src.push_back(a);
  dst.push_back(b);
  src.push_back(b);
  dst.push_back(a);
}

MaterialGraph polymer_like(std::mt19937_64& rng) {
  const int64_t n = std::uniform_int_distribution<int64_t>(12, 40)(rng);
  std::vector<int64_t> src, dst;
  for (int64_t i = 1; i < n; ++i) bond(src, dst, i - 1, i);
  for (int64_t i = 5; i < n; i += 6) bond(src, dst, i - 5, i);  // rings
  bond(src, dst, n - 1, 0);                                       // the periodic bond
  MaterialGraph g;
  g.kind = "polymer";
  const int64_t e = static_cast<int64_t>(src.size());
  g.x = (torch::rand({n, 60}) < 0.1).to(torch::kFloat32);
  g.edge_attr = (torch::rand({e, 15}) < 0.2).to(torch::kFloat32);
  g.edge_index = torch::stack({torch::tensor(src), torch::tensor(dst)});
  g.atomic_number = torch::full({n}, 6, torch::kInt64);
  g.periodic = torch::zeros({e}, torch::kBool);
  g.periodic[e - 2] = g.periodic[e - 1] = true;
  return g;
}

MaterialGraph crystal_like(std::mt19937_64& rng) {
  const int64_t n = 5, k = 12;
  std::vector<int64_t> src, dst;
  std::uniform_int_distribution<int64_t> pick(0, n - 1);
  for (int64_t c = 0; c < n; ++c) {
    for (int64_t j = 0; j < k; ++j) {
      src.push_back(pick(rng));  // neighbour
      dst.push_back(c);          // centre (edge_index[1])
    }
  }
  MaterialGraph g;
  g.kind = "crystal";
  g.x = torch::zeros({n, 100});
  for (int64_t i = 0; i < n; ++i) g.x[i][pick(rng) * 17 % 100] = 1;
  g.distance = 2 + 4 * torch::rand({n * k});
  auto centres = torch::linspace(0, 8, 40);
  g.edge_attr = torch::exp(-(g.distance.unsqueeze(1) - centres).pow(2) / 0.04).to(torch::kFloat32);
  g.edge_index = torch::stack({torch::tensor(src), torch::tensor(dst)});
  g.atomic_number = torch::full({n}, 8, torch::kInt64);
  g.image = torch::zeros({n * k, 3}, torch::kInt64);
  g.positions = torch::rand({n, 3}, torch::kFloat64) * 4;
  g.lattice = torch::eye(3, torch::kFloat64) * 4;
  return g;
}

MaterialGraph composition_like(std::mt19937_64& rng) {
  const int64_t n = std::uniform_int_distribution<int64_t>(2, 6)(rng);
  std::vector<int64_t> src, dst;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (i != j) {
        src.push_back(j);
        dst.push_back(i);
      }
  MaterialGraph g;
  g.kind = "composition";
  g.x = torch::randn({n, 22});
  auto w = torch::rand({n}) + 0.1;
  g.node_weight = (w / w.sum()).to(torch::kFloat32);
  g.edge_index = src.empty() ? torch::zeros({2, 0}, torch::kInt64)
                             : torch::stack({torch::tensor(src), torch::tensor(dst)});
  g.edge_attr = torch::zeros({static_cast<int64_t>(src.size()), 0});
  g.atomic_number = torch::arange(n, torch::kInt64) + 20;
  return g;
}

struct Setup {
  std::shared_ptr<sozai::gnn::GraphModel> model;
  GraphBatch train, infer;  // 64 and 512 graphs
  torch::Tensor y;
};

const char* kKinds[] = {"polymer", "crystal", "composition"};

Setup& setup(int kind, bool cuda) {
  static std::map<std::pair<int, bool>, Setup> cache;
  auto key = std::make_pair(kind, cuda);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  torch::manual_seed(0);
  std::mt19937_64 rng(42);
  std::vector<MaterialGraph> graphs;
  for (int i = 0; i < 512; ++i)
    graphs.push_back(kind == 0 ? polymer_like(rng) : kind == 1 ? crystal_like(rng) : composition_like(rng));
  Setup s;
  s.infer = sozai::batch_graphs(graphs);
  s.train = sozai::batch_graphs({graphs.begin(), graphs.begin() + 64});
  sozai::gnn::GraphModelConfig c;
  c.kind = kKinds[kind];
  c.node_dim = s.infer.x.size(1);
  c.edge_dim = s.infer.edge_attr.size(1);
  s.model = sozai::gnn::make_graph_model(c);
  s.y = torch::randn({64});
  if (cuda) {
    const torch::Device dev(torch::kCUDA);
    s.model->to(dev);
    s.infer = sozai::to_device(s.infer, dev);
    s.train = sozai::to_device(s.train, dev);
    s.y = s.y.to(dev);
  }
  return cache.emplace(key, std::move(s)).first->second;
}

void sync(bool cuda) {
  if (cuda) torch::cuda::synchronize();
}

void BM_Train(benchmark::State& state) {
  const bool cuda = state.range(1) == 1;
  auto& s = setup(static_cast<int>(state.range(0)), cuda);
  s.model->train();
  torch::optim::AdamW opt(s.model->parameters(), torch::optim::AdamWOptions(1e-3));
  for (auto _ : state) {
    auto out = s.model->forward(s.train, {});
    auto loss = 0.5 * (out.log_var + (s.y - out.mean).pow(2) * torch::exp(-out.log_var)).mean();
    opt.zero_grad();
    loss.backward();
    opt.step();
    sync(cuda);
  }
  state.SetItemsProcessed(state.iterations() * 64);
  state.counters["graphs/s"] = benchmark::Counter(static_cast<double>(state.iterations() * 64),
                                                  benchmark::Counter::kIsRate);
}

void BM_Infer(benchmark::State& state) {
  const bool cuda = state.range(1) == 1;
  auto& s = setup(static_cast<int>(state.range(0)), cuda);
  s.model->eval();
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.model->forward(s.infer, {}).mean);
    sync(cuda);
  }
  state.SetItemsProcessed(state.iterations() * 512);
  state.counters["graphs/s"] = benchmark::Counter(static_cast<double>(state.iterations() * 512),
                                                  benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  for (int64_t cuda = 0; cuda < 2; ++cuda) {
    if (cuda == 1 && !torch::cuda::is_available()) break;
    for (int64_t kind = 0; kind < 3; ++kind) {
      const std::string dev = cuda ? "/cuda" : "/cpu";
      benchmark::RegisterBenchmark((std::string("train_step/") + kKinds[kind] + dev).c_str(), BM_Train)
          ->Args({kind, cuda})
          ->Unit(benchmark::kMillisecond)
          ->MinWarmUpTime(0.2)
          ->UseRealTime();
      benchmark::RegisterBenchmark((std::string("inference/") + kKinds[kind] + dev).c_str(), BM_Infer)
          ->Args({kind, cuda})
          ->Unit(benchmark::kMillisecond)
          ->MinWarmUpTime(0.2)
          ->UseRealTime();
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
