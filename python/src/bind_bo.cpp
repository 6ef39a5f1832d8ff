// sozai.bo: the acquisition registry, make_acquisition and the two
// optimisers (pool and design space); Pareto fronts and hypervolumes.
#include "convert.h"

#include <pybind11/stl.h>

#include "core/bo/analytic.h"
#include "core/bo/monte_carlo.h"
#include "core/bo/multi_objective.h"
#include "core/bo/optimize.h"
#include "core/bo/pareto.h"
#include "core/bo/registry.h"
#include "core/bo/select.h"
#include "core/campaign/campaign_config.h"
#include "core/space/design_space.h"

namespace sozai {

namespace {

using BoolArray = py::array_t<bool, py::array::c_style | py::array::forcecast>;

py::object info_dict(const AcquisitionInfo& info) { return to_python(to_json(info)); }

/// An acquisition with the models and data it refers to, kept alive.
struct PyAcquisition {
  std::vector<py::object> models;
  torch::Tensor X, Y, P;
  std::unique_ptr<Acquisition> acquisition;
};

torch::Tensor optional_tensor(const py::object& a, int rank, const char* what) {
  if (a.is_none()) return {};
  return to_tensor(a.cast<DoubleArray>(), rank, what);
}

/// The spec's JSON keys (acquisition.h) plus, for direct use, best_f and
/// the sampling settings.
AcquisitionSpec spec_of(py::kwargs kwargs) {
  std::optional<double> best_f;
  if (kwargs.contains("best_f")) {
    auto v = kwargs["best_f"];
    if (!v.is_none()) best_f = v.cast<double>();
    PyDict_DelItemString(kwargs.ptr(), "best_f");
  }
  SamplingSettings sampling;
  if (kwargs.contains("sampling")) {
    for (const auto& item : kwargs["sampling"].cast<py::dict>()) {
      const auto key = item.first.cast<std::string>();
      if (key == "tau_max") sampling.tau_max = item.second.cast<double>();
      else if (key == "tau_relu") sampling.tau_relu = item.second.cast<double>();
      else if (key == "max_baseline") sampling.max_baseline = item.second.cast<int64_t>();
      else if (key == "eta") sampling.eta = item.second.cast<double>();
      else if (key == "tau") sampling.tau = item.second.cast<double>();
      else if (key == "chunk") sampling.chunk = item.second.cast<int64_t>();
      else if (key == "path_features") sampling.path_features = item.second.cast<int64_t>();
      else
        throw InputError(str("acquisition: sampling: unknown field '", key,
                             "' (expected chunk, eta, max_baseline, path_features, tau, tau_max, tau_relu)"));
    }
    PyDict_DelItemString(kwargs.ptr(), "sampling");
  }
  AcquisitionSpec base;
  base.sampling = sampling;
  auto spec = acquisition_spec_from_json(to_json(kwargs, "acquisition"), "acquisition", base);
  spec.best_f = best_f;
  validate(spec);
  return spec;
}

}  // namespace

void bind_bo(py::module_& root) {
  auto m = root.def_submodule("bo", "Acquisition functions, their registry and the two optimisers");
  m.def("acquisition_names", &acquisition_names, "Every acquisition name, from the registry.");
  m.def(
      "acquisition_info", [](const std::string& name) { return info_dict(acquisition_info(name)); }, py::arg("name"),
      "What an acquisition supports: batch strategy, joint batches, constraints, objectives, fidelities, spaces.");
  m.def("acquisition_registry", [] {
    py::list out;
    for (const auto& info : acquisition_registry()) out.append(info_dict(info));
    return out;
  });

  py::class_<PyAcquisition>(m, "Acquisition", "An acquisition built by make_acquisition.")
      .def(
          "__call__",
          [](const PyAcquisition& a, const DoubleArray& X) {
            auto Xt = to_tensor(X, 3, "X");
            torch::Tensor v;
            {
              py::gil_scoped_release release;
              torch::NoGradGuard no_grad;
              v = (*a.acquisition)(Xt);
            }
            return to_numpy(v);
          },
          py::arg("X"), "Value of each q-batch X [b, q, d] -> [b], with the pending points (larger is better).")
      .def_property_readonly("name", [](const PyAcquisition& a) { return a.acquisition->info().name; })
      .def_property_readonly("info", [](const PyAcquisition& a) { return info_dict(a.acquisition->info()); })
      .def_property_readonly("spec", [](const PyAcquisition& a) {
        return to_python(acquisition_spec_to_json(a.acquisition->spec()));
      });
  m.def(
      "make_acquisition",
      [](const std::vector<py::object>& models, const DoubleArray& X_observed, const py::object& Y_observed,
         const py::object& X_pending, const py::kwargs& kwargs) {
        auto spec = spec_of(kwargs);
        auto out = std::make_unique<PyAcquisition>();
        out->models = models;
        std::vector<const Surrogate*> ms;
        for (const auto& o : models) ms.push_back(o.cast<const Surrogate*>());
        out->X = to_tensor(X_observed, 2, "X_observed");
        out->Y = optional_tensor(Y_observed, -1, "Y_observed");
        out->P = optional_tensor(X_pending, 2, "X_pending");
        {
          py::gil_scoped_release release;
          out->acquisition = make_acquisition(spec, ms, {out->X, out->Y, out->P});
        }
        return out;
      },
      py::arg("models"), py::arg("X_observed"), py::arg("Y_observed") = py::none(), py::arg("X_pending") = py::none(),
      "The acquisition named by `acquisition` (default: qlognei for one objective, qlognehvi for several) on fitted "
      "models, one per outcome, each fitted to its column of Y_observed over X_observed; X_pending: experiments "
      "proposed but not yet measured. Settings: outcomes, ref_point, ucb_beta, mc_samples, seed, fidelity_costs, "
      "target_fidelity, aei_target_first, aei_max_cheap_share, best_f (analytic: the latent incumbent), "
      "sampling={'chunk', 'max_baseline', 'path_features', ...}.\n\n"
      ">>> acq = sozai.bo.make_acquisition([gp], X, y, acquisition='qlognei', seed=0)  # doctest: +SKIP\n"
      ">>> rows = sozai.bo.select_from_pool(acq, pool, available, q=4)  # doctest: +SKIP");
  m.def(
      "select_from_pool",
      [](const PyAcquisition& a, const DoubleArray& candidates, const BoolArray& available, int64_t q) {
        auto C = to_tensor(candidates, 2, "candidates");
        SOZAI_CHECK(available.ndim() == 1 && available.shape(0) == C.size(0), "select_from_pool: available must be a "
                    "bool array of length ", C.size(0));
        auto mask = torch::from_blob(const_cast<bool*>(available.data()), {C.size(0)}, torch::kBool).clone();
        py::gil_scoped_release release;
        return select_from_pool(*a.acquisition, C, mask, q);
      },
      py::arg("acquisition"), py::arg("candidates"), py::arg("available"), py::arg("q") = 1,
      "Up to q rows of candidates [N, d] among the available ones (not observed, not pending), in the order "
      "picked; each pick the best given the earlier ones (the acquisition's batch strategy).");
  m.def(
      "select_in_space",
      [](const DesignSpace& space, const PyAcquisition& a, int64_t q, const py::object& optimizer, uint64_t seed) {
        OptimizeConfig cfg;
        if (!optimizer.is_none())
          cfg = CampaignConfig::from_json(nlohmann::json{{"optimizer", to_json(optimizer, "optimizer")}},
                                          "select_in_space")
                    .optimizer;
        cfg.seed = seed;
        torch::Tensor out;
        {
          py::gil_scoped_release release;
          out = select_in_space(space, *a.acquisition, q, cfg);
        }
        return to_numpy(out);
      },
      py::arg("space"), py::arg("acquisition"), py::arg("q") = 1, py::arg("optimizer") = py::none(),
      py::arg("seed") = 0,
      "q new raw candidates [q, raw_width] from a design space, each the acquisition's maximiser given the pending "
      "points and the earlier picks (models fitted on space.encode(raw)); optimizer: {'restarts', 'raw_samples', "
      "'max_iter', 'history', 'rounds'}.");
  m.def(
      "best_latent_value",
      [](const Surrogate& model, const DoubleArray& y, bool maximize) {
        return best_latent_value(model, to_tensor(y, -1, "y"), maximize);
      },
      py::arg("model"), py::arg("y"), py::arg("maximize") = true);
  m.def(
      "normal_base_samples",
      [](int64_t samples, int64_t dim, uint64_t seed) { return to_numpy(normal_base_samples(samples, dim, seed)); },
      py::arg("samples"), py::arg("dim"), py::arg("seed") = 0,
      "[samples, dim] quasi-random standard-normal base samples (scrambled Sobol, inverse CDF).");
  m.def(
      "prune_baseline",
      [](const Surrogate& model, const DoubleArray& X_baseline, bool maximize, int64_t samples, uint64_t seed,
         int64_t max_baseline) {
        AcquisitionSpec spec;
        spec.outcomes = {maximize ? Outcome::maximize() : Outcome::minimize()};
        spec.mc_samples = samples;
        spec.seed = seed;
        spec.sampling.max_baseline = max_baseline;
        return to_numpy(prune_baseline(model, to_tensor(X_baseline, 2, "X_baseline"), spec));
      },
      py::arg("model"), py::arg("X_baseline"), py::arg("maximize") = true, py::arg("samples") = 128,
      py::arg("seed") = 0, py::arg("max_baseline") = 64,
      "Observed points that are the best in at least one joint posterior sample.");
  m.def(
      "project_to_space",
      [](const DesignSpace& space, const DoubleArray& candidate) {
        return to_numpy(project_to_space(space, to_tensor(candidate, 1, "candidate")));
      },
      py::arg("space"), py::arg("candidate"),
      "Euclidean projection of a raw candidate's continuous, integer and composition values onto the space's "
      "bounds, simplexes and linear constraints.");
  m.def(
      "non_dominated_mask",
      [](const DoubleArray& Y) {
        auto mask = non_dominated_mask(to_tensor(Y, 2, "Y"));
        py::array_t<bool> out(mask.size(0));
        std::copy(mask.data_ptr<bool>(), mask.data_ptr<bool>() + mask.size(0), out.mutable_data());
        return out;
      },
      py::arg("Y"), "[n] bool: rows of Y [n, m] that no other row dominates (all objectives maximised).");
  m.def(
      "hypervolume",
      [](const DoubleArray& Y, const DoubleArray& ref) {
        return hypervolume(to_tensor(Y, 2, "Y"), to_tensor(ref, 1, "ref"));
      },
      py::arg("Y"), py::arg("ref"), "Exact hypervolume dominated by Y [n, m] above ref [m] (maximisation).");
  m.def(
      "hypervolume_improvement",
      [](const DoubleArray& front, const DoubleArray& ref, const DoubleArray& Y) {
        auto boxes = non_dominated_boxes(to_tensor(front, 2, "front"), to_tensor(ref, 1, "ref"));
        return to_numpy(hypervolume_improvement(boxes, to_tensor(Y, 2, "Y")));
      },
      py::arg("front"), py::arg("ref"), py::arg("Y"),
      "Hypervolume each row of Y would add to the front (box decomposition).");
  m.def(
      "infer_reference_point",
      [](const DoubleArray& Y, const std::vector<bool>& maximize) {
        return infer_reference_point(to_tensor(Y, 2, "Y"), maximize);
      },
      py::arg("Y"), py::arg("maximize"),
      "Nadir of the observed Pareto front moved 10% of its range towards worse (BoTorch's rule).");
}

}  // namespace sozai
