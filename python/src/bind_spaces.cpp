// sozai.spaces: design spaces (parameters, constraints, enumeration,
// sampling, encoding) and the Sobol engine.
#include "convert.h"

#include <pybind11/stl.h>

#include "core/space/design_space.h"
#include "core/space/design_space_json.h"
#include "core/space/sobol.h"
#include "common/strings.h"

namespace sozai {
namespace {

torch::Tensor optional_descriptors(const py::object& d) {
  if (d.is_none()) return {};
  return to_tensor(d.cast<DoubleArray>(), 2, "descriptors");
}

/// A composition's per-element bounds: None, one number for every element,
/// or one per element.
std::vector<double> optional_bounds(const py::object& b, size_t elements, const char* what) {
  if (b.is_none()) return {};
  if (py::isinstance<py::float_>(b) || py::isinstance<py::int_>(b)) return std::vector<double>(elements, b.cast<double>());
  try {
    return b.cast<std::vector<double>>();
  } catch (const py::cast_error&) {
    throw InputError(str("add_composition: ", what, " must be a number or one number per element, got ",
                         py::str(py::type::of(b)).cast<std::string>()));
  }
}

/// The parameters as space_to_json writes them, descriptors as numpy arrays.
py::list parameter_dicts(const DesignSpace& s) {
  auto params = py::module_::import("json").attr("loads")(space_to_json(s).at("parameters").dump());
  auto asarray = py::module_::import("numpy").attr("asarray");
  for (auto p : params) {
    auto d = p.cast<py::dict>();
    if (d.contains("descriptors")) d["descriptors"] = asarray(d["descriptors"], "float64");
  }
  return params;
}

}  // namespace

void bind_spaces(py::module_& root) {
  auto m = root.def_submodule("spaces", "Design spaces: parameters, constraints, candidate generation, encoding");
  using DS = DesignSpace;
  const auto chain = py::return_value_policy::reference_internal;
  py::class_<DS>(m, "DesignSpace",
                 "What can be made: parameters, constraints on them, and candidates.\n\n"
                 ">>> s = sozai.spaces.DesignSpace()\n"
                 ">>> s.add_composition('alloy', ['Fe', 'Co', 'Ni'], step=0.1).add_continuous('T', 300, 900)  "
                 "# doctest: +SKIP")
      .def(py::init<>())
      .def("add_continuous", &DS::add_continuous, py::arg("name"), py::arg("low"), py::arg("high"),
           py::arg("log") = false, py::arg("levels") = 0, chain,
           "A real parameter in [low, high] (log scale if log); `levels` grid points when enumerated.")
      .def("add_integer", &DS::add_integer, py::arg("name"), py::arg("low"), py::arg("high"), py::arg("log") = false,
           chain)
      .def(
          "add_categorical",
          [](DS& s, const std::string& name, const std::vector<std::string>& choices, const py::object& d) -> DS& {
            return s.add_categorical(name, choices, optional_descriptors(d));
          },
          py::arg("name"), py::arg("choices"), py::arg("descriptors") = py::none(), chain,
          "Choices encoded one-hot, or by the rows of `descriptors` [len(choices), k].")
      .def(
          "add_composition",
          [](DS& s, const std::string& name, const std::vector<std::string>& elements, const py::object& low,
             const py::object& high, double step) -> DS& {
            return s.add_composition(name, elements, optional_bounds(low, elements.size(), "low"),
                                    optional_bounds(high, elements.size(), "high"), step);
          },
          py::arg("name"), py::arg("elements"), py::arg("low") = py::none(), py::arg("high") = py::none(),
          py::arg("step") = 0.0, chain,
          "Fractions of `elements` summing to 1, each within [low, high] (a number for all, or one per element), on a "
          "grid of `step` when step > 0.")
      .def(
          "add_molecules",
          [](DS& s, const std::string& name, const std::vector<std::string>& smiles, const py::object& d) -> DS& {
            return s.add_molecules(name, smiles, optional_descriptors(d));
          },
          py::arg("name"), py::arg("smiles"), py::arg("descriptors") = py::none(), chain)
      .def(
          "add_structures",
          [](DS& s, const std::string& name, const std::vector<std::string>& texts, const py::object& d) -> DS& {
            return s.add_structures(name, texts, optional_descriptors(d));
          },
          py::arg("name"), py::arg("texts"), py::arg("descriptors") = py::none(), chain)
      .def(
          "add_linear_constraint",
          [](DS& s, const std::map<std::string, double>& terms, double rhs, bool equality, double tolerance) -> DS& {
            LinearConstraint c;
            c.terms.assign(terms.begin(), terms.end());
            c.rhs = rhs;
            c.equality = equality;
            c.tolerance = tolerance;
            return s.add_linear_constraint(c);
          },
          py::arg("terms"), py::arg("rhs"), py::arg("equality") = false, py::arg("tolerance") = 1e-9, chain,
          "sum(coef * value) <= rhs (== if equality) over {'param': coef, 'composition.El': coef}.")
      .def("forbid_elements", &DS::forbid_elements, py::arg("symbols"), chain)
      .def(
          "set_critical_budget",
          [](DS& s, double max_fraction, const py::object& risk) -> DS& {
            return s.set_critical_budget(
                max_fraction, risk.is_none() ? std::map<std::string, double>{} : risk.cast<std::map<std::string, double>>());
          },
          py::arg("max_fraction"), py::arg("risk") = py::none(), chain,
          "Caps sum(risk(el) * fraction) over compositions; risk defaults to sozai's supply-risk score "
          "(USGS 2022 and EU 2023 critical lists).")
      .def_property_readonly("parameters", &parameter_dicts,
                             "Each parameter as a dict (space_to_json's form; descriptors as numpy arrays).")
      .def_property_readonly("encoded_bounds", [](const DS& s) { return to_numpy(s.encoded_bounds()); },
                             "[2, encoded_width]: least and greatest value of each encoded column.")
      .def_property_readonly("raw_width", &DS::raw_width)
      .def_property_readonly("encoded_width", &DS::encoded_width)
      .def_property_readonly("encoded_names", &DS::encoded_names)
      .def_property_readonly("grid_size", &DS::grid_size, "Points of the full grid before constraints (0: no grid).")
      .def(
          "grid_point", [](const DS& s, uint64_t i) { return s.grid_point(i); }, py::arg("index"))
      .def(
          "enumerate",
          [](const DS& s, uint64_t start, int64_t chunk, uint64_t max_examined) {
            CandidateChunk c;
            {
              py::gil_scoped_release release;
              c = s.enumerate(start, chunk, max_examined);
            }
            return py::make_tuple(to_numpy(c.values), to_numpy_int64(c.grid_index), c.next, c.done);
          },
          py::arg("start") = 0, py::arg("chunk") = 65536, py::arg("max_examined") = 0,
          "(values, grid_index, next, done): the next feasible grid points from `start`.")
      .def(
          "sample",
          [](const DS& s, int64_t n, uint64_t seed, bool sobol, int64_t max_tries) {
            torch::Tensor t;
            {
              py::gil_scoped_release release;
              t = s.sample(n, seed, sobol, max_tries);
            }
            return to_numpy(t);
          },
          py::arg("n"), py::arg("seed") = 0, py::arg("sobol") = false, py::arg("max_tries") = 100)
      .def(
          "encode", [](const DS& s, const DoubleArray& c) { return to_numpy(s.encode(to_tensor(c, 2, "candidates"))); },
          py::arg("candidates"))
      .def(
          "feasible",
          [](const DS& s, const DoubleArray& c) { return to_numpy_any(s.feasible(to_tensor(c, 2, "candidates"))); },
          py::arg("candidates"))
      .def(
          "violation",
          [](const DS& s, const DoubleArray& c) {
            auto t = to_tensor(c, 1, "candidate");
            SOZAI_CHECK(t.numel() == s.raw_width(), "candidate has ", t.numel(), " values, the space needs ",
                        s.raw_width());
            return s.violation(t.data_ptr<double>());
          },
          py::arg("candidate"), "Why the candidate is infeasible, or '' if it is feasible.")
      .def(
          "critical_fraction",
          [](const DS& s, const DoubleArray& c) { return to_numpy(s.critical_fraction(to_tensor(c, 2, "candidates"))); },
          py::arg("candidates"))
      .def(
          "describe",
          [](const DS& s, const DoubleArray& c) {
            auto t = to_tensor(c, 1, "candidate");
            SOZAI_CHECK(t.numel() == s.raw_width(), "candidate has ", t.numel(), " values, the space needs ",
                        s.raw_width());
            return s.describe(t.data_ptr<double>());
          },
          py::arg("candidate"));
  m.def(
      "space_to_json", [](const DS& s) { return space_to_json(s).dump(); }, py::arg("space"),
      "The space as JSON text (parameters, constraints, forbidden elements, critical budget).");
  m.def(
      "space_from_json",
      [](const std::string& text, const std::string& origin) {
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
          throw InputError(str(origin, ": not valid JSON: ", e.what()));
        }
        return space_from_json(j, origin);
      },
      py::arg("text"), py::arg("origin") = "design space",
      "A DesignSpace from JSON text; InputError naming the parameter and field that are wrong.");
  m.def(
      "candidate_to_json",
      [](const DS& s, const DoubleArray& c) {
        auto t = to_tensor(c, 1, "candidate");
        SOZAI_CHECK(t.numel() == s.raw_width(), "candidate has ", t.numel(), " values, the space needs ",
                    s.raw_width());
        return candidate_to_json(s, t.data_ptr<double>()).dump();
      },
      py::arg("space"), py::arg("candidate"), "Named values of a raw candidate, as JSON text.");
  m.def(
      "candidate_from_json",
      [](const DS& s, const std::string& text, const std::string& origin, bool check_feasible) {
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
          throw InputError(str(origin, ": not valid JSON: ", e.what()));
        }
        return candidate_from_json(s, j, origin, check_feasible);
      },
      py::arg("space"), py::arg("text"), py::arg("origin") = "candidate", py::arg("check_feasible") = true,
      "A raw candidate from named values (JSON text).");
  py::class_<SobolEngine>(m, "SobolEngine",
                          "Scrambled Sobol points, identical to torch.quasirandom.SobolEngine with the same seed.")
      .def(py::init<int64_t, bool, uint64_t>(), py::arg("dimension"), py::arg("scramble") = true, py::arg("seed") = 0)
      .def(
          "draw", [](SobolEngine& e, int64_t n) { return to_numpy(e.draw(n)); }, py::arg("n"))
      .def_property_readonly("dimension", &SobolEngine::dimension)
      .def_property_readonly("num_generated", &SobolEngine::num_generated);
}

}  // namespace sozai
