// sozai.featurize: compositions, the element table and critical elements
// (datasets/composition.h, datasets/elements.h).
#include "convert.h"

#include <pybind11/stl.h>

#include "datasets/composition.h"
#include "datasets/elements.h"

namespace sozai {

namespace {

py::dict fractions_dict(const Composition& c) {
  py::dict d;
  for (std::size_t i = 0; i < c.size(); ++i) d[py::str(c.symbol(i))] = c.fractions[i];
  return d;
}

std::vector<std::string> symbols_of(const Composition& c) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < c.size(); ++i) out.emplace_back(c.symbol(i));
  return out;
}

py::list critical_list(const std::vector<CriticalMaterial>& list) {
  py::list out;
  for (const auto& m : list) {
    std::vector<std::string> symbols;
    for (int z : m.elements) symbols.emplace_back(element(z).symbol);
    out.append(py::make_tuple(m.name, symbols));
  }
  return out;
}

}  // namespace

void bind_composition(py::module_& root) {
  auto m = py::module_(root.attr("featurize"));

  py::class_<Composition>(m, "Composition",
                          "A parsed formula: elements in order of first appearance, raw amounts and fractions.\n\n"
                          ">>> c = sozai.featurize.parse_formula('Ca(OH)2')\n"
                          ">>> c.symbols, c.amounts\n(['Ca', 'O', 'H'], [1.0, 2.0, 2.0])")
      .def_readonly("formula", &Composition::formula)
      .def_readonly("atomic_numbers", &Composition::atomic_numbers)
      .def_readonly("amounts", &Composition::amounts)
      .def_readonly("fractions", &Composition::fractions)
      .def_readonly("total", &Composition::total)
      .def_property_readonly("symbols", &symbols_of)
      .def("as_dict", &fractions_dict, "Element symbol -> fraction, in order of first appearance.")
      .def("__len__", &Composition::size)
      .def("__repr__", [](const Composition& c) {
        std::string s = "<sozai.featurize.Composition";
        for (std::size_t i = 0; i < c.size(); ++i) s += str(" ", c.symbol(i), ":", c.amounts[i]);
        return s + ">";
      });

  m.def("parse_formula", &parse_formula, py::arg("formula"),
        "Parses a chemical formula into a Composition (raw amounts and fractions).\n\n"
        "Accepts spaces ('Al0.25 Co1 Fe1 Ni1'), decimals and exponents, nested round/square brackets with\n"
        "multipliers ('K4[Fe(CN)6]'), hydrate dots '·' ('CuSO4·5H2O'). An ASCII '.' is always a decimal\n"
        "point. Raises InputError naming the formula and the 1-based character position.\n\n"
        ">>> sozai.featurize.parse_formula('(Ba0.5Sr0.5)TiO3').amounts\n[0.5, 0.5, 1.0, 3.0]");

  m.def(
      "parse_formulas",
      [](const std::vector<std::string>& formulas) {
        std::vector<Composition> out;
        {
          py::gil_scoped_release release;
          out = parse_formulas(formulas);
        }
        return out;
      },
      py::arg("formulas"),
      "parse_formula over a list in one call; an error also names the 0-based index of the formula.\n\n"
      ">>> [len(c) for c in sozai.featurize.parse_formulas(['Fe', 'NaCl'])]\n[1, 2]");

  m.def("composition", [](const std::string& f) { return fractions_dict(parse_formula(f)); }, py::arg("formula"),
        "Element fractions of a formula, summing to 1, in order of first appearance.\n\n"
        ">>> sozai.featurize.composition('Ca(OH)2')\n{'Ca': 0.2, 'O': 0.4, 'H': 0.4}");

  m.def("composition_feature_names", &composition_feature_names,
        "Names of the 110 Magpie-style features: for each of the 22 element properties (element_table()\n"
        "order), mean, avg_dev, min, max, range; feature 5*p + s.\n\n"
        ">>> sozai.featurize.composition_feature_names()[:2]\n['mean_Number', 'avg_dev_Number']");

  m.def(
      "composition_features",
      [](py::object formulas) -> py::object {
        const bool single = py::isinstance<py::str>(formulas);
        std::vector<std::string> list = single ? std::vector<std::string>{formulas.cast<std::string>()}
                                               : formulas.cast<std::vector<std::string>>();
        torch::Tensor t;
        {
          py::gil_scoped_release release;
          t = composition_features(list);
        }
        return single ? to_numpy_any(t[0]) : to_numpy_any(t);
      },
      py::arg("formulas"),
      "Fraction-weighted mean, average absolute deviation, min, max and range of the 22 Magpie\n"
      "properties: float32 [n, 110] for a list of formulas, [110] for one str. Elements lacking a\n"
      "property (Cf..Lr) are left out of its statistics (NaN if no element has it).\n\n"
      ">>> sozai.featurize.composition_features(['Fe', 'NaCl']).shape\n(2, 110)");

  m.def("composition_graph", [](const std::string& f) { return composition_graph(parse_formula(f)); },
        py::arg("formula"),
        "Composition as a Graph of kind 'composition': one node per element (x = the 22 properties\n"
        "standardised with fixed table means/stds, missing -> 0), node_weight = fractions, k(k-1) directed\n"
        "edges without self loops, edge_attr = (source fraction, target fraction).\n\n"
        ">>> g = sozai.featurize.composition_graph('SrTiO3'); g.num_nodes, g.num_edges\n(3, 6)");

  m.def(
      "element_table",
      [] {
        py::dict d;
        std::vector<std::string> symbols;
        std::vector<int64_t> zs;
        std::vector<double> props, risk;
        py::array_t<bool> usgs(kNumElements), eu(kNumElements);
        for (int z = 1; z <= kNumElements; ++z) {
          const auto& e = element(z);
          symbols.emplace_back(e.symbol);
          zs.push_back(z);
          props.insert(props.end(), e.properties.begin(), e.properties.end());
          usgs.mutable_data()[z - 1] = usgs_2022_critical(z);
          eu.mutable_data()[z - 1] = eu_2023_critical(z);
          risk.push_back(supply_risk(z));
        }
        d["symbol"] = symbols;
        d["Z"] = to_numpy_index(zs);
        d["property_names"] = std::vector<std::string>(element_property_names().begin(), element_property_names().end());
        d["properties"] = to_numpy(torch::from_blob(props.data(), {kNumElements, kNumElementProperties}, torch::kFloat64));
        d["usgs_2022_critical"] = usgs;
        d["eu_2023_critical"] = eu;
        d["supply_risk"] = to_numpy(torch::from_blob(risk.data(), {kNumElements}, torch::kFloat64));
        return d;
      },
      "The element table (Z = 1..103) as arrays: symbol (list), Z [103], property_names (22),\n"
      "properties [103, 22] float64 (Magpie values from magpie.csv, NaN where missing: Cf..Lr),\n"
      "usgs_2022_critical / eu_2023_critical [103] bool, supply_risk [103].\n\n"
      ">>> t = sozai.featurize.element_table(); t['symbol'][25], t['properties'].shape\n('Fe', (103, 22))");

  m.def("supply_risk", py::overload_cast<const std::string&>(&supply_risk), py::arg("symbol"),
        "Supply-risk score from list membership: 1.0 if the element is on both the USGS 2022 critical\n"
        "minerals list (87 FR 10381) and the EU 2023 critical raw materials list, 0.5 if on one, 0 if none.\n\n"
        ">>> sozai.featurize.supply_risk('Co'), sozai.featurize.supply_risk('Fe')\n(1.0, 0.0)");

  m.def("usgs_2022_critical", [](const std::string& s) { return usgs_2022_critical(atomic_number(s)); },
        py::arg("symbol"),
        "Whether the element is on the USGS 2022 List of Critical Minerals (87 FR 10381, Feb 24 2022).\n\n"
        ">>> sozai.featurize.usgs_2022_critical('Nd')\nTrue");

  m.def("eu_2023_critical", [](const std::string& s) { return eu_2023_critical(atomic_number(s)); },
        py::arg("symbol"),
        "Whether the element is on the EU 2023 Critical Raw Materials list (CRMA proposal, Annex II).\n\n"
        ">>> sozai.featurize.eu_2023_critical('Cu')\nTrue");

  m.def(
      "critical_materials",
      [] {
        py::dict d;
        d["usgs_2022"] = critical_list(usgs_2022_critical_minerals());
        d["eu_2023"] = critical_list(eu_2023_critical_raw_materials());
        return d;
      },
      "The two lists as published: {'usgs_2022': [(name, [symbols]), ...50], 'eu_2023': [...34]}.\n\n"
      ">>> sozai.featurize.critical_materials()['eu_2023'][3]\n('Baryte', ['Ba'])");

  m.def("critical_fraction", [](const std::string& f) { return critical_fraction(parse_formula(f)); },
        py::arg("formula"),
        "Sum of the fractions of the elements with nonzero supply_risk (on the USGS 2022 or EU 2023 list).\n\n"
        ">>> sozai.featurize.critical_fraction('Fe1 Co1')\n0.5");
}

}  // namespace sozai
