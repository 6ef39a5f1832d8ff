#pragma once
/// Periodic crystal graphs (CGCNN-style) from Structures or from CIF/POSCAR
/// text: one node per site, one directed edge per (centre, neighbour,
/// image) within a cutoff, the neighbours found by kernels::neighbor_list.
///
/// Edge orientation. MaterialGraph messages flow edge_index[0] ->
/// edge_index[1], so the centre atom, which aggregates its neighbours, is
/// the TARGET: edge_index[1] = centre i, edge_index[0] = neighbour j. The
/// image is the lattice shift of the target, as graph.h defines it:
/// distance = |pos[i] + image . L - pos[j]|. In ASE/pymatgen terms an edge
/// (i, j, S) of `neighbor_list("ijS")` / `get_neighbor_list` is here
/// edge_index = (j, i), image = -S. Without max_neighbors both lists hold
/// every pair in both directions, so the two sets of (row 0, row 1, image)
/// are the same set.
///
/// max_neighbors keeps, per centre, the nearest ones: edges are sorted by
/// centre, then by distance, ties by neighbour index then image
/// (lexicographic), and the first max_neighbors are kept. Neighbours tied
/// at the cut are thus chosen by index, not all kept (CGCNN keeps a fixed
/// count too). The truncated graph is not symmetric.
///
/// Partial occupancy: every site of the Structure is a node; its
/// occupancy is node_weight (1 for ordered sites). Species sharing a
/// position are separate nodes joined by zero-length edges.

#include "datasets/graph.h"
#include "datasets/structure.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sozai {

/// How a crystal becomes a graph; defaults are CGCNN's (Xie & Grossman,
/// PRL 120, 145301 (2018)): 8 Å, 12 neighbours, 40 Gaussians.
struct CrystalGraphConfig {
  double cutoff = 8.0;          ///< Å; pairs with distance < cutoff are edges
  int64_t max_neighbors = 12;   ///< nearest kept per centre; -1 keeps all within the cutoff
  int64_t n_gaussians = 40;     ///< width of edge_attr (>= 2)
  /// Node features are one-hot atomic numbers 1..max_z (column Z - 1);
  /// a site with Z > max_z is an InputError. Element-property features
  /// (datasets/elements.h) are not used yet: one-hot keeps the graph
  /// self-contained and lets the model learn its own embedding.
  int64_t max_z = 100;
};

/// Gaussian distance expansion, CGCNN's GaussianDistance: centres
/// mu_k = linspace(0, cutoff, n) and width sigma = cutoff / (n - 1) (the
/// spacing); out[e, k] = exp(-(d_e - mu_k)^2 / sigma^2).
/// distance: [E] float; returns [E, n] float32.
torch::Tensor gaussian_expansion(const torch::Tensor& distance, double cutoff, int64_t n);

/// The graph of one structure, kind "crystal": x [N, max_z] float32 one-hot,
/// atomic_number [N] int64, node_weight [N] float32 (occupancy),
/// edge_index [2, E] int64 (neighbour -> centre, see above), image [E, 3]
/// int64, distance [E] float32, edge_attr [E, n_gaussians] float32,
/// positions [N, 3] float64 (Cartesian, Å), lattice [3, 3] float64.
/// InputError for a bad configuration or Z > max_z.
MaterialGraph crystal_graph(const Structure& structure, const CrystalGraphConfig& config = {});
/// parse_structure(text), then crystal_graph.
MaterialGraph crystal_graph(const std::string& text, const CrystalGraphConfig& config = {});

/// Many structures as one GraphBatch (same fields as crystal_graph but no
/// positions/lattice, which GraphBatch lacks), built with ONE batched
/// neighbour-list call over all structures (ptr = node offsets). Identical
/// to batch_graphs of the single graphs.
GraphBatch crystal_graphs(const std::vector<Structure>& structures, const CrystalGraphConfig& config = {});
/// Parses every text (CIF or POSCAR) first; an error names the text's
/// index: "crystal_graphs: structure 17: CIF line 5: ...".
GraphBatch crystal_graphs(const std::vector<std::string>& texts, const CrystalGraphConfig& config = {});

}  // namespace sozai
