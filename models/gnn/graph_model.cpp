#include "common/error.h"
#include "kernels/segment.h"
#include "models/gnn/graph_model.h"

namespace sozai {
namespace gnn {

GraphOutput GraphModel::forward(const GraphBatch& graphs, const torch::Tensor& conditions) {
  check_input(graphs, conditions);
  return head_output(head_, pool_graphs(graphs), conditions, config_.condition_dim);
}

torch::Tensor GraphModel::encode(const GraphBatch& graphs) {
  check_graphs(graphs);
  return pool_graphs(graphs);
}

void GraphModel::check_input(const GraphBatch& g, const torch::Tensor& conditions) const {
  check_graphs(g);
  const auto& c = config_;
  const std::string where = str(c.kind, " model");
  const auto params = parameters();
  const auto device = params.empty() ? torch::Device(torch::kCPU) : params.front().device();
  SOZAI_CHECK_T(DeviceError, !conditions.defined() || conditions.numel() == 0 || conditions.device() == device,
                where, ": conditions is on ", conditions.device(), " but the model is on ", device,
                " (move the batch with to_device)");
  if (c.condition_dim > 0) {
    SOZAI_CHECK(conditions.defined() && conditions.dim() == 2 && conditions.size(0) == g.num_graphs() &&
                    conditions.size(1) == c.condition_dim,
                where, ": expected conditions [", g.num_graphs(), ", ", c.condition_dim, "], got ",
                conditions.defined() ? conditions.sizes() : torch::IntArrayRef{});
    SOZAI_CHECK(torch::isfinite(conditions).all().item<bool>(), where, ": conditions contain NaN or infinity");
  } else {
    SOZAI_CHECK(!conditions.defined() || conditions.numel() == 0, where,
                ": conditions given but the model was built with condition_dim = 0");
  }
}

void GraphModel::check_graphs(const GraphBatch& g) const {
  const auto& c = config_;
  const std::string where = str(c.kind, " model");
  SOZAI_CHECK(g.num_graphs() > 0, where, ": the batch holds no graphs");
  const auto params = parameters();
  const auto device = params.empty() ? torch::Device(torch::kCPU) : params.front().device();
  auto same_device = [&](const torch::Tensor& t, const char* what) {
    SOZAI_CHECK_T(DeviceError, !t.defined() || t.device() == device, where, ": ", what, " is on ", t.device(),
                  " but the model is on ", device, " (move the batch with to_device)");
  };
  same_device(g.x, "node features");
  same_device(g.edge_index, "edge_index");
  same_device(g.edge_attr, "edge_attr");
  same_device(g.node_weight, "node_weight");
  const int64_t B = g.num_graphs(), N = g.num_nodes(), E = g.num_edges();
  const auto nodes_per_graph = g.ptr.narrow(0, 1, B) - g.ptr.narrow(0, 0, B);
  SOZAI_CHECK((nodes_per_graph > 0).all().item<bool>(), where, ": every graph needs at least one node");
  if (E > 0) {
    const auto& ei = g.edge_index;
    SOZAI_CHECK(ei.dim() == 2 && ei.size(0) == 2 && ei.scalar_type() == torch::kInt64, where,
                ": expected int64 edge_index [2, E], got ", ei.scalar_type(), " ", ei.sizes());
    // index_select would fail (or read out of bounds on CUDA) on a bad index.
    const auto lo = ei.min().item<int64_t>(), hi = ei.max().item<int64_t>();
    SOZAI_CHECK(lo >= 0 && hi < N, where, ": edge_index values must lie in [0, ", N, "), got [", lo, ", ", hi, "]");
    // An edge between two graphs would mix them and make a prediction depend
    // on its batch-mates.
    auto counts = g.edge_ptr.narrow(0, 1, B) - g.edge_ptr.narrow(0, 0, B);
    auto edge_graph = torch::repeat_interleave(torch::arange(B, counts.options()), counts, 0, E);
    auto node_graph = torch::repeat_interleave(torch::arange(B, nodes_per_graph.options()), nodes_per_graph, 0, N);
    SOZAI_CHECK(torch::equal(node_graph.index_select(0, ei[0]), edge_graph) &&
                    torch::equal(node_graph.index_select(0, ei[1]), edge_graph),
                where, ": an edge joins two different graphs of the batch");
  }
  if (g.node_weight.defined()) {
    const auto& w = g.node_weight;
    SOZAI_CHECK(w.dim() == 1 && w.size(0) == N, where, ": expected node_weight [", N, "], got ", w.sizes());
    SOZAI_CHECK(torch::isfinite(w).all().item<bool>() && (w >= 0).all().item<bool>(), where,
                ": node_weight must be finite and >= 0");
    auto total = std::get<0>(kernels::segment_reduce(w.to(torch::kFloat64), g.ptr, kernels::Reduce::Sum));
    auto zero = torch::nonzero(total <= 0);
    SOZAI_CHECK(zero.numel() == 0, where, ": graph ", zero.numel() ? zero[0][0].item<int64_t>() : -1,
                " has node_weight values summing to 0; its weighted mean is undefined");
  }
  SOZAI_CHECK(g.x.defined() && g.x.dim() == 2 && g.x.size(1) == c.node_dim, where, ": expected node features [N, ",
              c.node_dim, "], got ", g.x.defined() ? g.x.sizes() : torch::IntArrayRef{});
  SOZAI_CHECK(torch::isfinite(g.x).all().item<bool>(), where, ": node features contain NaN or infinity");
  {
    // Every graph needs at least one edge to pass messages; say which does not.
    auto counts = g.edge_ptr.narrow(0, 1, g.num_graphs()) - g.edge_ptr.narrow(0, 0, g.num_graphs());
    auto nodes = g.ptr.narrow(0, 1, g.num_graphs()) - g.ptr.narrow(0, 0, g.num_graphs());
    auto bad = torch::nonzero((counts == 0).logical_and(nodes > 1));
    SOZAI_CHECK(bad.numel() == 0, where, ": graph ", bad.numel() ? bad[0][0].item<int64_t>() : -1,
                " of the batch has several nodes but no edges");
  }
  if (c.edge_dim > 0 && g.num_edges() > 0) {
    SOZAI_CHECK(g.edge_attr.defined() && g.edge_attr.size(1) == c.edge_dim, where, ": expected edge features [E, ",
                c.edge_dim, "], got ", g.edge_attr.defined() ? g.edge_attr.sizes() : torch::IntArrayRef{});
    SOZAI_CHECK(torch::isfinite(g.edge_attr).all().item<bool>(), where, ": edge features contain NaN or infinity");
  }
}

GraphOutput GraphModel::head_output(torch::nn::Sequential& head, const torch::Tensor& pooled,
                                    const torch::Tensor& conditions, int64_t condition_dim) {
  auto head_in = pooled;
  if (condition_dim > 0) head_in = torch::cat({pooled, conditions.to(pooled.options())}, 1);
  auto out = head->forward(head_in);
  return GraphOutput{out.select(1, 0), out.select(1, 1), pooled};
}

}  // namespace gnn
}  // namespace sozai
