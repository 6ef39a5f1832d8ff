// The _sozai extension: each bind_*.cpp registers one part; errors are
// translated here, in one place.
#include "convert.h"

#include <pybind11/stl.h>

#include "common/build_info.h"

namespace sozai {

void bind_common(py::module_& m) {
  auto& base = py::register_exception<Error>(m, "SozaiError");
  // Registered after the base so they are tried first (pybind11 tries
  // translators newest first).
  py::register_exception<InputError>(m, "InputError", base.ptr());
  py::register_exception<UnsupportedError>(m, "UnsupportedError", base.ptr());
  py::register_exception<FittingError>(m, "FittingError", base.ptr());
  py::register_exception<StorageError>(m, "StorageError", base.ptr());
  py::register_exception<DeviceError>(m, "DeviceError", base.ptr());
  m.def("build_info", &build_info,
        "Versions this build was compiled with: version, torch, cuda, torch_cuda, cuda_available, rdkit, hdf5, mpi, blas_core.\n\n"
        ">>> import sozai; sozai.build_info()['torch']  # doctest: +SKIP\n'1.13.0'");
  m.def("require_feature", &require_feature, py::arg("feature"), py::arg("needed_by"),
        "Raises UnsupportedError if `feature` (rdkit, hdf5, mpi, cuda) was not compiled in.");
}

}  // namespace sozai

PYBIND11_MODULE(_sozai, m) {
  m.doc() = "sozai: GPU-accelerated materials discovery engine (C++ core)";
  sozai::bind_common(m);
  sozai::bind_kernels(m);
  sozai::bind_kernel_matrix(m);
  sozai::bind_neighbors(m);
  sozai::bind_featurize(m);
  sozai::bind_polymer(m);
  sozai::bind_crystal(m);
  sozai::bind_composition(m);
  sozai::bind_spaces(m);
  sozai::bind_models(m);
  sozai::bind_gnn(m);
  sozai::bind_bo(m);
  sozai::bind_campaign(m);
  sozai::bind_benchmark(m);
  sozai::bind_lab(m);
  sozai::bind_datasets(m);
  sozai::bind_federated(m);
  sozai::bind_screen(m);
}
