// sozai.featurize: the graph types shared by every featuriser. The
// featurisers themselves (compositions, polymers, crystals) add their
// functions to this submodule from their own bind_*.cpp.
#include "convert.h"

#include <pybind11/stl.h>

#include "datasets/graph.h"

namespace sozai {

namespace {

template <typename G>
void graph_fields(py::class_<G>& c) {
  c.def_readonly("kind", &G::kind)
      .def_property_readonly("num_nodes", &G::num_nodes)
      .def_property_readonly("num_edges", &G::num_edges)
      .def_property_readonly("x", [](const G& g) { return to_numpy_any(g.x); }, "[N, F] node features (float32)")
      .def_property_readonly("node_features", [](const G& g) { return to_numpy_any(g.x); }, "Alias of x.")
      .def_property_readonly("edge_index", [](const G& g) { return to_numpy_any(g.edge_index); },
                             "[2, E] int64, source row 0, target row 1; both directions stored")
      .def_property_readonly("edge_attr", [](const G& g) { return to_numpy_any(g.edge_attr); },
                             "[E, F] edge features (float32) or None")
      .def_property_readonly("edge_features", [](const G& g) { return to_numpy_any(g.edge_attr); }, "Alias of edge_attr.")
      .def_property_readonly("atomic_number", [](const G& g) { return to_numpy_any(g.atomic_number); })
      .def_property_readonly("distance", [](const G& g) { return to_numpy_any(g.distance); },
                             "[E] edge lengths in Å (crystals) or None")
      .def_property_readonly("images", [](const G& g) { return to_numpy_any(g.image); },
                             "[E, 3] int64 lattice shifts of the targets (crystals) or None")
      .def_property_readonly("periodic", [](const G& g) { return to_numpy_any(g.periodic); },
                             "[E] bool: the bond that closes a polymer repeat unit, or None")
      .def_property_readonly("node_weight", [](const G& g) { return to_numpy_any(g.node_weight); },
                             "[N] fractions (compositions, blends) or None");
}

}  // namespace

void bind_featurize(py::module_& root) {
  auto m = root.def_submodule("featurize", "Materials in, graphs and features out");
  py::class_<MaterialGraph> g(m, "Graph", "A material as a graph (polymer, molecule, crystal or composition).");
  graph_fields(g);
  g.def_property_readonly("positions", [](const MaterialGraph& x) { return to_numpy_any(x.positions); })
      .def_property_readonly("lattice", [](const MaterialGraph& x) { return to_numpy_any(x.lattice); })
      .def("__repr__", [](const MaterialGraph& x) {
        return str("<sozai.featurize.Graph ", x.kind, ": ", x.num_nodes(), " nodes, ", x.num_edges(), " edges>");
      });
  py::class_<GraphBatch> b(m, "GraphBatch", "Many graphs concatenated, with CSR offsets ptr (nodes) and edge_ptr.");
  graph_fields(b);
  b.def_property_readonly("num_graphs", &GraphBatch::num_graphs)
      .def_property_readonly("ptr", [](const GraphBatch& x) { return to_numpy_any(x.ptr); })
      .def_property_readonly("edge_ptr", [](const GraphBatch& x) { return to_numpy_any(x.edge_ptr); })
      .def_property_readonly("batch", [](const GraphBatch& x) { return to_numpy_any(x.batch); })
      .def("graph", &GraphBatch::graph, py::arg("i"))
      .def("__len__", &GraphBatch::num_graphs)
      .def("__repr__", [](const GraphBatch& x) {
        return str("<sozai.featurize.GraphBatch ", x.kind, ": ", x.num_graphs(), " graphs, ", x.num_nodes(),
                   " nodes, ", x.num_edges(), " edges>");
      });
  m.def(
      "select_graphs",
      [](const GraphBatch& b, const std::vector<int64_t>& index) {
        for (size_t i = 0; i < index.size(); ++i)
          if (index[i] < 0 || index[i] >= b.num_graphs())
            throw InputError(str("select_graphs: index #", i, " = ", index[i], " is outside [0, ", b.num_graphs(), ")"));
        return select_graphs(b, torch::tensor(index, torch::kInt64));
      },
      py::arg("batch"), py::arg("index"),
      "The graphs `index` (in that order) of a batch as a new GraphBatch: minibatches and cross-validation folds "
      "without featurising again.");
  m.def("batch_graphs", &batch_graphs, py::arg("graphs"),
        "Concatenates graphs of one kind into a GraphBatch (edge_index shifted per graph).");
}

}  // namespace sozai
