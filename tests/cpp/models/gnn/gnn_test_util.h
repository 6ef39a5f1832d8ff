#pragma once
// Helpers shared by the graph-network tests. Include after catch.hpp.

#include "datasets/graph.h"
#include "models/gnn/graph_model.h"

#include <cstdint>
#include <vector>

namespace sozai {
namespace test {

/// The same graphs with nodes renumbered inside every graph and edges
/// shuffled inside every graph's edge range (ptr and edge_ptr stay valid);
/// every per-node and per-edge field follows its node or edge.
inline GraphBatch permuted(const GraphBatch& g, uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t b = g.num_graphs();
  auto ptr = g.ptr.accessor<int64_t, 1>();
  auto eptr = g.edge_ptr.accessor<int64_t, 1>();
  std::vector<torch::Tensor> order, eorder;
  for (int64_t i = 0; i < b; ++i) {
    order.push_back(torch::randperm(ptr[i + 1] - ptr[i], torch::kLong) + ptr[i]);
    eorder.push_back(torch::randperm(eptr[i + 1] - eptr[i], torch::kLong) + eptr[i]);
  }
  auto o = torch::cat(order);    // new node k is old node o[k]
  auto eo = torch::cat(eorder);  // new edge k is old edge eo[k]
  auto inv = torch::empty_like(o);
  inv.index_put_({o}, torch::arange(o.numel(), torch::kLong));
  auto nodes = [&](const torch::Tensor& t) { return t.defined() ? t.index_select(0, o) : t; };
  auto edges = [&](const torch::Tensor& t) { return t.defined() ? t.index_select(0, eo) : t; };
  GraphBatch p = g;
  p.x = nodes(g.x);
  p.atomic_number = nodes(g.atomic_number);
  p.batch = nodes(g.batch);
  p.node_weight = nodes(g.node_weight);
  p.edge_index = inv.index_select(0, g.edge_index.reshape(-1)).reshape({2, -1}).index_select(1, eo);
  p.edge_attr = edges(g.edge_attr);
  p.distance = edges(g.distance);
  p.image = edges(g.image);
  p.periodic = edges(g.periodic);
  // A real renumbering, not the identity (else the test could not fail).
  REQUIRE_FALSE(torch::equal(p.edge_index, g.edge_index));
  return p;
}

/// Mean Gaussian negative log-likelihood of y under a model's output.
inline double nll(const gnn::GraphOutput& out, const torch::Tensor& y) {
  auto r = y.to(out.mean.dtype()) - out.mean;
  return (0.5 * (out.log_var + r * r * torch::exp(-out.log_var))).mean().item<double>();
}

/// Trains in rounds until the goals are met, within a budget: `first`
/// calls of step(), then `round` at a time, asking done() after each
/// round, until it says yes or `budget` steps are spent. Returns the steps.
/// (A fixed step count is fragile: where a short spike of the loss falls
/// depends on float rounding, i.e. on the SIMD path LibTorch picks.)
template <typename Step, typename Done>
int train_in_rounds(int first, int round, int budget, Step&& step, Done&& done) {
  int steps = 0;
  for (int n = first;; n = round) {
    for (int i = 0; i < n; ++i) step();
    steps += n;
    if (done() || steps >= budget) return steps;
  }
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b.to(a.device())).abs().max().item<double>();
}

}  // namespace test
}  // namespace sozai
