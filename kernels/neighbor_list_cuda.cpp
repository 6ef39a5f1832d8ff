// Host half of the CUDA neighbour list: count, allocate, fill through the
// pointer-only launchers, then order and truncate on the device with
// LibTorch ops.
#ifdef SOZAI_WITH_CUDA

#include "kernels/neighbor_list.h"
#include "kernels/neighbor_list_cuda_launch.h"

#include <ATen/ATen.h>

#ifdef SOZAI_TORCH_HAS_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace sozai {
namespace kernels {

NeighborList neighbor_list_cuda(const torch::Tensor& positions, const torch::Tensor& lattices, double cutoff,
                                const torch::Tensor& ptr, std::array<bool, 3> periodic, int64_t max_neighbors) {
  void* stream = nullptr;
#ifdef SOZAI_TORCH_HAS_CUDA
  c10::cuda::CUDAGuard guard(positions.device());
  stream = c10::cuda::getCurrentCUDAStream(positions.device().index()).stream();
#endif
  const int64_t n = positions.size(0);
  const auto idx = positions.options().dtype(torch::kInt64);
  NeighborSearchArgs args;
  args.positions = positions.data_ptr<double>();
  args.lattices = lattices.data_ptr<double>();
  args.ptr = ptr.data_ptr<int64_t>();
  args.n = n;
  args.batch = ptr.size(0) - 1;
  args.cutoff = cutoff;
  args.periodic_mask = (periodic[0] ? 1 : 0) | (periodic[1] ? 2 : 0) | (periodic[2] ? 4 : 0);

  auto counts = torch::empty({n}, idx);
  launch_neighbor_count(args, counts.data_ptr<int64_t>(), stream);
  auto ends = counts.cumsum(0);
  auto offsets = ends - counts;  // exclusive prefix sum: first edge of each centre
  const int64_t edges = n > 0 ? ends[n - 1].item<int64_t>() : 0;

  auto neighbor = torch::empty({edges}, idx);
  auto image = torch::empty({edges, 3}, idx);
  auto distance = torch::empty({edges}, positions.options());
  if (edges > 0) {
    launch_neighbor_fill(args, offsets.data_ptr<int64_t>(), neighbor.data_ptr<int64_t>(),
                         image.data_ptr<int64_t>(), distance.data_ptr<double>(), stream);
  }
  auto centre = torch::repeat_interleave(counts);

  // Order (centre, distance, j, S): the fill wrote each centre's edges
  // contiguously in (j, S) order, so two stable sorts (minor key first)
  // finish the job.
  auto by_distance = std::get<1>(at::sort(distance, /*stable=*/true, /*dim=*/0, /*descending=*/false));
  auto by_centre = std::get<1>(at::sort(centre.index_select(0, by_distance), /*stable=*/true, 0, false));
  auto perm = by_distance.index_select(0, by_centre);
  if (max_neighbors >= 0) {
    // After the sort the edges of centre c occupy offsets[c] .. ends[c] - 1
    // again, so an edge's rank within its centre is its position minus that.
    auto sorted_centre = centre.index_select(0, perm);
    auto rank = torch::arange(edges, idx) - offsets.index_select(0, sorted_centre);
    perm = perm.masked_select(rank < max_neighbors);
  }
  auto c = centre.index_select(0, perm);
  auto j = neighbor.index_select(0, perm);
  return {torch::stack({c, j}), image.index_select(0, perm), distance.index_select(0, perm)};
}

}  // namespace kernels
}  // namespace sozai

#endif  // SOZAI_WITH_CUDA
