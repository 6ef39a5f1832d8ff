// sozai.featurize: polymers and molecules through RDKit (datasets/polymer.h).
// Functions taking a list release the GIL: they parse in parallel and the
// result only touches Python when converted to numpy afterwards.
#include "convert.h"

#include <pybind11/stl.h>

#include "datasets/polymer.h"

namespace sozai {

namespace {

/// int32 tensor -> int32 numpy array (counts stay 4 bytes per slot, as in
/// RDKit's GetCountFingerprintAsNumPy, instead of to_numpy_any's int64).
py::array_t<int32_t> to_numpy_int32(const torch::Tensor& t) { return tensor_to_numpy<int32_t>(t); }

py::dict composite_dict(const PolymerComposite& c) {
  py::dict filler;
  for (size_t i = 0; i < c.filler.size(); ++i) filler[c.filler.symbol(i)] = c.filler.fractions[i];
  py::dict out;
  out["matrix_smiles"] = c.matrix_smiles;
  out["matrix_kind"] = c.matrix_kind;
  out["filler_formula"] = c.filler_formula;
  out["filler_composition"] = filler;
  out["volume_fraction"] = c.volume_fraction;
  return out;
}

using Many = torch::Tensor (*)(const std::vector<std::string>&, int64_t, int64_t);
using One = torch::Tensor (*)(const std::string&, int64_t, int64_t);

/// A fingerprint for a list of SMILES (the GIL released while RDKit works)
/// and for one, under one name.
template <typename Convert>
void def_fingerprint(py::module_& m, const char* name, Many many, One one, Convert convert, const char* doc) {
  m.def(
      name,
      [many, convert](const std::vector<std::string>& smiles, int64_t radius, int64_t n_bits) {
        torch::Tensor t;
        {
          py::gil_scoped_release nogil;
          t = many(smiles, radius, n_bits);
        }
        return convert(t);
      },
      py::arg("smiles"), py::arg("radius") = 2, py::arg("n_bits") = 2048, doc);
  m.def(
      name, [one, convert](const std::string& smiles, int64_t radius, int64_t n_bits) { return convert(one(smiles, radius, n_bits)); },
      py::arg("smiles"), py::arg("radius") = 2, py::arg("n_bits") = 2048, doc);
}

}  // namespace

void bind_polymer(py::module_& root) {
  py::module_ m = root.attr("featurize");

  m.def("polymer_atom_feature_names", &polymer_atom_feature_names,
        "Names of the columns of a polymer/molecule graph's node features, in order.\n\n"
        ">>> sozai.featurize.polymer_atom_feature_names()[:2]\n['element=H', 'element=Li']");
  m.def("polymer_bond_feature_names", &polymer_bond_feature_names,
        "Names of the columns of a polymer/molecule graph's edge features; the last is 'periodic'.\n\n"
        ">>> sozai.featurize.polymer_bond_feature_names()[-1]\n'periodic'");

  m.def("polymer_graph", &polymer_graph, py::arg("smiles"),
        "Repeat-unit SMILES with two end markers (*, [*], [*:1]) -> Graph of kind 'polymer'.\n\n"
        "The markers are removed and the two atoms they were bonded to are joined by the\n"
        "periodic bond (both directions, last two edges, periodic=True), so the graph describes\n"
        "the infinite chain; when both markers sit on one atom (*C*) the periodic bond is a\n"
        "self-loop stored twice. A SMILES without markers gives a Graph of kind 'molecule'.\n"
        "Columns: polymer_atom_feature_names(), polymer_bond_feature_names().\n"
        "Raises InputError naming the SMILES (unparsable, 1 or >2 markers, marker with >1 bond).\n\n"
        ">>> g = sozai.featurize.polymer_graph('*CC*')\n"
        ">>> g.num_nodes, g.num_edges, g.periodic.tolist()\n"
        "(2, 4, [False, False, True, True])");
  m.def(
      "polymer_graphs",
      [](const std::vector<std::string>& smiles) {
        py::gil_scoped_release nogil;
        return polymer_graphs(smiles);
      },
      py::arg("smiles"),
      "polymer_graph of every SMILES in a list, as one GraphBatch (all polymers or all molecules).\n\n"
      ">>> b = sozai.featurize.polymer_graphs(['*CC*', '*CC(*)c1ccccc1'])\n"
      ">>> b.num_graphs, b.ptr.tolist()\n(2, [0, 2, 10])");

  m.def(
      "polymer_features",
      [](const std::vector<std::string>& smiles, int64_t radius, int64_t n_bits) {
        PolymerFeatures f;
        {
          py::gil_scoped_release nogil;
          f = polymer_features(smiles, radius, n_bits);
        }
        return py::make_tuple(py::cast(std::move(f.graphs)), to_numpy_int64(f.fingerprints));
      },
      py::arg("smiles"), py::arg("radius") = 2, py::arg("n_bits") = 2048,
      "polymer_graphs(smiles) and morgan_fingerprint(smiles, radius, n_bits) from one parse of each\n"
      "SMILES -> (GraphBatch, int64 [n, ceil(n_bits/64)]). Same results as the two calls, about\n"
      "half the time (parsing and sanitising dominate both).\n\n"
      ">>> graphs, fps = sozai.featurize.polymer_features(['*CC*', '*CC(*)C'])\n"
      ">>> graphs.num_graphs, fps.shape\n(2, (2, 32))");

  const char* fp_doc =
      "Morgan fingerprint, bit-packed: int64 [ceil(n_bits/64)] for one SMILES, [n, words] for a list.\n\n"
      "Bit k sits in word k // 64 at position k % 64 (kernels.pack_bits' layout, ready for\n"
      "tanimoto). Equal bit for bit to RDKit's\n"
      "rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits).GetFingerprint(\n"
      "Chem.MolFromSmiles(smiles)); end markers stay in as RDKit's dummy atoms.\n\n"
      ">>> sozai.featurize.morgan_fingerprint('*CC*', radius=2, n_bits=2048).shape\n(32,)";
  def_fingerprint(m, "morgan_fingerprint", static_cast<Many>(&morgan_fingerprint), static_cast<One>(&morgan_fingerprint),
                  to_numpy_int64, fp_doc);

  const char* counts_doc =
      "Hashed Morgan counts: int32 [n_bits] for one SMILES, [n, n_bits] for a list.\n\n"
      "Equal to RDKit's GetMorganGenerator(radius=radius, fpSize=n_bits)\n"
      ".GetCountFingerprintAsNumPy(Chem.MolFromSmiles(smiles)).\n\n"
      ">>> int(sozai.featurize.morgan_counts('*CC*', n_bits=64).sum()) > 0\nTrue";
  def_fingerprint(m, "morgan_counts", static_cast<Many>(&morgan_counts), static_cast<One>(&morgan_counts), to_numpy_int32,
                  counts_doc);

  py::class_<PolymerBlend>(m, "PolymerBlend",
                           "A blend or copolymer: components' graphs (GraphBatch, graph i = component i),\n"
                           "normalised fractions, and each node's component fraction as graphs.node_weight.")
      .def_readonly("smiles", &PolymerBlend::smiles)
      .def_readonly("kinds", &PolymerBlend::kinds, "'polymer' or 'molecule' per component")
      .def_property_readonly("fractions", [](const PolymerBlend& b) { return to_numpy(b.fractions); },
                             "[B] float64, sum 1")
      .def_readonly("graphs", &PolymerBlend::graphs, "GraphBatch; node_weight [N] = fraction of the node's component")
      .def("__len__", [](const PolymerBlend& b) { return b.smiles.size(); })
      .def("__repr__", [](const PolymerBlend& b) {
        return str("<sozai.featurize.PolymerBlend of ", b.smiles.size(), " components, kind ", b.graphs.kind, ">");
      });
  m.def(
      "polymer_blend",
      [](const std::vector<std::string>& smiles, const std::vector<double>& fractions) {
        py::gil_scoped_release nogil;
        return polymer_blend(smiles, fractions);
      },
      py::arg("smiles"), py::arg("fractions"),
      "Blend or copolymer as fraction-weighted repeat units -> PolymerBlend.\n\n"
      "fractions: one per SMILES, >= 0, positive sum; normalised to sum 1 (70/30 ratios work).\n"
      "graphs.kind is 'polymer'/'molecule' when all components share it, else 'blend'.\n\n"
      ">>> b = sozai.featurize.polymer_blend(['*CC*', '*CC(*)C'], [70, 30])\n"
      ">>> b.fractions.tolist(), b.graphs.node_weight.tolist()[:2]\n"
      "([0.7, 0.3], [0.699999988079071, 0.699999988079071])");
  m.def(
      "blend_fingerprint_counts",
      [](const std::vector<std::string>& smiles, const std::vector<double>& fractions, int64_t radius,
         int64_t n_bits) {
        torch::Tensor t;
        {
          py::gil_scoped_release nogil;
          t = blend_fingerprint_counts(smiles, fractions, radius, n_bits);
        }
        return to_numpy(t);
      },
      py::arg("smiles"), py::arg("fractions"), py::arg("radius") = 2, py::arg("n_bits") = 2048,
      "Fraction-weighted Morgan counts sum_i f_i * counts_i (fractions normalised): float64 [n_bits].\n\n"
      ">>> sozai.featurize.blend_fingerprint_counts(['*CC*', '*CC(*)C'], [0.5, 0.5], n_bits=64).shape\n(64,)");
  m.def(
      "composite",
      [](const std::string& matrix_smiles, const std::string& filler_formula, double volume_fraction) {
        return composite_dict(composite(matrix_smiles, filler_formula, volume_fraction));
      },
      py::arg("matrix_smiles"), py::arg("filler_formula"), py::arg("volume_fraction"),
      "Polymer-ceramic composite, validated -> dict(matrix_smiles, matrix_kind, filler_formula,\n"
      "filler_composition {element: fraction}, volume_fraction).\n\n"
      "InputError unless 0 <= volume_fraction <= 1, the matrix SMILES passes polymer_graph's checks\n"
      "and the filler formula parses.\n\n"
      ">>> sozai.featurize.composite('*CC(*)(C)C(=O)OC', 'BaTiO3', 0.2)['filler_composition']['Ti']\n0.2");
}

}  // namespace sozai
