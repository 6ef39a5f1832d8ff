#pragma once
/// PolymerMPNN: directed-bond message passing (D-MPNN) on polymer
/// repeat-unit graphs, after Yang et al., "Analyzing Learned Molecular
/// Representations for Property Prediction", J. Chem. Inf. Model. 59, 3370
/// (2019) and its implementation, chemprop.
///
/// Messages live on directed bonds, not atoms: the state of bond u -> v
/// collects the bonds arriving at u except the one coming back from v, so a
/// message never returns along the bond it just took (no "totters", the
/// reason D-MPNN beats atom-centred MPNNs on molecular properties). On a
/// repeat unit the periodic bond closes the chain, so messages run around
/// the infinite polymer rather than stopping at the end markers.
///
/// With F = node_dim, Fe = edge_dim, H = hidden, for every edge k = u -> v:
///   h_k^0   = ReLU(W_i [x_u, e_k])                                   [E, H]
///   m_k^t   = sum_{edges j = w -> u} h_j^{t-1}  -  h_{rev(k)}^{t-1}   [E, H]
///   h_k^t   = Dropout(ReLU(h_k^0 + W_m m_k^t))       t = 1..layers
///   h_v     = ReLU(W_o [x_v, sum_{edges k into v} h_k^layers])       [N, H]
///   g       = sum_{v in graph} w_v h_v / sum_{v in graph} w_v       [B, H]
///             (w = node_weight when the batch has one, else 1: the
///              fraction-weighted pooling of blends)
///   (mean, log_var) = MLP([g, conditions])                          [B], [B]
/// W_i and W_m have no bias (as in chemprop: h^0 carries the offset).
/// The embedding returned is g.
///
/// Edge layout it relies on (datasets/polymer.h): the reverse of edge k is
/// edge k ^ 1, i.e. the two directions of a bond are stored consecutively
/// (the periodic pair too, also when it is a self-loop). forward() checks
/// this and raises InputError naming the first edge that breaks it.

#include "models/gnn/graph_model.h"

#include <memory>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

namespace sozai {
namespace gnn {

class PolymerMPNN : public GraphModel {
 public:
  /// config: node_dim > 0 (60 for polymer_graph), edge_dim >= 0 (15 for
  /// polymer_graph; 0 when the graphs carry no edge features), hidden > 0,
  /// layers >= 1, head_hidden > 0, 0 <= dropout < 1, condition_dim >= 0.
  /// InputError otherwise.
  explicit PolymerMPNN(GraphModelConfig config);

 protected:
  /// What forward() and encode() (GraphModel) take, checked there:
  /// graphs: a GraphBatch on the device of the model (floating fields are
  /// cast to the parameters' dtype), with edge_index [2, E] in the
  /// reverse-pair layout above; node_weight [N] (optional, >= 0, positive
  /// sum per graph). conditions: [B, condition_dim], or undefined/empty
  /// when condition_dim = 0.
  /// Graphs of one node and no edge (a lone ion) are allowed: their node
  /// state is ReLU(W_o [x_v, 0]). A graph with several nodes and no edge,
  /// an empty graph, non-finite features, wrong widths, an edge without its
  /// reverse at k ^ 1, or a bad node_weight give InputError; tensors on a
  /// device other than the model's give DeviceError.
  /// Returns the pooled states [B, hidden]; forward() puts the head on
  /// them, encode() hands them on.
  torch::Tensor pool_graphs(const GraphBatch& graphs) override;

 private:
  torch::nn::Linear w_i_{nullptr};  ///< [F + Fe] -> H, no bias
  torch::nn::Linear w_m_{nullptr};  ///< H -> H, no bias
  torch::nn::Linear w_o_{nullptr};  ///< [F + H] -> H
  torch::nn::Dropout dropout_{nullptr};
};

/// The factory make_graph_model uses for kind "polymer".
std::shared_ptr<GraphModel> make_polymer_mpnn(const GraphModelConfig& config);

}  // namespace gnn
}  // namespace sozai
