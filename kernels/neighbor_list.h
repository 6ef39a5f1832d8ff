#pragma once
/// Periodic neighbour lists: every pair of atoms closer than a cutoff, under
/// periodic boundary conditions, for a batch of crystals (or, without a
/// lattice, for molecules). CPU reference through cell lists (linear time)
/// and a CUDA implementation, chosen by the device of `positions`.

#include "kernels/neighbor_list_impl.h"

#include <array>
#include <cstdint>
#include <torch/types.h>

namespace sozai {
namespace kernels {

/// The edges of a neighbour list, E of them.
///
/// Sorted by centre, then by distance ascending, ties by neighbour index then
/// image (lexicographic); so `max_neighbors` keeps the nearest. The self pair
/// (i, i, S = 0) is never listed; periodic images of the centre itself
/// (i, i, S != 0) are. Pairs never cross structures.
struct NeighborList {
  /// [2, E] int64: row 0 = centre i, row 1 = neighbour j (global atom indices).
  torch::Tensor edge_index;
  /// [E, 3] int64: lattice-vector shifts S, so that the edge vector is
  /// positions[j] + S . lattice - positions[i] (0 along non-periodic axes).
  torch::Tensor image;
  /// [E]: |edge vector| < cutoff, dtype of positions.
  torch::Tensor distance;
};

/// positions: [N, 3] float32/float64, cartesian (they may lie outside the
///   cell: images are reported relative to the positions as given).
/// lattice: [B, 3, 3] or [3, 3] (B = 1), rows = lattice vectors, same dtype
///   and device as positions; an undefined tensor = no periodicity (molecules).
/// cutoff: > 0, finite; pairs with distance < cutoff are listed (as ASE).
/// ptr: [B + 1] int64 CSR offsets of the atoms of each structure (ptr[0] = 0,
///   non-decreasing, ptr[B] = N), same device as positions; undefined = one
///   structure holding all N atoms.
/// pbc: periodicity per lattice axis (ignored without a lattice); lattice
///   vectors of non-periodic axes are not used and may be zero.
/// max_neighbors: keep at most this many nearest neighbours per centre;
///   -1 keeps all.
/// Validates once here (InputError / DeviceError), then calls
/// neighbor_list_cpu or neighbor_list_cuda. N = 0 gives E = 0.
NeighborList neighbor_list(const torch::Tensor& positions, const torch::Tensor& lattice, double cutoff,
                           const torch::Tensor& ptr = {}, std::array<bool, 3> pbc = {true, true, true},
                           int64_t max_neighbors = -1);

/// Backends: inputs already validated; positions [N, 3] float64 contiguous,
/// lattices [B, 3, 3] float64 contiguous (already effective_lattice'd: open
/// axes completed), ptr [B + 1] int64 contiguous, all on the backend's
/// device; periodic as given by the user (all false without a lattice).
/// Distances come back in float64; the entry point casts them.
NeighborList neighbor_list_cpu(const torch::Tensor& positions, const torch::Tensor& lattices, double cutoff,
                               const torch::Tensor& ptr, std::array<bool, 3> periodic, int64_t max_neighbors);
#ifdef SOZAI_WITH_CUDA
NeighborList neighbor_list_cuda(const torch::Tensor& positions, const torch::Tensor& lattices, double cutoff,
                                const torch::Tensor& ptr, std::array<bool, 3> periodic, int64_t max_neighbors);
#endif

}  // namespace kernels
}  // namespace sozai
