#pragma once
/// Graph neural network surrogates: the interface every architecture
/// implements (CrystalGraphNet, PolymerMPNN, CompositionNet) so that the
/// ensemble, the trainer and save/load treat them alike.
///
/// A model maps a GraphBatch (and optional per-graph conditions, e.g.
/// process temperatures) to a per-graph predictive mean and log-variance
/// (a mean-variance head: the aleatoric part of a deep ensemble's
/// uncertainty) plus the pooled embedding the head saw (for deep-kernel
/// GPs). Everything runs on the device and in the dtype of the model's
/// parameters; graphs are moved there by the caller.

#include "datasets/graph.h"

#include <cstdint>
#include <memory>
#include <string>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

namespace sozai {
namespace gnn {

/// Sizes of a model. node_dim / edge_dim / condition_dim must match the
/// featuriser's output (x.size(1), edge_attr.size(1), conditions.size(1)).
struct GraphModelConfig {
  std::string kind;            ///< "crystal", "polymer" or "composition"
  int64_t node_dim = 0;
  int64_t edge_dim = 0;        ///< 0 when the graphs carry no edge features
  int64_t condition_dim = 0;   ///< per-graph conditions concatenated before the head (0: none)
  /// Width of node/edge states. 0: the architecture's reference width
  /// (default_hidden): 128 polymer (chemprop uses 300), 64 crystal
  /// (CGCNN's atom_fea_len), 64 composition (Roost's elem_fea_len).
  int64_t hidden = 0;
  int64_t layers = 3;          ///< message-passing steps
  int64_t head_hidden = 128;   ///< width of the MLP head
  double dropout = 0.0;        ///< dropout in the head (MC dropout when kept on at prediction)
  /// Composition only: width of a learnt per-element embedding table
  /// (parameter "elements" [104, element_dim], rows by Z) whose row joins
  /// each node's features before the input layer; it is set from mat2vec
  /// or Magpie by pretraining (models/gnn/pretrain.h). 0: none.
  int64_t element_dim = 0;
};

struct GraphOutput {
  torch::Tensor mean;       ///< [B] predictive mean (standardised target units)
  torch::Tensor log_var;    ///< [B] log of the predicted (aleatoric) variance
  torch::Tensor embedding;  ///< [B, D] pooled graph representation (head input without conditions)
};

/// Base of every architecture. Implementations validate their input with
/// check_input() and raise InputError for graphs they cannot take (no
/// edges where edges are needed, NaN features, wrong feature width).
class GraphModel : public torch::nn::Module {
 public:
  explicit GraphModel(GraphModelConfig config) : config_(std::move(config)) {}
  ~GraphModel() override = default;
  /// The head on the pooled states, with the conditions appended: mean,
  /// log variance and the pooled states as the embedding. Checks the batch
  /// and the conditions first (check_input).
  GraphOutput forward(const GraphBatch& graphs, const torch::Tensor& conditions);
  /// The pooled graph states [B, hidden] alone (the part of the model a
  /// pretrained network hands on; no head, no conditions). Checks the batch.
  torch::Tensor encode(const GraphBatch& graphs);
  /// The mean-variance head ([hidden + condition_dim] -> 2).
  torch::nn::Sequential& head() { return head_; }
  const GraphModelConfig& config() const { return config_; }

  /// A head's mean and log variance for pooled graph states [B, H], the
  /// per-graph conditions [B, C] appended when `condition_dim` > 0; the
  /// pooled states are the embedding.
  static GraphOutput head_output(torch::nn::Sequential& head, const torch::Tensor& pooled,
                                 const torch::Tensor& conditions, int64_t condition_dim);

 protected:
  /// Shapes, widths, finiteness and devices of a batch against the config
  /// and the model: every graph has a node, edge_index is int64 [2, E]
  /// within range and never joins two graphs (a graph of several nodes and
  /// no edge is refused; one node and no edge is allowed), node_weight
  /// (when present) is finite, >= 0 and sums to > 0 per graph; conditions
  /// [B, condition_dim] finite, or none when condition_dim = 0.
  /// InputError / DeviceError.
  void check_input(const GraphBatch& graphs, const torch::Tensor& conditions) const;
  /// The architecture's pooled graph states [B, hidden] for a checked batch.
  virtual torch::Tensor pool_graphs(const GraphBatch& graphs) = 0;

  /// Registered by each architecture's constructor (as "head"), in its own
  /// place in the order of registration.
  torch::nn::Sequential head_{nullptr};

 private:
  void check_graphs(const GraphBatch& graphs) const;
  GraphModelConfig config_;
};

/// The reference width of an architecture (hidden = 0 resolves to it).
int64_t default_hidden(const std::string& kind);

/// Builds the architecture named by config.kind (InputError otherwise);
/// hidden = 0 becomes default_hidden(kind).
std::shared_ptr<GraphModel> make_graph_model(const GraphModelConfig& config);

}  // namespace gnn
}  // namespace sozai
