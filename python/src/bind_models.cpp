#include "convert.h"

#include <pybind11/stl.h>

#include "common/json.h"
#include "models/config_json.h"
#include "models/forest/random_forest.h"
#include "models/gp/exact_gp.h"
#include "models/gp/pathwise.h"
#include "models/gp/posterior_bound.h"
#include "models/gp/multitask_gp.h"

namespace sozai {

void bind_models(py::module_& root) {
  auto m = root.def_submodule("models", "Surrogate models");
  py::class_<GPHyperparameters>(m, "GPHyperparameters")
      .def(py::init<>())
      .def_readwrite("lengthscale", &GPHyperparameters::lengthscale)
      .def_readwrite("outputscale", &GPHyperparameters::outputscale)
      .def_readwrite("noise", &GPHyperparameters::noise)
      .def("__repr__", [](const GPHyperparameters& h) {
        return str("GPHyperparameters(outputscale=", h.outputscale, ", noise=", h.noise, ", d=", h.lengthscale.size(),
                   ")");
      });

  m.def("yeo_johnson", [](const DoubleArray& y, double lambda) { return to_numpy(yeo_johnson(to_tensor(y, -1, "y"), lambda)); },
        py::arg("y"), py::arg("lmbda"), "Yeo-Johnson power transform (elementwise).");
  m.def("yeo_johnson_inverse",
        [](const DoubleArray& z, double lambda) { return to_numpy(yeo_johnson_inverse(to_tensor(z, -1, "z"), lambda)); },
        py::arg("z"), py::arg("lmbda"));
  m.def("fit_yeo_johnson_lambda", [](const DoubleArray& y) { return fit_yeo_johnson_lambda(to_tensor(y, 1, "y")); },
        py::arg("y"), "Lambda maximising the Gaussian profile likelihood, searched on [-3, 3].");

  // The common base, so that sozai.bo.make_acquisition takes any model.
  py::class_<Surrogate>(m, "Surrogate", "A fitted model: what acquisitions are built on.")
      .def_property_readonly("name", &Surrogate::name);
  py::class_<RandomForest, Surrogate>(m, "RandomForest",
                                      "Random-forest regression (bootstrap CART trees, as scikit-learn's "
                                      "RandomForestRegressor); posterior = mean and spread of the trees.")
      .def(py::init([](int64_t trees, int64_t min_leaf, int64_t max_depth, double max_features, bool bootstrap,
                       uint64_t seed) {
             return RandomForest(RandomForestConfig{trees, min_leaf, max_depth, max_features, bootstrap, seed});
           }),
           py::arg("trees") = 100, py::arg("min_leaf") = 1, py::arg("max_depth") = 0, py::arg("max_features") = 1.0,
           py::arg("bootstrap") = true, py::arg("seed") = 0)
      .def("fit",
           [](RandomForest& f, const DoubleArray& X, const DoubleArray& y) {
             Dataset d{to_tensor(X, 2, "X"), to_tensor(y, -1, "y")};
             py::gil_scoped_release release;
             f.fit(d);
           },
           py::arg("X"), py::arg("y"))
      .def("posterior",
           [](const RandomForest& f, const DoubleArray& X) {
             auto p = f.posterior(to_tensor(X, 2, "X"));
             return py::make_tuple(to_numpy(p.mean.squeeze(1)), to_numpy(p.variance.squeeze(1)));
           },
           py::arg("X"), "(mean, variance between trees) in the units of y.")
      .def("tree_predictions",
           [](const RandomForest& f, const DoubleArray& X) {
             return to_numpy(f.untransform_outcome(f.tree_predictions(to_tensor(X, 2, "X"))));
           },
           py::arg("X"), "Every tree's prediction [trees, n] in the units of y.")
      .def_property_readonly("oob_noise", &RandomForest::latent_noise,
                             "Out-of-bag mean squared error in standardised units.");
  py::class_<ExactGP, Surrogate>(m, "ExactGP", "Exact GP regression (Matern-5/2 or RBF ARD kernel), see README.")
      .def(py::init([](const py::kwargs& settings) {
             return ExactGP(json_io::read_fields<ExactGPConfig>(to_json(settings, "ExactGP"), "ExactGP"));
           }),
           "Settings as keyword arguments (models/gp/exact_gp.h ExactGPConfig): kernel ('matern52' or 'rbf'), "
           "outcome_transform ('auto', 'standardize', 'log', 'yeo-johnson'), restarts, max_iter, seed, "
           "lengthscale_min/_max, outputscale_min/_max, noise_min/_max, predict_chunk; the same form as a "
           "campaign's gp={...}.")
      .def("set_input_bounds",
           [](ExactGP& g, const DoubleArray& lo, const DoubleArray& hi) {
             g.set_input_bounds(to_tensor(lo, 1, "lower"), to_tensor(hi, 1, "upper"));
           }, py::arg("lower"), py::arg("upper"))
      .def("fit",
           [](ExactGP& g, const DoubleArray& X, const DoubleArray& y) {
             Dataset d{to_tensor(X, 2, "X"), to_tensor(y, -1, "y")};
             py::gil_scoped_release release;
             g.fit(d);
           },
           py::arg("X"), py::arg("y"), "Fits transforms and hyperparameters (max. marginal likelihood), then conditions.")
      .def("set_data",
           [](ExactGP& g, const DoubleArray& X, const DoubleArray& y) {
             g.set_data(Dataset{to_tensor(X, 2, "X"), to_tensor(y, -1, "y")});
           },
           py::arg("X"), py::arg("y"), "Conditions on data with the current hyperparameters (no optimisation).")
      .def("posterior",
           [](const ExactGP& g, const DoubleArray& X) {
             auto t = to_tensor(X, 2, "X");
             Posterior p;
             {
               py::gil_scoped_release release;
               p = g.posterior(t);
             }
             return py::make_tuple(to_numpy(p.mean.squeeze(1)), to_numpy(p.variance.squeeze(1)));
           },
           py::arg("X"), "Posterior (mean, variance) in the original units of y.")
      .def("latent_posterior",
           [](const ExactGP& g, const DoubleArray& X) {
             auto p = g.latent_posterior(to_tensor(X, 2, "X"));
             return py::make_tuple(to_numpy(p.mean.squeeze(1)), to_numpy(p.variance.squeeze(1)));
           },
           py::arg("X"), "Posterior (mean, variance) of the latent GP in the transformed space.")
      .def("transform_outcome", [](const ExactGP& g, const DoubleArray& y) {
             return to_numpy(g.transform_outcome(to_tensor(y, -1, "y")));
           }, py::arg("y"))
      .def("normalize_inputs", [](const ExactGP& g, const DoubleArray& X) {
             return to_numpy(g.normalize_inputs(to_tensor(X, 2, "X")));
           }, py::arg("X"))
      .def_property("hyperparameters", &ExactGP::hyperparameters, &ExactGP::set_hyperparameters)
      .def_property_readonly("log_marginal_likelihood", &ExactGP::log_marginal_likelihood)
      .def_property_readonly("outcome_transform",
                             [](const ExactGP& g) { return g.outcome_transform().resolved_kind(); })
      .def_property_readonly("yeo_johnson_lambda",
                             [](const ExactGP& g) { return g.outcome_transform().yeo_johnson_lambda(); })
      .def_property_readonly("jitter", &ExactGP::jitter)
      .def_property_readonly("name", &ExactGP::name);

  py::class_<MultiTaskGP, Surrogate>(m, "MultiTaskGP",
                          "Multi-task GP over fidelities (ICM kernel B[t,t'] k(x,x')); the last input column is the "
                          "task index.")
      .def(py::init([](const py::kwargs& settings) {
             return MultiTaskGP(
                 json_io::read_fields<MultiTaskGPConfig>(to_json(settings, "MultiTaskGP"), "MultiTaskGP"));
           }),
           "Settings as keyword arguments (MultiTaskGPConfig): num_tasks, rank, kernel, outcome_transform, "
           "restarts, max_iter, seed, noise_min, noise_max.")
      .def("set_input_bounds",
           [](MultiTaskGP& g, const DoubleArray& lo, const DoubleArray& hi) {
             g.set_input_bounds(to_tensor(lo, 1, "lower"), to_tensor(hi, 1, "upper"));
           }, py::arg("lower"), py::arg("upper"))
      .def("fit",
           [](MultiTaskGP& g, const DoubleArray& X, const DoubleArray& y) {
             auto Xt = to_tensor(X, 2, "X");
             auto yt = to_tensor(y, -1, "y");
             py::gil_scoped_release release;
             g.fit(Dataset{Xt, yt});
           }, py::arg("X"), py::arg("y"), "X: [n, d + 1] with the task index last.")
      .def("posterior", [](const MultiTaskGP& g, const DoubleArray& X) {
             auto p = g.posterior(to_tensor(X, 2, "X"));
             return py::make_tuple(to_numpy(p.mean.squeeze(1)), to_numpy(p.variance.squeeze(1)));
           }, py::arg("X"), "(mean, variance) in the units of y.")
      .def("latent_posterior", [](const MultiTaskGP& g, const DoubleArray& X) {
             auto p = g.latent_posterior(to_tensor(X, 2, "X"));
             return py::make_tuple(to_numpy(p.mean.squeeze(1)), to_numpy(p.variance.squeeze(1)));
           }, py::arg("X"))
      .def("task_covariance", [](const MultiTaskGP& g) { return to_numpy(g.task_covariance()); })
      .def("task_correlation", &MultiTaskGP::task_correlation, py::arg("a"), py::arg("b"))
      .def("task_noise", &MultiTaskGP::task_noise, py::arg("task"))
      .def_property_readonly("name", &MultiTaskGP::name);

  py::class_<GPPathSampler>(m, "GPPathSampler",
                            "Posterior sample paths of a fitted ExactGP (random Fourier features + Matheron's rule), "
                            "evaluable at any number of points in linear time.")
      .def(py::init<const ExactGP&, int64_t, uint64_t, int64_t>(), py::arg("gp"), py::arg("paths"),
           py::arg("seed") = 0, py::arg("features") = 1024, py::keep_alive<1, 2>())
      .def(
          "__call__",
          [](const GPPathSampler& s, const DoubleArray& X) {
            auto Xt = to_tensor(X, 2, "X");
            torch::Tensor f;
            {
              py::gil_scoped_release release;
              f = s(Xt);
            }
            return to_numpy(f);
          },
          py::arg("X"), "Latent values of every path at X [n, d] -> [paths, n].")
      .def_property_readonly("paths", &GPPathSampler::paths)
      .def_property_readonly("features", &GPPathSampler::features);

  py::class_<PosteriorBound>(m, "PosteriorBound",
                             "Cheap enclosures of a fitted ExactGP's latent posterior from `rank` pivoted points: "
                             "what sozai.screen dismisses candidates with (models/gp/posterior_bound.h).\n\n"
                             ">>> lo, hi, var_hi = sozai.models.PosteriorBound(gp, 48)(X)  # doctest: +SKIP")
      .def(py::init<const ExactGP&, int64_t>(), py::arg("gp"), py::arg("rank") = 48, py::keep_alive<1, 2>())
      .def(
          "__call__",
          [](const PosteriorBound& b, const DoubleArray& X, int64_t pivots) {
            auto Xt = to_tensor(X, 2, "X");
            torch::Tensor lo, hi, vh;
            {
              py::gil_scoped_release release;
              b(Xt, &lo, &hi, &vh, pivots);
            }
            return py::make_tuple(to_numpy(lo), to_numpy(hi), to_numpy(vh));
          },
          py::arg("X"), py::arg("pivots") = 0,
          "(mean_lo, mean_hi, var_hi) [n]: the latent mean lies in [mean_lo, mean_hi] and the latent variance is at "
          "most var_hi at every row of X. pivots > 0: from the first `pivots` pivots only (looser, cheaper; the "
          "factors are nested).")
      .def_property_readonly("rank", &PosteriorBound::rank, "The pivots used (at most the rank asked for).");
}

}  // namespace sozai
