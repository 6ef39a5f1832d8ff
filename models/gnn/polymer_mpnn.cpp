#include "common/error.h"
#include "kernels/segment.h"
#include "models/gnn/layers.h"
#include "models/gnn/polymer_mpnn.h"

#include <string>
#include <utility>

namespace sozai {
namespace gnn {

namespace {

/// Index of the reverse of every edge under the pair layout: 1, 0, 3, 2, ...
/// (k ^ 1), built with tensor ops so it lives on the edges' device.
torch::Tensor reverse_index(int64_t num_edges, const torch::TensorOptions& options) {
  return torch::arange(num_edges, options).view({-1, 2}).flip({1}).reshape({-1});
}

/// Graph id of the node `node` for error messages.
int64_t graph_of_node(const GraphBatch& g, int64_t node) {
  if (g.batch.defined() && node >= 0 && node < g.batch.numel()) return g.batch[node].item<int64_t>();
  return -1;
}

/// The reverse-pair layout every D-MPNN step relies on (check_input has
/// checked the index dtype, range and device).
void check_edges(const GraphBatch& g) {
  const int64_t num_edges = g.num_edges();
  if (num_edges == 0) return;
  const auto& ei = g.edge_index;
  SOZAI_CHECK(num_edges % 2 == 0, "polymer_mpnn: ", num_edges,
              " edges; directed-bond message passing needs both directions of every bond stored as consecutive "
              "pairs (the reverse of edge k at k ^ 1), so E must be even");
  const auto src = ei[0];
  const auto dst = ei[1];
  const auto rev = reverse_index(num_edges, ei.options());
  const auto bad = torch::nonzero((src != dst.index_select(0, rev)).logical_or(dst != src.index_select(0, rev)));
  if (bad.numel() > 0) {
    const int64_t k = bad[0][0].item<int64_t>();
    const int64_t r = k ^ 1;
    const int64_t u = src[k].item<int64_t>(), v = dst[k].item<int64_t>();
    throw InputError(str("polymer_mpnn: edge ", k, " (", u, " -> ", v, ", graph ", graph_of_node(g, u),
                         ") has no reverse at edge ", r, ", which is ", src[r].item<int64_t>(), " -> ",
                         dst[r].item<int64_t>(), "; expected ", v, " -> ", u,
                         " (both directions of a bond must be stored consecutively, as polymer_graph does)"));
  }
}

}  // namespace

PolymerMPNN::PolymerMPNN(GraphModelConfig config) : GraphModel(std::move(config)) {
  const auto& c = this->config();
  SOZAI_CHECK(c.node_dim > 0 && c.edge_dim >= 0 && c.condition_dim >= 0, "polymer_mpnn: expected node_dim > 0, ",
              "edge_dim >= 0, condition_dim >= 0, got ", c.node_dim, ", ", c.edge_dim, ", ", c.condition_dim);
  SOZAI_CHECK(c.hidden > 0 && c.head_hidden > 0, "polymer_mpnn: expected hidden > 0 and head_hidden > 0, got ",
              c.hidden, " and ", c.head_hidden);
  // layers = 0 would leave W_m untrained dead weight; D-MPNN needs >= 1 step.
  SOZAI_CHECK(c.layers >= 1, "polymer_mpnn: expected layers >= 1, got ", c.layers);
  SOZAI_CHECK(c.dropout >= 0 && c.dropout < 1, "polymer_mpnn: expected 0 <= dropout < 1, got ", c.dropout);
  w_i_ = register_module("w_i",
                         torch::nn::Linear(torch::nn::LinearOptions(c.node_dim + c.edge_dim, c.hidden).bias(false)));
  w_m_ = register_module("w_m", torch::nn::Linear(torch::nn::LinearOptions(c.hidden, c.hidden).bias(false)));
  w_o_ = register_module("w_o", torch::nn::Linear(c.node_dim + c.hidden, c.hidden));
  dropout_ = register_module("dropout", torch::nn::Dropout(c.dropout));
  head_ = register_module("head", mlp(c.hidden + c.condition_dim, c.head_hidden, 2, 1, c.dropout));
}

torch::Tensor PolymerMPNN::pool_graphs(const GraphBatch& g) {
  // The checks (GraphModel::check_input) refuse graphs of several nodes and
  // no edge (nothing could pass between their atoms) but let a one-node
  // graph (a lone ion) through.
  const auto& c = config();
  const auto dtype = w_o_->weight.scalar_type();
  const auto device = w_o_->weight.device();
  check_edges(g);

  const int64_t num_nodes = g.num_nodes();
  const int64_t num_edges = g.num_edges();
  const auto ptr = g.ptr.to(device);

  torch::Tensor weight;  // [N, 1] pooling weights (blends), undefined for a plain mean
  torch::Tensor weight_sum;
  if (g.node_weight.defined()) {  // validated by check_input
    weight = g.node_weight.to(device, dtype);
    weight_sum = kernels::segment_sum(weight.unsqueeze(1), ptr);  // [B, 1]
  }

  const auto x = g.x.to(dtype);
  torch::Tensor incoming;  // [N, H]: sum of the final states of the edges into each node
  if (num_edges > 0) {
    const auto src = g.edge_index[0];
    const auto dst = g.edge_index[1];
    const auto rev = reverse_index(num_edges, g.edge_index.options());
    auto input = x.index_select(0, src);
    if (c.edge_dim > 0) input = torch::cat({input, g.edge_attr.to(dtype)}, 1);
    const auto h0 = torch::relu(w_i_->forward(input));
    auto h = h0;
    for (int64_t t = 0; t < c.layers; ++t) {
      // Everything arriving at the source u, minus what came back from v:
      // the message of u -> v never contains v's own last message.
      const auto at_node = kernels::scatter_sum(h, dst, num_nodes);
      const auto m = at_node.index_select(0, src) - h.index_select(0, rev);
      h = dropout_->forward(torch::relu(h0 + w_m_->forward(m)));
    }
    incoming = kernels::scatter_sum(h, dst, num_nodes);
  } else {
    // Only lone atoms in this batch (check_input rejected anything else).
    incoming = torch::zeros({num_nodes, c.hidden}, x.options());
  }
  const auto nodes = torch::relu(w_o_->forward(torch::cat({x, incoming}, 1)));

  torch::Tensor pooled;
  if (weight.defined()) {
    pooled = kernels::segment_sum(nodes * weight.unsqueeze(1), ptr) / weight_sum;
  } else {
    pooled = kernels::segment_mean(nodes, ptr);
  }
  return pooled;
}

std::shared_ptr<GraphModel> make_polymer_mpnn(const GraphModelConfig& config) {
  return std::make_shared<PolymerMPNN>(config);
}

}  // namespace gnn
}  // namespace sozai
