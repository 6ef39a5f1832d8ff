// sozai.featurize: crystals. CIF/POSCAR text -> Structure -> periodic
// crystal graph (datasets/structure.h, datasets/crystal_graph.h).
#include "convert.h"

#include <pybind11/stl.h>

#include <optional>

#include "datasets/crystal_graph.h"
#include "datasets/structure.h"

namespace sozai {

namespace {

/// Python's max_neighbors=None (every neighbour within the cutoff) is the
/// C++ -1.
CrystalGraphConfig make_config(double cutoff, std::optional<int64_t> max_neighbors, int64_t n_gaussians) {
  CrystalGraphConfig c;
  c.cutoff = cutoff;
  if (max_neighbors) {
    SOZAI_CHECK(*max_neighbors >= 0, "crystal_graph: max_neighbors must be >= 0, or None to keep every neighbour "
                "within the cutoff, got ", *max_neighbors);
  }
  c.max_neighbors = max_neighbors ? *max_neighbors : -1;
  c.n_gaussians = n_gaussians;
  return c;
}

}  // namespace

void bind_crystal(py::module_& root) {
  auto m = py::module_(root.attr("featurize"));

  py::class_<Structure>(m, "Structure",
                        "A periodic crystal read from CIF or POSCAR text (see parse_structure).\n\n"
                        ">>> s = sozai.featurize.parse_structure(open('NaCl.cif').read())  # doctest: +SKIP\n"
                        ">>> s.lattice.shape, s.species[:2]  # doctest: +SKIP\n"
                        "((3, 3), ['Na', 'Na'])")
      .def_readonly("name", &Structure::name, "CIF data block name or POSCAR comment line")
      .def_property_readonly("lattice", [](const Structure& s) { return to_numpy(s.lattice); },
                             "[3, 3] float64, rows are the lattice vectors (Å)")
      .def_readonly("species", &Structure::species, "element symbol of every site")
      .def_readonly("labels", &Structure::labels, "CIF site labels (the symbol for POSCAR)")
      .def_property_readonly("atomic_numbers", [](const Structure& s) { return to_numpy_int64(s.atomic_number); },
                             "[N] int64")
      .def_property_readonly("frac_coords", [](const Structure& s) { return to_numpy(s.frac_coords); },
                             "[N, 3] float64 fractional coordinates")
      .def_property_readonly("cart_coords", [](const Structure& s) { return to_numpy(s.cart_coords); },
                             "[N, 3] float64 Cartesian coordinates (Å) = frac_coords @ lattice")
      .def_property_readonly("occupancies", [](const Structure& s) { return to_numpy(s.occupancy); },
                             "[N] float64 site occupancies in (0, 1]")
      .def_property_readonly("oxidation_states",
                             [](const Structure& s) {
                               py::array_t<double> out(static_cast<py::ssize_t>(s.oxidation_state.size()));
                               std::copy(s.oxidation_state.begin(), s.oxidation_state.end(), out.mutable_data());
                               return out;
                             },
                             "[N] float64 oxidation states from CIF symbols like 'Fe3+', NaN where none")
      .def_property_readonly("num_sites", &Structure::num_sites)
      .def("__len__", &Structure::num_sites)
      .def("__repr__", [](const Structure& s) {
        return str("<sozai.featurize.Structure '", s.name, "': ", s.num_sites(), " sites>");
      });

  m.def(
      "parse_cif",
      [](const std::string& text, int64_t block, double site_tolerance) {
        CifOptions o;
        o.block = block;
        o.site_tolerance = site_tolerance;
        return parse_cif(text, o);
      },
      py::arg("text"), py::arg("block") = 0, py::arg("site_tolerance") = 1e-4,
      py::call_guard<py::gil_scoped_release>(),
      "Parses CIF text (data block `block`, 0 = first), applying its symmetry operators; images of one site\n"
      "closer than site_tolerance (fractional, per axis) are merged. Raises InputError naming the line.\n\n"
      ">>> s = sozai.featurize.parse_cif(text)  # doctest: +SKIP\n"
      ">>> s.frac_coords.shape  # doctest: +SKIP\n(5, 3)");
  m.def("parse_poscar", &parse_poscar, py::arg("text"), py::call_guard<py::gil_scoped_release>(),
        "Parses VASP POSCAR/CONTCAR text (VASP 4 or 5, Direct or Cartesian, selective dynamics, scale factor).\n\n"
        ">>> s = sozai.featurize.parse_poscar(open('POSCAR').read())  # doctest: +SKIP\n"
        ">>> s.species  # doctest: +SKIP\n['Si', 'Si']");
  m.def("parse_structure", &parse_structure, py::arg("text"), py::call_guard<py::gil_scoped_release>(),
        "Parses CIF (when a line starts with data_) or POSCAR text into a Structure.\n\n"
        ">>> s = sozai.featurize.parse_structure(cif_text)  # doctest: +SKIP\n"
        ">>> s.lattice, s.species, s.frac_coords, s.cart_coords, s.atomic_numbers  # doctest: +SKIP");

  m.def(
      "crystal_graph",
      [](const std::string& text, double cutoff, std::optional<int64_t> max_neighbors, int64_t n_gaussians) {
        return crystal_graph(text, make_config(cutoff, max_neighbors, n_gaussians));
      },
      py::arg("text"), py::arg("cutoff") = 8.0, py::arg("max_neighbors") = 12, py::arg("n_gaussians") = 40,
      py::call_guard<py::gil_scoped_release>(),
      "Periodic crystal graph of CIF or POSCAR text (kind 'crystal').\n\n"
      "Nodes: one per site; x = one-hot atomic number (100 columns), node_weight = occupancy.\n"
      "Edges: every neighbour closer than `cutoff` Å, the `max_neighbors` nearest per centre (None keeps all).\n"
      "edge_index[1] is the centre (the target that aggregates), edge_index[0] its neighbour; `images` is the\n"
      "lattice shift of the centre and `distance` = |positions[c] + images @ lattice - positions[n]|; in\n"
      "pymatgen/ASE terms an edge (i, j, S) is (edge_index[1], edge_index[0], -images).\n"
      "edge_attr: Gaussian expansion of the distance (centres linspace(0, cutoff, n_gaussians), width = spacing).\n\n"
      ">>> g = sozai.featurize.crystal_graph(cif_text, cutoff=8.0, max_neighbors=12)  # doctest: +SKIP\n"
      ">>> g.num_edges == 12 * g.num_nodes, g.distance.max() < 8.0  # doctest: +SKIP\n(True, True)");
  m.def(
      "crystal_graph",
      [](const Structure& s, double cutoff, std::optional<int64_t> max_neighbors, int64_t n_gaussians) {
        return crystal_graph(s, make_config(cutoff, max_neighbors, n_gaussians));
      },
      py::arg("structure"), py::arg("cutoff") = 8.0, py::arg("max_neighbors") = 12, py::arg("n_gaussians") = 40,
      py::call_guard<py::gil_scoped_release>(), "Same, from a parsed Structure.");
  m.def(
      "crystal_graphs",
      [](const std::vector<std::string>& texts, double cutoff, std::optional<int64_t> max_neighbors,
         int64_t n_gaussians) { return crystal_graphs(texts, make_config(cutoff, max_neighbors, n_gaussians)); },
      py::arg("texts"), py::arg("cutoff") = 8.0, py::arg("max_neighbors") = 12, py::arg("n_gaussians") = 40,
      py::call_guard<py::gil_scoped_release>(),
      "Crystal graphs of many CIF/POSCAR texts as one GraphBatch (ptr, edge_ptr, batch), built with one batched\n"
      "neighbour-list call; graph i equals crystal_graph(texts[i]). Errors name the index of the bad text.\n\n"
      ">>> b = sozai.featurize.crystal_graphs(df.cif.tolist())  # doctest: +SKIP\n"
      ">>> b.num_graphs, b.ptr[:3]  # doctest: +SKIP");
  m.def(
      "crystal_graphs",
      [](const std::vector<Structure>& structures, double cutoff, std::optional<int64_t> max_neighbors,
         int64_t n_gaussians) { return crystal_graphs(structures, make_config(cutoff, max_neighbors, n_gaussians)); },
      py::arg("structures"), py::arg("cutoff") = 8.0, py::arg("max_neighbors") = 12, py::arg("n_gaussians") = 40,
      py::call_guard<py::gil_scoped_release>(), "Same, from parsed Structures.");
  m.def(
      "gaussian_expansion",
      [](const DoubleArray& distance, double cutoff, int64_t n) {
        return to_numpy_any(gaussian_expansion(to_tensor(distance, 1, "distance"), cutoff, n));
      },
      py::arg("distance"), py::arg("cutoff") = 8.0, py::arg("n") = 40,
      "CGCNN Gaussian distance expansion: exp(-(d - mu_k)^2 / sigma^2), mu = linspace(0, cutoff, n),\n"
      "sigma = cutoff / (n - 1). Returns [E, n] float32.\n\n"
      ">>> sozai.featurize.gaussian_expansion(np.array([0.0, 8.0])).shape  # doctest: +SKIP\n(2, 40)");
}

}  // namespace sozai
