// sozai.kernels.neighbor_list: numpy in, numpy out; the kernel runs with the
// GIL released.
#include "convert.h"

#include "kernels/neighbor_list.h"

#include <array>

namespace sozai {

namespace {

using IndexArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

/// pbc: one truth value for all axes, or a sequence of three.
std::array<bool, 3> parse_pbc(const py::object& pbc) {
  if (py::isinstance<py::sequence>(pbc) && !py::isinstance<py::str>(pbc)) {
    auto seq = pbc.cast<py::sequence>();
    SOZAI_CHECK(seq.size() == 3, "neighbor_list: pbc must be a bool or 3 bools, got a sequence of ", seq.size());
    return {py::bool_(seq[0]).cast<bool>(), py::bool_(seq[1]).cast<bool>(), py::bool_(seq[2]).cast<bool>()};
  }
  const bool all = py::bool_(pbc).cast<bool>();
  return {all, all, all};
}

}  // namespace

void bind_neighbors(py::module_& root) {
  auto m = root.attr("kernels").cast<py::module_>();
  m.def(
      "neighbor_list",
      [](const DoubleArray& positions, const py::object& lattice, double cutoff, const py::object& pbc,
         const py::object& max_neighbors, const py::object& ptr) {
        auto pos = to_tensor(positions, 2, "positions");
        torch::Tensor lat;
        if (!lattice.is_none()) lat = to_tensor(lattice.cast<DoubleArray>(), -1, "lattice");
        torch::Tensor p;
        if (!ptr.is_none()) {
          auto a = ptr.cast<IndexArray>();
          SOZAI_CHECK(a.ndim() == 1, "neighbor_list: ptr must be a 1-D array, got ", a.ndim(), "-D");
          p = torch::from_blob(const_cast<int64_t*>(a.data()), {static_cast<int64_t>(a.size())}, torch::kInt64)
                  .clone();
        }
        const auto periodic = parse_pbc(pbc);
        const int64_t k = max_neighbors.is_none() ? -1 : max_neighbors.cast<int64_t>();
        kernels::NeighborList out;
        {
          py::gil_scoped_release release;
          out = kernels::neighbor_list(pos, lat, cutoff, p, periodic, k);
        }
        return py::make_tuple(to_numpy_int64(out.edge_index), to_numpy_int64(out.image), to_numpy(out.distance));
      },
      py::arg("positions"), py::arg("lattice"), py::arg("cutoff"), py::arg("pbc") = true,
      py::arg("max_neighbors") = py::none(), py::arg("ptr") = py::none(),
      "All pairs closer than `cutoff` under periodic boundary conditions, for one or a batch of structures.\n\n"
      "positions: [N, 3] cartesian; lattice: [3, 3] or [B, 3, 3] (rows = lattice vectors) or None for a\n"
      "molecule; pbc: bool or 3 bools; max_neighbors: keep the nearest k per centre (None = all);\n"
      "ptr: [B + 1] offsets of each structure's atoms (None = one structure).\n"
      "Returns (edge_index [2, E] int64 (centre, neighbour), images [E, 3] int64, distances [E] float64),\n"
      "sorted by centre then distance; the edge vector is positions[j] + images @ lattice - positions[i].\n\n"
      ">>> ei, S, d = sozai.kernels.neighbor_list([[0.0, 0.0, 0.0]], 3.0 * np.eye(3), 3.5)  # doctest: +SKIP\n"
      ">>> d\n"
      "array([3., 3., 3., 3., 3., 3.])");
}

}  // namespace sozai
