#pragma once
/// Host-side launchers of the CUDA neighbour list. Plain pointers, so that
/// the .cu unit never includes LibTorch headers (which differ between the
/// CPU-only LibTorch of the build machine and a CUDA one).
///
/// The search is a per-centre brute force over the atoms of the centre's
/// structure times the image range of each pair (crystals are small), run
/// twice: once to count the edges of every centre, once to write them at
/// offsets the caller derives from the counts. Within a centre the edges are
/// written by neighbour index j, then image S lexicographically, so a stable
/// sort by distance gives the documented order.

#include <cstdint>

namespace sozai {
namespace kernels {

/// Device pointers: positions [n, 3] double; lattices [batch, 3, 3] double
/// (effective lattices, see nl::effective_lattice); ptr [batch + 1] int64.
/// periodic_mask: bit k set when axis k is periodic. stream: a cudaStream_t
/// (nullptr = default stream).
struct NeighborSearchArgs {
  const double* positions;
  const double* lattices;
  const int64_t* ptr;
  int64_t n;
  int64_t batch;
  double cutoff;
  int periodic_mask;
};

/// counts [n] int64: number of neighbours of each centre.
void launch_neighbor_count(const NeighborSearchArgs& args, int64_t* counts, void* stream);

/// offsets [n] int64: exclusive prefix sum of the counts. Writes, per edge,
/// neighbour [E] int64, image [E, 3] int64 and distance [E] double.
void launch_neighbor_fill(const NeighborSearchArgs& args, const int64_t* offsets, int64_t* neighbor,
                          int64_t* image, double* distance, void* stream);

}  // namespace kernels
}  // namespace sozai
