#include "convert.h"

#include <sozai/kernels/acquisition.h>

namespace sozai {

void bind_kernels(py::module_& root) {
  auto m = root.def_submodule("kernels", "Hot operations with CPU and CUDA implementations");
  m.def(
      "analytic_acquisition",
      [](const DoubleArray& mean, const DoubleArray& variance, const std::string& kind, double best_f, double beta,
         bool maximize) {
        kernels::AcquisitionParams p;
        p.kind = kernels::acquisition_kind_from_string(kind);
        p.best_f = best_f;
        p.beta = beta;
        p.maximize = maximize;
        return to_numpy(
            kernels::analytic_acquisition(to_tensor(mean, -1, "mean"), to_tensor(variance, -1, "variance"), p));
      },
      py::arg("mean"), py::arg("variance"), py::arg("kind") = "logei", py::arg("best_f") = 0.0,
      py::arg("beta") = 4.0, py::arg("maximize") = true,
      "Elementwise EI / LogEI / UCB / PI from posterior mean and variance (larger is better).\n\n"
      ">>> sozai.kernels.analytic_acquisition([0.0], [1.0], 'ei', best_f=0.0)  # doctest: +SKIP\n"
      "array([0.39894228])");
}

}  // namespace sozai
