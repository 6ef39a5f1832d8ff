#pragma once
/// CrystalGraphNet: gated crystal-graph convolutions (CGCNN) on periodic
/// crystal graphs, after Xie & Grossman, "Crystal Graph Convolutional
/// Neural Networks for an Accurate and Interpretable Prediction of
/// Material Properties", Phys. Rev. Lett. 120, 145301 (2018), eq. 5, and
/// its reference implementation (github.com/txie-93/cgcnn, model.py).
///
/// With F = node_dim, Fe = edge_dim, H = hidden, for every edge j -> i
/// (edge_index[0] = j the neighbour, edge_index[1] = i the centre, as
/// datasets/crystal_graph.h builds them):
///   h^0        = W_emb x                                              [N, H]
///   z_ij       = [h_i, h_j, e_ij]                                     [E, 2H + Fe]
///   (f, c)     = split(BN_1(W_t z_ij + b_t))                          [E, H] each
///   m_ij       = sigmoid(f) * softplus(c)                             [E, H]
///   h_i^{t+1}  = softplus(h_i^t + BN_2(sum_{j -> i} m_ij))   t = 0..layers-1
///   g          = sum_{i in graph} w_i h_i / sum_{i in graph} w_i      [B, H]
///                (w = node_weight, the site occupancy, when the batch has
///                 one, else 1: the plain mean of CGCNN for ordered crystals)
///   (mean, log_var) = MLP([g, conditions])                            [B], [B]
/// The sigmoid "filter" lets each neighbour gate how much of its softplus
/// "core" reaches the centre, which is what lets CGCNN weigh neighbours of
/// different distance differently (the Gaussian-expanded e_ij). The
/// embedding returned is g.
///
/// BatchNorm: in training mode BN_1 normalises over the edges and BN_2 over
/// the nodes of the batch, so training needs more than one node and more
/// than one edge per batch (InputError otherwise) and a graph's output
/// depends on the other graphs of its batch. For prediction call eval():
/// BatchNorm then uses its running statistics, and every graph's output
/// depends on that graph alone (and is invariant to renumbering its atoms
/// or reordering its edges). MC dropout at prediction: eval() the model,
/// then train() only the head's Dropout modules, so BatchNorm keeps its
/// running statistics.

#include "models/gnn/graph_model.h"

#include <memory>
#include <vector>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace sozai {
namespace gnn {

/// One gated convolution of CGCNN (the block inside the formula above).
class CrystalConvImpl : public torch::nn::Module {
 public:
  /// hidden: H > 0; edge_dim: Fe >= 0.
  CrystalConvImpl(int64_t hidden, int64_t edge_dim);

  /// h: [N, H] node states; edge_attr: [E, Fe] (undefined when Fe = 0);
  /// src, dst: [E] int64 neighbour and centre of every edge, in [0, N).
  /// Inputs are trusted (CrystalGraphNet::forward validates them).
  /// Returns the new node states [N, H].
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& edge_attr, const torch::Tensor& src,
                        const torch::Tensor& dst);

 private:
  int64_t hidden_;
  torch::nn::Linear full_{nullptr};         ///< [2H + Fe] -> 2H (filter and core together)
  torch::nn::BatchNorm1d bn_edges_{nullptr};///< over the 2H gate pre-activations, per edge
  torch::nn::BatchNorm1d bn_nodes_{nullptr};///< over the H summed messages, per node
};
TORCH_MODULE(CrystalConv);

class CrystalGraphNet : public GraphModel {
 public:
  /// config: node_dim > 0 (100 for crystal_graphs' one-hot Z), edge_dim >= 0
  /// (40 for crystal_graphs' Gaussians; 0 when the graphs carry no edge
  /// features), hidden > 0, layers >= 1, head_hidden > 0, 0 <= dropout < 1,
  /// condition_dim >= 0. InputError otherwise.
  explicit CrystalGraphNet(GraphModelConfig config);

 protected:
  /// What forward() and encode() (GraphModel) take, checked there:
  /// graphs: a GraphBatch on the device of the model (floating fields are
  /// cast to the parameters' dtype) with edge_index [2, E] neighbour ->
  /// centre; node_weight [N] (optional: occupancy, >= 0 with a positive sum
  /// per graph). conditions: [B, condition_dim], or undefined/empty when
  /// condition_dim = 0.
  /// A graph of several atoms and no edge, an empty batch, non-finite
  /// features, wrong widths, edge indices outside [0, N), a bad node_weight,
  /// or (training mode only) a batch of one node or one edge give
  /// InputError; tensors on a device other than the model's give
  /// DeviceError. A one-atom crystal without edges is allowed (its state is
  /// softplus(h + BN_2(0)) after every layer); with the default cutoff its
  /// periodic self-images are edges anyway.
  /// Returns the pooled states [B, hidden]; forward() puts the head on
  /// them, encode() hands them on.
  torch::Tensor pool_graphs(const GraphBatch& graphs) override;

 private:
  torch::nn::Linear embed_{nullptr};     ///< F -> H
  std::vector<CrystalConv> convs_;       ///< `layers` convolutions, registered as conv0, conv1, ...
};

/// The factory make_graph_model uses for kind "crystal".
std::shared_ptr<GraphModel> make_crystal_graph_net(const GraphModelConfig& config);
/// Same as make_crystal_graph_net (the name the GNN issue's wiring uses).
inline std::shared_ptr<GraphModel> make_crystal_net(const GraphModelConfig& config) {
  return make_crystal_graph_net(config);
}

}  // namespace gnn
}  // namespace sozai
