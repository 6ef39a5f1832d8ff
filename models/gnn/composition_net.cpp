#include "common/error.h"
#include "datasets/elements.h"
#include "kernels/segment.h"
#include "models/gnn/composition_net.h"
#include "models/gnn/layers.h"

#include <string>
#include <utility>
#include <vector>
#include <torch/nn/modules/linear.h>

namespace sozai {
namespace gnn {

namespace {

/// Roost's gate and message networks have one hidden layer of 256 units; we
/// use H so that the model's width is set in one place.
constexpr int64_t kAttentionDepth = 1;
/// Two hidden layers in the head: Roost's output network is a deep residual
/// MLP, and one layer underfits the step from a pooled composition to a
/// property plus its variance.
constexpr int64_t kHeadDepth = 2;

}  // namespace

CompositionMessageImpl::CompositionMessageImpl(int64_t hidden, int64_t edge_dim, int64_t heads) {
  const int64_t in = 2 * hidden + edge_dim;
  for (int64_t k = 0; k < heads; ++k) {
    gates_.push_back(register_module("gate" + std::to_string(k), mlp(in, hidden, 1, kAttentionDepth)));
    messages_.push_back(register_module("msg" + std::to_string(k), mlp(in, hidden, hidden, kAttentionDepth)));
  }
  // Roost draws each head's power from N(0, 1): heads start with different
  // preferences for major or minor elements.
  powers_ = register_parameter("pow", torch::randn({heads}));
}

namespace {

/// The Linear layers of a depth-1 mlp: (first, second).
std::pair<torch::nn::LinearImpl*, torch::nn::LinearImpl*> linears(torch::nn::Sequential& seq) {
  return {seq[0]->as<torch::nn::LinearImpl>(), seq[2]->as<torch::nn::LinearImpl>()};
}

}  // namespace

torch::Tensor CompositionMessageImpl::forward(const torch::Tensor& h, const torch::Tensor& log_w,
                                              const torch::Tensor& edge_attr, const torch::Tensor& src,
                                              const torch::Tensor& dst) {
  // Every gate and message network is Linear -> SiLU -> Linear on
  // z_ij = [h_i, h_j, e_ij]. Two identities keep the matrix products on the
  // nodes instead of the k (k - 1) edges of each composition (the same
  // numbers up to rounding; 3-6x fewer operations at 4-6 elements):
  // - the first Linear splits by the blocks of z: W z_ij + b =
  //   W_i h_i + W_j h_j + W_e e_ij + b, so W_i h and W_j h are computed once
  //   per node (all heads' gate and message layers in one product) and
  //   gathered per edge;
  // - the second Linear of the message network commutes with the
  //   attention sum: sum_j a_ij (V s_ij + c) = V (sum_j a_ij s_ij)
  //   + c sum_j a_ij, so it acts on the summed hidden states per node.
  const int64_t n = h.size(0);
  const int64_t H = h.size(1);
  const auto heads = static_cast<int64_t>(gates_.size());
  std::vector<torch::Tensor> w1, b1;
  for (int64_t k = 0; k < heads; ++k) {
    for (auto* seq : {&gates_[k], &messages_[k]}) {
      auto* first = linears(*seq).first;
      w1.push_back(first->weight);
      b1.push_back(first->bias);
    }
  }
  const auto W = torch::cat(w1, 0);  // [2KH, 2H + Fe]: gate0, msg0, gate1, msg1, ...
  const auto node_dst = torch::mm(h, W.narrow(1, 0, H).t());  // [N, 2KH]
  const auto node_src = torch::mm(h, W.narrow(1, H, H).t());  // [N, 2KH]
  auto pre = node_dst.index_select(0, dst) + node_src.index_select(0, src);  // [E, 2KH]
  if (edge_attr.defined()) pre = torch::addmm(pre, edge_attr, W.narrow(1, 2 * H, W.size(1) - 2 * H).t());
  const auto hidden = torch::silu(pre + torch::cat(b1, 0));  // [E, 2KH]
  const auto log_w_src = log_w.index_select(0, src);        // [E]
  torch::Tensor update;
  for (int64_t k = 0; k < heads; ++k) {
    const auto gate_hidden = hidden.narrow(1, 2 * k * H, H);
    const auto msg_hidden = hidden.narrow(1, (2 * k + 1) * H, H);
    auto* gate_out = linears(gates_[k]).second;
    auto* msg_out = linears(messages_[k]).second;
    // w_j^p exp(g) normalised over i's incoming edges, computed in log space
    // (softmax of g + p log w): no overflow for tiny fractions or large p.
    auto scores = torch::addmm(gate_out->bias, gate_hidden, gate_out->weight.t()).squeeze(1) +
                  powers_[k] * log_w_src;
    auto attention = segment_softmax(scores, dst, n);                                    // [E]
    auto summed = kernels::scatter_sum(msg_hidden * attention.unsqueeze(1), dst, n);     // [N, H]
    auto weight_sum = kernels::scatter_sum(attention, dst, n);                           // [N]: 1, or 0 without edges
    auto messages = torch::addmm(torch::outer(weight_sum, msg_out->bias), summed, msg_out->weight.t());
    update = update.defined() ? update + messages : messages;
  }
  return h + update / static_cast<double>(heads);
}

CompositionPoolImpl::CompositionPoolImpl(int64_t hidden, int64_t heads) {
  for (int64_t k = 0; k < heads; ++k) {
    gates_.push_back(register_module("gate" + std::to_string(k), mlp(hidden, hidden, 1, kAttentionDepth)));
    messages_.push_back(register_module("msg" + std::to_string(k), mlp(hidden, hidden, hidden, kAttentionDepth)));
  }
  powers_ = register_parameter("pow", torch::randn({heads}));
}

torch::Tensor CompositionPoolImpl::forward(const torch::Tensor& h, const torch::Tensor& log_w,
                                           const torch::Tensor& graph, int64_t num_graphs) {
  torch::Tensor pooled;
  const auto heads = static_cast<int64_t>(gates_.size());
  for (int64_t k = 0; k < heads; ++k) {
    auto scores = gates_[k]->forward(h).squeeze(1) + powers_[k] * log_w;
    auto attention = segment_softmax(scores, graph, num_graphs);                      // [N]
    auto r = kernels::scatter_sum(messages_[k]->forward(h) * attention.unsqueeze(1), graph, num_graphs);
    pooled = pooled.defined() ? pooled + r : r;
  }
  return pooled / static_cast<double>(heads);
}

CompositionNet::CompositionNet(GraphModelConfig config) : GraphModel(std::move(config)) {
  const auto& c = this->config();
  SOZAI_CHECK(c.node_dim > 0 && c.edge_dim >= 0 && c.condition_dim >= 0, "composition model: need node_dim > 0, ",
              "edge_dim >= 0 and condition_dim >= 0, got node_dim=", c.node_dim, " edge_dim=", c.edge_dim,
              " condition_dim=", c.condition_dim);
  SOZAI_CHECK(c.hidden >= 2 && c.layers >= 0 && c.head_hidden > 0, "composition model: need hidden >= 2 (one ",
              "column holds the fraction), layers >= 0 and head_hidden > 0, got hidden=", c.hidden,
              " layers=", c.layers, " head_hidden=", c.head_hidden);
  SOZAI_CHECK(c.dropout >= 0.0 && c.dropout < 1.0, "composition model: dropout must be in [0, 1), got ", c.dropout);
  SOZAI_CHECK(c.element_dim >= 0, "composition model: element_dim must be >= 0, got ", c.element_dim);
  embed_ = register_module("embed", torch::nn::Linear(c.node_dim + c.element_dim, c.hidden - 1));
  // Zeros until pretraining sets them from mat2vec or Magpie (or a saved
  // model is loaded); registered after embed_ so that models without the
  // table draw their initial weights exactly as before it existed.
  if (c.element_dim > 0)
    elements_ = register_parameter("elements", torch::zeros({kNumElements + 1, c.element_dim}));
  for (int64_t t = 0; t < c.layers; ++t) {
    steps_.push_back(register_module("step" + std::to_string(t),
                                     CompositionMessage(c.hidden, c.edge_dim, kCompositionHeads)));
  }
  pool_ = register_module("pool", CompositionPool(c.hidden, kCompositionHeads));
  head_ = register_module("head", mlp(c.hidden + c.condition_dim, c.head_hidden, 2, kHeadDepth, c.dropout));
}

torch::Tensor CompositionNet::pool_graphs(const GraphBatch& graphs) {
  // The checks (GraphModel::check_input) refuse only graphs of several
  // nodes without edges; a one-element composition (no edges) passes and
  // skips message passing.
  const auto& c = config();
  const auto& w = embed_->weight;
  const auto device = w.device();
  const auto dtype = w.scalar_type();
  const int64_t n = graphs.num_nodes();
  const int64_t e = graphs.num_edges();
  const int64_t b = graphs.num_graphs();

  const auto& nw = graphs.node_weight;
  SOZAI_CHECK(nw.defined(), "composition model: node_weight (the fractions) is required; composition_graph sets it");
  // check_input has checked its shape, device and finiteness; fractions
  // enter as logarithms, so they must also be strictly positive.
  const auto weight = nw.to(dtype);
  SOZAI_CHECK(torch::isfinite(weight).all().item<bool>() && (weight > 0).all().item<bool>(),
              "composition model: node_weight (fractions) must be finite and > 0");
  const auto log_w = torch::log(weight);

  SOZAI_CHECK(graphs.batch.defined() && graphs.batch.dim() == 1 && graphs.batch.size(0) == n,
              "composition model: expected batch [", n, "], got ",
              graphs.batch.defined() ? graphs.batch.sizes() : torch::IntArrayRef{});
  const auto graph_of = graphs.batch.to(device, torch::kLong);

  torch::Tensor src, dst, edge_attr;
  if (e > 0) {
    src = graphs.edge_index[0];
    dst = graphs.edge_index[1];
    if (c.edge_dim > 0) edge_attr = graphs.edge_attr.to(dtype);
  }

  auto x = graphs.x.to(dtype);
  if (elements_.defined()) {
    const auto& z = graphs.atomic_number;
    SOZAI_CHECK(z.defined() && z.dim() == 1 && z.size(0) == n, "composition model: atomic_number [", n,
                "] is required by the element table (composition_graph sets it)");
    SOZAI_CHECK(n == 0 || (z.min().item<int64_t>() >= 1 && z.max().item<int64_t>() <= kNumElements),
                "composition model: atomic_number outside 1..", kNumElements);
    x = torch::cat({x, elements_.index_select(0, z.to(device, torch::kLong))}, 1);
  }
  auto h = torch::cat({embed_->forward(x), weight.unsqueeze(1)}, 1);  // [N, H]
  // Without edges (only one-element compositions in the batch) nothing is
  // exchanged: each residual step would add zero.
  if (e > 0) {
    for (auto& step : steps_) h = step->forward(h, log_w, edge_attr, src, dst);
  }
  auto pooled = pool_->forward(h, log_w, graph_of, b);  // [B, H]

  return pooled;
}

std::shared_ptr<GraphModel> make_composition_net(const GraphModelConfig& config) {
  return std::make_shared<CompositionNet>(config);
}

}  // namespace gnn
}  // namespace sozai
