#pragma once
/// CompositionNet: weighted soft-attention message passing over the element
/// graph of a composition (Roost), after Goodall & Lee, "Predicting
/// materials properties without crystal structure: deep representation
/// learning from stoichiometry", Nat. Commun. 11, 6280 (2020), and its
/// reference implementation (github.com/CompRhys/roost, roost/model.py and
/// core.py: MessageLayer, WeightedAttentionPooling).
///
/// Nodes are the elements of a composition (datasets/composition.h:
/// composition_graph), their fractions w are node_weight, and the graph is
/// fully connected. With F = node_dim, Fe = edge_dim, H = hidden, K = 3
/// attention heads, for every edge j -> i (edge_index[0] = j, [1] = i):
///   h^0_i   = [W_emb x_i, w_i]                                          [N, H]
///             (x_i = [Magpie properties, E[Z_i]] when the model has an
///              element table E, element_dim > 0: a learnt embedding per
///              element, set from mat2vec by pretraining as CrabNet does)
///             (H - 1 learnt features and the fraction itself, as Roost
///              appends the fraction to the element embedding: it is the
///              only place a node's own amount enters its state)
///   z_ij    = [h_i, h_j(, e_ij when Fe > 0)]                            [E, 2H + Fe]
///   for head k = 1..K, in step t = 1..layers:
///     g^k_ij  = MLP^k_gate(z_ij)                                        [E]
///     a^k_ij  = w_j^{p_k} exp(g^k_ij) / sum_{l -> i} w_l^{p_k} exp(g^k_il)
///             = softmax over i's incoming edges of g^k_ij + p_k log w_j
///     m^k_ij  = MLP^k_msg(z_ij)                                         [E, H]
///   h^t_i   = h^{t-1}_i + (1/K) sum_k sum_{j -> i} a^k_ij m^k_ij
///   readout, head k = 1..K over the nodes of each graph:
///     b^k_i   = softmax within the graph of MLP^k_pgate(h_i) + q_k log w_i
///     r^k     = sum_{i in graph} b^k_i MLP^k_pmsg(h_i)                  [B, H]
///   g       = (1/K) sum_k r^k                                           [B, H]
///   (mean, log_var) = MLP_head([g, conditions])                          [B], [B]
///             (two hidden layers of head_hidden, dropout after each)
/// p_k and q_k are learnt powers (one per head; drawn from N(0, 1) as in
/// Roost): they let a head attend to the majority elements (p > 0), to the
/// dopants (p < 0) or to every element alike (p = 0). The embedding
/// returned is g.
///
/// A single-element composition has no edges: its state is h^0 (the
/// residual steps add nothing), and its readout is that one element.
/// There is no BatchNorm: every graph's output depends on that graph alone,
/// in train() and eval() alike (dropout in the head aside).

#include "models/gnn/graph_model.h"

#include <memory>
#include <vector>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace sozai {
namespace gnn {

/// Attention heads of every message-passing step and of the readout (Roost's
/// default for both).
constexpr int64_t kCompositionHeads = 3;

/// One residual step of weighted soft attention between the elements
/// (Roost's MessageLayer): K heads, each with its gate MLP, message MLP and
/// power p_k; the heads' updates are averaged and added to h.
class CompositionMessageImpl : public torch::nn::Module {
 public:
  /// hidden: H >= 2; edge_dim: Fe >= 0 (edge features join the gate and
  /// message inputs when > 0).
  CompositionMessageImpl(int64_t hidden, int64_t edge_dim, int64_t heads);

  /// h: [N, H]; log_w: [N] log of the fractions; edge_attr: [E, Fe] or
  /// undefined when Fe = 0; src, dst: [E] int64 in [0, N), E > 0.
  /// Inputs are trusted (CompositionNet::forward validates them).
  /// Returns the new node states [N, H].
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& log_w, const torch::Tensor& edge_attr,
                        const torch::Tensor& src, const torch::Tensor& dst);

 private:
  std::vector<torch::nn::Sequential> gates_;     ///< [2H + Fe] -> 1 per head (gate0, gate1, ...)
  std::vector<torch::nn::Sequential> messages_;  ///< [2H + Fe] -> H per head (msg0, msg1, ...)
  torch::Tensor powers_;                         ///< [K] p_k ("pow")
};
TORCH_MODULE(CompositionMessage);

/// Weighted attention pooling of node states into one vector per graph
/// (Roost's WeightedAttentionPooling, K heads averaged).
class CompositionPoolImpl : public torch::nn::Module {
 public:
  /// hidden: H > 0.
  CompositionPoolImpl(int64_t hidden, int64_t heads);

  /// h: [N, H]; log_w: [N]; graph: [N] int64 graph id of every node in
  /// [0, B); every graph has at least one node. Returns [B, H].
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& log_w, const torch::Tensor& graph,
                        int64_t num_graphs);

 private:
  std::vector<torch::nn::Sequential> gates_;     ///< H -> 1 per head
  std::vector<torch::nn::Sequential> messages_;  ///< H -> H per head
  torch::Tensor powers_;                         ///< [K] q_k ("pow")
};
TORCH_MODULE(CompositionPool);

class CompositionNet : public GraphModel {
 public:
  /// config: node_dim > 0 (22 for composition_graph), edge_dim >= 0 (2 for
  /// composition_graph's (fraction of source, fraction of target); 0 for
  /// Roost proper, which uses no edge features), hidden >= 2 (one column
  /// holds the fraction), layers >= 0 (0: no message passing, a weighted
  /// attention "deep set" of the elements), head_hidden > 0,
  /// 0 <= dropout < 1, condition_dim >= 0. InputError otherwise.
  explicit CompositionNet(GraphModelConfig config);

 protected:
  /// What forward() and encode() (GraphModel) take, checked there:
  /// graphs: a GraphBatch on the device of the model (floating fields are
  /// cast to the parameters' dtype), edges j -> i within each graph;
  /// node_weight [N] required: the fractions, finite and > 0 (they enter
  /// as log w). conditions: [B, condition_dim] (process conditions:
  /// temperatures, route one-hot, ...), or undefined/empty when
  /// condition_dim = 0.
  /// A graph of one element and no edge is allowed. A graph of several
  /// elements and no edge, an empty graph, a missing or non-positive
  /// node_weight, non-finite features, wrong widths, edge indices outside
  /// [0, N) or joining two graphs, or wrong conditions give InputError;
  /// tensors on a device other than the model's give DeviceError.
  /// Returns the pooled states [B, hidden]; forward() puts the head on
  /// them, encode() hands them on.
  torch::Tensor pool_graphs(const GraphBatch& graphs) override;

 private:
  torch::nn::Linear embed_{nullptr};            ///< F (+ element_dim) -> H - 1 (the fraction is the H-th column)
  torch::Tensor elements_;                      ///< [104, element_dim] by Z ("elements"), or undefined
  std::vector<CompositionMessage> steps_;       ///< `layers` residual steps (step0, step1, ...)
  CompositionPool pool_{nullptr};               ///< readout
};

/// The factory make_graph_model uses for kind "composition".
std::shared_ptr<GraphModel> make_composition_net(const GraphModelConfig& config);

}  // namespace gnn
}  // namespace sozai
