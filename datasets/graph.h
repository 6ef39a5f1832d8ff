#pragma once
/// Graphs of materials: one type for molecules and polymer repeat units
/// (atoms, bonds, the periodic bond of the chain), periodic crystals (atoms,
/// neighbours within a cutoff with images and distances) and compositions
/// (elements weighted by their fractions). Models take a GraphBatch: many
/// graphs concatenated, with CSR offsets into nodes and edges.

#include <cstdint>
#include <string>
#include <vector>
#include <torch/types.h>

namespace sozai {

/// One material as a graph. Edges are directed and stored in both
/// directions (message passing reads edge_index[0] -> edge_index[1]).
/// Optional fields are undefined tensors when a kind of graph has none.
struct MaterialGraph {
  std::string kind;            ///< "polymer", "molecule", "crystal" or "composition"
  torch::Tensor x;             ///< [N, F_node] float32 node features
  torch::Tensor edge_index;    ///< [2, E] int64: source row 0, target row 1
  torch::Tensor edge_attr;     ///< [E, F_edge] float32 edge features
  torch::Tensor atomic_number; ///< [N] int64 (0 for a dummy / end-marker atom)
  // Optional, per kind:
  torch::Tensor distance;      ///< [E] float32, crystals: |pos[j] + image.L - pos[i]|
  torch::Tensor image;         ///< [E, 3] int64, crystals: lattice shift of the target
  torch::Tensor periodic;      ///< [E] bool, polymers: the bond that closes the repeat unit
  torch::Tensor node_weight;   ///< [N] float32, compositions (fractions) and blends
  torch::Tensor positions;     ///< [N, 3] float64, crystals: Cartesian, Å
  torch::Tensor lattice;       ///< [3, 3] float64, crystals: rows are the lattice vectors, Å

  int64_t num_nodes() const { return x.defined() ? x.size(0) : 0; }
  int64_t num_edges() const { return edge_index.defined() ? edge_index.size(1) : 0; }
  /// Checks shapes, dtypes and index ranges; InputError naming the field.
  void validate() const;
};

/// Many graphs as one: node and edge tensors concatenated, edge_index
/// shifted by each graph's node offset. ptr/edge_ptr are CSR offsets
/// ([B+1]); batch [N] is the graph id of every node (for pooling).
struct GraphBatch {
  std::string kind;
  torch::Tensor x, edge_index, edge_attr, atomic_number;
  torch::Tensor distance, image, periodic, node_weight;
  torch::Tensor ptr;       ///< [B+1] int64 node offsets
  torch::Tensor edge_ptr;  ///< [B+1] int64 edge offsets
  torch::Tensor batch;     ///< [N] int64 graph id per node

  int64_t num_graphs() const { return ptr.defined() ? ptr.numel() - 1 : 0; }
  int64_t num_nodes() const { return x.defined() ? x.size(0) : 0; }
  int64_t num_edges() const { return edge_index.defined() ? edge_index.size(1) : 0; }
  /// Graph `i` again, as a MaterialGraph (views into the batch).
  MaterialGraph graph(int64_t i) const;
};

/// The graphs `index` (in that order, repeats allowed) of a batch as a new
/// batch: node and edge rows gathered, edge_index and offsets rebuilt. For
/// minibatches and cross-validation folds without re-featurising.
GraphBatch select_graphs(const GraphBatch& batch, const torch::Tensor& index);

/// Moves every tensor of a batch to a device (and floating tensors to a
/// dtype, when given).
GraphBatch to_device(const GraphBatch& batch, const torch::Device& device,
                     c10::optional<torch::ScalarType> float_dtype = c10::nullopt);

/// Concatenates graphs of one kind with equal feature widths; an optional
/// field must be present in all graphs or in none. InputError otherwise,
/// naming the graph and the field.
GraphBatch batch_graphs(const std::vector<MaterialGraph>& graphs);

}  // namespace sozai
