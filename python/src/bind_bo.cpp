#include "convert.h"

#include <pybind11/stl.h>

#include <sozai/core/bo/acquisition.h>
#include <sozai/models/gp/exact_gp.h>

namespace sozai {

void bind_bo(py::module_& root) {
  auto m = root.def_submodule("bo", "Acquisition functions and batch selection");
  m.def(
      "acquisition",
      [](const ExactGP& model, const DoubleArray& X, const std::string& kind, double best_f, bool maximize,
         double beta) {
        AcquisitionParams p;
        p.kind = kernels::acquisition_kind_from_string(kind);
        p.best_f = best_f;
        p.maximize = maximize;
        p.beta = beta;
        return to_numpy(AnalyticAcquisition(model, p)(to_tensor(X, 2, "X")));
      },
      py::arg("model"), py::arg("X"), py::arg("kind") = "logei", py::arg("best_f") = 0.0, py::arg("maximize") = true,
      py::arg("beta") = 4.0, "Analytic acquisition of a fitted model at X [n, d]; best_f in the latent space.");
  m.def(
      "best_latent_value",
      [](const ExactGP& model, const DoubleArray& y, bool maximize) {
        return best_latent_value(model, to_tensor(y, -1, "y"), maximize);
      },
      py::arg("model"), py::arg("y"), py::arg("maximize") = true);
  m.def(
      "select_batch_from_pool",
      [](const ExactGP& model, const DoubleArray& candidates, py::array_t<bool, py::array::c_style | py::array::forcecast> available,
         int64_t q, const std::string& kind, double best_f, bool maximize, double beta, std::vector<int64_t> pending) {
        auto C = to_tensor(candidates, 2, "candidates");
        SOZAI_CHECK(available.ndim() == 1 && available.shape(0) == C.size(0), "available must be a bool array of length ",
                    C.size(0));
        auto mask = torch::from_blob(const_cast<bool*>(available.data()), {C.size(0)}, torch::kBool).clone();
        AcquisitionParams p;
        p.kind = kernels::acquisition_kind_from_string(kind);
        p.best_f = best_f;
        p.maximize = maximize;
        p.beta = beta;
        std::vector<int64_t> rows;
        {
          py::gil_scoped_release release;
          rows = select_batch_from_pool(model, C, mask, q, p, pending);
        }
        return to_numpy_index(rows);
      },
      py::arg("model"), py::arg("candidates"), py::arg("available"), py::arg("q"), py::arg("kind") = "logei",
      py::arg("best_f") = 0.0, py::arg("maximize") = true, py::arg("beta") = 4.0,
      py::arg("pending") = std::vector<int64_t>{},
      "Kriging-believer batch of q pool rows maximising the acquisition.");
}

}  // namespace sozai
