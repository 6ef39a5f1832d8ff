#include "common/error.h"
#include "kernels/segment.h"
#include "models/gnn/crystal_net.h"
#include "models/gnn/layers.h"

#include <string>
#include <torch/nn/functional/activation.h>

namespace sozai {
namespace gnn {

CrystalConvImpl::CrystalConvImpl(int64_t hidden, int64_t edge_dim) : hidden_(hidden) {
  // No bias: BN_1 follows and its shift does the same job (a bias here would
  // get no gradient in training mode).
  full_ = register_module(
      "full", torch::nn::Linear(torch::nn::LinearOptions(2 * hidden + edge_dim, 2 * hidden).bias(false)));
  bn_edges_ = register_module("bn_edges", torch::nn::BatchNorm1d(2 * hidden));
  bn_nodes_ = register_module("bn_nodes", torch::nn::BatchNorm1d(hidden));
}

torch::Tensor CrystalConvImpl::forward(const torch::Tensor& h, const torch::Tensor& edge_attr,
                                       const torch::Tensor& src, const torch::Tensor& dst) {
  const int64_t n = h.size(0);
  torch::Tensor summed;
  if (src.numel() == 0) {
    // Only lone atoms without images: nothing arrives. BatchNorm of an empty
    // edge set would fail, and the sum of no messages is zero anyway.
    summed = torch::zeros({n, hidden_}, h.options());
  } else {
    std::vector<torch::Tensor> parts = {h.index_select(0, dst), h.index_select(0, src)};
    if (edge_attr.defined() && edge_attr.size(1) > 0) parts.push_back(edge_attr);
    auto gates = bn_edges_->forward(full_->forward(torch::cat(parts, 1)));
    auto fc = gates.chunk(2, 1);
    auto messages = torch::sigmoid(fc[0]) * torch::nn::functional::softplus(fc[1]);
    summed = kernels::scatter_sum(messages, dst, n);
  }
  return torch::nn::functional::softplus(h + bn_nodes_->forward(summed));
}

CrystalGraphNet::CrystalGraphNet(GraphModelConfig config) : GraphModel(std::move(config)) {
  const auto& c = this->config();
  SOZAI_CHECK(c.node_dim > 0 && c.edge_dim >= 0 && c.condition_dim >= 0, "crystal model: need node_dim > 0, ",
              "edge_dim >= 0 and condition_dim >= 0, got node_dim=", c.node_dim, " edge_dim=", c.edge_dim,
              " condition_dim=", c.condition_dim);
  SOZAI_CHECK(c.hidden > 0 && c.layers >= 1 && c.head_hidden > 0, "crystal model: need hidden > 0, layers >= 1 ",
              "and head_hidden > 0, got hidden=", c.hidden, " layers=", c.layers, " head_hidden=", c.head_hidden);
  SOZAI_CHECK(c.dropout >= 0.0 && c.dropout < 1.0, "crystal model: dropout must be in [0, 1), got ", c.dropout);
  embed_ = register_module("embed", torch::nn::Linear(c.node_dim, c.hidden));
  for (int64_t t = 0; t < c.layers; ++t) {
    convs_.push_back(register_module("conv" + std::to_string(t), CrystalConv(c.hidden, c.edge_dim)));
  }
  head_ = register_module("head", mlp(c.hidden + c.condition_dim, c.head_hidden, 2, 1, c.dropout));
}

torch::Tensor CrystalGraphNet::pool_graphs(const GraphBatch& graphs) {
  const auto& c = config();
  const auto dtype = embed_->weight.scalar_type();
  const int64_t n = graphs.num_nodes();
  const int64_t e = graphs.num_edges();

  if (is_training()) {
    // BatchNorm's batch statistics need more than one row; say so before
    // LibTorch's less helpful message.
    SOZAI_CHECK(n > 1 && e != 1, "crystal model: in training mode BatchNorm needs more than one atom and more ",
                "than one edge per batch, got ", n, " atoms and ", e, " edges (call eval() to predict)");
  }

  // Occupancies (validated by check_input) weight the mean pooling.
  torch::Tensor weight, total;
  if (graphs.node_weight.defined()) {
    weight = graphs.node_weight.to(dtype);
    total = pool_nodes(weight.unsqueeze(1), graphs.ptr, "sum");  // [B, 1]
  }

  auto src = graphs.edge_index[0].to(torch::kLong);
  auto dst = graphs.edge_index[1].to(torch::kLong);
  torch::Tensor edge_attr;
  if (c.edge_dim > 0 && e > 0) edge_attr = graphs.edge_attr.to(dtype);

  auto h = embed_->forward(graphs.x.to(dtype));
  for (auto& conv : convs_) h = conv->forward(h, edge_attr, src, dst);

  torch::Tensor pooled;
  if (weight.defined()) {
    // Occupancy-weighted mean: a half-occupied site counts half (equal to
    // CGCNN's plain mean when every site is fully occupied).
    pooled = pool_nodes(h, graphs.ptr, "sum", weight) / total;
  } else {
    pooled = pool_nodes(h, graphs.ptr, "mean");
  }

  return pooled;
}

std::shared_ptr<GraphModel> make_crystal_graph_net(const GraphModelConfig& config) {
  return std::make_shared<CrystalGraphNet>(config);
}

}  // namespace gnn
}  // namespace sozai
