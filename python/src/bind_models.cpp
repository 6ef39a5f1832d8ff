#include "convert.h"

#include <pybind11/stl.h>

#include "models/gp/exact_gp.h"
#include "models/gp/pathwise.h"
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
  py::class_<ExactGP, Surrogate>(m, "ExactGP", "Exact GP regression (Matern-5/2 or RBF ARD kernel), see README.")
      .def(py::init([](const std::string& kernel, const std::string& outcome_transform, int restarts, int max_iter,
                       uint64_t seed, double noise_min) {
             ExactGPConfig c;
             c.kernel = kernel;
             c.outcome_transform = outcome_transform;
             c.restarts = restarts;
             c.max_iter = max_iter;
             c.seed = seed;
             c.noise_min = noise_min;
             return ExactGP(c);
           }),
           py::arg("kernel") = "matern52", py::arg("outcome_transform") = "auto", py::arg("restarts") = 4,
           py::arg("max_iter") = 200, py::arg("seed") = 0, py::arg("noise_min") = 1e-6)
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
      .def(py::init([](int64_t num_tasks, int64_t rank, const std::string& kernel, const std::string& outcome_transform,
                       int restarts, uint64_t seed) {
             MultiTaskGPConfig c;
             c.num_tasks = num_tasks;
             c.rank = rank;
             c.kernel = kernel;
             c.outcome_transform = outcome_transform;
             c.restarts = restarts;
             c.seed = seed;
             return MultiTaskGP(c);
           }),
           py::arg("num_tasks") = 2, py::arg("rank") = 1, py::arg("kernel") = "matern52",
           py::arg("outcome_transform") = "standardize", py::arg("restarts") = 4, py::arg("seed") = 0)
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
}

}  // namespace sozai
